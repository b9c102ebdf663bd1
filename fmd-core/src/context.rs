//! The per-request state shared by the web layer and the `#[monitored]` wrapper.
//!
//! A web adapter starts a [`RequestState`] with what it knows of the request (the client's
//! address, the configured group-by value, the head an outlier keeps); the monitored handler
//! adds its run, a group-by value it sets and the errors it captures; the adapter records it
//! with the status the client received ([`RequestState::finish`]). The handler finds the state
//! of its request in one of two ways:
//!
//! - in a scope: where the adapter owns the request's future (a tower layer), it wraps it in
//!   [`Scoped`], which moves the state into a thread-local slot for each poll;
//! - by task: warp's traits are sealed, so its adapter cannot wrap the app's future. There a
//!   [`TaskGuard`] registers the state under the current tokio task (each connection, and each
//!   HTTP/2 stream, is served by its own task), or the current thread outside a task
//!   (`block_on`, as in `#[tokio::test]`), and the adapter records it through the guard
//!   ([`TaskGuard::finish`]) when the app's reply is ready, or takes it back
//!   ([`TaskGuard::take`]) where only the app's rejection is at hand.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::events::{LogEvent, Recent};
use crate::exception::CapturedError;
use crate::queue::Recorder;
use crate::record::{Ending, HandlerRun, Outcome};
use crate::{Endpoint, GroupBy};

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

impl std::fmt::Debug for dyn RequestParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method(), self.url())
    }
}

/// Exceptions kept per request at most: a loop capturing on every iteration would otherwise
/// grow the request without bound.
pub const MAX_EXCEPTIONS: usize = 100;

/// What a request's handler hands to it while it runs: the handler's run, a group-by value,
/// captured errors and log events, and the framework's error behind the answer. Kept small (72
/// bytes): a scope moves it in and out of a thread-local slot on every poll.
#[derive(Debug, Default)]
pub struct Handed {
    run: Option<HandlerRun>,
    group_by: Option<Box<GroupBy>>,
    extras: Option<Box<Extras>>,
    /// The framework's error behind a 5xx answer, if the adapter saw one.
    rejection: Option<Box<str>>,
}

impl Handed {
    /// The endpoint whose monitored handler ran for this request, once it has ended.
    pub fn handled_by(&self) -> Option<&'static Endpoint> {
        self.run.as_ref().map(|run| run.endpoint)
    }

    /// Attributes a request that no monitored handler ran for to `endpoint`, timed from
    /// `started` until now: the web layer knows which endpoint its route leads to (a request
    /// the framework rejected before calling the handler). Does nothing if a handler ran; at
    /// level 0 only moves the endpoint's last request time, as its handler would.
    pub fn attribute(&mut self, endpoint: &'static Endpoint, started: Instant) {
        if self.run.is_some() {
            return;
        }
        match endpoint.level() {
            crate::registry::LEVEL_INACTIVE => {}
            0 => endpoint.touch(crate::Clock::coarse_secs()),
            _ => {
                let started_us = crate::Clock::micros_at(started);
                endpoint.touch(started_us / 1_000_000);
                self.run = Some(HandlerRun {
                    endpoint,
                    started: started_us,
                    duration_us: started.elapsed().as_micros() as u64,
                    outcome: Outcome::Completed,
                    detail: None,
                    trail: None,
                });
            }
        }
    }

    /// Notes the framework's own error that the request is answered for (a warp rejection),
    /// described: an exception of the request's endpoint if the answer is a 5xx and no error
    /// returned by the handler is behind it.
    pub fn set_rejection(&mut self, description: String) {
        self.rejection = Some(description.into_boxed_str());
    }

    pub(crate) fn set_run(&mut self, run: HandlerRun) {
        self.run = Some(run);
    }

    fn set_group_by(&mut self, value: GroupBy) {
        self.group_by = Some(Box::new(value));
    }

    /// Adds an exception captured while the request runs; false beyond [`MAX_EXCEPTIONS`].
    pub(crate) fn add_exception(&mut self, exception: CapturedError) -> bool {
        let exceptions = &mut self.extras.get_or_insert_with(Box::default).exceptions;
        if exceptions.len() >= MAX_EXCEPTIONS {
            return false;
        }
        exceptions.push(exception);
        true
    }

    /// Adds a log event raised while the request runs; the last [`MAX_EVENTS`] are kept.
    ///
    /// [`MAX_EVENTS`]: crate::events::MAX_EVENTS
    pub(crate) fn add_event(&mut self, event: LogEvent) {
        self.extras
            .get_or_insert_with(Box::default)
            .events
            .push(event);
    }
}

