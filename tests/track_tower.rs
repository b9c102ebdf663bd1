//! A service that is neither warp nor axum: plain hyper with a tower service of its own,
//! tracked by `dashboard.layer()`, the dashboard served by `dashboard.service()`.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use common::*;
use fmd::monitored;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

#[monitored]
async fn greet(name: String) -> Response<Full<Bytes>> {
    fmd::set_group_by(("Name", name.as_str()));
    let status = if name == "nobody" {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let mut response = Response::new(Full::new(Bytes::from(format!("hello {name}"))));
    *response.status_mut() = status;
    response
}

/// The app: `/greet/{name}`, the dashboard under its prefix, 404 otherwise.
#[derive(Clone)]
struct App {
    dashboard: fmd::DashboardService,
    prefix: String,
}

/// The app's own bodies, or the dashboard's (which streams its downloads).
type Body = Either<Full<Bytes>, fmd::DashboardBody>;

impl Service<Request<Incoming>> for App {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let path = request.uri().path().to_owned();
        if path.starts_with(&self.prefix) {
            let answer = self.dashboard.call(request);
            return Box::pin(async move { Ok(answer.await?.map(Either::Right)) });
        }
        Box::pin(async move {
            Ok(match path.strip_prefix("/greet/") {
                Some(name) => greet(name.to_owned()).await,
                None => Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Full::new(Bytes::new()))
                    .unwrap(),
            }
            .map(Either::Left))
        })
    }
}

async fn start(dir: &tempfile::TempDir) -> Server {
    Server::serve_with(config(dir), |dashboard, listener, stopped| {
        let app = App {
            dashboard: dashboard.service(),
            prefix: dashboard.path(),
        };
        let tracked = dashboard.layer().layer(app);
        tokio::spawn(async move {
            tokio::pin!(stopped);
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = listener.accept() => accepted.unwrap(),
                    _ = &mut stopped => return,
                };
                let service = tracked.clone();
                let hyper_service =
                    hyper::service::service_fn(move |mut request: Request<Incoming>| {
                        // The peer's address, for the layer to record.
                        request.extensions_mut().insert::<SocketAddr>(peer);
                        service.clone().call(request)
                    });
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(io, hyper_service)
                    .await;
                });
            }
        })
    })
    .await
}

#[tokio::test]
async fn a_plain_tower_service_is_tracked_and_serves_the_dashboard() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir).await;
    let c = client();
    let r = c.get(server.url("/greet/ada")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hello ada");
    let r = c.get(server.url("/greet/nobody")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = c.get(server.url("/elsewhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    server.dashboard.flush().await.unwrap();

    // The dashboard through `service()`: a form login with a body, then the API.
    let (admin, _) = login(&server, "admin", ADMIN_PW).await;
    let rows = requests_of(&server, &admin, "greet").await;
    let seen: Vec<(i64, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["status_code"].as_i64().unwrap(),
                r["group_by"].as_str().unwrap(),
                r["ip"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (404, "(Name,nobody)", "127.0.0.1"),
            (200, "(Name,ada)", "127.0.0.1")
        ]
    );
    let total = total_hits(&server, &admin).await;
    assert_eq!(total, 2, "unmatched and dashboard requests are nobody's");
    let lines = downloaded_lines(&server, &admin, "greet").await;
    assert_eq!(
        lines.len(),
        3,
        "a header and both requests, streamed: {lines:?}"
    );
    let body = c
        .get(server.url("/dashboard/static/fmd.css"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(!body.is_empty());
    server.stop().await;
}
