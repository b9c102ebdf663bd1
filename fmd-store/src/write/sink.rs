use std::collections::HashMap;
use std::time::Duration;

use diesel::RunQueryDsl;

use fmd_core::{Endpoint, RequestRecord, Sink, SinkError};
use rustc_hash::FxHashMap;

use crate::db::{with_conn, AnyConn, Dialect, Fixed, Pools, Value};
use crate::rows::truncate;
use crate::store::Store;
use crate::write::ensure::{
    ensure_endpoint, ensure_function_location, ensure_instance, heartbeat, last_insert_id, levels,
    stopped,
};
use crate::write::exceptions::{prepare, write_exception, FrameCache, Prepared};
use crate::write::profiles::{functions_of, write_detail, FunctionIds};
use crate::write::requests::{chunks, InsertRequests, IpText, Row};
use crate::write::rollup::{self, Grain, RollupCache, RollupSql};
use crate::StoreError;

/// The writer's [`Sink`] on a connection of its own.
pub struct SqlSink {
    pool: Pools,
    /// Kept between writes; given back to the pool after an error, so the next write checks
    /// out a tested (or new) connection.
    conn: Option<AnyConn>,
    dialect: Dialect,
    version: String,
    instance_name: String,
    instance_id: Option<i64>,
    default_level: u8,
    /// The endpoints this process has written for, with their ids, by address: looked up for
    /// every row.
    ids: FxHashMap<usize, (&'static Endpoint, i64)>,
    /// Profiled functions' location ids.
    functions: FunctionIds,
    /// Exception stacks already resolved and stored.
    frames: FrameCache,
    /// The rollup rows written lately: hours, minutes.
    cache: [RollupCache; 2],
    /// The statements of every batch, rendered once.
    sql: BatchSql,
}

/// The statements every batch runs besides the inserts, rendered once for the sink.
#[derive(Debug)]
struct BatchSql {
    touch: Vec<String>,
    /// Hours, minutes: in the order of `SqlSink::cache`.
    rollup: [RollupSql; 2],
}

/// The marker of the cached `touch` statement.
struct Touch;

impl std::fmt::Debug for SqlSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSink")
            .field("dialect", &self.dialect)
            .field("instance", &self.instance_name)
            .finish()
    }
}

fn key(endpoint: &'static Endpoint) -> usize {
    endpoint as *const Endpoint as usize
}

impl Store {
    /// A sink for the writer, recording requests under `version` as the instance
    /// `instance_name`. `known` maps endpoints to their ids (from [`Store::sync_endpoints`]);
    /// others are stored on first use at `default_level`. `busy` bounds how long a write waits
    /// for a lock before it counts as failed.
    pub fn sink(
        &self,
        version: &str,
        instance_name: &str,
        known: &[(&'static Endpoint, i64, u8)],
        default_level: u8,
        busy: Duration,
    ) -> Result<SqlSink, StoreError> {
        let mut sink = SqlSink {
            pool: self.dedicated(busy)?,
            conn: None,
            dialect: self.dialect.clone(),
            version: version.to_owned(),
            instance_name: instance_name.to_owned(),
            instance_id: None,
            default_level,
            ids: known.iter().map(|(e, id, _)| (key(e), (*e, *id))).collect(),
            functions: FunctionIds::default(),
            frames: FrameCache::default(),
            cache: [RollupCache::new(Grain::Hour), RollupCache::new(Grain::Minute)],
            sql: BatchSql {
                touch: self.dialect.pieces(
                    "UPDATE {p}endpoint SET last_requested = ? WHERE id = ? AND (last_requested IS NULL OR last_requested < ?)",
                ),
                rollup: [
                    RollupSql::new(&self.dialect, Grain::Hour),
                    RollupSql::new(&self.dialect, Grain::Minute),
                ],
            },
        };
        // Registered now so the dashboard lists the instance before its first request; a
        // database that is down now gets it registered by the first write that succeeds. A
        // process without endpoints (a dashboard serving alone) is no instance.
        if !known.is_empty() {
            if let Err(e) = sink.instance() {
                log::debug!(target: "fmd", "cannot register the instance yet: {e}");
            }
        }
        Ok(sink)
    }
}

impl SqlSink {
    /// Runs `f` on the sink's connection; after an error the connection goes back to the pool,
    /// which tests it before handing it out again and replaces it if it is broken.
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut AnyConn, &Dialect) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        with_sink_conn(&self.pool, &mut self.conn, &self.dialect, f)
    }

