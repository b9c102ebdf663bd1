//! Levels 2 and 3 in a small service: `cargo run --example profiler`
//!
//! `/orders/{id}` fetches an order and its customer at once (`join!`), prices it in a plain
//! function and renders it in a `span!` block; one request in ten waits on a slow "database".
//! The example sets the endpoint to level 3, sends itself 60 requests, and prints where to look:
//! the endpoint's Profiler and Grouped profiler tabs, and its Outliers (the slow requests, caught
//! while stuck in `fetch_customer`). Ctrl-C stops it.

use std::time::Duration;

use fmd::{monitored, profiled};
use warp::Filter;

#[profiled]
async fn fetch_order(id: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(8)).await;
    id * 3
}

#[profiled]
async fn fetch_customer(id: u32) -> String {
    // Every tenth order's customer lives on a slow replica.
    let wait = if id.is_multiple_of(10) { 250 } else { 5 };
    tokio::time::sleep(Duration::from_millis(wait)).await;
    format!("customer-{id}")
}

#[profiled]
fn price(items: u32) -> f64 {
    (0..items).map(|i| f64::from(i) * 1.07).sum()
}

#[monitored(name = "orders.show")]
async fn show_order(id: u32) -> Result<String, warp::Rejection> {
    let (items, customer) = tokio::join!(fetch_order(id), fetch_customer(id));
    let total = price(items);
    Ok(fmd::span!("render", {
        format!("order {id} for {customer}: {total:.2}\n")
    }))
}

#[tokio::main]
async fn main() -> Result<(), fmd::Error> {
    let config = fmd::Config::default()
        .database("sqlite://fmd-profiler.db")
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
    println!(
        "the overview links orders.show; open its Profiler, Grouped profiler and Outliers tabs"
    );
    println!("Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    server.abort();
    dashboard.shutdown().await?;
    Ok(())
}
