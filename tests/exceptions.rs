//! Exceptions through a real server: `capture!` of every accepted type, panics (with the hook
//! installed before fmd still running), the groups and their frames in the API, deletion, bad
//! parameters, and nothing recorded at level 0.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use fmd::{monitored, profiled};
use reqwest::StatusCode;
use warp::Filter;

#[derive(Debug)]
struct NotFound(u32);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "user {} not found", self.0)
    }
}

impl std::error::Error for NotFound {}

#[profiled]
fn find(id: u32) -> Result<String, NotFound> {
    if id >= 100 {
        return Err(NotFound(id));
    }
    Ok(format!("user {id}"))
}

#[monitored]
async fn lookup(id: u32) -> Result<String, warp::Rejection> {
    match find(id) {
        Ok(user) => Ok(user),
        Err(e) => {
            fmd::capture!(e);
            Err(warp::reject::not_found())
        }
    }
}

/// Every kind of value `capture!` accepts, in one request.
#[monitored]
async fn kinds() -> Result<String, std::convert::Infallible> {
    let io = std::io::Error::other("disk on fire");
    fmd::capture!(&io);
    let dynamic: &dyn std::error::Error = &io;
    fmd::capture!(dynamic);
    let boxed: Box<dyn std::error::Error + Send + Sync> = "x".parse::<u8>().unwrap_err().into();
    fmd::capture!(boxed);
    let any = anyhow::anyhow!("wrapped").context("while loading");
    fmd::capture!(any);
    fmd::capture!(io);
    Ok("five".into())
}

/// An error whose message is markup: the pages must show it as text.
#[monitored]
async fn hostile() -> Result<String, std::convert::Infallible> {
    fmd::capture!(std::io::Error::other("<script>alert(1)</script>"));
    Ok("hostile".into())
}

#[derive(Debug)]
struct Unavailable;
impl warp::reject::Reject for Unavailable {}

/// A custom rejection, which warp answers with 500: an exception.
#[monitored]
async fn rejected() -> Result<String, warp::Rejection> {
    Err(warp::reject::custom(Unavailable))
}

/// A 500 the handler chose, with no error behind it: not an exception.
#[monitored]
async fn deliberate() -> Result<warp::reply::WithStatus<String>, std::convert::Infallible> {
    Ok(warp::reply::with_status(
        "maintenance".into(),
        warp::http::StatusCode::INTERNAL_SERVER_ERROR,
    ))
}

#[monitored]
async fn crash() -> Result<String, std::convert::Infallible> {
    panic!("boom for order {}", 7)
}

fn app() -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection>
       + Clone
       + Send
       + Sync
       + 'static {
    use warp::Reply;
    let lookup = warp::path!("users" / u32).and_then(lookup);
    let kinds = warp::path!("kinds").and_then(kinds);
    let crash = warp::path!("crash").and_then(crash);
    let hostile = warp::path!("hostile").and_then(hostile);
    let rejected = warp::path!("rejected").and_then(rejected);
    let texts = lookup
        .or(kinds)
        .unify()
        .or(crash)
        .unify()
        .or(hostile)
        .unify()
        .or(rejected)
        .unify()
        .map(|s: String| s.into_response());
    let deliberate = warp::path!("deliberate")
        .and_then(deliberate)
        .map(|r: warp::reply::WithStatus<String>| r.into_response());
    texts.or(deliberate).unify()
}

static EARLIER_HOOK: AtomicUsize = AtomicUsize::new(0);

