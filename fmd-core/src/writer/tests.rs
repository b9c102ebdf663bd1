//! The writer driven step by step with a fake sink and made-up instants: exact figures for the
//! backlog, the backoff, the drop counts and the batches, with no database and no sleeping.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::*;
use crate::registry::EndpointMeta;
use crate::sink::SinkError;

static E: Endpoint = Endpoint::new(EndpointMeta {
    name: "e",
    module_path: "writer_tests",
    function: "e",
    file: "writer.rs",
    line: 1,
    source: "fn e() {}",
    source_sha256: "00",
});

fn record(time: i64) -> RequestRecord {
    RequestRecord {
        endpoint: &E,
        time_requested: time,
        duration_us: 1,
        status_code: 200,
        ip: None,
        group_by: None,
        detail: None,
    }
}

/// What the fake sink saw, shared with the test.
#[derive(Default)]
struct Seen {
    failing: bool,
    /// Every write attempt: the records' times, successful or not.
    attempts: Vec<Vec<i64>>,
    /// The times of the records written, in order.
    written: Vec<i64>,
    polls: usize,
    stopped: bool,
}

#[derive(Clone, Default)]
struct FakeSink(Arc<Mutex<Seen>>);

impl Sink for FakeSink {
    fn write(
        &mut self,
        records: &[RequestRecord],
        _: &[(&'static Endpoint, i64)],
    ) -> Result<(), SinkError> {
        let mut seen = self.0.lock();
        let times: Vec<i64> = records.iter().map(|r| r.time_requested).collect();
        seen.attempts.push(times.clone());
        if seen.failing {
            return Err(SinkError("locked".into()));
        }
        seen.written.extend(times);
        Ok(())
    }

    fn poll(&mut self) -> Result<(), SinkError> {
        self.0.lock().polls += 1;
        Ok(())
    }

    fn stop(&mut self) -> Result<(), SinkError> {
        self.0.lock().stopped = true;
        Ok(())
    }
}

struct Rig {
    seen: FakeSink,
    recorder: Arc<Recorder>,
    writer: Writer<FakeSink>,
    t0: Instant,
}

fn rig(capacity: usize, options: WriterOptions) -> Rig {
    let seen = FakeSink::default();
    let (recorder, rx) = Recorder::new(capacity);
    let writer = Writer::new(seen.clone(), rx, recorder.clone(), options);
    Rig {
        seen,
        recorder,
        writer,
        t0: Instant::now(),
    }
}

impl Rig {
    fn at(&mut self, ms: u64) -> bool {
        self.writer.step(self.t0 + Duration::from_millis(ms))
    }

    fn send(&self, times: std::ops::Range<i64>) {
        for t in times {
            self.recorder.record(record(t));
        }
    }

    fn flush_at(&mut self, ms: u64) -> FlushResult {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        assert!(self.recorder.send_control(WriterMsg::Flush(tx)));
        assert!(self.at(ms));
        rx.try_recv().expect("the step answers the flush")
    }

    fn fail(&self, failing: bool) {
        self.seen.0.lock().failing = failing;
    }

    fn stat(&self, f: impl Fn(&crate::queue::WriterStats) -> u64) -> u64 {
        f(&self.recorder.stats)
    }
}

/// Every batch written at the first step that sees it, unless a test says otherwise.
fn options(backlog: usize) -> WriterOptions {
    WriterOptions {
        backlog_capacity: backlog,
        batch_size: 1_000,
        batch_delay: Duration::ZERO,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(800),
        ..WriterOptions::default()
    }
}

#[test]
fn keeps_a_bounded_backlog_and_writes_it_in_order_after_recovery() {
    let mut rig = rig(1_000, options(50));
    rig.send(0..10);
    assert!(rig.at(0));
    assert_eq!(rig.stat(|s| s.written.load(Ordering::Relaxed)), 10);

    rig.fail(true);
    rig.send(100..180);
    assert!(rig.at(10));
    // The first failed write held all 80; the bound then keeps the first 50.
    assert_eq!(rig.stat(|s| s.backlog.load(Ordering::Relaxed)), 50);
    assert_eq!(rig.stat(|s| s.dropped_backlog.load(Ordering::Relaxed)), 30);
    assert!(rig.recorder.stats.failing.load(Ordering::Relaxed));
    // More records while the backlog is full are dropped on arrival.
    rig.send(200..205);
    assert!(rig.at(20));
    assert_eq!(rig.stat(|s| s.dropped_backlog.load(Ordering::Relaxed)), 35);
    let err = rig.flush_at(30).unwrap_err();
    assert_eq!(err, "50 records are waiting for the database: locked");

    rig.fail(false);
    assert_eq!(rig.flush_at(40), Ok(()));
    let seen = rig.seen.0.lock();
    let expected: Vec<i64> = (0..10).chain(100..150).collect();
    assert_eq!(seen.written, expected);
    assert_eq!(rig.stat(|s| s.written.load(Ordering::Relaxed)), 60);
    assert_eq!(rig.stat(|s| s.dropped()), 35);
    assert_eq!(rig.stat(|s| s.backlog.load(Ordering::Relaxed)), 0);
    assert!(!rig.recorder.stats.failing.load(Ordering::Relaxed));
    assert_eq!(*rig.recorder.stats.last_error.lock(), None);
}

#[test]
fn retries_with_doubling_backoff_up_to_the_maximum() {
    let mut rig = rig(1_000, options(1_000));
    rig.fail(true);
    rig.send(0..1);
    let mut attempts_at = Vec::new();
    for ms in (0..=4_000).step_by(10) {
        let before = rig.seen.0.lock().attempts.len();
        assert!(rig.at(ms));
        if rig.seen.0.lock().attempts.len() > before {
            attempts_at.push(ms);
        }
    }
    // 100, 200, 400, 800 ms apart, then 800 ms (the maximum) each time.
    assert_eq!(attempts_at, [0, 100, 300, 700, 1_500, 2_300, 3_100, 3_900]);
    // Sleeping never overshoots a due retry, and never exceeds the idle wait.
    let now = rig.t0 + Duration::from_millis(4_000);
    assert_eq!(rig.writer.wait(now), Duration::from_millis(10));
    assert_eq!(
        rig.writer.wait(rig.t0 + Duration::from_millis(4_697)),
        Duration::from_millis(3)
    );

    // Recovery resets the backoff: the next failure waits 100 ms again.
    rig.fail(false);
    assert!(rig.at(4_700));
    rig.fail(true);
    rig.send(1..2);
    assert!(rig.at(4_710));
    let before = rig.seen.0.lock().attempts.len();
    assert!(rig.at(4_800));
    assert_eq!(
        rig.seen.0.lock().attempts.len(),
        before,
        "not due before 4,810"
    );
    assert!(rig.at(4_810));
    assert_eq!(rig.seen.0.lock().attempts.len(), before + 1);
}

#[test]
fn a_flush_writes_at_once_even_before_the_retry_is_due() {
    let mut rig = rig(1_000, options(1_000));
    rig.fail(true);
    rig.send(0..3);
    assert!(rig.at(0));
    rig.fail(false);
    // The retry is due at 100 ms; the flush at 1 ms does not wait for it.
    assert_eq!(rig.flush_at(1), Ok(()));
    assert_eq!(rig.seen.0.lock().written, [0, 1, 2]);
}

#[test]
fn without_a_backlog_a_failing_writer_drops_and_probes() {
    let mut rig = rig(1_000, options(0));
    rig.fail(true);
    rig.send(0..1);
    let err = rig.flush_at(0).unwrap_err();
    assert_eq!(err, "the database is unavailable: locked");
    assert_eq!(rig.stat(|s| s.dropped()), 1);
    rig.fail(false);
    // Nothing is pending: the flush still probes, and learns the database is back.
    assert_eq!(rig.flush_at(1), Ok(()));
    assert_eq!(rig.seen.0.lock().attempts.last(), Some(&Vec::new()));
    rig.send(1..2);
    assert_eq!(rig.flush_at(2), Ok(()));
    assert_eq!(rig.seen.0.lock().written, [1]);
    assert_eq!(rig.stat(|s| s.dropped()), 1);
}

#[test]
fn a_full_queue_counts_its_drops() {
    let rig = rig(3, options(10));
    rig.send(0..10);
    assert_eq!(
        rig.stat(|s| s.dropped_queue_full.load(Ordering::Relaxed)),
        7
    );
    assert_eq!(rig.stat(|s| s.dropped()), 7);
}

#[test]
fn drains_the_queue_in_batches_of_the_batch_size() {
    let mut rig = rig(
        10_000,
        WriterOptions {
            batch_size: 1_000,
            ..options(10)
        },
    );
    rig.send(0..2_500);
    assert!(rig.at(0));
    let sizes: Vec<usize> = rig.seen.0.lock().attempts.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1_000, 1_000, 500]);
    assert_eq!(rig.stat(|s| s.written.load(Ordering::Relaxed)), 2_500);
}

