//! The overview's latency with a large history: `cargo bench --all-features --bench overview`.
//!
//! Fills each backend this build has with `FMD_BENCH_ROWS` requests (default 1,000,000) over 30
//! days across 20 endpoints, written through the sink as a service would, then times
//! `Store::overview` (counts and exact medians for today, the week and overall, every
//! endpoint). PostgreSQL and MySQL come from `FMD_TEST_POSTGRES` / `FMD_TEST_MYSQL` or this
//! machine's servers, under a prefix whose tables are dropped at the end; `FMD_BENCH_BACKENDS`
//! (e.g. `postgres`) limits the run.

use std::time::{Duration, Instant};

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use fmd_core::{Endpoint, RequestRecord, Sink};
use rand::{Rng, SeedableRng};

const PREFIX: &str = "fmd_ovbench_";
const ENDPOINTS: usize = 20;
const DAY: i64 = 86_400_000_000;

fn fill(sink: &mut fmd_store::SqlSink, endpoints: &[&'static Endpoint], rows: usize, now: i64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(1000);
    for n in 0..rows {
        let e = rng.random_range(0..endpoints.len());
        batch.push(RequestRecord {
            endpoint: endpoints[e],
            time_requested: now - rng.random_range(0..30 * DAY),
            // Endpoint e is around (e + 1) ms, with a long tail.
            duration_us: ((e as u64 + 1) * 1000) / 2 + rng.random_range(0..(e as u64 + 1) * 1000),
            status_code: if rng.random_range(0..50) == 0 {
                500
            } else {
                200
            },
            ip: Some("10.0.0.1".parse().unwrap()),
            group_by: Some(format!("(User,{})", n % 100)),
            detail: None,
        });
        if batch.len() == 1000 {
            sink.write(&batch, &[]).unwrap();
            batch.clear();
        }
    }
    sink.write(&batch, &[]).unwrap();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "wrote {rows} rows in {secs:.1} s ({:.0} rows/s)",
        rows as f64 / secs
    );
}

fn bench(c: &mut Criterion) {
    let rows: usize = std::env::var("FMD_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let endpoints = common::made_endpoints(ENDPOINTS, "benches/overview.rs");
    let now = fmd_core::now_micros();
    let mut group = c.benchmark_group(format!("overview of {rows} rows"));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for (name, url) in common::targets(dir.path()) {
        let Some(store) = common::open(name, &url, PREFIX) else {
            continue;
        };
        let synced = store.sync_endpoints(&endpoints, 1, "1.0").unwrap();
        let mut sink = store
            .sink("1.0", "bench", &synced, 1, Duration::from_secs(30))
            .unwrap();
        eprintln!("{name}: filling");
        fill(&mut sink, &endpoints, rows, now);
        drop(sink);
        group.bench_function(name, |b| {
            b.iter(|| {
                let rows = store.overview(now - DAY / 2, now - 7 * DAY, None).unwrap();
                assert_eq!(rows.len(), ENDPOINTS);
                rows
            })
        });
        if name != "sqlite" {
            store.drop_all_tables().unwrap();
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
