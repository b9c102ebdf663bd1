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
async fn a_guessed_or_altered_session_cookie_is_refused() {
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
    let mut altered = cookie.clone().into_bytes();
    altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for forged in [altered.as_str(), "", "x", "1|YWRtaW4|a|9999999999|c.sig"] {
        let r = client()
            .get(server.url("/dashboard/api/overview"))
            .header("cookie", format!("fmd_session={forged}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{forged:?}");
    }
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
    for _ in 0..5 {
        assert_eq!(
            attempt(&server, "admin", "wrong", None).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = attempt(&server, "admin", ADMIN_PW, None).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(retry_after(&r) > 0);
    assert!(r.text().await.unwrap().contains("Too many failed logins"));
    server.stop().await;
}

/// A login attempt from a fresh client, from `forwarded_for` when given.
async fn attempt(
    server: &Server,
    user: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = client()
        .post(server.url("/dashboard/login"))
        .form(&[("username", user), ("password", password)]);
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn parallel_guesses_are_counted_before_they_are_checked() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let guesses = (0..30).map(|_| attempt(&server, "admin", "wrong", None));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(guesses)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        checked <= 5,
        "{checked} of 30 parallel guesses were checked"
    );
    assert_eq!(checked + refused, 30, "{statuses:?}");
    server.stop().await;
}

#[tokio::test]
async fn another_accounts_login_does_not_reset_the_count() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    for _ in 0..4 {
        attempt(&server, "admin", "wrong", None).await;
    }
    let guest = attempt(&server, "guest", GUEST_PW, None).await;
    assert_eq!(guest.status(), StatusCode::SEE_OTHER);
    attempt(&server, "admin", "wrong", None).await;
    let r = attempt(&server, "admin", "wrong", None).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Locked again for longer after the first lockout: the wait grows.
    assert!((25..=30).contains(&retry_after(&r)), "{}", retry_after(&r));
    server.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_client_locks_out_only_itself() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir).trusted_proxy_header("X-Forwarded-For");
    let server = Server::start(config, app()).await;
    for _ in 0..5 {
        attempt(&server, "admin", "wrong", Some("203.0.113.7")).await;
    }
    let locked = attempt(&server, "admin", ADMIN_PW, Some("203.0.113.7")).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let other = attempt(&server, "admin", ADMIN_PW, Some("198.51.100.2")).await;
    assert_eq!(
        other.status(),
        StatusCode::SEE_OTHER,
        "another client logs in"
    );
    server.stop().await;
}

#[tokio::test]
async fn without_a_trusted_proxy_header_guesses_at_one_user_lock_only_that_user() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    // Every client comes from the proxy's address (here 127.0.0.1).
    for _ in 0..5 {
        attempt(&server, "admin", "wrong", Some("203.0.113.7")).await;
    }
    let guest = attempt(&server, "guest", GUEST_PW, Some("198.51.100.2")).await;
    assert_eq!(guest.status(), StatusCode::SEE_OTHER);
    let admin = attempt(&server, "admin", ADMIN_PW, Some("198.51.100.2")).await;
    assert_eq!(admin.status(), StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;
}

#[tokio::test]
async fn the_login_form_refuses_posts_from_other_sites() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let host = server.base.trim_start_matches("http://").to_owned();
    let cases = [
        (vec![("sec-fetch-site", "cross-site".to_owned())], false),
        (vec![("sec-fetch-site", "same-site".to_owned())], false),
        (vec![("origin", "https://evil.example".to_owned())], false),
        (vec![("origin", "null".to_owned())], false),
        (vec![("sec-fetch-site", "same-origin".to_owned())], true),
        (vec![("origin", format!("http://{host}"))], true),
        (vec![], true),
    ];
    for (headers, allowed) in cases {
        let mut request = client()
            .post(server.url("/dashboard/login"))
            .form(&[("username", "admin"), ("password", ADMIN_PW)]);
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        let r = request.send().await.unwrap();
        let expected = if allowed {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(r.status(), expected, "{headers:?}");
        assert_eq!(
            r.headers().get("set-cookie").is_some(),
            allowed,
            "{headers:?}"
        );
    }
    server.stop().await;
}

