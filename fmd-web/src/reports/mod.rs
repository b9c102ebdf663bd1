//! Reports: what changed per endpoint between two intervals or two versions.
//!
//! Latency: the median's change in percent, and a two-sided Mann-Whitney U test on a random
//! sample of at most [`SAMPLE`] requests a side (significant below [`ALPHA`]). Status codes: a
//! code is significant when both sides have at least [`MIN_TESTED`] requests, its share rose by
//! more than [`STATUS_SHIFT_PP`] percentage points, and a one-sided two-proportion test says
//! the rise is unlikely by chance (below [`ALPHA`]): so a code rising from nothing to most
//! requests is flagged on a few dozen requests, and a few more 404s on a thousand are not.
//! An endpoint neither test could look at is "not enough data", not "no change".

use fmd_store::Filter;
use std::collections::BTreeMap;

use chrono::{Datelike, Days, Months, NaiveDate};
use chrono_tz::Tz;
use rand::SeedableRng;
use serde::Serialize;

use fmd_core::stats::{mann_whitney, quantile, share_rise_p_value, sorted, BoxStats};
use fmd_store::{Store, StoreError};

use crate::charts::Range;
use crate::error::BadRequest;
use crate::time::{local_date, midnight};

/// Requests compared per side, at most.
pub(crate) const SAMPLE: usize = 500;
/// The significance level of the latency test.
pub(crate) const ALPHA: f64 = 0.05;
/// Fewer requests than this on a side are not tested.
pub(crate) const MIN_TESTED: usize = 8;
/// Both sides need this many requests before a change in status codes counts.
/// A code's share must rise by more than this many percentage points to count.
pub(crate) const STATUS_SHIFT_PP: f64 = 3.0;

/// What one side of a comparison selects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Side {
    /// For people: "Yesterday", "Version 1.2", ...
    pub(crate) label: String,
    /// First day, in the dashboard's timezone (interval comparisons).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) from: Option<String>,
    /// Last day, included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) to: Option<String>,
    /// The version (version comparisons).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<String>,
    #[serde(skip)]
    start: i64,
    #[serde(skip)]
    end: i64,
}

impl Side {
    fn days(label: impl Into<String>, from: NaiveDate, to_excluded: NaiveDate, tz: Tz) -> Side {
        Side {
            label: label.into(),
            from: Some(from.to_string()),
            to: to_excluded.pred_opt().map(|d| d.to_string()),
            version: None,
            start: midnight(from, tz),
            end: midnight(to_excluded, tz),
        }
    }

    fn version(v: &str) -> Side {
        Side {
            label: format!("Version {v}"),
            from: None,
            to: None,
            version: Some(v.to_owned()),
            start: i64::MIN,
            end: i64::MAX,
        }
    }
}

/// The query of a report: `compare=day|week|month|custom|versions` and, for `custom`,
/// `baseline_from`, `baseline_to`, `current_from`, `current_to`; for `versions`, `baseline`
/// and `current` (default: the two latest versions).
#[derive(Debug, Clone, Default)]
pub(crate) struct Ask {
    pub(crate) compare: Option<String>,
    pub(crate) baseline_from: Option<String>,
    pub(crate) baseline_to: Option<String>,
    pub(crate) current_from: Option<String>,
    pub(crate) current_to: Option<String>,
    pub(crate) baseline: Option<String>,
    pub(crate) current: Option<String>,
}

/// The comparisons a report can make.
pub(crate) const COMPARISONS: [(&str, &str); 5] = [
    ("day", "Today vs yesterday"),
    ("week", "This week vs last week"),
    ("month", "This month vs last month"),
    ("custom", "Two date ranges"),
    ("versions", "Two versions"),
];

