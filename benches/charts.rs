//! Every chart route (the timelines over each of their ranges), the reports and the overview at scale, over HTTP as the dashboard's pages call them:
//! `cargo bench --bench charts`.
//!
//! Generates (once, then reuses) a SQLite database under `target/` with `FMD_BENCH_ROWS`
//! requests (default 1,000,000) over 30 days across 20 endpoints, three versions, 200 users
//! and 100 addresses, written through the sink in time order as a service writes them. Then
//! it serves the dashboard on 127.0.0.1, calls each route `FMD_BENCH_CALLS` times (default
//! 15) with the read-only token, and prints each route's median and slowest time.
//! `FMD_BENCH_FRESH=1` makes the data set again.

use std::time::{Duration, Instant};

mod common;

use fmd_core::{RequestRecord, Sink};
use rand::{Rng, SeedableRng};

const ENDPOINTS: usize = 20;
const DAYS: i64 = 30;
const DAY: i64 = 86_400_000_000;
const VERSIONS: [&str; 3] = ["1.0", "1.1", "2.0"];
const TOKEN: &str = "bench-token";

/// Writes `rows` requests ending at `now`, oldest first, in batches of 1,000 as the writer
/// does; each third of the month runs the next version.
fn generate(url: &str, rows: usize, now: i64) {
    let store = fmd_store::Store::open(url, "fmd_").unwrap();
    let endpoints = common::made_endpoints(ENDPOINTS, "benches/charts.rs");
    let synced = store.sync_endpoints(&endpoints, 1, VERSIONS[0]).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let started = Instant::now();
    let start = now - DAYS * DAY;
    let step = (DAYS * DAY) / rows as i64;
    let mut batch = Vec::with_capacity(1000);
    let mut version = usize::MAX;
    let mut sink: Option<fmd_store::SqlSink> = None;
    for n in 0..rows {
        let time = start + n as i64 * step + rng.random_range(0..step.max(1));
        let v = ((time - start) * VERSIONS.len() as i64 / (DAYS * DAY)) as usize;
        if v != version {
            if let Some(mut s) = sink.take() {
                s.write(&batch, &[]).unwrap();
                batch.clear();
            }
            version = v.min(VERSIONS.len() - 1);
            sink = Some(
                store
                    .sink(
                        VERSIONS[version],
                        "bench",
                        &synced,
                        1,
                        Duration::from_secs(30),
                    )
                    .unwrap(),
            );
        }
        // Busier and faster endpoints at low indexes, a long tail on one request in a hundred.
        let e = (rng.random_range(0.0f64..1.0).powi(2) * ENDPOINTS as f64) as usize;
        let base = (e as u64 + 1) * 1000;
        let tail = if rng.random_range(0..100) == 0 { 20 } else { 1 };
        let user = (rng.random_range(0.0f64..1.0).powi(3) * 200.0) as u32;
        batch.push(RequestRecord {
            endpoint: endpoints[e.min(ENDPOINTS - 1)],
            time_requested: time,
            duration_us: base / 2 + rng.random_range(0..base) * tail,
            status_code: match rng.random_range(0..100) {
                0 => 500,
                1..=3 => 404,
                _ => 200,
            },
            ip: Some(format!("10.0.{}.{}", user % 4, user % 100).parse().unwrap()),
            group_by: Some(format!("(User,{user})")),
            detail: None,
        });
        if batch.len() == 1000 {
            sink.as_mut().unwrap().write(&batch, &[]).unwrap();
            batch.clear();
        }
    }
    if let Some(mut s) = sink {
        s.write(&batch, &[]).unwrap();
    }
    store
        .setting_or_insert("bench_rows", &rows.to_string())
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "wrote {rows} requests in {secs:.1} s ({:.0} a second)",
        rows as f64 / secs
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it with nothing, so do little.
    let quick = !std::env::args().any(|a| a == "--bench");
    let var = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rows = if quick {
        20_000
    } else {
        var("FMD_BENCH_ROWS", 1_000_000)
    };
    let calls = if quick { 2 } else { var("FMD_BENCH_CALLS", 15) };
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let file = target.join(format!("fmd-charts-{rows}.db"));
    let url = format!("sqlite://{}", file.display());
    let now = fmd_core::now_micros();
    let complete = file.exists()
        && std::env::var("FMD_BENCH_FRESH").is_err()
        && fmd_store::Store::open(&url, "fmd_")
            .and_then(|s| s.setting_or_insert("bench_rows", "incomplete"))
            .is_ok_and(|v| v == rows.to_string());
    if !complete {
        let _ = std::fs::remove_file(&file);
        eprintln!("generating {rows} requests into {}", file.display());
        generate(&url, rows, now);
    } else {
        eprintln!(
            "reusing {} (FMD_BENCH_FRESH=1 makes it again)",
            file.display()
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let config = fmd::Config::default()
            .database(url)
            .password("bench-admin")
            .security_token(TOKEN);
        let dashboard = fmd::Dashboard::new(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/dashboard/api", listener.local_addr().unwrap());
        let app = warp::Filter::map(warp::path!("ok"), || "ok");
        tokio::spawn(warp::serve(dashboard.bind(app)).incoming(listener).run());
        let client = reqwest::Client::new();
        let overview: serde_json::Value = client
            .get(format!("{base}/overview"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let busiest = overview
            .as_array()
            .unwrap()
            .iter()
            .max_by_key(|r| r["hits_overall"].as_i64())
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let month = format!(
            "from={}",
            chrono::DateTime::from_timestamp_micros(now - (DAYS - 1) * DAY)
                .unwrap()
                .format("%Y-%m-%d")
        );
        let mut routes: Vec<String> = ["overview", "reports?compare=week", "reports?compare=versions"]
            .map(String::from)
            .to_vec();
        for range in ["1h", "6h", "24h", "7d", "30d"] {
            routes.push(format!("charts/timeline?range={range}"));
            routes.push(format!("endpoints/{busiest}/charts/timeline?range={range}"));
        }
        for range in ["", &month] {
            let q = if range.is_empty() { String::new() } else { format!("?{range}") };
            for kind in ["hourly", "daily", "versions", "performance"] {
                routes.push(format!("charts/{kind}{q}"));
            }
            for kind in ["hourly", "versions", "users", "user_versions", "ip_versions", "status"] {
                routes.push(format!("endpoints/{busiest}/charts/{kind}{q}"));
            }
        }
        println!("{rows} requests over {DAYS} days, {ENDPOINTS} endpoints; endpoint {busiest} is the busiest; {calls} calls a route");
        println!("{:<58} {:>10} {:>10}", "route (default range: 7 days)", "median ms", "max ms");
        for route in routes {
            let mut times = Vec::with_capacity(calls);
            for _ in 0..calls {
                let t = Instant::now();
                let r = client
                    .get(format!("{base}/{route}"))
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{route}: {}", r.status());
                r.bytes().await.unwrap();
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{route:<58} {:>10.1} {:>10.1}",
                times[times.len() / 2],
                times[times.len() - 1]
            );
        }
        dashboard.shutdown().await.unwrap();
    });
}
