//! The dashboard's queries. Counts and percentiles come from the hourly rollups (see
//! [`crate::rollup`]) and, for small windows and partial hours, from the request rows.

use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{OptionalExtension, QueryableByName, RunQueryDsl};
use serde::Serialize;

use fmd_core::Endpoint;

use crate::db::{with_conn, AnyConn, Dialect, Store};
use crate::rollup::{hour_ceil, hour_of, hours, HourRow, Totals};
use crate::StoreError;

/// An endpoint as stored.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct EndpointRow {
    /// Database id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// The handler's path, `module::function`.
    #[diesel(sql_type = Text)]
    pub module_path: String,
    /// Source file of the handler.
    #[diesel(sql_type = Text)]
    pub file: String,
    /// First line of the handler's source.
    #[diesel(sql_type = Integer)]
    pub line: i32,
    /// Monitoring level 0-3.
    #[diesel(sql_type = Integer)]
    pub monitor_level: i32,
    /// When first seen, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub time_added: i64,
    /// The version it was first seen in.
    #[diesel(sql_type = Text)]
    pub version_added: String,
    /// Last request, microseconds since the epoch.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub last_requested: Option<i64>,
}

/// One line of the overview.
#[derive(Debug, Clone, Serialize)]
pub struct OverviewRow {
    /// The endpoint.
    pub endpoint: EndpointRow,
    /// Requests since midnight in the dashboard's timezone. Counts are exact; percentiles are
    /// exact for windows of up to 2,000 requests and read off hourly histograms beyond.
    pub hits_today: i64,
    /// Requests in the last 7 days.
    pub hits_week: i64,
    /// All requests.
    pub hits_overall: i64,
    /// Requests answered with status >= 400, today.
    pub errors_today: i64,
    /// ... in the last 7 days.
    pub errors_week: i64,
    /// ... overall.
    pub errors_overall: i64,
    /// Median duration today, in ms.
    pub median_today_ms: Option<f64>,
    /// Median duration in the last 7 days, in ms.
    pub median_week_ms: Option<f64>,
    /// Median duration overall, in ms.
    pub median_overall_ms: Option<f64>,
    /// 90th percentile today, in ms.
    pub p90_today_ms: Option<f64>,
    /// 99th percentile today, in ms.
    pub p99_today_ms: Option<f64>,
    /// 90th percentile in the last 7 days, in ms.
    pub p90_week_ms: Option<f64>,
    /// 99th percentile in the last 7 days, in ms.
    pub p99_week_ms: Option<f64>,
    /// 90th percentile overall, in ms.
    pub p90_overall_ms: Option<f64>,
    /// 99th percentile overall, in ms.
    pub p99_overall_ms: Option<f64>,
    /// Distinct exception groups recorded for the endpoint.
    pub exception_groups: i64,
}

/// One request.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct RequestRow {
    /// Database id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Duration in microseconds.
    #[diesel(sql_type = BigInt)]
    pub duration_us: i64,
    /// Start, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub time_requested: i64,
    /// The application version.
    #[diesel(sql_type = Text)]
    pub version_requested: String,
    /// The group-by value.
    #[diesel(sql_type = Nullable<Text>)]
    pub group_by: Option<String>,
    /// The client address.
    #[diesel(sql_type = Nullable<Text>)]
    pub ip: Option<String>,
    /// The status code.
    #[diesel(sql_type = Integer)]
    pub status_code: i32,
    /// The instance that served it (none for requests recorded before fmd knew instances).
    #[diesel(sql_type = Nullable<Text>)]
    pub instance: Option<String>,
}

/// A service instance writing to the database.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct InstanceRow {
    /// Database id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// `instance_name` of its configuration.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// The application version it runs.
    #[diesel(sql_type = Text)]
    pub version: String,
    /// When it started, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub started: i64,
    /// Its latest heartbeat, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub last_seen: i64,
    /// When it shut down cleanly, if it did since it last started.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub stopped: Option<i64>,
}

impl InstanceRow {
    /// How long after its last heartbeat (sent every 2 seconds) an instance counts as gone.
    pub const LIVE_WITHIN_MICROS: i64 = 60_000_000;

    /// Whether it runs, at `now` (microseconds since the epoch): it did not shut down cleanly
    /// and sent a heartbeat lately.
    ///
    /// ```
    /// let row = fmd_store::InstanceRow {
    ///     id: 1,
    ///     name: "web-1".into(),
    ///     version: "1.0".into(),
    ///     started: 0,
    ///     last_seen: 1_000_000,
    ///     stopped: None,
    /// };
    /// assert!(row.is_live(2_000_000));
    /// assert!(!row.is_live(1_000_000 + fmd_store::InstanceRow::LIVE_WITHIN_MICROS));
    /// let stopped = fmd_store::InstanceRow { stopped: Some(1_000_000), ..row };
    /// assert!(!stopped.is_live(2_000_000));
    /// ```
    pub fn is_live(&self, now: i64) -> bool {
        self.stopped.is_none() && now - self.last_seen < Self::LIVE_WITHIN_MICROS
    }
}

