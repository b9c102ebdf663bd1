//! Levels 2 and 3 in the database: span trees, outliers, function sources, and the running
//! means the outlier rule starts from.

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{OptionalExtension, QueryableByName, RunQueryDsl};
use serde::Serialize;
use sha2::{Digest, Sha256};

use fmd_core::profile::{depth, group_paths, PathStats, RequestDetail};
use fmd_core::{Endpoint, Function};

use crate::db::{with_conn, AnyConn, Backend, Dialect, Store};
use crate::queries::{ensure_function, Id};
use crate::StoreError;

/// Spans per INSERT statement: their values are integers, written as literals, so the
/// statement's length is the only limit.
const SPAN_ROWS_PER_INSERT: usize = 250;

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

/// Every function a detail names: its spans' and its stuck snapshot's.
pub(crate) fn functions_of(detail: &RequestDetail) -> impl Iterator<Item = &'static Function> + '_ {
    let stuck = detail
        .outlier
        .iter()
        .filter_map(|o| o.stuck.as_ref())
        .flat_map(|s| s.frames.iter().map(|f| f.function));
    detail.spans.iter().map(|s| s.function).chain(stuck)
}

fn function_key(f: &'static Function) -> usize {
    f as *const Function as usize
}

/// Function location ids by function, for the writer.
#[derive(Debug, Default)]
pub(crate) struct FunctionIds(HashMap<usize, i64>);

impl FunctionIds {
    pub(crate) fn get(&self, f: &'static Function) -> i64 {
        self.0.get(&function_key(f)).copied().unwrap_or(0)
    }

    pub(crate) fn contains(&self, f: &'static Function) -> bool {
        self.0.contains_key(&function_key(f))
    }

    pub(crate) fn insert(&mut self, f: &'static Function, id: i64) {
        self.0.insert(function_key(f), id);
    }
}

/// Writes a request's span tree and outlier row, for the request row `request_id`.
pub(crate) fn write_detail(
    conn: &mut AnyConn,
    d: &Dialect,
    request_id: i64,
    endpoint_id: i64,
    record: &fmd_core::RequestRecord,
    detail: &RequestDetail,
    ids: &FunctionIds,
) -> Result<(), diesel::result::Error> {
    if detail.profiled {
        let profile = diesel::sql_query(d.sql(
            "INSERT INTO {p}profile (request_id, endpoint_id, time_requested, duration_us, span_count, dropped_spans) \
             VALUES (?, ?, ?, ?, ?, ?)",
        ))
        .bind::<BigInt, _>(request_id)
        .bind::<BigInt, _>(endpoint_id)
        .bind::<BigInt, _>(record.time_requested)
        .bind::<BigInt, _>(record.duration_us.min(i64::MAX as u64) as i64)
        .bind::<Integer, _>(detail.spans.len() as i32)
        .bind::<Integer, _>(detail.dropped_spans.min(i32::MAX as u32) as i32);
        with_conn!(conn, c => profile.execute(c))?;
        let head = d.sql(
            "INSERT INTO {p}profile_span (request_id, position, parent_position, depth, function_location_id, start_us, duration_us, cancelled) VALUES ",
        );
        for (chunk_index, chunk) in detail.spans.chunks(SPAN_ROWS_PER_INSERT).enumerate() {
            let mut sql = head.clone();
            for (i, span) in chunk.iter().enumerate() {
                let position = chunk_index * SPAN_ROWS_PER_INSERT + i;
                let parent = match span.parent {
                    fmd_core::profile::ROOT => "NULL".to_owned(),
                    p => p.to_string(),
                };
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "({request_id}, {position}, {parent}, {}, {}, {}, {}, {})",
                    depth(&detail.spans, span.parent),
                    ids.get(span.function),
                    span.start_ns / 1_000,
                    span.duration_ns / 1_000,
                    i32::from(span.cancelled),
                ));
            }
            let query = diesel::sql_query(sql);
            with_conn!(conn, c => query.execute(c))?;
        }
    }
    let Some(outlier) = &detail.outlier else {
        return Ok(());
    };
    let (figures, stack) = match &outlier.stuck {
        Some(stuck) => {
            let frames: Vec<StackFrame> = stuck
                .frames
                .iter()
                .map(|f| StackFrame {
                    function_id: ids.get(f.function),
                    function: f.function.meta.display_name(),
                    depth: f.depth,
                    running_ms: f.running_us as f64 / 1000.0,
                })
                .collect();
            let stack = Stack {
                after_ms: Some(stuck.after_us as f64 / 1000.0),
                frames,
            };
            (stuck.figures.clone(), stack)
        }
        // Judged when it ended, before the watchdog saw it: the figures are read now, still
        // off the request path, and the spans stored above show where the time went.
        None => (fmd_core::outlier::system_figures(), Stack::default()),
    };
    let insert = diesel::sql_query(d.sql(
        "INSERT INTO {p}outlier (request_id, endpoint_id, time_requested, request_url, request_method, request_headers, cpu_percent, memory_bytes, system_memory_bytes, stuck_stack) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind::<BigInt, _>(request_id)
    .bind::<BigInt, _>(endpoint_id)
    .bind::<BigInt, _>(record.time_requested)
    .bind::<Text, _>(&outlier.url)
    .bind::<Text, _>(&outlier.method)
    .bind::<Text, _>(json(&outlier.headers))
    .bind::<Text, _>(json(&figures.cpu_percent))
    .bind::<BigInt, _>(figures.memory_bytes.min(i64::MAX as u64) as i64)
    .bind::<BigInt, _>(figures.system_memory_bytes.min(i64::MAX as u64) as i64)
    .bind::<Text, _>(json(&stack));
    with_conn!(conn, c => insert.execute(c))?;
    Ok(())
}

/// JSON text for a text column; serializing plain data cannot fail.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Where an outlier was when the watchdog caught it.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Stack {
    /// How long the request had run then; `None` when it ended before the watchdog looked.
    pub after_ms: Option<f64>,
    /// The spans open then, outermost first.
    pub frames: Vec<StackFrame>,
}

