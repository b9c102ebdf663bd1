//! Exception groups as the dashboard lists them: counts, messages, frames with their source,
//! and activity over time.

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde::Serialize;

use crate::db::with_conn;
use crate::rows::Count;
use crate::store::Store;
use crate::StoreError;

/// One exception group: every occurrence with the same stack trace snapshot.
#[derive(Debug, Clone, Serialize, QueryableByName)]
pub struct ExceptionGroup {
    /// The group's id (its stack trace snapshot's).
    #[diesel(sql_type = BigInt)]
    pub group_id: i64,
    /// The endpoint it happened in.
    #[diesel(sql_type = BigInt)]
    pub endpoint_id: i64,
    /// That endpoint's name.
    #[diesel(sql_type = Text)]
    pub endpoint: String,
    /// The error's type, or `panic`.
    #[diesel(sql_type = Text)]
    pub type_name: String,
    /// Occurrences.
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    /// First occurrence, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub first_seen: i64,
    /// Last occurrence, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub last_seen: i64,
    /// Whether the occurrences were captured with `capture!` (1) or uncaught (0).
    #[diesel(sql_type = Integer)]
    pub user_captured: i32,
    /// The latest occurrence's message.
    #[diesel(sql_type = Text)]
    pub message: String,
    /// The request of the latest occurrence (whose log events the group's page shows).
    #[diesel(sql_type = BigInt)]
    pub last_request_id: i64,
}

