//! An endpoint's Outliers, Profiler and Grouped profiler tabs.

use http::StatusCode;
use serde_json::{json, Value};

use super::{indent, no_endpoint, pager, render, tab_layout, unavailable, DETAIL_PER_PAGE};
use crate::auth::Session;
use crate::time::{local, rfc3339};
use crate::views::{grouped_items, profile_item, GROUPED_REQUESTS};
use crate::web::{blocking, Reply, Req};

/// What one of the tabs shows.
enum Content {
    Outliers(i64, Vec<fmd_store::OutlierRow>, Vec<fmd_store::EventRow>),
    Profiler(i64, Vec<fmd_store::ProfileRow>),
    Grouped(Vec<fmd_core::profile::PathStats>, usize),
}

fn megabytes(bytes: i64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

/// The tab `tab` (`outliers`, `profiler` or `grouped-profiler`) of endpoint `id`, page `page`.
pub(crate) async fn tab(req: &Req, session: &Session, id: i64, tab: &str, page: i64) -> Reply {
    let offset = (page - 1) * DETAIL_PER_PAGE;
    let tab_name = tab.to_owned();
    // `?request=ID`: the outlier or profile of that one request, as the Requests tab links it.
    let one = req
        .query_param("request")
        .and_then(|r| r.parse::<i64>().ok())
        .filter(|r| *r > 0);
    let asked = crate::api::request_view(req);
    let view = asked.clone().unwrap_or_default();
    let loaded = blocking(req, move |s| {
        let Some(e) = s.endpoint(id)? else {
            return Ok(None);
        };
        let content = match (tab_name.as_str(), one) {
            ("outliers", Some(request)) => {
                let filter = fmd_store::Filter::endpoint(id);
                let mut rows = s.outliers_after(&filter, request - 1, 1)?;
                rows.retain(|o| o.request_id == request);
                let events = s.events_of(&[request])?;
                Content::Outliers(rows.len() as i64, rows, events)
            }
            ("outliers", None) => {
                let rows = s.outliers(id, offset, DETAIL_PER_PAGE)?;
                let events = s.events_of(&rows.iter().map(|o| o.request_id).collect::<Vec<_>>())?;
                Content::Outliers(s.outlier_count(id)?, rows, events)
            }
            ("profiler", Some(request)) => {
                let rows: Vec<_> = s.profile_of(id, request)?.into_iter().collect();
                Content::Profiler(rows.len() as i64, rows)
            }
            ("profiler", None) => Content::Profiler(
                s.profile_count_in_view(id, &view)?,
                s.profiles_in_view(id, &view, offset, DETAIL_PER_PAGE)?,
            ),
            _ => {
                let (stats, merged) = s.grouped_profile(id, &e.name, GROUPED_REQUESTS)?;
                Content::Grouped(stats, merged)
            }
        };
        Ok(Some((e, content)))
    })
    .await;
    let (e, content) = match loaded {
        Ok(Some(found)) => found,
        Ok(None) => return no_endpoint(req),
        Err(why) => return unavailable(req, &why),
    };
    let tz = req.inner.config.tz();
    let level = e.monitor_level.clamp(0, 3) as usize;
    let mut data = tab_layout(req, session, &e);
    data.insert("one_request".into(), json!(one));
    let template = match content {
        Content::Outliers(total, rows, events) => {
            data.insert("tab_outliers".into(), json!(true));
            super::download_form(&mut data, req, "outliers");
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
                    let events = super::events_json(&events, o.request_id, tz);
                    json!({
                        "event_count": events.as_array().map_or(0, Vec::len),
                        "events": events,
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
        Content::Profiler(total, rows) => {
            data.insert("tab_profiler".into(), json!(true));
            super::view_data(&mut data, req, &asked, None);
            pager(&mut data, page, total, DETAIL_PER_PAGE);
            let profiles: Vec<Value> = rows
                .into_iter()
                .map(|p| {
                    let time = p.time_requested;
                    let item = profile_item(p);
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
        Content::Grouped(stats, merged) => {
            data.insert("tab_grouped".into(), json!(true));
            data.insert("merged".into(), json!(merged));
            let items = grouped_items(stats);
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
    render(req, template, StatusCode::OK, data)
}