/// One open span of a stuck snapshot.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct StackFrame {
    /// The function location's id (`functions/{id}/source`).
    pub function_id: i64,
    /// The function's name.
    pub function: String,
    /// Depth in the span tree, 0 at the top level.
    pub depth: u32,
    /// How long it had been running, in ms.
    pub running_ms: f64,
}

#[derive(QueryableByName)]
struct OutlierSql {
    #[diesel(sql_type = BigInt)]
    request_id: i64,
    #[diesel(sql_type = BigInt)]
    time_requested: i64,
    #[diesel(sql_type = BigInt)]
    duration_us: i64,
    #[diesel(sql_type = Integer)]
    status_code: i32,
    #[diesel(sql_type = Text)]
    request_url: String,
    #[diesel(sql_type = Text)]
    request_method: String,
    #[diesel(sql_type = Text)]
    request_headers: String,
    #[diesel(sql_type = Text)]
    cpu_percent: String,
    #[diesel(sql_type = BigInt)]
    memory_bytes: i64,
    #[diesel(sql_type = BigInt)]
    system_memory_bytes: i64,
    #[diesel(sql_type = Text)]
    stuck_stack: String,
}

/// A stored outlier.
#[derive(Debug, Clone, Serialize)]
pub struct OutlierRow {
    /// The request's id.
    pub request_id: i64,
    /// When it started, microseconds since the epoch.
    pub time_requested: i64,
    /// Its duration in microseconds.
    pub duration_us: i64,
    /// The status code it was answered with.
    pub status_code: i32,
    /// Path and query.
    pub url: String,
    /// Method.
    pub method: String,
    /// Headers, sensitive values scrubbed.
    pub headers: Vec<(String, String)>,
    /// CPU busy percentage per core.
    pub cpu_percent: Vec<f32>,
    /// The process's resident memory, bytes.
    pub memory_bytes: i64,
    /// Memory in use on the machine, bytes.
    pub system_memory_bytes: i64,
    /// Where it was stuck.
    pub stack: Stack,
}

