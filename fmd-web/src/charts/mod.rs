//! The charts' data: a date range in the configured timezone, read from the hourly rollups
//! (counts, versions, latency histograms) or, for charts split by user or address, from one
//! endpoint's request rows. Everything here is computed from what the store returns; the
//! browser only draws it.

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use serde_json::{json, Value};

use fmd_core::stats::sorted;
use fmd_store::{EndpointRow, HourCount, Sample};

use crate::error::BadRequest;

mod boxes;
pub(crate) mod timeline;

use crate::time::{local_date, local_date_hour, midnight};
pub(crate) use boxes::{performance, user_boxes, version_boxes};

/// The longest range a chart draws, in days.
pub(crate) const MAX_DAYS: u64 = 366;

/// Days a chart shows when no range is asked for: the last week, today included.
pub(crate) const DEFAULT_DAYS: u64 = 7;

/// How many users or addresses a chart shows: the ones with the most requests.
pub(crate) const TOP_KEYS: usize = 30;

/// Charts from request rows read at most about this many; beyond, an even sample.
pub(crate) const SAMPLE_LIMIT: i64 = 40_000;

/// What a chart drawn from request rows says about them: all there are, and how many it read.
fn sample_note(out: &mut serde_json::Map<String, Value>, read: usize, total: i64) {
    out.insert("requests".into(), json!(total));
    out.insert("sampled".into(), json!(read as i64 != total));
    out.insert("sample_size".into(), json!(read));
}

/// A range of whole days in the configured timezone, both ends included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Range {
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
    /// The first instant of `from`, microseconds since the epoch.
    pub(crate) start: i64,
    /// The first instant after `to`.
    pub(crate) end: i64,
    pub(crate) tz: Tz,
}

impl Range {
    /// The range of `from` and `to` (`YYYY-MM-DD`, either may be missing): by default the last
    /// [`DEFAULT_DAYS`] days up to today. The error says what to send instead.
    pub(crate) fn parse(
        from: Option<&str>,
        to: Option<&str>,
        now: i64,
        tz: Tz,
    ) -> Result<Range, BadRequest> {
        let date = |name: &str, raw: &str| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
                format!("{name} must be a date as YYYY-MM-DD (in the dashboard's timezone), not {raw:?}")
            })
        };
        let today = local_date(now, tz).ok_or("the clock is out of range")?;
        let to = match to {
            Some(raw) => date("to", raw)?,
            None => today,
        };
        let from = match from {
            Some(raw) => date("from", raw)?,
            None => to
                .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
                .ok_or("to is too early")?,
        };
        if from > to {
            return Err(format!("from ({from}) is after to ({to})").into());
        }
        let days = (to - from).num_days() as u64 + 1;
        if days > MAX_DAYS {
            return Err(format!("the range is {days} days; charts draw at most {MAX_DAYS}").into());
        }
        let after = to.checked_add_days(Days::new(1)).ok_or("to is too late")?;
        Ok(Range {
            from,
            to,
            start: midnight(from, tz),
            end: midnight(after, tz),
            tz,
        })
    }

    /// Every day of the range.
    pub(crate) fn days(&self) -> Vec<NaiveDate> {
        self.from
            .iter_days()
            .take_while(|d| *d <= self.to)
            .collect()
    }

    /// The index of a day in [`Range::days`].
    fn day_index(&self, d: NaiveDate) -> Option<usize> {
        (d >= self.from && d <= self.to).then(|| (d - self.from).num_days() as usize)
    }

    fn header(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("from".into(), json!(self.from.to_string()));
        m.insert("to".into(), json!(self.to.to_string()));
        m.insert("timezone".into(), json!(self.tz.name()));
        m
    }
}

/// An endpoint's colour as `#rrggbb`: from the `colors` configuration, else from a hash of its
/// name, so it stays the same on every chart and every day.
pub(crate) fn color(name: &str, configured: &BTreeMap<String, [u8; 3]>) -> String {
    if let Some([r, g, b]) = configured.get(name) {
        return format!("#{r:02x}{g:02x}{b:02x}");
    }
    // FNV-1a (stable across builds and platforms, unlike std's hasher), then murmur3's
    // finalizer so that names differing in one letter land far apart.
    let mut h = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    let hue = f64::from(h >> 16) * 360.0 / 65_536.0;
    let saturation = [0.55, 0.75][(h & 1) as usize];
    let lightness = [0.38, 0.48, 0.58][(h >> 1 & 0xff) as usize % 3];
    hsl_hex(hue, saturation, lightness)
}

