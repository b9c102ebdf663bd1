//! The JSON API's contract and the pages: every route, bad parameters, no 5xx, escaping.

mod common;

use std::convert::Infallible;

use common::*;
use fmd::monitored;
use reqwest::{Method, StatusCode};
use warp::Filter;

#[monitored]
async fn item(n: u32) -> Result<String, Infallible> {
    fmd::set_group_by(if n == 666 {
        "<script>alert(1)</script>".to_owned()
    } else {
        format!("user{n}")
    });
    Ok(format!("item {n}"))
}

fn app() -> impl Filter<Extract = (String,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    warp::path!("item" / u32).and_then(item)
}

async fn page_text(who: &reqwest::Client, url: &str) -> String {
    let r = who.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    r.text().await.unwrap()
}

async fn started() -> (tempfile::TempDir, Server, reqwest::Client, String, i64) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let c = client();
    for n in 0..30 {
        c.get(server.url(&format!("/item/{n}")))
            .send()
            .await
            .unwrap();
    }
    server.dashboard.flush().await.unwrap();
    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    let id = overview_row(&server, &admin, "item").await["id"]
        .as_i64()
        .unwrap();
    (dir, server, admin, csrf, id)
}

#[tokio::test]
async fn overview_has_every_documented_field() {
    let _serial = serial().await;
    let (_dir, server, admin, _, _) = started().await;
    let row = overview_row(&server, &admin, "item").await;
    for field in [
        "id",
        "name",
        "monitor_level",
        "hits_today",
        "hits_week",
        "hits_overall",
        "errors_today",
        "errors_week",
        "errors_overall",
        "median_today_ms",
        "median_week_ms",
        "median_overall_ms",
        "p90_today_ms",
        "p90_week_ms",
        "p90_overall_ms",
        "p99_today_ms",
        "p99_week_ms",
        "p99_overall_ms",
        "last_requested",
        "exception_groups",
        "time_week_ms",
        "hits_24h",
        "errors_24h",
    ] {
        assert!(row.get(field).is_some(), "overview lacks {field}: {row}");
    }
    for window in ["today", "week", "overall"] {
        let p = |name: &str| row[format!("{name}_{window}_ms")].as_f64().unwrap();
        assert!(
            p("median") <= p("p90") && p("p90") <= p("p99"),
            "percentiles of {window} out of order: {row}"
        );
    }
    assert_eq!(row["hits_today"], 30);
    let last_day: i64 = row["hits_24h"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_i64().unwrap())
        .sum();
    assert_eq!(
        (row["hits_24h"].as_array().unwrap().len(), last_day),
        (24, 30),
        "{row}"
    );
    assert!(row["time_week_ms"].as_f64().unwrap() > 0.0, "{row}");
    assert!(
        row["last_requested"].as_str().unwrap().ends_with('Z'),
        "RFC 3339 UTC"
    );
    server.stop().await;
}

