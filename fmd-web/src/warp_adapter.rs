//! The warp adapter: [`Dashboard::bind`] and [`Dashboard::routes`].
//!
//! warp's `Filter` is sealed and `warp::service` refuses to run inside another route, so the
//! adapter cannot wrap the app's future: it tracks with filters before the app (the context is
//! registered under the connection's task, see `fmd_core::context`) and reads the app's reply
//! or rejection after it.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use warp::path::{FullPath, Tail};
use warp::reject::{
    InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingCookie, MissingHeader,
    PayloadTooLarge, UnsupportedMediaType,
};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::dispatch::{self, MAX_BODY};
use crate::track::{Head, Reach};
use crate::{Dashboard, Inner};

/// What the app produced: the reply, or the rejection warp answers for it.
type Settled = Result<Response, Rejection>;

mod sealed {
    pub trait Sealed {}
    impl Sealed for warp::Rejection {}
    impl Sealed for std::convert::Infallible {}
}

/// The error of an app that [`Dashboard::bind`] takes: warp's [`Rejection`], or
/// [`Infallible`] for an app that ends in `.recover(..)` and so answers every request.
pub trait AppError: sealed::Sealed + Send + Sync + Sized + 'static {
    /// The app as a filter that never rejects: its rejection, if any, becomes a value.
    #[doc(hidden)]
    fn settle<F, R>(
        app: F,
    ) -> impl Filter<Extract = (Settled,), Error = Infallible> + Clone + Send + Sync + 'static
    where
        F: Filter<Extract = (R,), Error = Self> + Clone + Send + Sync + 'static,
        R: Reply;
}

impl AppError for Rejection {
    fn settle<F, R>(
        app: F,
    ) -> impl Filter<Extract = (Settled,), Error = Infallible> + Clone + Send + Sync + 'static
    where
        F: Filter<Extract = (R,), Error = Self> + Clone + Send + Sync + 'static,
        R: Reply,
    {
        app.map(|reply: R| Ok(reply.into_response()))
            .or_else(|rejection| async move { Ok::<_, Infallible>((Err(rejection),)) })
    }
}

impl AppError for Infallible {
    fn settle<F, R>(
        app: F,
    ) -> impl Filter<Extract = (Settled,), Error = Infallible> + Clone + Send + Sync + 'static
    where
        F: Filter<Extract = (R,), Error = Self> + Clone + Send + Sync + 'static,
        R: Reply,
    {
        app.map(|reply: R| Ok(reply.into_response()))
    }
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
        R: Reply,
        E: AppError,
    {
        let tracked = begin(self.inner.clone()).and(E::settle(app)).and_then(
            |guard: fmd_core::context::ContextGuard, settled: Settled| async move {
                match &settled {
                    Ok(response) => guard.finish(response.status().as_u16()),
                    Err(rejection) => match rejection_status(rejection) {
                        status @ 500.. => guard.finish_rejected(status, format!("{rejection:?}")),
                        status => guard.finish(status),
                    },
                }
                settled
            },
        );
        dashboard(self.inner.clone()).or(tracked).unify()
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

/// The filter that runs before the app: registers the request's context on the current task
/// and extracts the guard that records it. The head is extracted only when tracking wants it.
fn begin(
    inner: Arc<Inner>,
) -> impl Filter<Extract = (fmd_core::context::ContextGuard,), Error = Infallible>
       + Clone
       + Send
       + Sync
       + 'static {
    let query = warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    let head = warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .map(|method, path, query, headers| Some((method, path, query, headers)))
        // Boxed: its future holds a header map and more, which would otherwise be part of
        // every request's future (and copied with it) even when the head is not wanted.
        .boxed();
    let wants = inner.tracker.clone();
    let wanted = warp::any()
        .and_then(move || {
            std::future::ready(match wants.wants_head() {
                true => Ok(()),
                false => Err(warp::reject::not_found()),
            })
        })
        .untuple_one();
    let head = wanted.and(head).or(warp::any().map(|| None)).unify();
    warp::addr::remote().and(head).map(
        move |peer, head: Option<(http::Method, FullPath, Option<String>, http::HeaderMap)>| {
            let head = head.as_ref().map(|(method, path, query, headers)| Head {
                method,
                path: path.as_str(),
                query: query.as_deref(),
                headers,
            });
            inner.tracker.begin(peer, head, Reach::Task)
        },
    )
}

/// The dashboard's routes as a warp filter.
fn dashboard(
    inner: Arc<Inner>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
    let link = inner.config.custom_link.clone();
    let with_inner = warp::any().map(move || inner.clone());
    let query = warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    // No dashboard route takes a chunked body: one sent without a length is read as empty, so
    // the route answers (405, 400) instead of warp's 411. Oversized bodies get 413.
    let body = warp::body::content_length_limit(MAX_BODY)
        .and(warp::body::bytes())
        .or_else(|rejection: Rejection| async move {
            if rejection.find::<LengthRequired>().is_some() {
                Ok((Bytes::new(),))
            } else {
                Err(rejection)
            }
        });
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
                |tail: Tail, method, headers, query, peer, body, inner| async move {
                    dispatch::serve(inner, method, tail.as_str(), query, headers, peer, body).await
                },
            )
            .recover(|rejection: Rejection| async move {
                match rejection.find::<PayloadTooLarge>() {
                    Some(_) => Ok::<_, Infallible>(dispatch::too_large()),
                    None => Ok(dispatch::json_error(
                        StatusCode::BAD_REQUEST,
                        &format!("bad request: {rejection:?}"),
                    )),
                }
            })
            .unify()
            .map(Reply::into_response)
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

    #[derive(Debug)]
    struct Custom;
    impl warp::reject::Reject for Custom {}

    #[test]
    fn rejection_statuses_follow_warp() {
        assert_eq!(rejection_status(&warp::reject::not_found()), 404);
        assert_eq!(rejection_status(&warp::reject::custom(Custom)), 500);
    }
}
