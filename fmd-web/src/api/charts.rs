//! The application's and each endpoint's charts, and the custom graphs.

use fmd_store::Filter;
use http::StatusCode;

use super::{
    chart_range, endpoint, instance_filter, parse_id, parse_id_of, timeline_window, ApiError,
};
use crate::charts;
use crate::time::rfc3339;
use crate::views::{graph_items, request_item};
use crate::web::{blocking, json, Reply, Req};

/// The application's charts, over every endpoint.
pub(crate) const APP_CHARTS: &str = "timeline, hourly, daily, versions, performance";

/// One endpoint's charts.
pub(crate) const ENDPOINT_CHARTS: &str =
    "timeline, hourly, versions, users, user_versions, ip_versions, status";

/// `GET charts/timeline` and `GET endpoints/{id}/charts/timeline`: `range` or `from`/`to`, and
/// `instance`.
async fn timeline(req: &Req, endpoint: Option<i64>) -> Result<Reply, ApiError> {
    let now = fmd_core::now_micros();
    let window = timeline_window(req, now)?;
    let instance = instance_filter(req).await?;
    let (start, end, bucket) = (window.start, window.end, window.bucket);
    let buckets = blocking(req, move |s| {
        let filter = Filter {
            endpoint,
            ..Filter::all()
        };
        s.timeline(&filter.between(start, end).on_instance(instance), bucket)
    })
    .await?;
    Ok(json(StatusCode::OK, &window.answer(&buckets, now)))
}

/// `GET charts/{kind}?from&to&instance`.
pub(crate) async fn app_chart(req: &Req, kind: &str) -> Result<Reply, ApiError> {
    if !APP_CHARTS.split(", ").any(|k| k == kind) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no chart {kind:?}; the application's charts are {APP_CHARTS}"),
        ));
    }
    if kind == "timeline" {
        return timeline(req, None).await;
    }
    let range = chart_range(req)?;
    let instance = instance_filter(req).await?;
    let colors = req.inner.config.colors.clone();
    let kind = kind.to_owned();
    let value = blocking(req, move |s| {
        let endpoints = s.endpoints()?;
        let names = charts::Names::new(&endpoints, &colors);
        let filter = Filter::all()
            .between(range.start, range.end)
            .on_instance(instance);
        Ok(match kind.as_str() {
            "hourly" => charts::hourly(&range, &s.hour_counts(&filter)?),
            "daily" => charts::daily(&range, &s.hour_counts(&filter)?, &names),
            "versions" => charts::version_shares(&range, &s.hour_counts(&filter)?, &names),
            _ => charts::performance(&range, s.histograms(&filter)?, &names),
        })
    })
    .await?;
    Ok(json(StatusCode::OK, &value))
}

/// How many error requests the status chart lists.
pub(crate) const ERROR_REQUESTS: i64 = 50;

/// `GET endpoints/{id}/charts/{kind}?from&to&instance`.
pub(crate) async fn endpoint_chart(req: &Req, raw_id: &str, kind: &str) -> Result<Reply, ApiError> {
    let id = parse_id(raw_id)?;
    if !ENDPOINT_CHARTS.split(", ").any(|k| k == kind) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no chart {kind:?}; an endpoint's charts are {ENDPOINT_CHARTS}"),
        ));
    }
    if kind == "timeline" {
        endpoint(req, id).await?;
        return timeline(req, Some(id)).await;
    }
    let range = chart_range(req)?;
    endpoint(req, id).await?;
    let instance = instance_filter(req).await?;
    let kind = kind.to_owned();
    let value = blocking(req, move |s| {
        let filter = Filter::endpoint(id).between(range.start, range.end).on_instance(instance);
        let counts = || s.hour_counts(&filter);
        let samples = || s.samples(&filter, charts::SAMPLE_LIMIT);
        Ok(match kind.as_str() {
            "hourly" => charts::hourly(&range, &counts()?),
            "versions" => {
                charts::version_boxes(&range, &counts()?, s.histograms(&filter)?)
            }
            "users" => {
                let (rows, total) = samples()?;
                charts::user_boxes(&range, &rows, total)
            }
            "user_versions" | "ip_versions" => {
                let (rows, total) = samples()?;
                let key = if kind == "ip_versions" { charts::Key::Ip } else { charts::Key::User };
                charts::key_versions(&range, &counts()?, &rows, total, key)
            }
            _ => {
                let codes = s.status_counts(&filter, None)?;
                let errors = s.error_requests(&filter, ERROR_REQUESTS)?;
                serde_json::json!({
                    "from": range.from.to_string(),
                    "to": range.to.to_string(),
                    "timezone": range.tz.name(),
                    "codes": codes.iter().map(|(code, n)| serde_json::json!({"status_code": code, "count": n})).collect::<Vec<_>>(),
                    "errors": errors.into_iter().map(request_item).collect::<Vec<_>>(),
                })
            }
        })
    })
    .await?;
    Ok(json(StatusCode::OK, &value))
}

/// `GET graphs`.
pub(crate) async fn graphs(req: &Req) -> Result<Reply, ApiError> {
    let items = graph_items(req).await?;
    Ok(json(StatusCode::OK, &items))
}

/// `GET graphs/{id}/data?from&to` or `?range`: the values recorded in the range, oldest first.
pub(crate) async fn graph_data(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id_of(raw_id, "graph")?;
    let now = fmd_core::now_micros();
    // A range that ends now (`range=1h` ... `30d`), or whole days as the charts take them.
    let (start, end, range, days) = match req.query_param("range") {
        Some(_) => {
            let w = timeline_window(req, now)?;
            (w.start, w.end, w.range, None)
        }
        None => {
            let r = chart_range(req)?;
            (r.start, r.end, None, Some(r))
        }
    };
    let (graph, points) = blocking(req, move |s| {
        let graph = s.graphs()?.into_iter().find(|g| g.id == id);
        let points = match graph {
            Some(_) => s.graph_values(id, start, end)?,
            None => Vec::new(),
        };
        Ok((graph, points))
    })
    .await?;
    let graph = graph
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no graph with id {id}")))?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "id": id,
            "title": graph.title,
            "range": range,
            "from": days.map(|r| r.from.to_string()),
            "to": days.map(|r| r.to.to_string()),
            "timezone": req.inner.config.tz().name(),
            "start": rfc3339(start),
            "end": rfc3339(end),
            "live": end > now,
            "points": points.into_iter().map(|(t, v)| serde_json::json!([rfc3339(t), v])).collect::<Vec<_>>(),
        }),
    ))
}
