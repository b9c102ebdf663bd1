//! Per-hour and per-minute rollups of the request table, so that charts and the overview over a
//! month of traffic read a few thousand rows instead of a million.
//!
//! One row per endpoint, UTC hour (or minute), instance and version: hits, errors (status >=
//! 400), sum, min and max of the durations, and a latency histogram with logarithmic buckets 5 %
//! wide, from which percentiles are read to within 2.5 %. The writer maintains them in the same
//! transaction as the requests it inserts, each instance only its own rows (no two writers update
//! one row). Hours are kept as long as the requests; minutes, for the timelines of the last
//! hours, for [`MINUTES_KEPT`] (pruning deletes older ones). The migrations that create the
//! tables fill them from the requests already stored ([`backfill`], [`backfill_minutes`]). The
//! arithmetic is in [`crate::histogram`]; the reads in [`crate::read`].

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{QueryableByName, RunQueryDsl};

use crate::db::{with_conn, AnyConn, Dialect, Fixed, Value};
use crate::histogram::{encode_codes, HourRow, Totals, HOUR, MINUTE};

type Key = (i64, i64, i64, String);

/// How long minute rollups are kept: the timelines read minutes for ranges that start no earlier.
pub const MINUTES_KEPT: i64 = 48 * HOUR;

/// A rollup table: hours or minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grain {
    /// `{p}request_hour`, kept as long as the requests.
    Hour,
    /// `{p}request_minute`, kept for [`MINUTES_KEPT`].
    Minute,
}

impl Grain {
    /// The table, without the prefix.
    pub(crate) fn table(self) -> &'static str {
        match self {
            Grain::Hour => "request_hour",
            Grain::Minute => "request_minute",
        }
    }

    /// The column of a row's start, microseconds since the epoch.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Grain::Hour => "hour_start",
            Grain::Minute => "minute_start",
        }
    }

    /// How long a row covers, in microseconds.
    pub(crate) fn width(self) -> i64 {
        match self {
            Grain::Hour => HOUR,
            Grain::Minute => MINUTE,
        }
    }

    /// The start of the row that holds `t`.
    pub(crate) fn start(self, t: i64) -> i64 {
        t.checked_sub(t.rem_euclid(self.width()))
            .unwrap_or(i64::MIN)
    }
}

/// The statements [`apply`] runs on one rollup table, rendered once for the sink's connection.
#[derive(Debug)]
pub(crate) struct RollupSql {
    grain: Grain,
    select: Vec<String>,
    update: Vec<String>,
    insert: Vec<String>,
}

/// The markers of the cached statements, one set per table: the cache keys them by type.
struct Select<const MINUTES: bool>;
struct Update<const MINUTES: bool>;
struct Insert<const MINUTES: bool>;

impl RollupSql {
    pub(crate) fn new(d: &Dialect, grain: Grain) -> RollupSql {
        let (table, column) = (grain.table(), grain.column());
        RollupSql {
            grain,
            select: d.pieces(&format!(
                "SELECT endpoint_id, {column} AS hour_start, hits, errors, sum_us, histogram, codes FROM {{p}}{table} \
                 WHERE endpoint_id = ? AND {column} = ? AND instance_id = ? AND version_requested = ?",
            )),
            update: d.pieces(&format!(
                "UPDATE {{p}}{table} SET hits = ?, errors = ?, sum_us = ?, histogram = ?, codes = ? \
                 WHERE endpoint_id = ? AND {column} = ? AND instance_id = ? AND version_requested = ?",
            )),
            insert: d.pieces(&format!(
                "INSERT INTO {{p}}{table} (endpoint_id, {column}, instance_id, version_requested, hits, errors, sum_us, histogram, codes) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )),
        }
    }
}

/// Runs a statement of `sql` cached under the marker of its grain.
macro_rules! run_fixed {
    ($grain:expr, $marker:ident, $pieces:expr, $binds:expr, $conn:expr, $how:ident) => {
        match $grain {
            Grain::Hour => {
                let query = Fixed::<$marker<false>>::new($pieces, $binds);
                with_conn!($conn, c => query.$how(c))
            }
            Grain::Minute => {
                let query = Fixed::<$marker<true>>::new($pieces, $binds);
                with_conn!($conn, c => query.$how(c))
            }
        }
    };
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
                let rows: Vec<HourRow> =
                    run_fixed!(sql.grain, Select, &sql.select, &binds, conn, load)?;
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
            updated = run_fixed!(sql.grain, Update, &sql.update, &binds, conn, execute)?;
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
            run_fixed!(sql.grain, Insert, &sql.insert, &binds, conn, execute)?;
        }
        written.push((key, total));
    }
    Ok(written)
}

