//! Request tracking over the `http` crate's types, named by no web framework: what the warp and
//! tower adapters share. An adapter makes a request's state from its head
//! ([`Tracker::state`]), puts it where the handler finds it, and records it with the status the
//! client received (`RequestState::finish`); a framework that names the matched route lets
//! the adapter learn each route's endpoint ([`Tracker::learn_route`]).
// Each adapter uses its part: with one framework's feature alone, the other's part is unused.
#![cfg_attr(not(all(feature = "warp", feature = "tower")), allow(dead_code))]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use parking_lot::RwLock;

use http::{HeaderMap, Method};

use fmd_core::context::{RequestParts, RequestState};
use fmd_core::{Config, Endpoint, GroupByFn, Recorder, RequestInfo};

/// What tracking reads of a request, borrowed from the adapter's request.
pub(crate) struct Head<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
}

/// A request's method, URL and headers, kept for an outlier.
pub(crate) struct Parts {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
}

impl Parts {
    pub(crate) fn new(head: &Head<'_>) -> Self {
        Parts {
            method: head.method.clone(),
            url: match head.query {
                Some(q) => format!("{}?{q}", head.path),
                None => head.path.to_owned(),
            },
            headers: head.headers.clone(),
        }
    }
}

impl RequestParts for Parts {
    fn method(&self) -> String {
        self.method.as_str().to_owned()
    }

    fn url(&self) -> String {
        self.url.clone()
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

/// What tracking needs from the dashboard; one per app, shared by every request.
pub(crate) struct Tracker {
    recorder: Arc<Recorder>,
    proxy_header: Option<String>,
    group_by: Option<GroupByFn>,
    /// The dashboard's path, `/{custom_link}`: its own requests are not tracked.
    prefix: String,
    routes: Routes,
}

impl Tracker {
    pub(crate) fn new(config: &Config, recorder: Arc<Recorder>) -> Self {
        Tracker {
            recorder,
            proxy_header: config.trusted_proxy_header.clone(),
            group_by: config.group_by.clone(),
            prefix: format!("/{}", config.custom_link),
            routes: Routes::default(),
        }
    }

    /// Whether [`state`](Self::state) needs the request's head for every request: with a
    /// group-by function or a proxy header.
    pub(crate) fn needs_head(&self) -> bool {
        self.group_by.is_some() || self.proxy_header.is_some()
    }

    /// Whether [`state`](Self::state) wants the request's head: always when it
    /// [needs](Self::needs_head) it, otherwise while some endpoint is detailed (an outlier
    /// stores the head). Reading and copying every request's headers would cost more than
    /// the rest of the tracking.
    pub(crate) fn wants_head(&self) -> bool {
        self.needs_head() || fmd_core::registry::any_detailed()
    }

    /// Whether `path` is the dashboard's own.
    pub(crate) fn is_dashboard(&self, path: &str) -> bool {
        path.strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The recorder requests are recorded with.
    pub(crate) fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    /// A request's state as it starts: its client address, group-by value and, while some
    /// endpoint is detailed, its head for an outlier.
    pub(crate) fn state(&self, peer: Option<SocketAddr>, head: Option<Head<'_>>) -> RequestState {
        let Some(head) = head else {
            return RequestState::new(peer.map(|p| p.ip()), None, None);
        };
        let ip = client_ip(self.proxy_header.as_deref(), peer, head.headers);
        let group_by = self.group_by.as_ref().and_then(|f| {
            f(&RequestInfo {
                method: head.method.as_str().to_owned(),
                path: head.path.to_owned(),
                query: head.query.map(str::to_owned),
                remote_addr: ip,
                headers: head
                    .headers
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                    .collect(),
            })
        });
        let parts: Option<Box<dyn RequestParts>> = match fmd_core::registry::any_detailed() {
            true => Some(Box::new(Parts::new(&head))),
            false => None,
        };
        RequestState::new(ip, group_by, parts)
    }

    /// The endpoint learned for `route`, the route pattern the framework matched.
    pub(crate) fn route_endpoint(&self, method: &Method, route: &str) -> Option<&'static Endpoint> {
        self.routes.find(method, route)
    }

    /// Learns that `route` leads to `endpoint`: a request of it reached that handler.
    pub(crate) fn learn_route(&self, method: &Method, route: &str, endpoint: &'static Endpoint) {
        self.routes.learn(method, route, endpoint)
    }
}

/// The endpoint of each method a route serves.
type Methods = Vec<(Method, &'static Endpoint)>;

/// The endpoint each route leads to, learned from requests that reached their handler.
#[derive(Default)]
struct Routes {
    by_route: RwLock<HashMap<Box<str>, Methods>>,
}

impl Routes {
    fn find(&self, method: &Method, route: &str) -> Option<&'static Endpoint> {
        // A panic while holding the lock leaves the map as it was (one insert at a time).
        let map = self.by_route.read();
        map.get(route)?
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, e)| *e)
    }

    fn learn(&self, method: &Method, route: &str, endpoint: &'static Endpoint) {
        if self
            .find(method, route)
            .is_some_and(|known| std::ptr::eq(known, endpoint))
        {
            return;
        }
        let mut map = self.by_route.write();
        let methods = map.entry(route.into()).or_default();
        match methods.iter_mut().find(|(m, _)| m == method) {
            Some((_, known)) => *known = endpoint,
            None => methods.push((method.clone(), endpoint)),
        }
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

    #[test]
    fn the_dashboard_prefix_is_a_whole_segment() {
        let (recorder, _rx) = Recorder::new(1);
        let tracker = Tracker::new(&Config::default(), recorder);
        assert!(tracker.is_dashboard("/dashboard"));
        assert!(tracker.is_dashboard("/dashboard/api/overview"));
        assert!(!tracker.is_dashboard("/dashboards"));
        assert!(!tracker.is_dashboard("/"));
    }
}
