//! What level 0 and level 1 record, through a real server: request details, status codes as the
//! client received them, panics, restarts, and contexts under concurrent HTTP/1 and HTTP/2 load.

mod common;

use std::convert::Infallible;

use common::*;
use fmd::monitored;
use reqwest::StatusCode;
use warp::http::StatusCode as Status;
use warp::{Filter, Rejection, Reply};

#[derive(Debug)]
struct Teapot;
impl warp::reject::Reject for Teapot {}

#[derive(Debug)]
struct Unhandled;
impl warp::reject::Reject for Unhandled {}

#[monitored(name = "users.show")]
async fn show(id: u32) -> Result<impl Reply, Rejection> {
    fmd::set_group_by(("User", id));
    Ok(format!("user {id}"))
}

#[monitored]
async fn plain() -> Result<impl Reply, Rejection> {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    Ok("plain")
}

#[monitored]
async fn failing() -> Result<impl Reply, Rejection> {
    Ok(warp::reply::with_status(
        "no",
        Status::INTERNAL_SERVER_ERROR,
    ))
}

#[monitored]
async fn missing() -> Result<String, Rejection> {
    Err(warp::reject::not_found())
}

#[monitored]
async fn teapot() -> Result<String, Rejection> {
    Err(warp::reject::custom(Teapot))
}

#[monitored]
async fn unhandled() -> Result<String, Rejection> {
    Err(warp::reject::custom(Unhandled))
}

#[monitored]
async fn boom() -> Result<String, Infallible> {
    panic!("boom on purpose")
}

#[monitored(name = "sync.handler")]
fn sync_handler() -> &'static str {
    "sync"
}

#[monitored]
async fn echo(n: u32) -> Result<impl Reply, Infallible> {
    fmd::set_group_by(n);
    tokio::task::yield_now().await;
    let status = if n.is_multiple_of(2) {
        Status::OK
    } else {
        Status::ACCEPTED
    };
    Ok(warp::reply::with_status(n.to_string(), status))
}

#[monitored]
async fn quiet() -> Result<&'static str, Infallible> {
    Ok("quiet")
}

#[monitored(name = "never.called")]
async fn never() -> Result<&'static str, Infallible> {
    Ok("never")
}

fn app() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone + Send + Sync + 'static
{
    let routes = warp::path!("users" / u32)
        .and(warp::get())
        .and_then(show)
        .or(warp::path!("plain").and_then(plain))
        .or(warp::path!("failing").and_then(failing))
        .or(warp::path!("missing").and(warp::get()).and_then(missing))
        .or(warp::path!("missing").and(warp::post()).map(|| "posted"))
        .or(warp::path!("teapot").and_then(teapot))
        .or(warp::path!("unhandled").and_then(unhandled))
        .or(warp::path!("boom").and_then(boom))
        .or(warp::path!("sync").map(sync_handler))
        .or(warp::path!("echo" / u32).and_then(echo))
        .or(warp::path!("quiet").and_then(quiet))
        .or(warp::path!("never").and_then(never));
    routes.recover(|r: Rejection| async move {
        if r.find::<Teapot>().is_some() {
            Ok(warp::reply::with_status("teapot", Status::IM_A_TEAPOT))
        } else {
            Err(r)
        }
    })
}

async fn start(dir: &tempfile::TempDir) -> Server {
    let config = config(dir)
        .trusted_proxy_header("X-Forwarded-For")
        .group_by(|req| req.header("x-user").map(fmd::GroupBy::from));
    Server::start(config, app()).await
}

#[tokio::test]
async fn every_endpoint_is_listed_before_its_first_request() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir).await;
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let row = overview_row(&server, &admin, "never.called").await;
    assert_eq!(row["hits_overall"], 0);
    assert_eq!(row["monitor_level"], 1);
    assert!(row["last_requested"].is_null());
    assert!(row["median_overall_ms"].is_null());
    server.stop().await;
}

