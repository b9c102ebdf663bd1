//! Row types both sides of the store use.

use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use serde::Serialize;

#[derive(QueryableByName)]
pub(crate) struct Id {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
}

#[derive(QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
}

/// Where an outlier was when the watchdog caught it.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Stack {
    /// How long the request had run then; `None` when it ended before the watchdog looked.
    pub after_ms: Option<f64>,
    /// The spans open then, outermost first.
    pub frames: Vec<StackFrame>,
}

/// One open span of a stuck snapshot.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct StackFrame {
    /// The function location's id (`functions/{id}/source`).
    pub function_id: i64,
    /// The function's name.
    pub function: String,
    /// Depth in the span tree, 0 at the top level.
    pub depth: u32,
    /// How long it had been running, in ms.
    pub running_ms: f64,
}

/// `s` cut to at most `max` bytes, at a character boundary: what fits a `VARCHAR(max)` column.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
