//! Settings: the status of this process and its database, users, and pruning.

use http::StatusCode;

use super::{
    bad_request, json_body, parse_id_of, require_admin, require_admin_session, ApiError, Caller,
};
use crate::views::{status_item, user_item, UserItem};
use crate::web::{blocking, json, Reply, Req};

/// `GET status`: version, uptime, database, writer counters and the configuration (secrets
/// hidden).
pub(crate) async fn status(req: &Req) -> Result<Reply, ApiError> {
    let item = status_item(req).await?;
    Ok(json(StatusCode::OK, &item))
}

/// `GET users`: the users stored in the database (not the configuration's guest).
pub(crate) async fn users(req: &Req, caller: &Caller) -> Result<Reply, ApiError> {
    require_admin_session(caller, "see users")?;
    let now = fmd_core::now_micros();
    let (rows, sessions) = blocking(req, move |s| Ok((s.users()?, s.session_counts(now)?))).await?;
    let items: Vec<UserItem> = rows.into_iter().map(|u| user_item(u, &sessions)).collect();
    Ok(json(StatusCode::OK, &items))
}

/// Shortest password the users page accepts.
pub(crate) const MIN_PASSWORD: usize = 8;

/// The body's `password` and `confirm`, which must match; returns the password.
pub(crate) fn new_password(body: &serde_json::Value) -> Result<String, ApiError> {
    let field = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let (password, confirm) = (field("password"), field("confirm"));
    if password.chars().count() < MIN_PASSWORD {
        return Err(bad_request(format!(
            "the password must have at least {MIN_PASSWORD} characters"
        )));
    }
    if password != confirm {
        return Err(bad_request("the passwords do not match"));
    }
    Ok(password.to_owned())
}

/// Hashes a password off the async threads (argon2 is slow by design).
pub(crate) async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "hashing was interrupted"))?
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot hash the password: {e}"),
            )
        })
}

/// `POST users {"username", "password", "confirm", "role": "admin"|"guest"}`.
pub(crate) async fn add_user(req: &Req, caller: &Caller) -> Result<Reply, ApiError> {
    require_admin(req, caller, "add users")?;
    let body = json_body(
        req,
        "{\"username\": ..., \"password\": ..., \"confirm\": ..., \"role\": \"admin\" or \"guest\"}",
    )?;
    let username = body
        .get("username")
        .and_then(|v| v.as_str())
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if username.is_empty() || username.len() > 255 || username.chars().any(char::is_control) {
        return Err(bad_request(
            "the username must be 1 to 255 characters, without control characters",
        ));
    }
    let is_admin = match body.get("role").and_then(|v| v.as_str()) {
        Some("admin") => true,
        Some("guest") => false,
        _ => return Err(bad_request("role must be \"admin\" or \"guest\"")),
    };
    let password = new_password(&body)?;
    if username == req.inner.config.guest_username && !req.inner.config.guest_password.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{username:?} is the configured guest_username; choose another name"),
        ));
    }
    let hashed = hash(password).await?;
    let name = username.clone();
    let added = blocking(req, move |s| {
        Ok(if s.add_user(&name, &hashed, is_admin)? {
            s.user(&name)?
        } else {
            None
        })
    })
    .await?;
    match added {
        Some(user) => Ok(json(StatusCode::CREATED, &user_item(user, &[]))),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("there is already a user {username:?}"),
        )),
    }
}

/// `PUT users/{id}/password {"password", "confirm"}`.
pub(crate) async fn set_password(
    req: &Req,
    caller: &Caller,
    raw_id: &str,
) -> Result<Reply, ApiError> {
    let me = require_admin(req, caller, "change passwords")?;
    let id = parse_id_of(raw_id, "user")?;
    let body = json_body(req, "{\"password\": ..., \"confirm\": ...}")?;
    let password = new_password(&body)?;
    let user = blocking(req, move |s| s.user_by_id(id))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no user with id {id}")))?;
    if crate::auth::password_from_config(&req.inner.config, &user.username) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{:?}'s password comes from the configuration ([authentication] password) and is set again at every start; change it there",
                user.username
            ),
        ));
    }
    let hashed = hash(password).await?;
    // Every session of the user ends, but the one changing its own password.
    let keep = (me.username == user.username).then(|| me.id.clone());
    let kept = keep.clone();
    blocking(req, move |s| s.set_password(id, &hashed, kept.as_deref())).await?;
    let username = user.username.clone();
    req.inner
        .auth
        .forget(|s| s.username == username && Some(&s.id) != keep.as_ref());
    let sessions = [(user.username.clone(), i64::from(keep.is_some()))];
    Ok(json(StatusCode::OK, &user_item(user, &sessions)))
}

/// `DELETE users/{id}`: not yourself, not the last administrator.
pub(crate) async fn delete_user(
    req: &Req,
    caller: &Caller,
    raw_id: &str,
) -> Result<Reply, ApiError> {
    let me = require_admin(req, caller, "delete users")?.username.clone();
    let id = parse_id_of(raw_id, "user")?;
    let user = blocking(req, move |s| s.user_by_id(id))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no user with id {id}")))?;
    if user.username == me {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "you cannot delete yourself; log in as another administrator to do it",
        ));
    }
    match blocking(req, move |s| s.delete_user(id)).await? {
        Some(true) => {
            req.inner.auth.forget(|s| s.username == user.username);
            Ok(json(StatusCode::OK, &serde_json::json!({ "deleted": id })))
        }
        Some(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "this is the last administrator; add another first",
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no user with id {id}"),
        )),
    }
}

/// `DELETE sessions {"username"}`: ends every session of a user (a stored one or the
/// configured guest); an administrator ending its own keeps the one asking.
pub(crate) async fn end_sessions(req: &Req, caller: &Caller) -> Result<Reply, ApiError> {
    let me = require_admin(req, caller, "end sessions")?;
    let body = json_body(req, "{\"username\": ...}")?;
    let username = body
        .get("username")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad_request("send {\"username\": ...}"))?
        .to_owned();
    let keep = (me.username == username).then(|| me.id.clone());
    let (name, kept) = (username.clone(), keep.clone());
    let ended = blocking(req, move |s| s.delete_sessions_of(&name, kept.as_deref())).await?;
    req.inner
        .auth
        .forget(|s| s.username == username && Some(&s.id) != keep.as_ref());
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "username": username, "ended": ended }),
    ))
}

/// `POST prune {"days": N}`: deletes requests older than N days with everything recorded
/// about them.
pub(crate) async fn prune(req: &Req, caller: &Caller) -> Result<Reply, ApiError> {
    require_admin(req, caller, "delete data")?;
    let body = json_body(req, "{\"days\": N}")?;
    let days = match body.get("days").and_then(|d| d.as_u64()) {
        Some(days) if days <= 36_500 => days as i64,
        _ => {
            return Err(bad_request(
                "send {\"days\": N} with N a whole number of days from 0 to 36500",
            ))
        }
    };
    let before = fmd_core::now_micros() - days * 86_400_000_000;
    let deleted = blocking(req, move |s| s.prune(before)).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "days": days, "deleted_requests": deleted }),
    ))
}
