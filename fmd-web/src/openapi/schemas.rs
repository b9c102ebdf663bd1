//! The schemas of the monitoring data the API answers (endpoints, requests, profiles,
//! exceptions, charts), under `components/schemas`.

use serde_json::{json, Value};

use super::json_schema::{
    array, boolean, date, int, list, nullable, num, object, object_with, one_of, pairs, string,
    time, tuple,
};

/// The fields every chart over whole days starts with.
fn days_header(rest: &[(&str, Value)]) -> Value {
    let mut fields = vec![("from", date()), ("to", date()), ("timezone", string())];
    fields.extend(rest.iter().cloned());
    object(&fields)
}

/// What the per-user and per-address charts say of their sample, and `rest`.
fn sampled<'a>(rest: &[(&'a str, Value)]) -> Vec<(&'a str, Value)> {
    let mut fields = vec![
        ("requests", int()),
        ("sampled", boolean()),
        ("sample_size", int()),
    ];
    fields.extend(rest.iter().cloned());
    fields
}

/// The box plot fields (`BoxStats`), and those of a chart's box.
pub(crate) fn box_fields() -> Vec<(&'static str, Value)> {
    vec![
        ("count", int()),
        ("min_ms", num()),
        ("q1_ms", num()),
        ("median_ms", num()),
        ("q3_ms", num()),
        ("max_ms", num()),
        ("low_ms", num()),
        ("high_ms", num()),
    ]
}

