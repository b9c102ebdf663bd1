//! Three service processes (the `load_target` example) on one PostgreSQL database: they start
//! together, serve traffic, and one dashboard sees exact totals for all of them; a level set in
//! one instance's dashboard reaches the other two within 5 seconds.
//!
//! Needs the `postgres` feature and a server at `FMD_TEST_POSTGRES` (default: this machine's
//! `postgres://postgres@127.0.0.1:5432/test`). Unreachable: skipped, or a failure with `CI=true`.
#![cfg(feature = "postgres")]

mod common;

use fmd_store::Filter;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fmd_store::Store;

const REQUESTS_PER_INSTANCE: usize = 150;

fn database() -> Option<String> {
    let url = std::env::var("FMD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    match Store::open(&url, "fmd_probe_") {
        Ok(store) => {
            store.drop_all_tables().unwrap();
            Some(url)
        }
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL at {url} is required in CI: {e}")
        }
        Err(e) => {
            eprintln!("skipping the multi-instance test: {e}");
            None
        }
    }
}

/// The example binary cargo built next to this test's.
fn load_target() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("examples").join("load_target");
    assert!(
        bin.exists(),
        "{} is missing: run through `cargo test`, which builds the examples",
        bin.display()
    );
    bin
}

struct Instance {
    child: Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Instance {
    fn start(url: &str, prefix: &str, name: &str) -> Instance {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(load_target())
            .args(["--db", url, "--prefix", prefix, "--instance", name])
            .args(["--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Instance { child, port, lines }
    }

    fn wait_for(&self, prefix: &str) -> String {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("instance on {} printed no {prefix:?}", self.port));
        assert!(line.starts_with(prefix), "{line}");
        line
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops it with SIGINT (it flushes) and returns how many requests it served.
    fn stop(mut self) -> usize {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        let line = self.wait_for("served");
        assert!(self.child.wait().unwrap().success());
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

async fn hit(client: &reqwest::Client, url: &str) {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_one_database() {
    let Some(url) = database() else { return };
    let prefix = format!("mi{}_", std::process::id());
    // All three start at once on an empty database: one schema, one endpoint row.
    let instances: Vec<Instance> = (1..=3)
        .map(|i| Instance::start(&url, &prefix, &format!("web-{i}")))
        .collect();
    for instance in &instances {
        instance.wait_for("ready");
    }
    let store = Store::open(&url, &prefix).unwrap();
    let endpoints = store.endpoints().unwrap();
    assert_eq!(endpoints.len(), 1, "registered once: {endpoints:?}");
    let endpoint = endpoints[0].id;
    let running = store.instances().unwrap();
    assert_eq!(running.len(), 3);
    let now = fmd_core::now_micros();
    assert!(running.iter().all(|i| i.is_live(now)), "{running:?}");

    let client = reqwest::Client::new();
    let traffic = instances.iter().map(|instance| {
        let (client, url) = (client.clone(), instance.url("/"));
        async move {
            for _ in 0..REQUESTS_PER_INSTANCE {
                hit(&client, &url).await;
            }
        }
    });
    futures_util::future::join_all(traffic).await;
    // Every writer drains within milliseconds; the totals are exact, not approximate.
    let expected = (3 * REQUESTS_PER_INSTANCE) as i64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.request_count(&Filter::endpoint(endpoint)).unwrap() < expected
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        store.request_count(&Filter::endpoint(endpoint)).unwrap(),
        expected
    );
    let overview = store.overview(0, 0, None).unwrap();
    assert_eq!(overview[0].hits_overall, expected);
    for instance in store.instances().unwrap() {
        let row = store
            .overview_of(endpoint, 0, 0, Some(instance.id))
            .unwrap()
            .unwrap();
        assert_eq!(
            row.hits_overall, REQUESTS_PER_INSTANCE as i64,
            "{}",
            instance.name
        );
    }

    // The admin sets level 0 in web-1's dashboard; web-2 and web-3 are asked every 50 ms.
    let admin = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = admin
        .post(instances[0].url("/dashboard/login"))
        .form(&[("username", "admin"), ("password", "load")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303, "the login is accepted");
    let csrf = common::csrf_cookie(&login);
    let changed_at = fmd_core::now_micros();
    let put = admin
        .put(instances[0].url(&format!("/dashboard/api/endpoints/{endpoint}/level")))
        .header("X-CSRF-Token", csrf)
        .json(&serde_json::json!({"level": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
    let probe_until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < probe_until {
        for instance in &instances[1..] {
            hit(&client, &instance.url("/")).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut served = 0;
    for instance in instances {
        served += instance.stop();
    }
    assert!(served > 3 * REQUESTS_PER_INSTANCE, "the probes were served");
    // Each shut down through `Dashboard::shutdown`: gone at once, not a minute later.
    let now = fmd_core::now_micros();
    for instance in store.instances().unwrap() {
        assert!(
            instance.stopped.is_some() && !instance.is_live(now),
            "{instance:?}"
        );
    }
    let recorded_after: Vec<i64> = store
        .requests(&Filter::endpoint(endpoint), 0, 1000)
        .unwrap()
        .into_iter()
        .map(|r| r.time_requested)
        .filter(|t| *t > changed_at)
        .collect();
    let arrival = recorded_after.iter().max().map_or(0, |t| t - changed_at);
    eprintln!(
        "level 0 reached the other instances within {} ms ({} requests recorded meanwhile)",
        arrival / 1000,
        recorded_after.len()
    );
    assert!(arrival < 5_000_000, "the level arrived after {arrival} µs");
    store.drop_all_tables().unwrap();
}
