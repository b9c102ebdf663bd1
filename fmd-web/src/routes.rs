//! The dashboard's routes under `/{custom_link}`: one table of method, path and handler for
//! the pages and the JSON API, and the dispatcher over the `http` crate's types that the warp
//! and tower adapters hand their requests to. Every path and method under the prefix gets an
//! answer from the dashboard (JSON for the API, pages otherwise): a path the table knows with
//! a method it does not is a 405 listing the methods it does, anything else a 404.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};

use crate::api::{self, ApiError, Caller};
use crate::auth::Session;
use crate::dashboard::Inner;
use crate::openapi::{self, operations as doc, Operation};
use crate::web::{json, json_error, redirect, Reply, Req};
use crate::{assets, exposition, pages};

/// A handler of a public route: the login form, static files.
type PublicFn = for<'a> fn(&'a Req, &'a [&'a str]) -> BoxFuture<'a, Reply>;
/// A handler of a page: only for a logged-in user, others are sent to the login form.
type PageFn = for<'a> fn(&'a Req, &'a Session, &'a [&'a str]) -> BoxFuture<'a, Reply>;
/// A handler of the JSON API: for a session or the security token, else a 401.
type ApiFn =
    for<'a> fn(&'a Req, &'a Caller, &'a [&'a str]) -> BoxFuture<'a, Result<Reply, ApiError>>;

enum Handler {
    Public(PublicFn),
    Page(PageFn),
    Api(ApiFn),
}

/// A route: its method, its path after the prefix (`{name}` matches one segment, handed to the
/// handler in order), its handler, and for the JSON API what the OpenAPI document says of it.
struct Route {
    method: Method,
    path: &'static str,
    handler: Handler,
    doc: Option<fn() -> Operation>,
}

const fn public(method: Method, path: &'static str, f: PublicFn) -> Route {
    Route {
        method,
        path,
        handler: Handler::Public(f),
        doc: None,
    }
}

const fn page(path: &'static str, f: PageFn) -> Route {
    Route {
        method: Method::GET,
        path,
        handler: Handler::Page(f),
        doc: None,
    }
}

const fn api(method: Method, path: &'static str, doc: fn() -> Operation, f: ApiFn) -> Route {
    Route {
        method,
        path,
        handler: Handler::Api(f),
        doc: Some(doc),
    }
}

use pages::{charts as chart_pages, endpoints as endpoint_pages};

/// Every route of the dashboard.
static ROUTES: &[Route] = &[
    public(Method::GET, "", |r, _| {
        Box::pin(async { redirect(&format!("{}/overview", r.base())) })
    }),
    public(Method::GET, "static/{file}", |_, p| {
        Box::pin(async { assets::static_asset(p[0]) })
    }),
    public(Method::GET, "login", |r, _| {
        Box::pin(async {
            match r.session().await {
                Ok(Some(_)) => redirect(&format!("{}/overview", r.base())),
                Ok(None) => pages::login(r, None, StatusCode::OK),
                Err(e) => pages::unavailable(r, &e),
            }
        })
    }),
    public(Method::POST, "login", |r, _| {
        Box::pin(pages::login::login(r))
    }),
    public(Method::POST, "logout", |r, _| {
        Box::pin(pages::login::logout(r))
    }),
    // Its own access rule: the security token, a login, or anyone with `metrics_public`.
    public(Method::GET, "metrics", |r, _| {
        Box::pin(exposition::scrape(r))
    }),
    Route {
        method: Method::GET,
        path: "api/openapi.json",
        handler: Handler::Public(|r, _| Box::pin(async { api_document(r) })),
        doc: Some(doc::document),
    },
    page("overview", |r, s, _| {
        Box::pin(endpoint_pages::overview(r, s))
    }),
    page("endpoint/{id}", |r, s, p| {
        Box::pin(endpoint_pages::endpoint(r, s, p[0]))
    }),
    page("endpoint/{id}/requests", |r, s, p| {
        Box::pin(endpoint_pages::requests(r, s, p[0]))
    }),
    page("endpoint/{id}/charts", |r, s, p| {
        Box::pin(endpoint_pages::endpoint_tab(r, s, p[0], "charts"))
    }),
    page("endpoint/{id}/outliers", |r, s, p| {
        Box::pin(endpoint_pages::endpoint_tab(r, s, p[0], "outliers"))
    }),
    page("endpoint/{id}/profiler", |r, s, p| {
        Box::pin(endpoint_pages::endpoint_tab(r, s, p[0], "profiler"))
    }),
    page("endpoint/{id}/grouped-profiler", |r, s, p| {
        Box::pin(endpoint_pages::endpoint_tab(r, s, p[0], "grouped-profiler"))
    }),
    page("endpoint/{id}/exceptions", |r, s, p| {
        Box::pin(endpoint_pages::endpoint_tab(r, s, p[0], "exceptions"))
    }),
    page("charts", |r, s, _| Box::pin(chart_pages::charts(r, s))),
    page("graphs", |r, s, _| Box::pin(chart_pages::graphs(r, s))),
    page("reports", |r, s, _| Box::pin(pages::reports::reports(r, s))),
    page("exceptions", |r, s, _| {
        Box::pin(pages::exceptions::exceptions(r, s))
    }),
    page("alerts", |r, s, _| Box::pin(pages::alerts::alerts(r, s))),
    page("settings", |r, s, _| {
        Box::pin(pages::settings::settings(r, s, "status"))
    }),
    page("settings/users", |r, s, _| {
        Box::pin(pages::settings::settings(r, s, "users"))
    }),
    page("settings/data", |r, s, _| {
        Box::pin(pages::settings::settings(r, s, "data"))
    }),
    api(Method::GET, "api/overview", doc::overview, |r, _, _| {
        Box::pin(api::endpoints::overview(r))
    }),
    api(Method::GET, "api/instances", doc::instances, |r, _, _| {
        Box::pin(api::endpoints::instances(r))
    }),
    api(
        Method::GET,
        "api/endpoints/{id}/requests",
        doc::requests,
        |r, _, p| Box::pin(api::endpoints::requests(r, p[0])),
    ),
    api(
        Method::PUT,
        "api/endpoints/{id}/level",
        doc::set_level,
        |r, c, p| Box::pin(api::endpoints::set_level(r, c, p[0])),
    ),
    api(
        Method::DELETE,
        "api/endpoints/{id}/data",
        doc::delete_data,
        |r, c, p| Box::pin(api::endpoints::delete_data(r, c, p[0])),
    ),
    api(
        Method::GET,
        "api/endpoints/{id}/outliers",
        doc::outliers,
        |r, _, p| Box::pin(api::profiles::outliers(r, p[0])),
    ),
    api(
        Method::GET,
        "api/endpoints/{id}/profiler",
        doc::profiler,
        |r, _, p| Box::pin(api::profiles::profiler(r, p[0])),
    ),
    api(
        Method::GET,
        "api/endpoints/{id}/grouped_profiler",
        doc::grouped_profiler,
        |r, _, p| Box::pin(api::profiles::grouped(r, p[0])),
    ),
    api(
        Method::GET,
        "api/endpoints/{id}/exceptions",
        doc::endpoint_exceptions,
        |r, _, p| Box::pin(api::exceptions::endpoint_exceptions(r, p[0])),
    ),
    api(
        Method::GET,
        "api/endpoints/{id}/charts/{kind}",
        doc::endpoint_chart,
        |r, _, p| Box::pin(api::charts::endpoint_chart(r, p[0], p[1])),
    ),
    api(
        Method::GET,
        "api/endpoints/{id}/download/{what}",
        doc::download,
        |r, _, p| Box::pin(api::downloads::download(r, p[0], p[1])),
    ),
    api(
        Method::GET,
        "api/functions/{id}/source",
        doc::source,
        |r, _, p| Box::pin(api::exceptions::source(r, p[0])),
    ),
    api(Method::GET, "api/exceptions", doc::exceptions, |r, _, _| {
        Box::pin(api::exceptions::exceptions(r, None))
    }),
    api(
        Method::DELETE,
        "api/exceptions/{id}",
        doc::delete_exception_group,
        |r, c, p| Box::pin(api::exceptions::delete_group(r, c, p[0])),
    ),
    api(
        Method::GET,
        "api/charts/{kind}",
        doc::app_chart,
        |r, _, p| Box::pin(api::charts::app_chart(r, p[0])),
    ),
    api(Method::GET, "api/graphs", doc::graphs, |r, _, _| {
        Box::pin(api::charts::graphs(r))
    }),
    api(
        Method::GET,
        "api/graphs/{id}/data",
        doc::graph_data,
        |r, _, p| Box::pin(api::charts::graph_data(r, p[0])),
    ),
    api(Method::GET, "api/reports", doc::reports, |r, _, _| {
        Box::pin(api::reports::report(r))
    }),
    api(Method::GET, "api/alerts", doc::alerts, |r, _, _| {
        Box::pin(api::alerts::alerts(r))
    }),
    api(
        Method::GET,
        "api/alerts/history",
        doc::alert_history,
        |r, _, _| Box::pin(api::alerts::history(r)),
    ),
    api(
        Method::POST,
        "api/alerts/test",
        doc::test_alert,
        |r, c, _| Box::pin(api::alerts::test(r, c)),
    ),
    api(
        Method::PUT,
        "api/endpoints/{id}/alerts",
        doc::set_thresholds,
        |r, c, p| Box::pin(api::alerts::set_thresholds(r, c, p[0])),
    ),
    api(Method::GET, "api/status", doc::status, |r, _, _| {
        Box::pin(api::settings::status(r))
    }),
    api(Method::POST, "api/prune", doc::prune, |r, c, _| {
        Box::pin(api::settings::prune(r, c))
    }),
    api(Method::GET, "api/users", doc::users, |r, c, _| {
        Box::pin(api::settings::users(r, c))
    }),
    api(Method::POST, "api/users", doc::add_user, |r, c, _| {
        Box::pin(api::settings::add_user(r, c))
    }),
    api(
        Method::PUT,
        "api/users/{id}/password",
        doc::set_password,
        |r, c, p| Box::pin(api::settings::set_password(r, c, p[0])),
    ),
    api(
        Method::DELETE,
        "api/users/{id}",
        doc::delete_user,
        |r, c, p| Box::pin(api::settings::delete_user(r, c, p[0])),
    ),
    api(
        Method::DELETE,
        "api/sessions",
        doc::end_sessions,
        |r, c, _| Box::pin(api::settings::end_sessions(r, c)),
    ),
];

impl Route {
    /// The segments `{name}` matched, if the route's path is `segments`.
    fn matches<'s>(&self, segments: &[&'s str]) -> Option<Vec<&'s str>> {
        let mut pattern = self.path.split('/').filter(|s| !s.is_empty());
        let mut params = Vec::new();
        for segment in segments {
            match pattern.next()? {
                p if p.starts_with('{') => params.push(*segment),
                p if p == *segment => {}
                _ => return None,
            }
        }
        pattern.next().is_none().then_some(params)
    }

    /// Whether it answers `method`: a GET route answers HEAD too.
    fn answers(&self, method: &Method) -> bool {
        self.method == method || (self.method == Method::GET && method == Method::HEAD)
    }
}