/// The errors captured and the events logged while a request runs, boxed: most requests have
/// none, and the handed state moves on every poll.
#[derive(Debug, Default)]
struct Extras {
    exceptions: Vec<CapturedError>,
    events: Recent,
}

/// One request as the web layer and its handler see it, until it is recorded.
#[derive(Debug, Default)]
pub struct RequestState {
    /// What the handler hands to it.
    pub handed: Handed,
    ip: Option<IpAddr>,
    parts: Option<Box<dyn RequestParts>>,
}

impl RequestState {
    /// A request from `ip`, grouped by `group_by` unless its handler says otherwise; `parts`
    /// is read only if the request turns out to be an outlier.
    pub fn new(
        ip: Option<IpAddr>,
        group_by: Option<GroupBy>,
        parts: Option<Box<dyn RequestParts>>,
    ) -> Self {
        RequestState {
            handed: Handed {
                group_by: group_by.map(Box::new),
                ..Handed::default()
            },
            ip,
            parts,
        }
    }

    /// Records the request with `status`, the status its client received (`None` when the web
    /// layer saw no response: the handler panicked or the client went away). A request no
    /// monitored handler ran for (unmatched, or an unannotated route) is not recorded: it
    /// belongs to no endpoint.
    pub fn finish(self, recorder: &Recorder, status: Option<u16>) {
        let RequestState { handed, ip, parts } = self;
        let Handed {
            run,
            group_by,
            extras,
            rejection,
        } = handed;
        let Some(mut run) = run else { return };
        if let (Some(outlier), Some(parts)) =
            (run.detail.as_mut().and_then(|d| d.outlier.as_mut()), &parts)
        {
            outlier.method = parts.method();
            outlier.url = crate::outlier::scrub_url(&parts.url());
            outlier.headers = crate::outlier::scrub(parts.headers());
        }
        let (captured, events) = extras.map_or_else(Default::default, |e| {
            let Extras { exceptions, events } = *e;
            (exceptions, events.into_vec())
        });
        recorder.record(run.into_record(Ending {
            status,
            ip,
            group_by: group_by.map(|g| g.to_string()),
            captured,
            rejection,
            events,
        }));
    }
}

/// Whether any request was ever tracked; lets monitored functions skip the look-up when
/// nothing is. Set once and only read afterwards: a count of live requests would be two
/// contended read-modify-writes per request on a busy server.
static BOUND: AtomicBool = AtomicBool::new(false);

fn mark_bound() {
    if !BOUND.load(Ordering::Relaxed) {
        BOUND.store(true, Ordering::Relaxed);
    }
}

thread_local! {
    /// What the handler of the request whose [`Scoped`] future is being polled on this thread
    /// hands to it; meaningful while [`IN_SCOPE`] is set.
    static SCOPE: RefCell<Handed> = RefCell::new(Handed::default());
    /// Whether a [`Scoped`] future is being polled on this thread: one load, without touching
    /// the slot, for every look-up outside a scope.
    static IN_SCOPE: Cell<bool> = const { Cell::new(false) };
}

/// Moves a request's handed state into the scope for as long as it lives, and back when
/// dropped (also while unwinding), restoring what the scope held before (an outer request's).
struct InScope<'a> {
    handed: &'a mut Handed,
    was_in_scope: bool,
}

