//! Server-rendered pages (Handlebars templates embedded in the binary, escaped by default).

use handlebars::Handlebars;
use http::StatusCode;
use serde_json::{json, Value};

use fmd_store::{InstanceRow, OverviewRow};

use crate::auth::{Role, Session};
use crate::dispatch::{blocking, html, role_name, Reply, Req};
use crate::time::{local, rfc3339, windows};

/// Requests per page on the endpoint page.
const PER_PAGE: i64 = 25;

const LEVEL_LABELS: [&str; 4] = [
    "last request only",
    "performance",
    "+ outliers",
    "+ profiler",
];

/// Short names for the level select, where space is tight.
const LEVEL_SHORT: [&str; 4] = ["off", "perf", "outliers", "profiler"];

pub(crate) struct Pages {
    hb: Handlebars<'static>,
}

impl Pages {
    pub(crate) fn new() -> Pages {
        let mut hb = Handlebars::new();
        let templates = [
            ("layout", include_str!("../assets/templates/layout.hbs")),
            ("login", include_str!("../assets/templates/login.hbs")),
            ("overview", include_str!("../assets/templates/overview.hbs")),
            ("endpoint", include_str!("../assets/templates/endpoint.hbs")),
            ("error", include_str!("../assets/templates/error.hbs")),
            ("outliers", include_str!("../assets/templates/outliers.hbs")),
            ("profiler", include_str!("../assets/templates/profiler.hbs")),
            ("grouped", include_str!("../assets/templates/grouped.hbs")),
            (
                "endpoint_tabs",
                include_str!("../assets/templates/endpoint_tabs.hbs"),
            ),
            ("pager", include_str!("../assets/templates/pager.hbs")),
            (
                "exceptions",
                include_str!("../assets/templates/exceptions.hbs"),
            ),
            (
                "endpoint_exceptions",
                include_str!("../assets/templates/endpoint_exceptions.hbs"),
            ),
            ("frame", include_str!("../assets/templates/frame.hbs")),
            (
                "source_dialog",
                include_str!("../assets/templates/source_dialog.hbs"),
            ),
            ("charts", include_str!("../assets/templates/charts.hbs")),
            ("reports", include_str!("../assets/templates/reports.hbs")),
            ("graphs", include_str!("../assets/templates/graphs.hbs")),
            ("settings", include_str!("../assets/templates/settings.hbs")),
            ("users", include_str!("../assets/templates/users.hbs")),
            ("data", include_str!("../assets/templates/data.hbs")),
            (
                "settings_tabs",
                include_str!("../assets/templates/settings_tabs.hbs"),
            ),
            (
                "endpoint_charts",
                include_str!("../assets/templates/endpoint_charts.hbs"),
            ),
            (
                "range_form",
                include_str!("../assets/templates/range_form.hbs"),
            ),
            (
                "instance_select",
                include_str!("../assets/templates/instance_select.hbs"),
            ),
        ];
        for (name, source) in templates {
            // The templates are part of the binary and covered by tests; a broken one is a bug.
            hb.register_template_string(name, source)
                .unwrap_or_else(|e| panic!("template {name} is invalid: {e}"));
        }
        Pages { hb }
    }
}

/// The values every page's layout needs.
fn layout(req: &Req, title: &str, session: Option<&Session>) -> serde_json::Map<String, Value> {
    let version = &req.inner.version;
    let short: String = if version.len() == 40 {
        version[..10].to_owned()
    } else {
        version.clone()
    };
    let mut map = serde_json::Map::new();
    map.insert("base".into(), json!(req.base()));
    map.insert("title".into(), json!(title));
    map.insert("short_version".into(), json!(short));
    map.insert("timezone".into(), json!(req.inner.config.timezone));
    if let Some(s) = session {
        map.insert("user".into(), json!(s.username));
        map.insert("role".into(), json!(role_name(s.role)));
        map.insert("is_admin".into(), json!(s.role == Role::Admin));
        map.insert("csrf".into(), json!(s.csrf));
    }
    map
}