/// The two sides `ask` selects at `now`: baseline first. `versions` are the stored versions,
/// earliest first. The error says what to send instead.
pub(crate) fn sides(
    ask: &Ask,
    now: i64,
    tz: Tz,
    versions: &[String],
) -> Result<(Side, Side), BadRequest> {
    // A malformed day is refused whatever the comparison, so a typo does not pass unnoticed.
    for (name, day) in [
        ("baseline_from", &ask.baseline_from),
        ("baseline_to", &ask.baseline_to),
        ("current_from", &ask.current_from),
        ("current_to", &ask.current_to),
    ] {
        if let Some(day) = day {
            NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|_| format!("{name} must be a day, YYYY-MM-DD, not {day:?}"))?;
        }
    }
    let today = local_date(now, tz).ok_or("the clock is out of range")?;
    let next = |d: NaiveDate, days: u64| {
        d.checked_add_days(Days::new(days))
            .ok_or("date out of range")
    };
    let back = |d: NaiveDate, days: u64| {
        d.checked_sub_days(Days::new(days))
            .ok_or("date out of range")
    };
    match ask.compare.as_deref().unwrap_or("day") {
        "day" => Ok((
            Side::days("Yesterday", back(today, 1)?, today, tz),
            Side::days("Today", today, next(today, 1)?, tz),
        )),
        "week" => {
            let monday = back(today, u64::from(today.weekday().num_days_from_monday()))?;
            Ok((
                Side::days("Last week", back(monday, 7)?, monday, tz),
                Side::days("This week", monday, next(monday, 7)?, tz),
            ))
        }
        "month" => {
            let first = today.with_day(1).ok_or("date out of range")?;
            let month = |d: NaiveDate, n: i32| {
                if n < 0 {
                    d.checked_sub_months(Months::new(1))
                } else {
                    d.checked_add_months(Months::new(1))
                }
                .ok_or("date out of range")
            };
            Ok((
                Side::days("Last month", month(first, -1)?, first, tz),
                Side::days("This month", first, month(first, 1)?, tz),
            ))
        }
        "custom" => {
            let range = |from: &Option<String>, to: &Option<String>, name: &str| {
                if from.is_none() || to.is_none() {
                    return Err(format!(
                        "a custom report needs {name}_from and {name}_to (YYYY-MM-DD)"
                    ));
                }
                Range::parse(from.as_deref(), to.as_deref(), now, tz)
                    .map_err(|e| format!("{name}: {e}"))
            };
            let b = range(&ask.baseline_from, &ask.baseline_to, "baseline")?;
            let c = range(&ask.current_from, &ask.current_to, "current")?;
            let side = |r: Range| -> Result<Side, String> {
                Ok(Side::days(
                    format!("{} – {}", r.from, r.to),
                    r.from,
                    next(r.to, 1)?,
                    tz,
                ))
            };
            Ok((side(b)?, side(c)?))
        }
        "versions" => {
            let pick = |asked: &Option<String>, default: Option<&String>, name: &str| {
                let v = asked.clone().or_else(|| default.cloned()).ok_or_else(|| {
                    "a version report needs two versions; only one has served requests so far"
                        .to_owned()
                })?;
                if versions.contains(&v) {
                    Ok(v)
                } else {
                    Err(format!(
                        "{name} {v:?} has served no request; known versions: {}",
                        versions.join(", ")
                    ))
                }
            };
            let (default_baseline, default_current) = default_versions(versions);
            let baseline = pick(&ask.baseline, default_baseline, "baseline")?;
            let current = pick(&ask.current, default_current, "current")?;
            if baseline == current {
                return Err(format!(
                    "baseline and current are both version {baseline:?}; pick two different versions"
                )
                .into());
            }
            Ok((Side::version(&baseline), Side::version(&current)))
        }
        other => Err(format!(
            "compare must be one of {}, not {other:?}",
            COMPARISONS.map(|(k, _)| k).join(", ")
        )
        .into()),
    }
}

/// The versions a version report compares when none are asked for: the two latest of
/// `versions` (earliest first), baseline first.
pub(crate) fn default_versions(versions: &[String]) -> (Option<&String>, Option<&String>) {
    let n = versions.len();
    (n.checked_sub(2).map(|i| &versions[i]), versions.last())
}

