//! The per-request context shared by the web layer and the `#[monitored]` wrapper.
//!
//! Where the web layer owns the request's future (a tower layer), the context travels in a
//! task-local scope around that future: [`ContextGuard::scoped`] and [`ContextGuard::scope`].
//! warp's traits are sealed, so its adapter cannot wrap the app's future; there the two halves
//! of a request meet through a key both sides can compute ([`ContextGuard::enter`]): the current
//! tokio task (each connection, and each HTTP/2 stream, is served by its own task), or the
//! current thread when running outside a task (`block_on`, as in `#[tokio::test]`).

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use crate::exception::CapturedError;
use crate::profile::RequestDetail;
use crate::record::{Recorder, RequestRecord};
use crate::{Endpoint, GroupBy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Task(tokio::task::Id),
    Thread(std::thread::ThreadId),
}

fn current_key() -> Key {
    match tokio::task::try_id() {
        Some(id) => Key::Task(id),
        None => Key::Thread(std::thread::current().id()),
    }
}

const SHARDS: usize = 32;

/// Task and thread ids are counters the runtime hands out, not input an attacker chooses.
type IdBuild = BuildHasherDefault<crate::hash::IntHasher>;
type Shard = Mutex<HashMap<Key, Arc<RequestContext>, IdBuild>>;

static REGISTRY: LazyLock<Vec<Shard>> = LazyLock::new(|| {
    (0..SHARDS)
        .map(|_| Mutex::new(HashMap::with_hasher(IdBuild::default())))
        .collect()
});

/// Whether any context was ever registered; lets monitored functions skip the lookup when
/// nothing is bound. Set once and only read afterwards: a count of live contexts would be two
/// contended read-modify-writes per request on a busy server.
static BOUND: AtomicBool = AtomicBool::new(false);

tokio::task_local! {
    /// The request whose future is being polled, for adapters that own that future.
    static SCOPE: Arc<RequestContext>;
}

fn shard(key: &Key) -> &'static Shard {
    // The high bits: the map itself uses the low ones.
    &REGISTRY[(IdBuild::default().hash_one(key) >> 59) as usize % SHARDS]
}

fn lock(shard: &Shard) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<RequestContext>, IdBuild>> {
    // A panic while holding the lock cannot leave the map inconsistent (insert and remove are
    // single calls), so a poisoned lock is safe to use.
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a monitored handler ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It returned.
    Completed,
    /// It panicked; the panic was resumed.
    Panicked,
    /// Its future was dropped before it finished (the client went away).
    Cancelled,
}

impl Outcome {
    /// The status recorded when the web layer did not see a response: 500 for a panic, 499 (the
    /// client closed the request) for a cancellation.
    pub fn fallback_status(self) -> u16 {
        match self {
            Outcome::Completed => 200,
            Outcome::Panicked => 500,
            Outcome::Cancelled => 499,
        }
    }
}

/// What the monitored handler reports into its request's context.
#[derive(Debug, Clone)]
pub struct HandlerRun {
    /// The endpoint.
    pub endpoint: &'static Endpoint,
    /// Start, microseconds since the epoch.
    pub started: i64,
    /// Duration in microseconds.
    pub duration_us: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// At levels 2 and 3: its span tree, and what made it an outlier.
    pub detail: Option<Box<RequestDetail>>,
    /// An error its callees (or it) returned that no annotated function handled.
    pub trail: Option<Box<crate::trail::Trail>>,
}

/// The parts of a request an outlier stores, read from the web layer's request only when the
/// request turns out to be one.
pub trait RequestParts: Send + Sync {
    /// The method, e.g. `GET`.
    fn method(&self) -> String;
    /// The path with the query string.
    fn url(&self) -> String;
    /// Every header, as text.
    fn headers(&self) -> Vec<(String, String)>;
}

#[derive(Debug, Default)]
struct State {
    group_by: Option<GroupBy>,
    run: Option<HandlerRun>,
    exceptions: Vec<CapturedError>,
}

/// Exceptions kept per request at most: a loop capturing on every iteration would otherwise
/// grow the request without bound.
pub const MAX_EXCEPTIONS: usize = 100;

/// One request's context.
#[derive(Debug)]
pub struct RequestContext {
    recorder: Arc<Recorder>,
    ip: Option<IpAddr>,
    parts: Option<Box<dyn RequestParts>>,
    state: Mutex<State>,
}

