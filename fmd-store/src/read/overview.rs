//! The overview and the endpoint list, an endpoint's requests, and the instances.

use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{OptionalExtension, QueryableByName, RunQueryDsl};
use serde::Serialize;

use crate::db::{with_conn, AnyConn, Dialect};
use crate::histogram::{hour_ceil, hour_of, HourRow, Totals, HOUR};
use crate::read::{bind_filter, count_requests, hours, timed, Filter, EXACT_LIMIT, REQUEST_SELECT};
use crate::store::Store;
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
    /// Time spent serving it in the last 7 days: the sum of the durations, in ms.
    pub time_week_ms: f64,
    /// Requests per UTC hour over the last 24 hours, oldest first, the current hour last.
    pub hits_24h: Vec<i64>,
    /// Of them, answered with status >= 400.
    pub errors_24h: Vec<i64>,
}

/// Which of a filter's requests a list shows, and in what order. The default shows all, newest
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestView {
    /// Slowest first (then newest) instead of newest first.
    pub slowest_first: bool,
    /// Only requests that took at least this long, in microseconds.
    pub min_duration_us: i64,
    /// Only status codes from the first to the second, both included.
    pub status: (i32, i32),
}

impl Default for RequestView {
    fn default() -> Self {
        RequestView {
            slowest_first: false,
            min_duration_us: 0,
            status: (0, 999),
        }
    }
}

/// The condition of a [`RequestView`] on `{p}request r`: three placeholders, which
/// [`bind_view!`] binds.
pub(crate) const VIEW_CONDITION: &str = "r.duration_us >= ? AND r.status_code BETWEEN ? AND ?";

/// `bind_view!(query, &view)`: binds the values of [`VIEW_CONDITION`]'s placeholders.
macro_rules! bind_view {
    ($query:expr, $view:expr) => {{
        use diesel::sql_types::{BigInt, Integer};
        let view: &$crate::read::overview::RequestView = $view;
        $query
            .bind::<BigInt, _>(view.min_duration_us)
            .bind::<Integer, _>(view.status.0)
            .bind::<Integer, _>(view.status.1)
    }};
}
pub(crate) use bind_view;

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

const ENDPOINT_COLUMNS: &str =
    "id, name, module_path, file, line, monitor_level, time_added, version_added, last_requested";

#[derive(QueryableByName)]
struct GroupCount {
    #[diesel(sql_type = BigInt)]
    endpoint_id: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
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
    hours: &[&HourRow],
    starts: &[i64],
    filter: Filter,
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
            for r in timed(conn, d, &filter.between(*start, edge))? {
                w.totals.add(r.duration_us.max(0) as u64, r.status_code);
            }
        }
    }
    // The earliest window small enough to read exactly; every later one is inside it.
    if let Some(first) = out
        .iter()
        .position(|w| w.totals.hits > 0 && w.totals.hits <= EXACT_LIMIT)
    {
        let rows = timed(conn, d, &filter.between(starts[first], i64::MAX))?;
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
        let hours = hours(
            &mut conn,
            d,
            &Filter {
                endpoint: only,
                ..Filter::all()
            }
            .on_instance(instance),
        )?;
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
        let first_hour = hour_of(fmd_core::now_micros()) - 23 * HOUR;
        endpoints
            .into_iter()
            .map(|endpoint| {
                let mine: Vec<&HourRow> = hours
                    .iter()
                    .filter(|h| h.endpoint_id == endpoint.id)
                    .collect();
                let filter = Filter::endpoint(endpoint.id).on_instance(instance);
                let w = windows(&mut conn, d, &mine, &starts, filter)?;
                let [median_today_ms, p90_today_ms, p99_today_ms] = w[today_i].percentiles();
                let [median_week_ms, p90_week_ms, p99_week_ms] = w[week_i].percentiles();
                let [median_overall_ms, p90_overall_ms, p99_overall_ms] =
                    w[overall_i].percentiles();
                let (mut hits_24h, mut errors_24h) = (vec![0; 24], vec![0; 24]);
                for h in &mine {
                    if let Ok(i @ 0..24) = usize::try_from((h.hour_start - first_hour) / HOUR) {
                        hits_24h[i] += h.hits;
                        errors_24h[i] += h.errors;
                    }
                }
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
                    time_week_ms: w[week_i].totals.sum_us as f64 / 1000.0,
                    hits_24h,
                    errors_24h,
                    endpoint,
                })
            })
            .collect()
    }

    /// The requests the filter covers, newest first, `limit` of them after skipping `offset`.
    pub fn requests(
        &self,
        filter: &Filter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<RequestRow>, StoreError> {
        self.requests_in_view(filter, &RequestView::default(), offset, limit)
    }

    /// The requests the filter and the view cover, in the view's order, `limit` of them after
    /// skipping `offset`.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = fmd_store::Store::open(&format!("sqlite://{}", dir.path().join("f.db").display()), "fmd_").unwrap();
    /// let view = fmd_store::RequestView { slowest_first: true, min_duration_us: 1_000_000, status: (500, 599) };
    /// assert!(store.requests_in_view(&fmd_store::Filter::endpoint(1), &view, 0, 10).unwrap().is_empty());
    /// ```
    pub fn requests_in_view(
        &self,
        filter: &Filter,
        view: &RequestView,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let order = if view.slowest_first {
            "r.duration_us DESC, r.id DESC"
        } else {
            "r.time_requested DESC, r.id DESC"
        };
        let query = bind_view!(
            bind_filter!(
                diesel::sql_query(self.sql(&format!(
                "{REQUEST_SELECT} WHERE {} AND {VIEW_CONDITION} ORDER BY {order} LIMIT ? OFFSET ?",
                filter.condition("r.", "time_requested")
            ))),
                filter
            ),
            view
        )
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset);
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// How many requests the filter covers.
    pub fn request_count(&self, filter: &Filter) -> Result<i64, StoreError> {
        let mut conn = self.conn()?;
        count_requests(&mut conn, &self.dialect, filter)
    }

    /// How many requests the filter and the view cover.
    pub fn request_count_in_view(
        &self,
        filter: &Filter,
        view: &RequestView,
    ) -> Result<i64, StoreError> {
        if *view == RequestView::default() {
            return self.request_count(filter);
        }
        let query = bind_view!(
            bind_filter!(
                diesel::sql_query(self.sql(&format!(
                    "SELECT COUNT(*) AS n FROM {{p}}request r WHERE {} AND {VIEW_CONDITION}",
                    filter.condition("r.", "time_requested")
                ))),
                filter
            ),
            view
        );
        Ok(with_conn!(&mut self.conn()?, c => query.get_result::<crate::rows::Count>(c))?.n)
    }

    /// The instances that wrote to this database, the most recently seen first.
    pub fn instances(&self) -> Result<Vec<InstanceRow>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT id, name, version, started, last_seen, stopped FROM {p}instance ORDER BY last_seen DESC, name",
        ));
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }
}