/// One side's latency evidence.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LatencySide {
    /// Requests on this side.
    pub(crate) requests: i64,
    /// How many of them the test used.
    pub(crate) sample: usize,
    /// The sample's median, ms.
    pub(crate) median_ms: Option<f64>,
    /// The sample's box plot.
    #[serde(rename = "box")]
    pub(crate) boxed: Option<BoxStats>,
}

/// The latency comparison of one endpoint.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Latency {
    pub(crate) baseline: LatencySide,
    pub(crate) current: LatencySide,
    /// The median's change from the baseline, percent.
    pub(crate) change_percent: Option<f64>,
    /// Mann-Whitney U's two-sided p-value; none when a side has too few requests.
    pub(crate) p_value: Option<f64>,
    pub(crate) significant: bool,
}

/// One status code's shares on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CodeShare {
    pub(crate) status_code: i32,
    /// Percent of the baseline's requests; `None` when it has none.
    pub(crate) baseline_share: Option<f64>,
    /// Percent of the current side's requests; `None` when it has none.
    pub(crate) current_share: Option<f64>,
    /// Percentage points gained; `None` when a side has no requests to compare.
    pub(crate) change_pp: Option<f64>,
    /// The one-sided test of the rise; `None` when a side has fewer than [`MIN_TESTED`]
    /// requests.
    pub(crate) p_value: Option<f64>,
    /// This code's rise alone makes the change significant.
    pub(crate) significant: bool,
}

/// The status-code comparison of one endpoint.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Status {
    pub(crate) baseline_requests: i64,
    pub(crate) current_requests: i64,
    /// Whether both sides have enough requests ([`MIN_TESTED`]) to test.
    pub(crate) tested: bool,
    pub(crate) codes: Vec<CodeShare>,
    pub(crate) significant: bool,
}

/// Compares status-code counts by the rule in the module's documentation.
pub(crate) fn compare_status(baseline: &[(i32, i64)], current: &[(i32, i64)]) -> Status {
    let total = |c: &[(i32, i64)]| c.iter().map(|(_, n)| n).sum::<i64>();
    let (nb, nc) = (total(baseline), total(current));
    let tested = nb >= MIN_TESTED as i64 && nc >= MIN_TESTED as i64;
    let mut codes: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    for (code, n) in baseline {
        codes.entry(*code).or_default().0 += n;
    }
    for (code, n) in current {
        codes.entry(*code).or_default().1 += n;
    }
    let share = |n: i64, of: i64| (of > 0).then(|| n as f64 * 100.0 / of as f64);
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let mut codes: Vec<CodeShare> = codes
        .into_iter()
        .map(|(status_code, (b, c))| {
            let (baseline_share, current_share) = (share(b, nb), share(c, nc));
            let change_pp = baseline_share.zip(current_share).map(|(b, c)| c - b);
            let p_value = tested
                .then(|| share_rise_p_value(count(b), count(nb), count(c), count(nc)))
                .flatten();
            CodeShare {
                status_code,
                baseline_share,
                current_share,
                change_pp,
                p_value,
                significant: change_pp.is_some_and(|pp| pp > STATUS_SHIFT_PP)
                    && p_value.is_some_and(|p| p < ALPHA),
            }
        })
        .collect();
    let rise = |c: &CodeShare| c.change_pp.unwrap_or(f64::NEG_INFINITY);
    codes.sort_by(|a, b| {
        rise(b)
            .total_cmp(&rise(a))
            .then(a.status_code.cmp(&b.status_code))
    });
    Status {
        baseline_requests: nb,
        current_requests: nc,
        tested,
        significant: codes.iter().any(|c| c.significant),
        codes,
    }
}

/// At most [`SAMPLE`] of `values`, chosen at random with a fixed seed (the same report reads
/// the same way twice), in ms and sorted.
fn sample_ms(values: Vec<i64>, seed: u64) -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let chosen: Vec<f64> = if values.len() > SAMPLE {
        rand::seq::index::sample(&mut rng, values.len(), SAMPLE)
            .into_iter()
            .map(|i| values[i] as f64 / 1000.0)
            .collect()
    } else {
        values.iter().map(|v| *v as f64 / 1000.0).collect()
    };
    sorted(chosen)
}

