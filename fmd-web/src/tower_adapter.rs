//! The tower adapter: [`Dashboard::layer`] tracks every request of the service it wraps (an
//! axum `Router`, a hyper or tonic service), [`Dashboard::service`] is the dashboard as a
//! tower `Service`, and with feature `axum`, [`Dashboard::router`] is it as an axum `Router`.
//!
//! The layer owns each request's future, so the handler finds its request's state in a scope
//! around that future (`fmd_core::context::Scoped`); the request is recorded when the response
//! is ready or, for a cancelled or panicking request, when the future is dropped.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use futures_util::TryStreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyDataStream;

use fmd_core::context::{Handed, Scoped};
use fmd_core::Endpoint;

use crate::dashboard::{Dashboard, Inner};
use crate::routes;
use crate::track::{Head, Tracker};
use crate::web;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Dashboard {
    /// A tower [`Layer`](tower_layer::Layer) that tracks every request of the service it wraps,
    /// except the dashboard's own (under `/{custom_link}`).
    ///
    /// With axum, add it after the routes and the dashboard's [`router`](Self::router), and
    /// serve with `into_make_service_with_connect_info::<SocketAddr>()` so the client's address
    /// is known. axum applies a router's layer to each route, so a request that axum rejects
    /// before the handler runs (a body that does not parse) still counts for the endpoint of
    /// its route, once a request of that route has reached its handler.
    ///
    /// Any other tower service (hyper, tonic) takes it too, e.g. with
    /// `tower::ServiceBuilder::new().layer(dashboard.layer()).service(app)`; insert the client's
    /// `SocketAddr` into each request's extensions to record it.
    ///
    /// ```
    /// # #[cfg(feature = "axum")]
    /// # async fn run(dashboard: fmd_web::Dashboard) -> std::io::Result<()> {
    /// use std::net::SocketAddr;
    /// use axum::{routing::get, Router};
    /// let app = Router::new()
    ///     .route("/hello", get(|| async { "hello" }))
    ///     .merge(dashboard.router())
    ///     .layer(dashboard.layer());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
    /// # }
    /// ```
    pub fn layer(&self) -> TrackLayer {
        TrackLayer {
            tracker: self.inner.tracker.clone(),
        }
    }

    /// The dashboard (pages and JSON API) as a tower `Service`, for requests whose path starts
    /// with `/{custom_link}`; any other path is answered 404. Its responses' bodies are
    /// [`DashboardBody`](crate::DashboardBody): whole answers, and downloads streamed in chunks.
    ///
    /// ```
    /// # async fn run(dashboard: fmd_web::Dashboard) {
    /// use tower_service::Service;
    /// let mut service = dashboard.service();
    /// let request = http::Request::get("/dashboard/login").body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
    /// let response = service.call(request).await.unwrap();
    /// assert_eq!(response.status(), 200);
    /// # }
    /// ```
    pub fn service(&self) -> DashboardService {
        DashboardService {
            inner: self.inner.clone(),
        }
    }

    /// The dashboard under `/{custom_link}` as an axum `Router`, to `merge` into the app's
    /// router whatever its state type.
    ///
    /// ```
    /// # async fn run(dashboard: fmd_web::Dashboard) {
    /// use axum::{extract::State, routing::get, Router};
    /// #[derive(Clone)]
    /// struct AppState { greeting: &'static str }
    /// async fn hello(State(state): State<AppState>) -> &'static str { state.greeting }
    /// let app: Router = Router::new()
    ///     .route("/hello", get(hello))
    ///     .merge(dashboard.router())
    ///     .layer(dashboard.layer())
    ///     .with_state(AppState { greeting: "hello" });
    /// # }
    /// ```
    #[cfg(feature = "axum")]
    pub fn router<S>(&self) -> axum::Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let prefix = self.path();
        let service = self.service();
        axum::Router::new()
            .route_service(&prefix, service.clone())
            .route_service(&format!("{prefix}/"), service.clone())
            .route_service(&format!("{prefix}/{{*rest}}"), service)
    }
}

/// The [`Layer`](tower_layer::Layer) of [`Dashboard::layer`].
#[derive(Clone)]
pub struct TrackLayer {
    tracker: Arc<Tracker>,
}

impl std::fmt::Debug for TrackLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrackLayer")
    }
}

impl<S> tower_layer::Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            shared: Arc::new(Shared {
                tracker: self.tracker.clone(),
                memo: OnceLock::new(),
            }),
        }
    }
}

/// A service whose requests are tracked: what [`TrackLayer`] makes of the service it wraps.
#[derive(Clone)]
pub struct Track<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// What the clones of one tracked service share.
struct Shared {
    tracker: Arc<Tracker>,
    /// The first route this service learned the endpoint of. axum layers each route's handler
    /// of each method apart, so it is nearly always the only one: looked up without the
    /// tracker's table, which is shared by every route.
    memo: OnceLock<Learned>,
}

/// A route and the endpoint its handler is.
struct Learned {
    method: Method,
    route: RoutePattern,
    endpoint: &'static Endpoint,
}

impl Learned {
    fn is(&self, method: &Method, route: &RoutePattern) -> bool {
        let (a, b) = (pattern(&self.route), pattern(route));
        // axum hands out clones of one string per route: the pointers match.
        self.method == method && (std::ptr::eq(a, b) || a == b)
    }
}

impl<S> std::fmt::Debug for Track<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Track")
    }
}

