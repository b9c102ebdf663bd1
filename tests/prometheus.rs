//! The Prometheus exposition with the real thing: Debian's `prometheus` scrapes a running
//! service on loopback and answers, through its HTTP API, the numbers the test sent; `promtool
//! check metrics` accepts the text. Without the binaries the test says so and passes, except
//! under `CI=true`, where it fails (`.ci/run` installs them).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use fmd::monitored;
use reqwest::StatusCode;
use serde_json::Value;
use warp::Filter;

#[monitored]
async fn hello(n: u32) -> Result<warp::reply::WithStatus<String>, std::convert::Infallible> {
    let status = match n % 10 {
        0..=6 => warp::http::StatusCode::OK,
        _ => warp::http::StatusCode::NOT_FOUND,
    };
    Ok(warp::reply::with_status(format!("hello {n}"), status))
}

/// The second test's endpoint: counters are per process, so each test counts its own.
#[monitored]
async fn open_door() -> Result<&'static str, std::convert::Infallible> {
    Ok("open")
}

/// Whether `binary` runs; `false` (with a message) outside CI when it does not.
fn have(binary: &str) -> bool {
    let found = Command::new(binary)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{binary} is not installed (CI installs it: apt-get install prometheus)");
        }
        eprintln!("skipping: {binary} is not installed (apt-get install prometheus)");
    }
    found
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value of the one series `query` selects, once Prometheus has it.
async fn query(prometheus: &str, query: &str) -> Option<String> {
    let answer: Value = reqwest::Client::new()
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", query)])
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some(answer["data"]["result"][0]["value"][1].as_str()?.to_owned())
}

#[tokio::test]
async fn prometheus_scrapes_what_was_sent() {
    let _serial = serial().await;
    if !have("prometheus") || !have("promtool") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = warp::path!("hello" / u32).and_then(hello);
    let server = Server::start(config(&dir).instance_name("web-7"), app).await;
    let c = client();
    for n in 0..20 {
        c.get(server.url(&format!("/hello/{n}")))
            .send()
            .await
            .unwrap();
    }

    // The token's holders (and logged-in users) only.
    let metrics = server.url("/dashboard/metrics");
    let anonymous = c.get(&metrics).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let text = c.get(&metrics).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(text.status(), StatusCode::OK);
    assert_eq!(
        text.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = text.text().await.unwrap();
    for line in [
        "fmd_http_requests_total{endpoint=\"hello\",status=\"200\"} 14",
        "fmd_http_requests_total{endpoint=\"hello\",status=\"404\"} 6",
        "fmd_http_request_duration_seconds_count{endpoint=\"hello\"} 20",
        "fmd_exceptions_total{endpoint=\"hello\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    assert!(text.contains("fmd_build_info{version=\"9.9\",instance=\"web-7\"} 1"));

    // promtool's linter accepts it.
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = check.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // Prometheus itself scrapes it every second, with the token (asking for OpenMetrics).
    let port = free_port();
    let target = server.base.trim_start_matches("http://");
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fmd\n    \
             metrics_path: /dashboard/metrics\n    authorization:\n      credentials: {TOKEN}\n    \
             static_configs:\n      - targets: [\"{target}\"]\n"
        ),
    )
    .unwrap();
    let _prometheus = Killed(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let api = format!("http://127.0.0.1:{port}");
    let expected = [
        ("up{job=\"fmd\"}", "1"),
        (
            "fmd_http_requests_total{endpoint=\"hello\",status=\"200\"}",
            "14",
        ),
        (
            "fmd_http_requests_total{endpoint=\"hello\",status=\"404\"}",
            "6",
        ),
        ("sum(fmd_http_requests_total{endpoint=\"hello\"})", "20"),
        (
            "fmd_http_request_duration_seconds_count{endpoint=\"hello\"}",
            "20",
        ),
        (
            "fmd_http_request_duration_seconds_bucket{endpoint=\"hello\",le=\"+Inf\"}",
            "20",
        ),
        // `instance` is Prometheus' own target label: fmd's arrives as `exported_instance`
        // (or as `instance` with `honor_labels: true`).
        (
            "fmd_build_info{exported_instance=\"web-7\",version=\"9.9\"}",
            "1",
        ),
    ];
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while tokio::time::Instant::now() < end {
        got.clear();
        for (q, _) in &expected {
            got.push(query(&api, q).await);
        }
        if got
            .iter()
            .zip(&expected)
            .all(|(g, (_, want))| g.as_deref() == Some(*want))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for (g, (q, want)) in got.iter().zip(&expected) {
        assert_eq!(g.as_deref(), Some(*want), "{q}");
    }
    server.stop().await;
}

#[tokio::test]
async fn metrics_public_opens_the_exposition_to_anyone() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let app = warp::path!("door").and_then(open_door);
    let server = Server::start(config(&dir).metrics_public(true), app).await;
    let c = client();
    c.get(server.url("/door")).send().await.unwrap();
    let open = c
        .get(server.url("/dashboard/metrics"))
        .header("accept", "application/openmetrics-text;version=1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    assert!(open.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    let text = open.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE fmd_http_requests counter"));
    assert!(text.contains("fmd_http_requests_total{endpoint=\"open_door\",status=\"200\"} 1"));
    // Paths never become labels: a scanner's paths make no series.
    c.get(server.url("/wp-admin/setup.php"))
        .send()
        .await
        .unwrap();
    let again = page(&server, &c, "/dashboard/metrics").await;
    assert!(!again.contains("wp-admin"));
    server.stop().await;
}
