//! The span profiler and outlier detection, below the web layer: monitored functions called
//! directly record through the default recorder, whose queue this test reads.

mod common;

use std::time::Duration;

use common::recorder::{endpoint, Harness};
use fmd::{monitored, profiled};
use fmd_core::profile::{Span, ROOT};

fn names(spans: &[Span]) -> Vec<(&str, u32)> {
    spans
        .iter()
        .map(|s| (s.function.meta.name, s.parent))
        .collect()
}

#[profiled]
fn leaf(n: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(n));
    n
}

#[profiled]
fn middle() -> u64 {
    leaf(1) + leaf(2)
}

#[monitored]
fn sync_handler() -> u64 {
    middle() + fmd::span!("tail", { leaf(1) })
}

#[test]
fn nested_sync_calls_form_a_tree() {
    let h = Harness::new();
    endpoint("sync_handler").set_level(3);
    assert_eq!(sync_handler(), 4);
    let detail = h.detail();
    assert_eq!(
        names(&detail.spans),
        [
            ("middle", ROOT),
            ("leaf", 0),
            ("leaf", 0),
            ("tail", ROOT),
            ("leaf", 3)
        ]
    );
    let s = &detail.spans;
    assert!(s[0].duration_ns >= s[1].duration_ns + s[2].duration_ns);
    assert!(s[2].duration_ns >= 2_000_000, "{:?}", s[2]);
    assert!(s[2].start_ns >= s[1].start_ns + s[1].duration_ns);
    assert!(s.iter().all(|s| !s.cancelled));
    assert!(detail.outlier.is_none());

    // Outside a profiled request a profiled call records nothing.
    assert_eq!(middle(), 3);
    endpoint("sync_handler").set_level(1);
    sync_handler();
    assert!(h.next().detail.is_none(), "level 1 keeps no spans");
}

#[profiled]
async fn hop(ms: u64) -> u64 {
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[profiled]
async fn fan_out() -> u64 {
    let (a, b) = tokio::join!(hop(20), hop(5));
    a + b
}

#[monitored]
async fn async_handler() -> u64 {
    let total = fan_out().await;
    total + hop(1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_spans_span_awaits_and_join_makes_siblings() {
    let h = Harness::new();
    endpoint("async_handler").set_level(3);
    // Spawned, so the runtime's workers may move it between threads at every await.
    let total = tokio::spawn(async_handler()).await.unwrap();
    assert_eq!(total, 26);
    let detail = h.detail();
    assert_eq!(
        names(&detail.spans),
        [("fan_out", ROOT), ("hop", 0), ("hop", 0), ("hop", ROOT)]
    );
    let s = &detail.spans;
    // Siblings overlap: the second started before the first ended.
    assert!(s[2].start_ns < s[1].start_ns + s[1].duration_ns);
    assert!(
        s[1].duration_ns >= 20_000_000,
        "lasts across its awaits: {:?}",
        s[1]
    );
    assert!(s[0].duration_ns >= s[1].duration_ns);
    assert!(s[3].start_ns >= s[0].start_ns + s[0].duration_ns);
}

#[monitored]
async fn cancelling_handler() -> bool {
    tokio::time::timeout(Duration::from_millis(5), hop(1_000))
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_future_closes_its_span_as_cancelled() {
    let h = Harness::new();
    endpoint("cancelling_handler").set_level(3);
    assert!(cancelling_handler().await);
    let detail = h.detail();
    assert_eq!(names(&detail.spans), [("hop", ROOT)]);
    assert!(detail.spans[0].cancelled);
    assert!(detail.spans[0].duration_ns < 1_000_000_000);
}

#[profiled]
fn lower_level_midway() {
    endpoint("switching_handler").set_level(1);
}

#[monitored]
fn switching_handler() {
    lower_level_midway();
    leaf(0);
}

#[test]
fn switching_from_3_to_1_stops_profiling_at_once() {
    let h = Harness::new();
    endpoint("switching_handler").set_level(3);
    switching_handler();
    assert!(h.next().detail.is_none());
}

#[profiled]
fn stuck_inner() {
    std::thread::sleep(Duration::from_millis(150));
}

#[profiled]
fn stuck_outer() {
    stuck_inner();
}

#[monitored]
fn maybe_slow(slow: bool) {
    if slow {
        stuck_outer();
    }
}

#[test]
fn outliers_are_judged_after_min_samples_and_snapshotted_where_stuck() {
    let h = Harness::new();
    fmd_core::watchdog::start().unwrap();
    let e = endpoint("maybe_slow");
    e.seed_mean(0, 0);
    e.set_level(2);
    // Too few samples: even a slow request is no outlier, and level 2 keeps no spans.
    maybe_slow(true);
    assert!(h.next().detail.is_none());
    e.seed_mean(10, 10 * 1_000);
    assert_eq!(fmd_core::outlier::threshold_us(e), 2_500);
    maybe_slow(false);
    assert!(h.next().detail.is_none(), "a fast request is no outlier");
    maybe_slow(true);
    let record = h.next();
    assert!(record.duration_us > 150_000);
    let detail = record.detail.expect("an outlier keeps detail");
    let outlier = detail.outlier.as_ref().expect("judged an outlier");
    let stuck = outlier
        .stuck
        .as_ref()
        .expect("the watchdog caught it running");
    let frames: Vec<(&str, u32)> = stuck
        .frames
        .iter()
        .map(|f| (f.function.meta.name, f.depth))
        .collect();
    assert_eq!(frames, [("stuck_outer", 0), ("stuck_inner", 1)]);
    assert!(
        stuck.after_us >= 2_500 && stuck.after_us < 150_000,
        "{stuck:?}"
    );
    assert!(!stuck.figures.cpu_percent.is_empty());
    assert!(stuck.figures.memory_bytes > 0);
    // Its full tree is kept too.
    assert_eq!(
        names(&detail.spans),
        [("stuck_outer", ROOT), ("stuck_inner", 0)]
    );
}