impl<'a> InScope<'a> {
    #[inline]
    fn enter(handed: &'a mut Handed) -> Self {
        SCOPE.with(|s| std::mem::swap(&mut *s.borrow_mut(), handed));
        InScope {
            handed,
            was_in_scope: IN_SCOPE.replace(true),
        }
    }
}

impl Drop for InScope<'_> {
    #[inline]
    fn drop(&mut self) {
        IN_SCOPE.set(self.was_in_scope);
        SCOPE.with(|s| std::mem::swap(&mut *s.borrow_mut(), self.handed));
    }
}

pin_project_lite::pin_project! {
    /// A request's future with its state in scope: while the future is polled, and while it is
    /// dropped unfinished, monitored handlers, [`set_group_by`] and `capture!` reach the state.
    /// If dropped before the state was [taken](Scoped::take_state), the request is recorded as
    /// answered with no response (the handler panicked, or the client went away).
    ///
    /// ```
    /// use fmd_core::context::{self, RequestState, Scoped};
    /// let (recorder, _queue) = fmd_core::Recorder::new(10);
    /// let handler = async { context::set_group_by("inside") };
    /// let scoped = Scoped::new(recorder, RequestState::default(), handler);
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// assert!(runtime.block_on(scoped));
    /// assert!(!context::set_group_by("outside"));
    /// ```
    pub struct Scoped<F> {
        // Dropped inside the scope once it is ready or when the request is dropped, and so
        // before the state is recorded.
        #[pin]
        inner: Option<F>,
        state: Option<RequestState>,
        recorder: Arc<Recorder>,
    }

    impl<F> PinnedDrop for Scoped<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let Some(state) = this.state.as_mut() else { return };
            if this.inner.as_ref().get_ref().is_some() {
                let _in_scope = InScope::enter(&mut state.handed);
                this.inner.set(None);
            }
            if let Some(state) = this.state.take() {
                state.finish(this.recorder, None);
            }
        }
    }
}

impl<F> Scoped<F> {
    /// Wraps the request's future `inner`.
    pub fn new(recorder: Arc<Recorder>, state: RequestState, inner: F) -> Self {
        mark_bound();
        Scoped {
            inner: Some(inner),
            state: Some(state),
            recorder,
        }
    }

    /// The request's state, to record once its response is ready. `None` if taken before.
    pub fn take_state(self: Pin<&mut Self>) -> Option<RequestState> {
        self.project().state.take()
    }

    /// The recorder the state is recorded with.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let (Some(inner), Some(state)) = (this.inner.as_mut().as_pin_mut(), this.state.as_mut())
        else {
            panic!("a Scoped future is not polled after it is ready");
        };
        let _in_scope = InScope::enter(&mut state.handed);
        let poll = inner.poll(cx);
        if poll.is_ready() {
            // Its drop may still record into the scope (a handler's guard, say).
            this.inner.set(None);
        }
        poll
    }
}

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

/// Task and thread ids are counters the runtime hands out, not input an attacker chooses: the
/// fast multiplicative hash (FxHash) is safe here.
type IdBuild = rustc_hash::FxBuildHasher;

/// The states registered under tasks, in shards by key. A shard holds the requests of about one
/// in 32 tasks in flight: a few entries, found by a scan, cheaper than a hash map's probing
/// and moving for the handful it holds.
type Shard = Mutex<Vec<(Key, RequestState)>>;

static TASKS: LazyLock<Vec<Shard>> =
    LazyLock::new(|| (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect());

fn shard(key: &Key) -> parking_lot::MutexGuard<'static, Vec<(Key, RequestState)>> {
    TASKS[(IdBuild::default().hash_one(key) >> 59) as usize % SHARDS].lock()
}

/// Removes and returns the state registered under `key`.
fn remove(key: &Key) -> Option<RequestState> {
    let mut shard = shard(key);
    let at = shard.iter().position(|(k, _)| k == key)?;
    Some(shard.swap_remove(at).1)
}

