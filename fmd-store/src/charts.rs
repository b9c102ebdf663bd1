//! What the dashboard's charts read: hourly counts and latency histograms from the rollups,
//! and, for charts split by user or address, one endpoint's request rows.

use std::collections::{BTreeMap, HashMap};

use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde::Serialize;

use crate::db::{with_conn, AnyConn, Store};
use crate::queries::{RequestRow, INSTANCE_FILTER, REQUEST_SELECT};
use crate::rollup::{hours_query, merge_codes, Histogram};
use crate::StoreError;

/// The requests of one endpoint, UTC hour and version (all instances, or one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourCount {
    /// The endpoint.
    pub endpoint_id: i64,
    /// Start of the UTC hour, microseconds since the epoch.
    pub hour_start: i64,
    /// The application version that served them.
    pub version: String,
    /// Requests.
    pub hits: i64,
    /// Requests answered with status >= 400.
    pub errors: i64,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    endpoint_id: i64,
    #[diesel(sql_type = BigInt)]
    hour_start: i64,
    #[diesel(sql_type = Text)]
    version_requested: String,
    #[diesel(sql_type = BigInt)]
    hits: i64,
    #[diesel(sql_type = BigInt)]
    errors: i64,
}

#[derive(QueryableByName)]
struct HistogramRow {
    #[diesel(sql_type = BigInt)]
    endpoint_id: i64,
    #[diesel(sql_type = Text)]
    version_requested: String,
    #[diesel(sql_type = Text)]
    histogram: String,
}

/// One request as the per-user and per-address charts need it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Sample {
    /// The group-by value (the user), if any.
    #[diesel(sql_type = Nullable<Text>)]
    pub group_by: Option<String>,
    /// The client address.
    #[diesel(sql_type = Nullable<Text>)]
    pub ip: Option<String>,
    /// The application version.
    #[diesel(sql_type = Text)]
    pub version_requested: String,
    /// Duration in microseconds.
    #[diesel(sql_type = BigInt)]
    pub duration_us: i64,
}

#[derive(QueryableByName)]
struct CodesRow {
    #[diesel(sql_type = Nullable<Text>)]
    codes: Option<String>,
}

/// The SQL condition selecting one version, or all when the bound flag is 0. Bind the flag
/// (integer) and the version (text).
const VERSION_FILTER: &str = "(? = 0 OR version_requested = ?)";

/// The SQL condition on `instance_id` selecting one instance, with its bound value. For all
/// instances it is `? = 0` (bound 0), which keeps a count on the (endpoint, time) index alone.
fn instance_condition(instance: Option<i64>) -> (&'static str, i64) {
    match instance {
        Some(id) => ("instance_id = ?", id),
        None => ("? = 0", 0),
    }
}

impl Store {
    /// How many of one endpoint's requests started in `[from, to)`, of one instance or all.
    fn count_requests(
        &self,
        conn: &mut AnyConn,
        endpoint: i64,
        from: i64,
        to: i64,
        instance: Option<i64>,
    ) -> Result<i64, StoreError> {
        let (filter, bound) = instance_condition(instance);
        let count = diesel::sql_query(self.sql(&format!(
            "SELECT COUNT(*) AS n FROM {{p}}request \
             WHERE endpoint_id = ? AND time_requested >= ? AND time_requested < ? AND {filter}"
        )))
        .bind::<BigInt, _>(endpoint)
        .bind::<BigInt, _>(from)
        .bind::<BigInt, _>(to)
        .bind::<BigInt, _>(bound);
        Ok(with_conn!(conn, c => count.get_result::<crate::queries::Count>(c))?.n)
    }

    /// Requests per endpoint, UTC hour and version for the hours starting in `[from, to)`
    /// (microseconds since the epoch); of one endpoint or all, of one instance or all.
    pub fn hour_counts(
        &self,
        endpoint: Option<i64>,
        from: i64,
        to: i64,
        instance: Option<i64>,
    ) -> Result<Vec<HourCount>, StoreError> {
        let query = hours_query!(
            self.dialect,
            "endpoint_id, hour_start, version_requested, hits, errors",
            endpoint,
            from,
            to,
            instance.unwrap_or(0)
        );
        let rows: Vec<CountRow> = with_conn!(&mut self.conn()?, c => query.load(c))?;
        // Instances have rows of their own: add them up per endpoint, hour and version.
        let mut merged: HashMap<(i64, i64, String), (i64, i64)> = HashMap::new();
        for r in rows {
            let e = merged
                .entry((r.endpoint_id, r.hour_start, r.version_requested))
                .or_default();
            e.0 += r.hits;
            e.1 += r.errors;
        }
        let mut out: Vec<HourCount> = merged
            .into_iter()
            .map(
                |((endpoint_id, hour_start, version), (hits, errors))| HourCount {
                    endpoint_id,
                    hour_start,
                    version,
                    hits,
                    errors,
                },
            )
            .collect();
        out.sort_by(|a, b| {
            (a.hour_start, a.endpoint_id, &a.version).cmp(&(
                b.hour_start,
                b.endpoint_id,
                &b.version,
            ))
        });
        Ok(out)
    }

