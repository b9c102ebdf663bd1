//! Custom graphs: `cargo run --example custom_graphs`, then open the printed Custom graphs page.
//!
//! - "Files in the temp directory" counts entries of the system's temp directory every 5 s: a
//!   blocking read, which is fine in a graph's function (it runs on the blocking pool).
//! - "Orders per 15 s" is on a cron schedule ("*/15 * * * * *": seconds first) and reads a
//!   counter the `/order` endpoint bumps.
//! - "Flaky upstream" fails every third run: the error is logged and shown on the page, the
//!   next run goes on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fmd::{monitored, Schedule};
use warp::Filter;

static ORDERS: AtomicU64 = AtomicU64::new(0);

#[monitored]
async fn order() -> Result<&'static str, std::convert::Infallible> {
    ORDERS.fetch_add(1, Ordering::Relaxed);
    Ok("ordered")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("fmd-custom-graphs");
    std::fs::create_dir_all(&dir)?;
    let config = fmd::Config::default()
        .database(format!("sqlite://{}", dir.join("fmd.db").display()))
        .password("graphs-demo");
    let dashboard = fmd::Dashboard::new(config).await?;

    dashboard.add_graph(
        "Files in the temp directory",
        Schedule::every(Duration::from_secs(5)),
        || std::fs::read_dir(std::env::temp_dir()).map(|entries| entries.count()),
    );
    dashboard.add_graph("Orders per 15 s", Schedule::cron("*/15 * * * * *")?, || {
        ORDERS.swap(0, Ordering::Relaxed)
    });
    let runs = Arc::new(AtomicU64::new(0));
    dashboard.add_graph(
        "Flaky upstream",
        Schedule::every(Duration::from_secs(5)),
        move || match runs.fetch_add(1, Ordering::Relaxed) % 3 {
            2 => Err("upstream timed out".to_owned()),
            n => Ok(n as f64 * 10.0),
        },
    );

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 8083)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    println!("custom graphs: {base}/dashboard/graphs (admin / graphs-demo)");
    println!("place orders with: curl {base}/order");
    let app = warp::path!("order").and_then(order);
    warp::serve(dashboard.bind(app))
        .incoming(listener)
        .graceful(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .run()
        .await;
    dashboard.shutdown().await?;
    Ok(())
}
