//! Alerts: `cargo run --example alerts`
//!
//! A small service with two endpoints and alerting on, delivering to a webhook that the
//! example itself serves on 127.0.0.1 and prints (so it runs offline; set
//! `FMD_WEBHOOK_URLS='["https://hooks.slack.com/services/..."]'` to send to Slack instead, or
//! `FMD_EMAIL_TO` and `FMD_SMTP_URL` for email):
//!
//! - `/orders/{id}` panics for ids of 900 and up: one `new_exception` alert for the group,
//!   however often it happens;
//! - `/stock/{id}` answers 503 for odd ids: its error rate (50 %) passes the 10 % threshold
//!   over the one-minute window: one `error_rate` alert, and a `resolved` one when a whole
//!   minute passes without it.
//!
//! The example sends itself traffic for two minutes (errors in the first), prints each alert
//! as the webhook receives it, and where to look: the Alerts page, with the history and a
//! "Send a test alert" button. Ctrl-C stops it.

use std::time::Duration;

use fmd::monitored;
use warp::Filter;

#[monitored(name = "orders.show")]
async fn order(id: u32) -> Result<String, warp::Rejection> {
    let lines = [3u32, 5, 8];
    let index = (id / 300) as usize;
    Ok(format!("order {id}: {} lines\n", lines[index]))
}

#[monitored(name = "stock.show")]
async fn stock(id: u32) -> Result<warp::reply::Response, warp::Rejection> {
    use warp::Reply;
    let status = match id % 2 {
        1 => warp::http::StatusCode::SERVICE_UNAVAILABLE,
        _ => warp::http::StatusCode::OK,
    };
    Ok(warp::reply::with_status(format!("stock of {id}\n"), status).into_response())
}

/// A webhook receiver: prints the `text` of every alert it is sent.
async fn print_webhooks() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let hook = warp::post()
        .and(warp::body::json())
        .map(|alert: serde_json::Value| {
            println!(
                "webhook <- {}: {}",
                alert["kind"].as_str().unwrap_or("?"),
                alert["text"].as_str().unwrap_or("")
            );
            "ok"
        });
    tokio::spawn(warp::serve(hook).incoming(listener).run());
    Ok(url)
}

#[tokio::main]
async fn main() -> Result<(), fmd::Error> {
    // The default hook would print every panic of the demo; set yours before the dashboard's.
    std::panic::set_hook(Box::new(|_| {}));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut config = fmd::Config::default()
        .database("sqlite://fmd-alerts.db")
        .password("fmd-demo")
        .dashboard_url(format!("{base}/dashboard"))
        .window_minutes(1)
        .min_requests(10)
        .cooldown_minutes(5);
    // FMD_* variables (a real Slack URL, email) take precedence over the local receiver.
    let from_env = fmd::Config::from_env()?;
    config.webhook_urls = match from_env.webhook_urls.is_empty() && from_env.email_to.is_empty() {
        true => vec![print_webhooks().await?],
        false => from_env.webhook_urls,
    };
    config.email_to = from_env.email_to;
    config.smtp_url = from_env.smtp_url;
    let dashboard = fmd::Dashboard::new(config).await?;
    let app = warp::path!("orders" / u32)
        .and_then(order)
        .or(warp::path!("stock" / u32).and_then(stock));
    let server = tokio::spawn(warp::serve(dashboard.bind(app)).incoming(listener).run());

    println!("log in as \"admin\" / \"fmd-demo\" at {base}/dashboard/alerts");
    println!("sending traffic for two minutes; alerts print here as they arrive; Ctrl-C to stop");
    let client = reqwest::Client::new();
    let traffic = async {
        for second in 0..120u32 {
            // A panic every 30 s: one new group, and too few errors for a rate alert.
            if second % 30 == 0 {
                let _ = client
                    .get(format!("{base}/orders/{}", 900 + second))
                    .send()
                    .await;
            }
            let _ = client.get(format!("{base}/orders/{second}")).send().await;
            // Odd ids, so errors, in the first minute only.
            let id = if second < 60 { second } else { second * 2 };
            for n in 0..2 {
                let _ = client
                    .get(format!("{base}/stock/{}", id + n * 2))
                    .send()
                    .await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        println!("traffic done; the dashboard stays up");
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = traffic => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    server.abort();
    dashboard.shutdown().await?;
    Ok(())
}