#[tokio::test]
async fn every_chart_answers_from_what_was_recorded() {
    let _serial = serial().await;
    let (_dir, server, admin, _, id) = started().await;
    client().get(server.url("/item/31")).send().await.unwrap();
    client().get(server.url("/nothing")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    let get = |path: String| {
        let (admin, server) = (&admin, &server);
        async move {
            let (status, body) = json(admin, &server.url(&format!("/dashboard/api/{path}"))).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            body
        }
    };
    let hourly = get("charts/hourly".into()).await;
    assert_eq!(
        hourly["days"].as_array().unwrap().len(),
        7,
        "the last week by default"
    );
    assert_eq!(hourly["total"], 31, "{hourly}");
    let cell = &hourly["cells"][0];
    assert_eq!(
        (cell[1].clone(), cell[2].clone()),
        (6.into(), 31.into()),
        "today's row: {hourly}"
    );
    // The timelines: every bucket of the range, the 31 requests in the current one.
    for (path, buckets, seconds) in [
        ("charts/timeline".to_owned(), 288, 300),
        ("charts/timeline?range=1h".to_owned(), 60, 60),
        (
            format!("endpoints/{id}/charts/timeline?range=7d"),
            168,
            3600,
        ),
    ] {
        let t = get(path.clone()).await;
        let list = t["buckets"].as_array().unwrap();
        assert_eq!(
            (list.len(), t["bucket_seconds"].as_i64()),
            (buckets, Some(seconds)),
            "{path}"
        );
        assert_eq!(t["live"], true, "{path}");
        let hits: i64 = list.iter().map(|b| b["hits"].as_i64().unwrap()).sum();
        let errors: i64 = list.iter().map(|b| b["errors"].as_i64().unwrap()).sum();
        assert_eq!((hits, errors), (31, 0), "{path}: {t}");
        let last = list.last().unwrap();
        assert!(
            last["hits"].as_i64().unwrap() > 0
                || list[list.len() - 2]["hits"].as_i64().unwrap() > 0,
            "the requests are in the newest buckets: {path}"
        );
        let busy = list.iter().find(|b| b["hits"].as_i64() > Some(0)).unwrap();
        assert!(busy["p50_ms"].as_f64() <= busy["p99_ms"].as_f64(), "{busy}");
        assert_eq!(busy["error_rate"], 0.0, "{busy}");
        let quiet = &list[0];
        assert_eq!(
            (quiet["hits"].as_i64(), quiet["p95_ms"].is_null()),
            (Some(0), true),
            "{path}"
        );
    }
    let daily = get("charts/daily".into()).await;
    assert_eq!(daily["series"][0]["name"], "item");
    assert_eq!(daily["series"][0]["hits"][6], 31);
    assert!(daily["series"][0]["color"]
        .as_str()
        .unwrap()
        .starts_with('#'));
    let versions = get("charts/versions".into()).await;
    assert_eq!(
        versions["versions"],
        serde_json::json!(["9.9"]),
        "the test config's app_version"
    );
    assert_eq!(
        versions["endpoints"][0]["shares"],
        serde_json::json!([100.0])
    );
    let performance = get("charts/performance".into()).await;
    let b = &performance["endpoints"][0];
    assert_eq!(b["count"], 31);
    assert!(
        b["min_ms"].as_f64() <= b["median_ms"].as_f64()
            && b["median_ms"].as_f64() <= b["max_ms"].as_f64()
    );
    // An empty range is empty, not an error.
    let old = get("charts/daily?from=2001-01-01&to=2001-01-31".into()).await;
    assert_eq!(old["series"], serde_json::json!([]));
    assert_eq!(old["days"].as_array().unwrap().len(), 31);

    let mine = |kind: &str| get(format!("endpoints/{id}/charts/{kind}"));
    assert_eq!(mine("hourly").await["total"], 31);
    assert_eq!(mine("versions").await["versions"][0]["count"], 31);
    let users = mine("users").await;
    assert_eq!(
        users["users"].as_array().unwrap().len(),
        30,
        "the 30 busiest of 31 users"
    );
    assert_eq!(users["requests"], 31);
    let bubbles = mine("user_versions").await;
    assert_eq!(bubbles["points"].as_array().unwrap().len(), 30);
    let ips = mine("ip_versions").await;
    assert_eq!(ips["keys"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(ips["points"][0][3], 31);
    let status = mine("status").await;
    assert_eq!(
        status["codes"],
        serde_json::json!([{"status_code": 200, "count": 31}])
    );
    assert_eq!(status["errors"], serde_json::json!([]));
    server.stop().await;
}

#[tokio::test]
async fn requests_are_paginated_newest_first() {
    let _serial = serial().await;
    let (_dir, server, admin, _, id) = started().await;
    let url = |q: &str| server.url(&format!("/dashboard/api/endpoints/{id}/requests{q}"));
    let (status, all) = json(&admin, &url("")).await;
    assert_eq!(status, StatusCode::OK);
    let all = all.as_array().unwrap().clone();
    assert_eq!(all.len(), 30);
    assert_eq!(all[0]["group_by"], "user29", "newest first");
    for field in [
        "id",
        "duration_ms",
        "time_requested",
        "version",
        "group_by",
        "ip",
        "status_code",
    ] {
        assert!(all[0].get(field).is_some(), "request lacks {field}");
    }
    let (_, page) = json(&admin, &url("?offset=10&limit=5")).await;
    let page = page.as_array().unwrap();
    assert_eq!(page.len(), 5);
    assert_eq!(page[0]["id"], all[10]["id"]);
    let (_, beyond) = json(&admin, &url("?offset=1000")).await;
    assert_eq!(beyond.as_array().unwrap().len(), 0);
    // Slowest first: durations never rise down the list; a minimum drops the faster ones.
    let (_, slowest) = json(&admin, &url("?sort=slowest")).await;
    let durations: Vec<f64> = slowest
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["duration_ms"].as_f64().unwrap())
        .collect();
    assert_eq!(durations.len(), 30);
    assert!(durations.windows(2).all(|w| w[0] >= w[1]), "{durations:?}");
    let middle = durations[14];
    let (_, slow) = json(&admin, &url(&format!("?min_ms={middle}"))).await;
    let slow = slow.as_array().unwrap();
    assert!(
        slow.len() >= 15 && slow.len() < 30 || durations[29] == middle,
        "{} of 30 at least {middle} ms",
        slow.len()
    );
    assert!(slow
        .iter()
        .all(|r| r["duration_ms"].as_f64().unwrap() >= middle - 0.001));
    let (_, errors) = json(&admin, &url("?status=errors")).await;
    assert_eq!(
        errors.as_array().unwrap().len(),
        0,
        "every item answered 200"
    );
    server.stop().await;
}

#[tokio::test]
async fn downloads_stream_csv_and_json() {
    let _serial = serial().await;
    let (_dir, server, admin, _, id) = started().await;
    let get = |path: String| {
        let (admin, server) = (&admin, &server);
        async move {
            admin
                .get(server.url(&format!("/dashboard/api/endpoints/{id}/download/{path}")))
                .send()
                .await
                .unwrap()
        }
    };
    let csv = get("requests".into()).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"fmd-item-requests-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,time_requested,duration_ms,status_code,version,group_by,ip,instance"
    );
    assert_eq!(lines.len(), 31, "a header and the 30 requests: {text}");
    assert!(
        lines[1].contains(",200,9.9,user0,"),
        "oldest first: {}",
        lines[1]
    );
    let as_json = get("requests?format=json".into()).await;
    assert_eq!(as_json.headers()["content-type"], "application/json");
    let rows: serde_json::Value = as_json.json().await.unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 30);
    assert_eq!(rows[29]["group_by"], "user29");
    for (what, empty) in [
        ("outliers", "request,time_requested"),
        ("exceptions", "group_id,type"),
    ] {
        let text = get(what.into()).await.text().await.unwrap();
        assert!(
            text.starts_with(empty) && text.lines().count() == 1,
            "{what}: {text}"
        );
        let list: serde_json::Value = get(format!("{what}?format=json"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list, serde_json::json!([]), "{what}");
    }
    // Another range: nothing in it.
    let old = get("requests?from=2001-01-01&to=2001-01-02".into())
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(old.lines().count(), 1, "{old}");
    for (path, status, needle) in [
        ("requests?format=xml", 400, "format must be csv or json"),
        ("profiles", 404, "requests, outliers, exceptions"),
        ("requests?from=x", 400, "from must be a date"),
    ] {
        let r = get(path.into()).await;
        assert_eq!(r.status().as_u16(), status, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{path}: {body}"
        );
    }
    let (status, _) = json(
        &client(),
        &server.url(&format!("/dashboard/api/endpoints/{id}/download/requests")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "downloads need a login or the token"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_parameters_get_json_errors_with_4xx() {
    let _serial = serial().await;
    let (_dir, server, admin, csrf, id) = started().await;
    let api = |p: &str| server.url(&format!("/dashboard/api/{p}"));
    let gets = [
        (format!("endpoints/{id}/requests?limit=0"), 400, "limit"),
        (format!("endpoints/{id}/requests?limit=1001"), 400, "limit"),
        (format!("endpoints/{id}/requests?limit=ten"), 400, "limit"),
        (format!("endpoints/{id}/requests?offset=-1"), 400, "offset"),
        (
            format!("endpoints/{id}/requests?offset=99999999999999999999"),
            400,
            "offset",
        ),
        (
            "endpoints/abc/requests".to_owned(),
            400,
            "positive whole number",
        ),
        (
            "endpoints/0/requests".to_owned(),
            400,
            "positive whole number",
        ),
        (
            "endpoints/987654/requests".to_owned(),
            404,
            "no endpoint with id 987654",
        ),
        ("nothing/here".to_owned(), 404, "no such API route"),
        (
            "charts/hourly?from=yesterday".to_owned(),
            400,
            "from must be a date",
        ),
        (
            "charts/daily?to=2026-02-30".to_owned(),
            400,
            "to must be a date",
        ),
        (
            "charts/daily?from=2026-11-02&to=2026-11-01".to_owned(),
            400,
            "is after to",
        ),
        (
            "charts/performance?from=2020-01-01&to=2026-01-01".to_owned(),
            400,
            "at most 366",
        ),
        (
            "charts/pie".to_owned(),
            404,
            "timeline, hourly, daily, versions, performance",
        ),
        (
            "charts/hourly?range=1h".to_owned(),
            400,
            "range applies to the timeline",
        ),
        (
            "reports?current_to=null".to_owned(),
            400,
            "current_to must be a day, YYYY-MM-DD",
        ),
        (
            format!("endpoints/{id}/requests?sort=oldest"),
            400,
            "sort must be newest or slowest",
        ),
        (
            format!("endpoints/{id}/requests?status=6xx"),
            400,
            "status must be all, 2xx, 3xx, 4xx, 5xx, errors",
        ),
        (
            format!("endpoints/{id}/requests?min_ms=-1"),
            400,
            "min_ms must be a number",
        ),
        (
            "charts/timeline?range=2h".to_owned(),
            400,
            "range must be one of 1h, 6h, 24h, 7d, 30d",
        ),
        (
            format!("endpoints/{id}/charts/timeline?range=1h&to=2026-01-01"),
            400,
            "either range or from/to",
        ),
        (
            "charts/timeline?from=2020-01-01&to=2026-01-01".to_owned(),
            400,
            "at most 366",
        ),
        (
            "endpoints/987654/charts/timeline".to_owned(),
            404,
            "no endpoint",
        ),
        (format!("endpoints/{id}/charts/pie"), 404, "user_versions"),
        (
            "endpoints/987654/charts/users".to_owned(),
            404,
            "no endpoint",
        ),
        (
            format!("endpoints/{id}/charts/status?instance=x"),
            400,
            "instance",
        ),
    ];
    for (path, status, needle) in gets {
        let (got, body) = json(&admin, &api(&path)).await;
        assert_eq!(got.as_u16(), status, "GET {path}: {body}");
        assert!(
            body["error"].as_str().unwrap_or("").contains(needle),
            "GET {path}: {body}"
        );
    }
    let level = api(&format!("endpoints/{id}/level"));
    let puts: [(&str, &[u8], u16); 5] = [
        (&level, b"not json", 400),
        (&level, b"{\"level\": 7}", 400),
        (&level, b"{\"level\": -1}", 400),
        (&level, b"{\"lvl\": 1}", 400),
        (
            "/dashboard/api/endpoints/987654/level",
            b"{\"level\": 1}",
            404,
        ),
    ];
    for (url, body, status) in puts {
        let url = if url.starts_with('/') {
            server.url(url)
        } else {
            url.to_owned()
        };
        let r = admin
            .put(&url)
            .header("x-csrf-token", &csrf)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            status,
            "PUT {url} {:?}",
            String::from_utf8_lossy(body)
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["error"].is_string());
    }
    let r = admin.post(api("overview")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "GET", "the route table's methods");
    assert!(r.json::<serde_json::Value>().await.unwrap()["error"].is_string());
    let r = admin.get(api("users")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = admin.delete(api("users")).send().await.unwrap();
    assert_eq!(r.headers()["allow"], "GET, POST");
    let r = admin
        .get(server.url("/dashboard/overview/more"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "no page has that path");
    let r = admin
        .post(server.url("/dashboard/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("does not accept that method"));
    let r = admin
        .request(Method::PATCH, api("overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let huge = vec![b'x'; 200 * 1024];
    let r = admin
        .put(&level)
        .header("x-csrf-token", &csrf)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    server.stop().await;
}

#[tokio::test]
async fn oversized_requests_get_json_and_the_connection_stays_open() {
    let _serial = serial().await;
    let (_dir, server, _, _, _) = started().await;
    oversized_requests_get_json_and_keep_the_connection(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn no_request_under_the_dashboard_gets_a_server_error() {
    let _serial = serial().await;
    let (_dir, server, admin, csrf, id) = started().await;
    let paths = [
        "",
        "/",
        "/overview",
        "/overview/",
        "/endpoint/",
        "/endpoint/x",
        "/endpoint/-1",
        "/endpoint/99999999999999999999999",
        "/endpoint/1?page=-5",
        "/endpoint/1?page=abc",
        "/endpoint/1?page=99999999999999",
        "/endpoint/1/requests?page=-5",
        "/endpoint/1/requests?page=99999999999999",
        "/endpoint/x/requests",
        "/overview?range=%ZZ",
        "/api/charts/timeline?range=2h",
        "/api/charts/timeline?range=1h&from=2026-01-01",
        "/api/endpoints/1/charts/timeline?from=x",
        "/api/endpoints/1/download/requests?format=%ZZ",
        "/api/endpoints/x/download/requests",
        "/api/endpoints/1/download/",
        "/static/",
        "/static/../../etc/passwd",
        "/static/nope.js",
        "/login?next=%ZZ",
        "/api",
        "/api/",
        "/api/overview?x=%ZZ",
        "/api/endpoints",
        "/api/endpoints//requests",
        "/api/endpoints/1/requests?limit=%00",
        "/api/endpoints/%F0%9F%98%80/level",
        "/%FF%FE",
        "/api/../overview",
        "/charts?from=%ZZ",
        "/charts?from=2026-13-01",
        "/endpoint/1/charts?to=x",
        "/endpoint/x/charts",
        "/api/charts",
        "/api/charts/hourly/x",
        "/api/endpoints/1/charts",
        "/api/endpoints/1/charts/status?from=99999-01-01",
    ];
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
    ];
    for path in paths {
        for method in &methods {
            for who in [&admin, &client()] {
                let r = who
                    .request(method.clone(), server.url(&format!("/dashboard{path}")))
                    .header("x-csrf-token", &csrf)
                    .body("{\"level\": 2}")
                    .send()
                    .await
                    .unwrap();
                assert!(
                    r.status().as_u16() < 500,
                    "{method} /dashboard{path} answered {}",
                    r.status()
                );
            }
        }
    }
    let _ = id;
    server.stop().await;
}

#[tokio::test]
async fn pages_render_with_data_and_escape_recorded_values() {
    let _serial = serial().await;
    let (_dir, server, admin, _, id) = started().await;
    client().get(server.url("/item/666")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    let overview = admin
        .get(server.url("/dashboard/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), StatusCode::OK);
    assert_eq!(
        overview.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let html = overview.text().await.unwrap();
    assert!(
        html.contains(&format!("href=\"/dashboard/endpoint/{id}\">item</a>")),
        "{html}"
    );
    assert!(html.contains("data-value=\"31\""), "31 hits shown");
    let page = admin
        .get(server.url(&format!("/dashboard/endpoint/{id}/requests")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "group_by is escaped"
    );
    assert!(
        !html.contains("<script>alert(1)"),
        "no raw script from recorded data"
    );
    assert!(html.contains("page 1 of 2"), "31 requests at 25 a page");
    // Narrowed and reordered: the slowest first, a status class, a minimum duration; the
    // pager keeps the view.
    let view = page_text(
        &admin,
        &server.url(&format!(
            "/dashboard/endpoint/{id}/requests?sort=slowest&status=2xx&min_ms=0"
        )),
    )
    .await;
    assert!(view.contains("slowest first · 31 shown"), "{view}");
    assert!(
        view.contains("page=2&sort=slowest&min_ms=0&status=2xx"),
        "{view}"
    );
    let none = page_text(
        &admin,
        &server.url(&format!("/dashboard/endpoint/{id}/requests?status=5xx")),
    )
    .await;
    assert!(none.contains("No request matches"), "{none}");
    let bad = page_text(
        &admin,
        &server.url(&format!("/dashboard/endpoint/{id}/requests?min_ms=fast")),
    )
    .await;
    assert!(
        bad.contains("min_ms must be a number of milliseconds"),
        "{bad}"
    );
    let landing = admin
        .get(server.url(&format!("/dashboard/endpoint/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(landing.status(), StatusCode::OK);
    let html = landing.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "data-api=\"endpoints/{id}/charts/timeline\" data-range=\"1h\""
        )),
        "the first tab is the endpoint's timeline, of the last hour while it is new"
    );
    assert!(
        html.contains(&format!("<select class=\"level\" data-endpoint=\"{id}\"")),
        "the administrator changes the level on the endpoint's page"
    );
    assert!(
        !html.contains("delete-data"),
        "deleting data is in Settings, not here"
    );
    let second = admin
        .get(server.url(&format!("/dashboard/endpoint/{id}/requests?page=2")))
        .send()
        .await
        .unwrap();
    let html = second.text().await.unwrap();
    assert!(html.contains("page 2 of 2"));
    assert_eq!(
        html.matches("<td class=\"num\"><span class=\"status")
            .count(),
        6,
        "the 6 oldest requests"
    );
    let missing = admin
        .get(server.url("/dashboard/endpoint/987654"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    for asset in ["fmd.css", "fmd.js", "favicon.svg"] {
        let r = client()
            .get(server.url(&format!("/dashboard/static/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_custom_link_moves_everything() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir).custom_link("monitor"), app()).await;
    let c = client();
    let r = c
        .post(server.url("/monitor/login"))
        .form(&[("username", "admin"), ("password", ADMIN_PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/monitor/overview");
    let html = c
        .get(server.url("/monitor/overview"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("href=\"/monitor/static/fmd.css\""));
    assert!(
        !html.contains("/dashboard/"),
        "no link to the default prefix"
    );
    // The old prefix belongs to the app now.
    assert_eq!(
        c.get(server.url("/dashboard/overview"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

/// A second process writing to the same database: the API lists both instances and filters by
/// either, and the pages show the instance select and column.
#[tokio::test]
async fn instances_are_listed_and_filter_the_api_and_pages() {
    let _serial = serial().await;
    let (dir, server, admin, _, id) = started().await;
    // "web-2" is another process: its own store and sink on the same file.
    let url = format!("sqlite://{}", dir.path().join("fmd.db").display());
    let store = fmd_store::Store::open(&url, "fmd_").unwrap();
    let endpoint: &'static fmd_core::Endpoint = fmd_core::registry::endpoints()
        .find(|e| e.meta.name == "item")
        .unwrap();
    let mut sink = store
        .sink(
            "2.0",
            "web-2",
            &[(endpoint, id, 1)],
            1,
            std::time::Duration::from_secs(1),
        )
        .unwrap();
    let record = |t| fmd_core::RequestRecord {
        endpoint,
        time_requested: fmd_core::now_micros() + t,
        duration_us: 5_000,
        status_code: 503,
        ip: None,
        group_by: None,
        detail: None,
    };
    fmd_core::Sink::write(&mut sink, &[record(0), record(1)], &[]).unwrap();

    let (status, instances) = json(&admin, &server.url("/dashboard/api/instances")).await;
    assert_eq!(status, StatusCode::OK);
    let instances = instances.as_array().unwrap().clone();
    assert_eq!(instances.len(), 2, "{instances:?}");
    let web2 = instances.iter().find(|i| i["name"] == "web-2").unwrap();
    assert_eq!(web2["version"], "2.0");
    let this = instances.iter().find(|i| i["name"] != "web-2").unwrap();
    let (web2_id, this_id) = (web2["id"].as_i64().unwrap(), this["id"].as_i64().unwrap());

    let overview = |instance: Option<i64>| {
        let url = match instance {
            Some(i) => server.url(&format!("/dashboard/api/overview?instance={i}")),
            None => server.url("/dashboard/api/overview"),
        };
        let admin = admin.clone();
        async move {
            let (_, rows) = json(&admin, &url).await;
            let row = rows
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == "item")
                .cloned();
            let row = row.unwrap();
            (
                row["hits_overall"].as_i64().unwrap(),
                row["errors_overall"].as_i64().unwrap(),
            )
        }
    };
    assert_eq!(overview(None).await, (32, 2));
    assert_eq!(overview(Some(this_id)).await, (30, 0));
    assert_eq!(overview(Some(web2_id)).await, (2, 2));
    let (_, rows) = json(
        &admin,
        &server.url(&format!(
            "/dashboard/api/endpoints/{id}/requests?instance={web2_id}"
        )),
    )
    .await;
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["instance"], "web-2");
    for bad in ["0", "x", "99999"] {
        let (status, body) = json(
            &admin,
            &server.url(&format!("/dashboard/api/overview?instance={bad}")),
        )
        .await;
        assert!(status.is_client_error(), "instance={bad}: {status}");
        assert!(
            body["error"].as_str().unwrap().contains("instance"),
            "{body}"
        );
    }

    let overview_page = page(
        &server,
        &admin,
        &format!("/dashboard/overview?instance={web2_id}"),
    )
    .await;
    assert!(
        overview_page.contains(r#"<select name="instance""#),
        "the instance select renders"
    );
    assert!(
        overview_page.contains(&format!(r#"<option value="{web2_id}" selected>"#)),
        "web-2 is chosen"
    );
    assert!(
        overview_page.contains(&format!("/dashboard/endpoint/{id}?instance={web2_id}")),
        "links keep the filter"
    );
    let endpoint_page = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{id}/requests?instance={web2_id}"),
    )
    .await;
    assert!(endpoint_page.contains("<th>Instance</th>"));
    assert!(
        endpoint_page.contains("2 in all"),
        "only web-2's requests are counted"
    );
    server.stop().await;
}
