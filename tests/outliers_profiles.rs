//! Levels 2 and 3 through a real server: outliers with scrubbed headers and the stack where
//! they were stuck, profiled requests, the grouped profiler, function sources, the pages, bad
//! parameters, and level changes taking effect for the next request.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use common::*;
use fmd::{monitored, profiled};
use reqwest::StatusCode;
use warp::Filter;

#[profiled]
async fn inner_step(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[profiled]
async fn outer_step(ms: u64) {
    inner_step(ms).await;
    fmd::span!("finish", { std::hint::black_box(ms) });
}

#[monitored]
async fn work(ms: u64) -> Result<String, Infallible> {
    outer_step(ms).await;
    Ok(format!("worked {ms} ms"))
}

fn app() -> impl Filter<Extract = (String,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    warp::path!("work" / u64).and_then(work)
}

async fn get(server: &Server, ms: u64, headers: &[(&str, &str)]) {
    let mut request = client().get(server.url(&format!("/work/{ms}?note=x")));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    assert_eq!(request.send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outliers_profiles_and_their_pages() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir)
        .outlier_min_samples(5)
        .scrub_headers(vec!["X-Api-Key".into()]);
    let server = Server::start(config, app()).await;
    server.dashboard.set_level("work", 3).await.unwrap();
    for _ in 0..8 {
        get(&server, 5, &[]).await;
    }
    // The writer keeps the running mean: let it see the fast requests first.
    server.dashboard.flush().await.unwrap();
    get(
        &server,
        300,
        &[
            ("authorization", "Bearer secret"),
            ("cookie", "session=secret"),
            ("x-api-key", "secret"),
            ("x-trace", "visible"),
        ],
    )
    .await;
    server.dashboard.flush().await.unwrap();

    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    let id = overview_row(&server, &admin, "work").await["id"]
        .as_i64()
        .unwrap();
    let api = |p: &str| server.url(&format!("/dashboard/api/{p}"));

    let (status, outliers) = json(&admin, &api(&format!("endpoints/{id}/outliers"))).await;
    assert_eq!(status, StatusCode::OK, "{outliers}");
    let slow = outliers
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["url"] == "/work/300?note=x")
        .unwrap_or_else(|| panic!("the slow request is an outlier: {outliers}"));
    assert_eq!(slow["method"], "GET");
    assert!(slow["duration_ms"].as_f64().unwrap() >= 300.0);
    let headers: Vec<(String, String)> = serde_json::from_value(slow["headers"].clone()).unwrap();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("authorization"), Some("[scrubbed]"));
    assert_eq!(header("cookie"), Some("[scrubbed]"));
    assert_eq!(header("x-api-key"), Some("[scrubbed]"));
    assert_eq!(header("x-trace"), Some("visible"));
    assert!(!outliers.to_string().contains("secret"));
    let stack: Vec<&str> = slow["stack"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    assert_eq!(
        stack,
        [
            "outliers_profiles::outer_step",
            "outliers_profiles::inner_step"
        ],
        "caught inside the nested call"
    );
    assert!(!slow["cpu_percent"].as_array().unwrap().is_empty());
    assert!(slow["memory_bytes"].as_i64().unwrap() > 0);

    let (status, profiles) =
        json(&admin, &api(&format!("endpoints/{id}/profiler?limit=100"))).await;
    assert_eq!(status, StatusCode::OK, "{profiles}");
    let profiles = profiles.as_array().unwrap();
    assert_eq!(profiles.len(), 9, "every request at level 3 is profiled");
    let newest = &profiles[0];
    let spans: Vec<(&str, i64)> = newest["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["function"].as_str().unwrap(),
                s["depth"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            ("outliers_profiles::outer_step", 0),
            ("outliers_profiles::inner_step", 1),
            ("outliers_profiles::finish", 1)
        ]
    );
    let share = newest["spans"][0]["share"].as_f64().unwrap();
    assert!(share > 0.9 && share <= 1.0, "{share}");

    let (status, grouped) = json(&admin, &api(&format!("endpoints/{id}/grouped_profiler"))).await;
    assert_eq!(status, StatusCode::OK, "{grouped}");
    let rows = grouped.as_array().unwrap();
    assert_eq!(rows[0]["path"], serde_json::json!(["work"]));
    assert_eq!(rows[0]["hits"], 9);
    let inner = rows
        .iter()
        .find(|r| r["function"] == "outliers_profiles::inner_step")
        .unwrap();
    assert_eq!(
        (inner["hits"].as_i64(), inner["depth"].as_i64()),
        (Some(9), Some(2))
    );

    let function_id = slow["stack"][1]["function_id"].as_i64().unwrap();
    let (status, source) = json(&admin, &api(&format!("functions/{function_id}/source"))).await;
    assert_eq!(status, StatusCode::OK, "{source}");
    assert!(source["code"]
        .as_str()
        .unwrap()
        .contains("async fn inner_step"));
    assert_eq!(source["file"], "tests/outliers_profiles.rs");

    // Bad parameters are 4xx with a message.
    for (path, want) in [
        (format!("endpoints/{id}/outliers?limit=0"), 400),
        (format!("endpoints/{id}/profiler?offset=-2"), 400),
        ("endpoints/x/grouped_profiler".to_owned(), 400),
        ("endpoints/987654/outliers".to_owned(), 404),
        ("endpoints/987654/grouped_profiler".to_owned(), 404),
        ("functions/0/source".to_owned(), 400),
        ("functions/abc/source".to_owned(), 400),
        ("functions/987654/source".to_owned(), 404),
    ] {
        let (status, body) = json(&admin, &api(&path)).await;
        assert_eq!(status.as_u16(), want, "GET {path}: {body}");
        assert!(body["error"].is_string(), "GET {path}: {body}");
    }
    let r = admin
        .post(api(&format!("endpoints/{id}/profiler")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);

    // The pages, for a guest too; recorded header values are escaped and secrets absent.
    let (guest, _) = login(&server, "guest", GUEST_PW).await;
    for who in [&admin, &guest] {
        let html = page(&server, who, &format!("/dashboard/endpoint/{id}/outliers")).await;
        assert!(
            // Handlebars escapes `=` too.
            html.contains("GET /work/300?note&#x3D;x") && html.contains("x-trace"),
            "{html}"
        );
        assert!(html.contains("outliers_profiles::inner_step"));
        assert!(!html.contains("secret"));
        let html = page(&server, who, &format!("/dashboard/endpoint/{id}/profiler")).await;
        assert!(html.contains("9 in all") && html.contains("outliers_profiles::finish"));
        let html = page(
            &server,
            who,
            &format!("/dashboard/endpoint/{id}/grouped-profiler"),
        )
        .await;
        assert!(html.contains("id=\"sunburst\"") && html.contains("outliers_profiles::outer_step"));
    }

    // The Requests tab links each request to its outlier and profile; each link shows that one.
    let html = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/requests"),
    )
    .await;
    let outlier_links: Vec<&str> = html
        .split(&format!("/dashboard/endpoint/{id}/outliers?request="))
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(
        outlier_links.len(),
        outliers.as_array().unwrap().len(),
        "every outlier: {html}"
    );
    let slow_link = slow["request"].to_string();
    assert!(
        outlier_links.contains(&slow_link.as_str()),
        "{slow_link}: {outlier_links:?}"
    );
    assert_eq!(
        html.matches(&format!("/dashboard/endpoint/{id}/profiler?request="))
            .count(),
        9,
        "every profiled request"
    );
    let one = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/outliers?request={slow_link}"),
    )
    .await;
    assert!(
        one.contains("The outlier of request") && one.contains("GET /work/300"),
        "{one}"
    );
    let profile_link = html
        .split(&format!("/dashboard/endpoint/{id}/profiler?request="))
        .nth(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .unwrap();
    let one = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/profiler?request={profile_link}"),
    )
    .await;
    assert!(
        one.contains("1 in all") && one.contains("The profile of request"),
        "{one}"
    );
    let none = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/outliers?request=987654"),
    )
    .await;
    assert!(none.contains("No outliers"), "{none}");
    // The Profiler tab sorts and filters as the Requests tab does.
    let slowest = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/profiler?sort=slowest&min_ms=250"),
    )
    .await;
    assert!(slowest.contains("slowest first · 1 shown"), "{slowest}");
    let errors = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/profiler?status=5xx"),
    )
    .await;
    assert!(errors.contains("None matches the view"), "{errors}");
    let all = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/profiler?sort=slowest"),
    )
    .await;
    let first = all.find(" ms</strong>").unwrap();
    let first_ms: f64 = all[..first]
        .rsplit("<strong>")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(first_ms >= 300.0, "the slowest profile first: {first_ms}");

    // Level 1 from the next request: no more profiles.
    set_level(&server, &admin, &csrf, "work", 1).await;
    get(&server, 5, &[]).await;
    server.dashboard.flush().await.unwrap();
    let (_, profiles) = json(&admin, &api(&format!("endpoints/{id}/profiler?limit=100"))).await;
    assert_eq!(profiles.as_array().unwrap().len(), 9);
    assert_eq!(requests_of(&server, &admin, "work").await.len(), 10);
    server.stop().await;
}

