//! Per-hour rollups of the request table, so that charts and the overview over a month of
//! traffic read a few thousand rows instead of a million.
//!
//! One row per endpoint, UTC hour, instance and version: hits, errors (status >= 400), sum, min
//! and max of the durations, and a latency histogram with logarithmic buckets 5 % wide, from
//! which percentiles are read to within 2.5 %. The writer maintains them in the same transaction
//! as the requests it inserts, each instance only its own rows (no two writers update one row).
//! The migration that creates the table fills it from the requests already stored
//! ([`backfill`]). The arithmetic is in [`crate::histogram`]; the reads in [`crate::read`].

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{QueryableByName, RunQueryDsl};

use crate::db::{with_conn, AnyConn, Dialect, Fixed, Value};
use crate::histogram::{encode_codes, hour_of, HourRow, Totals, HOUR};

type Key = (i64, i64, i64, String);

/// The statements [`apply`] runs, rendered once for the sink's connection.
#[derive(Debug)]
pub(crate) struct RollupSql {
    select: Vec<String>,
    update: Vec<String>,
    insert: Vec<String>,
}

struct SelectHour;
struct UpdateHour;
struct InsertHour;

impl RollupSql {
    pub(crate) fn new(d: &Dialect) -> RollupSql {
        RollupSql {
            select: d.pieces(
                "SELECT endpoint_id, hour_start, hits, errors, sum_us, histogram, codes FROM {p}request_hour \
                 WHERE endpoint_id = ? AND hour_start = ? AND instance_id = ? AND version_requested = ?",
            ),
            update: d.pieces(
                "UPDATE {p}request_hour SET hits = ?, errors = ?, sum_us = ?, histogram = ?, codes = ? \
                 WHERE endpoint_id = ? AND hour_start = ? AND instance_id = ? AND version_requested = ?",
            ),
            insert: d.pieces(
                "INSERT INTO {p}request_hour (endpoint_id, hour_start, instance_id, version_requested, hits, errors, sum_us, histogram, codes) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ),
        }
    }
}

/// Adds `batch` (keyed by endpoint, hour, instance, version) to the stored rows: rows in
/// `known` are the stored state and are updated, others are read first (an earlier process of
/// the same instance may have written them), then updated or inserted. Returns the new state of
/// every row it wrote, for the caller to keep once the transaction commits.
pub(crate) fn apply(
    conn: &mut AnyConn,
    sql: &RollupSql,
    batch: HashMap<Key, Totals>,
    known: &HashMap<Key, Totals>,
) -> Result<Vec<(Key, Totals)>, diesel::result::Error> {
    let mut written = Vec::with_capacity(batch.len());
    for (key, add) in batch {
        let (endpoint, hour, instance, version) = &key;
        let stored = match known.get(&key) {
            Some(t) => Some(t.clone()),
            None => {
                let binds = [
                    Value::Int(*endpoint),
                    Value::Int(*hour),
                    Value::Int(*instance),
                    Value::Text(version),
                ];
                let query = Fixed::<SelectHour>::new(&sql.select, &binds);
                let rows: Vec<HourRow> = with_conn!(conn, c => query.load(c))?;
                rows.first().map(HourRow::totals)
            }
        };
        let known_row = stored.is_some();
        let mut total = stored.unwrap_or_default();
        total.merge(&add);
        let mut updated = 0;
        if known_row {
            let histogram = total.histogram.encode();
            let codes = encode_codes(&total.codes);
            let binds = [
                Value::Int(total.hits),
                Value::Int(total.errors),
                Value::Int(total.sum_us),
                Value::Text(&histogram),
                Value::Text(&codes),
                Value::Int(*endpoint),
                Value::Int(*hour),
                Value::Int(*instance),
                Value::Text(version),
            ];
            let query = Fixed::<UpdateHour>::new(&sql.update, &binds);
            updated = with_conn!(conn, c => query.execute(c))?;
        }
        if updated == 0 {
            // New, or pruned since the writer last wrote it: the batch alone.
            if known_row {
                total = add;
            }
            let histogram = total.histogram.encode();
            let codes = encode_codes(&total.codes);
            let binds = [
                Value::Int(*endpoint),
                Value::Int(*hour),
                Value::Int(*instance),
                Value::Text(version),
                Value::Int(total.hits),
                Value::Int(total.errors),
                Value::Int(total.sum_us),
                Value::Text(&histogram),
                Value::Text(&codes),
            ];
            let query = Fixed::<InsertHour>::new(&sql.insert, &binds);
            with_conn!(conn, c => query.execute(c))?;
        }
        written.push((key, total));
    }
    Ok(written)
}

/// The writer's copy of the rows it wrote lately, so that a batch updates them without reading
/// them back.
#[derive(Debug, Default)]
pub(crate) struct HourCache {
    rows: HashMap<Key, Totals>,
}

impl HourCache {
    pub(crate) fn rows(&self) -> &HashMap<Key, Totals> {
        &self.rows
    }