/// Reads the overview and sets `hello`'s level with `cookie` as the only session, as an
/// attacker holding a copied cookie would: the first status that is not 200, else 200.
async fn with_cookie(server: &Server, cookie: &str, csrf: &str, level: u8) -> StatusCode {
    let r = client()
        .get(server.url("/dashboard/api/overview"))
        .header("cookie", format!("fmd_session={cookie}"))
        .send()
        .await
        .unwrap();
    if r.status() != StatusCode::OK {
        return r.status();
    }
    let rows: serde_json::Value = r.json().await.unwrap();
    let id = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "hello")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    client()
        .put(server.url(&format!("/dashboard/api/endpoints/{id}/level")))
        .header("cookie", format!("fmd_session={cookie}"))
        .header("x-csrf-token", csrf)
        .json(&serde_json::json!({ "level": level }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn logout_needs_the_forms_token() {
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
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        json(&admin, &server.url("/dashboard/api/overview")).await.0,
        StatusCode::OK,
        "a refused logout leaves the session open"
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

/// Logs `user` in; its session cookie and CSRF token.
async fn session_of(server: &Server, user: &str, password: &str) -> (String, String) {
    let r = post_login(
        server,
        &client(),
        &[("username", user), ("password", password)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "login of {user}");
    (set_cookie(&r, "fmd_session"), csrf_cookie(&r))
}

/// Sends `method path` with `body` as the session `cookie`, echoing `csrf`.
async fn admin_call(
    server: &Server,
    (cookie, csrf): &(String, String),
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let r = client()
        .request(method, server.url(&format!("/dashboard/api/{path}")))
        .header("cookie", format!("fmd_session={cookie}"))
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn sessions_end_on_logout_deletion_password_change_and_by_an_admin_on_every_backend() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    for config in configs_on_every_backend(&dir) {
        let db = config.database.clone();
        let server = Server::start(config.clone(), app()).await;
        let admin = session_of(&server, "admin", ADMIN_PW).await;
        let put = reqwest::Method::PUT;
        let (status, bob) = admin_call(
            &server,
            &admin,
            reqwest::Method::POST,
            "users",
            serde_json::json!({"username": "bob", "password": "bob-pw-1234", "confirm": "bob-pw-1234", "role": "admin"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{db}: {bob}");
        let bob_id = bob["id"].as_i64().unwrap();

        // Logout: a cookie saved before it no longer reads or changes anything.
        let (cookie, csrf) = session_of(&server, "bob", "bob-pw-1234").await;
        assert_eq!(
            with_cookie(&server, &cookie, &csrf, 2).await,
            StatusCode::OK,
            "{db}"
        );
        let r = client()
            .post(server.url("/dashboard/logout"))
            .header("cookie", format!("fmd_session={cookie}"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{db}");
        assert_eq!(
            with_cookie(&server, &cookie, &csrf, 3).await,
            StatusCode::UNAUTHORIZED,
            "{db}: logged out"
        );

        // A password change ends every other session of the user, but not the one changing it.
        let bob1 = session_of(&server, "bob", "bob-pw-1234").await;
        let bob2 = session_of(&server, "bob", "bob-pw-1234").await;
        let (status, body) = admin_call(
            &server,
            &bob1,
            put.clone(),
            &format!("users/{bob_id}/password"),
            serde_json::json!({"password": "bob-pw-5678", "confirm": "bob-pw-5678"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{db}: {body}");
        assert_eq!(
            with_cookie(&server, &bob1.0, &bob1.1, 1).await,
            StatusCode::OK,
            "{db}"
        );
        assert_eq!(
            with_cookie(&server, &bob2.0, &bob2.1, 1).await,
            StatusCode::UNAUTHORIZED,
            "{db}: the other session ended with the password change"
        );

        // An administrator ends all sessions of a user (here the configured guest).
        let guest = session_of(&server, "guest", GUEST_PW).await;
        let (status, body) = admin_call(
            &server,
            &admin,
            reqwest::Method::DELETE,
            "sessions",
            serde_json::json!({"username": "guest"}),
        )
        .await;
        assert_eq!(
            (status, body["ended"].as_i64()),
            (StatusCode::OK, Some(1)),
            "{db}: {body}"
        );
        assert_eq!(
            json_with(&server, &guest.0).await,
            StatusCode::UNAUTHORIZED,
            "{db}: ended by an administrator"
        );

        // A deleted user's session cannot act, e.g. create another administrator.
        let (status, _) = admin_call(
            &server,
            &admin,
            reqwest::Method::DELETE,
            &format!("users/{bob_id}"),
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{db}");
        let (status, _) = admin_call(
            &server,
            &bob1,
            reqwest::Method::POST,
            "users",
            serde_json::json!({"username": "mallory", "password": "mallory-pw", "confirm": "mallory-pw", "role": "admin"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{db}: deleted user");

        // Another instance ends a session in the database: this one refuses it within 5 s.
        let store = fmd_store::Store::open(&config.database, &config.table_prefix).unwrap();
        assert_eq!(json_with(&server, &admin.0).await, StatusCode::OK, "{db}");
        assert_eq!(store.delete_sessions_of("admin", None).unwrap(), 1, "{db}");
        let ended = std::time::Instant::now();
        while json_with(&server, &admin.0).await == StatusCode::OK {
            assert!(
                ended.elapsed() < std::time::Duration::from_secs(5),
                "{db}: still open after 5 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }

        // Sessions live in the database: one survives a restart of the service.
        let kept = session_of(&server, "guest", GUEST_PW).await;
        server.stop().await;
        let server = Server::start(config.clone(), app()).await;
        assert_eq!(
            json_with(&server, &kept.0).await,
            StatusCode::OK,
            "{db}: after a restart"
        );
        server.stop().await;
        drop_tables(&config);
    }
}

/// The status of `GET api/overview` with session `cookie`.
async fn json_with(server: &Server, cookie: &str) -> StatusCode {
    client()
        .get(server.url("/dashboard/api/overview"))
        .header("cookie", format!("fmd_session={cookie}"))
        .send()
        .await
        .unwrap()
        .status()
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

#[tokio::test]
async fn a_new_configured_password_ends_the_administrators_sessions() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), app()).await;
    let (cookie, _) = session_of(&server, "admin", ADMIN_PW).await;
    server.stop().await;
    let server = Server::start(config(&dir), app()).await;
    assert_eq!(
        json_with(&server, &cookie).await,
        StatusCode::OK,
        "the same password keeps the session"
    );
    server.stop().await;
    let server = Server::start(config(&dir).password("a-new-password"), app()).await;
    assert_eq!(
        json_with(&server, &cookie).await,
        StatusCode::UNAUTHORIZED,
        "a new password ends it"
    );
    server.stop().await;
}
