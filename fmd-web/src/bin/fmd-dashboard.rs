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

#[derive(Debug)]
struct Args {
    database: Option<String>,
    bind: SocketAddr,
    prefix: Option<String>,
    config: Option<String>,
}

/// The arguments, or `None` for `--help`. `--name=value` works as well as `--name value`.
fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parsed = Args {
        database: None,
        bind: SocketAddr::from(([127, 0, 0, 1], 9000)),
        prefix: None,
        config: None,
    };
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(None),
            Long("database") => parsed.database = Some(parser.value()?.string()?),
            Long("prefix") => parsed.prefix = Some(parser.value()?.string()?),
            Long("config") => parsed.config = Some(parser.value()?.string()?),
            Long("bind") => {
                let value = parser.value()?.string()?;
                parsed.bind = value.parse().map_err(|_| {
                    format!(
                        "--bind wants an address and port such as 127.0.0.1:9000, not {value:?}"
                    )
                })?
            }
            other => return Err(other.unexpected()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Option<Args>, String> {
        parse(list.iter().map(|s| s.to_string())).map_err(|e| e.to_string())
    }

    #[test]
    fn options_take_their_value_either_way() {
        let parsed = args(&["--database", "sqlite://x.db", "--bind=0.0.0.0:9100"])
            .unwrap()
            .unwrap();
        assert_eq!(parsed.database.as_deref(), Some("sqlite://x.db"));
        assert_eq!(parsed.bind, SocketAddr::from(([0, 0, 0, 0], 9100)));
        assert!(args(&["-h"]).unwrap().is_none());
    }

    #[test]
    fn mistakes_are_named() {
        assert!(args(&["--bind", "nope"])
            .unwrap_err()
            .contains("127.0.0.1:9000"));
        assert!(args(&["--what"]).unwrap_err().contains("--what"));
        assert!(args(&["--prefix"]).unwrap_err().contains("--prefix"));
    }
}
