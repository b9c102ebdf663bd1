//! Alerts through a real server: a panic in a monitored handler reaches a webhook on loopback
//! once, with a link to its group; the Alerts page and API show channels without their
//! secrets, send test alerts (administrators only), set thresholds and list the history.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use fmd::monitored;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use warp::Filter;

#[monitored]
async fn pay(n: u32) -> Result<String, warp::Rejection> {
    if n > 100 {
        panic!("card {n} declined");
    }
    Ok(format!("paid {n}"))
}

/// A webhook on loopback: every POST's JSON body, whatever the path.
async fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/services/T000/B000/SECRETHOOK",
        listener.local_addr().unwrap()
    );
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let app = axum::Router::new().fallback(move |body: bytes::Bytes| {
        let seen = seen.clone();
        async move {
            seen.lock()
                .await
                .push(serde_json::from_slice::<Value>(&body).unwrap());
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, bodies)
}

async fn kinds(bodies: &Mutex<Vec<Value>>) -> Vec<String> {
    let bodies = bodies.lock().await;
    bodies
        .iter()
        .map(|b| b["kind"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test]
async fn a_panic_alerts_once_and_the_alerts_page_and_api_work() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let (hook, bodies) = webhook().await;
    let config = config(&dir)
        .webhook_urls(vec![hook.clone()])
        .dashboard_url("https://shop.example.com/dashboard/");
    let app = warp::path!("pay" / u32).and_then(pay);
    let server = Server::start(config, app).await;
    let c = client();
    for n in [1, 2, 101, 102] {
        // A panic goes on as without fmd: warp drops the connection.
        let _ = c.get(server.url(&format!("/pay/{n}"))).send().await;
    }

    // Within 10 s of its first occurrence being stored, one alert for the one group.
    server.dashboard.flush().await.unwrap();
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    while bodies.lock().await.is_empty() && tokio::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Two more looks of the rules' loop: nothing more.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(kinds(&bodies).await, ["new_exception"]);
    let alert = bodies.lock().await[0].clone();
    assert_eq!(alert["endpoint"], "pay");
    assert_eq!(alert["type"], "panic");
    assert_eq!(alert["message"], "card 101 declined");
    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    let id = overview_row(&server, &admin, "pay").await["id"]
        .as_i64()
        .unwrap();
    let link = alert["url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!(
            "https://shop.example.com/dashboard/endpoint/{id}/exceptions#group-"
        )),
        "{link}"
    );

    // The channel is shown without its secret, to every reader.
    let (guest, guest_csrf) = login(&server, "guest", GUEST_PW).await;
    let (status, listed) = json(&guest, &server.url("/dashboard/api/alerts")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["enabled"], true);
    let channel = &listed["channels"][0];
    assert_eq!(channel["id"], "webhook-1");
    assert!(!listed.to_string().contains("SECRETHOOK"), "{listed}");
    assert_eq!(listed["rules"]["window_minutes"], 5);
    let mine = listed["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "pay")
        .unwrap()
        .clone();
    assert_eq!(mine["error_rate"]["threshold"], 10.0);
    assert_eq!(mine["error_rate"]["custom"], Value::Null);
    for path in [
        "/dashboard/api/status",
        "/dashboard/alerts",
        "/dashboard/settings",
    ] {
        let text = page(&server, &admin, path).await;
        assert!(
            !text.contains("SECRETHOOK"),
            "{path} shows the webhook's secret"
        );
    }

    // Test alerts: administrators only, one channel at a time, answered with the outcome.
    let test = |who, csrf, body| call(&server, who, csrf, Method::POST, "alerts/test", body);
    let (status, _) = test(&guest, &guest_csrf, json!({"channel": "webhook-1"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = test(&admin, &csrf, json!({"channel": "webhook-1"})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["detail"], "HTTP 200: ok");
    assert_eq!(kinds(&bodies).await, ["new_exception", "test"]);
    let (status, answer) = test(&admin, &csrf, json!({"channel": "email"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("webhook-1"));
    let (status, _) = test(&admin, &csrf, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Thresholds per endpoint.
    let path = format!("endpoints/{id}/alerts");
    let set = |who, csrf, body| call(&server, who, csrf, Method::PUT, &path, body);
    let (status, item) = set(
        &admin,
        &csrf,
        json!({"error_rate_percent": 2.5, "latency_p95_ms": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{item}");
    assert_eq!(item["error_rate"]["threshold"], 2.5);
    assert_eq!(item["latency"]["custom"], 0.0);
    let (status, item) = set(&admin, &csrf, json!({"error_rate_percent": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(item["error_rate"]["custom"], Value::Null);
    assert_eq!(item["latency"]["custom"], 0.0, "absent fields stay");
    for bad in [
        json!({"latency_p95_ms": -1}),
        json!({"error_rate_percent": "high"}),
        json!({}),
    ] {
        let (status, answer) = set(&admin, &csrf, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
    }
    let (status, _) = set(&guest, &guest_csrf, json!({"error_rate_percent": 1})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body = json!({"error_rate_percent": 1});
    let (status, _) = call(
        &server,
        &admin,
        &csrf,
        Method::PUT,
        "endpoints/999/alerts",
        body,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The history: both alerts, delivered.
    let (status, history) = json(&guest, &server.url("/dashboard/api/alerts/history")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["total"], 2);
    let alerts = history["alerts"].as_array().unwrap();
    assert_eq!(alerts[0]["kind"], "test");
    assert_eq!(alerts[1]["kind"], "new_exception");
    assert_eq!(alerts[1]["endpoint"], "pay");
    assert_eq!(alerts[1]["status"], "sent");
    assert_eq!(alerts[1]["deliveries"][0]["outcome"], "sent");
    let (status, _) = json(&guest, &server.url("/dashboard/api/alerts/history?limit=0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The page: channels with a test button for administrators, thresholds, the history.
    let page_admin = page(&server, &admin, "/dashboard/alerts").await;
    assert!(page_admin.contains("Send a test alert"));
    assert!(page_admin.contains("New exception in pay: panic"));
    assert!(page_admin.contains("Thresholds per endpoint"));
    assert!(
        page_admin.contains("tried again after 10 s, 1 minute, 5 minutes and 30 minutes"),
        "the retries as the delivery does them"
    );
    let page_guest = page(&server, &guest, "/dashboard/alerts").await;
    assert!(!page_guest.contains("Send a test alert"));
    assert!(page_guest.contains("webhook 1 (http://127.0.0.1:"));
    server.stop().await;
}

#[tokio::test]
async fn without_a_channel_the_page_says_how_to_turn_alerts_on() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let app = warp::path!("pay" / u32).and_then(pay);
    let server = Server::start(config(&dir), app).await;
    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    let text = page(&server, &admin, "/dashboard/alerts").await;
    assert!(text.contains("Alerting is off"));
    let (status, listed) = json(&admin, &server.url("/dashboard/api/alerts")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["enabled"], false);
    assert_eq!(listed["channels"], json!([]));
    let body = json!({"channel": "webhook-1"});
    let (status, answer) = call(&server, &admin, &csrf, Method::POST, "alerts/test", body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    server.stop().await;
}

#[test]
fn email_without_a_mail_server_is_a_configuration_error() {
    let error =
        fmd::Config::from_toml_str("[alerts]\nemail_to = [\"ops@example.com\"]\n", "fmd.toml")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
    assert!(error.contains("smtp_url"), "{error}");
    let error = fmd::Config::from_toml_str(
        "[alerts]\nwebhook_urls = [\"hooks.slack.com/x\"]\n",
        "fmd.toml",
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        error,
        "fmd.toml: `webhook_urls` must be a list of http:// or https:// URLs, found a list"
    );
    let error = fmd::Config::from_toml_str("[alerts]\nwindow_minute = 5\n", "fmd.toml")
        .unwrap_err()
        .to_string();
    assert!(error.contains("did you mean `window_minutes`"), "{error}");
}