fn render(
    req: &Req,
    template: &str,
    status: StatusCode,
    data: serde_json::Map<String, Value>,
) -> Reply {
    match req.inner.pages.hb.render(template, &Value::Object(data)) {
        Ok(body) => html(status, body),
        Err(e) => html(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "<!doctype html><p>The page could not be rendered: {}</p>",
                handlebars::html_escape(&e.to_string())
            ),
        ),
    }
}

pub(crate) fn login(req: &Req, error: Option<&str>, status: StatusCode) -> Reply {
    let mut data = layout(req, "Log in", None);
    data.insert(
        "next".into(),
        json!(req.query_param("next").unwrap_or_default()),
    );
    if let Some(e) = error {
        data.insert("error".into(), json!(e));
    }
    render(req, "login", status, data)
}

pub(crate) fn error(req: &Req, status: StatusCode, message: &str) -> Reply {
    let session = req.session();
    let mut data = layout(
        req,
        status.canonical_reason().unwrap_or("Error"),
        session.as_ref(),
    );
    data.insert("status".into(), json!(status.as_u16()));
    data.insert("message".into(), json!(message));
    render(req, "error", status, data)
}

fn ms(value: Option<f64>) -> String {
    match value {
        None => "–".into(),
        // Durations are stored in microseconds: below one, all that is known is "under 1 µs".
        Some(v) if v < 0.001 => "< 0.001".into(),
        Some(v) if v < 0.1 => format!("{v:.3}"),
        Some(v) if v < 10.0 => format!("{v:.2}"),
        Some(v) if v < 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.0}"),
    }
}

/// The hover text of a median: all three percentiles.
fn spread(p50: Option<f64>, p90: Option<f64>, p99: Option<f64>) -> String {
    format!("p50 {} · p90 {} · p99 {} ms", ms(p50), ms(p90), ms(p99))
}

fn overview_item(row: &OverviewRow, tz: chrono_tz::Tz) -> Value {
    let e = &row.endpoint;
    let level = e.monitor_level.clamp(0, 3);
    json!({
        "id": e.id,
        "name": e.name,
        "level": level,
        "levels": (0..4).map(|l| json!({"value": l, "label": LEVEL_SHORT[l as usize], "title": LEVEL_LABELS[l as usize], "selected": l == level})).collect::<Vec<_>>(),
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

/// The instance a page is filtered to: `?instance=ID` of a known instance. Anything else shows
/// every instance, as the select then says.
fn chosen_instance(wanted: Option<&str>, instances: &[InstanceRow]) -> Option<i64> {
    wanted
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|id| instances.iter().any(|i| i.id == *id))
}

/// The choices of the instance select, `chosen` selected: shown when more than one instance
/// ever wrote.
fn instance_choices(chosen: Option<i64>, instances: &[InstanceRow]) -> Value {
    let now = fmd_core::now_micros();
    let items: Vec<Value> = instances
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "name": i.name,
                "version": i.version,
                "live": i.is_live(now),
                "last_seen_iso": rfc3339(i.last_seen),
                "selected": chosen == Some(i.id),
            })
        })
        .collect();
    let live = items.iter().filter(|i| i["live"] == json!(true)).count();
    json!({
        "show": instances.len() > 1,
        "items": items,
        "live": live,
        "count": instances.len(),
        "query": chosen.map(|id| format!("&instance={id}")).unwrap_or_default(),
        "link": chosen.map(|id| format!("?instance={id}")).unwrap_or_default(),
    })
}

