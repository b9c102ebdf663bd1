//! Request tracking around the user's app: a context registered before the app runs, finished
//! with the status code the client receives.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use warp::http::{HeaderMap, Method};
use warp::path::FullPath;
use warp::reject::{
    InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingCookie, MissingHeader,
    PayloadTooLarge, UnsupportedMediaType,
};
use warp::{Filter, Rejection};

use fmd_core::context::{ContextGuard, RequestParts};
use fmd_core::{Config, GroupByFn, Recorder, RequestInfo};

/// What the group-by function and the proxy header need of a request.
struct Parts {
    method: Method,
    path: FullPath,
    query: Option<String>,
    headers: HeaderMap,
}

impl RequestParts for Parts {
    fn method(&self) -> String {
        self.method.as_str().to_owned()
    }

    fn url(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path.as_str()),
            None => self.path.as_str().to_owned(),
        }
    }

    fn headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    }
}

/// What tracking needs from the dashboard, cloned into the filter.
#[derive(Clone)]
pub(crate) struct Tracker {
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) proxy_header: Option<String>,
    pub(crate) group_by: Option<GroupByFn>,
}

impl Tracker {
    pub(crate) fn new(config: &Config, recorder: Arc<Recorder>) -> Self {
        Tracker {
            recorder,
            proxy_header: config.trusted_proxy_header.clone(),
            group_by: config.group_by.clone(),
        }
    }

    /// The filter that runs before the app: registers the request's context on the current
    /// task and extracts the guard that records it. The request's method, path, query and
    /// headers are extracted only when a group-by function or a proxy header needs them, or
    /// while some endpoint is at level 2 or 3 (an outlier stores them): cloning every request's
    /// header map would cost more than the rest of the tracking.
    pub(crate) fn begin(
        self,
    ) -> impl Filter<Extract = (ContextGuard,), Error = std::convert::Infallible>
           + Clone
           + Send
           + Sync
           + 'static {
        let query = warp::query::raw()
            .map(Some)
            .or(warp::any().map(|| None))
            .unify();
        let full = warp::method()
            .and(warp::path::full())
            .and(query)
            .and(warp::header::headers_cloned())
            .map(|method, path, query, headers| {
                Some(Parts {
                    method,
                    path,
                    query,
                    headers,
                })
            })
            // Boxed: its future holds a header map and more, which would otherwise be part of
            // every request's future (and copied with it) even when the parts are not wanted.
            .boxed();
        // With a group-by function or a proxy header every request needs its parts; otherwise
        // only while some endpoint is detailed. One filter type for both, so no boxed future.
        let always = self.group_by.is_some() || self.proxy_header.is_some();
        let wanted = warp::any()
            .and_then(move || {
                std::future::ready(if always || fmd_core::registry::any_detailed() {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                })
            })
            .untuple_one();
        let parts = wanted.and(full).or(warp::any().map(|| None)).unify();
        warp::addr::remote()
            .and(parts)
            .map(move |peer, parts| self.enter(peer, parts))
    }

    fn enter(&self, peer: Option<SocketAddr>, parts: Option<Parts>) -> ContextGuard {
        let Some(parts) = parts else {
            return ContextGuard::enter(self.recorder.clone(), peer.map(|p| p.ip()), None, None);
        };
        let ip = client_ip(self.proxy_header.as_deref(), peer, &parts.headers);
        let group_by = self.group_by.as_ref().and_then(|f| {
            let info = RequestInfo {
                method: parts.method.as_str().to_owned(),
                path: parts.path.as_str().to_owned(),
                query: parts.query.clone(),
                remote_addr: ip,
                headers: parts
                    .headers
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                    .collect(),
            };
            f(&info)
        });
        let parts: Option<Box<dyn RequestParts>> = match fmd_core::registry::any_detailed() {
            true => Some(Box::new(parts)),
            false => None,
        };
        ContextGuard::enter(self.recorder.clone(), ip, group_by, parts)
    }
}

/// The client's address: the first address in `proxy_header` when that is configured and
/// readable, else the peer's.
pub(crate) fn client_ip(
    proxy_header: Option<&str>,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    proxy_header
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .and_then(parse_forwarded_ip)
        .or(peer.map(|p| p.ip()))
}

/// The first address of an `X-Forwarded-For`-style list: `client, proxy1, proxy2`. Accepts a
/// port (`1.2.3.4:5678`, `[::1]:80`) and RFC 7239's `for=` form.
pub(crate) fn parse_forwarded_ip(value: &str) -> Option<IpAddr> {
    let first = value.split(',').next()?.trim();
    let first = first
        .strip_prefix("for=")
        .or_else(|| first.strip_prefix("For="))
        .unwrap_or(first)
        .trim_matches('"');
    if let Ok(ip) = first.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = first.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    first
        .trim_start_matches('[')
        .split(']')
        .next()
        .and_then(|s| s.parse().ok())
}

/// The status warp answers an unhandled rejection with, following warp's own preference: a
/// rejection other than 404/405 wins (the higher status first), then 405, then 404; a custom
/// rejection is a 500.
///
/// warp keeps its mapping private, so it is mirrored here through the public rejection types.
/// One approximation: a custom rejection combined with a 405 from another route reports 405.
pub(crate) fn rejection_status(rejection: &Rejection) -> u16 {
    if rejection.is_not_found() {
        return 404;
    }
    let known: [(bool, u16); 9] = [
        (rejection.find::<MethodNotAllowed>().is_some(), 405),
        (rejection.find::<InvalidHeader>().is_some(), 400),
        (rejection.find::<MissingHeader>().is_some(), 400),
        (rejection.find::<MissingCookie>().is_some(), 400),
        (rejection.find::<InvalidQuery>().is_some(), 400),
        (
            rejection
                .find::<warp::filters::body::BodyDeserializeError>()
                .is_some(),
            400,
        ),
        (rejection.find::<LengthRequired>().is_some(), 411),
        (rejection.find::<PayloadTooLarge>().is_some(), 413),
        (rejection.find::<UnsupportedMediaType>().is_some(), 415),
    ];
    let found: Vec<u16> = known
        .iter()
        .filter(|(hit, _)| *hit)
        .map(|(_, s)| *s)
        .collect();
    if found.is_empty() {
        // Not a plain 404 and no known rejection: a custom one, which warp answers with 500.
        return 500;
    }
    found
        .iter()
        .copied()
        .filter(|s| *s != 405)
        .max()
        .unwrap_or(405)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses() {
        let ip = |s: &str| parse_forwarded_ip(s).map(|i| i.to_string());
        assert_eq!(ip("203.0.113.7, 10.0.0.1").as_deref(), Some("203.0.113.7"));
        assert_eq!(ip("203.0.113.7:4711").as_deref(), Some("203.0.113.7"));
        assert_eq!(
            ip("[2001:db8::1]:80, 10.0.0.1").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(ip("for=\"198.51.100.2\"").as_deref(), Some("198.51.100.2"));
        assert_eq!(ip("unknown"), None);
    }

    #[derive(Debug)]
    struct Custom;
    impl warp::reject::Reject for Custom {}

    #[test]
    fn rejection_statuses_follow_warp() {
        assert_eq!(rejection_status(&warp::reject::not_found()), 404);
        assert_eq!(rejection_status(&warp::reject::custom(Custom)), 500);
    }
}
