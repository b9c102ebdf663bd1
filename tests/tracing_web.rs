//! `fmd::tracing_layer()` through a real server: `tracing` spans on the Profiler tab and in
//! the API, warnings and errors with the exception of the request that logged them, on the
//! endpoint's Exceptions tab and in the API.

mod common;

use common::*;
use reqwest::StatusCode;
use tracing_subscriber::layer::SubscriberExt;
use warp::Filter;

#[tracing::instrument]
async fn load_cart(id: u32) -> Result<u32, std::io::Error> {
    tokio::task::yield_now().await;
    tracing::warn!(cart = id, secret_key = "s3cr3t", "cart cache <missed>");
    if id == 0 {
        tracing::error!("cart store refused");
        return Err(std::io::Error::other("cart store down"));
    }
    Ok(id * 2)
}

#[fmd::monitored]
async fn checkout(id: u32) -> Result<String, std::convert::Infallible> {
    match load_cart(id).await {
        Ok(total) => Ok(format!("total {total}")),
        Err(e) => {
            fmd::capture!(e);
            Ok("try again later".into())
        }
    }
}

#[tokio::test]
async fn spans_and_events_reach_the_pages_and_the_api() {
    let _serial = serial().await;
    let subscriber = tracing_subscriber::registry().with(fmd::tracing_layer());
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    let dir = tempfile::tempdir().unwrap();
    let app = warp::path!("checkout" / u32).and_then(checkout);
    let server = Server::start(config(&dir).monitor_level(3), app).await;
    let c = client();
    for id in [4, 0] {
        let r = c
            .get(server.url(&format!("/checkout/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    server.dashboard.flush().await.unwrap();

    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let id = overview_row(&server, &admin, "checkout").await["id"]
        .as_i64()
        .unwrap();
    let api = |p: &str| server.url(&format!("/dashboard/api/endpoints/{id}/{p}"));

    // Both requests profiled, each with its `tracing` span.
    let (status, profiles) = json(&admin, &api("profiler")).await;
    assert_eq!(status, StatusCode::OK, "{profiles}");
    let profiles = profiles.as_array().unwrap();
    assert_eq!(profiles.len(), 2, "{profiles:?}");
    for p in profiles {
        let spans = p["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 1, "{p}");
        assert!(
            spans[0]["function"]
                .as_str()
                .unwrap()
                .ends_with("::load_cart"),
            "{p}"
        );
    }

    // The failed request's exception carries what it logged; the good one kept nothing.
    let (status, groups) = json(&admin, &api("exceptions")).await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    let group = &groups[0];
    let events = group["events"].as_array().expect("events of the group");
    let shown: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["level"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            ("WARN", "cart cache <missed>"),
            ("ERROR", "cart store refused")
        ]
    );
    assert_eq!(
        events[0]["fields"],
        serde_json::json!([["cart", "0"], ["secret_key", "[scrubbed]"]])
    );
    assert_eq!(events[0]["request"], group["last_request"]);

    let tab = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/exceptions"),
    )
    .await;
    assert!(tab.contains("cart cache &lt;missed&gt;"), "escaped text");
    assert!(tab.contains("cart store refused"));
    assert!(!tab.contains("s3cr3t"));
    let profiler = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/profiler"),
    )
    .await;
    assert!(profiler.contains("load_cart"));
    server.stop().await;
}
