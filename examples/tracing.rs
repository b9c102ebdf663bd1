//! `tracing` spans as profiler spans: `cargo run --features tracing --example tracing`
//!
//! The service of `profiler.rs`, written with `tracing` instead of `#[profiled]`:
//! `#[tracing::instrument]` on async functions, `info_span!(..).in_scope(..)` for a block, and a
//! `fmt` layer printing to the terminal beside fmd's layer. Every tenth order's customer is on a
//! slow replica (a `warn!`, and an outlier caught stuck inside the `tracing` span); every
//! seventh order fails (an `error!` and `fmd::capture!`). The example sets the endpoint to level
//! 3, sends itself 60 requests and prints where to look: the Profiler and Outliers tabs (the
//! warnings under each outlier's details) and the Exceptions tab (what the failing request
//! logged). Ctrl-C stops it.

use std::time::Duration;

use tracing::Instrument;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer as _;
use warp::Filter;

#[tracing::instrument]
async fn fetch_order(id: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(8)).await;
    id * 3
}

#[tracing::instrument]
async fn fetch_customer(id: u32) -> String {
    if id.is_multiple_of(10) {
        tracing::warn!(replica = "eu-2", "customer replica is slow");
        tokio::time::sleep(Duration::from_millis(250)).await;
    } else {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    format!("customer-{id}")
}

#[derive(Debug)]
struct OutOfStock(u32);

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "order {} has an item out of stock", self.0)
    }
}

impl std::error::Error for OutOfStock {}

#[fmd::monitored(name = "orders.show")]
async fn show_order(id: u32) -> Result<String, warp::Rejection> {
    let (items, customer) = tokio::join!(fetch_order(id), fetch_customer(id));
    let total = tracing::info_span!("price")
        .in_scope(|| (0..items).map(|i| f64::from(i) * 1.07).sum::<f64>());
    if id.is_multiple_of(7) {
        let err = OutOfStock(id);
        tracing::error!(order = id, %err, "cannot fulfil the order");
        fmd::capture!(err);
    }
    let page = async { format!("order {id} for {customer}: {total:.2}\n") }
        .instrument(tracing::info_span!("render"))
        .await;
    Ok(page)
}

#[tokio::main]
async fn main() -> Result<(), fmd::Error> {
    // Each layer with a filter of its own: fmd profiles INFO spans and up, the terminal shows
    // INFO events and up; the libraries' DEBUG and TRACE callsites stay off for both.
    tracing_subscriber::registry()
        .with(fmd::tracing_layer().with_filter(LevelFilter::INFO))
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_filter(LevelFilter::INFO),
        )
        .init();
    let config = fmd::Config::default()
        .database("sqlite://fmd-tracing.db")
        .password("fmd-demo")
        .outlier_min_samples(5);
    let dashboard = fmd::Dashboard::new(config).await?;
    dashboard.set_level("orders.show", 3).await?;
    let app = warp::path!("orders" / u32).and_then(show_order);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(warp::serve(dashboard.bind(app)).incoming(listener).run());

    let client = reqwest::Client::new();
    for id in 1..=60 {
        let _ = client.get(format!("{base}/orders/{id}")).send().await;
    }
    dashboard.flush().await?;
    println!("60 orders served; log in as \"admin\" / \"fmd-demo\" at {base}/dashboard");
    println!("the overview links orders.show; open its Profiler, Outliers and Exceptions tabs");
    println!("Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    server.abort();
    dashboard.shutdown().await?;
    Ok(())
}
