//! Latency histograms and hourly totals: the arithmetic of the rollups (`{p}request_hour`),
//! with no SQL. The writer adds to them, the dashboard's reads merge them.

use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;

/// One hour in microseconds.
pub const HOUR: i64 = 3_600_000_000;

/// One minute in microseconds.
pub const MINUTE: i64 = 60_000_000;

/// The start of the UTC hour containing `t` (microseconds since the epoch).
pub fn hour_of(t: i64) -> i64 {
    t.checked_sub(t.rem_euclid(HOUR)).unwrap_or(i64::MIN)
}

/// The first hour boundary at or after `t`.
pub(crate) fn hour_ceil(t: i64) -> i64 {
    match t.rem_euclid(HOUR) {
        0 => t,
        rem => t.saturating_add(HOUR - rem),
    }
}

/// Bucket growth factor: each bucket is 5 % wider than the one below it.
const GROWTH: f64 = 1.05;

/// Buckets above this index are merged into it: 1.05^480 µs is more than a week.
const LAST_BUCKET: u16 = 480;

fn bucket(us: u64) -> u16 {
    if us == 0 {
        return 0;
    }
    // Bucket i >= 1 holds [GROWTH^(i-1), GROWTH^i).
    let i = ((us as f64).ln() / GROWTH.ln()).floor() as i64 + 1;
    i.clamp(1, i64::from(LAST_BUCKET)) as u16
}

/// The value a bucket stands for: the geometric middle of its range.
fn bucket_value(i: u16) -> f64 {
    if i == 0 {
        0.0
    } else {
        GROWTH.powf(f64::from(i) - 0.5)
    }
}

/// A latency histogram with logarithmic buckets, and the exact extremes.
///
/// ```
/// use fmd_store::Histogram;
/// let mut h = Histogram::default();
/// for ms in 1..=100u64 {
///     h.add(ms * 1000);
/// }
/// let median = h.quantile(0.5).unwrap();
/// assert!((median - 50_500.0).abs() / 50_500.0 < 0.03, "{median}");
/// assert_eq!(h.quantile(1.0), Some(100_000.0));
/// assert_eq!(Histogram::decode(&h.encode()), h);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    counts: BTreeMap<u16, u64>,
    total: u64,
    min: u64,
    max: u64,
}

impl Histogram {
    /// Adds one duration, in microseconds.
    pub fn add(&mut self, us: u64) {
        *self.counts.entry(bucket(us)).or_default() += 1;
        self.note(us, us, 1);
    }

    fn note(&mut self, min: u64, max: u64, n: u64) {
        if self.total == 0 {
            (self.min, self.max) = (min, max);
        } else {
            self.min = self.min.min(min);
            self.max = self.max.max(max);
        }
        self.total += n;
    }

    /// Adds everything in `other`.
    pub fn merge(&mut self, other: &Histogram) {
        if other.total == 0 {
            return;
        }
        for (i, n) in &other.counts {
            *self.counts.entry(*i).or_default() += n;
        }
        self.note(other.min, other.max, other.total);
    }

    /// How many durations it holds.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (0 to 1) in microseconds: exact at 0 and 1, otherwise the middle of the
    /// bucket holding it (within 2.5 %), kept between the minimum and the maximum.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        if q == 0.0 {
            return Some(self.min as f64);
        }
        if q == 1.0 {
            return Some(self.max as f64);
        }
        let rank = (q * (self.total - 1) as f64).floor() as u64;
        let mut seen = 0;
        for (i, n) in &self.counts {
            seen += n;
            if seen > rank {
                return Some(bucket_value(*i).clamp(self.min as f64, self.max as f64));
            }
        }
        Some(self.max as f64)
    }

    /// The box-plot summary, in milliseconds; `None` when empty.
    pub fn box_stats(&self) -> Option<fmd_core::stats::BoxStats> {
        fmd_core::stats::BoxStats::from_quantiles(self.total, |q| {
            self.quantile(q).map(|us| us / 1000.0)
        })
    }

    /// The stored form: `min;max;bucket:count,bucket:count,...`.
    pub fn encode(&self) -> String {
        let mut out = format!("{};{};", self.min, self.max);
        for (n, (i, c)) in self.counts.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(&format!("{i}:{c}"));
        }
        out
    }

    /// Reads [`Histogram::encode`]'s form; malformed parts are skipped.
    pub fn decode(text: &str) -> Histogram {
        let mut h = Histogram::default();
        h.merge_encoded(text);
        h
    }

    /// Adds a histogram in its stored form without building it first.
    pub(crate) fn merge_encoded(&mut self, text: &str) {
        let mut parts = text.splitn(3, ';');
        let (Some(min), Some(max), Some(buckets)) = (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let (Ok(min), Ok(max)) = (min.parse::<u64>(), max.parse::<u64>()) else {
            return;
        };
        let mut n = 0;
        for pair in buckets.split(',') {
            let Some((i, c)) = pair.split_once(':') else {
                continue;
            };
            if let (Ok(i), Ok(c)) = (i.parse::<u16>(), c.parse::<u64>()) {
                *self.counts.entry(i.min(LAST_BUCKET)).or_default() += c;
                n += c;
            }
        }
        if n > 0 {
            self.note(min, max, n);
        }
    }
}

