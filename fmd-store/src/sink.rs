use std::collections::HashMap;
use std::time::Duration;

use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};

use fmd_core::{Endpoint, RequestRecord, Sink, SinkError};

use crate::db::{Conn, Store};
use crate::queries::ensure_endpoint;
use crate::StoreError;

/// Rows per INSERT statement, largest first: a batch is written in chunks of these sizes only,
/// so three statements cover every batch and stay in the prepared-statement cache (a statement
/// per batch size would be prepared anew for most batches). 100 rows of 7 parameters is well
/// under every backend's limit on bound parameters.
const CHUNK_SIZES: [usize; 3] = [100, 10, 1];

/// Splits `rows` into chunks of the sizes in [`CHUNK_SIZES`], largest first.
fn chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = CHUNK_SIZES.into_iter().find(|s| *s <= rows.len())?;
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

/// The writer's [`Sink`] on a connection of its own.
pub struct SqlSink {
    conn: Conn,
    prefix: String,
    version: String,
    default_level: u8,
    ids: HashMap<usize, i64>,
}

impl std::fmt::Debug for SqlSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSink")
            .field("prefix", &self.prefix)
            .finish()
    }
}

fn key(endpoint: &'static Endpoint) -> usize {
    endpoint as *const Endpoint as usize
}

/// One request row, borrowing what it can from the record.
struct Row<'a> {
    endpoint_id: i64,
    duration_us: i64,
    time_requested: i64,
    group_by: Option<&'a str>,
    ip: Option<String>,
    status_code: i32,
}

/// A multi-row INSERT of `N` rows into the request table; `push_bind_param` writes each
/// backend's placeholders.
///
/// `sql_query` statements are never cached by diesel, and a statement cached by its SQL text
/// has that text rebuilt on every execution to look it up. This one has a static query id, so
/// diesel caches it by type: its SQL depends only on `N` and the table prefix, and the prefix is
/// fixed for the connection the sink owns.
struct InsertRequests<'a, const N: usize> {
    prefix: &'a str,
    version: &'a str,
    rows: &'a [Row<'a>],
}

/// The static query id of [`InsertRequests`].
struct InsertRequestsId<const N: usize>;

impl<const N: usize> QueryId for InsertRequests<'_, N> {
    type QueryId = InsertRequestsId<N>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const N: usize> QueryFragment<Sqlite> for InsertRequests<'_, N> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        debug_assert_eq!(
            self.rows.len(),
            N,
            "the cached SQL has room for exactly N rows"
        );
        out.push_sql("INSERT INTO ");
        out.push_sql(self.prefix);
        out.push_sql(
            "request (endpoint_id, duration_us, time_requested, version_requested, group_by, ip, status_code) VALUES ",
        );
        for (i, row) in self.rows.iter().enumerate() {
            out.push_sql(if i == 0 { "(" } else { ", (" });
            out.push_bind_param::<BigInt, _>(&row.endpoint_id)?;
            out.push_sql(", ");
            out.push_bind_param::<BigInt, _>(&row.duration_us)?;
            out.push_sql(", ");
            out.push_bind_param::<BigInt, _>(&row.time_requested)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(&self.version)?;
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(&row.group_by)?;
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(&row.ip)?;
            out.push_sql(", ");
            out.push_bind_param::<Integer, _>(&row.status_code)?;
            out.push_sql(")");
        }
        Ok(())
    }
}

impl<const N: usize> RunQueryDsl<Conn> for InsertRequests<'_, N> {}

impl Store {
    /// A sink for the writer, recording requests under `version`. `known` maps endpoints to their
    /// ids (from [`Store::sync_endpoints`]); others are stored on first use at `default_level`.
    /// `busy` bounds how long a write waits for a lock before it counts as failed.
    pub fn sink(
        &self,
        version: &str,
        known: &[(&'static Endpoint, i64, u8)],
        default_level: u8,
        busy: Duration,
    ) -> Result<SqlSink, StoreError> {
        Ok(SqlSink {
            conn: self.dedicated(busy)?,
            prefix: self.prefix.clone(),
            version: version.to_owned(),
            default_level,
            ids: known.iter().map(|(e, id, _)| (key(e), *id)).collect(),
        })
    }
}

impl SqlSink {
    fn id(&mut self, endpoint: &'static Endpoint) -> Result<i64, diesel::result::Error> {
        if let Some(id) = self.ids.get(&key(endpoint)) {
            return Ok(*id);
        }
        let (id, _) = ensure_endpoint(
            &mut self.conn,
            &self.prefix,
            endpoint,
            self.default_level,
            &self.version,
        )?;
        self.ids.insert(key(endpoint), id);
        Ok(id)
    }

    fn write_all(
        &mut self,
        records: &[RequestRecord],
        last_requested: &[(&'static Endpoint, i64)],
    ) -> Result<(), diesel::result::Error> {
        let mut rows = Vec::with_capacity(records.len());
        for r in records {
            rows.push(Row {
                endpoint_id: self.id(r.endpoint)?,
                duration_us: r.duration_us.min(i64::MAX as u64) as i64,
                time_requested: r.time_requested,
                group_by: r.group_by.as_deref().map(|g| truncate(g, 255)),
                ip: r.ip.map(|ip| ip.to_string()),
                status_code: i32::from(r.status_code),
            });
        }
        let mut touched = Vec::with_capacity(last_requested.len());
        for (e, secs) in last_requested {
            touched.push((self.id(e)?, secs * 1_000_000));
        }
        let (prefix, version) = (&self.prefix, &self.version);
        // IMMEDIATE takes the write lock up front: an empty write is then a real probe of
        // whether the database can be written, and a busy database fails here rather than
        // half-way through the batch.
        self.conn.immediate_transaction(|c| {
            for rows in chunks(&rows) {
                match rows.len() {
                    100 => InsertRequests::<100> { prefix, version, rows }.execute(c)?,
                    10 => InsertRequests::<10> { prefix, version, rows }.execute(c)?,
                    _ => InsertRequests::<1> { prefix, version, rows }.execute(c)?,
                };
            }
            for (id, micros) in &touched {
                diesel::sql_query(format!(
                    "UPDATE {prefix}endpoint SET last_requested = ? WHERE id = ? AND (last_requested IS NULL OR last_requested < ?)"
                ))
                .bind::<BigInt, _>(*micros)
                .bind::<BigInt, _>(*id)
                .bind::<BigInt, _>(*micros)
                .execute(c)?;
            }
            Ok(())
        })
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Sink for SqlSink {
    fn write(
        &mut self,
        records: &[RequestRecord],
        last_requested: &[(&'static Endpoint, i64)],
    ) -> Result<(), SinkError> {
        self.write_all(records, last_requested)
            .map_err(|e| SinkError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_into_three_sizes() {
        let rows: Vec<u32> = (0..234).collect();
        let sizes: Vec<usize> = chunks(&rows).map(|c| c.len()).collect();
        assert_eq!(sizes, [100, 100, 10, 10, 10, 1, 1, 1, 1]);
        let flat: Vec<u32> = chunks(&rows).flatten().copied().collect();
        assert_eq!(flat, rows);
        assert_eq!(chunks::<u32>(&[]).count(), 0);
    }
}
