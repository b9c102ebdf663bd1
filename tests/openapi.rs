//! The OpenAPI document at `/{custom_link}/api/openapi.json`: served to anyone, and every
//! operation in it, called on a server with data, answers with a documented status whose body
//! fits the documented schema (JSON Schema 2020-12, formats checked). The route table's unit
//! test checks that the document lists every API route and only those; `scripts/api-fuzz.sh`
//! fuzzes the whole API against it with schemathesis in CI.

mod common;

use std::convert::Infallible;

use common::*;
use fmd::monitored;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use warp::Filter;

#[monitored]
async fn item(n: u32) -> Result<String, Infallible> {
    fmd::set_group_by(format!("user{n}"));
    if n.is_multiple_of(3) {
        fmd::capture!(std::io::Error::other(format!("item {n} is out of stock")));
    }
    Ok(fmd::span!("render", { format!("item {n}") }))
}

/// The document's operation for `method` on `template` (a path of the document).
fn operation<'a>(doc: &'a Value, method: &Method, template: &str) -> &'a Value {
    let op = &doc["paths"][template][method.as_str().to_lowercase()];
    assert!(op.is_object(), "{method} {template} is not in the document");
    op
}

/// Panics unless `status` is documented for the operation and `body` fits its schema.
fn check(doc: &Value, method: &Method, template: &str, status: StatusCode, body: &Value) {
    let op = operation(doc, method, template);
    let response = &op["responses"][status.as_str()];
    assert!(
        response.is_object(),
        "{method} {template} answered {status}, which the document does not list: {body}"
    );
    let schema = &response["content"]["application/json"]["schema"];
    // The document is the root, so that the schema's `#/components/...` references resolve.
    let mut root = doc.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["allOf"] = json!([schema]);
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("{method} {template}'s schema does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template} ({status}) breaks the document:\n{}\n{body}",
        errors.join("\n")
    );
}

