//! Rows per second the sink writes, in batches of 1000 records (one transaction each), on every
//! backend this build has: `cargo bench --all-features --bench writer`. Criterion reports the
//! throughput in elements (rows) per second. PostgreSQL and MySQL are taken from
//! `FMD_TEST_POSTGRES` / `FMD_TEST_MYSQL` or this machine's servers, under a prefix of their own
//! whose tables are dropped at the end; a server that does not answer is skipped.

use std::time::Duration;

mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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
        let mut batch: Vec<RequestRecord> = (0..1000)
            .map(|i| RequestRecord {
                endpoint: &ENDPOINT,
                time_requested: 1_700_000_000_000_000 + i,
                duration_us: 150 + (i as u64 % 50),
                status_code: 200,
                ip: Some("127.0.0.1".parse().unwrap()),
                group_by: Some(format!("(User,{})", i % 17)),
                detail: None,
            })
            .collect();
        // Times advance as in a service, so rows append to the indexes as they do in
        // production.
        group.bench_function(format!("{name} batch of 1000"), |b| {
            b.iter(|| {
                for r in batch.iter_mut() {
                    r.time_requested += 1000;
                }
                sink.write(&batch, &[]).unwrap()
            })
        });
        drop(sink);
        if name != "sqlite" {
            store.drop_all_tables().unwrap();
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
