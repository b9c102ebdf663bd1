//! The service `scripts/load.sh` and `scripts/callgrind.sh` drive: the quickstart's fast
//! endpoint, served bare (`--bare`: no dashboard at all) or tracked at level 1, on warp
//! (`dashboard.bind`) or, with `--axum`, on axum (`dashboard.layer()`).
//!
//! `cargo run --release --features axum --example load_target -- [--axum] [--bare [--noop-layer]] [--level 1]
//! [--port 9100] [--db fmd-load.db | --db postgres://...] [--prefix fmd_] [--instance NAME]
//! [--queue 1000000]`.
//! On Ctrl-C (SIGINT) it prints `served N stored M dropped D`: responses the handler produced,
//! requests of this instance the database holds after shutdown, and records dropped.
//! Several of these on one PostgreSQL or MySQL database are the multi-instance test's service.

use std::sync::atomic::{AtomicU64, Ordering};

use fmd::monitored;
use warp::Filter;

static SERVED: AtomicU64 = AtomicU64::new(0);

#[monitored]
async fn index() -> Result<&'static str, std::convert::Infallible> {
    SERVED.fetch_add(1, Ordering::Relaxed);
    Ok("Welcome to the fmd quickstart.\n")
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<(), fmd::Error> {
    let bare = std::env::args().any(|a| a == "--bare");
    let port: u16 = arg("--port").and_then(|p| p.parse().ok()).unwrap_or(9100);
    let db = arg("--db").unwrap_or_else(|| "fmd-load.db".into());
    let database = if db.contains("://") {
        db
    } else {
        format!("sqlite://{db}")
    };
    let axum = std::env::args().any(|a| a == "--axum");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let app = warp::path::end().and_then(index);
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if bare {
        println!("ready (bare) on {port}");
        if axum {
            let mut app = axum_app();
            if std::env::args().any(|a| a == "--noop-layer") {
                // The cost of any layer on axum's routes: what tracking's own cost is measured
                // beside.
                app = app.layer(tower_layer::Identity::new());
            }
            serve_axum(listener, app, stop).await?;
        } else if std::env::args().any(|a| a == "--noop-layer") {
            // A route under /dashboard before the app, untracked: what the dashboard's place
            // in front of the app costs warp's routing, measured beside tracking.
            let routes = warp::path("dashboard").map(|| "dashboard").or(app);
            warp::serve(routes)
                .incoming(listener)
                .graceful(stop)
                .run()
                .await;
        } else {
            warp::serve(app)
                .incoming(listener)
                .graceful(stop)
                .run()
                .await;
        }
        println!("served {} stored 0", SERVED.load(Ordering::Relaxed));
        return Ok(());
    }
    let level: u8 = arg("--level").and_then(|l| l.parse().ok()).unwrap_or(1);
    let mut config = fmd::Config::default()
        .database(database)
        .table_prefix(arg("--prefix").unwrap_or_else(|| "fmd_".into()))
        .password("load")
        .monitor_level(level)
        .queue_capacity(
            arg("--queue")
                .and_then(|q| q.parse().ok())
                .unwrap_or(1_000_000),
        );
    if let Some(name) = arg("--instance") {
        config = config.instance_name(name);
    }
    let dashboard = fmd::Dashboard::new(config.clone()).await?;
    println!("ready (bound) on {port}");
    if axum {
        let tracked = axum_app()
            .merge(dashboard.router())
            .layer(dashboard.layer());
        serve_axum(listener, tracked, stop).await?;
    } else {
        warp::serve(dashboard.bind(app))
            .incoming(listener)
            .graceful(stop)
            .run()
            .await;
    }
    dashboard.shutdown().await?;
    let store = fmd_store::Store::open(&config.database, &config.table_prefix)?;
    let id = store
        .endpoints()?
        .into_iter()
        .find(|e| e.name == "index")
        .map(|e| e.id)
        .unwrap_or(0);
    let name = config.effective_instance_name();
    let instance = store.instances()?.into_iter().find(|i| i.name == name);
    let stored = match instance {
        Some(i) => store.request_count(&fmd_store::Filter::endpoint(id).on_instance(Some(i.id)))?,
        None => 0,
    };
    println!(
        "served {} stored {stored} dropped {}",
        SERVED.load(Ordering::Relaxed),
        dashboard.writer_stats().dropped()
    );
    Ok(())
}

fn axum_app() -> axum::Router {
    async fn handler() -> &'static str {
        index().await.unwrap_or_default()
    }
    axum::Router::new().route("/", axum::routing::get(handler))
}

async fn serve_axum(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await
}
