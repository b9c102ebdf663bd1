//! The shared scenarios (`common/scenarios.rs`) on warp, with an app written in the style of
//! warp's `rejections` example: it ends in `.recover(handle_rejection)`, so its error type is
//! `Infallible`, and `bind` takes it unchanged.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use common::scenarios::{captured_error, load_row, step, RowError};
use common::Server;
use fmd::monitored;
use serde::Serialize;
use warp::http::StatusCode;
use warp::{reject, Filter, Rejection, Reply};

#[derive(Debug)]
struct Teapot;
impl reject::Reject for Teapot {}

#[derive(Debug)]
struct Corrupt(#[allow(dead_code)] RowError);
impl reject::Reject for Corrupt {}

#[monitored(name = "users.show")]
async fn show(id: u32) -> Result<impl Reply, Rejection> {
    fmd::set_group_by(("User", id));
    Ok(format!("user {id}"))
}

#[monitored]
async fn plain() -> Result<impl Reply, Rejection> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    Ok("plain")
}

#[monitored]
async fn missing() -> Result<String, Rejection> {
    Err(reject::not_found())
}

#[monitored]
async fn failing() -> Result<impl Reply, Infallible> {
    Ok(warp::reply::with_status(
        "no",
        StatusCode::INTERNAL_SERVER_ERROR,
    ))
}

#[monitored]
async fn teapot() -> Result<String, Rejection> {
    Err(reject::custom(Teapot))
}

#[monitored]
async fn boom() -> Result<String, Infallible> {
    panic!("boom on purpose")
}

#[monitored]
async fn trail(id: u32) -> Result<String, Rejection> {
    load_row(id).await.map_err(|e| reject::custom(Corrupt(e)))
}

#[monitored]
async fn captured() -> Result<&'static str, Infallible> {
    fmd::capture!(captured_error());
    Ok("served from the database")
}

#[monitored]
async fn echo(n: u32) -> Result<impl Reply, Infallible> {
    fmd::set_group_by(n);
    tokio::task::yield_now().await;
    let status = if n.is_multiple_of(2) {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(warp::reply::with_status(n.to_string(), status))
}

#[monitored]
async fn slow(ms: u64) -> Result<&'static str, Infallible> {
    step(ms).await;
    Ok("slow")
}

#[monitored]
async fn quiet() -> Result<&'static str, Infallible> {
    Ok("quiet")
}

#[monitored(name = "never.called")]
async fn never() -> Result<&'static str, Infallible> {
    Ok("never")
}

#[derive(Serialize)]
struct ErrorMessage {
    code: u16,
    message: String,
}

/// As in warp's `rejections` example: every rejection becomes a JSON error with its status.
async fn handle_rejection(err: Rejection) -> Result<impl Reply, Infallible> {
    let (code, message) = if err.is_not_found() {
        (StatusCode::NOT_FOUND, "NOT_FOUND".to_owned())
    } else if err.find::<Teapot>().is_some() {
        (StatusCode::IM_A_TEAPOT, "I'm a teapot".to_owned())
    } else if err.find::<reject::MethodNotAllowed>().is_some() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED".to_owned(),
        )
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, format!("{err:?}"))
    };
    let json = warp::reply::json(&ErrorMessage {
        code: code.as_u16(),
        message,
    });
    Ok(warp::reply::with_status(json, code))
}

fn app() -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone + Send + Sync + 'static
{
    let get = warp::get();
    get.and(
        warp::path!("users" / u32)
            .and_then(show)
            .or(warp::path!("plain").and_then(plain))
            .or(warp::path!("missing").and_then(missing))
            .or(warp::path!("failing").and_then(failing))
            .or(warp::path!("teapot").and_then(teapot))
            .or(warp::path!("boom").and_then(boom))
            .or(warp::path!("trail" / u32).and_then(trail))
            .or(warp::path!("captured").and_then(captured))
            .or(warp::path!("echo" / u32).and_then(echo))
            .or(warp::path!("slow" / u64).and_then(slow))
            .or(warp::path!("quiet").and_then(quiet))
            .or(warp::path!("never").and_then(never)),
    )
    .recover(handle_rejection)
}

async fn start(config: fmd::Config) -> Server {
    Server::start(config, app()).await
}

scenario_tests!(start);

#[tokio::test]
async fn track_serves_the_app_without_the_dashboard_which_routes_serves_apart() {
    let _serial = common::serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::serve_with(
        common::scenarios::config(&dir),
        |dashboard, listener, stopped| {
            tokio::spawn(
                warp::serve(dashboard.track(app()))
                    .incoming(listener)
                    .graceful(async {
                        let _ = stopped.await;
                    })
                    .run(),
            )
        },
    )
    .await;
    let c = common::client();
    assert_eq!(
        c.get(server.url("/plain")).send().await.unwrap().status(),
        200
    );
    let r = c.get(server.url("/dashboard/login")).send().await.unwrap();
    assert_eq!(r.status(), 404, "the service's port has no dashboard");
    let apart = warp::test::request()
        .path("/dashboard/login")
        .reply(&server.dashboard.routes())
        .await;
    assert_eq!(apart.status(), 200, "the dashboard's own port has it");
    server.dashboard.flush().await.unwrap();
    let overview = warp::test::request()
        .path("/dashboard/api/overview")
        .header("authorization", format!("Bearer {}", common::TOKEN))
        .reply(&server.dashboard.routes())
        .await;
    let rows: serde_json::Value = serde_json::from_slice(overview.body()).unwrap();
    let hits = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "plain")
        .unwrap()["hits_overall"]
        .clone();
    assert_eq!(hits, 1, "the service's requests are tracked");
    server.stop().await;
}
