//! The fmd dashboard on its own, for deployments where it runs apart from the services that
//! write to the database:
//!
//! ```text
//! fmd-dashboard --database postgres://fmd@db/fmd --bind 127.0.0.1:9000
//! ```
//!
//! The configuration comes from `--config FILE` (or `FMD_CONFIG` and `FMD_*` variables, as for
//! a service); `--database`, `--prefix` and `--bind` override it. Stop it with Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use warp::Filter;

const USAGE: &str = "usage: fmd-dashboard [--database URL] [--bind ADDRESS:PORT] [--prefix TABLE_PREFIX] [--config FILE]

  --database URL     sqlite://path/to/fmd.db, postgres://user@host/db or mysql://user@host/db
                     (default: the configuration's `database`)
  --bind ADDRESS     where to listen (default 127.0.0.1:9000)
  --prefix PREFIX    the services' table_prefix (default: the configuration's, fmd_)
  --config FILE      a configuration file as the services use (default: FMD_CONFIG, FMD_* variables)";

struct Args {
    database: Option<String>,
    bind: SocketAddr,
    prefix: Option<String>,
    config: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        database: None,
        bind: SocketAddr::from(([127, 0, 0, 1], 9000)),
        prefix: None,
        config: None,
    };
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--database" => parsed.database = Some(value),
            "--prefix" => parsed.prefix = Some(value),
            "--config" => parsed.config = Some(value),
            "--bind" => {
                parsed.bind = value.parse().map_err(|_| {
                    format!(
                        "--bind wants an address and port such as 127.0.0.1:9000, not {value:?}"
                    )
                })?
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(Some(parsed))
}

async fn run(args: Args) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => fmd_core::Config::from_file(path),
        None => fmd_core::Config::from_env(),
    }
    .map_err(|e| e.to_string())?;
    if let Some(database) = args.database {
        config = config.database(database);
    }
    if let Some(prefix) = args.prefix {
        config = config.table_prefix(prefix);
    }
    let shown = fmd_core::config::redact_url(&config.database);
    let dashboard = fmd_web::Dashboard::new(config)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    let path = dashboard.path();
    println!("fmd dashboard for {shown} at http://{}{path}", args.bind);
    let home = warp::path::end()
        .map(move || warp::redirect::see_other(warp::http::Uri::try_from(path.as_str()).unwrap()));
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    warp::serve(dashboard.routes().or(home))
        .incoming(listener)
        .graceful(stop)
        .run()
        .await;
    dashboard.shutdown().await.map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fmd-dashboard: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fmd-dashboard: {e}");
            ExitCode::FAILURE
        }
    }
}
