//! Logging in and out: the form's post, the session and CSRF cookies, the login throttle.

use http::{header, HeaderValue, StatusCode};
use serde::Deserialize;

use super::error;
use crate::web::{csrf_header, redirect, Reply, Req, CSRF_COOKIE, SESSION_COOKIE};

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

pub(crate) async fn login(req: &Req) -> Reply {
    let Ok(form) = serde_urlencoded::from_bytes::<LoginForm>(&req.body) else {
        return super::login(
            req,
            Some("Send the form's username and password."),
            StatusCode::BAD_REQUEST,
        );
    };
    let ip = req.client_ip();
    if let Some(wait) = req.inner.auth.throttled(ip) {
        let minutes = wait.div_ceil(60);
        let mut response = super::login(
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
            return error(
                req,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("Cannot check the login: {e}"),
            )
        }
        Err(_) => {
            return error(
                req,
                StatusCode::SERVICE_UNAVAILABLE,
                "Cannot check the login.",
            )
        }
    };
    let Some(role) = role else {
        req.inner.auth.record_failure(ip);
        return super::login(
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

pub(crate) fn logout(req: &Req) -> Reply {
    let base = req.base();
    if let Some(session) = req.session() {
        let form = serde_urlencoded::from_bytes::<LogoutForm>(&req.body).ok();
        let token = form
            .map(|f| f.csrf)
            .or_else(|| csrf_header(req).map(str::to_owned))
            .unwrap_or_default();
        if token != session.csrf {
            return error(
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