#[test]
fn polls_on_its_interval_while_writes_succeed() {
    let mut rig = rig(
        10,
        WriterOptions {
            poll_interval: Duration::from_millis(100),
            ..options(10)
        },
    );
    for ms in (0..=450).step_by(10) {
        rig.at(ms);
    }
    assert_eq!(rig.seen.0.lock().polls, 5, "at 0, 100, 200, 300 and 400 ms");
    rig.fail(true);
    rig.send(0..1);
    for ms in (460..=1_000).step_by(10) {
        rig.at(ms);
    }
    assert_eq!(rig.seen.0.lock().polls, 5, "not while failing");
}

#[test]
fn shutdown_writes_what_it_holds_then_stops_the_sink() {
    let mut rig = rig(10, options(10));
    rig.send(0..4);
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    assert!(rig.recorder.send_control(WriterMsg::Shutdown(tx)));
    assert!(!rig.at(0), "the writer stops");
    assert_eq!(rx.try_recv().unwrap(), Ok(()));
    let seen = rig.seen.0.lock();
    assert_eq!(seen.written, [0, 1, 2, 3]);
    assert!(seen.stopped);
}

#[test]
fn a_dropped_recorder_does_not_stop_the_writer() {
    let seen = FakeSink::default();
    let (recorder, rx) = Recorder::new(10);
    let stats = recorder.stats.clone();
    let mut writer = Writer::new(seen.clone(), rx, recorder.clone(), options(10));
    recorder.record(record(7));
    drop(recorder);
    assert!(writer.step(Instant::now()));
    assert_eq!(seen.0.lock().written, [7]);
    assert_eq!(stats.written.load(Ordering::Relaxed), 1);
}

