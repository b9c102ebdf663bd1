//! The overview, an endpoint's page with its requests, and the endpoint's tabs.

use fmd_store::Filter;
use http::StatusCode;
use serde_json::{json, Value};

use fmd_store::OverviewRow;

use super::{
    chosen_instance, endpoint_id, instance_choices, layout, ms, no_endpoint, page_param, pager,
    range_choice, render, tab_layout, timeline_choice, unavailable, DETAIL_PER_PAGE, LEVEL_LABELS,
    LEVEL_SHORT,
};
use crate::auth::Session;
use crate::charts::timeline::DEFAULT_RANGE;
use crate::time::{local, rfc3339, windows};
use crate::web::{blocking, Reply, Req};

/// Requests per page on the endpoint page.
pub(crate) const PER_PAGE: i64 = 25;

/// The hover text of a median: all three percentiles.
pub(crate) fn spread(p50: Option<f64>, p90: Option<f64>, p99: Option<f64>) -> String {
    format!("p50 {} · p90 {} · p99 {} ms", ms(p50), ms(p90), ms(p99))
}

/// Orders the overview by impact: the most errors in the last 7 days first, then the most
/// time spent serving, then by name.
fn by_impact(rows: &mut [OverviewRow]) {
    rows.sort_by(|a, b| {
        b.errors_week
            .cmp(&a.errors_week)
            .then(b.time_week_ms.total_cmp(&a.time_week_ms))
            .then_with(|| a.endpoint.name.cmp(&b.endpoint.name))
    });
}

/// The overview's rows as the pages show them, in the order given, `rank` their place in it.
pub(crate) fn overview_items(rows: &[OverviewRow], tz: chrono_tz::Tz) -> Value {
    json!(rows
        .iter()
        .enumerate()
        .map(|(rank, r)| overview_item(rank + 1, r, tz))
        .collect::<Vec<_>>())
}

/// The overview's totals row: sums over every endpoint.
fn overview_totals(rows: &[OverviewRow]) -> Value {
    let sum = |f: fn(&OverviewRow) -> i64| rows.iter().map(f).sum::<i64>();
    let (hits, errors) = (
        [
            sum(|r| r.hits_today),
            sum(|r| r.hits_week),
            sum(|r| r.hits_overall),
        ],
        [
            sum(|r| r.errors_today),
            sum(|r| r.errors_week),
            sum(|r| r.errors_overall),
        ],
    );
    json!({
        "hits": hits,
        "errors": errors,
        "rates": ([0, 1, 2].map(|i| error_rate(errors[i], hits[i]))),
        "time_week": duration_text(rows.iter().map(|r| r.time_week_ms).sum()),
        "groups": sum(|r| r.exception_groups),
    })
}

/// `errors` of `hits` in percent, as the overview shows it; empty without requests.
fn error_rate(errors: i64, hits: i64) -> String {
    match (errors, hits) {
        (_, 0) => String::new(),
        (0, _) => "0 %".to_owned(),
        _ => {
            let rate = errors as f64 * 100.0 / hits as f64;
            if rate < 0.1 {
                "<0.1 %".to_owned()
            } else if rate < 10.0 {
                format!("{rate:.1} %")
            } else {
                format!("{rate:.0} %")
            }
        }
    }
}

/// A total time in the largest unit that keeps it readable.
fn duration_text(ms: f64) -> String {
    match ms {
        ms if ms < 10.0 => format!("{ms:.2} ms"),
        ms if ms < 1_000.0 => format!("{ms:.0} ms"),
        ms if ms < 60_000.0 => format!("{:.1} s", ms / 1_000.0),
        ms if ms < 3_600_000.0 => format!("{:.1} min", ms / 60_000.0),
        ms => format!("{:.1} h", ms / 3_600_000.0),
    }
}

/// The choices of a level select, `level` selected.
fn level_choices(level: i32) -> Value {
    json!((0..4)
        .map(|l| json!({"value": l, "label": LEVEL_SHORT[l as usize], "title": LEVEL_LABELS[l as usize], "selected": l == level}))
        .collect::<Vec<_>>())
}

