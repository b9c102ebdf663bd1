//! The JSON API under `/{custom_link}/api`, by area. Every answer is JSON; errors are
//! `{"error": "..."}` with a 4xx status (503 while the database is unavailable).

pub(crate) mod alerts;
pub(crate) mod charts;
pub(crate) mod downloads;
pub(crate) mod endpoints;
pub(crate) mod exceptions;
pub(crate) mod profiles;
pub(crate) mod reports;
pub(crate) mod settings;

use http::StatusCode;

use crate::auth::{Role, Session};
use crate::charts::Range;
use crate::error::{BadRequest, DbError};
use crate::web::{blocking, csrf_header, json_error, Reply, Req};

/// Who calls the API.
pub(crate) enum Caller {
    /// A logged-in user.
    Session(Session),
    /// The read-only security token.
    Token,
}

/// An API error: its status and the message of the `{"error": ...}` body.
pub(crate) struct ApiError(StatusCode, String);

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError(status, message.into())
    }

    /// The `{"error": ...}` answer.
    pub(crate) fn reply(self) -> Reply {
        json_error(self.0, &self.1)
    }
}

impl From<DbError> for ApiError {
    fn from(why: DbError) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database is unavailable ({why}); recorded requests are kept and written when it returns"),
        )
    }
}

impl From<BadRequest> for ApiError {
    fn from(why: BadRequest) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, why.0)
    }
}

/// The caller: the bearer token when one is sent, else the session; a 401 without either.
pub(crate) async fn caller(req: &Req) -> Result<Caller, ApiError> {
    if let Some(token) = req.bearer() {
        return if req.inner.auth.bearer_ok(token) {
            Ok(Caller::Token)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the bearer token is not the configured security_token",
            ))
        };
    }
    req.session().await?.map(Caller::Session).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "log in at {}/login, or send `Authorization: Bearer <security_token>`",
                req.base()
            ),
        )
    })
}

/// The date range of a chart request (`from`, `to`), or a 400 saying what to send.
pub(crate) fn chart_range(req: &Req) -> Result<Range, ApiError> {
    if req.query_param("range").is_some() {
        return Err(bad_request(
            "range applies to the timeline and custom graphs; send from and to (YYYY-MM-DD) for this answer",
        ));
    }
    Ok(Range::parse(
        req.query_param("from").as_deref(),
        req.query_param("to").as_deref(),
        fmd_core::now_micros(),
        req.inner.config.tz(),
    )?)
}

/// The window of a timeline request (`range`, or `from`/`to`), ending at `now`, or a 400 saying
/// what to send.
pub(crate) fn timeline_window(
    req: &Req,
    now: i64,
) -> Result<crate::charts::timeline::Window, ApiError> {
    Ok(crate::charts::timeline::Window::parse(
        req.query_param("range").as_deref(),
        req.query_param("from").as_deref(),
        req.query_param("to").as_deref(),
        now,
        req.inner.config.tz(),
    )?)
}

/// Refuses anyone but a logged-in administrator (no CSRF check: for reading); `what`
/// completes "only administrators can ...".
pub(crate) fn require_admin_session<'a>(
    caller: &'a Caller,
    what: &str,
) -> Result<&'a Session, ApiError> {
    match caller {
        Caller::Token => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the security token gives read-only access; log in as an administrator",
        )),
        Caller::Session(s) if s.role == Role::Admin => Ok(s),
        Caller::Session(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("only administrators can {what}"),
        )),
    }
}

/// Refuses a change unless an administrator's session asks for it with its CSRF token; `what`
/// completes "only administrators can ...".
pub(crate) fn require_admin<'a>(
    req: &Req,
    caller: &'a Caller,
    what: &str,
) -> Result<&'a Session, ApiError> {
    let session = require_admin_session(caller, what)?;
    if csrf_header(req) != Some(session.csrf.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "missing or wrong X-CSRF-Token header: send the value of the fmd_csrf cookie",
        ));
    }
    Ok(session)
}

/// The request's body as JSON, or a 400 saying to send `expected`.
pub(crate) fn json_body(req: &Req, expected: &str) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(&req.body)
        .map_err(|e| bad_request(format!("the body is not JSON ({e}); send {expected}")))
}

