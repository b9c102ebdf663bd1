//! The warp adapter: [`Dashboard::bind`] and [`Dashboard::routes`].
//!
//! warp's `Filter` is sealed and `warp::service` refuses to run inside another route, so the
//! adapter cannot wrap the app's future in a scope. A cheap filter before the app registers
//! the request's state under the connection's task (`fmd_core::context::TaskGuard`); a `map`
//! after the app records it with the status of the reply, and, for an app that can reject, an
//! `or_else` records a rejected request with the status warp answers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderMap, Method, StatusCode};
use warp::path::{FullPath, Tail};
use warp::reject::{
    InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingCookie, MissingHeader,
    PayloadTooLarge, UnsupportedMediaType,
};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use fmd_core::context::TaskGuard;
use fmd_core::Recorder;

use crate::dashboard::{Dashboard, Inner};
use crate::routes;
use crate::track::{Head, Tracker};
use crate::web;

mod sealed {
    pub trait Sealed {}
    impl Sealed for warp::Rejection {}
    impl Sealed for std::convert::Infallible {}
}

/// The error of an app that [`Dashboard::bind`] takes: warp's [`Rejection`], or
/// [`Infallible`] for an app that ends in `.recover(..)` and so answers every request.
pub trait AppError: sealed::Sealed + Send + Sync + Sized + 'static {
    /// `app` tracked: `begin` registers each request's state, which is recorded with the
    /// status the client gets.
    #[doc(hidden)]
    fn track<B, F, R>(
        begin: B,
        app: F,
        recorder: Arc<Recorder>,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
    where
        B: Filter<Extract = (TaskGuard,), Error = Rejection> + Clone + Send + Sync + 'static,
        F: Filter<Extract = (R,), Error = Self> + Clone + Send + Sync + 'static,
        R: Reply + 'static;
}

