//! The schemas of reports, custom graphs, alerts and settings, under `components/schemas`.

use serde_json::Value;

use super::json_schema::{
    array, boolean, date, int, list, nullable, num, object, object_with, one_of, string, time,
    tuple,
};
use super::schemas::box_fields;

/// The components of reports, custom graphs, alerts and settings.
pub(crate) fn components() -> Vec<(&'static str, Value)> {
    let nnum = || nullable(num());
    let side = object_with(
        &[("label", string())],
        &[("from", date()), ("to", date()), ("version", string())],
    );
    let latency_side = object(&[
        ("requests", int()),
        ("sample", int()),
        ("median_ms", nnum()),
        ("box", nullable(object(&box_fields()))),
    ]);
    let endpoint_report = object(&[
        ("id", int()),
        ("name", string()),
        ("significant", boolean()),
        (
            "verdict",
            one_of(&["changed", "unchanged", "not_enough_data"]),
        ),
        (
            "latency",
            object(&[
                ("baseline", latency_side.clone()),
                ("current", latency_side),
                ("change_percent", nnum()),
                ("p_value", nnum()),
                ("significant", boolean()),
            ]),
        ),
        (
            "status",
            object(&[
                ("baseline_requests", int()),
                ("current_requests", int()),
                ("tested", boolean()),
                (
                    "codes",
                    array(object(&[
                        ("status_code", int()),
                        ("baseline_share", nnum()),
                        ("current_share", nnum()),
                        ("change_pp", nnum()),
                        ("p_value", nnum()),
                        ("significant", boolean()),
                    ])),
                ),
                ("significant", boolean()),
            ]),
        ),
    ]);
    let report = object(&[
        (
            "compare",
            one_of(&["day", "week", "month", "custom", "versions"]),
        ),
        ("baseline", side.clone()),
        ("current", side),
        ("sample_limit", int()),
        ("alpha", num()),
        ("endpoints", array(endpoint_report)),
    ]);
    let graph = object(&[
        ("id", int()),
        ("title", string()),
        ("time_added", time()),
        ("runs_here", boolean()),
        ("schedule", nullable(string())),
        ("runs", int()),
        ("last_run", nullable(time())),
        ("last_value", nnum()),
        ("last_error", nullable(string())),
        ("last_error_time", nullable(time())),
        ("next_run", nullable(time())),
    ]);
    let graph_data = object(&[
        ("id", int()),
        ("title", string()),
        ("range", nullable(one_of(&["1h", "6h", "24h", "7d", "30d"]))),
        ("from", nullable(date())),
        ("to", nullable(date())),
        ("timezone", string()),
        ("start", time()),
        ("end", time()),
        ("live", boolean()),
        ("points", array(tuple(&[time(), num()]))),
    ]);
    let rule = object(&[
        ("threshold", num()),
        ("custom", nnum()),
        ("firing", boolean()),
        ("since", nullable(time())),
    ]);
    let endpoint_rules = object(&[
        ("id", int()),
        ("name", string()),
        ("error_rate", rule.clone()),
        ("latency", rule),
    ]);
    let alerts = object(&[
        ("enabled", boolean()),
        (
            "channels",
            array(object(&[
                ("id", string()),
                ("kind", one_of(&["webhook", "email"])),
                ("label", string()),
                ("detail", string()),
            ])),
        ),
        (
            "rules",
            object(&[
                ("new_exception", boolean()),
                ("error_rate_percent", num()),
                ("latency_p95_ms", num()),
                ("window_minutes", int()),
                ("min_requests", int()),
                ("cooldown_minutes", int()),
                ("cap_messages", int()),
                ("cap_minutes", num()),
                ("retries", string()),
            ]),
        ),
        ("endpoints", list("EndpointRules")),
    ]);
    let history = object(&[
        ("total", int()),
        ("offset", int()),
        (
            "alerts",
            array(object(&[
                ("id", int()),
                ("kind", string()),
                ("endpoint", nullable(string())),
                ("endpoint_id", nullable(int())),
                ("time", time()),
                ("instance", string()),
                ("title", string()),
                ("text", string()),
                ("url", string()),
                (
                    "status",
                    one_of(&["sent", "retrying", "held", "failed", "none"]),
                ),
                (
                    "deliveries",
                    array(object(&[
                        ("channel", string()),
                        ("attempt", int()),
                        ("time", time()),
                        (
                            "outcome",
                            one_of(&["sent", "failed", "gave_up", "held", "digested", "skipped"]),
                        ),
                        ("detail", nullable(string())),
                    ])),
                ),
            ])),
        ),
    ]);
    let status = object(&[
        ("version", string()),
        ("instance", string()),
        ("uptime_seconds", int()),
        ("backend", one_of(&["SQLite", "PostgreSQL", "MySQL"])),
        ("database_size_bytes", nullable(int())),
        (
            "writer",
            object(&[
                ("written", int()),
                ("backlog", int()),
                ("dropped_queue_full", int()),
                ("dropped_backlog", int()),
                ("failing", boolean()),
                ("last_error", nullable(string())),
                ("queue_capacity", int()),
                ("backlog_capacity", int()),
            ]),
        ),
        (
            "config",
            array(object(&[
                ("section", string()),
                ("key", string()),
                ("value", string()),
            ])),
        ),
    ]);
    let user = object(&[
        ("id", int()),
        ("username", string()),
        ("role", one_of(&["admin", "guest"])),
        ("sessions", int()),
    ]);
    vec![
        ("Report", report),
        ("Graph", graph),
        ("GraphData", graph_data),
        ("Alerts", alerts),
        ("EndpointRules", endpoint_rules),
        ("AlertHistory", history),
        ("Status", status),
        ("User", user),
    ]
}