/// Longest path (after the prefix) and query the dashboard answers; a longer one gets a 414.
/// (hyper answers URIs over 64 KiB itself, before any service sees them.)
pub(crate) const MAX_URI: usize = 8 * 1024;

/// The dashboard's answer to one request under its prefix, whatever the framework.
///
/// `tail` is the path after the prefix. `body` is at most [`MAX_BODY`](crate::web::MAX_BODY)
/// bytes: the adapters read it with [`read_body`](crate::web::read_body), which answers a
/// longer one.
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
        session: OnceLock::new(),
    };
    let segments: Vec<&str> = tail.split('/').filter(|s| !s.is_empty()).collect();
    let is_api = segments.first() == Some(&"api");
    if tail.len() + req.query.as_ref().map_or(0, String::len) > MAX_URI {
        let message = format!("the path and query are longer than {MAX_URI} bytes");
        return match is_api {
            true => json_error(StatusCode::URI_TOO_LONG, &message),
            false => pages::error(&req, StatusCode::URI_TOO_LONG, &message),
        };
    }
    let mut allowed: Vec<&Method> = Vec::new();
    for route in ROUTES {
        let Some(params) = route.matches(&segments) else {
            continue;
        };
        if !route.answers(&req.method) {
            allowed.push(&route.method);
            continue;
        }
        return match &route.handler {
            Handler::Public(f) => f(&req, &params).await,
            Handler::Page(f) => match req.session().await {
                Ok(Some(session)) => f(&req, &session, &params).await,
                Ok(None) => to_login(&req, &segments.join("/")),
                Err(e) => pages::unavailable(&req, &e),
            },
            Handler::Api(f) => match api::caller(&req).await {
                Ok(caller) => f(&req, &caller, &params).await,
                Err(e) => Err(e),
            }
            .unwrap_or_else(ApiError::reply),
        };
    }
    if !is_api {
        // For the menu of a logged-in user; a database that is down only loses the menu.
        let _ = req.session().await;
    }
    let mut reply = match (allowed.is_empty(), is_api) {
        (false, true) => json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{} is not allowed on this route", req.method),
        ),
        (false, false) => pages::error(
            &req,
            StatusCode::METHOD_NOT_ALLOWED,
            "This page does not accept that method.",
        ),
        (true, true) => json_error(StatusCode::NOT_FOUND, "no such API route"),
        (true, false) => pages::error(
            &req,
            StatusCode::NOT_FOUND,
            "There is no such page in the dashboard.",
        ),
    };
    if !allowed.is_empty() {
        let allow: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
        if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
            reply.headers_mut().insert(header::ALLOW, v);
        }
    }
    reply
}

