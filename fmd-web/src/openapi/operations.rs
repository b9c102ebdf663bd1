//! What the document says of each route of the JSON API: one function per route, named in
//! the route table beside the route's handler. docs/api.md says the same at more length.

use serde_json::{json, Value};

use super::json_schema::{
    array, boolean, date, int, list, nullable, object, one_of, or_empty, reference, string,
};
use super::Operation;
use crate::api::charts::{APP_CHARTS, ENDPOINT_CHARTS};
use crate::api::downloads::DOWNLOADS;

const RANGES: [&str; 5] = ["1h", "6h", "24h", "7d", "30d"];

/// The names in a `"a, b, c"` list.
fn names(list: &'static str) -> Vec<&'static str> {
    list.split(", ").collect()
}

/// Any of these components.
fn any_of(names: &[&str]) -> Value {
    json!({ "anyOf": names.iter().map(|n| reference(n)).collect::<Vec<_>>() })
}

/// `{key: id}`, what a deletion answers.
fn deleted() -> Value {
    object(&[("deleted", int())])
}

pub(crate) fn document() -> Operation {
    Operation::new(
        "documentation",
        "This document",
        json!({ "type": "object", "required": ["openapi", "paths"] }),
    )
    .public()
}

pub(crate) fn overview() -> Operation {
    Operation::new(
        "endpoints",
        "Every endpoint with its hits, errors and percentiles today, this week and overall",
        list("Overview"),
    )
    .instance()
}

pub(crate) fn instances() -> Operation {
    Operation::new(
        "endpoints",
        "The service instances that wrote to the database, most recently seen first",
        list("Instance"),
    )
}

pub(crate) fn requests() -> Operation {
    Operation::new(
        "endpoints",
        "An endpoint's requests, newest or slowest first",
        list("Request"),
    )
    .paged()
    .instance()
    .query(
        "sort",
        or_empty(one_of(&["newest", "slowest"])),
        "The order (default newest).",
    )
    .query(
        "min_ms",
        or_empty(json!({ "type": "number", "minimum": 0, "maximum": 1e12 })),
        "Only requests that took at least this many milliseconds.",
    )
    .query(
        "status",
        or_empty(one_of(&["all", "2xx", "3xx", "4xx", "5xx", "errors"])),
        "Only requests with a status of this class (`errors`: >= 400).",
    )
}

pub(crate) fn set_level() -> Operation {
    Operation::new(
        "endpoints",
        "Sets an endpoint's monitoring level",
        object(&[("id", int()), ("monitor_level", int())]),
    )
    .change(Some(json!({
        "type": "object",
        "required": ["level"],
        "properties": { "level": { "type": "integer", "minimum": 0, "maximum": 3 } },
    })))
}

pub(crate) fn delete_data() -> Operation {
    Operation::new(
        "endpoints",
        "Deletes everything recorded for an endpoint",
        object(&[("id", int()), ("deleted_requests", int())]),
    )
    .change(None)
}

pub(crate) fn outliers() -> Operation {
    Operation::new(
        "profiles",
        "An endpoint's outliers, newest first",
        list("Outlier"),
    )
    .paged()
}

pub(crate) fn profiler() -> Operation {
    Operation::new(
        "profiles",
        "An endpoint's profiled requests with their span trees, newest first",
        list("Profile"),
    )
    .paged()
}

pub(crate) fn grouped_profiler() -> Operation {
    Operation::new(
        "profiles",
        "An endpoint's latest 100 profiled requests, merged by call path",
        list("GroupedPath"),
    )
}

pub(crate) fn endpoint_exceptions() -> Operation {
    Operation::new(
        "exceptions",
        "An endpoint's exception groups with their messages, trace and log events",
        list("ExceptionGroup"),
    )
    .paged()
}

pub(crate) fn endpoint_chart() -> Operation {
    Operation::new(
        "charts",
        "One of an endpoint's charts",
        any_of(&[
            "Timeline",
            "HourlyChart",
            "EndpointVersionsChart",
            "UsersChart",
            "KeyVersionsChart",
            "StatusChart",
        ]),
    )
    .path("kind", one_of(&names(ENDPOINT_CHARTS)))
    .query(
        "range",
        one_of(&RANGES),
        "The timeline's range, ending now (timeline only).",
    )
    .days()
}

pub(crate) fn download() -> Operation {
    let items = any_of(&["Request", "Outlier", "ExceptionGroup"]);
    Operation::new("endpoints", "A download of an endpoint's data", Value::Null)
        .content(json!({
            "text/csv": { "schema": string() },
            "application/json": { "schema": array(items) },
        }))
        .path("what", one_of(&names(DOWNLOADS)))
        .query(
            "format",
            one_of(&["csv", "json"]),
            "The format (default csv).",
        )
        .days()
}

pub(crate) fn source() -> Operation {
    Operation::new(
        "exceptions",
        "A function's source, captured at compile time",
        reference("Source"),
    )
}

pub(crate) fn exceptions() -> Operation {
    Operation::new(
        "exceptions",
        "Every exception group, last seen first",
        list("ExceptionGroup"),
    )
    .paged()
}

pub(crate) fn delete_exception_group() -> Operation {
    Operation::new(
        "exceptions",
        "Deletes an exception group and its occurrences",
        deleted(),
    )
    .change(None)
}

pub(crate) fn app_chart() -> Operation {
    Operation::new(
        "charts",
        "One of the application's charts",
        any_of(&[
            "Timeline",
            "HourlyChart",
            "DailyChart",
            "VersionsChart",
            "PerformanceChart",
        ]),
    )
    .path("kind", one_of(&names(APP_CHARTS)))
    .query(
        "range",
        one_of(&RANGES),
        "The timeline's range, ending now (timeline only).",
    )
    .days()
}

pub(crate) fn graphs() -> Operation {
    Operation::new(
        "charts",
        "Every custom graph and how this process's runs of it went",
        list("Graph"),
    )
}

pub(crate) fn graph_data() -> Operation {
    Operation::new(
        "charts",
        "A custom graph's values, oldest first",
        reference("GraphData"),
    )
    .query(
        "range",
        one_of(&RANGES),
        "A range ending now, instead of whole days.",
    )
    .query("from", date(), "First day (default: 6 days before `to`).")
    .query("to", date(), "Last day, included (default: today).")
}

pub(crate) fn reports() -> Operation {
    let mut op = Operation::new(
        "reports",
        "Compares every endpoint's latency and status codes between two periods or versions",
        reference("Report"),
    )
    .query(
        "compare",
        or_empty(one_of(&["day", "week", "month", "custom", "versions"])),
        "What to compare (default day: today against yesterday).",
    );
    for name in ["baseline_from", "baseline_to", "current_from", "current_to"] {
        op = op.query(name, or_empty(date()), "A day of a `custom` comparison.");
    }
    op.query("baseline", string(), "The baseline version (`versions`).")
        .query("current", string(), "The current version (`versions`).")
}

pub(crate) fn alerts() -> Operation {
    Operation::new(
        "alerts",
        "Alert channels, rules and each endpoint's thresholds and state",
        reference("Alerts"),
    )
}

pub(crate) fn alert_history() -> Operation {
    Operation::new(
        "alerts",
        "The alerts raised, newest first, with their deliveries",
        reference("AlertHistory"),
    )
    .paged()
}

pub(crate) fn test_alert() -> Operation {
    Operation::new(
        "alerts",
        "Sends a test alert to a channel",
        object(&[
            ("channel", string()),
            ("ok", boolean()),
            ("detail", string()),
        ]),
    )
    .change(Some(json!({
        "type": "object",
        "required": ["channel"],
        "properties": { "channel": { "type": "string" } },
    })))
    .errors(&[409, 502])
}

pub(crate) fn set_thresholds() -> Operation {
    let threshold = |max: f64| nullable(json!({ "type": "number", "minimum": 0, "maximum": max }));
    Operation::new(
        "alerts",
        "Sets or resets an endpoint's alert thresholds",
        reference("EndpointRules"),
    )
    .change(Some(json!({
        "type": "object",
        "properties": {
            "error_rate_percent": threshold(100.0),
            "latency_p95_ms": threshold(86_400_000.0),
        },
        "anyOf": [
            { "required": ["error_rate_percent"] },
            { "required": ["latency_p95_ms"] },
        ],
    })))
}

pub(crate) fn status() -> Operation {
    Operation::new(
        "settings",
        "This process, its writer, its database and its configuration (secrets hidden)",
        reference("Status"),
    )
}

pub(crate) fn prune() -> Operation {
    Operation::new(
        "settings",
        "Deletes requests older than a number of days",
        object(&[("days", int()), ("deleted_requests", int())]),
    )
    .change(Some(json!({
        "type": "object",
        "required": ["days"],
        "properties": { "days": { "type": "integer", "minimum": 0, "maximum": 36500 } },
    })))
}

pub(crate) fn users() -> Operation {
    Operation::new(
        "settings",
        "The users stored in the database, with their open sessions",
        list("User"),
    )
    .admin_read()
}

/// A new password (and its `confirm`, which must equal it): at least 8 characters.
fn password() -> Value {
    json!({ "type": "string", "minLength": 8 })
}

pub(crate) fn add_user() -> Operation {
    Operation::new("settings", "Adds a user", reference("User"))
        .status(201)
        .change(Some(json!({
            "type": "object",
            "required": ["username", "password", "confirm", "role"],
            "properties": {
                "username": { "type": "string", "minLength": 1, "maxLength": 255 },
                "password": password(),
                "confirm": password(),
                "role": one_of(&["admin", "guest"]),
            },
        })))
        .errors(&[409])
}

pub(crate) fn set_password() -> Operation {
    Operation::new(
        "settings",
        "Sets a user's password and ends the user's other sessions",
        reference("User"),
    )
    .change(Some(json!({
        "type": "object",
        "required": ["password", "confirm"],
        "properties": { "password": password(), "confirm": password() },
    })))
    .errors(&[409])
}

pub(crate) fn delete_user() -> Operation {
    Operation::new(
        "settings",
        "Deletes a user and ends its sessions",
        deleted(),
    )
    .change(None)
    .errors(&[409])
}

pub(crate) fn end_sessions() -> Operation {
    Operation::new(
        "settings",
        "Ends every session of a user",
        object(&[("username", string()), ("ended", int())]),
    )
    .change(Some(json!({
        "type": "object",
        "required": ["username"],
        "properties": { "username": { "type": "string" } },
    })))
}
