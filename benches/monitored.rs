//! Added cost of `#[monitored]` around an empty handler, against the bare handler, at level 0
//! and level 1, in one run: `cargo bench --bench monitored`.
//!
//! Futures are polled by hand with a no-op waker, so the numbers are the wrapper's own cost,
//! not an executor's. Level 1 sends a record on the real bounded queue, measured two ways:
//! - "level 1": calls are timed in chunks that fit the queue, which is drained between chunks,
//!   untimed: every send succeeds and nothing else touches the queue meanwhile, as in a service
//!   whose writer wakes every 10 ms;
//! - "level 1, contended": another thread drains the queue without pause while the calls run,
//!   the worst case for the queue's cache lines.

use std::hint::black_box;
use std::sync::mpsc::TryRecvError;

mod common;

use common::{chunked, run};
use criterion::{criterion_group, criterion_main, Criterion};
use fmd::monitored;

async fn bare(x: u64) -> u64 {
    x
}

#[monitored(name = "bench.monitored")]
async fn monitored_handler(x: u64) -> u64 {
    x
}

fn bare_sync(x: u64) -> u64 {
    x
}

#[monitored(name = "bench.monitored_sync")]
fn monitored_sync(x: u64) -> u64 {
    x
}

fn set_level(level: u8) {
    for e in fmd_core::registry::endpoints() {
        e.set_level(level);
    }
}

const QUEUE: usize = 1 << 16;
const CHUNK: u64 = 60_000;

fn bench(c: &mut Criterion) {
    let (recorder, rx) = fmd_core::Recorder::new(QUEUE);
    fmd_core::queue::set_default(Some(recorder.clone()));

    let mut group = c.benchmark_group("async handler");
    group.bench_function("bare", |b| b.iter(|| run(bare(black_box(1)))));
    set_level(0);
    group.bench_function("monitored level 0", |b| {
        b.iter(|| run(monitored_handler(black_box(1))))
    });
    set_level(1);
    group.bench_function("monitored level 1", |b| {
        chunked(b, &rx, CHUNK, || {
            run(monitored_handler(black_box(1)));
        })
    });
    group.finish();

    let mut group = c.benchmark_group("sync handler");
    group.bench_function("bare", |b| b.iter(|| bare_sync(black_box(1))));
    set_level(0);
    group.bench_function("monitored level 0", |b| {
        b.iter(|| monitored_sync(black_box(1)))
    });
    set_level(1);
    group.bench_function("monitored level 1", |b| {
        chunked(b, &rx, CHUNK, || {
            monitored_sync(black_box(1));
        })
    });
    group.finish();
    let dropped_uncontended = recorder.stats.dropped();

    // What level 1 spends on the Prometheus counters, part of the figures above.
    let metrics = fmd_core::metrics::EndpointMetrics::new();
    let mut group = c.benchmark_group("metrics");
    group.bench_function("count one request", |b| {
        b.iter(|| metrics.count(black_box(200), black_box(3_000), black_box(0)))
    });
    group.finish();

    // The same queue, drained by a thread spinning on it.
    let drainer = std::thread::spawn(move || loop {
        match rx.try_recv() {
            Ok(_) => {}
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
            Err(TryRecvError::Disconnected) => return,
        }
    });
    let mut group = c.benchmark_group("async handler");
    group.bench_function("monitored level 1, contended", |b| {
        b.iter(|| run(monitored_handler(black_box(1))))
    });
    group.finish();
    eprintln!(
        "records dropped: {dropped_uncontended} uncontended, {} contended",
        recorder.stats.dropped() - dropped_uncontended
    );
    fmd_core::queue::set_default(None);
    drop(recorder);
    drop(drainer);
}

criterion_group!(benches, bench);
criterion_main!(benches);