/// The writer's copy of the rows of one table it wrote lately, so that a batch updates them
/// without reading them back.
#[derive(Debug)]
pub(crate) struct RollupCache {
    grain: Grain,
    rows: HashMap<Key, Totals>,
}

impl RollupCache {
    pub(crate) fn new(grain: Grain) -> RollupCache {
        RollupCache {
            grain,
            rows: HashMap::new(),
        }
    }

    pub(crate) fn rows(&self) -> &HashMap<Key, Totals> {
        &self.rows
    }

    /// Keeps what a committed transaction wrote, and forgets rows the writer will hardly see
    /// again (older than two rows before the newest).
    pub(crate) fn committed(&mut self, written: Vec<(Key, Totals)>) {
        let newest = written.iter().map(|(k, _)| k.1).max();
        self.rows.extend(written);
        if let Some(newest) = newest {
            let oldest = newest - 2 * self.grain.width();
            self.rows.retain(|k, _| k.1 >= oldest);
        }
    }

    /// After a failed transaction: the database may hold less than the copy.
    pub(crate) fn clear(&mut self) {
        self.rows.clear();
    }
}

/// A batch's rollup rows: by minute, and the same by hour.
pub(crate) struct Grouped {
    pub(crate) minutes: HashMap<Key, Totals>,
    pub(crate) hours: HashMap<Key, Totals>,
}

/// Groups `(endpoint, time, duration, status)` of one instance's and version's requests by
/// minute and by hour.
pub(crate) fn group(
    rows: impl Iterator<Item = (i64, i64, u64, i32)>,
    instance: i64,
    version: &str,
) -> Grouped {
    // Keyed by endpoint and minute first: the key's version string is made once per group.
    // SipHash was two thirds of grouping a batch; these keys are the writer's own integers.
    // Each request is added once, to its minute; hours merge their minutes.
    let mut by_minute = rustc_hash::FxHashMap::<(i64, i64), Totals>::default();
    for (endpoint, time, duration, status) in rows {
        by_minute
            .entry((endpoint, Grain::Minute.start(time)))
            .or_default()
            .add(duration, status);
    }
    let key = |endpoint, start| (endpoint, start, instance, version.to_owned());
    let mut hours = HashMap::<Key, Totals>::new();
    for ((endpoint, minute), t) in &by_minute {
        hours
            .entry(key(*endpoint, Grain::Hour.start(*minute)))
            .or_default()
            .merge(t);
    }
    let minutes = by_minute
        .into_iter()
        .map(|((endpoint, minute), t)| (key(endpoint, minute), t))
        .collect();
    Grouped { minutes, hours }
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

/// Fills the hourly rollups from the stored requests: run by the migration that creates the
/// table, inside its transaction and lock.
pub(crate) fn backfill(conn: &mut AnyConn, d: &Dialect) -> Result<(), diesel::result::Error> {
    fill(conn, d, Grain::Hour, i64::MIN)
}

/// Fills the minute rollups from the requests of the last [`MINUTES_KEPT`].
pub(crate) fn backfill_minutes(
    conn: &mut AnyConn,
    d: &Dialect,
) -> Result<(), diesel::result::Error> {
    let since = Grain::Hour.start(fmd_core::now_micros() - MINUTES_KEPT);
    fill(conn, d, Grain::Minute, since)
}

/// Fills one rollup table from the requests since `since`.
fn fill(
    conn: &mut AnyConn,
    d: &Dialect,
    grain: Grain,
    since: i64,
) -> Result<(), diesel::result::Error> {
    const CHUNK: i64 = 50_000;
    let select = d.sql(
        "SELECT id, endpoint_id, COALESCE(instance_id, 0) AS instance_id, version_requested, time_requested, duration_us, status_code \
         FROM {p}request WHERE id > ? AND time_requested >= ? ORDER BY id LIMIT ?",
    );
    let mut all: HashMap<Key, Totals> = HashMap::new();
    let mut after = i64::MIN;
    loop {
        let query = diesel::sql_query(&select)
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(since)
            .bind::<BigInt, _>(CHUNK);
        let rows: Vec<RawRow> = with_conn!(conn, c => query.load(c))?;
        for r in &rows {
            all.entry((
                r.endpoint_id,
                grain.start(r.time_requested),
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
    apply(conn, &RollupSql::new(d, grain), all, &HashMap::new())?;
    Ok(())
}
