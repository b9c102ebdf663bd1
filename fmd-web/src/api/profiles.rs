//! Outliers, profiles and the grouped profiler of an endpoint.

use http::StatusCode;
use serde::Serialize;

use super::{endpoint, paging, parse_id, ApiError};
use crate::time::rfc3339;
use crate::views::{
    events_of, grouped_items, profile_item, EventItem, ProfileItem, GROUPED_REQUESTS,
};
use crate::web::{blocking, json, Reply, Req};

#[derive(Serialize)]
pub(crate) struct OutlierItem {
    pub(crate) request: i64,
    pub(crate) time_requested: String,
    pub(crate) duration_ms: f64,
    pub(crate) status_code: i32,
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) cpu_percent: Vec<f32>,
    pub(crate) memory_bytes: i64,
    pub(crate) system_memory_bytes: i64,
    pub(crate) stuck_after_ms: Option<f64>,
    pub(crate) stack: Vec<fmd_store::StackFrame>,
    /// The warnings and errors it logged (`tracing`); not in downloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) events: Option<Vec<EventItem>>,
}

pub(crate) async fn outliers(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(raw_id)?;
    let (offset, limit) = paging(req.query.as_deref())?;
    endpoint(req, id).await?;
    let (rows, events) = blocking(req, move |s| {
        let rows = s.outliers(id, offset, limit)?;
        let events = s.events_of(&rows.iter().map(|o| o.request_id).collect::<Vec<_>>())?;
        Ok((rows, events))
    })
    .await?;
    let items: Vec<OutlierItem> = rows
        .into_iter()
        .map(|o| OutlierItem {
            events: Some(events_of(&events, o.request_id)),
            ..outlier_item(o)
        })
        .collect();
    Ok(json(StatusCode::OK, &items))
}

/// An outlier as the API and the downloads give it.
pub(crate) fn outlier_item(o: fmd_store::OutlierRow) -> OutlierItem {
    OutlierItem {
        request: o.request_id,
        time_requested: rfc3339(o.time_requested),
        duration_ms: o.duration_us as f64 / 1000.0,
        status_code: o.status_code,
        method: o.method,
        url: o.url,
        headers: o.headers,
        cpu_percent: o.cpu_percent,
        memory_bytes: o.memory_bytes,
        system_memory_bytes: o.system_memory_bytes,
        stuck_after_ms: o.stack.after_ms,
        stack: o.stack.frames,
        events: None,
    }
}

pub(crate) async fn profiler(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(raw_id)?;
    let (offset, limit) = paging(req.query.as_deref())?;
    endpoint(req, id).await?;
    let rows = blocking(req, move |s| s.profiles(id, offset, limit)).await?;
    let items: Vec<ProfileItem> = rows.into_iter().map(profile_item).collect();
    Ok(json(StatusCode::OK, &items))
}

pub(crate) async fn grouped(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(raw_id)?;
    let name = endpoint(req, id).await?.name;
    let (stats, _) = blocking(req, move |s| s.grouped_profile(id, &name, GROUPED_REQUESTS)).await?;
    Ok(json(StatusCode::OK, &grouped_items(stats)))
}