/// Every schema of `components/schemas`.
/// The schemas of the monitoring data: endpoints, requests, profiles, exceptions, charts.
pub(crate) fn components() -> Vec<(&'static str, Value)> {
    let ms = num;
    let nms = || nullable(num());
    let request = object(&[
        ("id", int()),
        ("duration_ms", ms()),
        ("time_requested", time()),
        ("version", string()),
        ("group_by", string()),
        ("ip", string()),
        ("status_code", int()),
        ("instance", string()),
    ]);
    let event = object(&[
        ("request", int()),
        ("time", time()),
        (
            "level",
            one_of(&["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]),
        ),
        ("target", string()),
        ("message", string()),
        ("fields", pairs()),
    ]);
    let outlier = object_with(
        &[
            ("request", int()),
            ("time_requested", time()),
            ("duration_ms", ms()),
            ("status_code", int()),
            ("method", string()),
            ("url", string()),
            ("headers", pairs()),
            ("cpu_percent", array(num())),
            ("memory_bytes", int()),
            ("system_memory_bytes", int()),
            ("stuck_after_ms", nms()),
            (
                "stack",
                array(object(&[
                    ("function_id", int()),
                    ("function", string()),
                    ("depth", int()),
                    ("running_ms", ms()),
                ])),
            ),
        ],
        &[("events", list("Event"))],
    );
    let profile = object(&[
        ("request", int()),
        ("time_requested", time()),
        ("duration_ms", ms()),
        ("dropped_spans", int()),
        (
            "spans",
            array(object(&[
                ("position", int()),
                ("parent", nullable(int())),
                ("function", string()),
                ("function_id", int()),
                ("depth", int()),
                ("start_ms", ms()),
                ("duration_ms", ms()),
                ("share", num()),
                ("cancelled", boolean()),
            ])),
        ),
    ]);
    let grouped = object(&[
        ("path", array(string())),
        ("function", string()),
        ("depth", int()),
        ("hits", int()),
        ("total_ms", ms()),
        ("avg_ms", ms()),
        ("std_ms", ms()),
        ("hits_share", num()),
        ("share", num()),
    ]);
    let group = object_with(
        &[
            ("group_id", int()),
            ("type", string()),
            ("message", string()),
            ("endpoint", string()),
            ("endpoint_id", int()),
            ("first_seen", time()),
            ("last_seen", time()),
            ("count", int()),
            ("user_captured", boolean()),
            ("last_request", int()),
        ],
        &[
            (
                "messages",
                array(object(&[("message", string()), ("count", int())])),
            ),
            (
                "frames",
                array(object(&[
                    ("position", int()),
                    ("function", string()),
                    ("file", string()),
                    ("relative_file", string()),
                    ("line", int()),
                    ("function_start_line", int()),
                    ("function_id", int()),
                    ("library", boolean()),
                ])),
            ),
            ("events", list("Event")),
        ],
    );
    let overview = object(&[
        ("id", int()),
        ("name", string()),
        (
            "monitor_level",
            json!({ "type": "integer", "minimum": 0, "maximum": 3 }),
        ),
        ("hits_today", int()),
        ("hits_week", int()),
        ("hits_overall", int()),
        ("errors_today", int()),
        ("errors_week", int()),
        ("errors_overall", int()),
        ("median_today_ms", nms()),
        ("median_week_ms", nms()),
        ("median_overall_ms", nms()),
        ("p90_today_ms", nms()),
        ("p90_week_ms", nms()),
        ("p90_overall_ms", nms()),
        ("p99_today_ms", nms()),
        ("p99_week_ms", nms()),
        ("p99_overall_ms", nms()),
        ("last_requested", nullable(time())),
        ("exception_groups", int()),
        ("time_week_ms", ms()),
        ("hits_24h", array(int())),
        ("errors_24h", array(int())),
    ]);
    let instance = object(&[
        ("id", int()),
        ("name", string()),
        ("version", string()),
        ("started", time()),
        ("last_seen", time()),
        ("seconds_since_seen", int()),
        ("stopped", nullable(time())),
        ("live", boolean()),
    ]);
    let timeline = object(&[
        ("range", nullable(one_of(&["1h", "6h", "24h", "7d", "30d"]))),
        ("start", time()),
        ("end", time()),
        ("timezone", string()),
        ("bucket_seconds", int()),
        ("live", boolean()),
        (
            "buckets",
            array(object(&[
                ("time", time()),
                ("hits", int()),
                ("errors", int()),
                ("error_rate", nms()),
                ("p50_ms", nms()),
                ("p95_ms", nms()),
                ("p99_ms", nms()),
            ])),
        ),
    ]);
    let mut chart_box = box_fields();
    chart_box.push(("name", string()));
    chart_box.push(("beyond_ms", array(num())));
    let chart_box = object_with(&chart_box, &[("id", int()), ("color", string())]);
    let hourly = days_header(&[
        ("days", array(date())),
        ("max", int()),
        ("total", int()),
        ("cells", array(tuple(&[int(), int(), int()]))),
    ]);
    let daily = days_header(&[
        ("days", array(date())),
        (
            "series",
            array(object(&[
                ("id", int()),
                ("name", string()),
                ("color", string()),
                ("total", int()),
                ("hits", array(int())),
            ])),
        ),
    ]);
    let app_versions = days_header(&[
        ("versions", array(string())),
        (
            "endpoints",
            array(object(&[
                ("id", int()),
                ("name", string()),
                ("total", int()),
                ("hits", array(int())),
                ("shares", array(num())),
            ])),
        ),
    ]);
    let performance = days_header(&[("endpoints", list("Box"))]);
    let endpoint_versions = days_header(&[("versions", list("Box"))]);
    let users = days_header(&sampled(&[("users", list("Box")), ("ungrouped", int())]));
    let key_versions = days_header(&sampled(&[
        ("versions", array(string())),
        ("keys", array(string())),
        ("points", array(tuple(&[int(), int(), num(), int()]))),
        ("max_median_ms", num()),
        ("without_key", int()),
    ]));
    let status_chart = days_header(&[
        (
            "codes",
            array(object(&[("status_code", int()), ("count", int())])),
        ),
        ("errors", list("Request")),
    ]);
    vec![
        ("Error", object(&[("error", string())])),
        ("Overview", overview),
        ("Instance", instance),
        ("Request", request),
        ("Event", event),
        ("Outlier", outlier),
        ("Profile", profile),
        ("GroupedPath", grouped),
        ("ExceptionGroup", group),
        (
            "Source",
            object(&[
                ("name", string()),
                ("file", string()),
                ("start_line", int()),
                ("code", string()),
            ]),
        ),
        ("Timeline", timeline),
        ("Box", chart_box),
        ("HourlyChart", hourly),
        ("DailyChart", daily),
        ("VersionsChart", app_versions),
        ("PerformanceChart", performance),
        ("EndpointVersionsChart", endpoint_versions),
        ("UsersChart", users),
        ("KeyVersionsChart", key_versions),
        ("StatusChart", status_chart),
    ]
}