impl std::fmt::Debug for dyn RequestParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method(), self.url())
    }
}

impl RequestContext {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by the monitored wrapper when its handler ends.
    pub fn set_run(&self, run: HandlerRun) {
        self.state().run = Some(run);
    }

    /// Adds an exception captured while the request runs; false beyond [`MAX_EXCEPTIONS`].
    pub fn add_exception(&self, exception: CapturedError) -> bool {
        let mut state = self.state();
        if state.exceptions.len() >= MAX_EXCEPTIONS {
            return false;
        }
        state.exceptions.push(exception);
        true
    }

    /// Overrides the group-by value.
    pub fn set_group_by(&self, value: GroupBy) {
        self.state().group_by = Some(value);
    }

    fn finish(&self, status: Option<u16>, rejection: Option<String>) {
        let (run, group_by, mut exceptions) = {
            let mut state = self.state();
            (
                state.run.take(),
                state.group_by.take(),
                std::mem::take(&mut state.exceptions),
            )
        };
        // A request no monitored handler ran for (unmatched, or an unannotated route) is not
        // attributed to any endpoint.
        let Some(mut run) = run else { return };
        if !exceptions.is_empty() {
            let detail = run.detail.get_or_insert_with(Box::default);
            // Captured ones happened before the handler's end, where a panic is attached.
            exceptions.append(&mut detail.exceptions);
            detail.exceptions = exceptions;
        }
        if let (Some(outlier), Some(parts)) = (
            run.detail.as_mut().and_then(|d| d.outlier.as_mut()),
            &self.parts,
        ) {
            outlier.method = parts.method();
            outlier.url = parts.url();
            outlier.headers = crate::outlier::scrub(parts.headers());
        }
        let status_code = match (run.outcome, status) {
            (Outcome::Completed, Some(status)) => status,
            (outcome, _) => outcome.fallback_status(),
        };
        // A 5xx with a returned error behind it is that error; without one, a 5xx that warp gave
        // a rejection is the rejection; a 5xx reply the handler chose is no exception.
        let uncaught = match (run.trail.take(), rejection) {
            _ if status_code < 500 || run.outcome != Outcome::Completed => None,
            (Some(trail), _) => Some(trail.into_exception(&run.endpoint.meta)),
            (None, Some(description)) => {
                Some(CapturedError::rejection(&run.endpoint.meta, description))
            }
            (None, None) => None,
        };
        if let Some(exception) = uncaught {
            run.detail
                .get_or_insert_with(Box::default)
                .exceptions
                .push(exception);
        }
        self.recorder.record(RequestRecord {
            endpoint: run.endpoint,
            time_requested: run.started,
            duration_us: run.duration_us,
            status_code,
            ip: self.ip,
            group_by: group_by.map(|g| g.to_string()),
            detail: run.detail,
        });
    }
}

/// Owned by the web layer for the duration of one request: makes the request's context
/// reachable from its handler, and records the request when finished or dropped.
#[derive(Debug)]
pub struct ContextGuard {
    ctx: Arc<RequestContext>,
    /// Where the context is registered, when it is found by task rather than by scope.
    key: Option<Key>,
    finished: bool,
}

impl ContextGuard {
    fn new(
        recorder: Arc<Recorder>,
        ip: Option<IpAddr>,
        group_by: Option<GroupBy>,
        parts: Option<Box<dyn RequestParts>>,
        key: Option<Key>,
    ) -> Self {
        let ctx = Arc::new(RequestContext {
            recorder,
            ip,
            parts,
            state: Mutex::new(State {
                group_by,
                ..State::default()
            }),
        });
        if let Some(key) = key {
            lock(shard(&key)).insert(key, ctx.clone());
        }
        if !BOUND.load(Ordering::Relaxed) {
            BOUND.store(true, Ordering::Relaxed);
        }
        ContextGuard {
            ctx,
            key,
            finished: false,
        }
    }

    /// Registers a context for the request being served on the current task, for a web layer
    /// that cannot wrap the request's future. `parts` is read only if the request turns out to
    /// be an outlier.
    pub fn enter(
        recorder: Arc<Recorder>,
        ip: Option<IpAddr>,
        group_by: Option<GroupBy>,
        parts: Option<Box<dyn RequestParts>>,
    ) -> Self {
        Self::new(recorder, ip, group_by, parts, Some(current_key()))
    }

