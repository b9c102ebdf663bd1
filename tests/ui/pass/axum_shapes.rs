//! `#[monitored]` on axum handlers: every shape still is a `Handler`, with no warning of its own.
#![deny(warnings)]

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fmd::monitored;
use serde::{Deserialize, Serialize};

#[derive(Clone)]
struct AppState {
    name: String,
}

#[derive(Serialize, Deserialize)]
struct Item {
    id: u32,
}

#[derive(Debug)]
struct Missing;

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("missing")
    }
}

impl std::error::Error for Missing {}

enum AppError {
    Missing(Missing),
}

impl From<Missing> for AppError {
    fn from(e: Missing) -> Self {
        AppError::Missing(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let AppError::Missing(e) = self;
        (StatusCode::NOT_FOUND, e.to_string()).into_response()
    }
}

#[fmd::profiled]
async fn find(id: u32) -> Result<Item, Missing> {
    if id == 0 {
        Err(Missing)
    } else {
        Ok(Item { id })
    }
}

/// Extractors, one of them the body.
#[monitored]
async fn extractors(
    Path(id): Path<u32>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(item): Json<Item>,
) -> String {
    format!("{id} {} {} {}", query.len(), headers.len(), item.id)
}

/// `State`, with a borrow of it across an await.
#[monitored(name = "state.greet")]
async fn with_state(State(state): State<AppState>) -> String {
    let name = &state.name;
    tokio::task::yield_now().await;
    format!("hello {name}")
}

/// `impl IntoResponse`, two branches.
#[monitored]
async fn any_response(Path(id): Path<u32>) -> impl IntoResponse {
    if id == 0 {
        (StatusCode::NOT_FOUND, "none").into_response()
    } else {
        Json(Item { id }).into_response()
    }
}

/// `Result<_, StatusCode>`.
#[monitored]
async fn status_error(Path(id): Path<u32>) -> Result<String, StatusCode> {
    if id == 0 {
        return Err(StatusCode::BAD_REQUEST);
    }
    Ok(id.to_string())
}

/// `Result<Json<T>, AppError>` with `?` converting the error.
#[monitored]
async fn app_error(Path(id): Path<u32>) -> Result<Json<Item>, AppError> {
    Ok(Json(find(id).await?))
}

/// No arguments, a plain `&'static str`.
#[monitored]
async fn plain() -> &'static str {
    "plain"
}

fn main() {
    let app: Router = Router::new()
        .route("/items/{id}", post(extractors))
        .route("/greet", get(with_state))
        .route("/any/{id}", get(any_response))
        .route("/status/{id}", get(status_error))
        .route("/found/{id}", get(app_error))
        .route("/", get(plain))
        .with_state(AppState {
            name: "fmd".into(),
        });
    drop(app);
}