    fn instance(&mut self) -> Result<i64, StoreError> {
        if let Some(id) = self.instance_id {
            return Ok(id);
        }
        let (name, version) = (self.instance_name.clone(), self.version.clone());
        let id = self.with(|c, d| Ok(ensure_instance(c, d, &name, &version)?))?;
        self.instance_id = Some(id);
        Ok(id)
    }

    fn id(&mut self, endpoint: &'static Endpoint) -> Result<i64, StoreError> {
        if let Some((_, id)) = self.ids.get(&key(endpoint)) {
            return Ok(*id);
        }
        let (level, version) = (self.default_level, self.version.clone());
        let (id, _) = self.with(|c, d| Ok(ensure_endpoint(c, d, endpoint, level, &version)?))?;
        self.ids.insert(key(endpoint), (endpoint, id));
        Ok(id)
    }

    fn write_all(
        &mut self,
        records: &[RequestRecord],
        last_requested: &[(&'static Endpoint, i64)],
    ) -> Result<(), StoreError> {
        let instance_id = self.instance()?;
        // Functions are stored and exceptions resolved before the batch's transaction: both
        // are idempotent, and resolving reads debug info, which can take a while.
        let mut prepared: Vec<Vec<Prepared>> = Vec::new();
        for detail in records.iter().filter_map(|r| r.detail.as_deref()) {
            for f in functions_of(detail) {
                if !self.functions.contains(f) {
                    let id = self.with(|c, d| Ok(ensure_function_location(c, d, f)?))?;
                    self.functions.insert(f, id);
                }
            }
            let mut list = Vec::with_capacity(detail.exceptions.len());
            for e in &detail.exceptions {
                let cache = &mut self.frames;
                let (conn, dialect) = (&mut self.conn, &self.dialect);
                list.push(with_sink_conn(&self.pool, conn, dialect, |c, d| {
                    Ok(prepare(c, d, e, cache)?)
                })?);
            }
            prepared.push(list);
        }
        let ips: Vec<Option<IpText>> = records.iter().map(|r| r.ip.map(IpText::new)).collect();
        // Rows without detail go in multi-row statements; a row with detail alone, since its
        // spans and outlier row need its id.
        let mut rows = Vec::with_capacity(records.len());
        let mut detailed = Vec::new();
        for (r, ip) in records.iter().zip(&ips) {
            let row = Row {
                endpoint_id: self.id(r.endpoint)?,
                duration_us: r.duration_us.min(i64::MAX as u64) as i64,
                time_requested: r.time_requested,
                group_by: r.group_by.as_deref().map(|g| truncate(g, 255)),
                ip: ip.as_ref().map(IpText::as_str),
                status_code: i32::from(r.status_code),
            };
            match r.detail.as_deref() {
                Some(detail) => detailed.push((row, r, detail)),
                None => rows.push(row),
            }
        }
        let mut touched = Vec::with_capacity(last_requested.len());
        for (e, secs) in last_requested {
            touched.push((self.id(e)?, secs * 1_000_000));
        }
        let shared = format!(
            "{}, {instance_id}",
            self.dialect.string_literal(&self.version)
        );
        let grouped = rollup::group(
            rows.iter()
                .chain(detailed.iter().map(|(row, _, _)| row))
                .map(|r| {
                    (
                        r.endpoint_id,
                        r.time_requested,
                        r.duration_us as u64,
                        r.status_code,
                    )
                }),
            instance_id,
            &self.version,
        );
        let functions = &self.functions;
        let (conn, dialect, cache, sql) = (&mut self.conn, &self.dialect, &self.cache, &self.sql);
        let result = with_sink_conn(&self.pool, conn, dialect, |conn, d| {
            let (prefix, shared) = (d.prefix.as_str(), shared.as_str());
            // Immediate: on SQLite an empty write is then a real probe of whether the database
            // can be written, and a busy database fails here rather than half-way through.
            conn.transaction(true, |conn| {
                for rows in chunks(&rows) {
                    with_conn!(conn, c => match rows.len() {
                        100 => InsertRequests::<100> { prefix, shared, rows }.execute(c)?,
                        10 => InsertRequests::<10> { prefix, shared, rows }.execute(c)?,
                        _ => InsertRequests::<1> { prefix, shared, rows }.execute(c)?,
                    });
                }
                for ((row, record, detail), exceptions) in detailed.iter().zip(&prepared) {
                    let rows = std::slice::from_ref(row);
                    with_conn!(conn, c => InsertRequests::<1> { prefix, shared, rows }.execute(c))?;
                    let request_id = last_insert_id(conn, d)?;
                    let endpoint_id = row.endpoint_id;
                    write_detail(conn, d, request_id, endpoint_id, record, detail, functions)?;
                    for e in exceptions {
                        write_exception(conn, d, request_id, endpoint_id, e)?;
                    }
                }
                for (id, micros) in &touched {
                    let binds = [Value::Int(*micros), Value::Int(*id), Value::Int(*micros)];
                    let query = Fixed::<Touch>::new(&sql.touch, &binds);
                    with_conn!(conn, c => query.execute(c))?;
                }
                let [hour_sql, minute_sql] = &sql.rollup;
                let [hour_cache, minute_cache] = cache;
                let hours = rollup::apply(conn, hour_sql, grouped.hours, hour_cache.rows())?;
                let minutes =
                    rollup::apply(conn, minute_sql, grouped.minutes, minute_cache.rows())?;
                Ok([hours, minutes])
            })
        });
        match result {
            Ok(written) => {
                for (cache, rows) in self.cache.iter_mut().zip(written) {
                    cache.committed(rows);
                }
                Ok(())
            }
            Err(e) => {
                self.cache.iter_mut().for_each(RollupCache::clear);
                Err(e)
            }
        }
    }

    /// Announces this instance and applies the levels stored in the database to the endpoints
    /// this process serves.
    fn refresh(&mut self) -> Result<(), StoreError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let instance_id = self.instance()?;
        let levels = self.with(|c, d| {
            heartbeat(c, d, instance_id)?;
            Ok(levels(c, d)?)
        })?;
        let by_id: HashMap<i64, u8> = levels.into_iter().collect();
        for (endpoint, id) in self.ids.values() {
            if let Some(level) = by_id.get(id) {
                if endpoint.level() != *level {
                    endpoint.set_level(*level);
                }
            }
        }
        Ok(())
    }
}

/// [`SqlSink::with`] on the sink's parts, for callers that borrow other fields meanwhile.
fn with_sink_conn<T>(
    pool: &Pools,
    slot: &mut Option<AnyConn>,
    dialect: &Dialect,
    f: impl FnOnce(&mut AnyConn, &Dialect) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut conn = match slot.take() {
        Some(conn) => conn,
        None => pool.get()?,
    };
    let result = f(&mut conn, dialect);
    if result.is_ok() {
        *slot = Some(conn);
    }
    result
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

    fn poll(&mut self) -> Result<(), SinkError> {
        self.refresh().map_err(|e| SinkError(e.to_string()))
    }

    fn stop(&mut self) -> Result<(), SinkError> {
        // Only a registered instance: a process serving the dashboard alone is none.
        let Some(id) = self.instance_id else {
            return Ok(());
        };
        self.with(|c, d| Ok(stopped(c, d, id)?))
            .map_err(|e| SinkError(e.to_string()))
    }
}
