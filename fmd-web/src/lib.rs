//! The web layer of [fmd](https://docs.rs/fmd): request tracking and the dashboard (pages and
//! JSON API) under `/{custom_link}`, for warp ([`Dashboard::bind`]) and for axum or any tower
//! service (`Dashboard::layer`, `Dashboard::router`, `Dashboard::service`, features `tower`
//! and `axum`).
//!
//! Application code uses it through the `fmd` facade crate.
//!
//! The map, bottom up (a module uses only those above it):
//!
//! - `time`, `auth`, `track` (request tracking over `http` types, no framework), `templates`,
//!   `assets`, `charts` and `reports` (the charts' and reports' computations), `error`,
//!   `alerts` (rules and delivery, over the store);
//! - `dashboard`: the `Dashboard`'s life (start-up, writer, custom graphs, retention, shutdown);
//! - `web`: a dashboard request and the responses, over `http` types;
//! - `views`: what the API and the pages both show;
//! - `api` and `pages`, each by area (endpoints, charts, reports, exceptions, profiles,
//!   settings, alerts), `exposition` (Prometheus), and `openapi` (the API's OpenAPI document,
//!   one description per API route);
//! - `routes`: the route table and the dispatcher;
//! - `warp_adapter` and `tower_adapter`: the frameworks.

#![cfg_attr(not(any(feature = "warp", feature = "tower")), allow(dead_code))]

mod alerts;
mod api;
mod assets;
mod auth;
mod body;
mod charts;
mod dashboard;
mod error;
mod exposition;
mod openapi;
mod pages;
mod reports;
mod routes;
mod templates;
mod throttle;
mod time;
#[cfg(feature = "tower")]
mod tower_adapter;
mod track;
mod views;
#[cfg(feature = "warp")]
mod warp_adapter;
mod web;

pub use body::{BodyError, DashboardBody};
pub use dashboard::Dashboard;
pub use error::Error;
#[cfg(feature = "tower")]
pub use tower_adapter::{DashboardService, Track, TrackFuture, TrackLayer};
#[cfg(feature = "warp")]
pub use warp_adapter::AppError;
