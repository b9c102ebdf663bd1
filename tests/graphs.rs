//! Custom graphs: run at start and on schedule, values stored with their time, failures and
//! panics shown and survived.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use fmd::Schedule;
use reqwest::StatusCode;
use serde_json::Value;
use warp::Filter;

async fn graphs(server: &Server, who: &reqwest::Client) -> Vec<Value> {
    let (status, body) = json(who, &server.url("/dashboard/api/graphs")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test]
async fn graphs_run_on_schedule_and_survive_failures() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), warp::path!("x").map(|| "x")).await;
    let counter = Arc::new(AtomicU64::new(0));
    let c = counter.clone();
    server.dashboard.add_graph(
        "counter",
        Schedule::every(Duration::from_secs(1)),
        move || c.fetch_add(1, Ordering::SeqCst) + 1,
    );
    server.dashboard.add_graph(
        "every second",
        Schedule::cron("* * * * * *").unwrap(),
        || 7.5,
    );
    server
        .dashboard
        .add_graph("failing", Schedule::every(Duration::from_secs(1)), || {
            Err::<f64, _>("the upstream is down")
        });
    let runs = Arc::new(AtomicU64::new(0));
    let r = runs.clone();
    server.dashboard.add_graph(
        "panicking",
        Schedule::every(Duration::from_secs(1)),
        move || {
            if r.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("boom");
            }
            1
        },
    );
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    // Runs once at start, then every second: wait for the third value of the counter.
    let deadline = Instant::now() + Duration::from_secs(20);
    while counter.load(Ordering::SeqCst) < 3 || runs.load(Ordering::SeqCst) < 2 {
        assert!(
            Instant::now() < deadline,
            "the graphs did not run on schedule"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let list = graphs(&server, &admin).await;
    let titles: Vec<&str> = list.iter().map(|g| g["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["counter", "every second", "failing", "panicking"]);
    let by = |t: &str| list.iter().find(|g| g["title"] == t).unwrap().clone();
    assert_eq!(by("counter")["schedule"], "every 1 s");
    assert_eq!(by("every second")["schedule"], "cron * * * * * *");
    assert_eq!(by("counter")["runs_here"], true);
    assert!(by("counter")["last_error"].is_null());
    let failing = by("failing");
    assert!(
        failing["last_error"]
            .as_str()
            .unwrap()
            .contains("the upstream is down"),
        "{failing}"
    );
    assert!(
        failing["runs"].as_u64().unwrap() >= 2,
        "it keeps running: {failing}"
    );
    let panicking = by("panicking");
    assert!(
        panicking["last_error"].is_null(),
        "a later run succeeded: {panicking}"
    );
    assert_eq!(panicking["last_value"], 1.0);

    let id = by("counter")["id"].as_i64().unwrap();
    let (status, data) = json(
        &admin,
        &server.url(&format!("/dashboard/api/graphs/{id}/data")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let values: Vec<f64> = data["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    assert!(
        values.len() >= 3 && values[..3] == [1.0, 2.0, 3.0],
        "{data}"
    );
    assert!(data["points"][0][0].as_str().unwrap().ends_with('Z'));
    let failing_id = failing["id"].as_i64().unwrap();
    let (_, none) = json(
        &admin,
        &server.url(&format!("/dashboard/api/graphs/{failing_id}/data")),
    )
    .await;
    assert_eq!(
        none["points"],
        serde_json::json!([]),
        "failures store nothing"
    );
    let (status, _) = json(&admin, &server.url("/dashboard/api/graphs/987654/data")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = json(
        &admin,
        &server.url(&format!("/dashboard/api/graphs/{id}/data?from=x")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = json(&admin, &server.url("/dashboard/api/graphs/x/data")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Ranges that end now, down to the last hour.
    let (status, hour) = json(
        &admin,
        &server.url(&format!("/dashboard/api/graphs/{id}/data?range=1h")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hour}");
    assert_eq!(
        (hour["range"].as_str(), hour["live"].as_bool()),
        (Some("1h"), Some(true))
    );
    assert_eq!(
        hour["points"].as_array().unwrap().len(),
        data["points"].as_array().unwrap().len()
    );
    let (status, bad) = json(
        &admin,
        &server.url(&format!("/dashboard/api/graphs/{id}/data?range=5m")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("1h, 6h, 24h, 7d, 30d"),
        "{bad}"
    );

    let html = page(&server, &admin, "/dashboard/graphs").await;
    assert!(
        html.contains("counter") && html.contains("the function failed: the upstream is down"),
        "{html}"
    );
    assert_eq!(html.matches("data-chart=\"line\"").count(), 4);
    assert_eq!(
        html.matches("data-range=\"1h\"").count(),
        4,
        "graphs added a moment ago are shown over the last hour"
    );
    server.stop().await;
}

#[test]
fn bad_cron_expressions_say_how_to_write_one() {
    let e = Schedule::cron("*/5 * * * *").unwrap_err().to_string();
    assert!(
        e.contains("5 fields") && e.contains("sec min hour day month weekday"),
        "{e}"
    );
}
