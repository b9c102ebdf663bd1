//! `GET /{custom_link}/metrics`: this instance's counters in the Prometheus text format
//! (0.0.4), or OpenMetrics 1.0 when the scraper asks for it, read from memory (the endpoints'
//! counters and the writer's): a scrape never queries the database.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use fmd_core::metrics::{MetricsSnapshot, BUCKETS_US};
use http::{header, HeaderValue, Response, StatusCode};

use crate::web::{json_error, Reply, Req};

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the exposition shows besides the endpoints.
pub(crate) struct Process<'a> {
    pub(crate) version: &'a str,
    pub(crate) instance: &'a str,
    pub(crate) written: u64,
    pub(crate) dropped_queue_full: u64,
    pub(crate) dropped_backlog: u64,
    pub(crate) backlog: u64,
}

/// A label value with `\`, `"` and line breaks escaped, as both formats want.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition of `endpoints` (name and counters) and the process, in OpenMetrics when
/// `openmetrics`.
pub(crate) fn render(
    endpoints: &[(&str, MetricsSnapshot)],
    p: &Process<'_>,
    openmetrics: bool,
) -> String {
    let mut out = String::new();
    // OpenMetrics names a counter's family without `_total`, which its samples carry.
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let name = match (openmetrics, kind) {
            (true, "counter") => name.trim_end_matches("_total"),
            _ => name,
        };
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };
    family(
        &mut out,
        "fmd_http_requests_total",
        "counter",
        "Requests to monitored endpoints, by status code as recorded (`other` beyond 16 codes).",
    );
    for (name, s) in endpoints {
        let name = label(name);
        for (code, n) in &s.codes {
            let _ = writeln!(
                out,
                "fmd_http_requests_total{{endpoint=\"{name}\",status=\"{code}\"}} {n}"
            );
        }
        if s.other > 0 {
            let _ = writeln!(
                out,
                "fmd_http_requests_total{{endpoint=\"{name}\",status=\"other\"}} {}",
                s.other
            );
        }
    }
    family(
        &mut out,
        "fmd_http_request_duration_seconds",
        "histogram",
        "How long monitored handlers ran.",
    );
    for (name, s) in endpoints {
        let name = label(name);
        let bounds = BUCKETS_US
            .iter()
            .map(|us| format!("{}", *us as f64 / 1e6))
            .chain(["+Inf".to_owned()]);
        for (le, n) in bounds.zip(&s.cumulative) {
            let _ = writeln!(
                out,
                "fmd_http_request_duration_seconds_bucket{{endpoint=\"{name}\",le=\"{le}\"}} {n}"
            );
        }
        let count = s.cumulative.last().copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "fmd_http_request_duration_seconds_sum{{endpoint=\"{name}\"}} {}",
            s.sum_seconds
        );
        let _ = writeln!(
            out,
            "fmd_http_request_duration_seconds_count{{endpoint=\"{name}\"}} {count}"
        );
    }
    family(
        &mut out,
        "fmd_exceptions_total",
        "counter",
        "Exceptions recorded: panics, errors into a 5xx, capture!.",
    );
    for (name, s) in endpoints {
        let _ = writeln!(
            out,
            "fmd_exceptions_total{{endpoint=\"{}\"}} {}",
            label(name),
            s.exceptions
        );
    }
    family(
        &mut out,
        "fmd_writer_written_total",
        "counter",
        "Records the writer stored.",
    );
    let _ = writeln!(out, "fmd_writer_written_total {}", p.written);
    family(
        &mut out,
        "fmd_writer_dropped_total",
        "counter",
        "Records dropped: the queue to the writer was full, or its backlog while the database was down.",
    );
    let _ = writeln!(
        out,
        "fmd_writer_dropped_total{{reason=\"queue_full\"}} {}",
        p.dropped_queue_full
    );
    let _ = writeln!(
        out,
        "fmd_writer_dropped_total{{reason=\"backlog_full\"}} {}",
        p.dropped_backlog
    );
    family(
        &mut out,
        "fmd_writer_backlog",
        "gauge",
        "Records kept in memory while the database is unavailable.",
    );
    let _ = writeln!(out, "fmd_writer_backlog {}", p.backlog);
    family(
        &mut out,
        "fmd_build_info",
        "gauge",
        "1, labelled with the version requests are recorded under and this instance's name.",
    );
    let _ = writeln!(
        out,
        "fmd_build_info{{version=\"{}\",instance=\"{}\"}} 1",
        label(p.version),
        label(p.instance)
    );
    if openmetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// Whether the scraper's `Accept` header takes OpenMetrics.
