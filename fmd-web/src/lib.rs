//! The web layer of [fmd](https://docs.rs/fmd): request tracking and the dashboard (pages and
//! JSON API) under `/{custom_link}`, for warp ([`Dashboard::bind`]) and for axum or any tower
//! service (`Dashboard::layer`, `Dashboard::router`, `Dashboard::service`, features `tower`
//! and `axum`).
//!
//! Application code uses it through the `fmd` facade crate.
//!
//! The map, bottom up: `track` (request tracking over `http` types, no framework) and
//! `dispatch` (the dashboard's routes over `http` types) are what the adapters share;
//! `warp_adapter` and `tower_adapter` are the adapters; `dashboard` is the `Dashboard`'s life
//! (start-up, writer, graphs, retention, shutdown).

#![cfg_attr(not(any(feature = "warp", feature = "tower")), allow(dead_code))]

mod api;
mod auth;
mod charts;
mod dashboard;
mod dispatch;
mod error;
mod graphs;
mod pages;
mod reports;
mod time;
#[cfg(feature = "tower")]
mod tower_adapter;
mod track;
#[cfg(feature = "warp")]
mod warp_adapter;

pub use dashboard::Dashboard;
pub use error::Error;
#[cfg(feature = "tower")]
pub use tower_adapter::{DashboardService, Track, TrackFuture, TrackLayer};
#[cfg(feature = "warp")]
pub use warp_adapter::AppError;

pub(crate) use dashboard::Inner;
