//! The overview, an endpoint's page with its requests, and the endpoint's tabs.

use fmd_store::Filter;
use http::StatusCode;
use serde_json::{json, Value};

use fmd_store::OverviewRow;

use super::{
    chosen_instance, endpoint_id, instance_choices, layout, ms, no_endpoint, page_param, pager,
    range_choice, render, tab_layout, unavailable, DETAIL_PER_PAGE, LEVEL_LABELS, LEVEL_SHORT,
};
use crate::auth::Session;
use crate::time::{local, rfc3339, windows};
use crate::web::{blocking, Reply, Req};

/// Requests per page on the endpoint page.
pub(crate) const PER_PAGE: i64 = 25;

/// The hover text of a median: all three percentiles.
pub(crate) fn spread(p50: Option<f64>, p90: Option<f64>, p99: Option<f64>) -> String {
    format!("p50 {} · p90 {} · p99 {} ms", ms(p50), ms(p90), ms(p99))
}

/// The overview's rows as the pages show them.
pub(crate) fn overview_items(rows: &[OverviewRow], tz: chrono_tz::Tz) -> Value {
    json!(rows
        .iter()
        .map(|r| overview_item(r, tz))
        .collect::<Vec<_>>())
}

/// The choices of a level select, `level` selected.
fn level_choices(level: i32) -> Value {
    json!((0..4)
        .map(|l| json!({"value": l, "label": LEVEL_SHORT[l as usize], "title": LEVEL_LABELS[l as usize], "selected": l == level}))
        .collect::<Vec<_>>())
}

fn overview_item(row: &OverviewRow, tz: chrono_tz::Tz) -> Value {
    let e = &row.endpoint;
    let level = e.monitor_level.clamp(0, 3);
    json!({
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
        "p90_week": ms(row.p90_week_ms),
        "p99_week": ms(row.p99_week_ms),
        "p90_week_sort": row.p90_week_ms.unwrap_or(-1.0),
        "p99_week_sort": row.p99_week_ms.unwrap_or(-1.0),
        "spread_today": spread(row.median_today_ms, row.p90_today_ms, row.p99_today_ms),
        "spread_week": spread(row.median_week_ms, row.p90_week_ms, row.p99_week_ms),
        "spread_overall": spread(row.median_overall_ms, row.p90_overall_ms, row.p99_overall_ms),
        "last_requested_iso": e.last_requested.map(rfc3339),
        "last_requested_local": e.last_requested.map(|t| local(t, tz)),
        "last_requested_sort": e.last_requested.unwrap_or(0),
        "exception_groups": row.exception_groups,
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
    let (rows, instance, instances) = match loaded {
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
    data.insert("endpoint_count".into(), json!(rows.len()));
    data.insert("instances".into(), instance_data);
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

pub(crate) async fn endpoint(req: &Req, session: &Session, raw_id: &str) -> Reply {
    let Some(id) = endpoint_id(raw_id) else {
        return no_endpoint(req);
    };
    let page = page_param(req, PER_PAGE);
    let (today, week) = windows(fmd_core::now_micros(), req.inner.config.tz());
    let wanted = req.query_param("instance");
    let loaded = blocking(req, move |s| {
        let instances = s.instances()?;
        let instance = chosen_instance(wanted.as_deref(), &instances);
        let Some(row) = s.overview_of(id, today, week, instance)? else {
            return Ok(None);
        };
        let total = s.request_count(&Filter::endpoint(id).on_instance(instance))?;
        let requests = s.requests(
            &Filter::endpoint(id).on_instance(instance),
            (page - 1) * PER_PAGE,
            PER_PAGE,
        )?;
        Ok(Some((row, total, requests, instance, instances)))
    })
    .await;
    let (row, total, requests, instance, instances) = match loaded {
        Ok(Some(found)) => found,
        Ok(None) => return no_endpoint(req),
        Err(why) => return unavailable(req, &why),
    };
    let tz = req.inner.config.tz();
    let e = &row.endpoint;
    let mut data = layout(req, &e.name, Some(session));
    let choices = instance_choices(instance, &instances);
    data.insert("overview_query".into(), choices["link"].clone());
    data.insert("instances".into(), choices);
    data.insert("tab_requests".into(), json!(true));
    data.insert("endpoint".into(), json!(e));
    data.insert("row".into(), json!(row));
    data.insert(
        "level_label".into(),
        json!(LEVEL_LABELS[e.monitor_level.clamp(0, 3) as usize]),
    );
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
    pager(&mut data, page, total, PER_PAGE);
    data.insert(
        "requests".into(),
        json!(requests
            .iter()
            .map(|r| json!({
                "iso": rfc3339(r.time_requested),
                "local": local(r.time_requested, tz),
                "duration": format!("{:.2}", r.duration_us as f64 / 1000.0),
                "status_code": r.status_code,
                "status_class": format!("s{}", r.status_code / 100),
                "version": r.version_requested,
                "group_by": r.group_by.clone().unwrap_or_default(),
                "ip": r.ip.clone().unwrap_or_default(),
                "instance": r.instance.clone().unwrap_or_default(),
            }))
            .collect::<Vec<_>>()),
    );
    render(req, "endpoint", StatusCode::OK, data)
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