fn overview_item(rank: usize, row: &OverviewRow, tz: chrono_tz::Tz) -> Value {
    let e = &row.endpoint;
    let level = e.monitor_level.clamp(0, 3);
    // Errors without exception groups are answers the handler chose (a 404, a 503): their
    // status codes say more than an empty exceptions tab.
    let errors_link = if row.exception_groups > 0 {
        format!("endpoint/{}/exceptions", e.id)
    } else {
        format!("endpoint/{}/charts#status", e.id)
    };
    let (hits, errors) = (
        row.hits_24h.iter().sum::<i64>(),
        row.errors_24h.iter().sum::<i64>(),
    );
    json!({
        "rank": rank,
        "id": e.id,
        "name": e.name,
        "level": level,
        "levels": level_choices(level),
        "hits_today": row.hits_today,
        "hits_week": row.hits_week,
        "hits_overall": row.hits_overall,
        "errors_today": row.errors_today,
        "errors_week": row.errors_week,
        "errors_overall": row.errors_overall,
        "median_today": ms(row.median_today_ms),
        "median_week": ms(row.median_week_ms),
        "median_overall": ms(row.median_overall_ms),
        "median_today_sort": row.median_today_ms.unwrap_or(-1.0),
        "median_week_sort": row.median_week_ms.unwrap_or(-1.0),
        "median_overall_sort": row.median_overall_ms.unwrap_or(-1.0),
        "spread_today": spread(row.median_today_ms, row.p90_today_ms, row.p99_today_ms),
        "spread_week": spread(row.median_week_ms, row.p90_week_ms, row.p99_week_ms),
        "spread_overall": spread(row.median_overall_ms, row.p90_overall_ms, row.p99_overall_ms),
        "last_requested_iso": e.last_requested.map(rfc3339),
        "last_requested_local": e.last_requested.map(|t| local(t, tz)),
        "last_requested_sort": e.last_requested.unwrap_or(0),
        "exception_groups": row.exception_groups,
        "rate_today": error_rate(row.errors_today, row.hits_today),
        "rate_week": error_rate(row.errors_week, row.hits_week),
        "rate_overall": error_rate(row.errors_overall, row.hits_overall),
        "errors_link": errors_link,
        "time_week": duration_text(row.time_week_ms),
        "time_week_sort": row.time_week_ms,
        "spark": super::sparkline(
            &[(&row.hits_24h, ""), (&row.errors_24h, "errors")],
            &format!("last 24 hours: {hits} requests, {errors} errors (per hour)"),
        ),
        "spark_sort": hits,
    })
}

pub(crate) async fn overview(req: &Req, session: &Session) -> Reply {
    let (today, week) = windows(fmd_core::now_micros(), req.inner.config.tz());
    let wanted = req.query_param("instance");
    let loaded = blocking(req, move |s| {
        let instances = s.instances()?;
        let instance = chosen_instance(wanted.as_deref(), &instances);
        Ok((s.overview(today, week, instance)?, instance, instances))
    })
    .await;
    let (mut rows, instance, instances) = match loaded {
        Ok(found) => found,
        Err(why) => return unavailable(req, &why),
    };
    let instance_data = instance_choices(instance, &instances);
    let tz = req.inner.config.tz();
    let stats = &req.inner.recorder.stats;
    let dropped = stats.dropped();
    let failing = stats.failing.load(std::sync::atomic::Ordering::Relaxed);
    let last_error = stats.last_error.lock().clone();
    let mut data = layout(req, "Overview", Some(session));
    data.insert("nav_overview".into(), json!(true));
    data.insert("charts".into(), json!(true));
    data.insert(
        "timeline".into(),
        timeline_choice(
            req,
            "charts/timeline".into(),
            "All endpoints",
            rows.iter()
                .map(|r| r.endpoint.time_added)
                .min()
                .unwrap_or(0),
            DEFAULT_RANGE,
        ),
    );
    data.insert("endpoint_count".into(), json!(rows.len()));
    data.insert("instances".into(), instance_data);
    data.insert("totals".into(), overview_totals(&rows));
    data.insert("level_choices".into(), level_choices(1));
    by_impact(&mut rows);
    data.insert("rows".into(), overview_items(&rows, tz));
    data.insert(
        "writer".into(),
        json!({
            "problem": failing || dropped > 0,
            "failing": failing,
            "dropped": dropped,
            "backlog": stats.backlog.load(std::sync::atomic::Ordering::Relaxed),
            "last_error": last_error,
        }),
    );
    render(req, "overview", StatusCode::OK, data)
}

