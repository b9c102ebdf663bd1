//! The dashboard's requests and responses over the `http` crate's types, as its handlers see
//! them: [`Req`], reading its body, the response builders, and [`blocking`] for the store's
//! calls.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use cookie::{Cookie, SameSite};
use futures_util::{Stream, StreamExt};
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};

use crate::auth::{session_id, Role, Session};
use crate::dashboard::Inner;
use crate::error::DbError;
use crate::track::client_ip;

/// Largest request body the dashboard reads (login forms, level changes).
pub(crate) const MAX_BODY: u64 = 64 * 1024;

/// A response of the dashboard, before an adapter gives it its framework's body type.
pub(crate) type Reply = Response<crate::body::DashboardBody>;

/// One request to the dashboard, as the handlers see it.
pub(crate) struct Req {
    pub(crate) inner: Arc<Inner>,
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) query: Option<String>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) body: Bytes,
    /// The session, once [`Req::session`] looked it up.
    pub(crate) session: OnceLock<Option<Session>>,
}

impl Req {
    /// The value of cookie `name`.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .and_then(|c| c.value_raw())
    }

    /// The logged-in user, from the session cookie of a session that has not ended: at most
    /// one look-up in the store per request (none when this instance looked it up lately).
    pub(crate) async fn session(&self) -> Result<Option<Session>, DbError> {
        if let Some(known) = self.session.get() {
            return Ok(known.clone());
        }
        let found = match self.cookie(SESSION_COOKIE) {
            None => None,
            Some(token) => {
                let id = session_id(token);
                match self.inner.auth.cached(&id) {
                    Some(known) => known,
                    None => {
                        let inner = self.inner.clone();
                        blocking(self, move |s| inner.auth.look_up(s, id)).await?
                    }
                }
            }
        };
        Ok(self.session.get_or_init(|| found).clone())
    }

    /// The session if [`Req::session`] has found one, for pages drawn without looking (errors).
    pub(crate) fn known_session(&self) -> Option<&Session> {
        self.session.get()?.as_ref()
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

/// Adds a `Set-Cookie` for the dashboard's path to `reply`: `SameSite=Strict`, `HttpOnly` when
/// scripts need not read it, for `max_age`, or removing the cookie when that is `None`.
pub(crate) fn set_cookie(
    reply: &mut Reply,
    req: &Req,
    (name, value): (&str, &str),
    http_only: bool,
    max_age: Option<std::time::Duration>,
) {
    let mut cookie = Cookie::build((name, value))
        .path(req.base())
        .http_only(http_only)
        .same_site(SameSite::Strict);
    cookie = match max_age {
        Some(age) => cookie.max_age(cookie::time::Duration::seconds(
            i64::try_from(age.as_secs()).unwrap_or(i64::MAX),
        )),
        None => cookie.removal(),
    };
    if let Ok(v) = HeaderValue::from_str(&cookie.build().to_string()) {
        reply.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Longest body read to its end to keep the connection open after a 413; a longer one is
/// answered without reading it, and the connection closed.
pub(crate) const DRAIN_LIMIT: u64 = 16 * MAX_BODY;

/// The answer to a body over [`MAX_BODY`] bytes; `closing` says the connection will close
/// (the body was not read to its end).
pub(crate) fn too_large(closing: bool) -> Reply {
    let mut reply = json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body is larger than {MAX_BODY} bytes"),
    );
    if closing {
        reply
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    reply
}

/// A request's body of at most [`MAX_BODY`] bytes, whatever the framework's body type, or the
/// answer to give instead. A longer body of up to [`DRAIN_LIMIT`] bytes is read to its end and
/// dropped before the 413, so the client can send its next request on the same connection.
pub(crate) async fn read_body<B, E>(
    declared: Option<u64>,
    body: impl Stream<Item = Result<B, E>>,
) -> Result<Bytes, Reply>
where
    B: Buf,
    E: std::fmt::Display,
{
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(too_large(true));
    }
    let mut body = std::pin::pin!(body);
    let (mut kept, mut seen) = (BytesMut::new(), 0u64);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            json_error(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the body: {e}"),
            )
        })?;
        seen += chunk.remaining() as u64;
        if seen > DRAIN_LIMIT {
            return Err(too_large(true));
        }
        if seen <= MAX_BODY {
            kept.put(chunk);
        }
    }
    if seen > MAX_BODY {
        return Err(too_large(false));
    }
    Ok(kept.freeze())
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
