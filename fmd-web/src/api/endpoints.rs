//! The overview, instances, an endpoint's requests, its level and its data.

use fmd_store::Filter;
use http::StatusCode;
use serde::Serialize;

use super::{
    endpoint, instance_filter, json_body, paging, parse_id, require_admin, ApiError, Caller,
};
use crate::time::{rfc3339, windows};
use crate::views::{request_item, RequestItem};
use crate::web::{blocking, json, Reply, Req};

#[derive(Serialize)]
pub(crate) struct OverviewItem {
    id: i64,
    name: String,
    monitor_level: i32,
    hits_today: i64,
    hits_week: i64,
    hits_overall: i64,
    errors_today: i64,
    errors_week: i64,
    errors_overall: i64,
    median_today_ms: Option<f64>,
    median_week_ms: Option<f64>,
    median_overall_ms: Option<f64>,
    p90_today_ms: Option<f64>,
    p90_week_ms: Option<f64>,
    p90_overall_ms: Option<f64>,
    p99_today_ms: Option<f64>,
    p99_week_ms: Option<f64>,
    p99_overall_ms: Option<f64>,
    last_requested: Option<String>,
    exception_groups: i64,
    time_week_ms: f64,
    hits_24h: Vec<i64>,
    errors_24h: Vec<i64>,
}

pub(crate) async fn overview(req: &Req) -> Result<Reply, ApiError> {
    let instance = instance_filter(req).await?;
    let (today, week) = windows(fmd_core::now_micros(), req.inner.config.tz());
    let rows = blocking(req, move |s| s.overview(today, week, instance)).await?;
    let items: Vec<OverviewItem> = rows
        .into_iter()
        .map(|r| OverviewItem {
            id: r.endpoint.id,
            name: r.endpoint.name,
            monitor_level: r.endpoint.monitor_level,
            hits_today: r.hits_today,
            hits_week: r.hits_week,
            hits_overall: r.hits_overall,
            errors_today: r.errors_today,
            errors_week: r.errors_week,
            errors_overall: r.errors_overall,
            median_today_ms: r.median_today_ms,
            median_week_ms: r.median_week_ms,
            median_overall_ms: r.median_overall_ms,
            p90_today_ms: r.p90_today_ms,
            p90_week_ms: r.p90_week_ms,
            p90_overall_ms: r.p90_overall_ms,
            p99_today_ms: r.p99_today_ms,
            p99_week_ms: r.p99_week_ms,
            p99_overall_ms: r.p99_overall_ms,
            last_requested: r.endpoint.last_requested.map(rfc3339),
            exception_groups: r.exception_groups,
            time_week_ms: (r.time_week_ms * 1000.0).round() / 1000.0,
            hits_24h: r.hits_24h,
            errors_24h: r.errors_24h,
        })
        .collect();
    Ok(json(StatusCode::OK, &items))
}

#[derive(Serialize)]
pub(crate) struct InstanceItem {
    id: i64,
    name: String,
    version: String,
    started: String,
    last_seen: String,
    seconds_since_seen: i64,
    /// When it shut down cleanly, if it did since it last started.
    stopped: Option<String>,
    live: bool,
}

pub(crate) async fn instances(req: &Req) -> Result<Reply, ApiError> {
    let rows = blocking(req, |s| s.instances()).await?;
    let now = fmd_core::now_micros();
    let items: Vec<InstanceItem> = rows
        .into_iter()
        .map(|i| InstanceItem {
            id: i.id,
            started: rfc3339(i.started),
            last_seen: rfc3339(i.last_seen),
            seconds_since_seen: ((now - i.last_seen) / 1_000_000).max(0),
            stopped: i.stopped.map(rfc3339),
            live: i.is_live(now),
            name: i.name,
            version: i.version,
        })
        .collect();
    Ok(json(StatusCode::OK, &items))
}

pub(crate) async fn requests(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(raw_id)?;
    let (offset, limit) = paging(req.query.as_deref())?;
    let view = super::request_view(req)?;
    let instance = instance_filter(req).await?;
    let rows = blocking(req, move |s| {
        let filter = Filter::endpoint(id).on_instance(instance);
        Ok(match s.endpoint(id)? {
            Some(_) => Some(s.requests_in_view(&filter, &view, offset, limit)?),
            None => None,
        })
    })
    .await?
    .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no endpoint with id {id}")))?;
    let items: Vec<RequestItem> = rows.into_iter().map(request_item).collect();
    Ok(json(StatusCode::OK, &items))
}

pub(crate) async fn set_level(req: &Req, caller: &Caller, raw_id: &str) -> Result<Reply, ApiError> {
    require_admin(req, caller, "change monitoring levels")?;
    let id = parse_id(raw_id)?;
    let body = json_body(req, "{\"level\": 0..3}")?;
    let level = match body.get("level").and_then(|l| l.as_u64()) {
        Some(level) if level <= 3 => level as u8,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "send {\"level\": 0, 1, 2 or 3}",
            ))
        }
    };
    let found = blocking(req, move |s| s.set_level(id, level)).await?;
    if !found {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no endpoint with id {id}"),
        ));
    }
    if let Some(endpoint) = req.inner.by_id.get(&id) {
        endpoint.set_level(level);
    }
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "id": id, "monitor_level": level }),
    ))
}

/// `DELETE endpoints/{id}/data`: deletes everything recorded for one endpoint.
pub(crate) async fn delete_data(
    req: &Req,
    caller: &Caller,
    raw_id: &str,
) -> Result<Reply, ApiError> {
    require_admin(req, caller, "delete data")?;
    let id = parse_id(raw_id)?;
    endpoint(req, id).await?;
    let deleted = blocking(req, move |s| s.delete_endpoint_data(id)).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "id": id, "deleted_requests": deleted }),
    ))
}