/// An endpoint's first tab: its figures, where its handler is, and its timeline.
pub(crate) async fn endpoint(req: &Req, session: &Session, raw_id: &str) -> Reply {
    let Some(id) = endpoint_id(raw_id) else {
        return no_endpoint(req);
    };
    let (today, week) = windows(fmd_core::now_micros(), req.inner.config.tz());
    let wanted = req.query_param("instance");
    let loaded = blocking(req, move |s| {
        let instances = s.instances()?;
        let instance = chosen_instance(wanted.as_deref(), &instances);
        let row = s.overview_of(id, today, week, instance)?;
        Ok(row.map(|row| (row, instance, instances)))
    })
    .await;
    let (row, instance, instances) = match loaded {
        Ok(Some(found)) => found,
        Ok(None) => return no_endpoint(req),
        Err(why) => return unavailable(req, &why),
    };
    let tz = req.inner.config.tz();
    let e = &row.endpoint;
    let mut data = endpoint_layout(req, session, e, instance, &instances);
    data.insert("tab_timeline".into(), json!(true));
    data.insert("charts".into(), json!(true));
    data.insert(
        "timeline".into(),
        timeline_choice(
            req,
            format!("endpoints/{id}/charts/timeline"),
            &e.name,
            e.time_added,
            DEFAULT_RANGE,
        ),
    );
    data.insert("row".into(), json!(row));
    data.insert("levels".into(), level_choices(e.monitor_level.clamp(0, 3)));
    data.insert(
        "percentiles".into(),
        json!([
            (
                "Today",
                row.median_today_ms,
                row.p90_today_ms,
                row.p99_today_ms
            ),
            ("Week", row.median_week_ms, row.p90_week_ms, row.p99_week_ms),
            (
                "Overall",
                row.median_overall_ms,
                row.p90_overall_ms,
                row.p99_overall_ms
            ),
        ]
        .map(|(label, p50, p90, p99)| json!({
            "label": label, "p50": ms(p50), "p90": ms(p90), "p99": ms(p99),
        }))),
    );
    data.insert("first_seen".into(), json!(local(e.time_added, tz)));
    data.insert(
        "last_requested_iso".into(),
        json!(e.last_requested.map(rfc3339)),
    );
    data.insert(
        "last_requested_local".into(),
        json!(e.last_requested.map(|t| local(t, tz))),
    );
    render(req, "endpoint", StatusCode::OK, data)
}

/// The values every tab of an endpoint filtered by instance shares.
fn endpoint_layout(
    req: &Req,
    session: &Session,
    e: &fmd_store::EndpointRow,
    instance: Option<i64>,
    instances: &[fmd_store::InstanceRow],
) -> super::Data {
    let mut data = layout(req, &e.name, Some(session));
    let choices = instance_choices(instance, instances);
    data.insert("overview_query".into(), choices["link"].clone());
    data.insert("instances".into(), choices);
    data.insert("endpoint".into(), json!(e));
    data.insert(
        "level_label".into(),
        json!(LEVEL_LABELS[e.monitor_level.clamp(0, 3) as usize]),
    );
    data
}

