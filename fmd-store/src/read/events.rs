//! The log events kept with outliers and exceptions, as their pages show them.

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde::Serialize;

use crate::db::with_conn;
use crate::store::Store;
use crate::StoreError;

#[derive(QueryableByName)]
struct EventSql {
    #[diesel(sql_type = BigInt)]
    request_id: i64,
    #[diesel(sql_type = BigInt)]
    time_logged: i64,
    #[diesel(sql_type = Text)]
    level: String,
    #[diesel(sql_type = Text)]
    target: String,
    #[diesel(sql_type = Text)]
    message: String,
    #[diesel(sql_type = Text)]
    fields: String,
}

/// A log event a request raised (`tracing`'s `warn!` or `error!`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    /// The request that raised it.
    pub request_id: i64,
    /// When, microseconds since the epoch.
    pub time: i64,
    /// `WARN` or `ERROR`.
    pub level: String,
    /// Its target (by default the module that logged it).
    pub target: String,
    /// Its message.
    pub message: String,
    /// Its other fields, sensitive values scrubbed.
    pub fields: Vec<(String, String)>,
}

impl Store {
    /// The events of `requests`, by request and then in the order they were logged.
    pub fn events_of(&self, requests: &[i64]) -> Result<Vec<EventRow>, StoreError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        // Ids read from the database as integers: safe to write into the statement.
        let ids = requests
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let query = diesel::sql_query(self.sql(&format!(
            "SELECT request_id, time_logged, level, target, message, fields \
             FROM {{p}}request_event WHERE request_id IN ({ids}) ORDER BY request_id, position"
        )));
        let rows = with_conn!(&mut self.conn()?, c => query.load::<EventSql>(c))?;
        Ok(rows
            .into_iter()
            .map(|e| EventRow {
                request_id: e.request_id,
                time: e.time_logged,
                level: e.level,
                target: e.target,
                message: e.message,
                fields: serde_json::from_str(&e.fields).unwrap_or_default(),
            })
            .collect())
    }
}
