//! The runtime of [fmd](https://docs.rs/fmd): everything that happens inside the monitored
//! process and knows neither a database nor a web framework.
//!
//! Modules from the bottom up; each uses only those above it in this list:
//!
//! - [`stats`], [`graph`], [`group_by`]: quantiles and significance tests, custom graphs'
//!   schedules, the value a request is grouped by. They know nothing of requests.
//! - [`registry`]: the endpoints and profiled functions that the macros register at compile
//!   time, with each endpoint's monitoring level (one atomic load on the request path).
//! - [`exception`]: an error or panic as recorded: type, message, chain, stack.
//! - [`trail`]: errors returned through annotated functions, recorded when they end in a 5xx.
//! - [`outlier`]: the outlier rule, and what is kept of an outlier (figures, scrubbed head).
//! - [`events`]: log events kept with an outlier or an exception.
//! - [`config`], [`version`]: the configuration file with its `FMD_*` overrides and defaults
//!   (some of them the outlier rule's), and the application version it names.
//! - [`profile`]: a request's span tree at levels 2 and 3.
//! - [`watchdog`]: the thread that notices requests running past their outlier threshold.
//! - [`record`]: the finished request record, and the one rule that makes it from a run.
//! - [`queue`]: the bounded queue to the writer, and its counters.
//! - [`sink`]: the [`Sink`] trait that storage implements.
//! - [`writer`]: the writer thread: batches, backlog, retries with backoff, drop counts.
//! - [`context`]: the per-request state that joins the web layer's half of a request
//!   (address, status code) with the handler's half (endpoint, duration, errors).
//! - [`capture`]: `fmd::capture!`, the panic hook and log events, which hand errors to that
//!   state.
//! - [`monitor`]: what the `#[monitored]` expansion calls.
//! - `tracing_layer` (feature `tracing`): the `tracing_subscriber` layer that makes spans profiler
//!   spans and keeps warnings and errors with their request.
//!
//! Application code uses the `fmd` facade crate; this crate is its foundation.

pub mod capture;
pub mod config;
pub mod context;
pub mod events;
pub mod exception;
pub mod graph;
pub mod group_by;
pub mod metrics;
pub mod monitor;
pub mod outlier;
pub mod profile;
pub mod queue;
pub mod record;
pub mod registry;
pub mod sink;
pub mod stats;
#[cfg(feature = "tracing")]
pub mod tracing_layer;
pub mod trail;
pub mod version;
pub mod watchdog;
pub mod writer;

mod clock;
mod log_once;

pub use clock::{now_micros, Clock};
pub use config::{Config, ConfigError, GroupByFn, RequestInfo};
pub use graph::{GraphValue, Schedule, ScheduleError};
pub use group_by::GroupBy;
pub use log_once::warn;
pub use queue::{Recorder, WriterMsg, WriterStats};
pub use record::RequestRecord;
pub use registry::{Endpoint, EndpointMeta, EndpointRef, Function, FunctionRef};
pub use sink::{Sink, SinkError};

#[doc(hidden)]
pub use inventory;
