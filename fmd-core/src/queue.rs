//! The bounded queue from the request path to the [writer](crate::writer), the writer's
//! counters, and the default recorder for monitored functions called outside a tracked request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;

use parking_lot::{Mutex, RwLock};

use crate::record::RequestRecord;

/// The answer to a flush: `Err` with the database's message when records remain unwritten
/// (they stay in the backlog).
pub type FlushResult = Result<(), String>;

/// A message to the writer.
#[derive(Debug)]
pub enum WriterMsg {
    /// A record to store.
    Record(RequestRecord),
    /// Write everything received before this message, then answer.
    Flush(tokio::sync::oneshot::Sender<FlushResult>),
    /// Like `Flush`, then stop the writer.
    Shutdown(tokio::sync::oneshot::Sender<FlushResult>),
}

/// Counters the dashboard shows about the writer.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Records written to the database.
    pub written: AtomicU64,
    /// Records dropped because the queue to the writer was full.
    pub dropped_queue_full: AtomicU64,
    /// Records dropped because the database was unavailable and the backlog was full.
    pub dropped_backlog: AtomicU64,
    /// Records waiting in the backlog for the database to come back.
    pub backlog: AtomicU64,
    /// Whether the last write attempt failed.
    pub failing: AtomicBool,
    /// The last database error, while failing.
    pub last_error: Mutex<Option<String>>,
}

impl WriterStats {
    /// All records dropped so far, for whichever reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full.load(Ordering::Relaxed)
            + self.dropped_backlog.load(Ordering::Relaxed)
    }
}

/// The sending side of the queue: cheap to call from the request path, never blocks.
///
/// The writer does not sleep in the channel's `recv`: a sender would then have to wake it with
/// a system call, on nearly every request of a quiet service. It parks on a short timer and
/// drains the queue instead; only control messages unpark it.
#[derive(Debug)]
pub struct Recorder {
    tx: SyncSender<WriterMsg>,
    /// The writer's counters.
    pub stats: Arc<WriterStats>,
    queue_full_warned: AtomicBool,
    writer: OnceLock<Thread>,
}

impl Recorder {
    /// Creates the queue with room for `capacity` records.
    ///
    /// ```
    /// let (recorder, _rx) = fmd_core::Recorder::new(2);
    /// assert_eq!(recorder.stats.dropped(), 0);
    /// ```
    pub fn new(capacity: usize) -> (Arc<Recorder>, Receiver<WriterMsg>) {
        let (tx, rx) = sync_channel(capacity);
        let recorder = Recorder {
            tx,
            stats: Arc::default(),
            queue_full_warned: AtomicBool::new(false),
            writer: OnceLock::new(),
        };
        (Arc::new(recorder), rx)
    }

    /// Counts the request in its endpoint's metrics, and queues its record without waiting;
    /// counts it as dropped when the queue is full.
    pub fn record(&self, record: RequestRecord) {
        // Counted before the queue, so that the metrics keep counting when it is full.
        let exceptions = record.detail.as_ref().map_or(0, |d| d.exceptions.len());
        record
            .endpoint
            .metrics()
            .count(record.status_code, record.duration_us, exceptions);
        match self.tx.try_send(WriterMsg::Record(record)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.stats
                    .dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed);
                if !self.queue_full_warned.swap(true, Ordering::Relaxed) {
                    crate::warn(
                        "the queue to the database writer is full; dropping records \
                         (raise queue_capacity, or check the database's speed)",
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stats
                    .dropped_queue_full
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Sends a control message, waiting for room in the queue, and wakes the writer. Returns
    /// false when the writer has stopped.
    pub fn send_control(&self, msg: WriterMsg) -> bool {
        let sent = self.tx.send(msg).is_ok();
        if let Some(writer) = self.writer.get() {
            writer.unpark();
        }
        sent
    }

    /// Called by the writer thread once, so control messages can wake it.
    pub(crate) fn set_writer_thread(&self, thread: Thread) {
        let _ = self.writer.set(thread);
    }

    /// Lets the next full queue warn again; the writer calls it once the queue has drained.
    pub(crate) fn rearm_queue_warning(&self) {
        self.queue_full_warned.store(false, Ordering::Relaxed);
    }
}

static DEFAULT: RwLock<Option<Arc<Recorder>>> = RwLock::new(None);

/// Makes `recorder` the one that monitored functions called outside a bound request use.
pub fn set_default(recorder: Option<Arc<Recorder>>) {
    *DEFAULT.write() = recorder;
}

/// Clears the default recorder if it is `recorder`.
pub fn clear_default(recorder: &Arc<Recorder>) {
    let mut slot = DEFAULT.write();
    if slot.as_ref().is_some_and(|r| Arc::ptr_eq(r, recorder)) {
        *slot = None;
    }
}

/// Queues `record` on the default recorder: the one for monitored functions called outside a
/// bound request. Does nothing when no dashboard runs.
pub fn record_default(record: RequestRecord) {
    // Used under the read guard: cloning the Arc would cost two more atomic operations.
    if let Some(recorder) = DEFAULT.read().as_ref() {
        recorder.record(record);
    }
}