    /// A context that the handler finds only while a future wrapped in [`scope`](Self::scope)
    /// is polled (or dropped).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use fmd_core::context::{self, ContextGuard};
    /// let (recorder, _queue) = fmd_core::Recorder::new(10);
    /// let guard = ContextGuard::scoped(recorder, None, None, None);
    /// let handler = async { context::set_group_by("inside") };
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// assert!(runtime.block_on(guard.scope(handler)));
    /// assert!(!context::set_group_by("outside"));
    /// ```
    pub fn scoped(
        recorder: Arc<Recorder>,
        ip: Option<IpAddr>,
        group_by: Option<GroupBy>,
        parts: Option<Box<dyn RequestParts>>,
    ) -> Self {
        Self::new(recorder, ip, group_by, parts, None)
    }

    /// Wraps the request's future: while it is polled or dropped, [`current`] is this request.
    pub fn scope<F: std::future::Future>(
        &self,
        future: F,
    ) -> tokio::task::futures::TaskLocalFuture<Arc<RequestContext>, F> {
        SCOPE.scope(self.ctx.clone(), future)
    }

    /// The endpoint whose monitored handler ran for this request, once it has ended.
    pub fn handled_by(&self) -> Option<&'static Endpoint> {
        self.ctx.state().run.as_ref().map(|run| run.endpoint)
    }

    /// Attributes a request that no monitored handler ran for to `endpoint`, timed from
    /// `started` until now: the web layer knows which endpoint its route leads to (a request
    /// the framework rejected before calling the handler). Does nothing if a handler ran; at
    /// level 0 only moves the endpoint's last request time, as its handler would.
    pub fn attribute(&self, endpoint: &'static Endpoint, started: Instant) {
        match endpoint.level() {
            crate::registry::LEVEL_INACTIVE => return,
            0 => return endpoint.touch(crate::Clock::coarse_secs()),
            _ => {}
        }
        let mut state = self.ctx.state();
        if state.run.is_none() {
            let started_us = crate::Clock::micros_at(started);
            endpoint.touch(started_us / 1_000_000);
            state.run = Some(HandlerRun {
                endpoint,
                started: started_us,
                duration_us: started.elapsed().as_micros() as u64,
                outcome: Outcome::Completed,
                detail: None,
                trail: None,
            });
        }
    }

    /// Records the request with the status code the client receives.
    pub fn finish(mut self, status: u16) {
        self.finished = true;
        self.unregister();
        self.ctx.finish(Some(status), None);
    }

    /// Records the request as answered with `status` for a rejection described by
    /// `description`: a 5xx one is recorded as an exception of the request's endpoint.
    pub fn finish_rejected(mut self, status: u16, description: String) {
        self.finished = true;
        self.unregister();
        self.ctx.finish(Some(status), Some(description));
    }

    fn unregister(&self) {
        let Some(key) = self.key else { return };
        let mut map = lock(shard(&key));
        // Only remove our own entry: a leaked guard must not unregister a later request's.
        if map.get(&key).is_some_and(|c| Arc::ptr_eq(c, &self.ctx)) {
            map.remove(&key);
        }
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if !self.finished {
            // Dropped without a response: the handler panicked (the connection's task is
            // unwinding) or the client went away.
            self.unregister();
            self.ctx.finish(None, None);
        }
    }
}

/// Whether any request was ever tracked by a web adapter (`Dashboard::bind`, the tower layer)
/// in this process.
#[inline]
pub fn bound() -> bool {
    BOUND.load(Ordering::Relaxed)
}

/// The context of the request being served on the current task, if any.
#[inline]
pub fn current() -> Option<Arc<RequestContext>> {
    if !BOUND.load(Ordering::Relaxed) {
        return None;
    }
    if let Ok(ctx) = SCOPE.try_with(Arc::clone) {
        return Some(ctx);
    }
    let key = current_key();
    lock(shard(&key)).get(&key).cloned()
}

/// Sets the group-by value of the current request, overriding the configured function. Returns
/// false when called outside a request tracked by `Dashboard::bind` or `Dashboard::layer`.
///
/// ```
/// // Outside a bound request there is nothing to set.
/// assert!(!fmd_core::context::set_group_by(("User", 3)));
/// ```
pub fn set_group_by(value: impl Into<GroupBy>) -> bool {
    match current() {
        Some(ctx) => {
            ctx.set_group_by(value.into());
            true
        }
        None => false,
    }
}