#[tokio::test]
async fn captured_errors_and_panics_are_grouped_with_their_frames() {
    let _serial = serial().await;
    // A hook installed before fmd's: it still runs for every panic.
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        EARLIER_HOOK.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let c = client();
    for id in [1, 100, 101, 250] {
        let _ = c
            .get(server.url(&format!("/users/{id}")))
            .send()
            .await
            .unwrap();
    }
    let r = c.get(server.url("/kinds")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.get(server.url("/hostile")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.get(server.url("/rejected")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let r = c.get(server.url("/deliberate")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let before = EARLIER_HOOK.load(Ordering::SeqCst);
    assert!(
        c.get(server.url("/crash")).send().await.is_err(),
        "the panic closes the connection"
    );
    assert!(
        EARLIER_HOOK.load(Ordering::SeqCst) > before,
        "the earlier hook ran"
    );
    server.dashboard.flush().await.unwrap();

    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    let api = |p: &str| server.url(&format!("/dashboard/api/{p}"));
    let (status, all) = json(&admin, &api("exceptions")).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let all = all.as_array().unwrap();

    let panic = all
        .iter()
        .find(|g| g["type"] == "panic")
        .expect("the panic is a group");
    assert_eq!(panic["message"], "boom for order 7");
    assert_eq!(panic["user_captured"], false);
    assert_eq!(panic["endpoint"], "crash");

    // A 5xx rejection is an exception of its endpoint; a 5xx reply the handler chose is not.
    let rejection = all
        .iter()
        .find(|g| g["endpoint"] == "rejected")
        .expect("the rejection is a group");
    assert_eq!(rejection["type"], "rejection");
    assert!(
        rejection["message"]
            .as_str()
            .unwrap()
            .contains("Unavailable"),
        "{rejection}"
    );
    assert_eq!(rejection["user_captured"], false);
    assert!(all.iter().all(|g| g["endpoint"] != "deliberate"));
    // The 404 rejections of /users/{id} are no exceptions either.
    assert_eq!(all.iter().filter(|g| g["endpoint"] == "lookup").count(), 1);

    // Three ids, one group: the ids are volatile parts of the message.
    let missing = all
        .iter()
        .find(|g| g["endpoint"] == "lookup")
        .expect("the captured error is a group");
    assert_eq!(missing["count"], 3);
    assert_eq!(missing["user_captured"], true);
    assert!(missing["type"].as_str().unwrap().ends_with("NotFound"));

    // Five captures in one request, each its own group (different sites and types).
    let kinds: Vec<&serde_json::Value> = all.iter().filter(|g| g["endpoint"] == "kinds").collect();
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    let messages: Vec<&str> = kinds
        .iter()
        .map(|g| g["message"].as_str().unwrap())
        .collect();
    assert!(messages.contains(&"disk on fire"));
    assert!(
        messages.iter().any(|m| m.starts_with("while loading")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("Caused by:") && m.contains("wrapped")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("invalid digit")),
        "{messages:?}"
    );

    // One endpoint's groups with messages and frames.
    let lookup_id = overview_row(&server, &admin, "lookup").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        overview_row(&server, &admin, "lookup").await["exception_groups"],
        1
    );
    let (status, groups) = json(&admin, &api(&format!("endpoints/{lookup_id}/exceptions"))).await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    let group = &groups[0];
    let messages: Vec<(&str, i64)> = group["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["message"].as_str().unwrap(), m["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        messages.len(),
        3,
        "every distinct message kept: {messages:?}"
    );
    let frames = group["frames"].as_array().unwrap();
    let app_frames: Vec<&serde_json::Value> =
        frames.iter().filter(|f| f["library"] == false).collect();
    let top = app_frames[0];
    assert!(
        top["function"].as_str().unwrap().contains("lookup"),
        "{top}"
    );
    assert_eq!(top["relative_file"], "tests/exceptions.rs");
    assert!(top["file"].as_str().unwrap().starts_with('/'));
    assert!(top["line"].as_i64().unwrap() > top["function_start_line"].as_i64().unwrap());
    assert!(
        frames.iter().any(|f| f["library"] == true),
        "runtime frames are library frames"
    );
    let start = top["function_start_line"].as_i64().unwrap();
    assert!(
        !app_frames.iter().any(|f| f["function"]
            .as_str()
            .unwrap()
            .contains("lookup::{{closure}}")
            && f["line"].as_i64().unwrap() < start),
        "the attribute's generated code is folded with the library frames: {app_frames:?}"
    );
    let function_id = top["function_id"].as_i64().unwrap();
    let (status, source) = json(&admin, &api(&format!("functions/{function_id}/source"))).await;
    assert_eq!(status, StatusCode::OK, "{source}");
    assert!(source["code"]
        .as_str()
        .unwrap()
        .contains("fmd::capture!(e)"));

    // The pages: every group on the Exceptions page, an endpoint's groups with their frames;
    // recorded text is escaped.
    let html = page(&server, &admin, "/dashboard/exceptions").await;
    assert!(
        html.contains("user 250 not found") || html.contains("user 101 not found"),
        "{html}"
    );
    assert!(html.contains("boom for order 7") && html.contains("<svg class=\"spark\""));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert"));
    let html = page(
        &server,
        &admin,
        &format!("/dashboard/endpoint/{lookup_id}/exceptions"),
    )
    .await;
    assert!(html.contains("user 100 not found") && html.contains("user 250 not found"));
    assert!(
        html.contains("tests/exceptions.rs:") && html.contains("show-source"),
        "{html}"
    );
    assert!(html.contains("library frame"), "library frames are folded");
    assert!(html.contains("delete-group"), "the admin can delete");
    let (guest, guest_csrf) = login(&server, "guest", GUEST_PW).await;
    let html = page(
        &server,
        &guest,
        &format!("/dashboard/endpoint/{lookup_id}/exceptions"),
    )
    .await;
    assert!(
        html.contains("show-source") && !html.contains("delete-group"),
        "a guest cannot"
    );

    // Bad parameters and permissions.
    for (path, want) in [
        ("exceptions?limit=0".to_owned(), 400),
        ("endpoints/x/exceptions".to_owned(), 400),
        ("endpoints/987654/exceptions".to_owned(), 404),
    ] {
        let (status, body) = json(&admin, &api(&path)).await;
        assert_eq!(status.as_u16(), want, "GET {path}: {body}");
        assert!(body["error"].is_string());
    }
    let group_id = missing["group_id"].as_i64().unwrap();
    let deletes = [
        (
            &guest,
            guest_csrf.as_str(),
            format!("exceptions/{group_id}"),
            403,
        ),
        (&admin, "wrong", format!("exceptions/{group_id}"), 403),
        (&admin, csrf.as_str(), "exceptions/abc".to_owned(), 400),
        (&admin, csrf.as_str(), "exceptions/987654".to_owned(), 404),
        (&admin, csrf.as_str(), format!("exceptions/{group_id}"), 200),
        (&admin, csrf.as_str(), format!("exceptions/{group_id}"), 404),
    ];
    for (who, token, path, want) in deletes {
        let r = who
            .delete(api(&path))
            .header("x-csrf-token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "DELETE {path}");
    }
    let r = client()
        .delete(api(&format!("exceptions/{group_id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "the token is read-only");
    let (_, after) = json(&admin, &api("exceptions")).await;
    assert_eq!(after.as_array().unwrap().len(), all.len() - 1);

    // Level 0 records nothing, exceptions included.
    server.dashboard.set_level("lookup", 0).await.unwrap();
    let _ = c.get(server.url("/users/300")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    let (_, groups) = json(&admin, &api(&format!("endpoints/{lookup_id}/exceptions"))).await;
    assert_eq!(groups.as_array().unwrap().len(), 0);
    server.stop().await;
}

#[tokio::test]
async fn capture_source_off_stores_no_source_text() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir).capture_source(false), app()).await;
    let c = client();
    let _ = c.get(server.url("/users/100")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let id = overview_row(&server, &admin, "lookup").await["id"]
        .as_i64()
        .unwrap();
    let api = |p: &str| server.url(&format!("/dashboard/api/{p}"));
    let (_, groups) = json(&admin, &api(&format!("endpoints/{id}/exceptions"))).await;
    let frames = groups[0]["frames"].as_array().unwrap();
    let top = frames.iter().find(|f| f["library"] == false).unwrap();
    assert_eq!(
        top["relative_file"], "tests/exceptions.rs",
        "frames are kept"
    );
    let function_id = top["function_id"].as_i64().unwrap();
    let (_, source) = json(&admin, &api(&format!("functions/{function_id}/source"))).await;
    assert_eq!(source["code"], "", "{source}");
    assert_eq!(source["start_line"], top["function_start_line"]);
    server.stop().await;
}

#[tokio::test]
async fn pruning_and_deleting_an_endpoints_data_through_the_api() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir).data_retention_days(7), app()).await;
    let c = client();
    for path in ["/users/100", "/users/1", "/kinds"] {
        let _ = c.get(server.url(path)).send().await.unwrap();
    }
    server.dashboard.flush().await.unwrap();
    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    let (guest, guest_csrf) = login(&server, "guest", GUEST_PW).await;
    let html = page(&server, &admin, "/dashboard/settings/data").await;
    assert!(
        html.contains("prune-form")
            && html.contains("older than <strong>7 days</strong> are deleted daily")
    );
    let seen = page(&server, &guest, "/dashboard/settings/data").await;
    assert!(
        seen.contains("7 days") && !seen.contains("prune-form") && !seen.contains("delete-data")
    );
    let api = |p: &str| server.url(&format!("/dashboard/api/{p}"));
    let post = |who: &reqwest::Client, token: &str, body: &'static str| {
        who.post(api("prune"))
            .header("x-csrf-token", token)
            .body(body)
            .send()
    };
    assert_eq!(
        post(&guest, &guest_csrf, "{\"days\": 0}")
            .await
            .unwrap()
            .status(),
        403
    );
    for bad in [
        "{\"days\": -1}",
        "{\"days\": \"x\"}",
        "not json",
        "{\"days\": 99999}",
    ] {
        let r = post(&admin, &csrf, bad).await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    // Nothing is a year old.
    let r: serde_json::Value = post(&admin, &csrf, "{\"days\": 365}")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["deleted_requests"], 0);

    let kinds = overview_row(&server, &admin, "kinds").await["id"]
        .as_i64()
        .unwrap();
    let delete = |path: String| {
        admin
            .delete(api(&path))
            .header("x-csrf-token", &csrf)
            .send()
    };
    let r = delete(format!("endpoints/{kinds}/data")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["deleted_requests"],
        1
    );
    assert_eq!(requests_of(&server, &admin, "kinds").await.len(), 0);
    assert_eq!(
        delete("endpoints/987654/data".into())
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        delete("endpoints/x/data".into()).await.unwrap().status(),
        400
    );

    // Everything older than now: the rest.
    let r: serde_json::Value = post(&admin, &csrf, "{\"days\": 0}")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["deleted_requests"], 2);
    let (_, groups) = json(&admin, &api("exceptions")).await;
    assert_eq!(groups.as_array().unwrap().len(), 0, "{groups}");
    server.stop().await;
}

#[derive(Debug)]
struct Corrupt(u32);

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {} is corrupt", self.0)
    }
}