fn hsl_hex(h: f64, s: f64, l: f64) -> String {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
    let m = l - c / 2.0;
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let byte = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    format!("#{:02x}{:02x}{:02x}", byte(r), byte(g), byte(b))
}

/// Hourly utilization: requests per local hour (0-23) and day, as `[hour, day, hits]` cells
/// of a heatmap (only cells with requests).
pub(crate) fn hourly(range: &Range, counts: &[HourCount]) -> Value {
    let mut cells: BTreeMap<(usize, u32), i64> = BTreeMap::new();
    for c in counts {
        if let Some((date, hour)) = local_date_hour(c.hour_start, range.tz) {
            if let Some(day) = range.day_index(date) {
                *cells.entry((day, hour)).or_default() += c.hits;
            }
        }
    }
    let mut out = range.header();
    out.insert(
        "days".into(),
        json!(range
            .days()
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()),
    );
    out.insert(
        "max".into(),
        json!(cells.values().copied().max().unwrap_or(0)),
    );
    out.insert("total".into(), json!(cells.values().sum::<i64>()));
    out.insert(
        "cells".into(),
        json!(cells
            .iter()
            .map(|((day, hour), hits)| json!([hour, day, hits]))
            .collect::<Vec<_>>()),
    );
    Value::Object(out)
}

/// The endpoints by id, for names and colours.
pub(crate) struct Names<'a> {
    by_id: HashMap<i64, &'a EndpointRow>,
    colors: &'a BTreeMap<String, [u8; 3]>,
}

impl<'a> Names<'a> {
    pub(crate) fn new(endpoints: &'a [EndpointRow], colors: &'a BTreeMap<String, [u8; 3]>) -> Self {
        Names {
            by_id: endpoints.iter().map(|e| (e.id, e)).collect(),
            colors,
        }
    }

    fn name(&self, id: i64) -> String {
        self.by_id
            .get(&id)
            .map(|e| e.name.clone())
            .unwrap_or_else(|| format!("endpoint {id}"))
    }

    fn color(&self, id: i64) -> String {
        color(&self.name(id), self.colors)
    }
}

/// Daily utilization: requests per endpoint and day, busiest endpoint first (stacked bars).
pub(crate) fn daily(range: &Range, counts: &[HourCount], names: &Names) -> Value {
    let days = range.days();
    let mut per: HashMap<i64, Vec<i64>> = HashMap::new();
    for c in counts {
        let Some(day) = local_date(c.hour_start, range.tz).and_then(|d| range.day_index(d)) else {
            continue;
        };
        per.entry(c.endpoint_id)
            .or_insert_with(|| vec![0; days.len()])[day] += c.hits;
    }
    let mut series: Vec<(i64, Vec<i64>)> = per.into_iter().collect();
    series.sort_by_key(|(id, hits)| (-hits.iter().sum::<i64>(), names.name(*id)));
    let mut out = range.header();
    out.insert(
        "days".into(),
        json!(days.iter().map(|d| d.to_string()).collect::<Vec<_>>()),
    );
    out.insert(
        "series".into(),
        json!(series
            .iter()
            .map(|(id, hits)| json!({
                "id": id,
                "name": names.name(*id),
                "color": names.color(*id),
                "total": hits.iter().sum::<i64>(),
                "hits": hits,
            }))
            .collect::<Vec<_>>()),
    );
    Value::Object(out)
}

/// Versions in the order they first served a request.
fn version_order(counts: &[HourCount]) -> Vec<String> {
    let mut first: HashMap<&str, i64> = HashMap::new();
    for c in counts {
        let t = first.entry(c.version.as_str()).or_insert(c.hour_start);
        *t = (*t).min(c.hour_start);
    }
    let mut versions: Vec<(&str, i64)> = first.into_iter().collect();
    versions.sort_by_key(|(v, t)| (*t, *v));
    versions.into_iter().map(|(v, _)| v.to_owned()).collect()
}

