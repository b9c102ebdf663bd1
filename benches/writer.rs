//! Rows per second the SQLite sink writes, in batches of 1000 records (one transaction each):
//! `cargo bench --bench writer`. Criterion reports the throughput in elements (rows) per second.

use std::time::Duration;

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

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fmd.db").display());
    let store = fmd_store::Store::open(&url, "fmd_").unwrap();
    let synced = store.sync_endpoints(&[&ENDPOINT], 1, "1.0").unwrap();
    let mut sink = store
        .sink("1.0", &synced, 1, Duration::from_secs(5))
        .unwrap();
    let mut batch: Vec<RequestRecord> = (0..1000)
        .map(|i| RequestRecord {
            endpoint: &ENDPOINT,
            time_requested: 1_700_000_000_000_000 + i,
            duration_us: 150 + (i as u64 % 50),
            status_code: 200,
            ip: Some("127.0.0.1".parse().unwrap()),
            group_by: Some(format!("(User,{})", i % 17)),
        })
        .collect();
    let mut group = c.benchmark_group("writer");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.sample_size(30);
    // Times advance as in a service, so rows append to the indexes as they do in production.
    group.bench_function("sqlite batch of 1000", |b| {
        b.iter(|| {
            for r in batch.iter_mut() {
                r.time_requested += 1000;
            }
            sink.write(&batch, &[]).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
