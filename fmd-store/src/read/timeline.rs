//! Timelines: requests, errors and latency percentiles per time bucket, from the minute
//! rollups for buckets shorter than an hour and from the hourly ones beyond.

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde::Serialize;

use crate::db::with_conn;
use crate::histogram::{Histogram, HOUR};
use crate::read::{bind_filter, Filter};
use crate::store::Store;
use crate::write::rollup::Grain;
use crate::StoreError;

/// The most buckets one timeline has: a year of hours and then some.
pub const MAX_BUCKETS: i64 = 10_000;

/// One bucket of a timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineBucket {
    /// Start of the bucket, microseconds since the epoch.
    pub time: i64,
    /// Requests started in it.
    pub hits: i64,
    /// Of them, answered with status >= 400.
    pub errors: i64,
    /// Median duration in ms (within 2.5 %); `None` without requests.
    pub p50_ms: Option<f64>,
    /// 95th percentile in ms.
    pub p95_ms: Option<f64>,
    /// 99th percentile in ms.
    pub p99_ms: Option<f64>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    start: i64,
    #[diesel(sql_type = BigInt)]
    hits: i64,
    #[diesel(sql_type = BigInt)]
    errors: i64,
    #[diesel(sql_type = Text)]
    histogram: String,
}

/// `t` rounded down to a multiple of `step`.
fn floor(t: i64, step: i64) -> i64 {
    t.checked_sub(t.rem_euclid(step)).unwrap_or(i64::MIN)
}

impl Store {
    /// The requests the filter covers (its endpoint or all, its instance or all), in buckets of
    /// `bucket` microseconds aligned to the epoch, from the one holding `filter.from` to the one
    /// holding the last instant before `filter.to`: every bucket, oldest first, empty ones with
    /// no percentiles. Buckets shorter than an hour are read from the minute rollups, which
    /// hold the last two days (see [`MINUTES_KEPT`](crate::MINUTES_KEPT)); longer ones from the
    /// hourly rollups.
    ///
    /// `bucket` must be a whole number of minutes, and of hours from an hour on; at most
    /// [`MAX_BUCKETS`] buckets.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = fmd_store::Store::open(&format!("sqlite://{}", dir.path().join("f.db").display()), "fmd_").unwrap();
    /// let minute = 60_000_000;
    /// let filter = fmd_store::Filter::all().between(0, 5 * minute);
    /// let buckets = store.timeline(&filter, minute).unwrap();
    /// assert_eq!(buckets.len(), 5);
    /// assert_eq!((buckets[4].time, buckets[4].hits, buckets[4].p95_ms), (4 * minute, 0, None));
    /// ```
    pub fn timeline(
        &self,
        filter: &Filter,
        bucket: i64,
    ) -> Result<Vec<TimelineBucket>, StoreError> {
        let grain = if bucket >= HOUR {
            Grain::Hour
        } else {
            Grain::Minute
        };
        if bucket <= 0 || bucket % grain.width() != 0 {
            return Err(StoreError::Invalid(format!(
                "a timeline's buckets are whole minutes, or whole hours from an hour on; not {bucket} µs"
            )));
        }
        let first = floor(filter.from, bucket);
        let end = floor(filter.to.saturating_sub(1), bucket).saturating_add(bucket);
        let count = (end - first) / bucket;
        if !(0..=MAX_BUCKETS).contains(&count) {
            return Err(StoreError::Invalid(format!(
                "a timeline has at most {MAX_BUCKETS} buckets, not {count}"
            )));
        }
        let filter = filter.between(first, end);
        let column = grain.column();
        let query = bind_filter!(
            diesel::sql_query(self.sql(&format!(
                "SELECT {column} AS start, hits, errors, histogram FROM {{p}}{} WHERE {}",
                grain.table(),
                filter.condition("", column)
            ))),
            &filter
        );
        let rows: Vec<Row> = with_conn!(&mut self.conn()?, c => query.load(c))?;
        let mut sums = vec![(0i64, 0i64, Histogram::default()); count as usize];
        for row in rows {
            let Some(sum) = sums.get_mut(((row.start - first) / bucket) as usize) else {
                continue;
            };
            sum.0 += row.hits;
            sum.1 += row.errors;
            sum.2.merge_encoded(&row.histogram);
        }
        Ok(sums
            .into_iter()
            .enumerate()
            .map(|(i, (hits, errors, h))| {
                let ms = |q| h.quantile(q).map(|us| us / 1000.0);
                TimelineBucket {
                    time: first + i as i64 * bucket,
                    hits,
                    errors,
                    p50_ms: ms(0.5),
                    p95_ms: ms(0.95),
                    p99_ms: ms(0.99),
                }
            })
            .collect())
    }
}

/// One endpoint's requests over a recent window, for the alert rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowStats {
    /// The endpoint.
    pub endpoint_id: i64,
    /// Requests in the window.
    pub hits: i64,
    /// Of them, answered with status >= 400.
    pub errors: i64,
    /// 95th percentile duration in ms (within 2.5 %); `None` without requests.
    pub p95_ms: Option<f64>,
}

#[derive(QueryableByName)]
struct EndpointMinute {
    #[diesel(sql_type = BigInt)]
    endpoint_id: i64,
    #[diesel(sql_type = BigInt)]
    hits: i64,
    #[diesel(sql_type = BigInt)]
    errors: i64,
    #[diesel(sql_type = Text)]
    histogram: String,
}

impl Store {
    /// Every endpoint's requests in the minutes starting at or after `from` (microseconds,
    /// rounded down to its minute), from the minute rollups of every instance: endpoints
    /// without requests there are left out.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = fmd_store::Store::open(&format!("sqlite://{}", dir.path().join("f.db").display()), "fmd_").unwrap();
    /// assert!(store.window_stats(0).unwrap().is_empty());
    /// ```
    pub fn window_stats(&self, from: i64) -> Result<Vec<WindowStats>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT endpoint_id, hits, errors, histogram FROM {p}request_minute \
             WHERE minute_start >= ? ORDER BY endpoint_id",
        ))
        .bind::<BigInt, _>(floor(from, crate::histogram::MINUTE));
        let rows: Vec<EndpointMinute> = with_conn!(&mut self.conn()?, c => query.load(c))?;
        let mut out: Vec<(WindowStats, Histogram)> = Vec::new();
        for row in rows {
            if out
                .last()
                .is_none_or(|(w, _)| w.endpoint_id != row.endpoint_id)
            {
                let stats = WindowStats {
                    endpoint_id: row.endpoint_id,
                    hits: 0,
                    errors: 0,
                    p95_ms: None,
                };
                out.push((stats, Histogram::default()));
            }
            if let Some((w, h)) = out.last_mut() {
                w.hits += row.hits;
                w.errors += row.errors;
                h.merge_encoded(&row.histogram);
            }
        }
        Ok(out
            .into_iter()
            .map(|(mut w, h)| {
                w.p95_ms = h.quantile(0.95).map(|us| us / 1000.0);
                w
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::MINUTE;

    #[test]
    fn buckets_round_outwards() {
        assert_eq!(floor(-1, MINUTE), -MINUTE);
        assert_eq!(floor(MINUTE, MINUTE), MINUTE);
        assert_eq!(floor(i64::MIN, HOUR), i64::MIN);
    }
}