fn unavailable(req: &Req, why: &str) -> Reply {
    error(
        req,
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("The database is unavailable ({why}). Recorded requests are kept and written when it returns; reload this page in a moment."),
    )
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
    let last_error = stats
        .last_error
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    let mut data = layout(req, "Overview", Some(session));
    data.insert("nav_overview".into(), json!(true));
    data.insert("endpoint_count".into(), json!(rows.len()));
    data.insert("instances".into(), instance_data);
    data.insert(
        "rows".into(),
        json!(rows
            .iter()
            .map(|r| overview_item(r, tz))
            .collect::<Vec<_>>()),
    );
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
    let Some(id) = raw_id.parse::<i64>().ok().filter(|i| *i > 0) else {
        return error(req, StatusCode::NOT_FOUND, "There is no such endpoint.");
    };
    let page: i64 = req
        .query_param("page")
        .and_then(|v| v.parse().ok())
        .filter(|p: &i64| *p >= 1 && *p <= i64::MAX / PER_PAGE)
        .unwrap_or(1);
    let (today, week) = windows(fmd_core::now_micros(), req.inner.config.tz());
    let wanted = req.query_param("instance");
    let loaded = blocking(req, move |s| {
        let instances = s.instances()?;
        let instance = chosen_instance(wanted.as_deref(), &instances);
        let Some(row) = s.overview_of(id, today, week, instance)? else {
            return Ok(None);
        };
        let total = s.request_count(id, instance)?;
        let requests = s.requests(id, instance, (page - 1) * PER_PAGE, PER_PAGE)?;
        Ok(Some((row, total, requests, instance, instances)))
    })
    .await;
    let (row, total, requests, instance, instances) = match loaded {
        Ok(Some(found)) => found,
        Ok(None) => return error(req, StatusCode::NOT_FOUND, "There is no such endpoint."),
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

/// Outliers and profiles per page.
const DETAIL_PER_PAGE: i64 = 10;

fn pager(data: &mut serde_json::Map<String, Value>, page: i64, total: i64, per_page: i64) {
    let pages = ((total + per_page - 1) / per_page).max(1);
    data.insert("total".into(), json!(total));
    data.insert("page".into(), json!(page));
    data.insert("pages".into(), json!(pages));
    data.insert("page_beyond".into(), json!(page > 1));
    data.insert("prev".into(), json!((page > 1).then_some(page - 1)));
    data.insert("next".into(), json!((page < pages).then_some(page + 1)));
}

/// The CSS class step (`d0`-`d15`) that indents a tree row at `depth`.
fn indent(depth: usize) -> usize {
    depth.min(15)
}

fn megabytes(bytes: i64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

/// The chart pages' date range from `?from&to`, with the presets' links; a bad range is shown
/// as an error and replaced by the default one.
fn range_choice(req: &Req) -> Value {
    let now = fmd_core::now_micros();
    let tz = req.inner.config.tz();
    let parse =
        |from: Option<&str>, to: Option<&str>| crate::charts::Range::parse(from, to, now, tz);
    let asked = parse(
        req.query_param("from").as_deref(),
        req.query_param("to").as_deref(),
    );
    let error = asked.as_ref().err().cloned();
    let Ok(range) = asked.or_else(|_| parse(None, None)) else {
        return json!({ "error": error });
    };
    let today = crate::time::local_date(now, tz).unwrap_or(range.to);
    let presets: Vec<Value> = [
        ("Today", 1),
        ("7 days", 7),
        ("30 days", 30),
        ("90 days", 90),
    ]
    .into_iter()
    .filter_map(|(label, days)| {
        let from = today.checked_sub_days(chrono::Days::new(days - 1))?;
        Some(json!({
            "label": label,
            "from": from.to_string(),
            "to": today.to_string(),
            "active": range.from == from && range.to == today,
        }))
    })
    .collect();
    json!({
        "from": range.from.to_string(),
        "to": range.to.to_string(),
        "error": error,
        "presets": presets,
    })
}

fn percent_change(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{v:+.1} %"),
        None => "–".into(),
    }
}

/// The report page: the comparison form and, per endpoint, the evidence and both sides' box
/// plots.
pub(crate) async fn reports(req: &Req, session: &Session) -> Reply {
    let ask = crate::api::report_ask(req);
    let (report, versions) = match crate::api::compute_report(req, ask.clone()).await {
        Ok(found) => found,
        Err(why) => return unavailable(req, &why),
    };
    let (report, error) = match report {
        Ok(r) => (Some(r), None),
        Err(why) => (None, Some(why)),
    };
    let mut data = layout(req, "Reports", Some(session));
    data.insert("nav_reports".into(), json!(true));
    data.insert("charts".into(), json!(true));
    let compare = ask.compare.clone().unwrap_or_else(|| "day".into());
    data.insert(
        "comparisons".into(),
        json!(crate::reports::COMPARISONS.map(
            |(value, label)| json!({"value": value, "label": label, "selected": value == compare})
        )),
    );
    let (default_baseline, default_current) = crate::reports::default_versions(&versions);
    let baseline = ask.baseline.as_ref().or(default_baseline);
    let current = ask.current.as_ref().or(default_current);
    data.insert(
        "versions".into(),
        json!(versions
            .iter()
            .rev()
            .map(|v| json!({
                "name": v,
                "baseline": Some(v) == baseline,
                "current": Some(v) == current,
            }))
            .collect::<Vec<_>>()),
    );
    data.insert(
        "ask".into(),
        json!({
            "baseline_from": ask.baseline_from,
            "baseline_to": ask.baseline_to,
            "current_from": ask.current_from,
            "current_to": ask.current_to,
        }),
    );
    data.insert("error".into(), json!(error));
    if let Some(r) = report {
        let items: Vec<Value> = r
            .endpoints
            .iter()
            .map(|e| {
                let l = &e.latency;
                json!({
                    "id": e.id,
                    "name": e.name,
                    "significant": e.significant,
                    "latency": l,
                    "slower": l.change_percent.is_some_and(|c| c > 0.0),
                    "change": percent_change(l.change_percent),
                    "p_value": l.p_value.map_or("not tested (fewer than 8 requests a side)".into(), |p| {
                        if p < 0.0001 { "< 0.0001".to_owned() } else { format!("{p:.4}") }
                    }),
                    "baseline_median": ms(l.baseline.median_ms),
                    "current_median": ms(l.current.median_ms),
                    "status_alarms": e.status.codes.iter().filter(|c| c.significant).map(|c| json!({
                        "status_code": c.status_code, "change": format!("{:.1}", c.change_pp),
                    })).collect::<Vec<_>>(),
                    "codes": e.status.codes.iter().map(|c| json!({
                        "status_code": c.status_code,
                        "class": c.status_code / 100,
                        "baseline": format!("{:.1}", c.baseline_share),
                        "current": format!("{:.1}", c.current_share),
                        "change": format!("{:+.1}", c.change_pp),
                        "significant": c.significant,
                    })).collect::<Vec<_>>(),
                    "pair_json": serde_json::to_string(&json!({
                        "labels": [r.baseline.label, r.current.label],
                        "boxes": [l.baseline.boxed, l.current.boxed],
                    })).unwrap_or_default(),
                })
            })
            .collect();
        data.insert(
            "significant_count".into(),
            json!(r.endpoints.iter().filter(|e| e.significant).count()),
        );
        data.insert("endpoint_total".into(), json!(items.len()));
        data.insert("endpoints".into(), json!(items));
        let mut report = json!(r);
        report["baseline_span"] = json!(r.baseline.from != r.baseline.to);
        report["current_span"] = json!(r.current.from != r.current.to);
        data.insert("report".into(), report);
    }
    render(req, "reports", StatusCode::OK, data)
}

fn duration_text(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

fn size_text(bytes: Option<i64>) -> String {
    match bytes {
        None => "an unknown amount".into(),
        Some(b) if b < 1_048_576 => format!("{:.0} kB", b as f64 / 1024.0),
        Some(b) if b < 1_073_741_824 => format!("{:.1} MB", b as f64 / 1_048_576.0),
        Some(b) => format!("{:.2} GB", b as f64 / 1_073_741_824.0),
    }
}

/// The settings pages: status and configuration, users (administrators only), data.
pub(crate) async fn settings(req: &Req, session: &Session, tab: &str) -> Reply {
    let admin = session.role == Role::Admin;
    if tab == "users" && !admin {
        return error(
            req,
            StatusCode::FORBIDDEN,
            "Only administrators can manage users.",
        );
    }
    let status = match crate::api::status_item(req).await {
        Ok(s) => s,
        Err(why) => return unavailable(req, &why),
    };
    let mut data = layout(req, "Settings", Some(session));
    data.insert("nav_settings".into(), json!(true));
    data.insert("size".into(), json!(size_text(status.database_size_bytes)));
    let config = &req.inner.config;
    let template = match tab {
        "users" => {
            let users = match blocking(req, |s| s.users()).await {
                Ok(u) => u,
                Err(why) => return unavailable(req, &why),
            };
            data.insert(
                "users".into(),
                json!(users
                    .into_iter()
                    .map(|u| {
                        let configured = crate::auth::password_from_config(config, &u.username);
                        let me = u.username == session.username;
                        let mut item = json!(crate::api::user_item(u));
                        item["configured"] = json!(configured);
                        item["me"] = json!(me);
                        item
                    })
                    .collect::<Vec<_>>()),
            );
            if !config.guest_password.is_empty() {
                data.insert(
                    "guest".into(),
                    json!({"username": config.guest_username, "passwords": config.guest_password.len()}),
                );
            }
            data.insert("tab_users".into(), json!(true));
            "users"
        }
        "data" => {
            let (today, week) = windows(fmd_core::now_micros(), config.tz());
            let rows = match blocking(req, move |s| s.overview(today, week, None)).await {
                Ok(r) => r,
                Err(why) => return unavailable(req, &why),
            };
            let tz = config.tz();
            data.insert(
                "rows".into(),
                json!(rows
                    .iter()
                    .map(|r| overview_item(r, tz))
                    .collect::<Vec<_>>()),
            );
            let retention = config.data_retention_days;
            data.insert("retention_days".into(), json!(retention));
            data.insert(
                "prune_days".into(),
                json!(if retention > 0 { retention } else { 90 }),
            );
            data.insert("tab_data".into(), json!(true));
            "data"
        }
        _ => {
            let w = &status.writer;
            data.insert("uptime".into(), json!(duration_text(status.uptime_seconds)));
            let dropped = req.inner.recorder.stats.dropped();
            data.insert("dropped".into(), json!(dropped));
            data.insert("writer_problem".into(), json!(w.failing || dropped > 0));
            data.insert(
                "source".into(),
                json!(config.source.as_ref().map(|p| p.display().to_string())),
            );
            data.insert("tab_status".into(), json!(true));
            "settings"
        }
    };
    data.insert("status".into(), json!(status));
    render(req, template, StatusCode::OK, data)
}

/// The custom graphs, each over the chosen range.
pub(crate) async fn graphs(req: &Req, session: &Session) -> Reply {
    let items = match crate::api::graph_items(req).await {
        Ok(items) => items,
        Err(why) => return unavailable(req, &why),
    };
    let tz = req.inner.config.tz();
    let when = |t: Option<i64>| t.map(|t| local(t, tz));
    let mut data = layout(req, "Custom graphs", Some(session));
    data.insert("nav_graphs".into(), json!(true));
    data.insert("charts".into(), json!(true));
    data.insert("range".into(), range_choice(req));
    data.insert(
        "graphs".into(),
        json!(items
            .iter()
            .map(|g| {
                let mut v = json!(g);
                v["last_run_local"] = json!(when(g.last_run));
                v["next_run_local"] = json!(when(g.next_run));
                v["last_error_local"] = json!(when(g.last_error_time));
                v
            })
            .collect::<Vec<_>>()),
    );
    render(req, "graphs", StatusCode::OK, data)
}

/// The application's charts.
pub(crate) async fn charts(req: &Req, session: &Session) -> Reply {
    let mut data = layout(req, "Charts", Some(session));
    data.insert("nav_charts".into(), json!(true));
    data.insert("charts".into(), json!(true));
    data.insert("range".into(), range_choice(req));
    render(req, "charts", StatusCode::OK, data)
}

/// The Charts, Outliers, Profiler and Grouped profiler tabs of an endpoint.
pub(crate) async fn endpoint_tab(req: &Req, session: &Session, raw_id: &str, tab: &str) -> Reply {
    let Some(id) = raw_id.parse::<i64>().ok().filter(|i| *i > 0) else {
        return error(req, StatusCode::NOT_FOUND, "There is no such endpoint.");
    };
    let page: i64 = req
        .query_param("page")
        .and_then(|v| v.parse().ok())
        .filter(|p: &i64| *p >= 1 && *p <= i64::MAX / DETAIL_PER_PAGE)
        .unwrap_or(1);
    let offset = (page - 1) * DETAIL_PER_PAGE;
    let tab_name = tab.to_owned();
    let loaded = blocking(req, move |s| {
        let Some(e) = s.endpoint(id)? else {
            return Ok(None);
        };
        let content = match tab_name.as_str() {
            "exceptions" => {
                let groups = s.exception_groups(Some(id), offset, DETAIL_PER_PAGE)?;
                let ids: Vec<i64> = groups.iter().map(|g| g.group_id).collect();
                let (messages, frames) = s.group_details(&ids)?;
                Tab::Exceptions(s.exception_group_count(Some(id))?, groups, messages, frames)
            }
            "outliers" => Tab::Outliers(
                s.outlier_count(id)?,
                s.outliers(id, offset, DETAIL_PER_PAGE)?,
            ),
            "charts" => Tab::Charts,
            "profiler" => Tab::Profiler(
                s.profile_count(id)?,
                s.profiles(id, offset, DETAIL_PER_PAGE)?,
            ),
            _ => {
                let (stats, merged) =
                    s.grouped_profile(id, &e.name, crate::api::GROUPED_REQUESTS)?;
                Tab::Grouped(stats, merged)
            }
        };
        Ok(Some((e, content)))
    })
    .await;
    let (e, content) = match loaded {
        Ok(Some(found)) => found,
        Ok(None) => return error(req, StatusCode::NOT_FOUND, "There is no such endpoint."),
        Err(why) => return unavailable(req, &why),
    };
    let tz = req.inner.config.tz();
    let level = e.monitor_level.clamp(0, 3) as usize;
    let mut data = layout(req, &e.name, Some(session));
    data.insert("overview_query".into(), json!(""));
    data.insert("level_label".into(), json!(LEVEL_LABELS[level]));
    data.insert("charts".into(), json!(true));
    let template = match content {
        Tab::Charts => {
            data.insert("tab_charts".into(), json!(true));
            data.insert("range".into(), range_choice(req));
            "endpoint_charts"
        }
        Tab::Exceptions(total, groups, messages, frames) => {
            data.insert("tab_exceptions".into(), json!(true));
            pager(&mut data, page, total, DETAIL_PER_PAGE);
            let groups: Vec<Value> = groups
                .iter()
                .map(|g| {
                    let mine = |id: i64| id == g.group_id;
                    let mut item = group_json(g, tz);
                    item["messages"] = json!(messages
                        .iter()
                        .filter(|m| mine(m.group_id))
                        .map(
                            |m| json!({"message": m.message, "count": m.count, "many": m.count > 1})
                        )
                        .collect::<Vec<_>>());
                    let frames: Vec<&fmd_store::GroupFrame> =
                        frames.iter().filter(|f| mine(f.group_id)).collect();
                    item["segments"] = json!(frame_segments(&frames));
                    item
                })
                .collect();
            data.insert("groups".into(), json!(groups));
            "endpoint_exceptions"
        }
        Tab::Outliers(total, rows) => {
            data.insert("tab_outliers".into(), json!(true));
            pager(&mut data, page, total, DETAIL_PER_PAGE);
            let config = &req.inner.config;
            data.insert("constant".into(), json!(config.outlier_detection_constant));
            data.insert("min_samples".into(), json!(config.outlier_min_samples));
            data.insert("detailed".into(), json!(level >= 2));
            let samples = req.inner.by_id.get(&id).map_or(0, |e| e.mean().0);
            data.insert("samples".into(), json!(samples));
            let cpu: Vec<&Vec<f32>> = rows.iter().map(|o| &o.cpu_percent).collect();
            data.insert(
                "cpu_json".into(),
                json!(serde_json::to_string(&cpu).unwrap_or_default()),
            );
            let outliers: Vec<Value> = rows
                .iter()
                .map(|o| {
                    let cpu = &o.cpu_percent;
                    let avg = cpu.iter().sum::<f32>() / cpu.len().max(1) as f32;
                    let max = cpu.iter().copied().fold(0.0f32, f32::max);
                    json!({
                        "iso": rfc3339(o.time_requested),
                        "local": local(o.time_requested, tz),
                        "duration": format!("{:.2}", o.duration_us as f64 / 1000.0),
                        "status_code": o.status_code,
                        "status_class": format!("s{}", o.status_code / 100),
                        "method": o.method,
                        "url": o.url,
                        "cpu_avg": format!("{avg:.0}"),
                        "cpu_max": format!("{max:.0}"),
                        "memory": megabytes(o.memory_bytes),
                        "system_memory": megabytes(o.system_memory_bytes),
                        "stuck_after": o.stack.after_ms.map(|ms| format!("{ms:.1}")),
                        "header_count": o.headers.len(),
                        "headers": o.headers.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
                        "stack": o.stack.frames.iter().map(|f| json!({
                            "function": f.function,
                            "function_id": f.function_id,
                            "indent": indent(f.depth as usize),
                            "running": format!("{:.1}", f.running_ms),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            data.insert("outliers".into(), json!(outliers));
            "outliers"
        }
        Tab::Profiler(total, rows) => {
            data.insert("tab_profiler".into(), json!(true));
            pager(&mut data, page, total, DETAIL_PER_PAGE);
            let profiles: Vec<Value> = rows
                .into_iter()
                .map(|p| {
                    let time = p.time_requested;
                    let item = crate::api::profile_item(p);
                    json!({
                        "iso": item.time_requested,
                        "local": local(time, tz),
                        "duration": format!("{:.3}", item.duration_ms),
                        "span_count": item.spans.len(),
                        "dropped_spans": item.dropped_spans,
                        "spans": item.spans.iter().map(|s| json!({
                            "function": s.function,
                            "function_id": s.function_id,
                            "indent": indent(s.depth as usize + 1),
                            "start": format!("{:.3}", s.start_ms),
                            "duration": format!("{:.3}", s.duration_ms),
                            "share": format!("{:.1}", s.share * 100.0),
                            "cancelled": s.cancelled,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            data.insert("profiles".into(), json!(profiles));
            "profiler"
        }
        Tab::Grouped(stats, merged) => {
            data.insert("tab_grouped".into(), json!(true));
            data.insert("merged".into(), json!(merged));
            let items = crate::api::grouped_items(stats);
            data.insert(
                "paths_json".into(),
                json!(serde_json::to_string(&items).unwrap_or_default()),
            );
            let rows: Vec<Value> = if merged == 0 {
                Vec::new()
            } else {
                items
                    .iter()
                    .map(|g| {
                        json!({
                            "function": g.function,
                            "path": g.path.join(" › "),
                            "indent": indent(g.depth),
                            "hits": g.hits,
                            "per_request": format!("{:.2}", g.hits_share),
                            "total": format!("{:.3}", g.total_ms),
                            "avg": format!("{:.3}", g.avg_ms),
                            "std": format!("{:.3}", g.std_ms),
                            "share": format!("{:.1}", g.share * 100.0),
                        })
                    })
                    .collect()
            };
            data.insert("rows".into(), json!(rows));
            "grouped"
        }
    };
    data.insert("endpoint".into(), json!(e));
    render(req, template, StatusCode::OK, data)
}

enum Tab {
    Exceptions(
        i64,
        Vec<fmd_store::ExceptionGroup>,
        Vec<fmd_store::GroupMessage>,
        Vec<fmd_store::GroupFrame>,
    ),
    Outliers(i64, Vec<fmd_store::OutlierRow>),
    Profiler(i64, Vec<fmd_store::ProfileRow>),
    Charts,
    Grouped(Vec<fmd_core::profile::PathStats>, usize),
}

/// Exception groups per page on the Exceptions page.
const GROUPS_PER_PAGE: i64 = 25;

/// Days of activity the Exceptions page draws per group.
const ACTIVITY_DAYS: i64 = 14;

/// A group's values for the pages.
fn group_json(g: &fmd_store::ExceptionGroup, tz: chrono_tz::Tz) -> Value {
    let type_short = g.type_name.rsplit("::").next().unwrap_or(&g.type_name);
    json!({
        "group_id": g.group_id,
        "endpoint": g.endpoint,
        "endpoint_id": g.endpoint_id,
        "type_name": g.type_name,
        "type_short": type_short,
        "message": g.message,
        "message_line": g.message.lines().next().unwrap_or(""),
        "count": g.count,
        "user_captured": g.user_captured != 0,
        "first_seen": g.first_seen,
        "last_seen": g.last_seen,
        "first_iso": rfc3339(g.first_seen),
        "last_iso": rfc3339(g.last_seen),
        "first_local": local(g.first_seen, tz),
        "last_local": local(g.last_seen, tz),
    })
}

/// A small line of occurrences per day, as inline SVG: numbers only, so it is safe unescaped.
fn sparkline(counts: &[i64]) -> String {
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = 120.0 / (counts.len().max(2) - 1) as f64;
    let points: Vec<String> = counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                22.0 - 20.0 * *n as f64 / max
            )
        })
        .collect();
    let total: i64 = counts.iter().sum();
    format!(
        "<svg class=\"spark\" viewBox=\"0 0 120 24\" role=\"img\"><title>{total} in the last {} days</title><polyline points=\"{}\"/></svg>",
        counts.len(),
        points.join(" ")
    )
}

/// Frames as the page shows them: consecutive repeats of one frame (recursion) as one with a
/// count; runs of library frames folded; of a trace longer than 20 entries the first and last
/// ten, the middle folded.
fn frame_segments(frames: &[&fmd_store::GroupFrame]) -> Vec<Value> {
    let mut entries: Vec<(&fmd_store::GroupFrame, usize)> = Vec::new();
    for f in frames {
        match entries.last_mut() {
            Some((last, n)) if last.function_id == f.function_id && last.line == f.line => *n += 1,
            _ => entries.push((f, 1)),
        }
    }
    let frame = |(f, n): &(&fmd_store::GroupFrame, usize)| {
        json!({
            "function": f.function,
            "file": f.file,
            "shown_file": if f.relative_file.is_empty() { &f.file } else { &f.relative_file },
            "line": f.line,
            "function_id": f.function_id,
            "has_source": f.function_start_line > 0,
            "library": f.library(),
            "repeat": (*n > 1).then_some(*n),
        })
    };
    // Runs of application frames shown, runs of library frames folded.
    let runs = |entries: &[(&fmd_store::GroupFrame, usize)]| -> Vec<Value> {
        let mut out = Vec::new();
        for run in entries.chunk_by(|a, b| a.0.library() == b.0.library()) {
            let library = run[0].0.library();
            let count: usize = run.iter().map(|(_, n)| n).sum();
            out.push(json!({
                "folded": library,
                "label": format!("{count} library frame{}", if count == 1 { "" } else { "s" }),
                "frames": run.iter().map(frame).collect::<Vec<_>>(),
            }));
        }
        out
    };
    if entries.len() <= 20 {
        return runs(&entries);
    }
    let (head, rest) = entries.split_at(10);
    let (middle, tail) = rest.split_at(rest.len() - 10);
    let mut out = runs(head);
    out.push(json!({
        "folded": true,
        "label": format!("{} more frames", middle.len()),
        "frames": middle.iter().map(frame).collect::<Vec<_>>(),
    }));
    out.extend(runs(tail));
    out
}

/// The Exceptions page: every group, last seen first.
pub(crate) async fn exceptions(req: &Req, session: &Session) -> Reply {
    let page: i64 = req
        .query_param("page")
        .and_then(|v| v.parse().ok())
        .filter(|p: &i64| *p >= 1 && *p <= i64::MAX / GROUPS_PER_PAGE)
        .unwrap_or(1);
    let now = fmd_core::now_micros();
    let loaded = blocking(req, move |s| {
        let groups = s.exception_groups(None, (page - 1) * GROUPS_PER_PAGE, GROUPS_PER_PAGE)?;
        let ids: Vec<i64> = groups.iter().map(|g| g.group_id).collect();
        let activity = s.group_activity(&ids, now, ACTIVITY_DAYS)?;
        Ok((s.exception_group_count(None)?, groups, activity))
    })
    .await;
    let (total, groups, activity) = match loaded {
        Ok(found) => found,
        Err(why) => return unavailable(req, &why),
    };
    let tz = req.inner.config.tz();
    let mut data = layout(req, "Exceptions", Some(session));
    data.insert("nav_exceptions".into(), json!(true));
    pager(&mut data, page, total, GROUPS_PER_PAGE);
    let groups: Vec<Value> = groups
        .iter()
        .zip(&activity)
        .map(|(g, (_, counts))| {
            let mut item = group_json(g, tz);
            item["sparkline"] = json!(sparkline(counts));
            item
        })
        .collect();
    data.insert("groups".into(), json!(groups));
    render(req, "exceptions", StatusCode::OK, data)
}
