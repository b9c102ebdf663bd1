//! What the JSON API and the pages both show: view models and the computations behind them.

use serde::Serialize;

pub(crate) mod alerts;

use crate::error::{BadRequest, DbError};
use crate::reports;
use crate::time::rfc3339;
use crate::web::{blocking, Req};

/// The report `ask` selects (`Err` with what to send instead when the query is bad), and the
/// versions that served requests, earliest first; `Err` when the database is unavailable.
pub(crate) async fn compute_report(
    req: &Req,
    ask: reports::Ask,
) -> Result<(Result<reports::Report, BadRequest>, Vec<String>), DbError> {
    let now = fmd_core::now_micros();
    let tz = req.inner.config.tz();
    blocking(req, move |s| {
        let versions: Vec<String> = s.versions()?.into_iter().map(|(v, _)| v).collect();
        let report = match reports::sides(&ask, now, tz, &versions) {
            Ok((baseline, current)) => {
                let compare = ask.compare.unwrap_or_else(|| "day".into());
                Ok(reports::build(s, compare, baseline, current)?)
            }
            Err(why) => Err(why),
        };
        Ok((report, versions))
    })
    .await
}

/// The report's parameters from the query string.
pub(crate) fn report_ask(req: &Req) -> reports::Ask {
    let p = |name: &str| req.query_param(name).filter(|v| !v.is_empty());
    reports::Ask {
        compare: p("compare"),
        baseline_from: p("baseline_from"),
        baseline_to: p("baseline_to"),
        current_from: p("current_from"),
        current_to: p("current_to"),
        baseline: p("baseline"),
        current: p("current"),
    }
}

/// What the settings page shows of this process and its database.
#[derive(Serialize)]
pub(crate) struct StatusItem {
    pub(crate) version: String,
    pub(crate) instance: String,
    pub(crate) uptime_seconds: u64,
    pub(crate) backend: &'static str,
    pub(crate) database_size_bytes: Option<i64>,
    pub(crate) writer: WriterItem,
    pub(crate) config: Vec<ConfigItem>,
}

#[derive(Serialize)]
pub(crate) struct WriterItem {
    pub(crate) written: u64,
    pub(crate) backlog: u64,
    pub(crate) dropped_queue_full: u64,
    pub(crate) dropped_backlog: u64,
    pub(crate) failing: bool,
    pub(crate) last_error: Option<String>,
    pub(crate) queue_capacity: usize,
    pub(crate) backlog_capacity: usize,
}

#[derive(Serialize)]
pub(crate) struct ConfigItem {
    pub(crate) section: &'static str,
    pub(crate) key: &'static str,
    pub(crate) value: String,
}

pub(crate) async fn status_item(req: &Req) -> Result<StatusItem, DbError> {
    use std::sync::atomic::Ordering::Relaxed;
    let size = blocking(req, |s| s.database_size()).await?;
    let inner = &req.inner;
    let stats = &inner.recorder.stats;
    Ok(StatusItem {
        version: inner.version.clone(),
        instance: inner.config.effective_instance_name(),
        uptime_seconds: inner.started.elapsed().as_secs(),
        backend: inner.store.backend().name(),
        database_size_bytes: size,
        writer: WriterItem {
            written: stats.written.load(Relaxed),
            backlog: stats.backlog.load(Relaxed),
            dropped_queue_full: stats.dropped_queue_full.load(Relaxed),
            dropped_backlog: stats.dropped_backlog.load(Relaxed),
            failing: stats.failing.load(Relaxed),
            last_error: stats.last_error.lock().clone(),
            queue_capacity: inner.config.queue_capacity,
            backlog_capacity: inner.config.backlog_capacity,
        },
        config: inner
            .config
            .entries()
            .into_iter()
            .map(|(section, key, value)| ConfigItem {
                section,
                key,
                value,
            })
            .collect(),
    })
}

#[derive(Serialize)]
pub(crate) struct UserItem {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) role: &'static str,
    /// Sessions open now.
    pub(crate) sessions: i64,
}

/// `u` as the API and the users page show it, with its open sessions counted in `sessions`.
pub(crate) fn user_item(u: fmd_store::UserRow, sessions: &[(String, i64)]) -> UserItem {
    UserItem {
        id: u.id,
        role: if u.is_admin != 0 { "admin" } else { "guest" },
        sessions: sessions_of(sessions, &u.username),
        username: u.username,
    }
}

/// The open sessions of `username` in `Store::session_counts`'s answer.
pub(crate) fn sessions_of(sessions: &[(String, i64)], username: &str) -> i64 {
    sessions
        .iter()
        .find(|(name, _)| name == username)
        .map_or(0, |(_, n)| *n)
}

/// A custom graph and how this process's runs of it went; times are microseconds since the
/// epoch, RFC 3339 in the JSON.
#[derive(Serialize)]
pub(crate) struct GraphItem {
    pub(crate) id: i64,
    pub(crate) title: String,
    #[serde(serialize_with = "crate::time::serialize_rfc3339")]
    pub(crate) time_added: i64,
    /// Whether this process runs it (else another instance does, or did).
    pub(crate) runs_here: bool,
    pub(crate) schedule: Option<String>,
    pub(crate) runs: u64,
    #[serde(serialize_with = "crate::time::serialize_rfc3339_opt")]
    pub(crate) last_run: Option<i64>,
    pub(crate) last_value: Option<f64>,
    pub(crate) last_error: Option<String>,
    #[serde(serialize_with = "crate::time::serialize_rfc3339_opt")]
    pub(crate) last_error_time: Option<i64>,
    #[serde(serialize_with = "crate::time::serialize_rfc3339_opt")]
    pub(crate) next_run: Option<i64>,
}