    /// Latency histograms per endpoint and version over the hours starting in `[from, to)`;
    /// of one endpoint or all, of one instance or all.
    pub fn histograms(
        &self,
        endpoint: Option<i64>,
        from: i64,
        to: i64,
        instance: Option<i64>,
    ) -> Result<Vec<(i64, String, Histogram)>, StoreError> {
        let query = hours_query!(
            self.dialect,
            "endpoint_id, version_requested, histogram",
            endpoint,
            from,
            to,
            instance.unwrap_or(0)
        );
        let rows: Vec<HistogramRow> = with_conn!(&mut self.conn()?, c => query.load(c))?;
        let mut merged: HashMap<(i64, String), Histogram> = HashMap::new();
        for r in rows {
            merged
                .entry((r.endpoint_id, r.version_requested))
                .or_default()
                .merge_encoded(&r.histogram);
        }
        let mut out: Vec<(i64, String, Histogram)> =
            merged.into_iter().map(|((e, v), h)| (e, v, h)).collect();
        out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Ok(out)
    }

    /// One endpoint's requests in `[from, to)` (user, address, version and duration), and how
    /// many there are. Beyond `limit` requests, an even sample of about `limit` of them: every
    /// n-th by id, which the index answers without reading the rows it skips.
    pub fn samples(
        &self,
        endpoint: i64,
        from: i64,
        to: i64,
        instance: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<Sample>, i64), StoreError> {
        let mut conn = self.conn()?;
        let total = self.count_requests(&mut conn, endpoint, from, to, instance)?;
        let (filter, bound) = instance_condition(instance);
        let every = (total + limit.max(1) - 1) / limit.max(1);
        let query = diesel::sql_query(self.sql(&format!(
            "SELECT group_by, ip, version_requested, duration_us FROM {{p}}request \
             WHERE endpoint_id = ? AND time_requested >= ? AND time_requested < ? AND {filter} \
             AND id % ? = 0"
        )))
        .bind::<BigInt, _>(endpoint)
        .bind::<BigInt, _>(from)
        .bind::<BigInt, _>(to)
        .bind::<BigInt, _>(bound)
        .bind::<BigInt, _>(every.max(1));
        let rows = with_conn!(&mut conn, c => query.load(c))?;
        Ok((rows, total))
    }