/// What a set of requests adds up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Totals {
    /// Requests.
    pub(crate) hits: i64,
    /// Requests answered with status >= 400.
    pub(crate) errors: i64,
    /// Sum of the durations, microseconds.
    pub(crate) sum_us: i64,
    /// The durations.
    pub(crate) histogram: Histogram,
    /// Requests per status code.
    pub(crate) codes: BTreeMap<i32, i64>,
}

impl Totals {
    /// Adds one request.
    pub(crate) fn add(&mut self, duration_us: u64, status: i32) {
        self.hits += 1;
        self.errors += i64::from(status >= 400);
        self.sum_us = self
            .sum_us
            .saturating_add(duration_us.min(i64::MAX as u64) as i64);
        self.histogram.add(duration_us);
        *self.codes.entry(status).or_default() += 1;
    }

    /// Adds `other`.
    pub(crate) fn merge(&mut self, other: &Totals) {
        self.hits += other.hits;
        self.errors += other.errors;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.histogram.merge(&other.histogram);
        for (code, n) in &other.codes {
            *self.codes.entry(*code).or_default() += n;
        }
    }

    /// The `q` quantile in milliseconds.
    pub(crate) fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.histogram.quantile(q).map(|us| us / 1000.0)
    }
}

/// One stored hour.
#[derive(Debug, Clone, QueryableByName)]
pub(crate) struct HourRow {
    /// The endpoint.
    #[diesel(sql_type = BigInt)]
    pub(crate) endpoint_id: i64,
    /// Start of the UTC hour, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub(crate) hour_start: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) hits: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) errors: i64,
    #[diesel(sql_type = BigInt)]
    sum_us: i64,
    #[diesel(sql_type = Text)]
    histogram: String,
    #[diesel(sql_type = Nullable<Text>)]
    codes: Option<String>,
}

/// Status-code counts in their stored form: `code:count,code:count,...`.
pub(crate) fn encode_codes(codes: &BTreeMap<i32, i64>) -> String {
    let parts: Vec<String> = codes.iter().map(|(c, n)| format!("{c}:{n}")).collect();
    parts.join(",")
}

/// Adds counts in [`encode_codes`]' form to `into`; malformed parts are skipped.
pub(crate) fn merge_codes(into: &mut BTreeMap<i32, i64>, text: &str) {
    for pair in text.split(',') {
        if let Some((Ok(code), Ok(n))) = pair
            .split_once(':')
            .map(|(c, n)| (c.parse::<i32>(), n.parse::<i64>()))
        {
            *into.entry(code).or_default() += n;
        }
    }
}

impl HourRow {
    /// The hour's figures.
    pub(crate) fn totals(&self) -> Totals {
        Totals {
            hits: self.hits,
            errors: self.errors,
            sum_us: self.sum_us,
            histogram: Histogram::decode(&self.histogram),
            codes: {
                let mut codes = BTreeMap::new();
                merge_codes(&mut codes, self.codes.as_deref().unwrap_or_default());
                codes
            },
        }
    }

    /// Adds the hour's counts and durations to `into` (not its status codes, which the overview
    /// does not show) without decoding into a histogram of its own.
    pub(crate) fn add_to(&self, into: &mut Totals) {
        into.hits += self.hits;
        into.errors += self.errors;
        into.sum_us = into.sum_us.saturating_add(self.sum_us);
        into.histogram.merge_encoded(&self.histogram);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_bucket_width() {
        let mut h = Histogram::default();
        for us in 1..=10_000u64 {
            h.add(us * 7);
        }
        for q in [0.1, 0.5, 0.9, 0.99] {
            let exact = 7.0 * (q * 9_999.0 + 1.0);
            let got = h.quantile(q).unwrap();
            assert!(
                (got - exact).abs() / exact < 0.026,
                "q {q}: {got} vs {exact}"
            );
        }
        assert_eq!(h.quantile(0.0), Some(7.0));
        assert_eq!(h.quantile(1.0), Some(70_000.0));
    }

    #[test]
    fn one_value_is_exact_and_merging_adds() {
        let mut a = Histogram::default();
        a.add(12_345);
        assert_eq!(a.quantile(0.5), Some(12_345.0));
        let mut b = Histogram::default();
        b.add(0);
        b.add(u64::MAX);
        a.merge(&b);
        assert_eq!(
            (a.count(), a.quantile(0.0), a.quantile(1.0)),
            (3, Some(0.0), Some(u64::MAX as f64))
        );
        assert_eq!(Histogram::decode(&a.encode()), a);
        assert_eq!(Histogram::decode("garbage").count(), 0);
        assert_eq!(Histogram::decode("1;2;x:1,3:y").count(), 0);
    }

    #[test]
    fn hours_round_down_and_up() {
        assert_eq!(hour_of(HOUR + 5), HOUR);
        assert_eq!(hour_of(-5), -HOUR);
        assert_eq!(hour_ceil(HOUR + 5), 2 * HOUR);
        assert_eq!(hour_ceil(HOUR), HOUR);
        assert_eq!(hour_of(i64::MIN), i64::MIN);
        assert_eq!(hour_ceil(i64::MAX), i64::MAX);
    }
}