impl std::error::Error for Corrupt {}

#[profiled]
fn read_row(id: u32) -> Result<String, Corrupt> {
    if id >= 13 {
        return Err(Corrupt(id));
    }
    Ok(format!("row {id}"))
}

#[profiled]
async fn load_row(id: u32) -> anyhow::Result<String> {
    tokio::task::yield_now().await;
    let row = read_row(id)?;
    Ok(row)
}

#[profiled]
async fn render_row(id: u32) -> anyhow::Result<String> {
    let row = load_row(id).await?;
    Ok(format!("<p>{row}</p>"))
}

#[derive(Debug)]
struct RenderFailed;
impl warp::reject::Reject for RenderFailed {}

/// The error becomes a rejection that warp answers with 500: the error is the exception.
#[monitored]
async fn report(id: u32) -> Result<String, warp::Rejection> {
    render_row(id)
        .await
        .map_err(|_| warp::reject::custom(RenderFailed))
}

/// The handler turns the error into a 500 reply itself, or handles it (`?lenient`).
#[monitored]
async fn strict(id: u32, lenient: bool) -> Result<warp::reply::Response, std::convert::Infallible> {
    use warp::Reply;
    Ok(match render_row(id).await {
        Ok(page) => page.into_response(),
        Err(e) if lenient => format!("unavailable: {e}").into_response(),
        Err(e) => {
            warp::reply::with_status(e.to_string(), warp::http::StatusCode::INTERNAL_SERVER_ERROR)
                .into_response()
        }
    })
}