#[test]
fn a_batch_waits_for_the_delay_unless_it_fills() {
    let mut rig = rig(
        1_000,
        WriterOptions {
            batch_size: 50,
            batch_delay: Duration::from_millis(100),
            ..options(1_000)
        },
    );
    let attempts = |rig: &Rig| rig.seen.0.lock().attempts.len();
    rig.send(0..10);
    assert!(rig.at(0));
    assert!(rig.at(50));
    rig.send(10..15);
    assert!(rig.at(99));
    assert_eq!(attempts(&rig), 0, "nothing has waited 100 ms yet");
    assert!(rig.at(100));
    assert_eq!(rig.seen.0.lock().attempts, [(0..15).collect::<Vec<_>>()]);
    // A full batch does not wait; the rest of the queue then waits again.
    rig.send(100..160);
    assert!(rig.at(110));
    assert_eq!(
        rig.seen.0.lock().attempts[1],
        (100..150).collect::<Vec<_>>()
    );
    assert!(rig.at(209));
    assert_eq!(attempts(&rig), 2);
    assert!(rig.at(210));
    assert_eq!(
        rig.seen.0.lock().attempts[2],
        (150..160).collect::<Vec<_>>()
    );
    // A flush does not wait.
    rig.send(200..201);
    assert_eq!(rig.flush_at(211), Ok(()));
    assert_eq!(rig.seen.0.lock().written.last(), Some(&200));
}
