//! Time formatting: RFC 3339 UTC in the API, the configured timezone on pages.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// Microseconds since the epoch as RFC 3339 UTC, e.g. `2026-11-22T18:41:37.123Z`.
pub(crate) fn rfc3339(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Serializes microseconds since the epoch as [`rfc3339`].
pub(crate) fn serialize_rfc3339<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// Serializes optional microseconds since the epoch as [`rfc3339`], or null.
pub(crate) fn serialize_rfc3339_opt<S: serde::Serializer>(
    t: &Option<i64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize_rfc3339(t, s),
        None => s.serialize_none(),
    }
}

/// Microseconds since the epoch in `tz`, for people: `2026-11-22 19:41:37 CET`.
pub(crate) fn local(micros: i64, tz: Tz) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| {
            t.with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        })
        .unwrap_or_default()
}

/// The start of the day containing `now` in `tz`, and the time seven days before `now`, both in
/// microseconds since the epoch: the overview's "today" and "week".
pub(crate) fn windows(now: i64, tz: Tz) -> (i64, i64) {
    let week = now - 7 * 24 * 3600 * 1_000_000;
    let today = local_date(now, tz).map(|d| midnight(d, tz)).unwrap_or(week);
    (today, week)
}

/// The date in `tz` of an instant (microseconds since the epoch).
pub(crate) fn local_date(micros: i64, tz: Tz) -> Option<NaiveDate> {
    local_date_hour(micros, tz).map(|(d, _)| d)
}

/// The date and hour (0-23) in `tz` of an instant (microseconds since the epoch).
pub(crate) fn local_date_hour(micros: i64, tz: Tz) -> Option<(NaiveDate, u32)> {
    let t = DateTime::<Utc>::from_timestamp_micros(micros)?.with_timezone(&tz);
    Some((t.date_naive(), t.hour()))
}

/// The first instant of `date` in `tz`, in microseconds since the epoch.
pub(crate) fn midnight(date: NaiveDate, tz: Tz) -> i64 {
    let start = date.and_time(NaiveTime::MIN);
    // A day that starts inside a DST gap has no local midnight: take the earliest instant after.
    (0..3)
        .find_map(|h| {
            tz.from_local_datetime(&(start + chrono::Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.timestamp_micros())
        .unwrap_or_else(|| start.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_starts_at_local_midnight() {
        // 2026-11-22 00:30 in Amsterdam is 2026-11-21 23:30 UTC.
        let now = Utc
            .with_ymd_and_hms(2026, 11, 21, 23, 30, 0)
            .unwrap()
            .timestamp_micros();
        let (today, week) = windows(now, chrono_tz::Europe::Amsterdam);
        assert_eq!(rfc3339(today), "2026-11-21T23:00:00.000Z");
        assert_eq!(rfc3339(week), "2026-11-14T23:30:00.000Z");
        assert_eq!(
            local(today, chrono_tz::Europe::Amsterdam),
            "2026-11-22 00:00:00 CET"
        );
    }
}
