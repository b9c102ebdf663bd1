//! Reports over a seeded history: a slower endpoint with more server errors is reported first
//! with its evidence, a steady one is not, and bad parameters get a 400 that says what to send.

mod common;

use std::time::Duration;

use common::*;
use fmd_core::{Endpoint, EndpointMeta, RequestRecord, Sink};
use reqwest::StatusCode;
use serde_json::Value;
use warp::Filter;

const DAY: i64 = 86_400_000_000;

static SLOWER: Endpoint = Endpoint::new(EndpointMeta {
    name: "slower",
    module_path: "reports",
    function: "slower",
    file: "tests/reports.rs",
    line: 1,
    source: "",
    source_sha256: "1111111111111111111111111111111111111111111111111111111111111111",
});

static RARE: Endpoint = Endpoint::new(EndpointMeta {
    name: "rare",
    module_path: "reports",
    function: "rare",
    file: "tests/reports.rs",
    line: 3,
    source: "",
    source_sha256: "3333333333333333333333333333333333333333333333333333333333333333",
});

static STEADY: Endpoint = Endpoint::new(EndpointMeta {
    name: "steady",
    module_path: "reports",
    function: "steady",
    file: "tests/reports.rs",
    line: 2,
    source: "",
    source_sha256: "2222222222222222222222222222222222222222222222222222222222222222",
});

fn record(endpoint: &'static Endpoint, time: i64, ms: u64, status: u16) -> RequestRecord {
    RequestRecord {
        endpoint,
        time_requested: time,
        duration_us: ms * 1000,
        status_code: status,
        ip: Some("10.0.0.1".parse().unwrap()),
        group_by: None,
        detail: None,
    }
}

/// Yesterday on version 1 and today on version 2: `slower` doubles its durations and answers
/// 500 to one request in ten instead of one in fifty; `steady` stays as it was; `rare` has
/// three requests today only, too few to test.
fn seed(dir: &tempfile::TempDir) {
    let url = format!("sqlite://{}", dir.path().join("fmd.db").display());
    let store = fmd_store::Store::open(&url, "fmd_").unwrap();
    let synced = store
        .sync_endpoints(&[&SLOWER, &STEADY, &RARE], 1, "1")
        .unwrap();
    let now = fmd_core::now_micros();
    let midnight = now - now.rem_euclid(DAY);
    for (version, start, span, factor, every) in [
        ("1", midnight - DAY, DAY, 1, 50),
        ("2", midnight, now - midnight, 2, 10),
    ] {
        let mut records = Vec::new();
        for i in 0..200i64 {
            let time = start + span * i / 200;
            let ms = 10 + (i * 7 % 10) as u64;
            let status = if i % every == 0 { 500 } else { 200 };
            records.push(record(&SLOWER, time, ms * factor, status));
            records.push(record(&STEADY, time, ms, 200));
            if version == "2" && i < 3 {
                records.push(record(&RARE, time, ms, 200));
            }
        }
        let mut sink = store
            .sink(version, "seed", &synced, 1, Duration::from_secs(5))
            .unwrap();
        sink.write(&records, &[]).unwrap();
    }
}

async fn report(server: &Server, client: &reqwest::Client, query: &str) -> (StatusCode, Value) {
    json(
        client,
        &server.url(&format!("/dashboard/api/reports?{query}")),
    )
    .await
}

#[tokio::test]
async fn changes_are_reported_with_their_evidence() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    seed(&dir);
    let server = Server::start(config(&dir), warp::path!("x").map(|| "x")).await;
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    for query in [
        "compare=day",
        "compare=versions",
        "compare=versions&baseline=1&current=2",
    ] {
        let (status, r) = report(&server, &admin, query).await;
        assert_eq!(status, StatusCode::OK, "{query}: {r}");
        let endpoints = r["endpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), 3, "{query}: {r}");
        let first = &endpoints[0];
        assert_eq!(first["name"], "slower", "significant first: {query}");
        assert_eq!(first["significant"], true);
        let latency = &first["latency"];
        assert_eq!(latency["significant"], true);
        assert!(latency["p_value"].as_f64().unwrap() < 0.05, "{latency}");
        assert!(
            (latency["change_percent"].as_f64().unwrap() - 100.0).abs() < 1e-9,
            "{latency}"
        );
        assert_eq!(latency["baseline"]["requests"], 200);
        assert_eq!(latency["current"]["sample"], 200);
        let status = &first["status"];
        assert_eq!(status["significant"], true, "{status}");
        assert_eq!(status["codes"][0]["status_code"], 500);
        assert!((status["codes"][0]["change_pp"].as_f64().unwrap() - 8.0).abs() < 1e-9);
        let steady = &endpoints[1];
        assert_eq!(steady["name"], "steady");
        assert_eq!(steady["significant"], false, "{steady}");
        assert_eq!(steady["latency"]["change_percent"], 0.0);
        assert_eq!(steady["verdict"], "unchanged");
        assert_eq!(first["verdict"], "changed");
        let rare = &endpoints[2];
        assert_eq!(
            (&rare["name"], &rare["verdict"]),
            (
                &serde_json::json!("rare"),
                &serde_json::json!("not_enough_data")
            ),
            "untested last: {query}"
        );
        assert_eq!(rare["status"]["codes"][0]["change_pp"], Value::Null);
        assert_eq!(rare["status"]["codes"][0]["baseline_share"], Value::Null);
    }
    let (_, versions) = report(&server, &admin, "compare=versions").await;
    assert_eq!(versions["baseline"]["label"], "Version 1");
    // Last month has no requests at all: nothing to list, no error.
    let (status, empty) = report(
        &server,
        &admin,
        "compare=custom&baseline_from=2001-01-01&baseline_to=2001-01-31&current_from=2001-02-01&current_to=2001-02-28",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty["endpoints"], serde_json::json!([]));
    for (query, needle) in [
        ("compare=year", "compare must be one of"),
        (
            "compare=custom&baseline_from=2026-01-01",
            "baseline_from and baseline_to",
        ),
        ("compare=versions&current=9", "\"9\" has served no request"),
        (
            "compare=versions&baseline=2&current=2",
            "pick two different versions",
        ),
    ] {
        let (status, body) = report(&server, &admin, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{query}: {body}"
        );
    }
    // The page shows the same, significant first, with a chart of both sides.
    let html = admin
        .get(server.url("/dashboard/reports?compare=day"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("1 of 3 endpoints changed significantly; 1 had too few requests to test"),
        "{html}"
    );
    let (slower, steady) = (
        html.find(">slower</a>").unwrap(),
        html.find(">steady</a>").unwrap(),
    );
    assert!(slower < steady, "significant first");
    assert!(html.contains("500 +8.0 points"));
    assert!(
        html.contains("not enough data (0 and 3 requests)"),
        "{html}"
    );
    assert_eq!(
        html.matches("data-pair=").count(),
        3,
        "a chart per endpoint"
    );
    let bad = admin
        .get(server.url("/dashboard/reports?compare=year"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::OK);
    assert!(bad.text().await.unwrap().contains("compare must be one of"));
    server.stop().await;
}
