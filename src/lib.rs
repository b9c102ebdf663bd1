//! # fmd — a monitoring dashboard for Rust web services
//!
//! Annotate the handler functions of a warp, axum or other tower service with
//! `#[fmd::monitored]`, serve the app through `Dashboard::bind` (warp) or add
//! `Dashboard::layer` (axum, tower), and a self-hosted dashboard under `/dashboard` shows how
//! fast and how often every endpoint runs, by version, user and IP.
//!
//! ## Frameworks
//!
//! | feature | gives |
//! | --- | --- |
//! | `warp` (default) | `Dashboard::bind`, `Dashboard::routes` |
//! | `axum` | `Dashboard::router`, and what `tower` gives |
//! | `tower` | `Dashboard::layer`, `Dashboard::service` for hyper, tonic and other tower services |
//! | `tracing` | `tracing_layer()`: `tracing` spans as profiler spans, warnings and errors with their request |
//! | `postgres`, `mysql` | those databases beside the embedded SQLite |
//!
//! With axum:
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # mod example {
//! use std::net::SocketAddr;
//! use axum::{extract::Path, http::StatusCode, routing::get, Router};
//!
//! #[fmd::monitored(name = "users.show")]
//! async fn show(Path(id): Path<u32>) -> Result<String, StatusCode> {
//!     fmd::set_group_by(("User", id));
//!     if id == 0 { return Err(StatusCode::NOT_FOUND); }
//!     Ok(format!("user {id}"))
//! }
//!
//! async fn main() -> Result<(), fmd::Error> {
//!     let dashboard = fmd::Dashboard::new(fmd::Config::from_env()?).await?;
//!     let app = Router::new()
//!         .route("/users/{id}", get(show))
//!         .merge(dashboard.router())
//!         .layer(dashboard.layer());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//!     Ok(())
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! With warp:
//!
//! ```no_run
//! use fmd::monitored;
//! use warp::Filter;
//!
//! #[monitored]                                 // endpoint name = function name
//! async fn hello() -> Result<impl warp::Reply, warp::Rejection> {
//!     Ok("hello")
//! }
//!
//! #[monitored(name = "users.show")]            // explicit endpoint name
//! async fn show(id: u32) -> Result<impl warp::Reply, warp::Rejection> {
//!     fmd::set_group_by(("User", id));          // group this request by user
//!     Ok(format!("user {id}"))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), fmd::Error> {
//!     let config = fmd::Config::from_env()?;    // FMD_CONFIG=fmd.toml, FMD_* overrides
//!     let dashboard = fmd::Dashboard::new(config).await?;
//!     let app = warp::path::end()
//!         .and_then(hello)
//!         .or(warp::path!("users" / u32).and_then(show));
//!     warp::serve(dashboard.bind(app)).run(([127, 0, 0, 1], 8080)).await;
//!     Ok(())
//! }
//! ```
//!
//! ## Monitoring levels
//!
//! Every endpoint has a level, set per endpoint on the overview page (new endpoints start at the
//! configuration's `monitor_level`, default 1):
//!
//! | level | recorded |
//! | --- | --- |
//! | 0 | only when the endpoint was last requested |
//! | 1 | every request: duration, time, version, group-by value, client IP, status code |
//! | 2 | + outliers: where a slow request was stuck, CPU and memory, URL and scrubbed headers |
//! | 3 | + the span profiler: each request's tree of profiled calls |
//!
//! At level 0 a call costs one atomic load and one atomic store; at level 1 two clock reads and
//! a non-blocking send of a small record to the background writer. The request path never waits
//! on the database.
//!
//! ## Profiling
//!
//! `#[profiled]` makes a function a span of the profile of the request it runs in, at levels 2
//! and 3; [`span!`] does the same for a block. Outside those levels a profiled call costs one
//! thread-local check.
//!
//! ```
//! #[fmd::profiled]
//! async fn load(id: u32) -> String {
//!     format!("user-{id}")
//! }
//!
//! #[fmd::profiled]
//! fn render(name: &str) -> String {
//!     format!("<h1>{name}</h1>")
//! }
//!
//! #[fmd::monitored]
//! async fn show(id: u32) -> Result<String, std::convert::Infallible> {
//!     let name = load(id).await;
//!     let page = fmd::span!("layout", { render(&name) });
//!     Ok(page)
//! }
//! # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # assert_eq!(runtime.block_on(show(7)).unwrap(), "<h1>user-7</h1>");
//! ```
//!
//! ## Configuration
//!
//! [`Config::from_file`] reads a TOML file with the sections `[dashboard]`, `[authentication]`,
//! `[database]` and `[visualization]`; [`Config::from_env`] reads the file named by `FMD_CONFIG`
//! and applies `FMD_<KEY>` overrides. See `docs/configuration.md` for every key.