fn wants_openmetrics(req: &Req) -> bool {
    req.headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().starts_with("application/openmetrics-text"))
}

/// `GET metrics`: for anyone when `metrics_public`, else for the security token or a session.
pub(crate) async fn scrape(req: &Req) -> Reply {
    let inner = &req.inner;
    if !inner.config.metrics_public {
        let allowed = match req.bearer() {
            Some(token) => inner.auth.bearer_ok(token),
            None => matches!(req.session().await, Ok(Some(_))),
        };
        if !allowed {
            let mut reply = json_error(
                StatusCode::UNAUTHORIZED,
                "send `Authorization: Bearer <security_token>`, or set metrics_public = true",
            );
            reply
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return reply;
        }
    }
    let endpoints: Vec<(&str, MetricsSnapshot)> = fmd_core::registry::endpoints()
        .map(|e| (e.meta.name, e.metrics().snapshot()))
        .collect();
    let stats = &inner.recorder.stats;
    let instance = inner.config.effective_instance_name();
    let process = Process {
        version: &inner.version,
        instance: &instance,
        written: stats.written.load(Relaxed),
        dropped_queue_full: stats.dropped_queue_full.load(Relaxed),
        dropped_backlog: stats.dropped_backlog.load(Relaxed),
        backlog: stats.backlog.load(Relaxed),
    };
    let openmetrics = wants_openmetrics(req);
    let body = render(&endpoints, &process, openmetrics);
    Response::builder()
        .status(StatusCode::OK)
        .header(
            header::CONTENT_TYPE,
            if openmetrics { OPENMETRICS } else { TEXT },
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(body.into())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process() -> Process<'static> {
        Process {
            version: "1.2",
            instance: "web-1",
            written: 7,
            dropped_queue_full: 1,
            dropped_backlog: 0,
            backlog: 2,
        }
    }

    #[test]
    fn the_text_format_has_every_family_and_bounded_labels() {
        let m = fmd_core::metrics::EndpointMetrics::new();
        m.count(200, 3_000, 0);
        m.count(200, 30_000, 0);
        m.count(500, 2_000_000, 1);
        let text = render(&[("shop \"x\"", m.snapshot())], &process(), false);
        for line in [
            "# TYPE fmd_http_requests_total counter",
            "fmd_http_requests_total{endpoint=\"shop \\\"x\\\"\",status=\"200\"} 2",
            "fmd_http_requests_total{endpoint=\"shop \\\"x\\\"\",status=\"500\"} 1",
            "fmd_http_request_duration_seconds_bucket{endpoint=\"shop \\\"x\\\"\",le=\"0.001\"} 0",
            "fmd_http_request_duration_seconds_bucket{endpoint=\"shop \\\"x\\\"\",le=\"0.005\"} 1",
            "fmd_http_request_duration_seconds_bucket{endpoint=\"shop \\\"x\\\"\",le=\"2.5\"} 3",
            "fmd_http_request_duration_seconds_bucket{endpoint=\"shop \\\"x\\\"\",le=\"+Inf\"} 3",
            "fmd_http_request_duration_seconds_sum{endpoint=\"shop \\\"x\\\"\"} 2.033",
            "fmd_http_request_duration_seconds_count{endpoint=\"shop \\\"x\\\"\"} 3",
            "fmd_exceptions_total{endpoint=\"shop \\\"x\\\"\"} 1",
            "fmd_writer_written_total 7",
            "fmd_writer_dropped_total{reason=\"queue_full\"} 1",
            "fmd_writer_backlog 2",
            "fmd_build_info{version=\"1.2\",instance=\"web-1\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn openmetrics_names_counter_families_without_total_and_ends() {
        let text = render(&[], &process(), true);
        assert!(text.contains("# TYPE fmd_http_requests counter\n"));
        assert!(text.contains("# TYPE fmd_writer_written counter\nfmd_writer_written_total 7\n"));
        assert!(text.ends_with("# EOF\n"));
    }
}