    /// Keeps what a committed transaction wrote, and forgets hours the writer will hardly see
    /// again (older than two hours before the newest).
    pub(crate) fn committed(&mut self, written: Vec<(Key, Totals)>) {
        let newest = written.iter().map(|(k, _)| k.1).max();
        self.rows.extend(written);
        if let Some(newest) = newest {
            self.rows.retain(|k, _| k.1 >= newest - 2 * HOUR);
        }
    }

    /// After a failed transaction: the database may hold less than the copy.
    pub(crate) fn clear(&mut self) {
        self.rows.clear();
    }
}

/// Groups `(endpoint, time, duration, status)` of one instance's and version's requests by
/// hour.
pub(crate) fn group(
    rows: impl Iterator<Item = (i64, i64, u64, i32)>,
    instance: i64,
    version: &str,
) -> HashMap<Key, Totals> {
    // Keyed by endpoint and hour first: the key's version string is made once per group.
    // SipHash was two thirds of grouping a batch; these keys are the writer's own integers.
    let mut by_hour = rustc_hash::FxHashMap::<(i64, i64), Totals>::default();
    for (endpoint, time, duration, status) in rows {
        by_hour
            .entry((endpoint, hour_of(time)))
            .or_default()
            .add(duration, status);
    }
    by_hour
        .into_iter()
        .map(|((endpoint, hour), t)| ((endpoint, hour, instance, version.to_owned()), t))
        .collect()
}

#[derive(QueryableByName)]
struct RawRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    endpoint_id: i64,
    #[diesel(sql_type = BigInt)]
    instance_id: i64,
    #[diesel(sql_type = Text)]
    version_requested: String,
    #[diesel(sql_type = BigInt)]
    time_requested: i64,
    #[diesel(sql_type = BigInt)]
    duration_us: i64,
    #[diesel(sql_type = Integer)]
    status_code: i32,
}

/// Fills the rollups from the stored requests: run by the migration that creates the table,
/// inside its transaction and lock.
pub(crate) fn backfill(conn: &mut AnyConn, d: &Dialect) -> Result<(), diesel::result::Error> {
    const CHUNK: i64 = 50_000;
    let select = d.sql(
        "SELECT id, endpoint_id, COALESCE(instance_id, 0) AS instance_id, version_requested, time_requested, duration_us, status_code \
         FROM {p}request WHERE id > ? ORDER BY id LIMIT ?",
    );
    let mut all: HashMap<Key, Totals> = HashMap::new();
    let mut after = i64::MIN;
    loop {
        let query = diesel::sql_query(&select)
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(CHUNK);
        let rows: Vec<RawRow> = with_conn!(conn, c => query.load(c))?;
        for r in &rows {
            all.entry((
                r.endpoint_id,
                hour_of(r.time_requested),
                r.instance_id,
                r.version_requested.clone(),
            ))
            .or_default()
            .add(r.duration_us.max(0) as u64, r.status_code);
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == CHUNK => after = last.id,
            _ => break,
        }
    }
    apply(conn, &RollupSql::new(d), all, &HashMap::new())?;
    Ok(())
}
