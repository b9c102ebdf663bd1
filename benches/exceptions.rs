//! Request-path cost of exceptions: `cargo bench --bench exceptions`.
//!
//! - `capture!` inside a bound request: the message, the source chain and an unresolved
//!   backtrace (resolution happens in the writer);
//! - a panic in a monitored handler, caught and resumed, against the same panic in a bare
//!   function: what fmd's hook adds (message, location, unresolved backtrace).

mod common;

use std::hint::black_box;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use common::run;
use criterion::{criterion_group, criterion_main, Criterion};
use fmd::monitored;
use fmd_core::context::{RequestState, TaskGuard};

#[derive(Debug)]
struct Failure(u32);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failure {}", self.0)
    }
}

impl std::error::Error for Failure {}

#[inline(never)]
fn bare_panic(n: u32) -> u32 {
    if n > 0 {
        panic!("bench panic {n}");
    }
    n
}

#[monitored(name = "bench.panics")]
async fn monitored_panic(n: u32) -> u32 {
    bare_panic(n)
}

fn bench(c: &mut Criterion) {
    let (recorder, rx) = fmd_core::Recorder::new(1 << 16);
    fmd_core::queue::set_default(Some(recorder.clone()));
    // Quiet panics: the default hook would print each one.
    std::panic::set_hook(Box::new(|_| {}));

    let mut group = c.benchmark_group("exceptions");
    group.bench_function("panic caught, no fmd", |b| {
        b.iter(|| catch_unwind(|| bare_panic(black_box(1))).is_err())
    });
    fmd_core::capture::install_panic_hook();
    // Registers a request context on this thread, as `bind` does for a request.
    let _guard = TaskGuard::enter(recorder.clone(), RequestState::default());
    for e in fmd_core::registry::endpoints() {
        e.set_level(1);
    }
    group.bench_function("panic in a monitored handler, caught", |b| {
        b.iter(|| {
            let caught = catch_unwind(AssertUnwindSafe(|| run(monitored_panic(black_box(1)))));
            while rx.try_recv().is_ok() {}
            caught.is_err()
        })
    });
    let error = Failure(3);
    group.bench_function("capture!", |b| b.iter(|| fmd::capture!(black_box(&error))));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