/// The stored custom graphs, with how this process's runs of them went.
pub(crate) async fn graph_items(req: &Req) -> Result<Vec<GraphItem>, DbError> {
    let rows = blocking(req, |s| s.graphs()).await?;
    let local: Vec<crate::dashboard::graphs::GraphStatus> = req
        .inner
        .graphs
        .lock()
        .iter()
        .map(|s| s.lock().clone())
        .collect();
    Ok(rows
        .into_iter()
        .map(|g| {
            let here = local.iter().find(|s| s.title == g.title);
            let error = here.and_then(|s| s.last_error.clone());
            GraphItem {
                id: g.id,
                time_added: g.time_added,
                runs_here: here.is_some(),
                schedule: here.map(|s| s.schedule.clone()),
                runs: here.map_or(0, |s| s.runs),
                last_run: here.and_then(|s| s.last_run),
                last_value: here.and_then(|s| s.last_value),
                last_error_time: error.as_ref().map(|e| e.0),
                last_error: error.map(|e| e.1),
                next_run: here.and_then(|s| s.next_run),
                title: g.title,
            }
        })
        .collect())
}

#[derive(Serialize)]
pub(crate) struct SpanItem {
    pub(crate) position: i32,
    pub(crate) parent: Option<i32>,
    pub(crate) function: String,
    pub(crate) function_id: i64,
    pub(crate) depth: i32,
    pub(crate) start_ms: f64,
    pub(crate) duration_ms: f64,
    pub(crate) share: f64,
    pub(crate) cancelled: bool,
}

#[derive(Serialize)]
pub(crate) struct ProfileItem {
    pub(crate) request: i64,
    pub(crate) time_requested: String,
    pub(crate) duration_ms: f64,
    pub(crate) dropped_spans: i32,
    pub(crate) spans: Vec<SpanItem>,
}

/// A stored profile as the API and the page show it: times in ms, shares of the request.
pub(crate) fn profile_item(p: fmd_store::ProfileRow) -> ProfileItem {
    let total = p.duration_us.max(1) as f64;
    ProfileItem {
        request: p.request_id,
        time_requested: rfc3339(p.time_requested),
        duration_ms: p.duration_us as f64 / 1000.0,
        dropped_spans: p.dropped_spans,
        spans: p
            .spans
            .into_iter()
            .map(|s| SpanItem {
                position: s.position,
                parent: s.parent_position,
                function: s.function,
                function_id: s.function_id,
                depth: s.depth,
                start_ms: s.start_us as f64 / 1000.0,
                duration_ms: s.duration_us as f64 / 1000.0,
                share: (s.duration_us as f64 / total).min(1.0),
                cancelled: s.cancelled != 0,
            })
            .collect(),
    }
}

/// How many of the latest profiled requests the grouped profiler merges, as the original.
pub(crate) const GROUPED_REQUESTS: i64 = 100;

#[derive(Serialize)]
pub(crate) struct GroupedItem {
    pub(crate) path: Vec<String>,
    pub(crate) function: String,
    pub(crate) depth: usize,
    pub(crate) hits: u64,
    pub(crate) total_ms: f64,
    pub(crate) avg_ms: f64,
    pub(crate) std_ms: f64,
    pub(crate) hits_share: f64,
    pub(crate) share: f64,
}

pub(crate) fn grouped_items(stats: Vec<fmd_core::profile::PathStats>) -> Vec<GroupedItem> {
    stats
        .into_iter()
        .map(|p| GroupedItem {
            function: p.path.last().cloned().unwrap_or_default(),
            depth: p.path.len().saturating_sub(1),
            path: p.path,
            hits: p.hits,
            total_ms: p.total,
            avg_ms: p.average,
            std_ms: p.std_dev,
            hits_share: p.hits_share,
            share: p.time_share,
        })
        .collect()
}

#[derive(Serialize)]
pub(crate) struct RequestItem {
    pub(crate) id: i64,
    pub(crate) duration_ms: f64,
    pub(crate) time_requested: String,
    pub(crate) version: String,
    pub(crate) group_by: String,
    pub(crate) ip: String,
    pub(crate) status_code: i32,
    pub(crate) instance: String,
}

pub(crate) fn request_item(r: fmd_store::RequestRow) -> RequestItem {
    RequestItem {
        id: r.id,
        duration_ms: r.duration_us as f64 / 1000.0,
        time_requested: rfc3339(r.time_requested),
        version: r.version_requested,
        group_by: r.group_by.unwrap_or_default(),
        ip: r.ip.unwrap_or_default(),
        status_code: r.status_code,
        instance: r.instance.unwrap_or_default(),
    }
}

/// A log event kept with an outlier or an exception.
#[derive(Serialize)]
pub(crate) struct EventItem {
    pub(crate) request: i64,
    pub(crate) time: String,
    pub(crate) level: String,
    pub(crate) target: String,
    pub(crate) message: String,
    pub(crate) fields: Vec<(String, String)>,
}

/// The events of `request` among `events` (as [`fmd_store::Store::events_of`] reads them).
pub(crate) fn events_of(events: &[fmd_store::EventRow], request: i64) -> Vec<EventItem> {
    events
        .iter()
        .filter(|e| e.request_id == request)
        .map(event_item)
        .collect()
}

/// One stored log event as the API shows it.
pub(crate) fn event_item(e: &fmd_store::EventRow) -> EventItem {
    EventItem {
        request: e.request_id,
        time: rfc3339(e.time),
        level: e.level.clone(),
        target: e.target.clone(),
        message: e.message.clone(),
        fields: e.fields.clone(),
    }
}
