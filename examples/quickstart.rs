//! A small service with the dashboard: `cargo run --example quickstart`
//!
//! Open the printed URL and log in. Add `-- --demo-traffic` to have the service send itself a
//! steady mix of requests so the dashboard fills within seconds. Ctrl-C stops it after writing
//! every recorded request to `fmd-quickstart.db`.
//!
//! Settings come from the environment as for any fmd service (`FMD_CONFIG=fmd.toml`,
//! `FMD_DATABASE=...`, `FMD_PASSWORD=...`); `PORT` picks the port (default 8080).

mod demo;

use std::convert::Infallible;
use std::time::Duration;

use fmd::monitored;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

/// Fast: answers at once.
#[monitored]
async fn index() -> Result<impl Reply, Rejection> {
    Ok("Welcome to the fmd quickstart. The dashboard is at /dashboard.\n")
}

/// A user page, grouped by user; one id in five does not exist.
#[monitored(name = "users.show")]
async fn show_user(id: u32) -> Result<impl Reply, Rejection> {
    fmd::set_group_by(("User", id));
    match demo::load_user(id).await {
        Ok(name) => Ok(format!("user {id}: {name}\n")),
        Err(e) => {
            // Handled (the client gets a 404), and recorded: see the Exceptions page.
            fmd::capture!(e);
            Err(warp::reject::not_found())
        }
    }
}

/// Slow: a report built from two sources fetched at once, then summed up and rendered. With
/// `--demo-traffic` it runs at level 3: see its Profiler and Grouped profiler tabs.
#[monitored]
async fn report() -> Result<impl Reply, Rejection> {
    let (orders, refunds) = tokio::join!(demo::fetch_rows("orders"), demo::fetch_rows("refunds"));
    let total = demo::summarize(&orders).saturating_sub(demo::summarize(&refunds));
    let text = fmd::span!("render", {
        format!(
            "report: {total} over {} rows\n",
            orders.len() + refunds.len()
        )
    });
    Ok(text)
}

/// Always fails with a 500.
#[monitored]
async fn checkout() -> Result<impl Reply, Rejection> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(warp::reply::with_status(
        "the payment provider is unreachable\n",
        StatusCode::INTERNAL_SERVER_ERROR,
    ))
}

/// Panics when asked to: `/search?q=rust&crash=1`.
#[monitored]
async fn search(
    query: std::collections::HashMap<String, String>,
) -> Result<impl Reply, Infallible> {
    if query.contains_key("crash") {
        panic!("search index corrupted (asked to crash by the query)");
    }
    let q = query.get("q").cloned().unwrap_or_default();
    Ok(format!("0 results for {q:?}\n"))
}

/// A plain function endpoint.
#[monitored]
fn health() -> &'static str {
    "ok\n"
}

/// Never requested by the demo traffic: it shows in the overview all the same.
#[monitored(name = "admin.export")]
async fn export() -> Result<impl Reply, Rejection> {
    Ok("export\n")
}

fn app() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone + Send + Sync + 'static
{
    let index = warp::path::end().and(warp::get()).and_then(index);
    let users = warp::path!("users" / u32)
        .and(warp::get())
        .and_then(show_user);
    let report = warp::path!("report").and(warp::get()).and_then(report);
    let checkout = warp::path!("checkout").and_then(checkout);
    let search = warp::path!("search")
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .and_then(search);
    let health = warp::path!("health").map(health);
    let export = warp::path!("admin" / "export").and_then(export);
    index
        .or(users)
        .or(report)
        .or(checkout)
        .or(search)
        .or(health)
        .or(export)
}

#[tokio::main]
async fn main() -> Result<(), fmd::Error> {
    let demo = std::env::args().any(|a| a == "--demo-traffic");
    let (config, password_given) = demo::config()?;
    if demo {
        demo::quiet_panics();
    }
    let dashboard = fmd::Dashboard::new(config.clone()).await?;
    demo::add_written_graph(&dashboard);
    let (listener, base) = demo::listen().await?;
    demo::start(
        "quickstart",
        &dashboard,
        &config,
        password_given,
        &base,
        demo,
    )
    .await?;

    warp::serve(dashboard.bind(app()))
        .incoming(listener)
        .graceful(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .run()
        .await;

    println!("stopping: writing recorded requests to the database");
    dashboard.shutdown().await?;
    Ok(())
}