#[tokio::test]
async fn level_1_records_duration_time_version_group_ip_and_status() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir).await;
    let c = client();
    let before = fmd_time_now();
    let r = c
        .get(server.url("/users/7"))
        .header("x-forwarded-for", "203.0.113.9, 10.0.0.1")
        .header("x-user", "bob")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "user 7");
    c.get(server.url("/plain"))
        .header("x-user", "alice")
        .send()
        .await
        .unwrap();
    c.get(server.url("/plain")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();

    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let users = requests_of(&server, &admin, "users.show").await;
    assert_eq!(users.len(), 1);
    let u = &users[0];
    assert_eq!(u["status_code"], 200);
    assert_eq!(u["version"], "9.9");
    assert_eq!(
        u["group_by"], "(User,7)",
        "set_group_by wins over the configured function"
    );
    assert_eq!(
        u["ip"], "203.0.113.9",
        "the trusted proxy header names the client"
    );
    let t = chrono_like(u["time_requested"].as_str().unwrap());
    assert!(
        t >= before - 1 && t <= fmd_time_now() + 1,
        "time_requested {t} not around now {before}"
    );
    let plain = requests_of(&server, &admin, "plain").await;
    assert_eq!(plain.len(), 2);
    assert_eq!(
        plain[1]["group_by"], "alice",
        "the configured group_by function"
    );
    assert_eq!(plain[0]["group_by"], "", "no group: empty, not \"None\"");
    assert_eq!(plain[0]["ip"], "127.0.0.1");
    assert!(
        plain[0]["duration_ms"].as_f64().unwrap() >= 2.0,
        "{plain:?}"
    );
    server.stop().await;
}

fn fmd_time_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn chrono_like(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp()
}

