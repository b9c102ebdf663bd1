//! The settings pages and their API: status and configuration without secrets, and user
//! management with the original's checks.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use warp::Filter;

#[tokio::test]
async fn status_shows_the_configuration_without_secrets() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), warp::path!("x").map(|| "x")).await;
    client().get(server.url("/x")).send().await.unwrap();
    server.dashboard.flush().await.unwrap();
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let (guest, _) = login(&server, "guest", GUEST_PW).await;
    let token = reqwest::Client::new();
    let (_, status) = json(&admin, &server.url("/dashboard/api/status")).await;
    assert_eq!(status["version"], "9.9");
    assert_eq!(status["backend"], "SQLite");
    assert!(status["database_size_bytes"].as_i64().unwrap() > 0);
    assert!(status["uptime_seconds"].as_u64().is_some());
    assert_eq!(status["writer"]["failing"], false);
    let config = status["config"].as_array().unwrap();
    let value = |key: &str| config.iter().find(|e| e["key"] == key).unwrap()["value"].clone();
    assert_eq!(value("password"), "<hidden>");
    assert_eq!(value("security_token"), "<hidden>");
    assert_eq!(value("monitor_level"), "1");
    let text = status.to_string();
    for secret in [ADMIN_PW, GUEST_PW, TOKEN] {
        assert!(!text.contains(secret), "{secret} shows");
    }
    let r = token
        .get(server.url("/dashboard/api/status"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "read-only access reads the status"
    );
    for path in ["/dashboard/settings", "/dashboard/settings/data"] {
        for who in [&admin, &guest] {
            let html = page(&server, who, path).await;
            assert!(
                html.contains("Settings") && !html.contains(ADMIN_PW),
                "{path}"
            );
        }
    }
    let settings = page(&server, &admin, "/dashboard/settings").await;
    assert!(settings.contains("<code>monitor_level</code>") && settings.contains("&lt;hidden&gt;"));
    let forbidden = guest
        .get(server.url("/dashboard/settings/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test]
async fn users_are_managed_with_the_originals_checks() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(&dir), warp::path!("x").map(|| "x")).await;
    let (admin, csrf) = login(&server, "admin", ADMIN_PW).await;
    let (guest, guest_csrf) = login(&server, "guest", GUEST_PW).await;
    let add = |body: Value| call(&server, &admin, &csrf, Method::POST, "users", body);
    let user = |name: &str, pw: &str, confirm: &str, role: &str| json!({"username": name, "password": pw, "confirm": confirm, "role": role});
    for (body, status, needle) in [
        (
            user("ann", "long-enough", "different!", "guest"),
            400,
            "do not match",
        ),
        (user("ann", "short", "short", "guest"), 400, "at least 8"),
        (
            user("ann", "long-enough", "long-enough", "boss"),
            400,
            "role must be",
        ),
        (
            user(" ", "long-enough", "long-enough", "guest"),
            400,
            "username must be",
        ),
        (
            user("guest", "long-enough", "long-enough", "guest"),
            409,
            "guest_username",
        ),
        (
            user("admin", "long-enough", "long-enough", "admin"),
            409,
            "already a user",
        ),
        (json!("nonsense"), 400, "username must be"),
    ] {
        let (got, r) = add(body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body}: {r}");
        assert!(
            r["error"].as_str().unwrap_or("").contains(needle),
            "{body}: {r}"
        );
    }
    let (got, ann) = add(user("ann", "ann-password", "ann-password", "admin")).await;
    assert_eq!(got, StatusCode::CREATED, "{ann}");
    assert_eq!(ann["role"], "admin");
    let (got, bob) = add(user("bob", "bob-password", "bob-password", "guest")).await;
    assert_eq!(got, StatusCode::CREATED);
    let (bob_client, bob_csrf) = login(&server, "bob", "bob-password").await;
    let (got, _) = call(
        &server,
        &bob_client,
        &bob_csrf,
        Method::POST,
        "users",
        user("eve", "eve-password", "eve-password", "admin"),
    )
    .await;
    assert_eq!(got, StatusCode::FORBIDDEN, "a stored guest is a guest");
    let (got, _) = call(
        &server,
        &guest,
        &guest_csrf,
        Method::GET,
        "users",
        Value::Null,
    )
    .await;
    assert_eq!(got, StatusCode::FORBIDDEN);
    let (got, list) = json(&admin, &server.url("/dashboard/api/users")).await;
    assert_eq!(got, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "ann", "bob"]);
    let me = list[0]["id"].as_i64().unwrap();
    let (ann_id, bob_id) = (ann["id"].as_i64().unwrap(), bob["id"].as_i64().unwrap());

    let password = |id: i64, body: Value| {
        let path = format!("users/{id}/password");
        let (server, admin, csrf) = (&server, &admin, &csrf);
        async move { call(server, admin, csrf, Method::PUT, &path, body).await }
    };
    let (got, r) = password(
        bob_id,
        json!({"password": "new-password", "confirm": "other-password"}),
    )
    .await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "{r}");
    let (got, r) = password(
        me,
        json!({"password": "new-password", "confirm": "new-password"}),
    )
    .await;
    assert_eq!(
        got,
        StatusCode::CONFLICT,
        "the configured admin's password: {r}"
    );
    assert!(r["error"].as_str().unwrap().contains("configuration"));
    let (got, _) = password(
        987_654,
        json!({"password": "new-password", "confirm": "new-password"}),
    )
    .await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    let (got, _) = password(
        bob_id,
        json!({"password": "new-password", "confirm": "new-password"}),
    )
    .await;
    assert_eq!(got, StatusCode::OK);
    let refused = post_login(
        &server,
        &client(),
        &[("username", "bob"), ("password", "bob-password")],
    )
    .await;
    assert!(
        !refused.status().is_redirection(),
        "the old password no longer works"
    );
    login(&server, "bob", "new-password").await;

    let delete = |id: i64| {
        let (server, admin, csrf) = (&server, &admin, &csrf);
        async move {
            call(
                server,
                admin,
                csrf,
                Method::DELETE,
                &format!("users/{id}"),
                Value::Null,
            )
            .await
        }
    };
    let (got, _) = call(
        &server,
        &admin,
        "",
        Method::DELETE,
        &format!("users/{bob_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(got, StatusCode::FORBIDDEN, "no CSRF token");
    let (got, r) = delete(me).await;
    assert_eq!(got, StatusCode::CONFLICT, "not yourself: {r}");
    assert!(r["error"].as_str().unwrap().contains("yourself"));
    let (got, _) = delete(bob_id).await;
    assert_eq!(got, StatusCode::OK);
    let (got, _) = delete(bob_id).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    let (got, _) = delete(ann_id).await;
    assert_eq!(got, StatusCode::OK, "another administrator remains");
    let html = page(&server, &admin, "/dashboard/settings/users").await;
    assert!(html.contains("admin") && html.contains("(you)") && !html.contains(">ann<"));
    assert!(html.contains("set by the configuration"), "{html}");
    server.stop().await;
}
