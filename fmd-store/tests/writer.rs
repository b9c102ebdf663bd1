//! fmd-core's writer on each real database while it becomes unavailable (a lock held by another
//! connection) and comes back: the SQL sink fails and recovers as the writer expects. The
//! writer's own rules (backlog, backoff, drop counts) are tested with a fake sink in fmd-core.

mod common;

use fmd_store::Filter;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fmd_core::writer::{self, WriterOptions};
use fmd_core::{Recorder, WriterMsg};
use fmd_store::Store;

use common::*;

fn flush(recorder: &Recorder) -> Result<(), String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    assert!(recorder.send_control(WriterMsg::Flush(tx)));
    rx.blocking_recv().expect("the writer answers")
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A writer on a fresh database whose writes give up after 50 ms (MySQL: 1 s) on a lock.
struct Rig {
    db: TestDb,
    store: Store,
    endpoint_id: i64,
    recorder: std::sync::Arc<Recorder>,
    handle: std::thread::JoinHandle<()>,
}

fn rig(db: TestDb, options: WriterOptions) -> Rig {
    let store = db.open();
    let synced = store.sync_endpoints(&[&HOME], 1, "1").unwrap();
    let sink = store
        .sink("1", "test", &synced, 1, Duration::from_millis(50))
        .unwrap();
    let (recorder, rx) = Recorder::new(1_000);
    let handle = writer::spawn(sink, rx, recorder.clone(), options).unwrap();
    Rig {
        db,
        store,
        endpoint_id: synced[0].1,
        recorder,
        handle,
    }
}

#[test]
fn keeps_a_bounded_backlog_while_the_database_is_locked() {
    for db in databases() {
        keeps_a_bounded_backlog(db);
    }
}

fn keeps_a_bounded_backlog(db: TestDb) {
    let rig = rig(
        db,
        WriterOptions {
            backlog_capacity: 50,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            ..WriterOptions::default()
        },
    );
    let (recorder, stats) = (&rig.recorder, rig.recorder.stats.clone());
    for i in 0..10 {
        recorder.record(record(&HOME, 1_000 + i, 100, 200));
    }
    flush(recorder).unwrap();
    assert_eq!(stats.written.load(Ordering::Relaxed), 10);

    let locker = rig.db.lock_requests();
    for i in 0..80 {
        recorder.record(record(&HOME, 2_000 + i, 100, 200));
    }
    wait_for("the backlog to fill", || {
        stats.failing.load(Ordering::Relaxed) && stats.backlog.load(Ordering::Relaxed) == 50
    });
    wait_for("the drops to be counted", || {
        stats.dropped_backlog.load(Ordering::Relaxed) == 30
    });
    let err = flush(recorder).unwrap_err();
    assert!(err.contains("50 records are waiting"), "{}: {err}", rig.db);

    // The database returns: the backlog is written, nothing more is dropped.
    locker.release();
    flush(recorder).unwrap();
    assert_eq!(stats.written.load(Ordering::Relaxed), 60);
    assert_eq!(stats.dropped(), 30);
    assert_eq!(stats.backlog.load(Ordering::Relaxed), 0);
    assert!(!stats.failing.load(Ordering::Relaxed));
    assert_eq!(
        rig.store
            .request_count(&Filter::endpoint(rig.endpoint_id))
            .unwrap(),
        60
    );
    // The kept records are the first 50 sent during the outage, in order.
    let rows = rig
        .store
        .requests(&Filter::endpoint(rig.endpoint_id), 0, 1)
        .unwrap();
    assert_eq!(rows[0].time_requested, 2_049);

    let (tx, rx) = tokio::sync::oneshot::channel();
    recorder.send_control(WriterMsg::Shutdown(tx));
    rx.blocking_recv().unwrap().unwrap();
    rig.handle.join().unwrap();
}

#[test]
fn a_failing_writer_probes_the_database_even_with_nothing_to_write() {
    for db in databases() {
        probes_while_failing(db);
    }
}

fn probes_while_failing(db: TestDb) {
    let rig = rig(
        db,
        WriterOptions {
            backlog_capacity: 0,
            initial_backoff: Duration::from_secs(60),
            ..WriterOptions::default()
        },
    );
    let recorder = &rig.recorder;
    let locker = rig.db.lock_requests();
    recorder.record(record(&HOME, 1, 1, 200));
    let err = flush(recorder).unwrap_err();
    assert!(err.contains("the database is unavailable"), "{err}");
    assert_eq!(
        recorder.stats.dropped(),
        1,
        "no backlog: the record is dropped and counted"
    );
    locker.release();
    // Nothing is pending, and the next retry is a minute away: the flush probes at once.
    flush(recorder).unwrap();
    assert!(!recorder.stats.failing.load(Ordering::Relaxed));
    recorder.record(record(&HOME, 2, 1, 200));
    flush(recorder).unwrap();
    assert_eq!(
        rig.store
            .request_count(&Filter::endpoint(rig.endpoint_id))
            .unwrap(),
        1,
        "kept once the database is back"
    );
    assert_eq!(recorder.stats.dropped(), 1);
}
