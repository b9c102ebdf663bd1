//! The dashboard's routes under `/{custom_link}`: one dispatcher over the `http` crate's types,
//! so every path and method under the prefix gets an answer from the dashboard (JSON errors for
//! the API, pages otherwise) and none falls through to the app. The warp and tower adapters
//! hand it their requests.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde::Deserialize;

use crate::auth::{Role, Session};
use crate::track::client_ip;
use crate::{api, pages, Inner};

/// Largest request body the dashboard reads (login forms, level changes).
pub(crate) const MAX_BODY: u64 = 64 * 1024;

/// A response of the dashboard, before an adapter gives it its framework's body type.
pub(crate) type Reply = Response<Bytes>;

/// One request to the dashboard, as the handlers see it.
pub(crate) struct Req {
    pub(crate) inner: Arc<Inner>,
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) query: Option<String>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) body: Bytes,
}

impl Req {
    /// The value of cookie `name`.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The logged-in user, from a valid, unexpired session cookie.
    pub(crate) fn session(&self) -> Option<Session> {
        self.cookie(SESSION_COOKIE)
            .and_then(|c| self.inner.auth.verify(c))
    }

    /// The bearer token of the `Authorization` header, if any.
    pub(crate) fn bearer(&self) -> Option<&str> {
        let value = self.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }

    /// The client's address, honouring `trusted_proxy_header`.
    pub(crate) fn client_ip(&self) -> Option<IpAddr> {
        client_ip(
            self.inner.config.trusted_proxy_header.as_deref(),
            self.peer,
            &self.headers,
        )
    }

    /// The first value of query parameter `name`.
    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(self.query.as_deref()?)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    pub(crate) fn base(&self) -> String {
        format!("/{}", self.inner.config.custom_link)
    }
}

pub(crate) const SESSION_COOKIE: &str = "fmd_session";
pub(crate) const CSRF_COOKIE: &str = "fmd_csrf";

/// The dashboard's answer to one request under its prefix, whatever the framework.
///
/// `tail` is the path after the prefix. `body` is at most [`MAX_BODY`] bytes: the adapters
/// answer [`too_large`] to a longer one without reading it.
pub(crate) async fn serve(
    inner: Arc<Inner>,
    method: Method,
    tail: &str,
    query: Option<String>,
    headers: HeaderMap,
    peer: Option<SocketAddr>,
    body: Bytes,
) -> Reply {
    let req = Req {
        inner,
        method,
        headers,
        query,
        peer,
        body,
    };
    let segments: Vec<&str> = tail.split('/').filter(|s| !s.is_empty()).collect();
    let get = req.method == Method::GET || req.method == Method::HEAD;
    let post = req.method == Method::POST;
    match segments.as_slice() {
        ["api", rest @ ..] => api::handle(&req, rest).await,
        ["static", file] if get => static_asset(file),
        [] if get => redirect(&format!("{}/overview", req.base())),
        ["login"] if get => match req.session() {
            Some(_) => redirect(&format!("{}/overview", req.base())),
            None => pages::login(&req, None, StatusCode::OK),
        },
        ["login"] if post => login(&req).await,
        ["logout"] if post => logout(&req),
        ["overview"] if get => match req.session() {
            Some(session) => pages::overview(&req, &session).await,
            None => to_login(&req, "overview"),
        },
        ["endpoint", id] if get => match req.session() {
            Some(session) => pages::endpoint(&req, &session, id).await,
            None => to_login(&req, &format!("endpoint/{id}")),
        },
        ["charts"] if get => match req.session() {
            Some(session) => pages::charts(&req, &session).await,
            None => to_login(&req, "charts"),
        },
        ["settings"] if get => match req.session() {
            Some(session) => pages::settings(&req, &session, "status").await,
            None => to_login(&req, "settings"),
        },
        ["settings", tab @ ("users" | "data")] if get => match req.session() {
            Some(session) => pages::settings(&req, &session, tab).await,
            None => to_login(&req, &format!("settings/{tab}")),
        },
        ["graphs"] if get => match req.session() {
            Some(session) => pages::graphs(&req, &session).await,
            None => to_login(&req, "graphs"),
        },
        ["reports"] if get => match req.session() {
            Some(session) => pages::reports(&req, &session).await,
            None => to_login(&req, "reports"),
        },
        ["exceptions"] if get => match req.session() {
            Some(session) => pages::exceptions(&req, &session).await,
            None => to_login(&req, "exceptions"),
        },
        ["endpoint", id, tab @ ("charts" | "outliers" | "profiler" | "grouped-profiler" | "exceptions")]
            if get =>
        {
            match req.session() {
                Some(session) => pages::endpoint_tab(&req, &session, id, tab).await,
                None => to_login(&req, &format!("endpoint/{id}/{tab}")),
            }
        }
        ["login" | "logout" | "overview" | "endpoint" | "static" | "exceptions" | "charts"
        | "reports", ..] => pages::error(
            &req,
            StatusCode::METHOD_NOT_ALLOWED,
            "This page does not accept that method.",
        ),
        _ => pages::error(
            &req,
            StatusCode::NOT_FOUND,
            "There is no such page in the dashboard.",
        ),
    }
}

/// The answer to a body over [`MAX_BODY`] bytes.
pub(crate) fn too_large() -> Reply {
    json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body is larger than {MAX_BODY} bytes"),
    )
}