/// Multi-version utilization: per endpoint, the share (percent) of its requests each version
/// served.
pub(crate) fn version_shares(range: &Range, counts: &[HourCount], names: &Names) -> Value {
    let versions = version_order(counts);
    let index: HashMap<&str, usize> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_str(), i))
        .collect();
    let mut per: HashMap<i64, Vec<i64>> = HashMap::new();
    for c in counts {
        per.entry(c.endpoint_id)
            .or_insert_with(|| vec![0; versions.len()])[index[c.version.as_str()]] += c.hits;
    }
    let mut rows: Vec<(String, i64, Vec<i64>)> = per
        .into_iter()
        .map(|(id, hits)| (names.name(id), id, hits))
        .collect();
    rows.sort();
    let mut out = range.header();
    out.insert("versions".into(), json!(versions));
    out.insert(
        "endpoints".into(),
        json!(rows
            .iter()
            .map(|(name, id, hits)| {
                let total: i64 = hits.iter().sum();
                json!({
                    "id": id,
                    "name": name,
                    "total": total,
                    "hits": hits,
                    "shares": hits.iter().map(|h| round2(*h as f64 * 100.0 / total.max(1) as f64)).collect::<Vec<_>>(),
                })
            })
            .collect::<Vec<_>>()),
    );
    Value::Object(out)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Which part of a request a per-key chart splits by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Key {
    /// The group-by value.
    User,
    /// The client address.
    Ip,
}

impl Key {
    fn of(self, s: &Sample) -> Option<&str> {
        match self {
            Key::User => s.group_by.as_deref(),
            Key::Ip => s.ip.as_deref(),
        }
        .filter(|k| !k.is_empty())
    }
}

/// The [`TOP_KEYS`] keys with the most requests, most first, with their durations (ms); and how
/// many requests had no key.
fn by_key(samples: &[Sample], key: Key) -> (Vec<(&str, Vec<&Sample>)>, usize) {
    let mut per: HashMap<&str, Vec<&Sample>> = HashMap::new();
    let mut without = 0;
    for s in samples {
        match key.of(s) {
            Some(k) => per.entry(k).or_default().push(s),
            None => without += 1,
        }
    }
    let mut keys: Vec<(&str, Vec<&Sample>)> = per.into_iter().collect();
    keys.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    keys.truncate(TOP_KEYS);
    (keys, without)
}

fn ms_sorted<'a>(samples: impl Iterator<Item = &'a Sample>) -> Vec<f64> {
    sorted(samples.map(|s| s.duration_us as f64 / 1000.0).collect())
}

/// User- or IP-focused multi-version performance: the median duration and the number of
/// requests (exact, or of an even sample of `total`) of each of the busiest users or addresses
/// in each version, as
/// `[version, key, median_ms, requests]` points of a bubble chart.
pub(crate) fn key_versions(
    range: &Range,
    counts: &[HourCount],
    samples: &[Sample],
    total: i64,
    key: Key,
) -> Value {
    let (keys, without) = by_key(samples, key);
    // Versions the chosen keys used, in the order the endpoint first saw them.
    let used: std::collections::HashSet<&str> = keys
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|s| s.version_requested.as_str()))
        .collect();
    let mut versions: Vec<String> = version_order(counts)
        .into_iter()
        .filter(|v| used.contains(v.as_str()))
        .collect();
    // Requests of a version whose hour the rollups do not have yet (just written) still count.
    let mut late: Vec<&str> = used
        .iter()
        .copied()
        .filter(|v| !versions.iter().any(|known| known == v))
        .collect();
    late.sort_unstable();
    versions.extend(late.into_iter().map(str::to_owned));
    let mut points = Vec::new();
    let mut max_median: f64 = 0.0;
    for (ki, (_, rows)) in keys.iter().enumerate() {
        for (vi, v) in versions.iter().enumerate() {
            let values = ms_sorted(rows.iter().copied().filter(|s| &s.version_requested == v));
            if let Some(median) = fmd_core::stats::quantile(&values, 0.5) {
                max_median = max_median.max(median);
                points.push(json!([vi, ki, median, values.len()]));
            }
        }
    }
    let mut out = range.header();
    out.insert("versions".into(), json!(versions));
    out.insert(
        "keys".into(),
        json!(keys.iter().map(|(k, _)| *k).collect::<Vec<_>>()),
    );
    out.insert("points".into(), json!(points));
    out.insert("max_median_ms".into(), json!(max_median));
    sample_note(&mut out, samples.len(), total);
    out.insert("without_key".into(), json!(without));
    Value::Object(out)
}

#[cfg(test)]
mod tests;
