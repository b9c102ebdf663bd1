//! Storage of [fmd](https://docs.rs/fmd): the schema and its migrations, the background writer
//! that drains the record queue in batches, and every query the dashboard needs.
//!
//! Every table carries the configured `table_prefix`. Diesel's `table!` and
//! `embed_migrations!` fix table names at compile time, so the SQL here is written once with a
//! `{p}` placeholder, run through `diesel::sql_query` with bound parameters, and the migrations
//! are embedded and applied by [`migrations`].
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let url = format!("sqlite://{}", dir.path().join("fmd.db").display());
//! let store = fmd_store::Store::open(&url, "fmd_").unwrap();
//! assert!(store.overview(0, 0, None).unwrap().is_empty());
//! ```

mod admin;
mod charts;
mod db;
mod error;
mod exceptions;
mod graphs;
pub mod migrations;
mod profiles;
mod prune;
mod queries;
mod rollup;
mod sessions;
mod sink;
pub mod writer;

pub use charts::{HourCount, Sample};
pub use db::{Backend, Store};
pub use error::StoreError;
pub use exceptions::{ExceptionGroup, GroupFrame, GroupMessage};
pub use graphs::GraphRow;
pub use profiles::{FunctionSource, OutlierRow, ProfileRow, SpanRow, Stack, StackFrame};
pub use queries::{EndpointRow, InstanceRow, OverviewRow, RequestRow, UserRow};
pub use rollup::{hour_of, Histogram, HOUR};
pub use sessions::SessionRow;
pub use sink::SqlSink;
