//! What every adapter must record alike: one list of scenarios, run against a warp server
//! (`tests/track_warp.rs`) and an axum server (`tests/track_axum.rs`). Each of those binaries
//! serves handlers of the same names and behaviour:
//!
//! | request | endpoint | the handler |
//! | --- | --- | --- |
//! | `GET /users/{id}` | `users.show` | `fmd::set_group_by(("User", id))`, answers `user {id}` |
//! | `GET /plain` | `plain` | sleeps 2 ms, answers `plain` |
//! | `GET /missing` | `missing` | answers 404 |
//! | `GET /failing` | `failing` | answers a deliberate 500 |
//! | `GET /teapot` | `teapot` | returns an error of the app that the app answers with 418 |
//! | `GET /boom` | `boom` | panics |
//! | `GET /trail/{id}` | `trail` | returns the error of [`load_row`] (`?`) into a 500 |
//! | `GET /captured` | `captured` | `fmd::capture!`s an `io::Error`, answers 200 |
//! | `GET /echo/{n}` | `echo` | `fmd::set_group_by(n)`, yields, answers 200 (even n) or 202 |
//! | `GET /slow/{ms}` | `slow` | awaits [`step`], which sleeps `ms` |
//! | `GET /quiet` | `quiet` | answers `quiet` |
//!
//! and registers `never.called` without routing it. [`config`] is their configuration.
#![allow(dead_code)]

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;

use super::{
    client, json, login, overview_row, requests_of, set_level, total_hits, Server, ADMIN_PW,
};

/// The configuration of a scenario server: the proxy header and a group-by function, and
/// outliers judged after five requests.
pub(crate) fn config(dir: &tempfile::TempDir) -> fmd::Config {
    super::config(dir)
        .trusted_proxy_header("X-Forwarded-For")
        .group_by(|req| req.header("x-user").map(fmd::GroupBy::from))
        .outlier_min_samples(5)
        .scrub_headers(vec!["X-Api-Key".into()])
}

/// The error `trail` returns.
#[derive(Debug)]
pub(crate) struct RowError(pub(crate) u32);

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {} is corrupt", self.0)
    }
}

impl std::error::Error for RowError {}

/// Fails for id 0: the start of `trail`'s error trail.
#[fmd::profiled]
pub(crate) async fn load_row(id: u32) -> Result<String, RowError> {
    tokio::task::yield_now().await;
    if id == 0 {
        Err(RowError(id))
    } else {
        Ok(format!("row {id}"))
    }
}

/// Where `slow` spends its time: a span of its profile, and where an outlier is stuck.
#[fmd::profiled]
pub(crate) async fn step(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// The error `captured` records.
pub(crate) fn captured_error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, "the cache file is missing")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn seconds(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp()
}

/// Level 1: duration, time, version, group-by value (set in the handler, or by the configured
/// function), client address (from the proxy header, or the peer) and status.
pub(crate) async fn level_1_records_every_detail(server: &Server) {
    let c = client();
    let before = now();
    let r = c
        .get(server.url("/users/7"))
        .header("x-forwarded-for", "203.0.113.9, 10.0.0.1")
        .header("x-user", "bob")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "user 7");
    let r = c
        .get(server.url("/plain"))
        .header("x-user", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "plain");
    c.get(server.url("/plain")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();

    let (admin, _) = login(server, "admin", ADMIN_PW).await;
    let users = requests_of(server, &admin, "users.show").await;
    assert_eq!(users.len(), 1);
    let u = &users[0];
    assert_eq!(u["status_code"], 200);
    assert_eq!(u["version"], "9.9");
    assert_eq!(
        u["group_by"], "(User,7)",
        "set_group_by wins over the function"
    );
    assert_eq!(
        u["ip"], "203.0.113.9",
        "the trusted proxy header names the client"
    );
    let t = seconds(u["time_requested"].as_str().unwrap());
    assert!(
        (before - 1..=now() + 1).contains(&t),
        "{t} not around {before}"
    );
    let plain = requests_of(server, &admin, "plain").await;
    assert_eq!(plain.len(), 2);
    assert_eq!(plain[1]["group_by"], "alice", "the configured function");
    assert_eq!(plain[0]["group_by"], "", "no group: empty, not \"None\"");
    assert_eq!(plain[0]["ip"], "127.0.0.1");
    assert!(
        plain[0]["duration_ms"].as_f64().unwrap() >= 2.0,
        "{plain:?}"
    );
    let never = overview_row(server, &admin, "never.called").await;
    assert_eq!(never["hits_overall"], 0, "listed before its first request");
    assert!(never["last_requested"].is_null());
}