    /// How often one endpoint answered each status code in the hours starting in `[from, to)`,
    /// most frequent first (from the rollups); of one instance or all, of one version or all.
    pub fn status_counts(
        &self,
        endpoint: i64,
        from: i64,
        to: i64,
        instance: Option<i64>,
        version: Option<&str>,
    ) -> Result<Vec<(i32, i64)>, StoreError> {
        let instance = instance.unwrap_or(0);
        let query = diesel::sql_query(self.sql(&format!(
            "SELECT codes FROM {{p}}request_hour \
             WHERE endpoint_id = ? AND hour_start >= ? AND hour_start < ? AND {INSTANCE_FILTER} \
             AND {VERSION_FILTER}"
        )))
        .bind::<BigInt, _>(endpoint)
        .bind::<BigInt, _>(from)
        .bind::<BigInt, _>(to)
        .bind::<BigInt, _>(instance)
        .bind::<BigInt, _>(instance)
        .bind::<Integer, _>(i32::from(version.is_some()))
        .bind::<Text, _>(version.unwrap_or_default());
        let rows: Vec<CodesRow> = with_conn!(&mut self.conn()?, c => query.load(c))?;
        let mut codes = BTreeMap::new();
        for r in rows {
            merge_codes(&mut codes, r.codes.as_deref().unwrap_or_default());
        }
        let mut out: Vec<(i32, i64)> = codes.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// One endpoint's latest requests answered with status >= 400 in `[from, to)`, newest
    /// first.
    pub fn error_requests(
        &self,
        endpoint: i64,
        from: i64,
        to: i64,
        instance: Option<i64>,
        limit: i64,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let instance = instance.unwrap_or(0);
        let query = diesel::sql_query(self.sql(&format!(
            "{REQUEST_SELECT} WHERE r.endpoint_id = ? AND r.time_requested >= ? AND r.time_requested < ? \
               AND r.status_code >= 400 AND {INSTANCE_FILTER} \
             ORDER BY r.time_requested DESC, r.id DESC LIMIT ?"
        )))
        .bind::<BigInt, _>(endpoint)
        .bind::<BigInt, _>(from)
        .bind::<BigInt, _>(to)
        .bind::<BigInt, _>(instance)
        .bind::<BigInt, _>(instance)
        .bind::<BigInt, _>(limit);
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// One endpoint's durations (microseconds) in `[from, to)`, of one version or all, and how
    /// many there are; beyond `limit`, an even sample of about `2 * limit` (every n-th by id),
    /// for the caller to draw a random `limit` from.
    ///
    /// Both the count and the sample stay on the (endpoint, time) index as far as they can: the
    /// count of all versions is the index's, a version's comes from the rollups, which also
    /// narrow the time range to the hours the version served.
    pub fn durations(
        &self,
        endpoint: i64,
        from: i64,
        to: i64,
        version: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<i64>, i64), StoreError> {
        let mut conn = self.conn()?;
        let (from, to, total) = match version {
            None => (
                from,
                to,
                self.count_requests(&mut conn, endpoint, from, to, None)?,
            ),
            Some(v) => {
                let hours = diesel::sql_query(self.sql(
                    "SELECT hour_start, hits FROM {p}request_hour \
                     WHERE endpoint_id = ? AND version_requested = ? AND hour_start >= ? AND hour_start < ?",
                ))
                .bind::<BigInt, _>(endpoint)
                .bind::<Text, _>(v)
                .bind::<BigInt, _>(crate::rollup::hour_of(from))
                .bind::<BigInt, _>(to);
                let hours: Vec<HourHits> = with_conn!(&mut conn, c => hours.load(c))?;
                let (Some(first), Some(last)) = (
                    hours.iter().map(|h| h.hour_start).min(),
                    hours.iter().map(|h| h.hour_start).max(),
                ) else {
                    return Ok((Vec::new(), 0));
                };
                let end = last.saturating_add(crate::rollup::HOUR);
                (
                    from.max(first),
                    to.min(end),
                    hours.iter().map(|h| h.hits).sum(),
                )
            }
        };
        // Twice the limit, so that the ids' uneven spread still leaves at least `limit`.
        let every = (total / (2 * limit.max(1))).max(1);
        let select = "SELECT duration_us FROM {p}request \
             WHERE endpoint_id = ? AND time_requested >= ? AND time_requested < ? AND id % ? = 0";
        let rows: Vec<Duration> = match version {
            None => {
                let q = diesel::sql_query(self.sql(select))
                    .bind::<BigInt, _>(endpoint)
                    .bind::<BigInt, _>(from)
                    .bind::<BigInt, _>(to)
                    .bind::<BigInt, _>(every);
                with_conn!(&mut conn, c => q.load(c))?
            }
            Some(v) => {
                let q = diesel::sql_query(self.sql(&format!("{select} AND version_requested = ?")))
                    .bind::<BigInt, _>(endpoint)
                    .bind::<BigInt, _>(from)
                    .bind::<BigInt, _>(to)
                    .bind::<BigInt, _>(every)
                    .bind::<Text, _>(v);
                with_conn!(&mut conn, c => q.load(c))?
            }
        };
        Ok((rows.into_iter().map(|r| r.duration_us).collect(), total))
    }

    /// Every version that served a request, with the start of the first hour it did, the
    /// earliest first.
    pub fn versions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT version_requested, MIN(hour_start) AS first_hour FROM {p}request_hour \
             GROUP BY version_requested",
        ));
        let rows: Vec<VersionRow> = with_conn!(&mut self.conn()?, c => query.load(c))?;
        let mut out: Vec<(String, i64)> = rows
            .into_iter()
            .map(|r| (r.version_requested, r.first_hour))
            .collect();
        out.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        Ok(out)
    }
}

#[derive(QueryableByName)]
struct HourHits {
    #[diesel(sql_type = BigInt)]
    hour_start: i64,
    #[diesel(sql_type = BigInt)]
    hits: i64,
}

#[derive(QueryableByName)]
struct Duration {
    #[diesel(sql_type = BigInt)]
    duration_us: i64,
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = Text)]
    version_requested: String,
    #[diesel(sql_type = BigInt)]
    first_hour: i64,
}
