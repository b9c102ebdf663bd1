//! Storage of [fmd](https://docs.rs/fmd): the schema and its migrations, the [`SqlSink`] that
//! fmd-core's writer stores request records through, and every query the dashboard needs.
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

mod db;
mod error;
mod histogram;
mod manage;
pub mod migrations;
mod read;
mod rows;
mod store;
mod write;

pub use db::Backend;
pub use error::StoreError;
pub use histogram::{hour_of, Histogram, HOUR, MINUTE};
pub use manage::alerts::{AlertRow, AlertRuleRow, DeliveryRow, NewGroup};
pub use manage::sessions::SessionRow;
pub use manage::users::UserRow;
pub use read::charts::{HourCount, Sample};
pub use read::events::EventRow;
pub use read::exceptions::{ExceptionGroup, GroupFrame, GroupMessage};
pub use read::graphs::GraphRow;
pub use read::overview::{EndpointRow, InstanceRow, OverviewRow, RequestRow, RequestView};
pub use read::profiles::{FunctionSource, OutlierRow, ProfileRow, SpanRow};
pub use read::timeline::{TimelineBucket, WindowStats, MAX_BUCKETS};
pub use read::Filter;
pub use rows::{Stack, StackFrame};
pub use store::Store;
pub use write::rollup::MINUTES_KEPT;
pub use write::SqlSink;
