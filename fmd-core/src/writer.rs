//! The background writer: drains the [queue](crate::queue) in batches, one [`Sink`] write (one
//! transaction) per batch. When the sink fails it keeps a bounded backlog, retries with
//! exponential backoff, counts what it has to drop, and warns once per failure episode.
//!
//! The thread only sleeps and calls [`Writer::step`] with the time; everything else is decided
//! there, so tests drive it with a fake sink and made-up instants.

use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::clock::Clock;
use crate::queue::{FlushResult, Recorder, WriterMsg};
use crate::record::RequestRecord;
use crate::registry::{self, Endpoint};
use crate::sink::Sink;

/// How the writer batches and retries.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Records kept while the database is unavailable; newer ones are dropped and counted.
    pub backlog_capacity: usize,
    /// Records written per transaction at most; a batch this full is written at once.
    pub batch_size: usize,
    /// The longest a record waits for its batch to fill before the batch is written anyway.
    /// A transaction has a fixed cost (its statements, the rollups, the commit), so a busy
    /// service's records are written a few hundred at a time rather than as they trickle in.
    pub batch_delay: Duration,
    /// The first retry delay after a failure; doubled per failure up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest delay between retries.
    pub max_backoff: Duration,
    /// Log each batch written at debug level.
    pub enable_logging: bool,
    /// How often the sink is polled ([`Sink::poll`]): the longest a level set by another
    /// process's dashboard takes to reach this one.
    pub poll_interval: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            backlog_capacity: 100_000,
            batch_size: 1_000,
            batch_delay: Duration::from_millis(100),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            enable_logging: false,
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// How long the writer sleeps between drains of the queue: the longest a record waits before
/// its write starts. At 10,000 queued records it leaves room for a million requests a second.
pub const IDLE_WAIT: Duration = Duration::from_millis(10);

/// Starts the writer thread. It stops after a `Shutdown` message, writing what it holds first.
pub fn spawn<S: Sink>(
    sink: S,
    rx: Receiver<WriterMsg>,
    recorder: Arc<Recorder>,
    options: WriterOptions,
) -> std::io::Result<JoinHandle<()>> {
    let mut writer = Writer::new(sink, rx, recorder, options);
    std::thread::Builder::new()
        .name("fmd-writer".into())
        .spawn(move || {
            writer.recorder.set_writer_thread(std::thread::current());
            loop {
                std::thread::park_timeout(writer.wait(Instant::now()));
                Clock::tick();
                if !writer.step(Instant::now()) {
                    return;
                }
            }
        })
}

/// The writer's state between wake-ups.
pub struct Writer<S> {
    sink: S,
    rx: Receiver<WriterMsg>,
    // Held by the writer so that a dropped Recorder cannot disconnect the queue early.
    recorder: Arc<Recorder>,
    options: WriterOptions,
    pending: Vec<RequestRecord>,
    failing: bool,
    failed_attempts: u64,
    dropped_at_failure: u64,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// Since when something (a record, a level-0 request time) waits to be written.
    waiting_since: Option<Instant>,
    last_written: FxHashMap<usize, i64>,
    next_poll: Option<Instant>,
}

impl<S> std::fmt::Debug for Writer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("pending", &self.pending.len())
            .field("failing", &self.failing)
            .field("retry_at", &self.retry_at)
            .finish_non_exhaustive()
    }
}

fn key(e: &'static Endpoint) -> usize {
    e as *const Endpoint as usize
}

impl<S: Sink> Writer<S> {
    /// A writer that drains `rx` into `sink`; [`spawn`] runs one on its own thread.
    pub fn new(
        sink: S,
        rx: Receiver<WriterMsg>,
        recorder: Arc<Recorder>,
        options: WriterOptions,
    ) -> Self {
        Writer {
            sink,
            rx,
            recorder,
            backoff: options.initial_backoff,
            options,
            pending: Vec::new(),
            failing: false,
            failed_attempts: 0,
            dropped_at_failure: 0,
            retry_at: None,
            waiting_since: None,
            last_written: FxHashMap::default(),
            next_poll: None,
        }
    }

    /// How long to sleep after a step at `now`: [`IDLE_WAIT`], or less when a retry is due
    /// sooner.
    pub fn wait(&self, now: Instant) -> Duration {
        match self.retry_at {
            Some(at) => at
                .saturating_duration_since(now)
                .clamp(Duration::from_millis(1), IDLE_WAIT),
            None => IDLE_WAIT,
        }
    }