fn to_login(req: &Req, next: &str) -> Reply {
    let next = serde_urlencoded::to_string([("next", format!("{}/{next}", req.base()))])
        .unwrap_or_default();
    redirect(&format!("{}/login?{next}", req.base()))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

async fn login(req: &Req) -> Reply {
    let Ok(form) = serde_urlencoded::from_bytes::<LoginForm>(&req.body) else {
        return pages::login(
            req,
            Some("Send the form's username and password."),
            StatusCode::BAD_REQUEST,
        );
    };
    let ip = req.client_ip();
    if let Some(wait) = req.inner.auth.throttled(ip) {
        let minutes = wait.div_ceil(60);
        let mut response = pages::login(
            req,
            Some(&format!(
                "Too many failed logins from your address. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            )),
            StatusCode::TOO_MANY_REQUESTS,
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let inner = req.inner.clone();
    let (username, password) = (form.username.clone(), form.password);
    let checked =
        tokio::task::spawn_blocking(move || inner.auth.login(&inner.store, &username, &password))
            .await;
    let role = match checked {
        Ok(Ok(role)) => role,
        Ok(Err(e)) => {
            return pages::error(
                req,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("Cannot check the login: {e}"),
            )
        }
        Err(_) => {
            return pages::error(
                req,
                StatusCode::SERVICE_UNAVAILABLE,
                "Cannot check the login.",
            )
        }
    };
    let Some(role) = role else {
        req.inner.auth.record_failure(ip);
        return pages::login(
            req,
            Some("Wrong username or password."),
            StatusCode::UNAUTHORIZED,
        );
    };
    req.inner.auth.record_success(ip);
    let (cookie, session) = req.inner.auth.issue(&form.username, role);
    let base = req.base();
    // Only ever redirect inside the dashboard, so a crafted link cannot send users elsewhere.
    let target = form
        .next
        .filter(|n| n.starts_with(&format!("{base}/")) && !n.contains("//") && !n.contains('\\'))
        .unwrap_or_else(|| format!("{base}/overview"));
    let max_age = req.inner.auth.lifetime().as_secs();
    let mut response = redirect(&target);
    let cookies = [
        format!(
            "{SESSION_COOKIE}={cookie}; Path={base}; HttpOnly; SameSite=Strict; Max-Age={max_age}"
        ),
        format!(
            "{CSRF_COOKIE}={}; Path={base}; SameSite=Strict; Max-Age={max_age}",
            session.csrf
        ),
    ];
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

fn logout(req: &Req) -> Reply {
    let base = req.base();
    if let Some(session) = req.session() {
        let form = serde_urlencoded::from_bytes::<LogoutForm>(&req.body).ok();
        let token = form
            .map(|f| f.csrf)
            .or_else(|| csrf_header(req).map(str::to_owned))
            .unwrap_or_default();
        if token != session.csrf {
            return pages::error(
                req,
                StatusCode::FORBIDDEN,
                "The logout form is stale; reload the page and try again.",
            );
        }
    }
    let mut response = redirect(&format!("{base}/login"));
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        if let Ok(v) =
            HeaderValue::from_str(&format!("{name}=; Path={base}; Max-Age=0; SameSite=Strict"))
        {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

pub(crate) fn csrf_header(req: &Req) -> Option<&str> {
    req.headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
}

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Guest => "guest",
    }
}

fn static_asset(file: &str) -> Reply {
    let (body, content_type): (&'static [u8], &str) = match file {
        "fmd.css" => (
            include_bytes!("../assets/static/fmd.css"),
            "text/css; charset=utf-8",
        ),
        "fmd.js" => (
            include_bytes!("../assets/static/fmd.js"),
            "text/javascript; charset=utf-8",
        ),
        "favicon.svg" => (
            include_bytes!("../assets/static/favicon.svg"),
            "image/svg+xml",
        ),
        // Vendored from the npm registry (scripts/vendor-echarts.sh); Apache-2.0, its license
        // next to it in assets/vendor/echarts.
        "echarts.min.js" => (
            include_bytes!("../assets/vendor/echarts/echarts.min.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return json_error(StatusCode::NOT_FOUND, "no such asset"),
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(body.into())
        .unwrap_or_default()
}

pub(crate) fn redirect(location: &str) -> Reply {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .body(Default::default())
        .unwrap_or_default()
}

pub(crate) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Reply {
    let body = serde_json::to_vec(value)
        .unwrap_or_else(|_| b"{\"error\":\"cannot encode the answer\"}".to_vec());
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(body.into())
        .unwrap_or_default()
}

pub(crate) fn json_error(status: StatusCode, message: &str) -> Reply {
    json(status, &serde_json::json!({ "error": message }))
}

pub(crate) fn html(status: StatusCode, body: String) -> Reply {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-frame-options", "DENY")
        .header(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        )
        .body(body.into())
        .unwrap_or_default()
}

/// Runs a store call off the async threads.
pub(crate) async fn blocking<T, F>(req: &Req, f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(&fmd_store::Store) -> Result<T, fmd_store::StoreError> + Send + 'static,
{
    let inner = req.inner.clone();
    match tokio::task::spawn_blocking(move || f(&inner.store)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the database call was interrupted".into()),
    }
}
