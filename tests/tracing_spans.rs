//! `fmd::tracing_layer()`: `tracing` spans inside monitored requests become profiler spans as
//! `#[profiled]` calls do, and warnings and errors are kept with an outlier or an exception.
//! Below the web layer, as tests/profiler.rs: the default recorder's queue is read.

mod common;

use std::sync::Once;
use std::time::Duration;

use common::recorder::{endpoint, Harness};
use fmd::{monitored, profiled};
use fmd_core::context::{RequestState, Scoped};
use fmd_core::profile::{Span, ROOT};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

/// The layer on the global subscriber: tokio's worker threads see it too.
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(fmd::tracing_layer());
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    });
}

fn names(spans: &[Span]) -> Vec<(&str, u32)> {
    spans
        .iter()
        .map(|s| (s.function.meta.name, s.parent))
        .collect()
}

#[profiled]
fn profiled_leaf() -> u64 {
    std::thread::sleep(Duration::from_millis(2));
    2
}

#[tracing::instrument]
fn instrumented(n: u64) -> u64 {
    profiled_leaf() + n
}

#[monitored]
fn sync_traced() -> u64 {
    let a = tracing::info_span!("outer").in_scope(|| instrumented(1));
    let b = tracing::debug_span!("block").in_scope(|| 3);
    a + b
}

#[test]
fn spans_of_a_plain_handler_nest_with_profiled_calls() {
    install();
    let h = Harness::new();
    endpoint("sync_traced").set_level(3);
    assert_eq!(sync_traced(), 6);
    let detail = h.detail();
    assert_eq!(
        names(&detail.spans),
        [
            ("outer", ROOT),
            ("instrumented", 0),
            ("profiled_leaf", 1),
            ("block", ROOT)
        ]
    );
    let s = &detail.spans;
    assert!(s[2].duration_ns >= 2_000_000, "{:?}", s[2]);
    assert!(s[0].duration_ns >= s[1].duration_ns && s[1].duration_ns >= s[2].duration_ns);
    assert!(s.iter().all(|s| !s.cancelled));
    let meta = &s[1].function.meta;
    assert_eq!(meta.file, file!(), "the callsite's file");
    assert!(meta.line > 0 && meta.display_name().ends_with("::instrumented"));
    assert_ne!(
        s[0].function.meta.source_sha256, meta.source_sha256,
        "each callsite is a function of its own"
    );

    // The same callsite again is the same function.
    sync_traced();
    let again = h.detail();
    assert!(std::ptr::eq(again.spans[1].function, s[1].function));

    // Below level 2 nothing is recorded, and at level 2 only an outlier keeps its tree.
    for level in [1, 2] {
        endpoint("sync_traced").set_level(level);
        endpoint("sync_traced").seed_mean(1_000, 1_000 * 1_000_000);
        sync_traced();
        assert!(h.next().detail.is_none(), "level {level} keeps no spans");
    }
    // Outside a request a span records nothing anywhere.
    tracing::info_span!("outer").in_scope(|| instrumented(0));
    assert!(h.rx.try_recv().is_err());
}

#[tracing::instrument]
async fn hop(ms: u64) -> u64 {
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[monitored]
async fn async_traced() -> u64 {
    let (a, b) = tokio::join!(hop(20), hop(5));
    let c = async { hop(1).await }
        .instrument(tracing::info_span!("fetch"))
        .await;
    a + b + c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_spans_last_across_awaits_and_join_makes_siblings() {
    install();
    let h = Harness::new();
    endpoint("async_traced").set_level(3);
    assert_eq!(tokio::spawn(async_traced()).await.unwrap(), 26);
    let detail = h.detail();
    assert_eq!(
        names(&detail.spans),
        [("hop", ROOT), ("hop", ROOT), ("fetch", ROOT), ("hop", 2)]
    );
    let s = &detail.spans;
    assert!(s[0].duration_ns >= 20_000_000, "across awaits: {:?}", s[0]);
    assert!(s[1].duration_ns >= 5_000_000 && s[1].duration_ns < s[0].duration_ns);
    assert!(s[2].start_ns >= s[0].start_ns + s[0].duration_ns);
    assert!(s.iter().all(|s| !s.cancelled), "{s:?}");
    endpoint("async_traced").set_level(1);
}

#[tracing::instrument]
fn stuck_here() {
    std::thread::sleep(Duration::from_millis(150));
}

#[monitored]
fn traced_maybe_slow(slow: bool) {
    tracing::info_span!("work").in_scope(|| {
        if slow {
            stuck_here();
        }
    });
}

#[test]
fn an_outlier_is_snapshotted_inside_tracing_spans() {
    install();
    let h = Harness::new();
    fmd_core::watchdog::start().unwrap();
    let e = endpoint("traced_maybe_slow");
    e.set_level(2);
    e.seed_mean(10, 10 * 1_000);
    traced_maybe_slow(false);
    assert!(h.next().detail.is_none(), "a fast request is no outlier");
    traced_maybe_slow(true);
    let detail = h.detail();
    let stuck = detail.outlier.as_ref().unwrap().stuck.as_ref().unwrap();
    let frames: Vec<(&str, u32)> = stuck
        .frames
        .iter()
        .map(|f| (f.function.meta.name, f.depth))
        .collect();
    assert_eq!(frames, [("work", 0), ("stuck_here", 1)]);
    assert_eq!(names(&detail.spans), [("work", ROOT), ("stuck_here", 0)]);
}

#[derive(Debug)]
struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Failed {}

#[monitored]
async fn chatty(fail: bool) -> u32 {
    tracing::info!("not kept: below warn");
    for i in 0..25 {
        tracing::warn!(attempt = i, api_token = "t0k3n", "retrying");
    }
    tracing::error!(code = 7, "gave up");
    if fail {
        fmd::capture!(Failed);
    }
    1
}

/// Runs `chatty` as a tracked request (as the web adapters do) and returns its record.
async fn tracked(fail: bool) -> fmd_core::RequestRecord {
    let (recorder, rx) = fmd_core::Recorder::new(10);
    Scoped::new(recorder, RequestState::default(), chatty(fail)).await;
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(fmd_core::WriterMsg::Record(r)) => r,
        other => panic!("expected a record, got {other:?}"),
    }
}

#[tokio::test]
async fn warnings_and_errors_are_kept_with_an_exception() {
    install();
    let _serial = Harness::new();
    endpoint("chatty").set_level(1);
    let record = tracked(true).await;
    let detail = record.detail.expect("an exception keeps detail");
    assert_eq!(detail.exceptions.len(), 1);
    let events = &detail.events;
    assert_eq!(events.len(), fmd_core::events::MAX_EVENTS, "the last 20");
    let first = &events[0];
    assert_eq!((first.level, first.message.as_str()), ("WARN", "retrying"));
    assert_eq!(
        first.fields,
        [
            ("attempt".to_string(), "6".to_string()),
            ("api_token".to_string(), "[scrubbed]".to_string())
        ],
        "the first 6 of 26 are gone; a token is scrubbed"
    );
    assert_eq!(first.target, module_path!());
    let last = events.last().unwrap();
    assert_eq!((last.level, last.message.as_str()), ("ERROR", "gave up"));
    assert_eq!(last.fields, [("code".to_string(), "7".to_string())]);
    assert!(events.windows(2).all(|w| w[0].time_us <= w[1].time_us));

    // Without an exception or an outlier nothing is kept.
    let record = tracked(false).await;
    assert!(record.detail.is_none(), "{:?}", record.detail);
}
