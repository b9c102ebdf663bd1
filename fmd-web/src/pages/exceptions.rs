//! The Exceptions page and an endpoint's Exceptions tab.

use http::StatusCode;
use serde_json::{json, Value};

use super::{
    layout, no_endpoint, page_param, pager, render, sparkline, tab_layout, unavailable,
    DETAIL_PER_PAGE,
};
use crate::auth::Session;
use crate::time::{local, rfc3339};
use crate::web::{blocking, Reply, Req};

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
    let page = page_param(req, GROUPS_PER_PAGE);
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
            let total: i64 = counts.iter().sum();
            let title = format!("{total} in the last {} days", counts.len());
            item["sparkline"] = json!(sparkline(&[(counts.as_slice(), "")], &title));
            item
        })
        .collect();
    data.insert("groups".into(), json!(groups));
    render(req, "exceptions", StatusCode::OK, data)
}

/// Endpoint `id`'s exception groups with their messages and traces, page `page`.
pub(crate) async fn endpoint_tab(req: &Req, session: &Session, id: i64, page: i64) -> Reply {
    let offset = (page - 1) * DETAIL_PER_PAGE;
    let loaded = blocking(req, move |s| {
        let Some(e) = s.endpoint(id)? else {
            return Ok(None);
        };
        let groups = s.exception_groups(Some(id), offset, DETAIL_PER_PAGE)?;
        let ids: Vec<i64> = groups.iter().map(|g| g.group_id).collect();
        let (messages, frames) = s.group_details(&ids)?;
        let last: Vec<i64> = groups.iter().map(|g| g.last_request_id).collect();
        let events = s.events_of(&last)?;
        let total = s.exception_group_count(Some(id))?;
        Ok(Some((e, total, groups, messages, frames, events)))
    })
    .await;
    let (e, total, groups, messages, frames, events) = match loaded {
        Ok(Some(found)) => found,
        Ok(None) => return no_endpoint(req),
        Err(why) => return unavailable(req, &why),
    };
    let tz = req.inner.config.tz();
    let mut data = tab_layout(req, session, &e);
    data.insert("tab_exceptions".into(), json!(true));
    super::download_form(&mut data, req, "exceptions");
    pager(&mut data, page, total, DETAIL_PER_PAGE);
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| {
            let mine = |id: i64| id == g.group_id;
            let mut item = group_json(g, tz);
            item["messages"] = json!(messages
                .iter()
                .filter(|m| mine(m.group_id))
                .map(|m| json!({"message": m.message, "count": m.count, "many": m.count > 1}))
                .collect::<Vec<_>>());
            let frames: Vec<&fmd_store::GroupFrame> =
                frames.iter().filter(|f| mine(f.group_id)).collect();
            item["segments"] = json!(frame_segments(&frames));
            item["events"] = super::events_json(&events, g.last_request_id, tz);
            item
        })
        .collect();
    data.insert("groups".into(), json!(groups));
    render(req, "endpoint_exceptions", StatusCode::OK, data)
}
