//! What the quickstarts share: their configuration, the demo traffic, the start-up banner, and
//! the work behind their handlers (user lookups, report queries). Both serve the same service
//! (one on warp, one on axum), so the dashboard looks the same.

use std::time::Duration;

use fmd::profiled;
use rand::Rng;

/// The configuration from the environment, with the quickstart's defaults: an SQLite file, a
/// demo password (so the banner can print it), a guest, and requests grouped by the `X-User`
/// header when the handler does not say. Also says whether a password was configured.
pub(crate) fn config() -> Result<(fmd::Config, bool), fmd::Error> {
    let mut config = fmd::Config::from_env()?;
    if std::env::var_os("FMD_DATABASE").is_none() && config.source.is_none() {
        config.database = "sqlite://fmd-quickstart.db".into();
    }
    // A real service sets its own password (or lets fmd generate one on first start).
    let password_given = config.password.is_some() || config.password_hash.is_some();
    if !password_given {
        config.password = Some("fmd-demo".into());
    }
    if config.guest_password.is_empty() {
        config.guest_password = vec!["dashboardguest!".into()];
    }
    let config = config.group_by(|req| req.header("x-user").map(fmd::GroupBy::from));
    Ok((config, password_given))
}

/// The demo crashes `/search` on purpose now and then: one line instead of a backtrace each
/// time. Installed before the dashboard, whose own hook (recording the panic) calls this one.
pub(crate) fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("demo: a handler panicked{location}; the connection was closed and the service keeps serving");
    }));
}

/// A custom graph (the "Custom graphs" page): what the writer stored since start, every 10 s.
pub(crate) fn add_written_graph(dashboard: &fmd::Dashboard) {
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
}

/// The listener on `PORT` (default 8080), and the service's base URL.
pub(crate) async fn listen() -> std::io::Result<(tokio::net::TcpListener, String)> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    Ok((listener, base))
}

/// Prints where to go and how to log in; with `demo`, starts the demo traffic at every level.
pub(crate) async fn start(
    name: &str,
    dashboard: &fmd::Dashboard,
    config: &fmd::Config,
    password_given: bool,
    base: &str,
    demo: bool,
) -> Result<(), fmd::Error> {
    println!("fmd {name} serving on {base}");
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
        tokio::spawn(traffic(base.to_owned()));
    } else {
        println!("tip: run with `-- --demo-traffic` to fill the dashboard");
    }
    Ok(())
}

/// Requests to the service itself: mostly fast pages, some slow, some failing.
async fn traffic(base: String) {
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

/// Why a user could not be loaded.
#[derive(Debug)]
pub(crate) struct UserMissing(u32);

impl std::fmt::Display for UserMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no user with id {}", self.0)
    }
}

impl std::error::Error for UserMissing {}

/// A lookup that is quick, except for a cold cache now and then.
#[profiled]
pub(crate) async fn load_user(id: u32) -> Result<String, UserMissing> {
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

/// A query that usually takes tens of milliseconds, and now and then stalls for over a second:
/// those requests are the report's outliers.
#[profiled]
pub(crate) async fn fetch_rows(table: &str) -> Vec<u64> {
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
pub(crate) fn summarize(rows: &[u64]) -> u64 {
    rows.iter().map(|r| r % 97).sum()
}
