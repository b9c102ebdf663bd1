//! Box plots: of each endpoint (API performance), of an endpoint's versions and of its busiest
//! users, each with the slowest durations beyond its upper whisker.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Value};

use fmd_core::stats::BoxStats;
use fmd_store::{Histogram, HourCount, Sample};

use super::{by_key, ms_sorted, round2, sample_note, version_order, Key, Names, Range};

#[derive(Serialize)]
struct Boxed {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    color: Option<String>,
    #[serde(flatten)]
    stats: BoxStats,
    /// The slowest durations above the upper whisker, slowest first: the stalls a box hides.
    beyond_ms: Vec<f64>,
}

/// How many of the slowest durations beyond the whisker a box plot draws.
const BEYOND: usize = 5;

impl Boxed {
    /// A box of sorted durations, with the slowest [`BEYOND`] above its whisker.
    fn of_sorted(name: String, ms: &[f64]) -> Option<Boxed> {
        let stats = BoxStats::of_sorted(ms)?;
        let beyond_ms = ms
            .iter()
            .rev()
            .take_while(|v| **v > stats.high_ms)
            .take(BEYOND)
            .copied()
            .collect();
        Some(Boxed::new(name, stats, beyond_ms))
    }

    /// A box of a histogram: beyond the whisker, the maximum (exact) and the 99.9th and 99th
    /// percentiles (within 2.5 %) where they lie there.
    fn of_histogram(name: String, h: &Histogram) -> Option<Boxed> {
        let stats = h.box_stats()?;
        let mut beyond_ms: Vec<f64> = [1.0, 0.999, 0.99]
            .into_iter()
            .filter_map(|q| h.quantile(q).map(|us| round2(us / 1000.0)))
            .filter(|ms| *ms > stats.high_ms)
            .collect();
        beyond_ms.dedup();
        Some(Boxed::new(name, stats, beyond_ms))
    }

    fn new(name: String, stats: BoxStats, beyond_ms: Vec<f64>) -> Boxed {
        Boxed {
            id: None,
            name,
            color: None,
            stats,
            beyond_ms,
        }
    }
}

/// API performance: a box plot of each endpoint's durations (from the hourly histograms, within
/// 2.5 %), slowest median first.
pub(crate) fn performance(
    range: &Range,
    histograms: Vec<(i64, String, Histogram)>,
    names: &Names,
) -> Value {
    let mut per: HashMap<i64, Histogram> = HashMap::new();
    for (id, _, h) in histograms {
        per.entry(id).or_default().merge(&h);
    }
    let mut boxes: Vec<Boxed> = per
        .into_iter()
        .filter_map(|(id, h)| {
            Some(Boxed {
                id: Some(id),
                color: Some(names.color(id)),
                ..Boxed::of_histogram(names.name(id), &h)?
            })
        })
        .collect();
    boxes.sort_by(|a, b| {
        b.stats
            .median_ms
            .total_cmp(&a.stats.median_ms)
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut out = range.header();
    out.insert("endpoints".into(), json!(boxes));
    Value::Object(out)
}

/// Per-version performance of one endpoint: a box plot per version, in the order the versions
/// first served it.
pub(crate) fn version_boxes(
    range: &Range,
    counts: &[HourCount],
    histograms: Vec<(i64, String, Histogram)>,
) -> Value {
    let mut per: HashMap<String, Histogram> = HashMap::new();
    for (_, version, h) in histograms {
        per.entry(version).or_default().merge(&h);
    }
    let boxes: Vec<Boxed> = version_order(counts)
        .into_iter()
        .filter_map(|v| {
            let h = per.get(&v)?;
            Boxed::of_histogram(v, h)
        })
        .collect();
    let mut out = range.header();
    out.insert("versions".into(), json!(boxes));
    Value::Object(out)
}

/// Per-user performance: a box plot of the durations of each of the busiest users (exact, from
/// the request rows, or from an even sample of `total`).
pub(crate) fn user_boxes(range: &Range, samples: &[Sample], total: i64) -> Value {
    let (keys, without) = by_key(samples, Key::User);
    let boxes: Vec<Boxed> = keys
        .iter()
        .filter_map(|(k, rows)| Boxed::of_sorted((*k).to_owned(), &ms_sorted(rows.iter().copied())))
        .collect();
    let mut out = range.header();
    out.insert("users".into(), json!(boxes));
    sample_note(&mut out, samples.len(), total);
    out.insert("ungrouped".into(), json!(without));
    Value::Object(out)
}