/// A dashboard user.
#[derive(Debug, Clone, QueryableByName)]
pub struct UserRow {
    /// Database id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Login name.
    #[diesel(sql_type = Text)]
    pub username: String,
    /// argon2 PHC string.
    #[diesel(sql_type = Text)]
    pub password_hash: String,
    /// Administrator (else guest).
    #[diesel(sql_type = Integer)]
    pub is_admin: i32,
}

#[derive(QueryableByName)]
pub(crate) struct Id {
    #[diesel(sql_type = BigInt)]
    pub(crate) id: i64,
}

#[derive(QueryableByName)]
struct IdLevel {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Integer)]
    monitor_level: i32,
}

#[derive(QueryableByName)]
pub(crate) struct Timed {
    #[diesel(sql_type = BigInt)]
    pub(crate) time_requested: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) duration_us: i64,
    #[diesel(sql_type = Integer)]
    pub(crate) status_code: i32,
}

#[derive(QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct GroupCount {
    #[diesel(sql_type = BigInt)]
    endpoint_id: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

const ENDPOINT_COLUMNS: &str =
    "id, name, module_path, file, line, monitor_level, time_added, version_added, last_requested";

/// The columns of a [`RequestRow`], from `{p}request r` joined with its instance; add the
/// `WHERE`. `INSTANCE_FILTER` then compares `instance_id`, which only the request table has.
pub(crate) const REQUEST_SELECT: &str =
    "SELECT r.id, r.duration_us, r.time_requested, r.version_requested, r.group_by, r.ip, \
       r.status_code, i.name AS instance \
     FROM {p}request r LEFT JOIN {p}instance i ON i.id = r.instance_id";

/// The SQL condition selecting one instance's requests, or all when the bound id is 0 (ids
/// start at 1). Bind the id twice.
pub(crate) const INSTANCE_FILTER: &str = "(? = 0 OR instance_id = ?)";

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

/// Windows with at most this many requests get exact percentiles from their rows; larger ones
/// are read off the hourly histograms (within 2.5 %).
pub(crate) const EXACT_LIMIT: i64 = 2_000;

/// An endpoint's requests in `[from, to)`, of one instance or of all (`0`).
pub(crate) fn timed(
    conn: &mut AnyConn,
    d: &Dialect,
    endpoint_id: i64,
    from: i64,
    to: i64,
    instance: i64,
) -> Result<Vec<Timed>, StoreError> {
    let query = diesel::sql_query(d.sql(&format!(
        "SELECT time_requested, duration_us, status_code FROM {{p}}request \
         WHERE endpoint_id = ? AND time_requested >= ? AND time_requested < ? AND {INSTANCE_FILTER}"
    )))
    .bind::<BigInt, _>(endpoint_id)
    .bind::<BigInt, _>(from)
    .bind::<BigInt, _>(to)
    .bind::<BigInt, _>(instance)
    .bind::<BigInt, _>(instance);
    Ok(with_conn!(conn, c => query.load(c))?)
}

/// One window of the overview: counts and percentiles (ms).
#[derive(Debug, Clone, Default)]
struct Window {
    totals: Totals,
    exact: Option<[Option<f64>; 3]>,
}

impl Window {
    fn percentiles(&self) -> [Option<f64>; 3] {
        self.exact
            .unwrap_or_else(|| PERCENTILES.map(|q| self.totals.quantile_ms(q)))
    }
}

const PERCENTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// Counts and percentiles of one endpoint since each of `starts` (sorted, earliest first):
/// whole hours from the rollups in `hours`, the partial first hour from the request rows, and
/// exact percentiles from the rows when a window is small.
fn windows(
    conn: &mut AnyConn,
    d: &Dialect,
    endpoint_id: i64,
    hours: &[&HourRow],
    starts: &[i64],
    instance: i64,
) -> Result<Vec<Window>, StoreError> {
    let mut out = vec![Window::default(); starts.len()];
    for h in hours {
        for (w, start) in out.iter_mut().zip(starts) {
            if h.hour_start >= hour_ceil(*start) {
                h.add_to(&mut w.totals);
            }
        }
    }
    for (w, start) in out.iter_mut().zip(starts) {
        let edge = hour_ceil(*start);
        if edge != *start && hours.iter().any(|h| h.hour_start == hour_of(*start)) {
            for r in timed(conn, d, endpoint_id, *start, edge, instance)? {
                w.totals.add(r.duration_us.max(0) as u64, r.status_code);
            }
        }
    }
    // The earliest window small enough to read exactly; every later one is inside it.
    if let Some(first) = out
        .iter()
        .position(|w| w.totals.hits > 0 && w.totals.hits <= EXACT_LIMIT)
    {
        let rows = timed(conn, d, endpoint_id, starts[first], i64::MAX, instance)?;
        for (w, start) in out.iter_mut().zip(starts).skip(first) {
            let mut v: Vec<f64> = rows
                .iter()
                .filter(|r| r.time_requested >= *start)
                .map(|r| r.duration_us as f64 / 1000.0)
                .collect();
            v.sort_by(f64::total_cmp);
            w.exact = Some(PERCENTILES.map(|q| fmd_core::stats::quantile(&v, q)));
        }
    }
    Ok(out)
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

    /// Every stored endpoint, by name.
    pub fn endpoints(&self) -> Result<Vec<EndpointRow>, StoreError> {
        let query = diesel::sql_query(self.sql(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM {{p}}endpoint ORDER BY name"
        )));
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// One endpoint.
    pub fn endpoint(&self, id: i64) -> Result<Option<EndpointRow>, StoreError> {
        let query = diesel::sql_query(self.sql(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM {{p}}endpoint WHERE id = ?"
        )))
        .bind::<BigInt, _>(id);
        Ok(with_conn!(&mut self.conn()?, c => query.get_result(c).optional())?)
    }

    /// Stores an endpoint's level; false when there is no such endpoint. Every instance picks
    /// it up within its writer's poll interval.
    pub fn set_level(&self, id: i64, level: u8) -> Result<bool, StoreError> {
        let query =
            diesel::sql_query(self.sql("UPDATE {p}endpoint SET monitor_level = ? WHERE id = ?"))
                .bind::<Integer, _>(i32::from(level))
                .bind::<BigInt, _>(id);
        // Matched rows on every backend: diesel connects to MySQL with CLIENT_FOUND_ROWS.
        Ok(with_conn!(&mut self.conn()?, c => query.execute(c))? > 0)
    }

    /// The overview: per endpoint, hits and errors since `today` and `week` (microseconds since
    /// the epoch) and overall, and the median durations over the same windows; of one instance
    /// (by id), or of all.
    pub fn overview(
        &self,
        today: i64,
        week: i64,
        instance: Option<i64>,
    ) -> Result<Vec<OverviewRow>, StoreError> {
        self.overview_rows(today, week, instance, None)
    }

    /// The overview's row of one endpoint.
    pub fn overview_of(
        &self,
        id: i64,
        today: i64,
        week: i64,
        instance: Option<i64>,
    ) -> Result<Option<OverviewRow>, StoreError> {
        Ok(self.overview_rows(today, week, instance, Some(id))?.pop())
    }

    fn overview_rows(
        &self,
        today: i64,
        week: i64,
        instance: Option<i64>,
        only: Option<i64>,
    ) -> Result<Vec<OverviewRow>, StoreError> {
        let endpoints = match only {
            Some(id) => self.endpoint(id)?.into_iter().collect(),
            None => self.endpoints()?,
        };
        let mut conn = self.conn()?;
        let d = &self.dialect;
        let instance = instance.unwrap_or(0);
        let hours = hours(&mut conn, d, only, i64::MIN, i64::MAX, instance)?;
        let (low, high) = only.map(|id| (id, id)).unwrap_or((i64::MIN, i64::MAX));
        let groups = diesel::sql_query(d.sql(
            "SELECT endpoint_id, COUNT(DISTINCT stack_trace_snapshot_id) AS n FROM {p}exception_occurrence \
             WHERE endpoint_id BETWEEN ? AND ? GROUP BY endpoint_id",
        ))
        .bind::<BigInt, _>(low)
        .bind::<BigInt, _>(high);
        let groups: Vec<GroupCount> = with_conn!(&mut conn, c => groups.load(c))?;
        // Overall, week and today, earliest first as `windows` wants them.
        let mut starts = [i64::MIN, week, today];
        starts.sort_unstable();
        let index = |t: i64| starts.iter().position(|s| *s == t).unwrap_or(0);
        let (overall_i, week_i, today_i) = (index(i64::MIN), index(week), index(today));
        endpoints
            .into_iter()
            .map(|endpoint| {
                let mine: Vec<&HourRow> = hours
                    .iter()
                    .filter(|h| h.endpoint_id == endpoint.id)
                    .collect();
                let w = windows(&mut conn, d, endpoint.id, &mine, &starts, instance)?;
                let [median_today_ms, p90_today_ms, p99_today_ms] = w[today_i].percentiles();
                let [median_week_ms, p90_week_ms, p99_week_ms] = w[week_i].percentiles();
                let [median_overall_ms, p90_overall_ms, p99_overall_ms] =
                    w[overall_i].percentiles();
                Ok(OverviewRow {
                    hits_today: w[today_i].totals.hits,
                    hits_week: w[week_i].totals.hits,
                    hits_overall: w[overall_i].totals.hits,
                    errors_today: w[today_i].totals.errors,
                    errors_week: w[week_i].totals.errors,
                    errors_overall: w[overall_i].totals.errors,
                    median_today_ms,
                    median_week_ms,
                    median_overall_ms,
                    p90_today_ms,
                    p99_today_ms,
                    p90_week_ms,
                    p99_week_ms,
                    p90_overall_ms,
                    p99_overall_ms,
                    exception_groups: groups
                        .iter()
                        .find(|g| g.endpoint_id == endpoint.id)
                        .map(|g| g.n)
                        .unwrap_or(0),
                    endpoint,
                })
            })
            .collect()
    }

    /// An endpoint's requests, newest first; of one instance (by id), or of all.
    pub fn requests(
        &self,
        endpoint_id: i64,
        instance: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let instance = instance.unwrap_or(0);
        let query = diesel::sql_query(self.sql(&format!(
            "{REQUEST_SELECT} WHERE r.endpoint_id = ? AND {INSTANCE_FILTER} \
             ORDER BY r.time_requested DESC, r.id DESC LIMIT ? OFFSET ?"
        )))
        .bind::<BigInt, _>(endpoint_id)
        .bind::<BigInt, _>(instance)
        .bind::<BigInt, _>(instance)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset);
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// How many requests an endpoint has; of one instance (by id), or of all.
    pub fn request_count(
        &self,
        endpoint_id: i64,
        instance: Option<i64>,
    ) -> Result<i64, StoreError> {
        let instance = instance.unwrap_or(0);
        let query = diesel::sql_query(self.sql(&format!(
            "SELECT COUNT(*) AS n FROM {{p}}request WHERE endpoint_id = ? AND {INSTANCE_FILTER}"
        )))
        .bind::<BigInt, _>(endpoint_id)
        .bind::<BigInt, _>(instance)
        .bind::<BigInt, _>(instance);
        Ok(with_conn!(&mut self.conn()?, c => query.get_result::<Count>(c))?.n)
    }

    /// The instances that wrote to this database, the most recently seen first.
    pub fn instances(&self) -> Result<Vec<InstanceRow>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT id, name, version, started, last_seen, stopped FROM {p}instance ORDER BY last_seen DESC, name",
        ));
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// A dashboard user by name.
    pub fn user(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT id, username, password_hash, is_admin FROM {p}dashboard_user WHERE username = ?",
        ))
        .bind::<Text, _>(username);
        Ok(with_conn!(&mut self.conn()?, c => query.get_result(c).optional())?)
    }

    /// Creates the user, or replaces its password hash and role.
    pub fn upsert_user(
        &self,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let insert = diesel::sql_query(self.sql(
            "{insert_ignore} INTO {p}dashboard_user (username, password_hash, is_admin) VALUES (?, ?, ?){on_conflict_ignore}",
        ))
        .bind::<Text, _>(username)
        .bind::<Text, _>(password_hash)
        .bind::<Integer, _>(i32::from(is_admin));
        with_conn!(&mut conn, c => insert.execute(c))?;
        let update = diesel::sql_query(self.sql(
            "UPDATE {p}dashboard_user SET password_hash = ?, is_admin = ? WHERE username = ?",
        ))
        .bind::<Text, _>(password_hash)
        .bind::<Integer, _>(i32::from(is_admin))
        .bind::<Text, _>(username);
        with_conn!(&mut conn, c => update.execute(c))?;
        Ok(())
    }

    /// How many administrators exist.
    pub fn admin_count(&self) -> Result<i64, StoreError> {
        let query = diesel::sql_query(
            self.sql("SELECT COUNT(*) AS n FROM {p}dashboard_user WHERE is_admin = 1"),
        );
        Ok(with_conn!(&mut self.conn()?, c => query.get_result::<Count>(c))?.n)
    }

    /// The stored value of a setting, storing `value` first when there is none. Concurrent
    /// callers, in this process or others, all get the value that was stored first.
    pub fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let mut conn = self.conn()?;
        let insert = diesel::sql_query(self.sql(
            "{insert_ignore} INTO {p}setting (name, value) VALUES (?, ?){on_conflict_ignore}",
        ))
        .bind::<Text, _>(name)
        .bind::<Text, _>(value);
        with_conn!(&mut conn, c => insert.execute(c))?;
        let select = diesel::sql_query(self.sql("SELECT value FROM {p}setting WHERE name = ?"))
            .bind::<Text, _>(name);
        Ok(with_conn!(&mut conn, c => select.get_result::<Value>(c))?.value)
    }
}
