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
        R: Reply + 'static,
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

/// `method` on the API route `path` with a JSON `body`, as `who` with its CSRF token.
pub(crate) async fn call(
    server: &Server,
    who: &reqwest::Client,
    csrf: &str,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let r = who
        .request(method, server.url(&format!("/dashboard/api/{path}")))
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
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
/// The lines of endpoint `name`'s CSV download of its requests (the last 7 days): through the
/// adapter under test, streamed.
pub(crate) async fn downloaded_lines(server: &Server, client: &Client, name: &str) -> Vec<String> {
    let id = overview_row(server, client, name).await["id"]
        .as_i64()
        .unwrap();
    let r = client
        .get(server.url(&format!("/dashboard/api/endpoints/{id}/download/requests")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    r.text().await.unwrap().lines().map(str::to_owned).collect()
}

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

/// The test configuration on every database this build and machine can reach: SQLite in `dir`
/// always; PostgreSQL and MySQL (features `postgres`, `mysql`) at `FMD_TEST_POSTGRES` /
/// `FMD_TEST_MYSQL` or this machine's servers, each under a table prefix of its own. A server
/// that does not answer is skipped with a message, or fails the test under `CI=true`.
pub(crate) fn configs_on_every_backend(dir: &tempfile::TempDir) -> Vec<fmd::Config> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut configs = vec![config(dir)];
    let servers = [
        (
            cfg!(feature = "postgres"),
            "FMD_TEST_POSTGRES",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
        (
            cfg!(feature = "mysql"),
            "FMD_TEST_MYSQL",
            "mysql://root@127.0.0.1:3306/test",
        ),
    ];
    for (_, var, default) in servers.iter().filter(|s| s.0) {
        let url = std::env::var(var).unwrap_or_else(|_| (*default).to_owned());
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let prefix = format!("e{}n{n}_", std::process::id());
        match fmd_store::Store::open(&url, &prefix) {
            Ok(_) => configs.push(config(dir).database(url).table_prefix(prefix)),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("{url} is required in CI: {e}")
            }
            Err(e) => eprintln!("skipping {url}: {e} (start the server, or set {var})"),
        }
    }
    configs
}

/// Drops the tables a test made under `config`'s prefix (SQLite's go with their folder).
pub(crate) fn drop_tables(config: &fmd::Config) {
    if !config.database.starts_with("sqlite:") {
        fmd_store::Store::open(&config.database, &config.table_prefix)
            .and_then(|s| s.drop_all_tables())
            .unwrap_or_else(|e| panic!("dropping the tables of {}: {e}", config.database));
    }
}

/// One HTTP/1.1 connection written and read by hand: for what a client library would not send
/// (`..` in a path) and for checking that a connection stays usable.
pub(crate) struct RawConn(tokio::io::BufReader<tokio::net::TcpStream>);

/// A response read off a [`RawConn`].
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl RawResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl RawConn {
    pub(crate) async fn open(server: &Server) -> RawConn {
        let addr = server.base.trim_start_matches("http://");
        RawConn(tokio::io::BufReader::new(
            tokio::net::TcpStream::connect(addr).await.unwrap(),
        ))
    }

    /// Sends `method target` with `headers` (each a full line) and `body`, and reads the answer.
    pub(crate) async fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[&str],
        body: &[u8],
    ) -> std::io::Result<RawResponse> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for h in headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let stream = self.0.get_mut();
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut line = String::new();
        if self.0.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a status line: {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.0.read_line(&mut line).await?;
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        let mut response = RawResponse {
            status,
            headers,
            body: String::new(),
        };
        let length: usize = response
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        let mut body = vec![0; length];
        self.0.read_exact(&mut body).await?;
        response.body = String::from_utf8_lossy(&body).into_owned();
        Ok(response)
    }
}

/// What any framework's server must do with requests the dashboard refuses for their size:
/// JSON answers under the API prefix, and the connection usable afterwards.
pub(crate) async fn oversized_requests_get_json_and_keep_the_connection(server: &Server) {
    let mut conn = RawConn::open(server).await;
    let big = vec![b'x'; 200 * 1024];
    let r = conn
        .send("PUT", "/dashboard/api/endpoints/1/level", &[], &big)
        .await
        .unwrap();
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
    assert!(r.body.contains("\"error\""), "{r:?}");
    let next = conn
        .send("GET", "/dashboard/api/overview", &[], b"")
        .await
        .expect("the connection stays open after a 413");
    assert_eq!(next.status, 401, "{next:?}");

    let long = format!("/dashboard/api/overview?x={}", "a".repeat(20_000));
    let r = conn.send("GET", &long, &[], b"").await.unwrap();
    assert_eq!(r.status, 414, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
    let next = conn
        .send("GET", "/dashboard/api/overview", &[], b"")
        .await
        .expect("the connection stays open after a 414");
    assert_eq!(next.status, 401, "{next:?}");

    for path in ["/dashboard/static/../../x", "/dashboard/static/..%2f..%2fx"] {
        let r = conn.send("GET", path, &[], b"").await.unwrap();
        assert_eq!(r.status, 404, "{path}: {r:?}");
    }
    // A body far past the limit is not read: the answer says the connection closes.
    let mut conn = RawConn::open(server).await;
    let huge = vec![b'x'; 4 * 1024 * 1024];
    match conn
        .send("PUT", "/dashboard/api/endpoints/1/level", &[], &huge)
        .await
    {
        Ok(r) => {
            assert_eq!(r.status, 413, "{r:?}");
            assert_eq!(r.header("connection"), Some("close"), "{r:?}");
        }
        // The server may close before the client has written it all.
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "{e}"
        ),
    }
}
