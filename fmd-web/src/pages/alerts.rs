//! The Alerts page: channels with a test button, the rules, each endpoint's thresholds and
//! state, and the history of alerts with how each delivery went.

use http::StatusCode;
use serde_json::json;

use super::{layout, page_param, pager, render, unavailable};
use crate::auth::{Role, Session};
use crate::time::local;
use crate::views::alerts::{alerts_item, history_items};
use crate::web::{Reply, Req};

/// Alerts per page of the history.
const ALERTS_PER_PAGE: i64 = 25;

pub(crate) async fn alerts(req: &Req, session: &Session) -> Reply {
    let page = page_param(req, ALERTS_PER_PAGE);
    let item = match alerts_item(req).await {
        Ok(item) => item,
        Err(why) => return unavailable(req, &why),
    };
    let (total, history) =
        match history_items(req, (page - 1) * ALERTS_PER_PAGE, ALERTS_PER_PAGE).await {
            Ok(found) => found,
            Err(why) => return unavailable(req, &why),
        };
    let tz = req.inner.config.tz();
    let shown = |iso: &str| {
        chrono::DateTime::parse_from_rfc3339(iso)
            .map(|t| local(t.timestamp_micros(), tz))
            .unwrap_or_default()
    };
    let mut history = json!(history);
    for alert in history.as_array_mut().into_iter().flatten() {
        let time = shown(alert["time"].as_str().unwrap_or(""));
        alert["local_time"] = json!(time);
        let attempts = alert["deliveries"].as_array().map_or(0, Vec::len);
        alert["attempts"] = json!(attempts);
        let kind = alert["kind"].as_str().unwrap_or("").replace('_', " ");
        alert["kind_label"] = json!(kind);
        for d in alert["deliveries"].as_array_mut().into_iter().flatten() {
            let time = shown(d["time"].as_str().unwrap_or(""));
            d["local_time"] = json!(time);
        }
    }
    let mut endpoints = json!(item.endpoints);
    for e in endpoints.as_array_mut().into_iter().flatten() {
        for rule in ["error_rate", "latency"] {
            if let Some(since) = e[rule]["since"].as_str().map(&shown) {
                e[rule]["since_local"] = json!(since);
            }
        }
    }
    let mut data = layout(req, "Alerts", Some(session));
    data.insert("nav_alerts".into(), json!(true));
    data.insert("admin".into(), json!(session.role == Role::Admin));
    data.insert("enabled".into(), json!(item.enabled));
    data.insert("channels".into(), json!(item.channels));
    data.insert("rules".into(), json!(item.rules));
    data.insert("endpoints".into(), endpoints);
    data.insert("alerts".into(), history);
    data.insert("list_query".into(), json!(""));
    pager(&mut data, page, total, ALERTS_PER_PAGE);
    render(req, "alerts", StatusCode::OK, data)
}