/// The routes under `api/` that are described: method, path after `api/`, and description.
fn described() -> impl Iterator<Item = (&'static Method, &'static str, Operation)> {
    ROUTES.iter().filter_map(|route| {
        let path = route.path.strip_prefix("api/")?;
        Some((&route.method, path, (route.doc?)()))
    })
}

/// The OpenAPI document of the routes under `api/`.
fn api_document(req: &Req) -> Reply {
    let doc = openapi::document(&req.base(), env!("CARGO_PKG_VERSION"), described());
    json(StatusCode::OK, &doc)
}

fn to_login(req: &Req, next: &str) -> Reply {
    let next = serde_urlencoded::to_string([("next", format!("{}/{next}", req.base()))])
        .unwrap_or_default();
    redirect(&format!("{}/login?{next}", req.base()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document describes exactly the routes under `api/`: a route cannot go undescribed,
    /// nor a description outlive its route.
    #[test]
    fn the_api_document_lists_every_api_route_and_only_those() {
        for route in ROUTES {
            assert_eq!(
                route.path.starts_with("api/"),
                route.doc.is_some(),
                "{} {}: routes under api/ are described, others not",
                route.method,
                route.path
            );
        }
        let doc = openapi::document("/dash", "1", described());
        let mut documented: Vec<String> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                documented.push(format!("{} api{path}", method.to_uppercase()));
                let names: Vec<&str> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                let wanted: Vec<&str> = openapi::path_params(path).collect();
                assert_eq!(names, wanted, "{method} {path}'s path parameters");
            }
        }
        let mut api: Vec<String> = ROUTES
            .iter()
            .filter(|r| r.path.starts_with("api/"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        documented.sort();
        api.sort();
        assert_eq!(documented, api);
        assert_eq!(doc["servers"][0]["url"], "/dash/api");
        assert_eq!(api.len(), 30);
    }
}
