//! Levels 2 and 3 as the dashboard reads them: outliers, profiles with their span trees, the
//! grouped profiler, and the source of the functions in them.

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{OptionalExtension, QueryableByName, RunQueryDsl};
use serde::Serialize;

use crate::db::with_conn;
use crate::rows::{Count, Stack};
use crate::store::Store;
use crate::StoreError;
use fmd_core::profile::{group_paths, PathStats};

use crate::read::overview::{bind_view, RequestView, VIEW_CONDITION};

/// The columns an outlier is read with: [`OUTLIER_SELECT`], then the `WHERE`.
pub(crate) const OUTLIER_SELECT: &str =
    "SELECT o.request_id, o.time_requested, r.duration_us, r.status_code, o.request_url, \
       o.request_method, o.request_headers, o.cpu_percent, o.memory_bytes, \
       o.system_memory_bytes, o.stuck_stack \
     FROM {p}outlier o JOIN {p}request r ON r.id = o.request_id";

#[derive(QueryableByName)]
pub(crate) struct OutlierSql {
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

impl OutlierSql {
    /// The outlier with its JSON columns read; a column that does not parse is left empty.
    pub(crate) fn into_row(self) -> OutlierRow {
        OutlierRow {
            request_id: self.request_id,
            time_requested: self.time_requested,
            duration_us: self.duration_us,
            status_code: self.status_code,
            url: self.request_url,
            method: self.request_method,
            headers: serde_json::from_str(&self.request_headers).unwrap_or_default(),
            cpu_percent: serde_json::from_str(&self.cpu_percent).unwrap_or_default(),
            memory_bytes: self.memory_bytes,
            system_memory_bytes: self.system_memory_bytes,
            stack: serde_json::from_str(&self.stuck_stack).unwrap_or_default(),
        }
    }
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

impl Store {
    /// An endpoint's outliers, newest first.
    pub fn outliers(
        &self,
        endpoint_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<OutlierRow>, StoreError> {
        let query = diesel::sql_query(self.sql(&format!(
            "{OUTLIER_SELECT} WHERE o.endpoint_id = ? \
             ORDER BY o.time_requested DESC, o.request_id DESC LIMIT ? OFFSET ?"
        )))
        .bind::<BigInt, _>(endpoint_id)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset);
        let rows = with_conn!(&mut self.conn()?, c => query.load::<OutlierSql>(c))?;
        Ok(rows.into_iter().map(OutlierSql::into_row).collect())
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

    /// How many profiled requests of an endpoint the view covers.
    pub fn profile_count_in_view(
        &self,
        endpoint_id: i64,
        view: &RequestView,
    ) -> Result<i64, StoreError> {
        let query = bind_view!(
            diesel::sql_query(self.sql(&format!(
            "SELECT COUNT(*) AS n FROM {{p}}profile pr JOIN {{p}}request r ON r.id = pr.request_id \
             WHERE pr.endpoint_id = ? AND {VIEW_CONDITION}"
        )))
            .bind::<BigInt, _>(endpoint_id),
            view
        );
        Ok(with_conn!(&mut self.conn()?, c => query.get_result::<Count>(c))?.n)
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
        self.profiles_in_view(endpoint_id, &RequestView::default(), offset, limit)
    }

    /// An endpoint's profiled requests that the view covers, in its order, each with its span
    /// tree.
    pub fn profiles_in_view(
        &self,
        endpoint_id: i64,
        view: &RequestView,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ProfileRow>, StoreError> {
        let order = if view.slowest_first {
            "pr.duration_us DESC, pr.request_id DESC"
        } else {
            "pr.time_requested DESC, pr.request_id DESC"
        };
        let mut conn = self.conn()?;
        let query = bind_view!(
            diesel::sql_query(self.sql(&format!(
                "SELECT pr.request_id AS request_id, pr.time_requested AS time_requested, \
               pr.duration_us AS duration_us, pr.dropped_spans AS dropped_spans \
             FROM {{p}}profile pr JOIN {{p}}request r ON r.id = pr.request_id \
             WHERE pr.endpoint_id = ? AND {VIEW_CONDITION} ORDER BY {order} LIMIT ? OFFSET ?"
            )))
            .bind::<BigInt, _>(endpoint_id),
            view
        )
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset);
        let heads = with_conn!(&mut conn, c => query.load::<ProfileSql>(c))?;
        self.with_spans(&mut conn, heads)
    }

    /// The profile of one request of an endpoint, if it was profiled.
    pub fn profile_of(
        &self,
        endpoint_id: i64,
        request_id: i64,
    ) -> Result<Option<ProfileRow>, StoreError> {
        let mut conn = self.conn()?;
        let query = diesel::sql_query(self.sql(
            "SELECT request_id, time_requested, duration_us, dropped_spans FROM {p}profile \
             WHERE endpoint_id = ? AND request_id = ?",
        ))
        .bind::<BigInt, _>(endpoint_id)
        .bind::<BigInt, _>(request_id);
        let heads = with_conn!(&mut conn, c => query.load::<ProfileSql>(c))?;
        Ok(self.with_spans(&mut conn, heads)?.pop())
    }

    /// Of these requests, the ids of those with an outlier and of those with a profile.
    pub fn details_of(&self, request_ids: &[i64]) -> Result<(Vec<i64>, Vec<i64>), StoreError> {
        if request_ids.is_empty() {
            return Ok(Default::default());
        }
        let mut conn = self.conn()?;
        // Integers: safe to write into the statement.
        let list: Vec<String> = request_ids.iter().map(i64::to_string).collect();
        let mut found = [Vec::new(), Vec::new()];
        for (table, ids) in ["outlier", "profile"].into_iter().zip(&mut found) {
            let query = diesel::sql_query(self.sql(&format!(
                "SELECT request_id AS id FROM {{p}}{table} WHERE request_id IN ({})",
                list.join(", ")
            )));
            let rows = with_conn!(&mut conn, c => query.load::<crate::rows::Id>(c))?;
            ids.extend(rows.into_iter().map(|r| r.id));
        }
        let [outliers, profiles] = found;
        Ok((outliers, profiles))
    }

    /// The profiles of `heads` with their spans.
    fn with_spans(
        &self,
        conn: &mut crate::db::AnyConn,
        heads: Vec<ProfileSql>,
    ) -> Result<Vec<ProfileRow>, StoreError> {
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
        let spans = with_conn!(conn, c => spans.load::<SpanRow>(c))?;
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