#[tokio::test]
async fn every_operation_answers_as_the_document_says() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let app = warp::path!("item" / u32).and_then(item);
    let server = Server::start(config(&dir), app).await;
    let anyone = client();
    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;

    let r = anyone
        .get(server.url("/dashboard/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the document needs no login");
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "/dashboard/api");
    let settings = page(&server, &admin, "/dashboard/settings").await;
    assert!(
        settings.contains("href=\"/dashboard/api/openapi.json\""),
        "{settings}"
    );

    // Data for every answer: requests, profiles (level 3), exceptions with their traces.
    anyone.get(server.url("/item/1")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    let id = overview_row(&server, &admin, "item").await["id"]
        .as_i64()
        .unwrap();
    let (status, _) = call(
        &server,
        &admin,
        &csrf,
        Method::PUT,
        &format!("endpoints/{id}/level"),
        json!({ "level": 3 }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for n in 2..12 {
        anyone
            .get(server.url(&format!("/item/{n}")))
            .send()
            .await
            .unwrap();
    }
    server.dashboard.flush().await.unwrap();
    let api = |p: &str| server.url(&format!("/dashboard/api/{p}"));
    let (_, profiles) = json(&admin, &api(&format!("endpoints/{id}/profiler"))).await;
    let function = profiles[0]["spans"][0]["function_id"].as_i64().unwrap();
    let (_, groups) = json(&admin, &api("exceptions")).await;
    let group = groups[0]["group_id"].as_i64().unwrap();

    let mut gets: Vec<(&str, String)> = vec![
        ("/openapi.json", "openapi.json".into()),
        ("/overview", "overview".into()),
        ("/instances", "instances".into()),
        (
            "/endpoints/{id}/requests",
            format!("endpoints/{id}/requests?sort=slowest"),
        ),
        (
            "/endpoints/{id}/outliers",
            format!("endpoints/{id}/outliers"),
        ),
        (
            "/endpoints/{id}/profiler",
            format!("endpoints/{id}/profiler"),
        ),
        (
            "/endpoints/{id}/grouped_profiler",
            format!("endpoints/{id}/grouped_profiler"),
        ),
        (
            "/endpoints/{id}/exceptions",
            format!("endpoints/{id}/exceptions"),
        ),
        (
            "/functions/{id}/source",
            format!("functions/{function}/source"),
        ),
        ("/exceptions", "exceptions".into()),
        ("/graphs", "graphs".into()),
        ("/graphs/{id}/data", "graphs/1/data".into()),
        ("/reports", "reports".into()),
        (
            "/reports",
            "reports?compare=custom&baseline_from=2026-01-01".into(),
        ),
        ("/alerts", "alerts".into()),
        ("/alerts/history", "alerts/history".into()),
        ("/status", "status".into()),
        ("/users", "users".into()),
        (
            "/endpoints/{id}/requests",
            "endpoints/987654/requests".into(),
        ),
    ];
    for kind in ["timeline", "hourly", "daily", "versions", "performance"] {
        gets.push(("/charts/{kind}", format!("charts/{kind}")));
    }
    let endpoint_charts = [
        "timeline",
        "hourly",
        "versions",
        "users",
        "user_versions",
        "ip_versions",
        "status",
    ];
    for kind in endpoint_charts {
        gets.push((
            "/endpoints/{id}/charts/{kind}",
            format!("endpoints/{id}/charts/{kind}"),
        ));
    }
    for what in ["requests", "outliers", "exceptions"] {
        gets.push((
            "/endpoints/{id}/download/{what}",
            format!("endpoints/{id}/download/{what}?format=json"),
        ));
    }
    for (template, path) in &gets {
        let (status, body) = json(&admin, &api(path)).await;
        check(&doc, &Method::GET, template, status, &body);
    }

    // The changes, each with a body the document allows, and the same as the read-only token.
    let token = reqwest::Client::new();
    let changes: Vec<(Method, &str, String, Value)> = vec![
        (
            Method::PUT,
            "/endpoints/{id}/level",
            format!("endpoints/{id}/level"),
            json!({ "level": 2 }),
        ),
        (
            Method::PUT,
            "/endpoints/{id}/alerts",
            format!("endpoints/{id}/alerts"),
            json!({ "error_rate_percent": 5, "latency_p95_ms": null }),
        ),
        (
            Method::POST,
            "/alerts/test",
            "alerts/test".into(),
            json!({ "channel": "webhook-1" }),
        ),
        (
            Method::POST,
            "/users",
            "users".into(),
            json!({ "username": "ann", "password": "ann-password", "confirm": "ann-password", "role": "guest" }),
        ),
        (
            Method::PUT,
            "/users/{id}/password",
            "users/{ann}/password".into(),
            json!({ "password": "new-password", "confirm": "new-password" }),
        ),
        (
            Method::DELETE,
            "/sessions",
            "sessions".into(),
            json!({ "username": "ann" }),
        ),
        (
            Method::DELETE,
            "/users/{id}",
            "users/{ann}".into(),
            json!(null),
        ),
        (
            Method::DELETE,
            "/exceptions/{id}",
            format!("exceptions/{group}"),
            json!(null),
        ),
        (
            Method::DELETE,
            "/endpoints/{id}/data",
            format!("endpoints/{id}/data"),
            json!(null),
        ),
        (
            Method::POST,
            "/prune",
            "prune".into(),
            json!({ "days": 30 }),
        ),
    ];
    let mut ann = None;
    for (method, template, path, body) in &changes {
        // Ann's id comes from adding her.
        let path = &path.replace("{ann}", &format!("{}", ann.unwrap_or(0)));
        let r = token
            .request(method.clone(), api(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{method} {path} with the token"
        );
        check(&doc, method, template, r.status(), &r.json().await.unwrap());
        let (status, answer) =
            call(&server, &admin, &csrf, method.clone(), path, body.clone()).await;
        check(&doc, method, template, status, &answer);
        if *template == "/users" {
            assert_eq!(status, StatusCode::CREATED, "{answer}");
            ann = answer["id"].as_i64();
        }
    }

    // Every operation of the document was called above.
    let called: Vec<(String, &str)> = gets
        .iter()
        .map(|(t, _)| ("get".to_owned(), *t))
        .chain(
            changes
                .iter()
                .map(|(m, t, ..)| (m.as_str().to_lowercase(), *t)),
        )
        .collect();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(
                called.iter().any(|(m, t)| m == method && t == template),
                "{method} {template} is not exercised by this test"
            );
        }
    }
    server.stop().await;
}
