//! Deleting old data: requests with their outliers, profiles and exception occurrences, in
//! batches (one short transaction each, so the writer is never held up for long), then the
//! exception rows nothing refers to any more, and old custom graph values.

use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;

use crate::db::{with_conn, AnyConn, Dialect};
use crate::histogram::hour_ceil;
use crate::rows::Id;
use crate::store::Store;
use crate::write::rollup::MINUTES_KEPT;
use crate::StoreError;

/// Requests deleted per transaction.
const BATCH: i64 = 5_000;

/// The tables that refer to requests, by `request_id`.
const BY_REQUEST: [&str; 5] = [
    "outlier",
    "profile",
    "profile_span",
    "request_event",
    "exception_occurrence",
];

/// Deletes exception rows no occurrence needs any more: snapshots and their lines, frames,
/// messages and types. Function definitions and locations stay: profiles share them.
pub(crate) fn delete_orphans(conn: &mut AnyConn, d: &Dialect) -> Result<(), StoreError> {
    // MySQL cannot delete from a table that a subquery of the same statement reads, so each
    // statement reads other tables only.
    let statements = [
        "DELETE FROM {p}exception_stack_line WHERE stack_trace_snapshot_id NOT IN \
         (SELECT stack_trace_snapshot_id FROM {p}exception_occurrence)",
        "DELETE FROM {p}stack_trace_snapshot WHERE id NOT IN \
         (SELECT stack_trace_snapshot_id FROM {p}exception_occurrence)",
        "DELETE FROM {p}exception_frame WHERE id NOT IN \
         (SELECT exception_frame_id FROM {p}exception_stack_line)",
        "DELETE FROM {p}exception_message WHERE id NOT IN \
         (SELECT exception_message_id FROM {p}exception_occurrence)",
        "DELETE FROM {p}exception_type WHERE id NOT IN \
         (SELECT exception_type_id FROM {p}exception_occurrence)",
    ];
    for sql in statements {
        let query = diesel::sql_query(d.sql(sql));
        with_conn!(conn, c => query.execute(c))?;
    }
    Ok(())
}

impl Store {
    /// Deletes every request that started before `before` (microseconds since the epoch), with
    /// everything recorded about it, and the hourly rollups of those hours (the minute rollups
    /// of those minutes, and any older than two days). `before` is rounded
    /// up to the next full hour, so that the rollups keep describing exactly the requests
    /// stored (and "older than now" deletes everything). Custom graphs' values and alerts
    /// recorded before then go too. Returns how many requests were deleted.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = fmd_store::Store::open(&format!("sqlite://{}", dir.path().join("f.db").display()), "fmd_").unwrap();
    /// assert_eq!(store.prune(fmd_core::now_micros()).unwrap(), 0);
    /// ```
    pub fn prune(&self, before: i64) -> Result<u64, StoreError> {
        let before = hour_ceil(before);
        let mut deleted = 0;
        for endpoint in self.endpoints()? {
            deleted += self.delete_requests(endpoint.id, before)?;
        }
        let mut conn = self.conn()?;
        delete_orphans(&mut conn, &self.dialect)?;
        let graphs =
            diesel::sql_query(self.sql("DELETE FROM {p}custom_graph_data WHERE time_recorded < ?"))
                .bind::<BigInt, _>(before);
        with_conn!(&mut conn, c => graphs.execute(c))?;
        // Deliveries first, while their alerts still say how old they are.
        for sql in [
            "DELETE FROM {p}alert_delivery WHERE alert_id IN \
             (SELECT id FROM {p}alert WHERE created < ?)",
            "DELETE FROM {p}alert WHERE created < ?",
        ] {
            let alerts = diesel::sql_query(self.sql(sql)).bind::<BigInt, _>(before);
            with_conn!(&mut conn, c => alerts.execute(c))?;
        }
        // Minutes are kept for the timelines of the last two days only.
        let minutes_before = before.max(fmd_core::now_micros() - MINUTES_KEPT);
        let minutes =
            diesel::sql_query(self.sql("DELETE FROM {p}request_minute WHERE minute_start < ?"))
                .bind::<BigInt, _>(minutes_before);
        with_conn!(&mut conn, c => minutes.execute(c))?;
        Ok(deleted)
    }

    /// Deletes everything recorded for one endpoint: its requests, their outliers, profiles and
    /// exceptions. The endpoint itself stays (it is still in the code). Returns how many
    /// requests were deleted.
    pub fn delete_endpoint_data(&self, endpoint_id: i64) -> Result<u64, StoreError> {
        let deleted = self.delete_requests(endpoint_id, i64::MAX)?;
        delete_orphans(&mut self.conn()?, &self.dialect)?;
        Ok(deleted)
    }

    /// Deletes an endpoint's requests before `before`, batch by batch.
    fn delete_requests(&self, endpoint_id: i64, before: i64) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let mut conn = self.conn()?;
            let d = &self.dialect;
            let batch = conn.transaction(true, |conn| {
                let select = diesel::sql_query(d.sql(
                    "SELECT id FROM {p}request WHERE endpoint_id = ? AND time_requested < ? LIMIT ?",
                ))
                .bind::<BigInt, _>(endpoint_id)
                .bind::<BigInt, _>(before)
                .bind::<BigInt, _>(BATCH);
                let ids: Vec<Id> = with_conn!(conn, c => select.load(c))?;
                if ids.is_empty() {
                    return Ok::<_, StoreError>(0);
                }
                // Ids read from the database as integers: safe to write into the statement.
                let list = ids
                    .iter()
                    .map(|i| i.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                for table in BY_REQUEST {
                    let delete = diesel::sql_query(d.sql(&format!(
                        "DELETE FROM {{p}}{table} WHERE request_id IN ({list})"
                    )));
                    with_conn!(conn, c => delete.execute(c))?;
                }
                let delete =
                    diesel::sql_query(d.sql(&format!("DELETE FROM {{p}}request WHERE id IN ({list})")));
                with_conn!(conn, c => delete.execute(c))?;
                Ok(ids.len() as u64)
            })?;
            deleted += batch;
            if batch < BATCH as u64 {
                let hours = diesel::sql_query(
                    d.sql("DELETE FROM {p}request_hour WHERE endpoint_id = ? AND hour_start < ?"),
                )
                .bind::<BigInt, _>(endpoint_id)
                .bind::<BigInt, _>(before);
                with_conn!(&mut conn, c => hours.execute(c))?;
                let minutes = diesel::sql_query(d.sql(
                    "DELETE FROM {p}request_minute WHERE endpoint_id = ? AND minute_start < ?",
                ))
                .bind::<BigInt, _>(endpoint_id)
                .bind::<BigInt, _>(before);
                with_conn!(&mut conn, c => minutes.execute(c))?;
                return Ok(deleted);
            }
        }
    }

    /// Deletes an exception group's occurrences, then whatever only it used. Returns false
    /// when there was no such group.
    pub fn delete_exception_group(&self, group_id: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let d = &self.dialect;
        conn.transaction(false, |conn| {
            let delete = diesel::sql_query(
                d.sql("DELETE FROM {p}exception_occurrence WHERE stack_trace_snapshot_id = ?"),
            )
            .bind::<BigInt, _>(group_id);
            let deleted = with_conn!(conn, c => delete.execute(c))?;
            delete_orphans(conn, d)?;
            Ok(deleted > 0)
        })
    }
}