/// Compares two sides' durations (sorted ms samples, and how many requests each side has).
pub(crate) fn compare_latency(baseline: (&[f64], i64), current: (&[f64], i64)) -> Latency {
    let side = |(v, requests): (&[f64], i64)| LatencySide {
        requests,
        sample: v.len(),
        median_ms: quantile(v, 0.5),
        boxed: BoxStats::of_sorted(v),
    };
    let (b, c) = (side(baseline), side(current));
    let change_percent = match (b.median_ms, c.median_ms) {
        (Some(b), Some(c)) if b > 0.0 => Some((c - b) / b * 100.0),
        _ => None,
    };
    let p_value = (baseline.0.len() >= MIN_TESTED && current.0.len() >= MIN_TESTED)
        .then(|| mann_whitney(baseline.0, current.0).map(|r| r.p_value))
        .flatten();
    Latency {
        significant: p_value.is_some_and(|p| p < ALPHA),
        baseline: b,
        current: c,
        change_percent,
        p_value,
    }
}

/// What a report says of one endpoint; declared in the order the report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    Changed,
    Unchanged,
    /// Neither test could run: fewer than [`MIN_TESTED`] requests on a side.
    NotEnoughData,
}

/// One endpoint's line of a report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EndpointReport {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) significant: bool,
    pub(crate) verdict: Verdict,
    pub(crate) latency: Latency,
    pub(crate) status: Status,
}

/// A whole report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub(crate) compare: String,
    pub(crate) baseline: Side,
    pub(crate) current: Side,
    pub(crate) sample_limit: usize,
    pub(crate) alpha: f64,
    /// Endpoints with a significant change first and those too little used to test last, then
    /// by the size of the latency change.
    pub(crate) endpoints: Vec<EndpointReport>,
}

/// What a report reads of one endpoint's side.
struct SideData {
    /// At most [`SAMPLE`] durations, ms, sorted.
    sample: Vec<f64>,
    requests: i64,
    codes: Vec<(i32, i64)>,
}

/// Reads what the report needs from the store and compares every endpoint with requests on
/// either side.
pub(crate) fn build(
    store: &Store,
    compare: String,
    baseline: Side,
    current: Side,
) -> Result<Report, StoreError> {
    let mut endpoints = Vec::new();
    for e in store.endpoints()? {
        let read = |s: &Side| -> Result<SideData, StoreError> {
            let (durations, requests) = store.durations(
                &Filter::endpoint(e.id).between(s.start, s.end),
                s.version.as_deref(),
                SAMPLE as i64,
            )?;
            let seed = (e.id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ s.start as u64;
            Ok(SideData {
                sample: sample_ms(durations, seed),
                requests,
                codes: store.status_counts(
                    &Filter::endpoint(e.id).between(s.start, s.end),
                    s.version.as_deref(),
                )?,
            })
        };
        let (b, c) = (read(&baseline)?, read(&current)?);
        if b.requests == 0 && c.requests == 0 {
            continue;
        }
        let latency = compare_latency((&b.sample, b.requests), (&c.sample, c.requests));
        let status = compare_status(&b.codes, &c.codes);
        let significant = latency.significant || status.significant;
        endpoints.push(EndpointReport {
            id: e.id,
            verdict: match (significant, latency.p_value.is_some() || status.tested) {
                (true, _) => Verdict::Changed,
                (false, true) => Verdict::Unchanged,
                (false, false) => Verdict::NotEnoughData,
            },
            significant,
            name: e.name,
            latency,
            status,
        });
    }
    // By verdict (changed first, untested last), then by the size of the latency change.
    endpoints.sort_by(|a, b| {
        let size = |r: &EndpointReport| r.latency.change_percent.map_or(0.0, f64::abs);
        a.verdict
            .cmp(&b.verdict)
            .then(size(b).total_cmp(&size(a)))
            .then(a.name.cmp(&b.name))
    });
    Ok(Report {
        compare,
        baseline,
        current,
        sample_limit: SAMPLE,
        alpha: ALPHA,
        endpoints,
    })
}

#[cfg(test)]
mod tests;
