//! The rows an instance makes sure of before it writes requests: its endpoints, functions and
//! code locations, its instance row and heartbeat, and the levels set from dashboards.

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{QueryableByName, RunQueryDsl};

use crate::db::{with_conn, AnyConn, Backend, Dialect};
use crate::rows::Id;
use crate::store::Store;
use crate::StoreError;
use fmd_core::{Endpoint, Function};
use sha2::{Digest, Sha256};

#[derive(QueryableByName)]
struct IdLevel {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Integer)]
    monitor_level: i32,
}

/// Stores (or finds) the endpoint's row and its source; returns its id and stored level. A new
/// endpoint gets `default_level`; an existing one keeps its stored level. Safe when several
/// instances register the same endpoint at once: no statement can fail on a unique key.
pub(crate) fn ensure_endpoint(
    conn: &mut AnyConn,
    d: &Dialect,
    endpoint: &Endpoint,
    default_level: u8,
    version: &str,
) -> Result<(i64, u8), diesel::result::Error> {
    let meta = &endpoint.meta;
    let path = endpoint.path();
    let function_id = ensure_function(conn, d, meta.name, meta.source, meta.source_sha256)?;
    let insert = diesel::sql_query(d.sql(
        "{insert_ignore} INTO {p}endpoint (name, module_path, file, line, function_id, monitor_level, time_added, version_added) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?){on_conflict_ignore}",
    ))
    .bind::<Text, _>(meta.name)
    .bind::<Text, _>(&path)
    .bind::<Text, _>(meta.file)
    .bind::<Integer, _>(meta.line as i32)
    .bind::<BigInt, _>(function_id)
    .bind::<Integer, _>(i32::from(default_level))
    .bind::<BigInt, _>(fmd_core::now_micros())
    .bind::<Text, _>(version);
    with_conn!(conn, c => insert.execute(c))?;
    // The handler may have moved or changed since the row was made.
    let update = diesel::sql_query(d.sql(
        "UPDATE {p}endpoint SET module_path = ?, file = ?, line = ?, function_id = ? WHERE name = ?",
    ))
    .bind::<Text, _>(&path)
    .bind::<Text, _>(meta.file)
    .bind::<Integer, _>(meta.line as i32)
    .bind::<BigInt, _>(function_id)
    .bind::<Text, _>(meta.name);
    with_conn!(conn, c => update.execute(c))?;
    let select =
        diesel::sql_query(d.sql("SELECT id, monitor_level FROM {p}endpoint WHERE name = ?"))
            .bind::<Text, _>(meta.name);
    let row = with_conn!(conn, c => select.get_result::<IdLevel>(c))?;
    Ok((row.id, row.monitor_level.clamp(0, 3) as u8))
}

pub(crate) fn ensure_function(
    conn: &mut AnyConn,
    d: &Dialect,
    name: &str,
    code: &str,
    code_hash: &str,
) -> Result<i64, diesel::result::Error> {
    let code = if d.capture_source { code } else { "" };
    let insert = diesel::sql_query(d.sql(
        "{insert_ignore} INTO {p}function_definition (name, code, code_hash) VALUES (?, ?, ?){on_conflict_ignore}",
    ))
    .bind::<Text, _>(name)
    .bind::<Text, _>(code)
    .bind::<Text, _>(code_hash);
    with_conn!(conn, c => insert.execute(c))?;
    let select =
        diesel::sql_query(d.sql("SELECT id FROM {p}function_definition WHERE code_hash = ?"))
            .bind::<Text, _>(code_hash);
    Ok(with_conn!(conn, c => select.get_result::<Id>(c))?.id)
}

/// Registers this instance (or finds it after a restart) and returns its id.
pub(crate) fn ensure_instance(
    conn: &mut AnyConn,
    d: &Dialect,
    name: &str,
    version: &str,
) -> Result<i64, diesel::result::Error> {
    let now = fmd_core::now_micros();
    let insert = diesel::sql_query(d.sql(
        "{insert_ignore} INTO {p}instance (name, version, started, last_seen) VALUES (?, ?, ?, ?){on_conflict_ignore}",
    ))
    .bind::<Text, _>(name)
    .bind::<Text, _>(version)
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(now);
    with_conn!(conn, c => insert.execute(c))?;
    let update = diesel::sql_query(
        d.sql("UPDATE {p}instance SET version = ?, started = ?, last_seen = ?, stopped = NULL WHERE name = ?"),
    )
    .bind::<Text, _>(version)
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(now)
    .bind::<Text, _>(name);
    with_conn!(conn, c => update.execute(c))?;
    let select =
        diesel::sql_query(d.sql("SELECT id FROM {p}instance WHERE name = ?")).bind::<Text, _>(name);
    Ok(with_conn!(conn, c => select.get_result::<Id>(c))?.id)
}

/// Marks the instance as alive now.
pub(crate) fn heartbeat(
    conn: &mut AnyConn,
    d: &Dialect,
    instance_id: i64,
) -> Result<(), diesel::result::Error> {
    let update = diesel::sql_query(d.sql("UPDATE {p}instance SET last_seen = ? WHERE id = ?"))
        .bind::<BigInt, _>(fmd_core::now_micros())
        .bind::<BigInt, _>(instance_id);
    with_conn!(conn, c => update.execute(c)).map(|_| ())
}

