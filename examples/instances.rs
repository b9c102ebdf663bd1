//! Several instances of one service writing to one database, each under its own name:
//!
//! ```text
//! cargo run --example instances -- web-1 8081 &
//! cargo run --example instances -- web-2 8082 &
//! ```
//!
//! Both write to `sqlite://fmd-instances.db` by default; with `FMD_DATABASE=postgres://...`
//! (and `--features postgres`) they share a PostgreSQL database instead. Open either
//! dashboard (admin / `fmd-demo`): the overview has an instance filter, a level changed in one
//! reaches the other within 2 seconds, and the figures count both. Each instance sends itself a
//! request every 100 ms so there is something to see.

use std::time::Duration;

use fmd::monitored;
use warp::Filter;

#[monitored]
async fn hello() -> Result<String, std::convert::Infallible> {
    Ok("hello\n".into())
}

#[tokio::main]
async fn main() -> Result<(), fmd::Error> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "web-1".into());
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8081);
    let config = fmd::Config::from_env()?
        .database(
            std::env::var("FMD_DATABASE").unwrap_or_else(|_| "sqlite://fmd-instances.db".into()),
        )
        .password("fmd-demo")
        .instance_name(name.clone());
    let dashboard = fmd::Dashboard::new(config).await?;
    println!("{name}: http://127.0.0.1:{port}{}", dashboard.path());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            // A plain TCP request keeps the example free of an HTTP client dependency.
            if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                use tokio::io::AsyncWriteExt;
                let request = format!(
                    "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(request.as_bytes()).await;
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut Vec::new()).await;
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    warp::serve(dashboard.bind(warp::path::end().and_then(hello)))
        .incoming(listener)
        .graceful(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .run()
        .await;
    dashboard.shutdown().await
}
