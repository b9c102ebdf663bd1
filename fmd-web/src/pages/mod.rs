//! Server-rendered pages, by area, and what they share: the layout, errors, paging, the date
//! range and instance choices.

pub(crate) mod alerts;
pub(crate) mod charts;
pub(crate) mod endpoints;
pub(crate) mod exceptions;
pub(crate) mod login;
pub(crate) mod profiles;
pub(crate) mod reports;
pub(crate) mod settings;

use http::StatusCode;
use serde_json::{json, Value};

use fmd_store::{EndpointRow, InstanceRow};

use crate::auth::{Role, Session};
use crate::error::DbError;
use crate::time::rfc3339;
use crate::web::{html, role_name, Reply, Req};

/// The values of a page's template.
pub(crate) type Data = serde_json::Map<String, Value>;

pub(crate) const LEVEL_LABELS: [&str; 4] = [
    "last request only",
    "performance",
    "+ outliers",
    "+ profiler",
];

/// Short names for the level select, where space is tight.
pub(crate) const LEVEL_SHORT: [&str; 4] = ["off", "perf", "outliers", "profiler"];

/// The values every page's layout needs.
pub(crate) fn layout(req: &Req, title: &str, session: Option<&Session>) -> Data {
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

pub(crate) fn render(req: &Req, template: &str, status: StatusCode, data: Data) -> Reply {
    match req.inner.templates.render(template, &Value::Object(data)) {
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
    let mut data = layout(
        req,
        status.canonical_reason().unwrap_or("Error"),
        req.known_session(),
    );
    data.insert("status".into(), json!(status.as_u16()));
    data.insert("message".into(), json!(message));
    render(req, "error", status, data)
}

pub(crate) fn ms(value: Option<f64>) -> String {
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

pub(crate) fn unavailable(req: &Req, why: &DbError) -> Reply {
    error(
        req,
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("The database is unavailable ({why}). Recorded requests are kept and written when it returns; reload this page in a moment."),
    )
}

/// Outliers and profiles per page.
pub(crate) const DETAIL_PER_PAGE: i64 = 10;

pub(crate) fn pager(data: &mut Data, page: i64, total: i64, per_page: i64) {
    let pages = ((total + per_page - 1) / per_page).max(1);
    data.insert("total".into(), json!(total));
    data.insert("page".into(), json!(page));
    data.insert("pages".into(), json!(pages));
    data.insert("page_beyond".into(), json!(page > 1));
    data.insert("prev".into(), json!((page > 1).then_some(page - 1)));
    data.insert("next".into(), json!((page < pages).then_some(page + 1)));
}

/// The log events of `request` among `events`, for the `events` partial: times in `tz`.
pub(crate) fn events_json(
    events: &[fmd_store::EventRow],
    request: i64,
    tz: chrono_tz::Tz,
) -> Value {
    let items: Vec<Value> = events
        .iter()
        .filter(|e| e.request_id == request)
        .map(|row| {
            let item = crate::views::event_item(row);
            let mut value = json!(item);
            value["local"] = json!(crate::time::local(row.time, tz));
            value["error"] = json!(item.level == "ERROR");
            value["fields"] = json!(item
                .fields
                .iter()
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect::<Vec<_>>());
            value
        })
        .collect();
    json!(items)
}

/// The CSS class step (`d0`-`d15`) that indents a tree row at `depth`.
pub(crate) fn indent(depth: usize) -> usize {
    depth.min(15)
}

/// The chart pages' date range from `?from&to`, with the presets' links; a bad range is shown
/// as an error and replaced by the default one.
pub(crate) fn range_choice(req: &Req) -> Value {
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

/// Small lines of counts on one scale, as inline SVG: each line a polyline of the CSS class
/// given (`""` for the default colour), `title` its hover text. Numbers and the caller's
/// classes only, so it is safe unescaped; `title` is escaped here.
pub(crate) fn sparkline(lines: &[(&[i64], &str)], title: &str) -> String {
    let max = lines
        .iter()
        .flat_map(|(counts, _)| counts.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut svg = format!(
        "<svg class=\"spark\" viewBox=\"0 0 120 24\" role=\"img\"><title>{}</title>",
        handlebars::html_escape(title)
    );
    for (counts, class) in lines {
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
        let class = if class.is_empty() {
            String::new()
        } else {
            format!(" class=\"{class}\"")
        };
        svg.push_str(&format!(
            "<polyline{class} points=\"{}\"/>",
            points.join(" ")
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// The timeline card of a page: `?range=` if it is one of the timeline's ranges, else the
/// shortest of them up to `widest` that reaches back to `first_seen` (a new install sees its
/// first minutes, not a day of nothing); `api` is its route under `/api`, `title` its heading.
pub(crate) fn timeline_choice(
    req: &Req,
    api: String,
    title: &str,
    first_seen: i64,
    widest: &str,
) -> Value {
    use crate::charts::timeline::RANGES;
    let age = fmd_core::now_micros().saturating_sub(first_seen);
    let asked = req.query_param("range");
    let widest = RANGES
        .iter()
        .position(|r| r.0 == widest)
        .unwrap_or(RANGES.len() - 1);
    let range = RANGES
        .iter()
        .find(|r| Some(r.0) == asked.as_deref())
        .or_else(|| RANGES[..widest].iter().find(|r| r.1 >= age))
        .unwrap_or(&RANGES[widest]);
    let label = match range.0 {
        "1h" => "hour".to_owned(),
        name => name.replace('h', " hours").replace('d', " days"),
    };
    let bucket = match range.2 / 60_000_000 {
        1 => "minute".to_owned(),
        60 => "hour".to_owned(),
        minutes => format!("{minutes} minutes"),
    };
    json!({
        "api": api,
        "title": title,
        "range": range.0,
        "label": label,
        "bucket": bucket,
        "choices": RANGES.iter().map(|r| json!({"name": r.0, "label": r.0, "active": r.0 == range.0})).collect::<Vec<_>>(),
    })
}

/// The values of the request-view form (order, minimum duration, status class; see
/// [`crate::api::request_view`]) as asked, or the error that replaced them with the default;
/// and `list_query`, which the pager's links add to keep the view and the instance.
pub(crate) fn view_data(
    data: &mut Data,
    req: &Req,
    asked: &Result<fmd_store::RequestView, crate::error::BadRequest>,
    instance: Option<i64>,
) {
    let view = asked.clone().unwrap_or_default();
    let param = |name: &str| {
        req.query_param(name)
            .filter(|_| asked.is_ok())
            .unwrap_or_default()
    };
    let (status, min_ms) = (param("status"), param("min_ms"));
    let keep = [
        (
            "sort",
            if view.slowest_first {
                "slowest".to_owned()
            } else {
                String::new()
            },
        ),
        ("min_ms", min_ms.clone()),
        ("status", status.clone()),
        (
            "instance",
            instance.map(|i| i.to_string()).unwrap_or_default(),
        ),
    ];
    let list_query: String = keep
        .iter()
        .filter(|(_, v)| !v.is_empty() && v != "all")
        .map(|(k, v)| {
            let pair = serde_urlencoded::to_string([(k, v)]).unwrap_or_default();
            format!("&{pair}")
        })
        .collect();
    data.insert("list_query".into(), json!(list_query));
    data.insert(
        "view".into(),
        json!({
            "slowest": view.slowest_first,
            "min_ms": min_ms,
            "narrowed": view != fmd_store::RequestView::default(),
            "error": asked.as_ref().err().map(|e| e.0.clone()),
            "status": std::iter::once("all")
                .chain(crate::api::STATUS_CLASSES.iter().map(|c| c.0))
                .map(|name| json!({"name": name, "selected": name == status || (name == "all" && status.is_empty())}))
                .collect::<Vec<_>>(),
        }),
    );
}

/// The download form of an endpoint's tab: `what` it downloads, over the last 7 days (or the
/// page's `from`/`to`).
pub(crate) fn download_form(data: &mut Data, req: &Req, what: &str) {
    let range = range_choice(req);
    data.insert(
        "download".into(),
        json!({"what": what, "from": range["from"], "to": range["to"]}),
    );
}

/// The instance a page is filtered to: `?instance=ID` of a known instance. Anything else shows
/// every instance, as the select then says.
pub(crate) fn chosen_instance(wanted: Option<&str>, instances: &[InstanceRow]) -> Option<i64> {
    wanted
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|id| instances.iter().any(|i| i.id == *id))
}

/// The choices of the instance select, `chosen` selected: shown when more than one instance
/// ever wrote.
pub(crate) fn instance_choices(chosen: Option<i64>, instances: &[InstanceRow]) -> Value {
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

/// The page number of `?page=N`, from 1, at most the last page `per_page` can address.
pub(crate) fn page_param(req: &Req, per_page: i64) -> i64 {
    req.query_param("page")
        .and_then(|v| v.parse().ok())
        .filter(|p: &i64| *p >= 1 && *p <= i64::MAX / per_page)
        .unwrap_or(1)
}

/// An endpoint's id from the path, if it can be one.
pub(crate) fn endpoint_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|i| *i > 0)
}

/// The 404 page of an endpoint that does not exist.
pub(crate) fn no_endpoint(req: &Req) -> Reply {
    error(req, StatusCode::NOT_FOUND, "There is no such endpoint.")
}

/// The values of one of an endpoint's tabs beside its requests: the layout, the endpoint, its
/// level.
pub(crate) fn tab_layout(req: &Req, session: &Session, e: &EndpointRow) -> Data {
    let mut data = layout(req, &e.name, Some(session));
    data.insert("overview_query".into(), json!(""));
    data.insert(
        "level_label".into(),
        json!(LEVEL_LABELS[e.monitor_level.clamp(0, 3) as usize]),
    );
    data.insert("charts".into(), json!(true));
    data.insert("endpoint".into(), json!(e));
    data
}
