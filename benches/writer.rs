//! Rows per second the sink writes, in batches of 1000 records (one transaction each), on every
//! backend this build has: `cargo bench --all-features --bench writer`. Criterion reports the
//! throughput in elements (rows) per second. PostgreSQL and MySQL are taken from
//! `FMD_TEST_POSTGRES` / `FMD_TEST_MYSQL` or this machine's servers, under a prefix of their own
//! whose tables are dropped at the end; a server that does not answer is skipped.
//!
//! With `FMD_WRITER_BATCHES=N` it writes N batches (of `FMD_WRITER_ROWS`, default 1,000) to
//! SQLite and exits, without criterion: `scripts/callgrind-writer.sh` counts the instructions of
//! two such runs.

use std::time::Duration;

mod common;

use criterion::{criterion_group, Criterion, Throughput};
use fmd_core::{Endpoint, EndpointMeta, RequestRecord, Sink};

static ENDPOINT: Endpoint = Endpoint::new(EndpointMeta {
    name: "bench.writer",
    module_path: "writer",
    function: "bench",
    file: "benches/writer.rs",
    line: 1,
    source: "",
    source_sha256: "0000000000000000000000000000000000000000000000000000000000000000",
});

const PREFIX: &str = "fmd_bench_";

/// `n` records as a service records them: a few users, one address, times in order.
fn batch(n: i64) -> Vec<RequestRecord> {
    (0..n)
        .map(|i| RequestRecord {
            endpoint: &ENDPOINT,
            time_requested: 1_700_000_000_000_000 + i,
            duration_us: 150 + (i as u64 % 50),
            status_code: 200,
            ip: Some("127.0.0.1".parse().unwrap()),
            group_by: Some(format!("(User,{})", i % 17)),
            detail: None,
        })
        .collect()
}

/// Times advance as in a service, so rows append to the indexes as they do in production.
fn write(sink: &mut impl Sink, batch: &mut [RequestRecord]) {
    for r in batch.iter_mut() {
        r.time_requested += 1000;
    }
    sink.write(batch, &[]).unwrap()
}

fn main() {
    if let Ok(n) = std::env::var("FMD_WRITER_BATCHES") {
        let n: usize = n
            .parse()
            .expect("FMD_WRITER_BATCHES is a number of batches");
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("fmd.db").display());
        let store = fmd_store::Store::open(&url, PREFIX).unwrap();
        let synced = store.sync_endpoints(&[&ENDPOINT], 1, "1.0").unwrap();
        let mut sink = store
            .sink("1.0", "bench", &synced, 1, Duration::from_secs(5))
            .unwrap();
        let rows = std::env::var("FMD_WRITER_ROWS").map_or(1000, |r| {
            r.parse()
                .expect("FMD_WRITER_ROWS is a number of rows per batch")
        });
        let mut batch = batch(rows);
        for _ in 0..n {
            write(&mut sink, &mut batch);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("writer");
    group.throughput(Throughput::Elements(1000));
    group.sample_size(20);
    for (name, url) in common::targets(dir.path()) {
        let Some(store) = common::open(name, &url, PREFIX) else {
            continue;
        };
        let synced = store.sync_endpoints(&[&ENDPOINT], 1, "1.0").unwrap();
        let mut sink = store
            .sink("1.0", "bench", &synced, 1, Duration::from_secs(5))
            .unwrap();
        let mut batch = batch(1000);
        group.bench_function(format!("{name} batch of 1000"), |b| {
            b.iter(|| write(&mut sink, &mut batch))
        });
        drop(sink);
        if name != "sqlite" {
            store.drop_all_tables().unwrap();
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
