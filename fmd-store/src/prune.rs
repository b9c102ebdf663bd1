//! Deleting old data: requests with their outliers, profiles and exception occurrences, in
//! batches (one short transaction each, so the writer is never held up for long), then the
//! exception rows nothing refers to any more, and old custom graph values.

use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;

use crate::db::{with_conn, Store};
use crate::exceptions::delete_orphans;
use crate::queries::Id;
use crate::rollup::hour_ceil;
use crate::StoreError;

/// Requests deleted per transaction.
const BATCH: i64 = 5_000;

/// The tables that refer to requests, by `request_id`.
const BY_REQUEST: [&str; 4] = ["outlier", "profile", "profile_span", "exception_occurrence"];

impl Store {
    /// Deletes every request that started before `before` (microseconds since the epoch), with
    /// everything recorded about it, and the hourly rollups of those hours. `before` is rounded
    /// up to the next full hour, so that the rollups keep describing exactly the requests
    /// stored (and "older than now" deletes everything). Custom graphs' values recorded
    /// before then go too. Returns how many requests were deleted.
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
                return Ok(deleted);
            }
        }
    }
}