    /// One wake-up at `now`: polls the sink when due, then drains everything queued, a batch at
    /// a time. It writes a full batch, or what has waited [`WriterOptions::batch_delay`], unless
    /// a retry after a failure is not due yet; a flush or shutdown writes at once. Returns false
    /// once the writer has stopped.
    pub fn step(&mut self, now: Instant) -> bool {
        self.poll(now);
        loop {
            let mut waiters = Vec::new();
            let mut stop = None;
            let mut received = 0;
            while stop.is_none() && received < self.options.batch_size {
                match self.rx.try_recv() {
                    Ok(WriterMsg::Record(r)) => {
                        self.accept(r);
                        received += 1;
                    }
                    Ok(WriterMsg::Flush(tx)) => waiters.push(tx),
                    Ok(WriterMsg::Shutdown(tx)) => stop = Some(tx),
                    // Never disconnected: the writer holds a sender in its recorder.
                    Err(_) => break,
                }
            }
            if self.waiting_since.is_none() && (!self.pending.is_empty() || self.any_touched()) {
                self.waiting_since = Some(now);
            }
            let forced = !waiters.is_empty() || stop.is_some();
            let due = self.pending.len() >= self.options.batch_size
                || self
                    .waiting_since
                    .is_some_and(|since| now >= since + self.options.batch_delay);
            if forced || (due && self.retry_at.is_none_or(|at| now >= at)) {
                self.attempt(now);
            }
            let result = self.result();
            for tx in waiters {
                let _ = tx.send(result.clone());
            }
            if let Some(tx) = stop {
                if let Err(e) = self.sink.stop() {
                    log::debug!(target: "fmd", "cannot mark the instance as stopped: {e}");
                }
                let _ = tx.send(result);
                return false;
            }
            if received < self.options.batch_size || self.failing {
                return true;
            }
        }
    }

    fn poll(&mut self, now: Instant) {
        // A failing database is probed by the write attempts already.
        if self.failing || self.next_poll.is_some_and(|at| now < at) {
            return;
        }
        self.next_poll = Some(now + self.options.poll_interval);
        if let Err(e) = self.sink.poll() {
            log::debug!(target: "fmd", "polling the database failed: {e}");
        }
    }

    fn result(&self) -> FlushResult {
        if self.pending.is_empty() && !self.failing {
            return Ok(());
        }
        let last = self
            .recorder
            .stats
            .last_error
            .lock()
            .clone()
            .unwrap_or_else(|| "the last write failed".into());
        Err(match self.pending.len() {
            0 => format!("the database is unavailable: {last}"),
            n => format!("{n} records are waiting for the database: {last}"),
        })
    }

    fn accept(&mut self, record: RequestRecord) {
        if self.failing && self.pending.len() >= self.options.backlog_capacity {
            self.recorder
                .stats
                .dropped_backlog
                .fetch_add(1, Ordering::Relaxed);
        } else {
            // The running mean the outlier rule reads: kept here, off the request path.
            record.endpoint.observe(record.duration_us);
            self.pending.push(record);
        }
        self.publish_backlog();
    }

    fn publish_backlog(&self) {
        let backlog = if self.failing { self.pending.len() } else { 0 };
        self.recorder
            .stats
            .backlog
            .store(backlog as u64, Ordering::Relaxed);
    }

    fn touched(&self) -> Vec<(&'static Endpoint, i64)> {
        registry::endpoints()
            .filter_map(|e| {
                let secs = e.last_requested();
                (secs > self.written_secs(e)).then_some((e, secs))
            })
            .collect()
    }

    fn any_touched(&self) -> bool {
        registry::endpoints().any(|e| e.last_requested() > self.written_secs(e))
    }

    fn written_secs(&self, e: &'static Endpoint) -> i64 {
        self.last_written.get(&key(e)).copied().unwrap_or(0)
    }

    fn attempt(&mut self, now: Instant) {
        let touched = self.touched();
        // While failing, an attempt with nothing to write still probes the database, so the
        // writer learns that it is back before the next record has to be kept or dropped.
        if self.pending.is_empty() && touched.is_empty() && !self.failing {
            return;
        }
        let stats = self.recorder.stats.clone();
        match self.sink.write(&self.pending, &touched) {
            Ok(()) => {
                let n = self.pending.len() as u64;
                stats.written.fetch_add(n, Ordering::Relaxed);
                if self.options.enable_logging && n > 0 {
                    log::debug!(target: "fmd", "wrote {n} request records");
                }
                self.pending.clear();
                for (e, secs) in touched {
                    self.last_written.insert(key(e), secs);
                }
                if self.failing {
                    let dropped = stats.dropped() - self.dropped_at_failure;
                    crate::warn(&format!(
                        "database writes recovered after {} failed attempts; {dropped} records were dropped meanwhile",
                        self.failed_attempts
                    ));
                    *stats.last_error.lock() = None;
                }
                self.failing = false;
                self.failed_attempts = 0;
                self.retry_at = None;
                self.waiting_since = None;
                self.backoff = self.options.initial_backoff;
                stats.failing.store(false, Ordering::Relaxed);
                self.recorder.rearm_queue_warning();
            }
            Err(e) => {
                if !self.failing {
                    crate::warn(&format!(
                        "cannot write to the database ({e}); keeping up to {} records and retrying",
                        self.options.backlog_capacity
                    ));
                    self.dropped_at_failure = stats.dropped();
                }
                self.failing = true;
                self.failed_attempts += 1;
                stats.failing.store(true, Ordering::Relaxed);
                *stats.last_error.lock() = Some(e.0);
                let keep = self.options.backlog_capacity;
                if self.pending.len() > keep {
                    let excess = (self.pending.len() - keep) as u64;
                    self.pending.truncate(keep);
                    stats.dropped_backlog.fetch_add(excess, Ordering::Relaxed);
                }
                self.retry_at = Some(now + self.backoff);
                self.backoff = (self.backoff * 2).min(self.options.max_backoff);
            }
        }
        self.publish_backlog();
    }
}

#[cfg(test)]
mod tests;
