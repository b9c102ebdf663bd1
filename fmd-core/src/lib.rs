//! The runtime of [fmd](https://docs.rs/fmd): everything that happens inside the monitored
//! process and knows neither a database nor a web framework.
//!
//! - [`registry`]: the endpoints that `#[fmd::monitored]` registers at compile time, with their
//!   per-endpoint monitoring level (one atomic load on the request path).
//! - [`config`]: the configuration file, `FMD_*` environment overrides and defaults.
//! - [`graph`]: custom graphs' schedules and values.
//! - [`group_by`]: the value a request is grouped by, rendered as the original dashboard does.
//! - [`context`]: the per-request context that joins the web layer's half of a request (address,
//!   status code) with the handler's half (endpoint, duration).
//! - [`record`]: the finished request record, the bounded queue it travels on, and the [`Sink`]
//!   trait that storage implements.
//! - [`monitor`]: what the `#[monitored]` expansion calls.
//! - [`trail`]: errors returned through annotated functions, recorded when they end in a 5xx.
//! - [`hash`]: a cheap hasher for maps keyed by integers fmd makes itself.
//! - [`stats`]: quantiles, box-plot summaries and the reports' significance tests.
//! - [`version`]: the application version, from the configuration or a git checkout.
//!
//! Application code uses the `fmd` facade crate; this crate is its foundation.

pub mod config;
pub mod context;
pub mod exception;
pub mod graph;
pub mod group_by;
pub mod monitor;
pub mod outlier;
pub mod profile;
pub mod record;
pub mod registry;
pub mod stats;
pub mod trail;
pub mod version;

mod clock;
mod log_once;

pub use clock::{now_micros, Clock};
pub use config::{Config, ConfigError, GroupByFn, RequestInfo};
pub use graph::{GraphValue, Schedule, ScheduleError};
pub use group_by::GroupBy;
pub use log_once::warn;
pub use record::{Recorder, RequestRecord, Sink, SinkError, WriterMsg, WriterStats};
pub use registry::{Endpoint, EndpointMeta, EndpointRef, Function, FunctionRef};

#[doc(hidden)]
pub use inventory;
