//! Logins, roles, sessions, CSRF and the API token.

mod common;

use std::convert::Infallible;

use common::*;
use fmd::monitored;
use reqwest::StatusCode;
use warp::Filter;

#[monitored]
async fn hello() -> Result<&'static str, Infallible> {
    Ok("hello")
}

fn app(
) -> impl Filter<Extract = (&'static str,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    warp::path!("hello").and_then(hello)
}

async fn hello_id(server: &Server, client: &reqwest::Client) -> i64 {
    overview_row(server, client, "hello").await["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_the_login_page() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let c = client();
    let r = c
        .get(server.url("/dashboard/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        "/dashboard/login?next=%2Fdashboard%2Foverview"
    );
    let r = c.get(server.url("/dashboard/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("name=\"password\""));
    let (status, body) = json(&c, &server.url("/dashboard/api/overview")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"].as_str().unwrap().contains("/dashboard/login"));
    server.stop().await;
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_are_refused() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    for (user, pw) in [("admin", "nope"), ("nobody", ADMIN_PW), ("guest", ADMIN_PW)] {
        let r = post_login(&server, &client(), &[("username", user), ("password", pw)]).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{user}/{pw}");
        assert!(r.headers().get("set-cookie").is_none());
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("Wrong username or password"));
    }
    server.stop().await;
}

#[tokio::test]
async fn session_cookies_are_http_only_and_strict() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let r = post_login(
        &server,
        &client(),
        &[
            ("username", "admin"),
            ("password", ADMIN_PW),
            ("next", "https://evil.example/"),
        ],
    )
    .await;
    assert_eq!(
        r.headers()["location"],
        "/dashboard/overview",
        "never redirects out of the dashboard"
    );
    let cookies: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("fmd_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Strict")
            && session.contains("Max-Age=")
    );
    let csrf = cookies.iter().find(|c| c.starts_with("fmd_csrf=")).unwrap();
    assert!(!csrf.contains("HttpOnly"), "scripts read the CSRF cookie");
    server.stop().await;
}

#[tokio::test]
async fn guests_see_everything_but_change_nothing() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let (guest, csrf) = login(&server, "guest", GUEST_PW).await;
    let html = page(&server, &guest, "/dashboard/overview").await;
    assert!(html.contains("hello"));
    assert!(
        !html.contains("<select class=\"level\""),
        "guests get no level select"
    );
    let id = hello_id(&server, &guest).await;
    let r = guest
        .put(server.url(&format!("/dashboard/api/endpoints/{id}/level")))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"level": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        overview_row(&server, &guest, "hello").await["monitor_level"],
        1
    );
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let html = page(&server, &admin, "/dashboard/overview").await;
    assert!(
        html.contains("<select class=\"level\""),
        "admins get the level select"
    );
    server.stop().await;
}

#[tokio::test]
async fn level_changes_need_the_csrf_token() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    let id = hello_id(&server, &admin).await;
    let url = server.url(&format!("/dashboard/api/endpoints/{id}/level"));
    let body = serde_json::json!({"level": 3});
    let missing = admin.put(&url).json(&body).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert!(missing.text().await.unwrap().contains("X-CSRF-Token"));
    let wrong = admin
        .put(&url)
        .header("x-csrf-token", "forged")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        overview_row(&server, &admin, "hello").await["monitor_level"],
        1
    );
    let ok = admin
        .put(&url)
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        ok.json::<serde_json::Value>().await.unwrap()["monitor_level"],
        3
    );
    assert_eq!(
        overview_row(&server, &admin, "hello").await["monitor_level"],
        3
    );
    server.stop().await;
}

#[tokio::test]
async fn expired_sessions_are_refused() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir).session_hours(1.0 / 3600.0); // one second
    let server = Server::start(config, app()).await;
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    assert_eq!(
        json(&admin, &server.url("/dashboard/api/overview")).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        json(&admin, &server.url("/dashboard/api/overview")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let r = admin
        .get(server.url("/dashboard/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    server.stop().await;
}

#[tokio::test]
async fn a_tampered_session_cookie_is_refused() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let r = post_login(
        &server,
        &client(),
        &[("username", "guest"), ("password", GUEST_PW)],
    )
    .await;
    let cookie = set_cookie(&r, "fmd_session");
    // Promote the guest to admin by editing the payload: the signature no longer matches.
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (payload, signature) = cookie.split_once('.').unwrap();
    let forged = String::from_utf8(engine.decode(payload).unwrap())
        .unwrap()
        .replace("|g|", "|a|");
    let forged = format!("{}.{signature}", engine.encode(forged));
    let r = client()
        .get(server.url("/dashboard/api/overview"))
        .header("cookie", format!("fmd_session={forged}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn the_security_token_reads_but_does_not_write() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let c = client();
    let r = c
        .get(server.url("/dashboard/api/overview"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rows: serde_json::Value = r.json().await.unwrap();
    let id = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "hello")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = c
        .get(server.url("/dashboard/api/overview"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .put(server.url(&format!("/dashboard/api/endpoints/{id}/level")))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"level": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The token opens the API only, not the pages.
    let r = c
        .get(server.url("/dashboard/overview"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    server.stop().await;
}

#[tokio::test]
async fn without_a_configured_token_bearer_access_is_off() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir);
    config.security_token = None;
    let server = Server::start(config, app()).await;
    let r = client()
        .get(server.url("/dashboard/api/overview"))
        .bearer_auth("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let attempt = |pw: &'static str| {
        let server = &server;
        async move {
            post_login(
                server,
                &client(),
                &[("username", "admin"), ("password", pw)],
            )
            .await
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    let r = attempt(ADMIN_PW).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert!(r.text().await.unwrap().contains("Too many failed logins"));
    server.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    let stale = admin
        .post(server.url("/dashboard/logout"))
        .form(&[("csrf", "stale")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        stale.status(),
        StatusCode::FORBIDDEN,
        "logout needs the form's token"
    );
    let r = admin
        .post(server.url("/dashboard/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        json(&admin, &server.url("/dashboard/api/overview")).await.0,
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}

#[tokio::test]
async fn without_a_configured_password_one_is_generated_once() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir);
    config.password = None;
    let server = Server::start(config.clone(), app()).await;
    // The generated password is printed, not known here: the configured one no longer works...
    let r = post_login(
        &server,
        &client(),
        &[("username", "admin"), ("password", ADMIN_PW)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
    // ...and a later start keeps the stored administrator rather than making another.
    let store = fmd_store::Store::open(&config.database, &config.table_prefix).unwrap();
    assert_eq!(store.admin_count().unwrap(), 1);
    let hash_before = store.user("admin").unwrap().unwrap().password_hash;
    let server = Server::start(config, app()).await;
    server.stop().await;
    assert_eq!(
        store.user("admin").unwrap().unwrap().password_hash,
        hash_before
    );
}