/// Marks the instance as shut down cleanly, now.
pub(crate) fn stopped(
    conn: &mut AnyConn,
    d: &Dialect,
    instance_id: i64,
) -> Result<(), diesel::result::Error> {
    let now = fmd_core::now_micros();
    let update =
        diesel::sql_query(d.sql("UPDATE {p}instance SET last_seen = ?, stopped = ? WHERE id = ?"))
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(instance_id);
    with_conn!(conn, c => update.execute(c)).map(|_| ())
}

/// Every endpoint's stored level, by id.
pub(crate) fn levels(
    conn: &mut AnyConn,
    d: &Dialect,
) -> Result<Vec<(i64, u8)>, diesel::result::Error> {
    let select = diesel::sql_query(d.sql("SELECT id, monitor_level FROM {p}endpoint"));
    Ok(with_conn!(conn, c => select.load::<IdLevel>(c))?
        .into_iter()
        .map(|r| (r.id, r.monitor_level.clamp(0, 3) as u8))
        .collect())
}

/// Stores (or finds) where a profiled function is defined; returns the location's id.
pub(crate) fn ensure_function_location(
    conn: &mut AnyConn,
    d: &Dialect,
    f: &Function,
) -> Result<i64, diesel::result::Error> {
    let meta = &f.meta;
    let code = Code {
        name: &meta.display_name(),
        code: meta.source,
        code_hash: meta.source_sha256,
    };
    ensure_location(conn, d, &code, meta.file, meta.file, meta.line)
}

/// A function definition: its name, source and the source's hash.
pub(crate) struct Code<'a> {
    pub(crate) name: &'a str,
    pub(crate) code: &'a str,
    pub(crate) code_hash: &'a str,
}

/// Stores (or finds) a function definition and one place it is defined (`file` as the debug
/// info or `file!()` names it, `relative` to the application's root, empty for library code);
/// returns the location's id.
pub(crate) fn ensure_location(
    conn: &mut AnyConn,
    d: &Dialect,
    code: &Code<'_>,
    file: &str,
    relative: &str,
    start_line: u32,
) -> Result<i64, diesel::result::Error> {
    let definition = ensure_function(conn, d, code.name, code.code, code.code_hash)?;
    let hash = hex::encode(Sha256::digest(format!(
        "{definition}\n{file}\n{relative}\n{start_line}"
    )));
    let insert = diesel::sql_query(d.sql(
        "{insert_ignore} INTO {p}function_location (function_definition_id, file_path, relative_path, function_start_line, location_hash) \
         VALUES (?, ?, ?, ?, ?){on_conflict_ignore}",
    ))
    .bind::<BigInt, _>(definition)
    .bind::<Text, _>(file)
    .bind::<Text, _>(relative)
    .bind::<Integer, _>(start_line as i32)
    .bind::<Text, _>(&hash);
    with_conn!(conn, c => insert.execute(c))?;
    let select =
        diesel::sql_query(d.sql("SELECT id FROM {p}function_location WHERE location_hash = ?"))
            .bind::<Text, _>(&hash);
    Ok(with_conn!(conn, c => select.get_result::<Id>(c))?.id)
}

/// The id of the row the connection inserted last.
pub(crate) fn last_insert_id(
    conn: &mut AnyConn,
    d: &Dialect,
) -> Result<i64, diesel::result::Error> {
    let sql = match d.backend {
        Backend::Sqlite => "SELECT last_insert_rowid() AS id",
        Backend::Postgres => "SELECT lastval() AS id",
        Backend::Mysql => "SELECT CAST(LAST_INSERT_ID() AS SIGNED) AS id",
    };
    let query = diesel::sql_query(sql);
    Ok(with_conn!(conn, c => query.get_result::<Id>(c))?.id)
}

#[derive(QueryableByName)]
struct MeanSql {
    #[diesel(sql_type = BigInt)]
    endpoint_id: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

impl Store {
    /// Stores every registered endpoint (new ones at `default_level`); returns each with its
    /// database id and stored level.
    pub fn sync_endpoints(
        &self,
        endpoints: &[&'static Endpoint],
        default_level: u8,
        version: &str,
    ) -> Result<Vec<(&'static Endpoint, i64, u8)>, StoreError> {
        let mut conn = self.conn()?;
        endpoints
            .iter()
            .map(|e| {
                let (id, level) =
                    ensure_endpoint(&mut conn, &self.dialect, e, default_level, version)?;
                Ok((*e, id, level))
            })
            .collect()
    }

    /// Seeds the running mean of each of `endpoints` (with their ids) from its stored requests.
    pub fn seed_means(&self, endpoints: &[(&'static Endpoint, i64, u8)]) -> Result<(), StoreError> {
        let cast = match self.dialect.backend {
            Backend::Mysql => "SIGNED",
            _ => "BIGINT",
        };
        let query = diesel::sql_query(self.sql(&format!(
            "SELECT endpoint_id, COUNT(*) AS n, CAST(COALESCE(SUM(duration_us), 0) AS {cast}) AS total \
             FROM {{p}}request GROUP BY endpoint_id"
        )));
        let rows = with_conn!(&mut self.conn()?, c => query.load::<MeanSql>(c))?;
        let by_id: HashMap<i64, &MeanSql> = rows.iter().map(|r| (r.endpoint_id, r)).collect();
        for (endpoint, id, _) in endpoints {
            if let Some(r) = by_id.get(id) {
                endpoint.seed_mean(r.n.max(0) as u64, r.total.max(0) as u64);
            }
        }
        Ok(())
    }
}
