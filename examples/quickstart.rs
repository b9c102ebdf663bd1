//! A small service with the dashboard: `cargo run --example quickstart`
//!
//! Open the printed URL and log in. Add `-- --demo-traffic` to have the service send itself a
//! steady mix of requests so the dashboard fills within seconds. Ctrl-C stops it after writing
//! every recorded request to `fmd-quickstart.db`.
//!
//! Settings come from the environment as for any fmd service (`FMD_CONFIG=fmd.toml`,
//! `FMD_DATABASE=...`, `FMD_PASSWORD=...`); `PORT` picks the port (default 8080).

use std::convert::Infallible;
use std::time::Duration;

use fmd::{monitored, profiled};
use rand::Rng;
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
    match load_user(id).await {
        Ok(name) => Ok(format!("user {id}: {name}\n")),
        Err(e) => {
            // Handled (the client gets a 404), and recorded: see the Exceptions page.
            fmd::capture!(e);
            Err(warp::reject::not_found())
        }
    }
}

/// Why a user could not be loaded.
#[derive(Debug)]
struct UserMissing(u32);

impl std::fmt::Display for UserMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no user with id {}", self.0)
    }
}

impl std::error::Error for UserMissing {}

/// A lookup that is quick, except for a cold cache now and then.
#[profiled]
async fn load_user(id: u32) -> Result<String, UserMissing> {
    let millis = {
        let mut rng = rand::rng();
        if rng.random_range(0..30) == 0 {
            rng.random_range(60..120)
        } else {
            rng.random_range(2..12)
        }
    };
    tokio::time::sleep(Duration::from_millis(millis)).await;
    if id.is_multiple_of(5) {
        return Err(UserMissing(id));
    }
    Ok(format!("user-{id}"))
}

/// Slow: a report built from two sources fetched at once, then summed up and rendered. With
/// `--demo-traffic` it runs at level 3: see its Profiler and Grouped profiler tabs.
#[monitored]
async fn report() -> Result<impl Reply, Rejection> {
    let (orders, refunds) = tokio::join!(fetch_rows("orders"), fetch_rows("refunds"));
    let total = summarize(&orders).saturating_sub(summarize(&refunds));
    let text = fmd::span!("render", {
        format!(
            "report: {total} over {} rows\n",
            orders.len() + refunds.len()
        )
    });
    Ok(text)
}

/// A query that usually takes tens of milliseconds, and now and then stalls for over a second:
/// those requests are the report's outliers.
#[profiled]
async fn fetch_rows(table: &str) -> Vec<u64> {
    let (millis, rows) = {
        let mut rng = rand::rng();
        let stall = rng.random_range(0..25) == 0;
        let millis = if stall {
            rng.random_range(900..1500)
        } else {
            rng.random_range(20..90)
        };
        (millis, rng.random_range(50..500))
    };
    tokio::time::sleep(Duration::from_millis(millis)).await;
    (0..rows).map(|i| i * table.len() as u64).collect()
}

/// CPU work on the fetched rows.
#[profiled]
fn summarize(rows: &[u64]) -> u64 {
    rows.iter().map(|r| r % 97).sum()
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

/// Requests to the service itself: mostly fast pages, some slow, some failing.
async fn demo_traffic(base: String) {
    let client = reqwest::Client::new();
    let users = ["alice", "bob", "carol", "dave"];
    loop {
        let (path, user) = {
            let mut rng = rand::rng();
            let roll = rng.random_range(0..100);
            let path = match roll {
                0..=34 => "/".to_owned(),
                35..=59 => format!("/users/{}", rng.random_range(1..30)),
                60..=69 => "/report".to_owned(),
                70..=77 => "/checkout".to_owned(),
                78..=89 => "/search?q=warp".to_owned(),
                90..=91 => "/search?q=oops&crash=1".to_owned(),
                92..=96 => "/health".to_owned(),
                _ => "/no/such/page".to_owned(),
            };
            (path, users[rng.random_range(0..users.len())])
        };
        // A panicking handler closes the connection; the error is expected.
        let _ = client
            .get(format!("{base}{path}"))
            .header("x-user", user)
            .send()
            .await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), fmd::Error> {
    let demo = std::env::args().any(|a| a == "--demo-traffic");
    let mut config = fmd::Config::from_env()?;
    if std::env::var_os("FMD_DATABASE").is_none() && config.source.is_none() {
        config.database = "sqlite://fmd-quickstart.db".into();
    }
    // A demo password, so the quickstart can print it; a real service sets its own (or lets
    // fmd generate one on first start).
    let password_given = config.password.is_some() || config.password_hash.is_some();
    if !password_given {
        config.password = Some("fmd-demo".into());
    }
    if config.guest_password.is_empty() {
        config.guest_password = vec!["dashboardguest!".into()];
    }
    // Group requests without an explicit fmd::set_group_by by the X-User header.
    let config = config.group_by(|req| req.header("x-user").map(fmd::GroupBy::from));

    if demo {
        // The demo crashes /search on purpose now and then: print one line instead of a
        // backtrace each time. Installed before the dashboard, whose own hook (recording the
        // panic) calls this one.
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            eprintln!("demo: a handler panicked{location}; the connection was closed and the service keeps serving");
        }));
    }
    let dashboard = fmd::Dashboard::new(config.clone()).await?;
    // A custom graph (the "Custom graphs" page): what the writer stored since start, every 10 s.
    let stats = dashboard.clone();
    dashboard.add_graph(
        "Requests written since start",
        fmd::Schedule::every(Duration::from_secs(10)),
        move || {
            stats
                .writer_stats()
                .written
                .load(std::sync::atomic::Ordering::Relaxed)
        },
    );
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");

    println!("fmd quickstart serving on {base}");
    println!("dashboard: {base}{}/overview", dashboard.path());
    if password_given {
        println!(
            "log in as {:?} with your configured password",
            config.username
        );
    } else {
        println!(
            "log in as {:?} with password \"fmd-demo\" (guest: \"guest\" / \"dashboardguest!\")",
            config.username
        );
    }
    if demo {
        // Show every level: the report profiled, user pages watched for outliers.
        dashboard.set_level("report", 3).await?;
        dashboard.set_level("users.show", 2).await?;
        println!("sending demo traffic to {base}; Ctrl-C to stop");
        tokio::spawn(demo_traffic(base.clone()));
    } else {
        println!("tip: run with `-- --demo-traffic` to fill the dashboard");
    }

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