/// The status recorded is the one the client received, whoever chose it; an unmatched request
/// is nobody's.
pub(crate) async fn statuses_are_those_the_client_received(server: &Server) {
    let c = client();
    let cases = [
        ("/failing", "failing", 500),
        ("/missing", "missing", 404),
        ("/teapot", "teapot", 418),
        ("/quiet", "quiet", 200),
    ];
    for (path, _, expected) in cases {
        let got = c.get(server.url(path)).send().await.unwrap().status();
        assert_eq!(got.as_u16(), expected, "client status of {path}");
    }
    let unmatched = c.get(server.url("/no/such/path")).send().await.unwrap();
    assert_eq!(unmatched.status(), StatusCode::NOT_FOUND);
    server.dashboard.flush().await.unwrap();

    let (admin, _) = login(server, "admin", ADMIN_PW).await;
    for (_, name, expected) in cases {
        let rows = requests_of(server, &admin, name).await;
        assert_eq!(rows.len(), 1, "{name}");
        assert_eq!(
            rows[0]["status_code"], expected,
            "recorded status of {name}"
        );
    }
    let total = total_hits(server, &admin).await;
    assert_eq!(
        total,
        cases.len() as i64,
        "the unmatched request is nobody's"
    );
    let failing = overview_row(server, &admin, "failing").await;
    assert_eq!(failing["errors_overall"], 1);
    assert_eq!(
        failing["exception_groups"], 0,
        "a 500 the handler chose is no exception"
    );
}

/// The exception groups of endpoint `name`, with their frames.
async fn exceptions_of(
    server: &Server,
    admin: &reqwest::Client,
    name: &str,
) -> Vec<serde_json::Value> {
    let id = overview_row(server, admin, name).await["id"]
        .as_i64()
        .unwrap();
    let url = server.url(&format!("/dashboard/api/endpoints/{id}/exceptions"));
    let (status, groups) = json(admin, &url).await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    groups.as_array().unwrap().clone()
}