#[tokio::test]
async fn status_codes_are_those_the_client_received() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir).await;
    let c = client();
    let cases = [
        ("/failing", 500),
        ("/missing", 405),
        ("/teapot", 418),
        ("/unhandled", 500),
        ("/sync", 200),
    ];
    for (path, expected) in cases {
        let got = c.get(server.url(path)).send().await.unwrap().status();
        assert_eq!(got.as_u16(), expected, "client status of {path}");
    }
    // Unmatched: warp's 404, attributed to no endpoint.
    assert_eq!(
        c.get(server.url("/no/such/path"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    server.dashboard.flush().await.unwrap();
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    for (name, expected) in [
        ("failing", 500),
        ("missing", 405),
        ("teapot", 418),
        ("unhandled", 500),
        ("sync.handler", 200),
    ] {
        let rows = requests_of(&server, &admin, name).await;
        assert_eq!(rows.len(), 1, "{name}");
        assert_eq!(
            rows[0]["status_code"], expected,
            "recorded status of {name}"
        );
    }
    let (_, overview) = json(&admin, &server.url("/dashboard/api/overview")).await;
    let total: i64 = overview
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["hits_overall"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 5, "the unmatched request is nobody's");
    let failing = overview_row(&server, &admin, "failing").await;
    assert_eq!(
        (
            failing["errors_overall"].as_i64(),
            failing["hits_overall"].as_i64()
        ),
        (Some(1), Some(1))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_panic_is_recorded_as_500_and_the_service_keeps_serving() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir).await;
    let c = client();
    // The panic is resumed: the connection closes, as it would without fmd.
    assert!(c.get(server.url("/boom")).send().await.is_err());
    assert_eq!(
        c.get(server.url("/plain")).send().await.unwrap().status(),
        StatusCode::OK
    );
    server.dashboard.flush().await.unwrap();
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let rows = requests_of(&server, &admin, "boom").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status_code"], 500);
    server.stop().await;
}

#[tokio::test]
async fn level_0_only_moves_last_requested() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir).await;
    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    set_level(&server, &admin, &csrf, "quiet", 0).await;
    let c = client();
    for _ in 0..3 {
        assert_eq!(
            c.get(server.url("/quiet")).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    server.dashboard.flush().await.unwrap();
    let row = overview_row(&server, &admin, "quiet").await;
    assert_eq!(row["monitor_level"], 0);
    assert_eq!(row["hits_overall"], 0);
    assert!(
        row["last_requested"].is_string(),
        "level 0 still moves last_requested: {row}"
    );
    // Back to level 1: the next request is recorded.
    set_level(&server, &admin, &csrf, "quiet", 1).await;
    c.get(server.url("/quiet")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    assert_eq!(requests_of(&server, &admin, "quiet").await.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_restart_loses_nothing_and_keeps_levels() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir).await;
    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    set_level(&server, &admin, &csrf, "quiet", 0).await;
    let c = client();
    for _ in 0..25 {
        c.get(server.url("/plain")).send().await.unwrap();
    }
    // No flush: shutdown writes what is queued.
    server.stop().await;

    let server = start(&dir).await;
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    assert_eq!(
        overview_row(&server, &admin, "plain").await["hits_overall"],
        25
    );
    assert_eq!(
        overview_row(&server, &admin, "quiet").await["monitor_level"],
        0
    );
    c.get(server.url("/quiet")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    assert!(
        requests_of(&server, &admin, "quiet").await.is_empty(),
        "the stored level 0 is in force"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_keep_alive_and_http2_requests_keep_their_own_context() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir).await;
    let mut tasks = Vec::new();
    // Eight HTTP/1.1 keep-alive connections, 40 requests each, all at once.
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
    // One HTTP/2 connection with 100 concurrent streams.
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
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let rows = requests_of(&server, &admin, "echo").await;
    assert_eq!(rows.len(), 420);
    let mut seen = std::collections::HashSet::new();
    for row in &rows {
        let n: u32 = row["group_by"].as_str().unwrap().parse().unwrap();
        let expected = if n.is_multiple_of(2) { 200 } else { 202 };
        assert_eq!(
            row["status_code"], expected,
            "request {n} got another request's status"
        );
        assert!(seen.insert(n), "request {n} recorded twice");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_an_unwritable_database_and_the_drop_count() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;

    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir).backlog_capacity(0);
    let server = Server::start(config, app()).await;
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let html = page(&server, &admin, "/dashboard/overview").await;
    assert!(!html.contains("alert-error"), "no banner while all is well");

    // Another connection holds the write lock: the writer cannot write, and with no backlog
    // every record is dropped and counted.
    let path = dir.path().join("fmd.db");
    let mut locker = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    locker.batch_execute("BEGIN EXCLUSIVE").unwrap();
    let c = client();
    for _ in 0..5 {
        assert_eq!(
            c.get(server.url("/plain")).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while server.dashboard.writer_stats().dropped() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "the drops were not counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(server.dashboard.writer_stats().dropped(), 5);
    // Reading still works while the write lock is held (WAL), so the page tells the user.
    let html = page(&server, &admin, "/dashboard/overview").await;
    assert!(html.contains("The database cannot be written"), "{html}");
    assert!(html.contains("5 records have been dropped"), "{html}");

    locker.batch_execute("COMMIT").unwrap();
    drop(locker);
    // A flush makes the writer try at once instead of after its backoff, even with nothing to
    // write: it finds the database back, and records are kept again.
    server.dashboard.flush().await.unwrap();
    c.get(server.url("/plain")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    let html = page(&server, &admin, "/dashboard/overview").await;
    assert!(
        !html.contains("The database cannot be written"),
        "recovered"
    );
    assert!(
        html.contains("5 records have been dropped"),
        "the count stays visible"
    );
    assert_eq!(requests_of(&server, &admin, "plain").await.len(), 1);
    server.stop().await;
}

/// The size of the future warp makes for each request of `filter`: it is created per request
/// and moved several times on its way into the connection's task.
fn request_future_size<F>(filter: F) -> usize
where
    F: Filter + Clone + Send + Sync + 'static,
    F::Extract: Reply,
{
    use tower_service::Service;
    let mut service = warp::service(filter);
    let request = warp::http::Request::builder()
        .uri("/plain")
        .body(String::new())
        .unwrap();
    std::mem::size_of_val(&service.call(request))
}

#[tokio::test]
async fn bind_adds_little_to_each_requests_future() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let dashboard = fmd::Dashboard::new(config(&dir)).await.unwrap();
    let bare = request_future_size(app());
    let bound = request_future_size(dashboard.bind(app()));
    // The dashboard's own routes (over a kilobyte of future) are boxed behind their prefix;
    // inlined, they tripled the size of every request's future.
    assert!(
        bound < bare + 512,
        "bound future {bound} bytes, bare {bare} bytes"
    );
    dashboard.shutdown().await.unwrap();
}
