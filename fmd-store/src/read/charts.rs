//! What the dashboard's charts read: hourly counts and latency histograms from the rollups,
//! and, for charts split by user or address, one endpoint's request rows.

use std::collections::{BTreeMap, HashMap};

use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde::Serialize;

use crate::db::with_conn;
use crate::histogram::{hour_of, merge_codes, Histogram, HOUR};
use crate::read::overview::RequestRow;
use crate::read::{bind_filter, count_requests, hours_query, Filter, REQUEST_SELECT};
use crate::store::Store;
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
impl Store {
    /// Requests per endpoint, UTC hour and version for the hours the filter covers.
    pub fn hour_counts(&self, filter: &Filter) -> Result<Vec<HourCount>, StoreError> {
        let query = hours_query!(
            self.dialect,
            "endpoint_id, hour_start, version_requested, hits, errors",
            filter
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

    /// Latency histograms per endpoint and version over the hours the filter covers.
    pub fn histograms(&self, filter: &Filter) -> Result<Vec<(i64, String, Histogram)>, StoreError> {
        let query = hours_query!(
            self.dialect,
            "endpoint_id, version_requested, histogram",
            filter
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

    /// The requests the filter covers (user, address, version and duration), and how many
    /// there are. Beyond `limit` requests, an even sample of about `limit` of them: every n-th
    /// by id, which the index answers without reading the rows it skips.
    pub fn samples(&self, filter: &Filter, limit: i64) -> Result<(Vec<Sample>, i64), StoreError> {
        let mut conn = self.conn()?;
        let total = count_requests(&mut conn, &self.dialect, filter)?;
        let every = (total + limit.max(1) - 1) / limit.max(1);
        let query = bind_filter!(
            diesel::sql_query(self.sql(&format!(
                "SELECT group_by, ip, version_requested, duration_us FROM {{p}}request \
                 WHERE {} AND id % ? = 0",
                filter.condition("", "time_requested")
            ))),
            filter
        )
        .bind::<BigInt, _>(every.max(1));
        let rows = with_conn!(&mut conn, c => query.load(c))?;
        Ok((rows, total))
    }

    /// How often each status code was answered in the hours the filter covers, most frequent
    /// first (from the rollups); of one version or all.
    pub fn status_counts(
        &self,
        filter: &Filter,
        version: Option<&str>,
    ) -> Result<Vec<(i32, i64)>, StoreError> {
        let query = bind_filter!(
            diesel::sql_query(self.sql(&format!(
                "SELECT codes FROM {{p}}request_hour WHERE {} AND {VERSION_FILTER}",
                filter.condition("", "hour_start")
            ))),
            filter
        )
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

    /// The latest of the filter's requests answered with status >= 400, newest first.
    pub fn error_requests(
        &self,
        filter: &Filter,
        limit: i64,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let query = bind_filter!(
            diesel::sql_query(self.sql(&format!(
                "{REQUEST_SELECT} WHERE {} AND r.status_code >= 400 \
                 ORDER BY r.time_requested DESC, r.id DESC LIMIT ?",
                filter.condition("r.", "time_requested")
            ))),
            filter
        )
        .bind::<BigInt, _>(limit);
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// The durations (microseconds) of the requests the filter covers, of one version or all,
    /// and how many there are; beyond `limit`, an even sample of about `2 * limit` (every n-th
    /// by id), for the caller to draw a random `limit` from.
    ///
    /// Both the count and the sample stay on the (endpoint, time) index as far as they can: the
    /// count of all versions is the index's, a version's comes from the rollups, which also
    /// narrow the time range to the hours the version served.
    pub fn durations(
        &self,
        filter: &Filter,
        version: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<i64>, i64), StoreError> {
        let mut conn = self.conn()?;
        let (filter, total) = match version {
            None => (*filter, count_requests(&mut conn, &self.dialect, filter)?),
            Some(v) => {
                let hourly = filter.between(hour_of(filter.from), filter.to);
                let hours = bind_filter!(
                    diesel::sql_query(self.sql(&format!(
                        "SELECT hour_start, hits FROM {{p}}request_hour \
                         WHERE {} AND version_requested = ?",
                        hourly.condition("", "hour_start")
                    ))),
                    &hourly
                )
                .bind::<Text, _>(v);
                let hours: Vec<HourHits> = with_conn!(&mut conn, c => hours.load(c))?;
                let (Some(first), Some(last)) = (
                    hours.iter().map(|h| h.hour_start).min(),
                    hours.iter().map(|h| h.hour_start).max(),
                ) else {
                    return Ok((Vec::new(), 0));
                };
                let end = last.saturating_add(HOUR);
                (
                    filter.between(filter.from.max(first), filter.to.min(end)),
                    hours.iter().map(|h| h.hits).sum(),
                )
            }
        };
        // Twice the limit, so that the ids' uneven spread still leaves at least `limit`.
        let every = (total / (2 * limit.max(1))).max(1);
        // Without a version the condition names no column outside the index.
        let version_condition = match version {
            Some(_) => "version_requested = ?",
            None => "? = ''",
        };
        let select = format!(
            "SELECT duration_us FROM {{p}}request WHERE {} AND id % ? = 0 AND {version_condition}",
            filter.condition("", "time_requested")
        );
        let q = bind_filter!(diesel::sql_query(self.sql(&select)), &filter)
            .bind::<BigInt, _>(every)
            .bind::<Text, _>(version.unwrap_or_default());
        let rows: Vec<Duration> = with_conn!(&mut conn, c => q.load(c))?;
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