/// A profiled function handles the error; the handler then answers 500 for its own reasons.
#[profiled]
async fn fallback_row(id: u32) -> anyhow::Result<String> {
    Ok(render_row(id).await.unwrap_or_else(|_| "cached".into()))
}

#[monitored]
async fn busy(id: u32) -> Result<warp::reply::Response, std::convert::Infallible> {
    use warp::Reply;
    let page = fallback_row(id).await.unwrap_or_default();
    Ok(warp::reply::with_status(page, warp::http::StatusCode::SERVICE_UNAVAILABLE).into_response())
}

fn trail_app() -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection>
       + Clone
       + Send
       + Sync
       + 'static {
    use warp::Reply;
    let report = warp::path!("report" / u32)
        .and_then(report)
        .map(|s: String| s.into_response());
    let strict = warp::path!("strict" / u32)
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .and_then(|id, q: std::collections::HashMap<String, String>| {
            strict(id, q.contains_key("lenient"))
        });
    let busy = warp::path!("busy" / u32).and_then(busy);
    report.or(strict).unify().or(busy).unify()
}

#[tokio::test]
async fn returned_errors_that_end_in_a_5xx_are_recorded_with_their_trail() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), trail_app()).await;
    let c = client();
    for (path, want) in [
        ("/report/13", 500),
        ("/report/14", 500),
        ("/report/1", 200),
        ("/strict/13", 500),
        ("/strict/13?lenient", 200),
        ("/busy/13", 503),
    ] {
        let r = c.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), want, "{path}");
    }
    server.dashboard.flush().await.unwrap();
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let (status, all) = json(&admin, &server.url("/dashboard/api/exceptions")).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let all = all.as_array().unwrap();
    // A handled error is no exception, whatever the status: only `report` and `strict` have one.
    let endpoints: Vec<&str> = all
        .iter()
        .map(|g| g["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(endpoints.contains(&"report") && endpoints.contains(&"strict"));

    let report = all.iter().find(|g| g["endpoint"] == "report").unwrap();
    assert_eq!(report["count"], 2, "two ids, one group");
    assert_eq!(
        report["type"], "anyhow::Error",
        "the error, not the rejection"
    );
    assert_eq!(report["user_captured"], false);
    let id = overview_row(&server, &admin, "report").await["id"]
        .as_i64()
        .unwrap();
    let (_, groups) = json(
        &admin,
        &server.url(&format!("/dashboard/api/endpoints/{id}/exceptions")),
    )
    .await;
    let frames: Vec<&str> = groups[0]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    let short: Vec<&str> = frames
        .iter()
        .map(|f| f.rsplit("::").next().unwrap())
        .collect();
    assert_eq!(
        short,
        ["read_row", "load_row", "render_row", "report"],
        "{frames:?}"
    );
    let messages = groups[0]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages
        .iter()
        .all(|m| m["message"].as_str().unwrap().starts_with("row 1")));
    let first = &groups[0]["frames"][0];
    assert_eq!(first["relative_file"], "tests/exceptions.rs");
    let (_, source) = json(
        &admin,
        &server.url(&format!(
            "/dashboard/api/functions/{}/source",
            first["function_id"]
        )),
    )
    .await;
    assert!(source["code"].as_str().unwrap().contains("fn read_row"));

    let strict = all.iter().find(|g| g["endpoint"] == "strict").unwrap();
    assert_eq!(strict["count"], 1, "the lenient request handled it");
    server.stop().await;
}
