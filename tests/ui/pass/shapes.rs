//! Every shape of function `#[monitored]` accepts compiles as it did without the macro, with
//! no warning of its own.
#![deny(warnings)]

use std::convert::Infallible;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

use fmd::monitored;
use warp::{Filter, Rejection, Reply};

#[derive(Debug)]
struct NotFound;
impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not found")
    }
}
impl std::error::Error for NotFound {}

fn lookup(id: u32) -> Result<String, NotFound> {
    if id == 0 { Err(NotFound) } else { Ok(format!("user {id}")) }
}

/// `impl Reply` in the return type, `?` converting errors, an early `return`.
#[monitored]
async fn impl_reply(id: u32) -> Result<impl Reply, Rejection> {
    if id > 1000 {
        return Err(warp::reject::not_found());
    }
    let user = lookup(id).map_err(|_| warp::reject::not_found())?;
    Ok(user)
}

/// `?` with `Box<dyn Error>` and `.into()` inferred from the signature.
#[monitored(name = "users.boxed")]
async fn boxed(id: u32) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let user = lookup(id)?;
    Ok(user.into())
}

/// A body that diverges adds no unreachable code.
#[monitored]
async fn unfinished() -> Result<String, Rejection> {
    todo!()
}

#[monitored]
fn unfinished_sync() -> u32 {
    unimplemented!()
}

#[monitored]
fn plain(x: u32) -> u32 {
    if x == 0 {
        return 1;
    }
    x * 2
}

#[monitored]
fn unit() {}

#[monitored]
async fn generic<T: Display + Send>(value: T) -> Result<String, Infallible> {
    Ok(value.to_string())
}

#[monitored]
async fn borrowing<'a>(text: &'a str) -> &'a str {
    text.trim()
}

#[monitored]
async fn patterns((a, b): (u32, u32), mut count: u32) -> u32 {
    count += a + b;
    count
}

#[monitored]
fn returns_future(x: u32) -> impl Future<Output = u32> {
    async move { x + 1 }
}

struct Service {
    prefix: String,
}

impl Service {
    #[monitored(name = "service.greet")]
    async fn greet(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    #[monitored(name = "service.count")]
    fn count(&mut self) -> usize {
        self.prefix.push('!');
        self.prefix.len()
    }
}

trait Handler {
    fn handle(&self, x: u32) -> Pin<Box<dyn Future<Output = u32> + Send + '_>>;
}

impl Handler for Service {
    /// The shape `#[async_trait]` expands to.
    #[monitored(name = "service.handle")]
    fn handle(&self, x: u32) -> Pin<Box<dyn Future<Output = u32> + Send + '_>> {
        Box::pin(async move { x + self.prefix.len() as u32 })
    }
}

#[tokio::main]
async fn main() {
    let routes = warp::path!("u" / u32).and_then(impl_reply);
    let _ = warp::test::request().path("/u/3").reply(&routes).await;
    assert_eq!(boxed(2).await.unwrap(), "user 2");
    assert!(boxed(0).await.is_err());
    assert_eq!(plain(2), 4);
    unit();
    assert_eq!(generic(5).await.unwrap(), "5");
    assert_eq!(borrowing(" x ").await, "x");
    assert_eq!(patterns((1, 2), 3).await, 6);
    assert_eq!(returns_future(1).await, 2);
    let mut s = Service { prefix: "hi ".into() };
    assert_eq!(s.greet("a").await, "hi a");
    assert_eq!(s.count(), 4);
    assert_eq!(s.handle(1).await, 5);
    if x_is_never_true() {
        let _ = unfinished().await;
        let _ = unfinished_sync();
    }
}

fn x_is_never_true() -> bool {
    std::env::args().count() > 100
}
