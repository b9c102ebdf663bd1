//! The dashboard's requests and responses over the `http` crate's types, as its handlers see
//! them: [`Req`], the response builders, and [`blocking`] for the store's calls.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Response, StatusCode};

use crate::auth::{Role, Session};
use crate::dashboard::Inner;
use crate::error::DbError;
use crate::track::client_ip;

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

/// The answer to a body over [`MAX_BODY`] bytes.
pub(crate) fn too_large() -> Reply {
    json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body is larger than {MAX_BODY} bytes"),
    )
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
pub(crate) async fn blocking<T, F>(req: &Req, f: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: FnOnce(&fmd_store::Store) -> Result<T, fmd_store::StoreError> + Send + 'static,
{
    let inner = req.inner.clone();
    match tokio::task::spawn_blocking(move || f(&inner.store)).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(DbError::Interrupted),
    }
}
