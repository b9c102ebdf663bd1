//! The quickstart's service on axum: `cargo run --features axum --example axum_quickstart`
//!
//! The same endpoints as `quickstart.rs`, written as axum handlers: state, extractors (`Path`,
//! `Query`, `State`), an error type that implements `IntoResponse`, `Result<_, StatusCode>`.
//! `dashboard.router()` serves the dashboard under `/dashboard` and `dashboard.layer()` tracks
//! every other request. Add `-- --demo-traffic` to fill the dashboard within seconds; Ctrl-C
//! stops it after writing every recorded request to `fmd-quickstart.db`.
//!
//! Settings come from the environment as for any fmd service (`FMD_CONFIG=fmd.toml`,
//! `FMD_DATABASE=...`, `FMD_PASSWORD=...`); `PORT` picks the port (default 8080).

mod demo;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fmd::{monitored, profiled};

/// What the handlers share.
#[derive(Clone)]
struct AppState {
    greeting: &'static str,
    reports: Arc<AtomicU64>,
}

/// The service's errors, answered as JSON with their status.
#[derive(Debug)]
enum AppError {
    /// The payment provider did not answer: a 500, and an exception on the dashboard.
    Payment(PaymentDown),
}

impl From<PaymentDown> for AppError {
    fn from(e: PaymentDown) -> Self {
        AppError::Payment(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let AppError::Payment(e) = self;
        let body = Json(serde_json::json!({ "error": e.to_string() }));
        (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
    }
}

/// Fast: answers at once.
#[monitored]
async fn index(State(state): State<AppState>) -> &'static str {
    state.greeting
}

/// A user page, grouped by user; one id in five does not exist.
#[monitored(name = "users.show")]
async fn show_user(Path(id): Path<u32>) -> Result<String, StatusCode> {
    fmd::set_group_by(("User", id));
    match demo::load_user(id).await {
        Ok(name) => Ok(format!("user {id}: {name}\n")),
        Err(e) => {
            // Handled (the client gets a 404), and recorded: see the Exceptions page.
            fmd::capture!(e);
            Err(StatusCode::NOT_FOUND)
        }
    }
}

/// Slow: a report built from two sources fetched at once, then summed up and rendered. With
/// `--demo-traffic` it runs at level 3: see its Profiler and Grouped profiler tabs.
#[monitored]
async fn report(State(state): State<AppState>) -> String {
    let (orders, refunds) = tokio::join!(demo::fetch_rows("orders"), demo::fetch_rows("refunds"));
    let total = demo::summarize(&orders).saturating_sub(demo::summarize(&refunds));
    let n = state.reports.fetch_add(1, Ordering::Relaxed) + 1;
    fmd::span!("render", {
        format!(
            "report {n}: {total} over {} rows\n",
            orders.len() + refunds.len()
        )
    })
}

/// The payment provider's error.
#[derive(Debug)]
struct PaymentDown;

impl std::fmt::Display for PaymentDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the payment provider is unreachable")
    }
}

impl std::error::Error for PaymentDown {}

/// Charging always fails here.
#[profiled]
async fn charge() -> Result<(), PaymentDown> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    Err(PaymentDown)
}

/// Always fails with a 500: the error returned by `charge` is recorded with its trail.
#[monitored]
async fn checkout() -> Result<&'static str, AppError> {
    charge().await?;
    Ok("paid\n")
}

/// Panics when asked to: `/search?q=rust&crash=1`.
#[monitored]
async fn search(Query(query): Query<HashMap<String, String>>) -> String {
    if query.contains_key("crash") {
        panic!("search index corrupted (asked to crash by the query)");
    }
    let q = query.get("q").cloned().unwrap_or_default();
    format!("0 results for {q:?}\n")
}

/// A plain function endpoint, called from the route's closure.
#[monitored]
fn health() -> &'static str {
    "ok\n"
}

/// Never requested by the demo traffic: it shows in the overview all the same.
#[monitored(name = "admin.export")]
async fn export() -> &'static str {
    "export\n"
}

fn app() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/users/{id}", get(show_user))
        .route("/report", get(report))
        .route("/checkout", get(checkout))
        .route("/search", get(search))
        .route("/health", get(|| async { health() }))
        .route("/admin/export", get(export))
}

#[tokio::main]
async fn main() -> Result<(), fmd::Error> {
    let demo = std::env::args().any(|a| a == "--demo-traffic");
    let (config, password_given) = demo::config()?;
    if demo {
        demo::quiet_panics();
    }
    let dashboard = fmd::Dashboard::new(config.clone()).await?;
    demo::add_written_graph(&dashboard);
    let (listener, base) = demo::listen().await?;
    demo::start(
        "axum quickstart",
        &dashboard,
        &config,
        password_given,
        &base,
        demo,
    )
    .await?;

    let state = AppState {
        greeting: "Welcome to the fmd quickstart on axum. The dashboard is at /dashboard.\n",
        reports: Arc::new(AtomicU64::new(0)),
    };
    let app = app()
        .merge(dashboard.router())
        .layer(dashboard.layer())
        .with_state(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;

    println!("stopping: writing recorded requests to the database");
    dashboard.shutdown().await?;
    Ok(())
}