/// One stored span.
#[derive(Debug, Clone, Serialize, QueryableByName)]
pub struct SpanRow {
    /// The request it belongs to.
    #[diesel(sql_type = BigInt)]
    pub request_id: i64,
    /// Its index in the request's tree, in start order.
    #[diesel(sql_type = Integer)]
    pub position: i32,
    /// The enclosing span's position; `None` at the top level.
    #[diesel(sql_type = diesel::sql_types::Nullable<Integer>)]
    pub parent_position: Option<i32>,
    /// 0 at the top level.
    #[diesel(sql_type = Integer)]
    pub depth: i32,
    /// The function location's id.
    #[diesel(sql_type = BigInt)]
    pub function_id: i64,
    /// The function's name.
    #[diesel(sql_type = Text)]
    pub function: String,
    /// Start after the handler's start, microseconds.
    #[diesel(sql_type = BigInt)]
    pub start_us: i64,
    /// Duration, microseconds.
    #[diesel(sql_type = BigInt)]
    pub duration_us: i64,
    /// It did not complete (dropped first, or panicked).
    #[diesel(sql_type = Integer)]
    pub cancelled: i32,
}

#[derive(QueryableByName)]
struct ProfileSql {
    #[diesel(sql_type = BigInt)]
    request_id: i64,
    #[diesel(sql_type = BigInt)]
    time_requested: i64,
    #[diesel(sql_type = BigInt)]
    duration_us: i64,
    #[diesel(sql_type = Integer)]
    dropped_spans: i32,
}

/// A profiled request with its span tree.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileRow {
    /// The request's id.
    pub request_id: i64,
    /// When it started, microseconds since the epoch.
    pub time_requested: i64,
    /// The handler's duration, microseconds.
    pub duration_us: i64,
    /// Spans beyond the per-request limit, not stored.
    pub dropped_spans: i32,
    /// The spans, parents before children.
    pub spans: Vec<SpanRow>,
}

