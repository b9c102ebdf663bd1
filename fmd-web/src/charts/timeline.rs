//! Timelines: requests, the error rate and latency percentiles per minute, five minutes or
//! hour, over a range that ends now (`range=1h` ... `30d`) or over whole days (`from`, `to`).

use chrono_tz::Tz;
use serde_json::{json, Value};

use fmd_store::{TimelineBucket, HOUR, MINUTE, MINUTES_KEPT};

use super::Range;
use crate::error::BadRequest;
use crate::time::rfc3339;

/// The ranges that end now: name, length, bucket.
pub(crate) const RANGES: [(&str, i64, i64); 5] = [
    ("1h", HOUR, MINUTE),
    ("6h", 6 * HOUR, MINUTE),
    ("24h", 24 * HOUR, 5 * MINUTE),
    ("7d", 7 * 24 * HOUR, HOUR),
    ("30d", 30 * 24 * HOUR, HOUR),
];

/// The range a timeline shows when none is asked for.
pub(crate) const DEFAULT_RANGE: &str = "24h";

/// What a timeline covers: `[start, end)` in buckets of `bucket` microseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Window {
    /// The name of a range that ends now, or `None` for whole days.
    pub(crate) range: Option<&'static str>,
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) bucket: i64,
    pub(crate) tz: Tz,
}

impl Window {
    /// `range` (one of [`RANGES`], by default [`DEFAULT_RANGE`]) or whole days `from`..`to`
    /// as the other charts take them; not both. A range ends with the bucket holding `now`. Days
    /// get five-minute buckets when there is one day and its minutes are still kept, else hours.
    pub(crate) fn parse(
        range: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: i64,
        tz: Tz,
    ) -> Result<Window, BadRequest> {
        if range.is_some() && (from.is_some() || to.is_some()) {
            return Err("send either range or from/to, not both".into());
        }
        if from.is_some() || to.is_some() {
            let days = Range::parse(from, to, now, tz)?;
            let one_day = days.from == days.to;
            let bucket = if one_day && days.start >= now - MINUTES_KEPT {
                5 * MINUTE
            } else {
                HOUR
            };
            return Ok(Window {
                range: None,
                start: days.start,
                end: days.end,
                bucket,
                tz,
            });
        }
        let wanted = range.unwrap_or(DEFAULT_RANGE);
        let (name, length, bucket) = RANGES
            .iter()
            .find(|(name, _, _)| *name == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = RANGES.iter().map(|r| r.0).collect();
                format!("range must be one of {}, not {wanted:?}", names.join(", "))
            })?;
        let end = now - now.rem_euclid(*bucket) + bucket;
        Ok(Window {
            range: Some(name),
            start: end - length,
            end,
            bucket: *bucket,
            tz,
        })
    }

    /// Whether the window reaches the present: its page keeps it up to date.
    pub(crate) fn live(&self, now: i64) -> bool {
        self.end > now
    }

    /// The answer of the timeline routes.
    pub(crate) fn answer(&self, buckets: &[TimelineBucket], now: i64) -> Value {
        let round = |v: Option<f64>| v.map(|ms| (ms * 1000.0).round() / 1000.0);
        json!({
            "range": self.range,
            "start": rfc3339(self.start),
            "end": rfc3339(self.end),
            "timezone": self.tz.name(),
            "bucket_seconds": self.bucket / 1_000_000,
            "live": self.live(now),
            "buckets": buckets.iter().map(|b| json!({
                "time": rfc3339(b.time),
                "hits": b.hits,
                "errors": b.errors,
                "error_rate": (b.hits > 0).then(|| (b.errors as f64 * 1000.0 / b.hits as f64).round() / 10.0),
                "p50_ms": round(b.p50_ms),
                "p95_ms": round(b.p95_ms),
                "p99_ms": round(b.p99_ms),
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000_000_000 + 7 * MINUTE + 12_345;

    fn window(range: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<Window, String> {
        Window::parse(range, from, to, NOW, chrono_tz::UTC).map_err(|e| e.0)
    }

    #[test]
    fn ranges_end_with_the_current_bucket() {
        for (name, length, bucket) in RANGES {
            let w = window(Some(name), None, None).unwrap();
            assert_eq!((w.end - w.start, w.bucket), (length, bucket), "{name}");
            assert!(w.end > NOW && w.end - bucket <= NOW, "{name}");
            assert_eq!(w.end % bucket, 0, "{name}");
            assert!(w.live(NOW));
        }
        assert_eq!(window(None, None, None).unwrap().range, Some("24h"));
        assert_eq!(window(None, None, None).unwrap().bucket, 5 * MINUTE);
    }

    #[test]
    fn days_get_five_minutes_while_minutes_are_kept() {
        let today = chrono::DateTime::from_timestamp_micros(NOW)
            .unwrap()
            .date_naive();
        let yesterday = today.pred_opt().unwrap().to_string();
        let w = window(None, Some(&yesterday), Some(&yesterday)).unwrap();
        assert_eq!(
            (w.range, w.bucket, w.end - w.start),
            (None, 5 * MINUTE, 24 * HOUR)
        );
        assert!(!w.live(NOW));
        let w = window(None, Some("2020-01-01"), Some("2020-01-01")).unwrap();
        assert_eq!(w.bucket, HOUR, "minutes of 2020 are gone");
        let w = window(None, Some(&yesterday), None).unwrap();
        assert_eq!((w.bucket, w.live(NOW)), (HOUR, true));
    }

    #[test]
    fn bad_parameters_say_what_to_send() {
        let err = window(Some("2h"), None, None).unwrap_err();
        assert_eq!(err, "range must be one of 1h, 6h, 24h, 7d, 30d, not \"2h\"");
        let err = window(Some("1h"), Some("2026-01-01"), None).unwrap_err();
        assert!(err.contains("either range or from/to"), "{err}");
        let err = window(None, Some("yesterday"), None).unwrap_err();
        assert!(err.contains("YYYY-MM-DD"), "{err}");
    }

    #[test]
    fn answers_give_rates_and_empty_buckets() {
        let w = window(Some("1h"), None, None).unwrap();
        let buckets = [
            TimelineBucket {
                time: w.start,
                hits: 3,
                errors: 1,
                p50_ms: Some(1.23456),
                p95_ms: Some(2.0),
                p99_ms: Some(2.0),
            },
            TimelineBucket {
                time: w.start + MINUTE,
                hits: 0,
                errors: 0,
                p50_ms: None,
                p95_ms: None,
                p99_ms: None,
            },
        ];
        let v = w.answer(&buckets, NOW);
        assert_eq!(v["bucket_seconds"], 60);
        assert_eq!(v["buckets"][0]["error_rate"], 33.3);
        assert_eq!(v["buckets"][0]["p50_ms"], 1.235);
        assert_eq!(v["buckets"][1]["error_rate"], Value::Null);
        assert_eq!(v["buckets"][1]["p95_ms"], Value::Null);
        assert_eq!(v["buckets"][1]["time"], rfc3339(w.start + MINUTE));
    }
}
