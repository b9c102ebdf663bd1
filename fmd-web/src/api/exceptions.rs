//! Exception groups, and the source of the functions in their traces.

use http::StatusCode;
use serde::Serialize;

use super::{endpoint, paging, parse_id, parse_id_of, require_admin, ApiError, Caller};
use crate::time::rfc3339;
use crate::views::{events_of, EventItem};
use crate::web::{blocking, json, Reply, Req};

#[derive(Serialize)]
pub(crate) struct FrameItem {
    position: i32,
    function: String,
    file: String,
    relative_file: String,
    line: i32,
    function_start_line: i32,
    function_id: i64,
    library: bool,
}

#[derive(Serialize)]
pub(crate) struct MessageItem {
    message: String,
    count: i64,
}

#[derive(Serialize)]
pub(crate) struct GroupItem {
    pub(crate) group_id: i64,
    #[serde(rename = "type")]
    pub(crate) type_name: String,
    pub(crate) message: String,
    pub(crate) endpoint: String,
    pub(crate) endpoint_id: i64,
    pub(crate) first_seen: String,
    pub(crate) last_seen: String,
    pub(crate) count: i64,
    pub(crate) user_captured: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) messages: Option<Vec<MessageItem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) frames: Option<Vec<FrameItem>>,
    /// The request of the latest occurrence.
    pub(crate) last_request: i64,
    /// The warnings and errors that request logged (`tracing`), with an endpoint's groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) events: Option<Vec<EventItem>>,
}

/// Exception groups, last seen first: all (`GET exceptions`), or one endpoint's with their
/// messages and frames (`GET endpoints/{id}/exceptions`).
pub(crate) async fn exceptions(req: &Req, endpoint_id: Option<i64>) -> Result<Reply, ApiError> {
    let (offset, limit) = paging(req.query.as_deref())?;
    if let Some(id) = endpoint_id {
        endpoint(req, id).await?;
    }
    let (groups, (messages, frames), events) = blocking(req, move |s| {
        let groups = s.exception_groups(endpoint_id, offset, limit)?;
        if endpoint_id.is_none() {
            return Ok((groups, Default::default(), Vec::new()));
        }
        let details = s.group_details(&groups.iter().map(|g| g.group_id).collect::<Vec<_>>())?;
        let last: Vec<i64> = groups.iter().map(|g| g.last_request_id).collect();
        Ok((groups, details, s.events_of(&last)?))
    })
    .await?;
    let items: Vec<GroupItem> = groups
        .into_iter()
        .map(|g| {
            let of = |id: i64| id == g.group_id;
            GroupItem {
                messages: endpoint_id.map(|_| {
                    messages
                        .iter()
                        .filter(|m| of(m.group_id))
                        .map(|m| MessageItem {
                            message: m.message.clone(),
                            count: m.count,
                        })
                        .collect()
                }),
                frames: endpoint_id.map(|_| {
                    frames
                        .iter()
                        .filter(|f| of(f.group_id))
                        .map(|f| FrameItem {
                            position: f.position,
                            function: f.function.clone(),
                            file: f.file.clone(),
                            relative_file: f.relative_file.clone(),
                            line: f.line,
                            function_start_line: f.function_start_line,
                            function_id: f.function_id,
                            library: f.library(),
                        })
                        .collect()
                }),
                events: endpoint_id.map(|_| events_of(&events, g.last_request_id)),
                ..group_item(g)
            }
        })
        .collect();
    Ok(json(StatusCode::OK, &items))
}

/// An exception group as the API and the downloads give it, without its messages and frames.
pub(crate) fn group_item(g: fmd_store::ExceptionGroup) -> GroupItem {
    GroupItem {
        group_id: g.group_id,
        type_name: g.type_name,
        message: g.message,
        endpoint: g.endpoint,
        endpoint_id: g.endpoint_id,
        first_seen: rfc3339(g.first_seen),
        last_seen: rfc3339(g.last_seen),
        count: g.count,
        user_captured: g.user_captured != 0,
        messages: None,
        frames: None,
        last_request: g.last_request_id,
        events: None,
    }
}

/// `GET endpoints/{id}/exceptions`.
pub(crate) async fn endpoint_exceptions(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    exceptions(req, Some(parse_id(raw_id)?)).await
}

pub(crate) async fn delete_group(
    req: &Req,
    caller: &Caller,
    raw_id: &str,
) -> Result<Reply, ApiError> {
    require_admin(req, caller, "delete exceptions")?;
    let id = parse_id_of(raw_id, "group")?;
    let found = blocking(req, move |s| s.delete_exception_group(id)).await?;
    if !found {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no exception group with id {id}"),
        ));
    }
    Ok(json(StatusCode::OK, &serde_json::json!({ "deleted": id })))
}

pub(crate) async fn source(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id_of(raw_id, "function")?;
    let found = blocking(req, move |s| s.function_source(id))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no function with id {id}")))?;
    Ok(json(StatusCode::OK, &found))
}