/// A function's stored source.
#[derive(Debug, Clone, Serialize, QueryableByName)]
pub struct FunctionSource {
    /// The function's name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// Its file.
    #[diesel(sql_type = Text)]
    pub file: String,
    /// The first line of its source.
    #[diesel(sql_type = Integer)]
    pub start_line: i32,
    /// The source text (empty when `capture_source` is off).
    #[diesel(sql_type = Text)]
    pub code: String,
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

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Store {
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

    /// An endpoint's outliers, newest first.
    pub fn outliers(
        &self,
        endpoint_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<OutlierRow>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT o.request_id, o.time_requested, r.duration_us, r.status_code, o.request_url, \
               o.request_method, o.request_headers, o.cpu_percent, o.memory_bytes, \
               o.system_memory_bytes, o.stuck_stack \
             FROM {p}outlier o JOIN {p}request r ON r.id = o.request_id \
             WHERE o.endpoint_id = ? ORDER BY o.time_requested DESC, o.request_id DESC LIMIT ? OFFSET ?",
        ))
        .bind::<BigInt, _>(endpoint_id)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset);
        let rows = with_conn!(&mut self.conn()?, c => query.load::<OutlierSql>(c))?;
        Ok(rows
            .into_iter()
            .map(|r| OutlierRow {
                request_id: r.request_id,
                time_requested: r.time_requested,
                duration_us: r.duration_us,
                status_code: r.status_code,
                url: r.request_url,
                method: r.request_method,
                headers: serde_json::from_str(&r.request_headers).unwrap_or_default(),
                cpu_percent: serde_json::from_str(&r.cpu_percent).unwrap_or_default(),
                memory_bytes: r.memory_bytes,
                system_memory_bytes: r.system_memory_bytes,
                stack: serde_json::from_str(&r.stuck_stack).unwrap_or_default(),
            })
            .collect())
    }

    /// How many outliers an endpoint has.
    pub fn outlier_count(&self, endpoint_id: i64) -> Result<i64, StoreError> {
        self.count(
            "SELECT COUNT(*) AS n FROM {p}outlier WHERE endpoint_id = ?",
            endpoint_id,
        )
    }

    /// How many profiled requests an endpoint has.
    pub fn profile_count(&self, endpoint_id: i64) -> Result<i64, StoreError> {
        self.count(
            "SELECT COUNT(*) AS n FROM {p}profile WHERE endpoint_id = ?",
            endpoint_id,
        )
    }

    fn count(&self, sql: &str, id: i64) -> Result<i64, StoreError> {
        let query = diesel::sql_query(self.sql(sql)).bind::<BigInt, _>(id);
        Ok(with_conn!(&mut self.conn()?, c => query.get_result::<Count>(c))?.n)
    }

    /// An endpoint's profiled requests, newest first, each with its span tree.
    pub fn profiles(
        &self,
        endpoint_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ProfileRow>, StoreError> {
        let mut conn = self.conn()?;
        let query = diesel::sql_query(self.sql(
            "SELECT request_id, time_requested, duration_us, dropped_spans FROM {p}profile \
             WHERE endpoint_id = ? ORDER BY time_requested DESC, request_id DESC LIMIT ? OFFSET ?",
        ))
        .bind::<BigInt, _>(endpoint_id)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset);
        let heads = with_conn!(&mut conn, c => query.load::<ProfileSql>(c))?;
        if heads.is_empty() {
            return Ok(Vec::new());
        }
        // Ids read from the database as integers: safe to write into the statement.
        let ids: Vec<String> = heads.iter().map(|h| h.request_id.to_string()).collect();
        let spans = diesel::sql_query(self.sql(&format!(
            "SELECT s.request_id, s.position, s.parent_position, s.depth, \
               s.function_location_id AS function_id, d.name AS function, s.start_us, \
               s.duration_us, s.cancelled \
             FROM {{p}}profile_span s \
             JOIN {{p}}function_location l ON l.id = s.function_location_id \
             JOIN {{p}}function_definition d ON d.id = l.function_definition_id \
             WHERE s.request_id IN ({}) ORDER BY s.request_id, s.position",
            ids.join(", ")
        )));
        let spans = with_conn!(&mut conn, c => spans.load::<SpanRow>(c))?;
        let mut by_request: HashMap<i64, Vec<SpanRow>> = HashMap::new();
        for span in spans {
            by_request.entry(span.request_id).or_default().push(span);
        }
        Ok(heads
            .into_iter()
            .map(|h| ProfileRow {
                spans: by_request.remove(&h.request_id).unwrap_or_default(),
                request_id: h.request_id,
                time_requested: h.time_requested,
                duration_us: h.duration_us,
                dropped_spans: h.dropped_spans,
            })
            .collect())
    }

    /// The latest `limit` profiled requests of an endpoint merged by call path (the path
    /// starts with the endpoint's name), in milliseconds, and how many requests were merged.
    pub fn grouped_profile(
        &self,
        endpoint_id: i64,
        endpoint_name: &str,
        limit: i64,
    ) -> Result<(Vec<PathStats>, usize), StoreError> {
        let profiles = self.profiles(endpoint_id, 0, limit)?;
        let mut calls = Vec::new();
        let mut total_ms = 0.0;
        for p in &profiles {
            let ms = p.duration_us as f64 / 1000.0;
            total_ms += ms;
            calls.push((vec![endpoint_name.to_owned()], ms));
            let mut paths: Vec<Vec<String>> = Vec::with_capacity(p.spans.len());
            for span in &p.spans {
                let mut path = span
                    .parent_position
                    .and_then(|parent| paths.get(parent as usize).cloned())
                    .unwrap_or_else(|| vec![endpoint_name.to_owned()]);
                path.push(span.function.clone());
                calls.push((path.clone(), span.duration_us as f64 / 1000.0));
                paths.push(path);
            }
        }
        Ok((
            group_paths(calls, profiles.len() as u64, total_ms),
            profiles.len(),
        ))
    }

    /// A function location's source.
    pub fn function_source(&self, location_id: i64) -> Result<Option<FunctionSource>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT d.name, l.file_path AS file, l.function_start_line AS start_line, d.code \
             FROM {p}function_location l JOIN {p}function_definition d ON d.id = l.function_definition_id \
             WHERE l.id = ?",
        ))
        .bind::<BigInt, _>(location_id);
        Ok(with_conn!(&mut self.conn()?, c => query.get_result::<FunctionSource>(c).optional())?)
    }
}
