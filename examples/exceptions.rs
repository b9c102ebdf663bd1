//! Exception monitoring in a small service: `cargo run --example exceptions`
//!
//! - `/invoices/{id}` reads a row in a plain function, parses it in an async one and renders it:
//!   for ids of 90 and up the row is corrupt, the error is returned through the three
//!   `#[profiled]` functions and the handler turns it into a rejection that warp answers with
//!   500. fmd records the error with its trail `read_row -> parse_invoice -> render -> show`.
//! - `/invoices/{id}?cached` handles the same error (falls back to a cached page): a 200, and no
//!   exception.
//! - `/search?q=` captures a handled error with `fmd::capture!` and answers 400.
//! - `/crash` panics: recorded, then resumed (warp closes the connection).
//!
//! The example sends itself a few of each, then prints where to look: the Exceptions page and
//! the endpoints' Exceptions tabs. Ctrl-C stops it.

use std::collections::HashMap;

use fmd::{monitored, profiled};
use warp::Filter;

#[derive(Debug)]
struct InvoiceError {
    id: u32,
    source: std::io::Error,
}

impl std::fmt::Display for InvoiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invoice {} cannot be read", self.id)
    }
}

impl std::error::Error for InvoiceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[profiled]
fn read_row(id: u32) -> std::io::Result<String> {
    if id >= 90 {
        return Err(std::io::Error::other(format!(
            "checksum mismatch in row {id}"
        )));
    }
    Ok(format!("{id};{}", id * 17))
}

#[profiled]
async fn parse_invoice(id: u32) -> Result<(u32, u32), InvoiceError> {
    let row = read_row(id).map_err(|source| InvoiceError { id, source })?;
    let (a, b) = row.split_once(';').unwrap_or(("0", "0"));
    Ok((a.parse().unwrap_or(0), b.parse().unwrap_or(0)))
}

#[profiled]
async fn render(id: u32) -> Result<String, InvoiceError> {
    let (number, total) = parse_invoice(id).await?;
    Ok(format!("invoice {number}: {total} EUR\n"))
}

#[derive(Debug)]
struct Unavailable;
impl warp::reject::Reject for Unavailable {}

#[monitored(name = "invoices.show")]
async fn show(id: u32, query: HashMap<String, String>) -> Result<String, warp::Rejection> {
    if query.contains_key("cached") {
        return Ok(render(id)
            .await
            .unwrap_or_else(|_| "invoice (cached copy)\n".into()));
    }
    render(id)
        .await
        .map_err(|_| warp::reject::custom(Unavailable))
}

#[monitored]
async fn search(query: HashMap<String, String>) -> Result<warp::reply::Response, warp::Rejection> {
    use warp::Reply;
    let q = query.get("q").cloned().unwrap_or_default();
    match q.parse::<u32>() {
        Ok(n) => Ok(format!("result {n}\n").into_response()),
        Err(e) => {
            fmd::capture!(e);
            Ok(warp::reply::with_status(
                "q must be a number\n",
                warp::http::StatusCode::BAD_REQUEST,
            )
            .into_response())
        }
    }
}

#[monitored]
async fn crash() -> Result<String, warp::Rejection> {
    let ids: Vec<u32> = Vec::new();
    Ok(format!("first id {}", ids[0]))
}

#[tokio::main]
async fn main() -> Result<(), fmd::Error> {
    // The default hook would print every panic of the demo; set yours before the dashboard's.
    std::panic::set_hook(Box::new(|_| {}));
    let config = fmd::Config::default()
        .database("sqlite://fmd-exceptions.db")
        .password("fmd-demo");
    let dashboard = fmd::Dashboard::new(config).await?;
    let query = warp::query::<HashMap<String, String>>();
    let app = warp::path!("invoices" / u32)
        .and(query)
        .and_then(show)
        .or(warp::path!("search").and(query).and_then(search))
        .or(warp::path!("crash").and_then(crash));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(warp::serve(dashboard.bind(app)).incoming(listener).run());

    let client = reqwest::Client::new();
    for path in [
        "/invoices/7",
        "/invoices/91",
        "/invoices/95",
        "/invoices/95?cached",
        "/search?q=12",
        "/search?q=twelve",
        "/search?q=0x1f",
        "/crash",
    ] {
        let _ = client.get(format!("{base}{path}")).send().await;
    }
    dashboard.flush().await?;
    println!("log in as \"admin\" / \"fmd-demo\" at {base}/dashboard/exceptions");
    println!("invoices.show has the returned error with its trail; search the captured one; crash the panic");
    println!("Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    server.abort();
    dashboard.shutdown().await?;
    Ok(())
}
