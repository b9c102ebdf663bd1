//! The write side: what the writer's [`SqlSink`] stores for each batch of requests (the
//! requests, their rollups, profiles, outliers and exceptions), and the rows an instance makes
//! sure of first (endpoints, functions, its instance row and heartbeat).

pub(crate) mod ensure;
pub(crate) mod exceptions;
pub(crate) mod profiles;
pub(crate) mod requests;
pub(crate) mod rollup;
pub(crate) mod sink;

pub use sink::SqlSink;
