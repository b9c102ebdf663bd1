//! Logging in and out: the form's post, the session and CSRF cookies, the login throttle.

use http::{header, HeaderValue, StatusCode};
use serde::Deserialize;

use super::error;
use crate::web::{
    blocking, csrf_header, redirect, set_cookie, Reply, Req, CSRF_COOKIE, SESSION_COOKIE,
};

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// Whether a browser sent the form from another site (login CSRF: logging a victim in to the
/// attacker's account). Browsers say where a post comes from in `Sec-Fetch-Site`, older ones
/// only in `Origin`; a client that sends neither is not a browser acting for someone else.
fn cross_site(req: &Req) -> bool {
    let header = |name| req.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = header("origin") else {
        return false;
    };
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    // Behind a proxy the host the browser used may only be in X-Forwarded-Host.
    let hosts = [header("host"), header("x-forwarded-host")];
    let known: Vec<&str> = hosts.into_iter().flatten().collect();
    !known.is_empty() && !known.iter().any(|h| h.eq_ignore_ascii_case(origin_host))
}

/// The answer to a login refused for `wait`: a 429 with `Retry-After`.
fn throttled(req: &Req, wait: std::time::Duration) -> Reply {
    let seconds = wait.as_secs().max(1);
    let message = if seconds < 90 {
        format!("Too many failed logins. Try again in {seconds} seconds.")
    } else {
        let minutes = seconds.div_ceil(60);
        format!("Too many failed logins. Try again in {minutes} minutes.")
    };
    let mut response = super::login(req, Some(&message), StatusCode::TOO_MANY_REQUESTS);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

pub(crate) async fn login(req: &Req) -> Reply {
    if cross_site(req) {
        return error(
            req,
            StatusCode::FORBIDDEN,
            "The login form was sent from another site. Open the dashboard's login page and log in there.",
        );
    }
    let Ok(form) = serde_urlencoded::from_bytes::<LoginForm>(&req.body) else {
        return super::login(
            req,
            Some("Send the form's username and password."),
            StatusCode::BAD_REQUEST,
        );
    };
    let ip = req.client_ip();
    warn_of_untrusted_proxy(req);
    // Counted before the (slow) check, so parallel guesses cannot all be checked.
    let attempt = match req.inner.auth.throttle.begin(ip, &form.username) {
        Ok(attempt) => attempt,
        Err(wait) => return throttled(req, wait),
    };
    let inner = req.inner.clone();
    let (username, password) = (form.username.clone(), form.password);
    let checked = blocking(req, move |s| inner.auth.login(s, &username, &password)).await;
    let role = match checked {
        Ok(Some(role)) => role,
        Ok(None) => {
            attempt.failed();
            return super::login(
                req,
                Some("Wrong username or password."),
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(e) => {
            return error(
                req,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("Cannot check the login: {e}"),
            )
        }
    };
    attempt.succeeded();
    let inner = req.inner.clone();
    let username = form.username.clone();
    let (token, session) = match blocking(req, move |s| inner.auth.open(s, &username, role)).await {
        Ok(opened) => opened,
        Err(e) => return super::unavailable(req, &e),
    };
    let base = req.base();
    // Only ever redirect inside the dashboard, so a crafted link cannot send users elsewhere.
    let target = form
        .next
        .filter(|n| n.starts_with(&format!("{base}/")) && !n.contains("//") && !n.contains('\\'))
        .unwrap_or_else(|| format!("{base}/overview"));
    let lifetime = Some(req.inner.auth.lifetime());
    let mut response = redirect(&target);
    set_cookie(&mut response, req, (SESSION_COOKIE, &token), true, lifetime);
    // Readable by the page's script, which echoes it in X-CSRF-Token.
    set_cookie(
        &mut response,
        req,
        (CSRF_COOKIE, &session.csrf),
        false,
        lifetime,
    );
    response
}

/// Says once per process that logins come through a proxy whose header fmd was not told to
/// trust: every client then has the proxy's address, and the throttle counts them as one.
fn warn_of_untrusted_proxy(req: &Req) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .find(|h| req.headers.contains_key(**h));
    if let (None, Some(name)) = (&req.inner.config.trusted_proxy_header, forwarded) {
        WARNED.call_once(|| {
            fmd_core::warn(&format!(
                "dashboard logins arrive with a {name} header but trusted_proxy_header is not set: \
                 the login throttle counts every client behind the proxy as one address. Set \
                 [dashboard] trusted_proxy_header = \"{name}\" if the proxy overwrites it."
            ))
        });
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(req: &Req) -> Reply {
    let base = req.base();
    let session = match req.session().await {
        Ok(session) => session,
        Err(e) => return super::unavailable(req, &e),
    };
    if let Some(session) = session {
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
        let inner = req.inner.clone();
        if let Err(e) = blocking(req, move |s| inner.auth.end(s, &session.id)).await {
            return super::unavailable(req, &e);
        }
    }
    let mut response = redirect(&format!("{base}/login"));
    set_cookie(&mut response, req, (SESSION_COOKIE, ""), true, None);
    set_cookie(&mut response, req, (CSRF_COOKIE, ""), false, None);
    response
}