/// A request's state registered under the current task, for a web layer that cannot wrap the
/// request's future. If the state is still registered when the guard is dropped, the request
/// is recorded as answered with no response (the handler panicked, or the client went away).
///
/// ```
/// use fmd_core::context::{self, RequestState, TaskGuard};
/// let (recorder, _queue) = fmd_core::Recorder::new(10);
/// let guard = TaskGuard::enter(recorder, RequestState::default());
/// assert!(context::set_group_by("in the request"));
/// let state = TaskGuard::take().expect("registered under this thread");
/// drop(guard);
/// assert!(!context::set_group_by("after it"));
/// ```
#[derive(Debug)]
pub struct TaskGuard {
    key: Key,
    recorder: Arc<Recorder>,
}

impl TaskGuard {
    /// Registers `state` for the request being served on the current task.
    pub fn enter(recorder: Arc<Recorder>, state: RequestState) -> Self {
        let key = current_key();
        {
            let mut shard = shard(&key);
            // A state left under this key (a guard that was leaked) is replaced.
            shard.retain(|(k, _)| *k != key);
            shard.push((key, state));
        }
        if TAKEN.get() == Some(key) {
            // A mark left by an earlier request of this task must not hide this one's state.
            TAKEN.set(None);
        }
        mark_bound();
        TaskGuard { key, recorder }
    }

    /// Records the request this guard registered, answered with `status` (see
    /// [`RequestState::finish`]).
    ///
    /// ```
    /// use fmd_core::context::{self, RequestState, TaskGuard};
    /// let (recorder, _queue) = fmd_core::Recorder::new(10);
    /// let guard = TaskGuard::enter(recorder, RequestState::default());
    /// assert!(context::set_group_by("in the request"));
    /// guard.finish(Some(200));
    /// assert!(!context::set_group_by("after it"));
    /// ```
    pub fn finish(self, status: Option<u16>) {
        if let Some(state) = remove(&self.key) {
            state.finish(&self.recorder, status);
        }
        // Its drop, right after, need not look for the state again.
        TAKEN.set(Some(self.key));
    }

    /// Takes the state of the request being served on the current task, to record it.
    pub fn take() -> Option<RequestState> {
        let key = current_key();
        let state = remove(&key);
        TAKEN.set(Some(key));
        state
    }
}

thread_local! {
    /// The task whose state [`TaskGuard::take`] took last on this thread: its guard, dropped
    /// right after, need not look for it.
    static TAKEN: Cell<Option<Key>> = const { Cell::new(None) };
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if TAKEN.get() == Some(self.key) {
            TAKEN.set(None);
            return;
        }
        if let Some(state) = remove(&self.key) {
            state.finish(&self.recorder, None);
        }
    }
}

/// Whether any request was ever tracked by a web adapter (`Dashboard::bind`, the tower layer)
/// in this process.
#[inline]
pub fn bound() -> bool {
    BOUND.load(Ordering::Relaxed)
}

/// Runs `f` on what the handler hands to the request being served here, if any: the one in
/// scope, else the one registered under the current task.
#[inline]
pub fn with_current<R>(f: impl FnOnce(&mut Handed) -> R) -> Option<R> {
    if !BOUND.load(Ordering::Relaxed) {
        return None;
    }
    if IN_SCOPE.get() {
        return Some(SCOPE.with(|s| f(&mut s.borrow_mut())));
    }
    with_task(f)
}

#[inline(never)]
fn with_task<R>(f: impl FnOnce(&mut Handed) -> R) -> Option<R> {
    let key = current_key();
    let mut shard = shard(&key);
    let (_, state) = shard.iter_mut().find(|(k, _)| *k == key)?;
    Some(f(&mut state.handed))
}

/// Sets the group-by value of the current request, overriding the configured function. Returns
/// false when called outside a request tracked by `Dashboard::bind` or `Dashboard::layer`.
///
/// ```
/// // Outside a tracked request there is nothing to set.
/// assert!(!fmd_core::context::set_group_by(("User", 3)));
/// ```
pub fn set_group_by(value: impl Into<GroupBy>) -> bool {
    let value = value.into();
    with_current(|handed| handed.set_group_by(value)).is_some()
}
