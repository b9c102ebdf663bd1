//! The shared scenarios (`common/scenarios.rs`) on axum, with state, extractors and errors that
//! implement `IntoResponse`; and what only axum has: requests it rejects before the handler
//! runs, its fallback, and 405s.

mod common;

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::scenarios::{self, captured_error, load_row, step, RowError};
use common::*;
use fmd::monitored;
use serde::{Deserialize, Serialize};

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

/// The app's error: answered as JSON with its status.
enum AppError {
    Teapot,
    Row(RowError),
}

impl From<RowError> for AppError {
    fn from(e: RowError) -> Self {
        AppError::Row(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::Teapot => (StatusCode::IM_A_TEAPOT, "I'm a teapot".to_owned()),
            AppError::Row(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

#[monitored(name = "users.show")]
async fn show(Path(id): Path<u32>) -> String {
    fmd::set_group_by(("User", id));
    format!("user {id}")
}

#[monitored]
async fn plain() -> &'static str {
    tokio::time::sleep(Duration::from_millis(2)).await;
    "plain"
}

#[monitored]
async fn missing() -> Result<String, StatusCode> {
    Err(StatusCode::NOT_FOUND)
}

#[monitored]
async fn failing() -> (StatusCode, &'static str) {
    (StatusCode::INTERNAL_SERVER_ERROR, "no")
}

#[monitored]
async fn teapot() -> Result<String, AppError> {
    Err(AppError::Teapot)
}

#[monitored]
async fn boom() -> String {
    panic!("boom on purpose")
}

#[monitored]
async fn trail(Path(id): Path<u32>) -> Result<String, AppError> {
    Ok(load_row(id).await?)
}

#[monitored]
async fn captured() -> &'static str {
    fmd::capture!(captured_error());
    "served from the database"
}

#[monitored]
async fn echo(Path(n): Path<u32>) -> impl IntoResponse {
    fmd::set_group_by(n);
    tokio::task::yield_now().await;
    let status = if n.is_multiple_of(2) {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    (status, n.to_string())
}

#[monitored]
async fn slow(Path(ms): Path<u64>) -> &'static str {
    step(ms).await;
    "slow"
}

#[monitored]
async fn quiet(State(state): State<AppState>) -> &'static str {
    state.greeting
}

#[monitored(name = "never.called")]
async fn never() -> &'static str {
    "never"
}

#[derive(Serialize, Deserialize)]
struct Item {
    name: String,
    count: u32,
}

#[monitored]
async fn create(State(_): State<AppState>, Json(item): Json<Item>) -> (StatusCode, Json<Item>) {
    (StatusCode::CREATED, Json(item))
}

#[monitored]
async fn fallback() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "nothing here")
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/users/{id}", get(show))
        .route("/plain", get(plain))
        .route("/missing", get(missing))
        .route("/failing", get(failing))
        .route("/teapot", get(teapot))
        .route("/boom", get(boom))
        .route("/trail/{id}", get(trail))
        .route("/captured", get(captured))
        .route("/echo/{n}", get(echo))
        .route("/slow/{ms}", get(slow))
        .route("/quiet", get(quiet))
        .route("/never", get(never))
        .route("/items", post(create))
}

async fn start(config: fmd::Config) -> Server {
    Server::start_axum(config, |_| {
        routes().with_state(AppState { greeting: "quiet" })
    })
    .await
}

scenario_tests!(start);

/// Statuses of endpoint `name`'s requests, oldest first.
async fn statuses(server: &Server, admin: &reqwest::Client, name: &str) -> Vec<i64> {
    let mut rows = requests_of(server, admin, name).await;
    rows.reverse();
    rows.iter()
        .map(|r| r["status_code"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn requests_axum_rejects_before_the_handler_count_for_their_routes_endpoint() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(scenarios::config(&dir)).await;
    let c = client();
    let post = |body: &'static str, content_type: &'static str| {
        c.post(server.url("/items"))
            .header("content-type", content_type)
            .header("x-user", "carol")
            .body(body)
    };
    // Nothing reached the handler of this route yet: fmd cannot know its endpoint.
    let first = post("{not json", "application/json").send().await.unwrap();
    assert_eq!(first.status(), 400);
    let good = post(r#"{"name":"tea","count":2}"#, "application/json");
    assert_eq!(good.send().await.unwrap().status(), 201);
    let rejected = [
        (post("{not json", "application/json"), 400),
        (post(r#"{"name":"tea","count":2}"#, "text/plain"), 415),
        (post(r#"{"name":"tea"}"#, "application/json"), 422),
    ];
    for (request, expected) in rejected {
        assert_eq!(request.send().await.unwrap().status().as_u16(), expected);
    }
    assert_eq!(
        c.get(server.url("/users/1")).send().await.unwrap().status(),
        200
    );
    let bad_path = c.get(server.url("/users/abc")).send().await.unwrap();
    assert_eq!(bad_path.status(), 400);
    server.dashboard.flush().await.unwrap();

    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    assert_eq!(
        statuses(&server, &admin, "create").await,
        [201, 400, 415, 422]
    );
    assert_eq!(statuses(&server, &admin, "users.show").await, [200, 400]);
    let rows = requests_of(&server, &admin, "create").await;
    for row in &rows {
        assert_eq!(row["ip"], "127.0.0.1", "{row}");
        assert_eq!(row["group_by"], "carol", "the configured function: {row}");
        assert_eq!(row["version"], "9.9");
    }
    let overview = overview_row(&server, &admin, "create").await;
    assert_eq!(overview["errors_overall"], 3, "errors are answers >= 400");
    server.stop().await;
}

#[tokio::test]
async fn the_fallback_counts_and_a_405_is_nobodys() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_axum(scenarios::config(&dir), |_| {
        routes()
            .fallback(fallback)
            .with_state(AppState { greeting: "quiet" })
    })
    .await;
    let c = client();
    let r = c.get(server.url("/no/such/page")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.unwrap(), "nothing here");
    let r = c.post(server.url("/quiet")).send().await.unwrap();
    assert_eq!(r.status(), 405, "a method the route does not serve");
    assert_eq!(
        c.get(server.url("/quiet")).send().await.unwrap().status(),
        200
    );
    server.dashboard.flush().await.unwrap();

    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    assert_eq!(statuses(&server, &admin, "fallback").await, [404]);
    assert_eq!(
        statuses(&server, &admin, "quiet").await,
        [200],
        "as on warp, a method no route serves reaches no handler and counts for none"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_dashboard_is_served_through_the_router_and_not_tracked() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(scenarios::config(&dir)).await;
    let c = client();
    for path in ["/dashboard", "/dashboard/", "/dashboard/overview"] {
        let r = c.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path} sends to the login or overview");
    }
    let r = c
        .get(server.url("/dashboard/static/fmd.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
    let r = c
        .get(server.url("/dashboard/api/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the API wants a session or the token");
    let r = c
        .get(server.url("/dashboard/api/overview"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let big = vec![b'x'; 100_000];
    let r = c
        .post(server.url("/dashboard/login"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    oversized_requests_get_json_and_keep_the_connection(&server).await;

    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let html = page(&server, &admin, "/dashboard/overview").await;
    assert!(
        html.contains("users.show"),
        "the overview lists the app's endpoints"
    );
    server.dashboard.flush().await.unwrap();
    let lines = downloaded_lines(&server, &admin, "users.show").await;
    assert_eq!(
        lines.len(),
        1,
        "a download through the router, its header only: {lines:?}"
    );
    let total = total_hits(&server, &admin).await;
    assert_eq!(total, 0, "the dashboard's own requests are not recorded");
    server.stop().await;
}