/// A path segment that must be an endpoint's database id.
pub(crate) fn parse_id(raw: &str) -> Result<i64, ApiError> {
    parse_id_of(raw, "endpoint")
}

/// A path segment that must be the database id of a `what`.
pub(crate) fn parse_id_of(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the {what} id must be a positive whole number, not {raw:?}"),
        )
    })
}

/// `offset` (default 0) and `limit` (default 50, at most 1000) from the query string.
pub(crate) fn paging(query: Option<&str>) -> Result<(i64, i64), BadRequest> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| BadRequest(format!("cannot read the query string: {e}")))?;
    let mut offset = 0;
    let mut limit = 50;
    for (key, value) in pairs {
        let parsed = value.parse::<i64>();
        match key.as_str() {
            "offset" => match parsed {
                Ok(v) if v >= 0 => offset = v,
                _ => {
                    return Err(BadRequest(format!(
                        "offset must be a whole number >= 0, not {value:?}"
                    )))
                }
            },
            "limit" => match parsed {
                Ok(v) if (1..=1000).contains(&v) => limit = v,
                _ => {
                    return Err(BadRequest(format!(
                        "limit must be a whole number from 1 to 1000, not {value:?}"
                    )))
                }
            },
            _ => {}
        }
    }
    Ok((offset, limit))
}

/// The status classes a request list can be narrowed to, with their codes.
pub(crate) const STATUS_CLASSES: [(&str, (i32, i32)); 5] = [
    ("2xx", (200, 299)),
    ("3xx", (300, 399)),
    ("4xx", (400, 499)),
    ("5xx", (500, 599)),
    ("errors", (400, 999)),
];

/// Which requests a list shows: `sort` (`newest`, the default, or `slowest`), `min_ms` (at
/// least this many milliseconds) and `status` (one of [`STATUS_CLASSES`]); a 400 saying what
/// to send otherwise.
pub(crate) fn request_view(req: &Req) -> Result<fmd_store::RequestView, BadRequest> {
    let mut view = fmd_store::RequestView::default();
    match req.query_param("sort").as_deref() {
        None | Some("") | Some("newest") => {}
        Some("slowest") => view.slowest_first = true,
        Some(other) => {
            return Err(BadRequest(format!(
                "sort must be newest or slowest, not {other:?}"
            )))
        }
    }
    if let Some(raw) = req.query_param("min_ms").filter(|v| !v.is_empty()) {
        let ms = raw
            .parse::<f64>()
            .ok()
            .filter(|ms| ms.is_finite() && (0.0..=1e12).contains(ms))
            .ok_or_else(|| {
                BadRequest(format!(
                    "min_ms must be a number of milliseconds >= 0, not {raw:?}"
                ))
            })?;
        view.min_duration_us = (ms * 1000.0).round() as i64;
    }
    if let Some(raw) = req
        .query_param("status")
        .filter(|v| !v.is_empty() && v != "all")
    {
        view.status = STATUS_CLASSES
            .iter()
            .find(|(name, _)| *name == raw)
            .map(|(_, codes)| *codes)
            .ok_or_else(|| {
                let names: Vec<&str> = STATUS_CLASSES.iter().map(|c| c.0).collect();
                BadRequest(format!(
                    "status must be all, {}, not {raw:?}",
                    names.join(", ")
                ))
            })?;
    }
    Ok(view)
}

/// The `instance` query parameter: an instance id, checked to exist.
pub(crate) async fn instance_filter(req: &Req) -> Result<Option<i64>, ApiError> {
    let Some(raw) = req.query_param("instance") else {
        return Ok(None);
    };
    let id = raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("instance must be an instance id (a positive whole number, see GET instances), not {raw:?}"),
        )
    })?;
    let known = blocking(req, |s| s.instances())
        .await?
        .iter()
        .any(|i| i.id == id);
    if !known {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no instance with id {id} (see GET instances)"),
        ));
    }
    Ok(Some(id))
}

/// The endpoint with this id, or a 404.
pub(crate) async fn endpoint(req: &Req, id: i64) -> Result<fmd_store::EndpointRow, ApiError> {
    blocking(req, move |s| s.endpoint(id))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no endpoint with id {id}")))
}

/// A 400 saying `why`.
pub(crate) fn bad_request(why: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, why)
}