pub use fmd_core::context::set_group_by;
#[cfg(feature = "tracing")]
pub use fmd_core::tracing_layer::FmdLayer;
pub use fmd_core::{
    Config, ConfigError, GraphValue, GroupBy, RequestInfo, Schedule, ScheduleError,
};
pub use fmd_macros::{monitored, profiled, span};
#[cfg(feature = "warp")]
pub use fmd_web::AppError;
pub use fmd_web::{BodyError, Dashboard, DashboardBody, Error};
#[cfg(feature = "tower")]
pub use fmd_web::{DashboardService, Track, TrackFuture, TrackLayer};

/// The `tracing_subscriber` layer that makes `tracing` spans profiler spans (feature
/// `tracing`): a span entered inside a monitored request at level 2 or 3
/// (`#[tracing::instrument]`, `info_span!(..).in_scope(..)`, `.instrument(span)`) is recorded
/// as a `#[profiled]` call is, and `warn!` and `error!` events inside a request are kept with
/// it when it is an outlier or raises an exception (the last 20, with their fields). Below
/// level 2 entering a span costs one thread-local read.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::util::SubscriberInitExt;
///
/// tracing_subscriber::registry()
///     .with(fmd::tracing_layer())
///     .init();
/// ```
#[cfg(feature = "tracing")]
pub fn tracing_layer() -> FmdLayer {
    FmdLayer::new()
}

/// Records a handled error with the request being served: its type, message, `source()` chain,
/// where it was captured and the stack, grouped with others like it on the dashboard's
/// Exceptions pages. Accepts any `std::error::Error` value or reference, `&dyn Error`, and
/// `anyhow::Error` or `Box<dyn Error>`. Evaluates to whether a request took it: outside a
/// request served through `Dashboard::bind` nothing is recorded.
///
/// ```
/// fn load(path: &str) -> Option<String> {
///     match std::fs::read_to_string(path) {
///         Ok(text) => Some(text),
///         Err(e) => {
///             fmd::capture!(e);
///             None
///         }
///     }
/// }
/// assert_eq!(load("/no/such/file"), None);
/// let boxed: Box<dyn std::error::Error + Send + Sync> = "not a number".parse::<u8>().unwrap_err().into();
/// fmd::capture!(boxed);
/// fmd::capture!(&*boxed);
/// ```
#[macro_export]
macro_rules! capture {
    ($err:expr $(,)?) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ViaDeref as _, ViaError as _};
        $crate::__private::capture(
            (&&$err).as_captured_error(),
            ::core::file!(),
            ::core::line!(),
        )
    }};
}

#[doc(hidden)]
pub mod __private {
    //! What the macros expand to. Not a stable API.
    pub use fmd_core::capture::capture;
    pub use fmd_core::exception::{ViaDeref, ViaError};
    pub use fmd_core::inventory;
    pub use fmd_core::monitor::{Monitored, SyncGuard};
    pub use fmd_core::profile::{Profiled, SpanGuard};
    pub use fmd_core::trail::{
        endpoint_returned, function_returned, Ret, Returned, ReturnedDeref, ReturnedError,
        ReturnedOther, ReturnedValue,
    };
    pub use fmd_core::{Endpoint, EndpointMeta, EndpointRef, Function, FunctionRef};
}
