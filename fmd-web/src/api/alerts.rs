//! Alerts: channels, rules and thresholds, the history, and test alerts.

use http::StatusCode;
use serde_json::{json, Value};

use super::{bad_request, endpoint, json_body, paging, parse_id, require_admin, ApiError, Caller};
use crate::alerts::message::{ERROR_RATE, LATENCY};
use crate::views::alerts::{alerts_item, history_items};
use crate::web::{blocking, json, Reply, Req};

/// `GET alerts`: channels (secrets hidden), rules, and every endpoint's thresholds and state.
pub(crate) async fn alerts(req: &Req) -> Result<Reply, ApiError> {
    Ok(json(StatusCode::OK, &alerts_item(req).await?))
}

/// `GET alerts/history?offset&limit`: alerts, newest first, with their deliveries.
pub(crate) async fn history(req: &Req) -> Result<Reply, ApiError> {
    let (offset, limit) = paging(req.query.as_deref())?;
    let (total, alerts) = history_items(req, offset, limit).await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "total": total, "offset": offset, "alerts": alerts }),
    ))
}

/// `POST alerts/test {"channel": "webhook-1"}`: sends a test alert through one channel at once
/// and answers how it went (502 when the channel refused it).
pub(crate) async fn test(req: &Req, caller: &Caller) -> Result<Reply, ApiError> {
    require_admin(req, caller, "send test alerts")?;
    let body = json_body(req, "{\"channel\": \"webhook-1\"}")?;
    let Some(alerts) = req.inner.alerts.as_deref() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "alerting is off: configure [alerts] webhook_urls or email_to first",
        ));
    };
    let ids: Vec<&str> = alerts.channels.iter().map(|c| c.id.as_str()).collect();
    let Some(id) = body.get("channel").and_then(Value::as_str) else {
        return Err(bad_request(format!(
            "send {{\"channel\": ...}}, one of {ids:?}"
        )));
    };
    match alerts.test(id).await {
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no channel {id:?}; the channels are {ids:?}"),
        )),
        Some(Ok(detail)) => Ok(json(
            StatusCode::OK,
            &json!({ "channel": id, "ok": true, "detail": detail }),
        )),
        Some(Err(why)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("the test alert did not arrive: {why}"),
        )),
    }
}

/// A threshold from the body: absent leaves it, `null` returns to the configuration's, a
/// number >= 0 sets it (0 turns the rule off for the endpoint).
fn threshold(body: &Value, key: &str, max: f64) -> Result<Option<Option<f64>>, ApiError> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => match v.as_f64() {
            Some(t) if (0.0..=max).contains(&t) => Ok(Some(Some(t))),
            _ => Err(bad_request(format!(
                "{key} must be null (the configured threshold) or a number from 0 (off) to {max}, not {v}"
            ))),
        },
    }
}

/// `PUT endpoints/{id}/alerts {"error_rate_percent": 5, "latency_p95_ms": null}`: an
/// endpoint's thresholds (administrators only).
pub(crate) async fn set_thresholds(
    req: &Req,
    caller: &Caller,
    raw_id: &str,
) -> Result<Reply, ApiError> {
    require_admin(req, caller, "change alert thresholds")?;
    let id = parse_id(raw_id)?;
    let body = json_body(
        req,
        "{\"error_rate_percent\": number or null, \"latency_p95_ms\": number or null}",
    )?;
    let changes = [
        (ERROR_RATE, threshold(&body, "error_rate_percent", 100.0)?),
        (LATENCY, threshold(&body, "latency_p95_ms", 86_400_000.0)?),
    ];
    if changes.iter().all(|(_, c)| c.is_none()) {
        return Err(bad_request(
            "send error_rate_percent and/or latency_p95_ms: a number, 0 for off, or null for the configured threshold",
        ));
    }
    endpoint(req, id).await?;
    blocking(req, move |s| {
        for (rule, change) in changes {
            if let Some(value) = change {
                s.set_alert_threshold(rule, id, value)?;
            }
        }
        Ok(())
    })
    .await?;
    let item = alerts_item(req).await?;
    let mine = item.endpoints.into_iter().find(|e| e.id == id);
    Ok(json(StatusCode::OK, &mine))
}