/// A distinct message of a group, with how often it occurred.
#[derive(Debug, Clone, Serialize, QueryableByName)]
pub struct GroupMessage {
    /// The group.
    #[diesel(sql_type = BigInt)]
    pub group_id: i64,
    /// The message as recorded.
    #[diesel(sql_type = Text)]
    pub message: String,
    /// Occurrences with it.
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

/// One frame of a group's stack trace, innermost first.
#[derive(Debug, Clone, Serialize, QueryableByName)]
pub struct GroupFrame {
    /// The group.
    #[diesel(sql_type = BigInt)]
    pub group_id: i64,
    /// 0 for the innermost frame.
    #[diesel(sql_type = Integer)]
    pub position: i32,
    /// The function's name.
    #[diesel(sql_type = Text)]
    pub function: String,
    /// The file as the debug info names it.
    #[diesel(sql_type = Text)]
    pub file: String,
    /// The file relative to the application's root; empty for library code.
    #[diesel(sql_type = Text)]
    pub relative_file: String,
    /// The line executing in this frame.
    #[diesel(sql_type = Integer)]
    pub line: i32,
    /// The function's first line (0 when fmd has no source for it).
    #[diesel(sql_type = Integer)]
    pub function_start_line: i32,
    /// The function location's id (`functions/{id}/source`).
    #[diesel(sql_type = BigInt)]
    pub function_id: i64,
}

impl GroupFrame {
    /// Code from std, the runtime or a dependency.
    pub fn library(&self) -> bool {
        self.relative_file.is_empty()
    }
}

/// The SELECT of exception groups; `{filter}` narrows the occurrences.
const GROUPS: &str = "SELECT g.group_id, g.endpoint_id, e.name AS endpoint, t.name AS type_name, g.count, \
       g.first_seen, g.last_seen, g.user_captured, m.message, lo.request_id AS last_request_id \
     FROM (SELECT o.stack_trace_snapshot_id AS group_id, MIN(o.endpoint_id) AS endpoint_id, \
             MIN(o.exception_type_id) AS type_id, COUNT(*) AS count, MIN(o.time_occurred) AS first_seen, \
             MAX(o.time_occurred) AS last_seen, MAX(o.is_user_captured) AS user_captured, \
             MAX(o.id) AS last_id \
           FROM {p}exception_occurrence o {filter} GROUP BY o.stack_trace_snapshot_id) g \
     JOIN {p}endpoint e ON e.id = g.endpoint_id \
     JOIN {p}exception_type t ON t.id = g.type_id \
     JOIN {p}exception_occurrence lo ON lo.id = g.last_id \
     JOIN {p}exception_message m ON m.id = lo.exception_message_id \
     ORDER BY g.last_seen DESC, g.group_id DESC LIMIT ? OFFSET ?";

impl Store {
    /// Exception groups, last seen first; of one endpoint, or of all.
    pub fn exception_groups(
        &self,
        endpoint_id: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ExceptionGroup>, StoreError> {
        let filter = "WHERE (? = 0 OR o.endpoint_id = ?)";
        let id = endpoint_id.unwrap_or(0);
        let query = diesel::sql_query(self.sql(&GROUPS.replace("{filter}", filter)))
            .bind::<BigInt, _>(id)
            .bind::<BigInt, _>(id)
            .bind::<BigInt, _>(limit)
            .bind::<BigInt, _>(offset);
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// How many exception groups there are; of one endpoint, or of all.
    pub fn exception_group_count(&self, endpoint_id: Option<i64>) -> Result<i64, StoreError> {
        let id = endpoint_id.unwrap_or(0);
        let query = diesel::sql_query(self.sql(
            "SELECT COUNT(DISTINCT stack_trace_snapshot_id) AS n FROM {p}exception_occurrence \
             WHERE (? = 0 OR endpoint_id = ?)",
        ))
        .bind::<BigInt, _>(id)
        .bind::<BigInt, _>(id);
        Ok(with_conn!(&mut self.conn()?, c => query.get_result::<Count>(c))?.n)
    }

    /// The distinct messages of `groups`, most frequent first, and their frames, innermost
    /// first.
    pub fn group_details(
        &self,
        groups: &[i64],
    ) -> Result<(Vec<GroupMessage>, Vec<GroupFrame>), StoreError> {
        if groups.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        // Ids read from the database as integers: safe to write into the statement.
        let ids = groups
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let mut conn = self.conn()?;
        let messages = diesel::sql_query(self.sql(&format!(
            "SELECT o.stack_trace_snapshot_id AS group_id, MAX(m.message) AS message, COUNT(*) AS count \
             FROM {{p}}exception_occurrence o JOIN {{p}}exception_message m ON m.id = o.exception_message_id \
             WHERE o.stack_trace_snapshot_id IN ({ids}) \
             GROUP BY o.stack_trace_snapshot_id, o.exception_message_id \
             ORDER BY group_id, count DESC"
        )));
        let messages = with_conn!(&mut conn, c => messages.load::<GroupMessage>(c))?;
        let frames = diesel::sql_query(self.sql(&format!(
            "SELECT sl.stack_trace_snapshot_id AS group_id, sl.position, d.name AS function, \
               l.file_path AS file, l.relative_path AS relative_file, f.line_number AS line, \
               l.function_start_line, l.id AS function_id \
             FROM {{p}}exception_stack_line sl \
             JOIN {{p}}exception_frame f ON f.id = sl.exception_frame_id \
             JOIN {{p}}function_location l ON l.id = f.function_location_id \
             JOIN {{p}}function_definition d ON d.id = l.function_definition_id \
             WHERE sl.stack_trace_snapshot_id IN ({ids}) ORDER BY group_id, sl.position"
        )));
        let frames = with_conn!(&mut conn, c => frames.load::<GroupFrame>(c))?;
        Ok((messages, frames))
    }

    /// Occurrences per day of `groups` over the `days` days before `now` (microseconds): for
    /// each group, `days` counts, oldest first.
    pub fn group_activity(
        &self,
        groups: &[i64],
        now: i64,
        days: i64,
    ) -> Result<Vec<(i64, Vec<i64>)>, StoreError> {
        #[derive(QueryableByName)]
        struct Day {
            #[diesel(sql_type = BigInt)]
            group_id: i64,
            #[diesel(sql_type = BigInt)]
            age: i64,
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        const DAY: i64 = 86_400_000_000;
        let ids = groups
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let query = diesel::sql_query(self.sql(&format!(
            "SELECT stack_trace_snapshot_id AS group_id, (? - time_occurred) {{div}} {DAY} AS age, COUNT(*) AS n \
             FROM {{p}}exception_occurrence \
             WHERE stack_trace_snapshot_id IN ({ids}) AND time_occurred > ? AND time_occurred <= ? \
             GROUP BY 1, 2"
        )))
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(now - days * DAY)
        .bind::<BigInt, _>(now);
        let rows = with_conn!(&mut self.conn()?, c => query.load::<Day>(c))?;
        Ok(groups
            .iter()
            .map(|g| {
                let mut counts = vec![0; days.max(0) as usize];
                for r in rows.iter().filter(|r| r.group_id == *g) {
                    if let Some(slot) = usize::try_from(days - 1 - r.age)
                        .ok()
                        .and_then(|i| counts.get_mut(i))
                    {
                        *slot += r.n;
                    }
                }
                (*g, counts)
            })
            .collect())
    }
}
