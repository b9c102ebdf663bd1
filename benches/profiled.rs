//! Cost of `#[profiled]` and of levels 2 and 3, in one run: `cargo bench --bench profiled`.
//!
//! - "span": a profiled function that does nothing, against the same function unannotated: at
//!   levels 0-2 (nothing is recorded: one thread-local check) and at level 3 inside a profiled
//!   request (one span recorded);
//! - "request without profiled calls": level 2 against level 1 is what outlier detection adds
//!   to a request that is no outlier (its profile, and the watchdog's notice);
//! - "request with 10 profiled calls", at levels 1, 2 and 3: level 3 against level 1 is what ten
//!   spans add; level 2 records them too (an outlier keeps its tree, and the watchdog reads the
//!   open spans), so it costs what level 3 does.
//!
//! - with `--features tracing`, "tracing span": a `tracing` span entered and left
//!   (`in_scope`) on a registry without fmd's layer, with it outside a profiled request (levels
//!   0-1: one thread-local read per enter and exit), and with it at level 3 (one profiler span).
//!
//! Handlers are polled by hand with a no-op waker; the queue is drained between chunks, untimed.

use std::hint::black_box;
use std::time::Duration;

mod common;

use common::{chunked, run};
use criterion::{criterion_group, criterion_main, Criterion};
use fmd::{monitored, profiled};

#[inline(never)]
fn bare(x: u64) -> u64 {
    black_box(x)
}

#[profiled]
#[inline(never)]
fn step(x: u64) -> u64 {
    black_box(x)
}

#[monitored(name = "bench.ten_spans")]
async fn ten_spans(x: u64) -> u64 {
    let mut sum = 0;
    for i in 0..10 {
        sum += step(x + i);
    }
    sum
}

#[monitored(name = "bench.no_spans")]
async fn no_spans(x: u64) -> u64 {
    x
}

#[monitored(name = "bench.span_loop")]
fn span_loop(n: u64) -> u64 {
    let mut sum = 0;
    for i in 0..n {
        sum += step(i);
    }
    sum
}

#[cfg(feature = "tracing")]
#[monitored(name = "bench.tracing_loop")]
fn tracing_loop(n: u64) -> u64 {
    let mut sum = 0;
    for i in 0..n {
        sum += tracing::info_span!("step").in_scope(|| black_box(i));
    }
    sum
}

/// `tracing` spans beside `#[profiled]`'s: what a span costs the registry alone, and what fmd's
/// layer adds outside a profiled request and at level 3.
#[cfg(feature = "tracing")]
fn tracing_spans(c: &mut Criterion, rx: &std::sync::mpsc::Receiver<fmd_core::WriterMsg>) {
    use tracing_subscriber::layer::SubscriberExt;
    let mut group = c.benchmark_group("tracing span");
    let in_scope = || tracing::info_span!("step").in_scope(|| black_box(1u64));
    // A registry with the identity layer: the same subscriber type, without fmd.
    let without = tracing_subscriber::registry().with(tracing_subscriber::layer::Identity::new());
    tracing::subscriber::with_default(without, || {
        group.bench_function("registry without fmd", |b| b.iter(in_scope));
    });
    let with_fmd = tracing_subscriber::registry().with(fmd::tracing_layer());
    tracing::subscriber::with_default(with_fmd, || {
        set_level(1);
        group.bench_function("with fmd, levels 0-1", |b| b.iter(in_scope));
        set_level(3);
        group.bench_function("with fmd, level 3 (1000 spans per request)", |b| {
            chunked(b, rx, CHUNK, || {
                tracing_loop(black_box(1_000));
            })
        });
    });
    group.finish();
}

fn set_level(level: u8) {
    for e in fmd_core::registry::endpoints() {
        e.set_level(level);
    }
}

const CHUNK: u64 = 20_000;

fn bench(c: &mut Criterion) {
    let (recorder, rx) = fmd_core::Recorder::new(1 << 16);
    fmd_core::queue::set_default(Some(recorder.clone()));
    fmd_core::outlier::configure(2.5, 10);
    fmd_core::watchdog::start().expect("the watchdog starts");
    // A mean no request here reaches: every request is judged, none is an outlier.
    for e in fmd_core::registry::endpoints() {
        e.seed_mean(1_000, 1_000 * 1_000_000);
    }

    let mut group = c.benchmark_group("span");
    group.bench_function("bare function", |b| b.iter(|| bare(black_box(1))));
    set_level(1);
    group.bench_function("profiled, levels 0-2", |b| b.iter(|| step(black_box(1))));
    // Per span at level 3: one request of 1,000 spans, divided by 1,000 below.
    set_level(3);
    group.bench_function("profiled, level 3 (1000 spans per request)", |b| {
        chunked(b, &rx, CHUNK, || {
            span_loop(black_box(1_000));
        })
    });
    group.finish();
    #[cfg(feature = "tracing")]
    tracing_spans(c, &rx);

    // What levels 2-3 add before any span: the request's profile and the watchdog's notice.
    let mut group = c.benchmark_group("request without profiled calls");
    for level in [1u8, 2] {
        set_level(level);
        group.bench_function(format!("level {level}"), |b| {
            chunked(b, &rx, CHUNK, || {
                run(no_spans(black_box(1)));
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("request with 10 profiled calls");
    for level in [1u8, 2, 3] {
        set_level(level);
        group.bench_function(format!("level {level}"), |b| {
            chunked(b, &rx, CHUNK, || {
                run(ten_spans(black_box(1)));
            })
        });
    }
    group.finish();
    set_level(1);
    assert_eq!(recorder.stats.dropped(), 0, "the queue never filled");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