impl<S, B, RB> tower_service::Service<Request<B>> for Track<S>
where
    S: tower_service::Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let tracker = &self.shared.tracker;
        if tracker.is_dashboard(request.uri().path()) {
            let inner = self.inner.call(request);
            return TrackFuture {
                state: State::Untracked { inner },
            };
        }
        let head = tracker.wants_head().then(|| Head {
            method: request.method(),
            path: request.uri().path(),
            query: request.uri().query(),
            headers: request.headers(),
        });
        let state = tracker.state(peer(&request), head);
        let route = match route(&request) {
            None => Route::None,
            Some(route) => match self.shared.memo.get() {
                Some(learned) if learned.is(request.method(), route) => {
                    Route::Known(learned.endpoint, Instant::now())
                }
                _ => Route::Unknown(Box::new((
                    self.shared.clone(),
                    request.method().clone(),
                    route.clone(),
                    Instant::now(),
                ))),
            },
        };
        let recorder = tracker.recorder().clone();
        TrackFuture {
            state: State::Tracked {
                inner: Scoped::new(recorder, state, self.inner.call(request)),
                route,
            },
        }
    }
}

/// The client's address: axum's `ConnectInfo`, or a `SocketAddr` the server put in the
/// request's extensions.
fn peer<B>(request: &Request<B>) -> Option<SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(info.0);
    }
    request.extensions().get::<SocketAddr>().copied()
}

/// The route pattern the framework matched: axum's `MatchedPath`.
#[cfg(feature = "axum")]
type RoutePattern = axum::extract::MatchedPath;

/// Without axum no framework names the route: never made.
#[cfg(not(feature = "axum"))]
#[derive(Clone)]
struct RoutePattern;

fn route<B>(request: &Request<B>) -> Option<&RoutePattern> {
    request.extensions().get::<RoutePattern>()
}

fn pattern(route: &RoutePattern) -> &str {
    #[cfg(feature = "axum")]
    return route.as_str();
    #[cfg(not(feature = "axum"))]
    {
        let _ = route;
        ""
    }
}

/// What a request's route says of its endpoint, with the time the request started (for one
/// the framework answers without calling the handler).
enum Route {
    /// The framework names no route.
    None,
    /// This service learned the route's endpoint.
    Known(&'static Endpoint, Instant),
    /// The route, to learn its endpoint from the handler or look it up in the tracker's table.
    Unknown(Box<(Arc<Shared>, Method, RoutePattern, Instant)>),
}

impl Route {
    /// Learns the route's endpoint from the handler that ran, or attributes the request to the
    /// endpoint learned before when none did.
    fn settle(self, state: &mut Handed) {
        match (self, state.handled_by()) {
            (Route::None, _) | (Route::Known(..), Some(_)) => {}
            (Route::Known(endpoint, started), None) => state.attribute(endpoint, started),
            (Route::Unknown(unknown), handled) => {
                let (shared, method, route, started) = *unknown;
                match handled {
                    Some(endpoint) => {
                        shared
                            .tracker
                            .learn_route(&method, pattern(&route), endpoint);
                        let _ = shared.memo.set(Learned {
                            method,
                            route,
                            endpoint,
                        });
                    }
                    None => {
                        if let Some(e) = shared.tracker.route_endpoint(&method, pattern(&route)) {
                            state.attribute(e, started);
                        }
                    }
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Track`].
    pub struct TrackFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        // A request of the app: recorded when its response is ready, or by `Scoped` when it is
        // dropped before (a panic, a client gone).
        Tracked {
            #[pin]
            inner: Scoped<F>,
            route: Route,
        },
        // A request of the dashboard.
        Untracked {
            #[pin]
            inner: F,
        },
    }
}

impl<F> std::fmt::Debug for TrackFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrackFuture")
    }
}

impl<F, RB, E> Future for TrackFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Untracked { inner } => inner.poll(cx),
            StateProj::Tracked { mut inner, route } => {
                let output = ready!(inner.as_mut().poll(cx));
                if let Some(mut state) = inner.as_mut().take_state() {
                    std::mem::replace(route, Route::None).settle(&mut state.handed);
                    // A service error ends the connection without a response: the server's fault.
                    let status = output.as_ref().map_or(500, |r| r.status().as_u16());
                    state.finish(inner.recorder(), Some(status));
                }
                Poll::Ready(output)
            }
        }
    }
}

/// The dashboard as a tower `Service`: what [`Dashboard::service`] returns.
#[derive(Clone)]
pub struct DashboardService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DashboardService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DashboardService")
    }
}

impl<B> tower_service::Service<Request<B>> for DashboardService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<crate::DashboardBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        let peer = peer(&request);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let prefix = format!("/{}", inner.config.custom_link);
            let Some(tail) = parts
                .uri
                .path()
                .strip_prefix(&prefix)
                .filter(|t| t.is_empty() || t.starts_with('/'))
            else {
                return Ok(web::json_error(
                    StatusCode::NOT_FOUND,
                    "not a dashboard path",
                ));
            };
            let declared = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            let stream = BodyDataStream::new(body).map_err(Into::into);
            let body = match web::read_body::<_, BoxError>(declared, stream).await {
                Ok(body) => body,
                Err(reply) => return Ok(reply),
            };
            let query = parts.uri.query().map(str::to_owned);
            let reply = routes::serve(
                inner.clone(),
                parts.method,
                tail,
                query,
                parts.headers,
                peer,
                body,
            )
            .await;
            Ok(reply)
        })
    }
}
