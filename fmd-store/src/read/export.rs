//! Reads for downloads: an endpoint's requests and outliers over a range, a page at a time in
//! id order (each page starts after the last id of the one before, so every page is read off
//! the index however far the download has got), so that a download of a million rows holds
//! one page in memory.

use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;

use crate::db::with_conn;
use crate::read::overview::RequestRow;
use crate::read::profiles::{OutlierRow, OutlierSql, OUTLIER_SELECT};
use crate::read::{bind_filter, Filter, REQUEST_SELECT};
use crate::store::Store;
use crate::StoreError;

impl Store {
    /// The requests the filter covers with ids above `after`, in id order, at most `limit`.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = fmd_store::Store::open(&format!("sqlite://{}", dir.path().join("f.db").display()), "fmd_").unwrap();
    /// assert!(store.requests_after(&fmd_store::Filter::endpoint(1), 0, 1000).unwrap().is_empty());
    /// ```
    pub fn requests_after(
        &self,
        filter: &Filter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let query = bind_filter!(
            diesel::sql_query(self.sql(&format!(
                "{REQUEST_SELECT} WHERE {} AND r.id > ? ORDER BY r.id LIMIT ?",
                filter.condition("r.", "time_requested")
            ))),
            filter
        )
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(limit);
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// The outliers of the requests the filter covers (its endpoint, its time range; all
    /// instances) whose request ids are above `after`, in that order, at most `limit`.
    pub fn outliers_after(
        &self,
        filter: &Filter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<OutlierRow>, StoreError> {
        let query = bind_filter!(
            diesel::sql_query(self.sql(&format!(
                "{OUTLIER_SELECT} WHERE {} AND o.request_id > ? ORDER BY o.request_id LIMIT ?",
                filter.condition("r.", "time_requested")
            ))),
            filter
        )
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(limit);
        let rows = with_conn!(&mut self.conn()?, c => query.load::<OutlierSql>(c))?;
        Ok(rows.into_iter().map(OutlierSql::into_row).collect())
    }
}