// Not boxed: a boxed filter's future is an allocation per request, about 200 instructions, more
// than the copies of the larger unboxed future cost.
impl AppError for Rejection {
    fn track<B, F, R>(
        begin: B,
        app: F,
        recorder: Arc<Recorder>,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
    where
        B: Filter<Extract = (TaskGuard,), Error = Rejection> + Clone + Send + Sync + 'static,
        F: Filter<Extract = (R,), Error = Self> + Clone + Send + Sync + 'static,
        R: Reply + 'static,
    {
        let app = app.or_else(move |rejection: Rejection| {
            finish_rejected(&recorder, &rejection);
            std::future::ready(Err::<(R,), _>(rejection))
        });
        begin.and(app).map(finish)
    }
}

impl AppError for Infallible {
    fn track<B, F, R>(
        begin: B,
        app: F,
        _recorder: Arc<Recorder>,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
    where
        B: Filter<Extract = (TaskGuard,), Error = Rejection> + Clone + Send + Sync + 'static,
        F: Filter<Extract = (R,), Error = Self> + Clone + Send + Sync + 'static,
        R: Reply + 'static,
    {
        begin.and(app).map(finish)
    }
}

/// Records a request with the status of its reply. Its guard was held until now so that a
/// request dropped unfinished (a panic, a client gone) is still recorded.
fn finish<R: Reply>(guard: TaskGuard, reply: R) -> Response {
    let response = reply.into_response();
    guard.finish(Some(response.status().as_u16()));
    response
}

/// Records a request the app rejected, if a monitored handler ran for it, with the status warp
/// answers ([`rejection_status`]); a 5xx rejection is described, as the exception behind it.
/// A request no handler ran for (most rejections are 404s of unmatched paths) is dropped
/// unrecorded, as [`RequestState::finish`](fmd_core::context::RequestState::finish) would.
fn finish_rejected(recorder: &Recorder, rejection: &Rejection) {
    let Some(mut state) = TaskGuard::take() else {
        return;
    };
    if state.handed.handled_by().is_none() {
        return;
    }
    let status = rejection_status(rejection);
    if status >= 500 {
        state.handed.set_rejection(format!("{rejection:?}"));
    }
    state.finish(recorder, Some(status));
}

impl Dashboard {
    /// The dashboard's routes under `/{custom_link}`, then `app` with every request tracked.
    ///
    /// Requests to the dashboard itself are not tracked. The app's rejections pass through
    /// unchanged, so warp answers them as it would without fmd. An app that recovers its
    /// rejections (`.recover(handle_rejection)`, error type [`Infallible`]) binds the same way;
    /// the status recorded is then the one its recover answers with.
    ///
    /// ```no_run
    /// # async fn run(dashboard: fmd_web::Dashboard) {
    /// use warp::Filter;
    /// let app = warp::path!("hello").map(|| "hello");
    /// warp::serve(dashboard.bind(app)).run(([127, 0, 0, 1], 8080)).await;
    /// # }
    /// ```
    ///
    /// With a recover, as in warp's `rejections` example:
    ///
    /// ```no_run
    /// # async fn run(dashboard: fmd_web::Dashboard) {
    /// use warp::{http::StatusCode, Filter, Rejection, Reply};
    /// async fn handle_rejection(err: Rejection) -> Result<impl Reply, std::convert::Infallible> {
    ///     let status = if err.is_not_found() { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
    ///     Ok(warp::reply::with_status(warp::reply::json(&"failed"), status))
    /// }
    /// let app = warp::path!("hello").map(|| "hello").recover(handle_rejection);
    /// warp::serve(dashboard.bind(app)).run(([127, 0, 0, 1], 8080)).await;
    /// # }
    /// ```
    pub fn bind<F, R, E>(
        &self,
        app: F,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
    where
        F: Filter<Extract = (R,), Error = E> + Clone + Send + Sync + 'static,
        R: Reply + 'static,
        E: AppError,
    {
        dashboard(self.inner.clone()).or(self.track(app)).unify()
    }

    /// `app` with every request tracked, as [`bind`](Self::bind) does, but without the
    /// dashboard's routes: for serving the dashboard on a port of its own, apart from the
    /// service's users (docs/security.md).
    ///
    /// ```no_run
    /// # async fn run(dashboard: fmd_web::Dashboard) {
    /// use warp::Filter;
    /// let app = warp::path!("hello").map(|| "hello");
    /// tokio::join!(
    ///     warp::serve(dashboard.track(app)).run(([0, 0, 0, 0], 8080)),
    ///     warp::serve(dashboard.routes()).run(([127, 0, 0, 1], 9000)),
    /// );
    /// # }
    /// ```
    pub fn track<F, R, E>(
        &self,
        app: F,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
    where
        F: Filter<Extract = (R,), Error = E> + Clone + Send + Sync + 'static,
        R: Reply + 'static,
        E: AppError,
    {
        let tracker = self.inner.tracker.clone();
        let recorder = tracker.recorder().clone();
        E::track(begin(tracker), app, recorder)
    }

    /// The dashboard's routes under `/{custom_link}` alone, for a process that serves the
    /// dashboard apart from the monitored services (as the `fmd-dashboard` binary does).
    ///
    /// ```no_run
    /// # async fn run(dashboard: fmd_web::Dashboard) {
    /// warp::serve(dashboard.routes()).run(([127, 0, 0, 1], 9000)).await;
    /// # }
    /// ```
    pub fn routes(
        &self,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
        dashboard(self.inner.clone())
    }
}

/// Registers each request's state under its task: knowing only its peer address, unless the
/// configuration needs its head (a group-by function, a proxy header) or some endpoint is
/// detailed (an outlier keeps the request's URL and headers): then with its head.
///
/// It never rejects; its error type is warp's `Rejection` so that an app that cannot reject
/// (error [`Infallible`]) joined to it can, as `bind` promises, without a filter more.
fn begin(
    tracker: Arc<Tracker>,
) -> impl Filter<Extract = (TaskGuard,), Error = Rejection> + Clone + Send + Sync + 'static {
    let peer_only = tracker.clone();
    // The common case first, so that it costs no second filter.
    warp::addr::remote()
        .and_then(move |peer: Option<SocketAddr>| {
            std::future::ready(match peer_only.wants_head() {
                true => Err(warp::reject::not_found()),
                false => Ok(TaskGuard::enter(
                    peer_only.recorder().clone(),
                    peer_only.state(peer, None),
                )),
            })
        })
        .or(begin_with_head(tracker))
        .unify()
}

/// Registers each request's state under its task, from its head. Never rejects: see [`begin`].
fn begin_with_head(
    tracker: Arc<Tracker>,
) -> impl Filter<Extract = (TaskGuard,), Error = Rejection> + Clone + Send + Sync + 'static {
    let query = warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    warp::addr::remote()
        .and(warp::method())
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and_then(
            move |peer,
                  method: Method,
                  path: FullPath,
                  query: Option<String>,
                  headers: HeaderMap| {
                let head = Head {
                    method: &method,
                    path: path.as_str(),
                    query: query.as_deref(),
                    headers: &headers,
                };
                let state = tracker.state(peer, Some(head));
                std::future::ready(Ok::<_, Rejection>(TaskGuard::enter(
                    tracker.recorder().clone(),
                    state,
                )))
            },
        )
}

/// The dashboard's routes as a warp filter.
fn dashboard(
    inner: Arc<Inner>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
    // Shared, not a `String`: warp clones the segment for every request it routes.
    let link: Arc<str> = inner.config.custom_link.as_str().into();
    let with_inner = warp::any().map(move || inner.clone());
    let query = warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    let body = warp::header::optional::<u64>("content-length").and(warp::body::stream());
    // Boxed behind the prefix: the routes' future is over a kilobyte, and unboxed it would be
    // part of every request's future in `bind` (warp's `or` holds either side in place), copied
    // each time the future moves. Boxing allocates only for requests under the prefix.
    warp::path(link).and(
        warp::path::tail()
            .and(warp::method())
            .and(warp::header::headers_cloned())
            .and(query)
            .and(warp::addr::remote())
            .and(body)
            .and(with_inner)
            .then(
                |tail: Tail, method, headers, query, peer, declared, body, inner| async move {
                    match web::read_body(declared, body).await {
                        Ok(body) => {
                            routes::serve(inner, method, tail.as_str(), query, headers, peer, body)
                                .await
                        }
                        Err(reply) => reply,
                    }
                },
            )
            .recover(|rejection: Rejection| async move {
                Ok::<_, Infallible>(web::json_error(
                    StatusCode::BAD_REQUEST,
                    &format!("bad request: {rejection:?}"),
                ))
            })
            .unify()
            .map(into_warp)
            .boxed(),
    )
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
    let known: [(bool, u16); 10] = [
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
        (rejection.find::<warp::cors::CorsForbidden>().is_some(), 403),
    ];
    let mut found = known.iter().filter(|(hit, _)| *hit).map(|(_, s)| *s);
    match found.clone().filter(|s| *s != 405).max() {
        Some(status) => status,
        None if found.next().is_some() => 405,
        // Not a plain 404 and no known rejection: a custom one, which warp answers with 500.
        None => 500,
    }
}

/// A dashboard reply as warp's: whole bodies as they are, downloads streamed.
fn into_warp(reply: web::Reply) -> warp::reply::Response {
    let (parts, body) = reply.into_parts();
    let mut response = match body.into_whole() {
        Ok(bytes) => http::Response::new(bytes).into_response(),
        Err(chunks) => warp::reply::stream(chunks).into_response(),
    };
    *response.status_mut() = parts.status;
    *response.headers_mut() = parts.headers;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Custom;
    impl warp::reject::Reject for Custom {}

    #[tokio::test]
    async fn rejection_statuses_follow_warp() {
        assert_eq!(rejection_status(&warp::reject::not_found()), 404);
        assert_eq!(rejection_status(&warp::reject::custom(Custom)), 500);
        let post_only = warp::post().map(warp::reply);
        let wrong_method = warp::test::request().filter(&post_only).await;
        assert_eq!(rejection_status(&wrong_method.err().unwrap()), 405);
        let bad_query = warp::query::<std::collections::HashMap<String, u32>>().map(|_| "");
        let rejected = warp::test::request().path("/?n=x").filter(&bad_query).await;
        assert_eq!(rejection_status(&rejected.err().unwrap()), 400);
        // A preflight from an origin the app does not allow: warp answers 403.
        let cors = warp::any()
            .map(warp::reply)
            .with(warp::cors().allow_origin("https://allowed.example"));
        let preflight = warp::test::request()
            .method("OPTIONS")
            .header("origin", "https://other.example")
            .header("access-control-request-method", "GET")
            .filter(&cors)
            .await;
        assert_eq!(rejection_status(&preflight.err().unwrap()), 403);
    }
}