/// An endpoint's requests, a page at a time: newest or slowest first, narrowed to a minimum
/// duration or a status class (`?sort&min_ms&status`, as the API's). Requests slower than the
/// endpoint's p90 of the week are marked.
pub(crate) async fn requests(req: &Req, session: &Session, raw_id: &str) -> Reply {
    let Some(id) = endpoint_id(raw_id) else {
        return no_endpoint(req);
    };
    let page = page_param(req, PER_PAGE);
    let wanted = req.query_param("instance");
    let asked = crate::api::request_view(req);
    let view = asked.clone().unwrap_or_default();
    let (today, week) = windows(fmd_core::now_micros(), req.inner.config.tz());
    let loaded = blocking(req, move |s| {
        let instances = s.instances()?;
        let instance = chosen_instance(wanted.as_deref(), &instances);
        let Some(row) = s.overview_of(id, today, week, instance)? else {
            return Ok(None);
        };
        let filter = Filter::endpoint(id).on_instance(instance);
        let total = s.request_count_in_view(&filter, &view)?;
        let requests = s.requests_in_view(&filter, &view, (page - 1) * PER_PAGE, PER_PAGE)?;
        let ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
        let details = s.details_of(&ids)?;
        Ok(Some((row, total, (requests, details), instance, instances)))
    })
    .await;
    let (row, total, (requests, (outliers, profiles)), instance, instances) = match loaded {
        Ok(Some(found)) => found,
        Ok(None) => return no_endpoint(req),
        Err(why) => return unavailable(req, &why),
    };
    let tz = req.inner.config.tz();
    let mut data = endpoint_layout(req, session, &row.endpoint, instance, &instances);
    data.insert("tab_requests".into(), json!(true));
    super::download_form(&mut data, req, "requests");
    pager(&mut data, page, total, PER_PAGE);
    super::view_data(&mut data, req, &asked, instance);
    let slow_ms = row.p90_week_ms;
    data.insert("slow_ms".into(), json!(ms(slow_ms)));
    data.insert(
        "requests".into(),
        json!(requests
            .iter()
            .map(|r| {
                let duration_ms = r.duration_us as f64 / 1000.0;
                json!({
                    "id": r.id,
                    "iso": rfc3339(r.time_requested),
                    "local": local(r.time_requested, tz),
                    "duration": format!("{duration_ms:.2}"),
                    "slow": slow_ms.is_some_and(|p90| duration_ms > p90),
                    "status_code": r.status_code,
                    "status_class": format!("s{}", r.status_code / 100),
                    "version": r.version_requested,
                    "group_by": r.group_by.clone().unwrap_or_default(),
                    "ip": r.ip.clone().unwrap_or_default(),
                    "instance": r.instance.clone().unwrap_or_default(),
                    "outlier": outliers.contains(&r.id),
                    "profile": profiles.contains(&r.id),
                })
            })
            .collect::<Vec<_>>()),
    );
    render(req, "endpoint_requests", StatusCode::OK, data)
}

/// The Charts, Outliers, Profiler, Grouped profiler and Exceptions tabs of an endpoint.
pub(crate) async fn endpoint_tab(req: &Req, session: &Session, raw_id: &str, tab: &str) -> Reply {
    let Some(id) = endpoint_id(raw_id) else {
        return no_endpoint(req);
    };
    let page = page_param(req, DETAIL_PER_PAGE);
    match tab {
        "charts" => charts_tab(req, session, id).await,
        "exceptions" => super::exceptions::endpoint_tab(req, session, id, page).await,
        _ => super::profiles::tab(req, session, id, tab, page).await,
    }
}

/// An endpoint's charts: drawn in the browser from the API.
async fn charts_tab(req: &Req, session: &Session, id: i64) -> Reply {
    let e = match blocking(req, move |s| s.endpoint(id)).await {
        Ok(Some(e)) => e,
        Ok(None) => return no_endpoint(req),
        Err(why) => return unavailable(req, &why),
    };
    let mut data = tab_layout(req, session, &e);
    data.insert("tab_charts".into(), json!(true));
    data.insert("range".into(), range_choice(req));
    render(req, "endpoint_charts", StatusCode::OK, data)
}
