//! A real server on 127.0.0.1 for the end-to-end tests, and logged-in clients.
#![allow(dead_code)]

pub(crate) mod recorder;
pub(crate) mod scenarios;

use std::time::Duration;

use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use tokio::sync::{oneshot, Mutex, MutexGuard};
use warp::{Filter, Reply};

/// Endpoint levels are process-wide, so the tests of one binary run one at a time.
static SERIAL: Mutex<()> = Mutex::const_new(());

pub(crate) async fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().await
}

pub(crate) const ADMIN_PW: &str = "admin-pw";
pub(crate) const GUEST_PW: &str = "guest-pw";
pub(crate) const TOKEN: &str = "read-token";

pub(crate) fn config(dir: &tempfile::TempDir) -> fmd::Config {
    fmd::Config::default()
        .database(format!("sqlite://{}", dir.path().join("fmd.db").display()))
        .app_version("9.9")
        .password(ADMIN_PW)
        .guest_password(vec![GUEST_PW.into()])
        .security_token(TOKEN)
}

pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) dashboard: fmd::Dashboard,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// `app` bound with `dashboard.bind` and served by warp.
    pub(crate) async fn start<F, R, E>(config: fmd::Config, app: F) -> Server
    where
        F: Filter<Extract = (R,), Error = E> + Clone + Send + Sync + 'static,
        R: Reply,
        E: fmd::AppError,
    {
        Server::serve_with(config, |dashboard, listener, stopped| {
            tokio::spawn(
                warp::serve(dashboard.bind(app))
                    .incoming(listener)
                    .graceful(async {
                        let _ = stopped.await;
                    })
                    .run(),
            )
        })
        .await
    }

    /// The router `app` makes, with `dashboard.router()` merged and `dashboard.layer()` over
    /// both, served by axum with the peers' addresses.
    #[cfg(feature = "axum")]
    pub(crate) async fn start_axum(
        config: fmd::Config,
        app: impl FnOnce(&fmd::Dashboard) -> axum::Router,
    ) -> Server {
        Server::serve_with(config, |dashboard, listener, stopped| {
            let router = app(dashboard)
                .merge(dashboard.router())
                .layer(dashboard.layer());
            let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            tokio::spawn(async move {
                axum::serve(listener, service)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            })
        })
        .await
    }

    /// `serve` given the dashboard, a bound listener and the signal to stop, serves the app.
    pub(crate) async fn serve_with(
        config: fmd::Config,
        serve: impl FnOnce(
            &fmd::Dashboard,
            tokio::net::TcpListener,
            oneshot::Receiver<()>,
        ) -> tokio::task::JoinHandle<()>,
    ) -> Server {
        let dashboard = fmd::Dashboard::new(config).await.expect("dashboard starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = serve(&dashboard, listener, stopped);
        Server {
            base,
            dashboard,
            stop: Some(stop),
            task,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops serving and shuts the dashboard down (everything recorded is written).
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        self.dashboard
            .shutdown()
            .await
            .expect("shutdown writes everything");
    }
}

pub(crate) fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Posts the login form with `fields` from `client`.
pub(crate) async fn post_login(
    server: &Server,
    client: &Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(server.url("/dashboard/login"))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// The body of the page at `path`.
pub(crate) async fn page(server: &Server, client: &Client, path: &str) -> String {
    client
        .get(server.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A client logged in as `user`, and the CSRF token of its session.
pub(crate) async fn login(server: &Server, user: &str, password: &str) -> (Client, String) {
    let client = client();
    let response = post_login(
        server,
        &client,
        &[("username", user), ("password", password)],
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "login of {user} failed"
    );
    let csrf = csrf_cookie(&response);
    (client, csrf)
}

/// The value of cookie `name` that a response sets.
pub(crate) fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(name)?.strip_prefix('='))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("the response sets no {name} cookie"))
        .to_owned()
}

/// The `fmd_csrf` cookie a login response sets.
pub(crate) fn csrf_cookie(response: &reqwest::Response) -> String {
    set_cookie(response, "fmd_csrf")
}

pub(crate) async fn json(client: &Client, url: &str) -> (StatusCode, serde_json::Value) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// The overview row of endpoint `name`.
pub(crate) async fn overview_row(
    server: &Server,
    client: &Client,
    name: &str,
) -> serde_json::Value {
    let (status, body) = json(client, &server.url("/dashboard/api/overview")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in the overview: {body}"))
        .clone()
}

/// The requests the overview counts, over every endpoint.
pub(crate) async fn total_hits(server: &Server, client: &Client) -> i64 {
    let (status, body) = json(client, &server.url("/dashboard/api/overview")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|r| r["hits_overall"].as_i64().unwrap())
        .sum()
}

/// The requests the API lists for endpoint `name`, newest first.
pub(crate) async fn requests_of(
    server: &Server,
    client: &Client,
    name: &str,
) -> Vec<serde_json::Value> {
    let id = overview_row(server, client, name).await["id"]
        .as_i64()
        .unwrap();
    let (status, body) = json(
        client,
        &server.url(&format!(
            "/dashboard/api/endpoints/{id}/requests?limit=1000"
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

pub(crate) async fn set_level(server: &Server, client: &Client, csrf: &str, name: &str, level: u8) {
    let id = overview_row(server, client, name).await["id"]
        .as_i64()
        .unwrap();
    let response = client
        .put(server.url(&format!("/dashboard/api/endpoints/{id}/level")))
        .header("x-csrf-token", csrf)
        .json(&serde_json::json!({ "level": level }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