/// A panic is recorded as a 500 with its exception, then goes on as it would without fmd (the
/// connection closes); the server keeps serving.
pub(crate) async fn a_panic_is_a_500_with_its_exception(server: &Server) {
    let c = client();
    assert!(
        c.get(server.url("/boom")).send().await.is_err(),
        "the panic goes on"
    );
    assert_eq!(
        c.get(server.url("/quiet")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let (admin, _) = login(server, "admin", ADMIN_PW).await;
    // The server records the panicked request while its connection's task unwinds, which can
    // end after the client saw the connection close: wait for it rather than race it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let rows = loop {
        server.dashboard.flush().await.unwrap();
        let rows = requests_of(server, &admin, "boom").await;
        if !rows.is_empty() || std::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status_code"], 500);
    let groups = exceptions_of(server, &admin, "boom").await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["type"], "panic");
    assert_eq!(groups[0]["message"], "boom on purpose");
}

/// An error returned through a profiled function into a 5xx is an exception with its trail; a
/// captured error is one too, on a request that answered 200.
pub(crate) async fn returned_and_captured_errors_are_exceptions(server: &Server) {
    let c = client();
    assert_eq!(
        c.get(server.url("/trail/0")).send().await.unwrap().status(),
        500
    );
    assert_eq!(
        c.get(server.url("/trail/3")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        c.get(server.url("/captured"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.dashboard.flush().await.unwrap();
    let (admin, _) = login(server, "admin", ADMIN_PW).await;

    let trail = requests_of(server, &admin, "trail").await;
    let statuses: Vec<_> = trail.iter().map(|r| r["status_code"].as_i64()).collect();
    assert_eq!(statuses, [Some(200), Some(500)]);
    let groups = exceptions_of(server, &admin, "trail").await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(
        groups[0]["type"].as_str().unwrap().ends_with("RowError"),
        "{groups:?}"
    );
    assert_eq!(groups[0]["message"], "row 0 is corrupt");
    assert_eq!(groups[0]["user_captured"], false);
    let frames: Vec<&str> = groups[0]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap().rsplit("::").next().unwrap())
        .collect();
    assert_eq!(frames, ["load_row", "trail"], "the error's way out");

    let captured = requests_of(server, &admin, "captured").await;
    assert_eq!(captured[0]["status_code"], 200);
    let groups = exceptions_of(server, &admin, "captured").await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["message"], "the cache file is missing");
    assert_eq!(groups[0]["user_captured"], true);
}

/// Level 0 moves only the endpoint's last request time; back at level 1 requests are recorded.
pub(crate) async fn level_0_only_moves_last_requested(server: &Server) {
    let (admin, csrf) = login(server, "admin", ADMIN_PW).await;
    set_level(server, &admin, &csrf, "quiet", 0).await;
    let c = client();
    for _ in 0..3 {
        assert_eq!(
            c.get(server.url("/quiet")).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    server.dashboard.flush().await.unwrap();
    let row = overview_row(server, &admin, "quiet").await;
    assert_eq!(row["monitor_level"], 0);
    assert_eq!(row["hits_overall"], 0);
    assert!(row["last_requested"].is_string(), "{row}");
    set_level(server, &admin, &csrf, "quiet", 1).await;
    c.get(server.url("/quiet")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    assert_eq!(requests_of(server, &admin, "quiet").await.len(), 1);
}

/// Level 3 profiles every request; level 2 keeps an outlier with its URL, scrubbed headers and
/// the span it was stuck in.
pub(crate) async fn levels_2_and_3_keep_profiles_and_outliers(server: &Server) {
    let c = client();
    server.dashboard.set_level("slow", 3).await.unwrap();
    for _ in 0..6 {
        let r = c.get(server.url("/slow/2")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    // The writer keeps the running mean: let it see the fast requests first.
    server.dashboard.flush().await.unwrap();
    server.dashboard.set_level("slow", 2).await.unwrap();
    let r = c
        .get(server.url("/slow/300?note=x"))
        .header("x-api-key", "secret")
        .header("x-trace", "visible")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    server.dashboard.flush().await.unwrap();

    let (admin, _) = login(server, "admin", ADMIN_PW).await;
    let id = overview_row(server, &admin, "slow").await["id"]
        .as_i64()
        .unwrap();
    let api = |p: &str| server.url(&format!("/dashboard/api/endpoints/{id}/{p}"));
    let (_, profiles) = json(&admin, &api("profiler?limit=100")).await;
    let profiles = profiles.as_array().unwrap();
    assert_eq!(
        profiles.len(),
        7,
        "every request at level 3, and the outlier's tree"
    );
    let spans: Vec<&str> = profiles[0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["function"].as_str().unwrap().rsplit("::").next().unwrap())
        .collect();
    assert_eq!(spans, ["step"]);

    let (_, outliers) = json(&admin, &api("outliers")).await;
    let slow = outliers
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["url"] == "/slow/300?note=x")
        .unwrap_or_else(|| panic!("the slow request is an outlier: {outliers}"));
    assert_eq!(slow["method"], "GET");
    let headers: Vec<(String, String)> = serde_json::from_value(slow["headers"].clone()).unwrap();
    assert!(
        headers.contains(&("x-api-key".into(), "[scrubbed]".into())),
        "{headers:?}"
    );
    assert!(
        headers.contains(&("x-trace".into(), "visible".into())),
        "{headers:?}"
    );
    let stack: Vec<&str> = slow["stack"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap().rsplit("::").next().unwrap())
        .collect();
    assert_eq!(stack, ["step"], "caught while stuck in step");
}

/// Concurrent requests on HTTP/1.1 keep-alive connections and HTTP/2 streams of one connection:
/// every record is its own request's.
pub(crate) async fn concurrent_requests_keep_their_own_context(server: &Server) {
    let mut tasks = Vec::new();
    for conn in 0..8u32 {
        let url = server.base.clone();
        tasks.push(tokio::spawn(async move {
            let c = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .http1_only()
                .build()
                .unwrap();
            for i in 0..40u32 {
                let n = conn * 1000 + i;
                let r = c.get(format!("{url}/echo/{n}")).send().await.unwrap();
                assert_eq!(r.text().await.unwrap(), n.to_string());
            }
        }));
    }
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for n in 50_000..50_100u32 {
        let (c, url) = (h2.clone(), server.base.clone());
        tasks.push(tokio::spawn(async move {
            let r = c.get(format!("{url}/echo/{n}")).send().await.unwrap();
            assert_eq!(r.version(), reqwest::Version::HTTP_2);
            assert_eq!(r.text().await.unwrap(), n.to_string());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    server.dashboard.flush().await.unwrap();
    let (admin, _) = login(server, "admin", ADMIN_PW).await;
    let rows = requests_of(server, &admin, "echo").await;
    assert_eq!(rows.len(), 420);
    let mut seen = HashSet::new();
    for row in &rows {
        let n: u32 = row["group_by"].as_str().unwrap().parse().unwrap();
        let expected = if n.is_multiple_of(2) { 200 } else { 202 };
        assert_eq!(
            row["status_code"], expected,
            "request {n} got another's status"
        );
        assert!(seen.insert(n), "request {n} recorded twice");
    }
}

/// One `#[tokio::test]` per scenario, each on a fresh server that `$start(&config)` serves.
#[macro_export]
macro_rules! scenario_tests {
    ($start:path) => {
        $crate::scenario_tests!(@each $start,
            level_1_records_every_detail,
            statuses_are_those_the_client_received,
            a_panic_is_a_500_with_its_exception,
            returned_and_captured_errors_are_exceptions,
            level_0_only_moves_last_requested,
            levels_2_and_3_keep_profiles_and_outliers,
            concurrent_requests_keep_their_own_context
        );
    };
    (@each $start:path, $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let _serial = common::serial().await;
                let dir = tempfile::tempdir().unwrap();
                let server = $start(common::scenarios::config(&dir)).await;
                common::scenarios::$name(&server).await;
                server.stop().await;
            }
        )*
    };
}