#[tokio::test]
async fn empty_tabs_explain_the_levels() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    server.dashboard.set_level("work", 1).await.unwrap();
    get(&server, 1, &[]).await;
    server.dashboard.flush().await.unwrap();
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let id = overview_row(&server, &admin, "work").await["id"]
        .as_i64()
        .unwrap();
    let html = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/outliers"),
    )
    .await;
    assert!(
        html.contains("Outliers are recorded at level 2 and 3"),
        "{html}"
    );
    let html = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/profiler"),
    )
    .await;
    assert!(html.contains("No profiled requests"), "{html}");
    let html = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/grouped-profiler"),
    )
    .await;
    assert!(html.contains("Nothing to merge yet"), "{html}");
    let r = admin
        .get(server.url("/dashboard/endpoint/987654/profiler"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(server.dashboard.set_level("work", 4).await.is_err());
    assert!(server
        .dashboard
        .set_level("no such endpoint", 1)
        .await
        .is_err());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_urls_and_headers_are_scrubbed_by_default() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir).outlier_min_samples(5), app()).await;
    server.dashboard.set_level("work", 3).await.unwrap();
    for _ in 0..8 {
        get(&server, 5, &[]).await;
    }
    server.dashboard.flush().await.unwrap();
    let secret_query = "q=shoes&api_key=hunter2&Password=hunter2&access%5Ftoken=hunter2&page=2";
    let r = client()
        .get(server.url(&format!("/work/300?{secret_query}")))
        .header("x-api-key", "hunter2")
        .header("x-auth-token", "hunter2")
        .header("x-session-id", "hunter2")
        .header("x-client-secret", "hunter2")
        .header("x-trace", "visible")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    server.dashboard.flush().await.unwrap();

    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let id = overview_row(&server, &admin, "work").await["id"]
        .as_i64()
        .unwrap();
    let (_, outliers) = json(
        &admin,
        &server.url(&format!("/dashboard/api/endpoints/{id}/outliers")),
    )
    .await;
    let slow = outliers
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["url"].as_str().unwrap().starts_with("/work/300"))
        .unwrap_or_else(|| panic!("the slow request is an outlier: {outliers}"));
    assert_eq!(
        slow["url"],
        "/work/300?q=shoes&api_key=[scrubbed]&Password=[scrubbed]&access%5Ftoken=[scrubbed]&page=2"
    );
    let headers: Vec<(String, String)> = serde_json::from_value(slow["headers"].clone()).unwrap();
    for (name, value) in &headers {
        let expected = if name.starts_with("x-") && name != "x-trace" {
            "[scrubbed]"
        } else {
            value.as_str()
        };
        assert_eq!(value, expected, "{name}");
    }
    assert!(headers
        .iter()
        .any(|(k, v)| k == "x-trace" && v == "visible"));
    assert!(!outliers.to_string().contains("hunter2"), "{outliers}");
    server.stop().await;
}
