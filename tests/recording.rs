//! Recording through warp's `bind` on an app that does not recover its rejections: the status
//! warp answers each rejection with, restarts, an unwritable database, and the size of each
//! request's future. What every adapter records alike is in `track_warp.rs` and `track_axum.rs`.

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

#[monitored(name = "sync.handler")]
fn sync_handler() -> &'static str {
    "sync"
}

#[monitored]
async fn quiet() -> Result<&'static str, Infallible> {
    Ok("quiet")
}

fn app() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone + Send + Sync + 'static
{
    let routes = warp::path!("plain")
        .and_then(plain)
        .or(warp::path!("failing").and_then(failing))
        .or(warp::path!("missing").and(warp::get()).and_then(missing))
        .or(warp::path!("missing").and(warp::post()).map(|| "posted"))
        .or(warp::path!("teapot").and_then(teapot))
        .or(warp::path!("unhandled").and_then(unhandled))
        .or(warp::path!("sync").map(sync_handler))
        .or(warp::path!("quiet").and_then(quiet));
    routes.recover(|r: Rejection| async move {
        if r.find::<Teapot>().is_some() {
            Ok(warp::reply::with_status("teapot", Status::IM_A_TEAPOT))
        } else {
            Err(r)
        }
    })
}

async fn start(dir: &tempfile::TempDir) -> Server {
    Server::start(config(dir), app()).await
}

#[tokio::test]
async fn rejections_are_recorded_with_the_status_warp_answers() {
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
    let total = total_hits(&server, &admin).await;
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
