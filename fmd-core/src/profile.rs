//! The span profiler: `#[profiled]` functions and `fmd::span!` blocks record spans into the
//! profile of the request they run in, when its endpoint is at level 2 or 3.
//!
//! A monitored handler at level 2 or 3 owns an [`Profile`] and, while its future is being
//! polled (or its plain function runs), places it in a thread-local slot. A profiled call reads
//! that slot: empty means one check and nothing else. The slot also holds the current span, so
//! a span's parent is the span whose poll (or call) it runs in: concurrent children of one
//! parent (`join!`) become siblings, and an async span lasts from its first poll to completion,
//! whichever threads poll it. The profile itself is shared (`Arc`) with the outlier watchdog,
//! which reads the spans still open when a request runs past its threshold.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::outlier::{Stuck, StuckFrame, SystemFigures};
use crate::registry::{Endpoint, Function};

/// The parent of a request's top-level spans.
pub const ROOT: u32 = u32::MAX;

/// Spans kept per request at most; a profiled function called in a long loop would otherwise
/// grow the profile without bound. Further spans are counted as dropped.
pub const MAX_SPANS: usize = 10_000;

/// A span's duration while it is still running.
const OPEN: u64 = u64::MAX;

/// One call of a profiled function (or one run of a `span!` block) within a request.
#[derive(Debug, Clone)]
pub struct Span {
    /// What ran.
    pub function: &'static Function,
    /// The index of the enclosing span in the request's list, or [`ROOT`].
    pub parent: u32,
    /// When it started, nanoseconds after the request's handler started.
    pub start_ns: u64,
    /// How long it ran, in nanoseconds.
    pub duration_ns: u64,
    /// It did not complete: its future was dropped first, or it panicked.
    pub cancelled: bool,
}

#[derive(Debug, Default)]
struct Spans {
    list: Vec<Span>,
    dropped: u32,
}

/// What a request keeps beyond its request row: its span tree, what made it an outlier, and the
/// exceptions it raised.
#[derive(Debug, Clone, Default)]
pub struct RequestDetail {
    /// Whether the span tree is kept: at level 3, and for an outlier at level 2.
    pub profiled: bool,
    /// The span tree in the order the spans started (parents before children).
    pub spans: Vec<Span>,
    /// Spans beyond [`MAX_SPANS`], not kept.
    pub dropped_spans: u32,
    /// Set when the request was an outlier.
    pub outlier: Option<OutlierDetail>,
    /// Errors captured with `capture!` and a panic, in the order they happened.
    pub exceptions: Vec<crate::exception::CapturedError>,
    /// The last log events raised while the request ran (an outlier's or an exception's).
    pub events: Vec<crate::events::LogEvent>,
}

/// What an outlier stores besides its spans.
#[derive(Debug, Clone, Default)]
pub struct OutlierDetail {
    /// The request's method.
    pub method: String,
    /// The path with its query string.
    pub url: String,
    /// The request's headers, sensitive values replaced by `[scrubbed]`.
    pub headers: Vec<(String, String)>,
    /// Where the request was when the watchdog found it past its threshold; `None` when the
    /// request ended before the watchdog looked.
    pub stuck: Option<Stuck>,
}

/// The live profile of one request at level 2 or 3.
#[derive(Debug)]
pub struct Profile {
    /// The endpoint whose handler runs.
    pub endpoint: &'static Endpoint,
    /// When the handler started.
    pub start: Instant,
    /// The outlier threshold in microseconds when the request started; 0 when the endpoint has
    /// too few requests to judge.
    pub threshold_us: u64,
    spans: Mutex<Spans>,
    finished: AtomicBool,
    stuck: Mutex<Option<Stuck>>,
}

fn nanos_since(start: Instant) -> u64 {
    start.elapsed().as_nanos().min(u128::from(OPEN - 1)) as u64
}

/// Whether spans are recorded for `endpoint` now: read at every span, so lowering the level
/// stops profiling requests already running.
#[inline]
fn detailed(endpoint: &Endpoint) -> bool {
    matches!(endpoint.level(), 2 | 3)
}

impl Profile {
    /// A profile for a request of `endpoint` whose handler started at `start`.
    pub fn new(endpoint: &'static Endpoint, start: Instant, threshold_us: u64) -> Arc<Profile> {
        Arc::new(Profile {
            endpoint,
            start,
            threshold_us,
            spans: Mutex::new(Spans::default()),
            finished: AtomicBool::new(false),
            stuck: Mutex::new(None),
        })
    }

    fn open(&self, function: &'static Function, parent: u32) -> Option<u32> {
        let start_ns = nanos_since(self.start);
        let mut spans = self.spans.lock();
        if spans.list.len() >= MAX_SPANS {
            spans.dropped = spans.dropped.saturating_add(1);
            return None;
        }
        spans.list.push(Span {
            function,
            parent,
            start_ns,
            duration_ns: OPEN,
            cancelled: false,
        });
        Some((spans.list.len() - 1) as u32)
    }

    pub(crate) fn close(&self, id: u32, cancelled: bool) {
        let end_ns = nanos_since(self.start);
        if let Some(span) = self.spans.lock().list.get_mut(id as usize) {
            span.duration_ns = end_ns.saturating_sub(span.start_ns);
            span.cancelled = cancelled;
        }
    }

    /// Whether the request has ended.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }

    /// Whether the watchdog should take the stuck snapshot now: the request is past its
    /// threshold, its endpoint still at level 2 or 3, and no snapshot was taken yet.
    pub fn overdue(&self, now: Instant) -> bool {
        self.threshold_us > 0
            && !self.is_finished()
            && detailed(self.endpoint)
            && now.saturating_duration_since(self.start).as_micros() as u64 > self.threshold_us
            && self.stuck.lock().is_none()
    }

    /// The spans open now, outermost first, each with its depth and how long it has run.
    pub fn open_spans(&self, now: Instant) -> Vec<StuckFrame> {
        let now_ns = now.saturating_duration_since(self.start).as_nanos() as u64;
        let spans = self.spans.lock();
        let list = &spans.list;
        list.iter()
            .filter(|s| s.duration_ns == OPEN)
            .map(|s| StuckFrame {
                function: s.function,
                depth: depth(list, s.parent),
                running_us: now_ns.saturating_sub(s.start_ns) / 1_000,
            })
            .collect()
    }

    /// Stores the watchdog's snapshot: where the request is now, with the machine's figures.
    pub fn set_stuck(&self, now: Instant, figures: SystemFigures) {
        let frames = self.open_spans(now);
        let after_us = now.saturating_duration_since(self.start).as_micros() as u64;
        let mut stuck = self.stuck.lock();
        if stuck.is_none() && !self.is_finished() {
            *stuck = Some(Stuck {
                after_us,
                frames,
                figures,
            });
        }
    }

    /// Ends the profile when the handler ends after `duration_us`, and returns what the request
    /// keeps: the span tree at level 3 or for an outlier, and the outlier's snapshot.
    pub fn finish(&self, duration_us: u64) -> Option<Box<RequestDetail>> {
        self.finished.store(true, Ordering::Relaxed);
        let level = self.endpoint.level();
        let outlier =
            self.threshold_us > 0 && duration_us > self.threshold_us && detailed(self.endpoint);
        if level != 3 && !outlier {
            return None;
        }
        let end_ns = duration_us.saturating_mul(1_000);
        let Spans { mut list, dropped } = std::mem::take(&mut *self.spans.lock());
        // A span still open now belongs to work the request left behind (a spawned or leaked
        // future): it ends with the request, as cancelled.
        for span in list.iter_mut().filter(|s| s.duration_ns == OPEN) {
            span.duration_ns = end_ns.saturating_sub(span.start_ns);
            span.cancelled = true;
        }
        Some(Box::new(RequestDetail {
            profiled: true,
            spans: list,
            dropped_spans: dropped,
            outlier: outlier.then(|| OutlierDetail {
                stuck: self.stuck.lock().take(),
                ..OutlierDetail::default()
            }),
            ..RequestDetail::default()
        }))
    }
}

/// The depth of a span whose parent is `parent` (top-level spans have depth 0). Parents come
/// before their children in the list, so the walk ends.
pub fn depth(list: &[Span], mut parent: u32) -> u32 {
    let mut depth = 0;
    while let Some(span) = list.get(parent as usize) {
        depth += 1;
        parent = span.parent;
    }
    depth
}

thread_local! {
    static ACTIVE: Cell<Option<Arc<Profile>>> = const { Cell::new(None) };
    static CURRENT: Cell<u32> = const { Cell::new(ROOT) };
}

/// The profile of the request running on this thread, if it is being profiled.
#[inline]
fn active() -> Option<Arc<Profile>> {
    ACTIVE.with(|slot| {
        let profile = slot.take();
        let copy = profile.clone();
        slot.set(profile);
        copy
    })
}

/// Runs `f` on the profile of the request running on this thread, without touching its
/// reference count: the `tracing` layer asks on every enter and exit of a span.
#[cfg(feature = "tracing")]
#[inline]
pub(crate) fn with_active<R>(f: impl FnOnce(&Arc<Profile>) -> R) -> Option<R> {
    ACTIVE.with(|slot| {
        let profile = slot.take()?;
        let result = f(&profile);
        slot.set(Some(profile));
        Some(result)
    })
}

/// Opens a span of `function` in `profile` if it is being profiled, nested in the current
/// span, and makes it current; returns its id and its parent's.
pub(crate) fn open_current(profile: &Profile, function: &'static Function) -> Option<(u32, u32)> {
    if !detailed(profile.endpoint) {
        return None;
    }
    let parent = CURRENT.get();
    let id = profile.open(function, parent)?;
    CURRENT.set(id);
    Some((id, parent))
}

/// Makes `span` the one new spans nest in, on this thread.
#[cfg(feature = "tracing")]
pub(crate) fn set_current(span: u32) {
    CURRENT.set(span);
}

/// Installs a request's profile on this thread for one poll (or one call), with `current` as
/// the span new spans nest in. Returns what to give [`leave`] afterwards.
#[doc(hidden)]
pub fn enter(profile: Option<Arc<Profile>>, current: u32) -> (Option<Arc<Profile>>, u32) {
    (ACTIVE.replace(profile), CURRENT.replace(current))
}

/// Restores what [`enter`] replaced; returns the profile and the span current at the end of
/// the poll, to resume with next time.
#[doc(hidden)]
pub fn leave(saved: (Option<Arc<Profile>>, u32)) -> (Option<Arc<Profile>>, u32) {
    (ACTIVE.replace(saved.0), CURRENT.replace(saved.1))
}

/// An open span of a plain function or a `span!` block; closes it when dropped.
#[derive(Debug)]
#[must_use = "the span ends when the guard is dropped"]
pub struct SpanGuard {
    open: Option<(Arc<Profile>, u32, u32)>,
    /// `Some` while the call is one level deeper; for a plain function that returns no
    /// `Result`, also whether its return (a value) is reported when the guard drops.
    deeper: Option<(crate::trail::Deeper, bool)>,
}

impl SpanGuard {
    /// Opens a span of `function` in the current request, if it is being profiled.
    #[inline]
    pub fn enter(function: &'static Function) -> SpanGuard {
        let deeper = crate::trail::Deeper::enter();
        let open = active().and_then(|profile| Self::open(profile, function));
        SpanGuard {
            open,
            deeper: Some((deeper, false)),
        }
    }

    /// Opens a span of a profiled plain function that returns no `Result`: the guard also
    /// reports that the function returned a value when it drops. (A `span!` block, which a `?`
    /// may leave, and a `Result` function, which reports its value itself, use [`enter`].)
    ///
    /// [`enter`]: SpanGuard::enter
    #[inline]
    pub fn function(function: &'static Function) -> SpanGuard {
        let mut guard = Self::enter(function);
        if let Some((_, reports)) = guard.deeper.as_mut() {
            *reports = true;
        }
        guard
    }

    #[inline(never)]
    fn open(
        profile: Arc<Profile>,
        function: &'static Function,
    ) -> Option<(Arc<Profile>, u32, u32)> {
        let (id, parent) = open_current(&profile, function)?;
        Some((profile, id, parent))
    }
}

impl SpanGuard {
    #[inline(never)]
    fn close(open: (Arc<Profile>, u32, u32)) {
        let (profile, id, parent) = open;
        profile.close(id, std::thread::panicking());
        CURRENT.set(parent);
    }
}

impl Drop for SpanGuard {
    // Inline: outside levels 2-3 this is a check and the depth's decrement.
    #[inline]
    fn drop(&mut self) {
        if let Some(open) = self.open.take() {
            Self::close(open);
        }
        // Also when unwinding: a panic ends the request's interest in the trail anyway.
        if let Some((deeper, true)) = self.deeper.take() {
            deeper.returned_value();
        }
    }
}

#[derive(Debug)]
enum State {
    Fresh,
    Off,
    On {
        profile: Arc<Profile>,
        id: u32,
        /// The span current when the inner future last returned: itself, or a `span!` block
        /// inside it held open across an await.
        resume: u32,
    },
    Done,
}

/// Puts back the current span if the inner poll panics.
struct RestoreCurrent(u32);

impl Drop for RestoreCurrent {
    fn drop(&mut self) {
        CURRENT.set(self.0);
    }
}

pin_project_lite::pin_project! {
    /// The future of a profiled `async fn`: a span from first poll to completion; dropped
    /// before completion, the span closes as cancelled.
    #[derive(Debug)]
    pub struct Profiled<F, R = ()> {
        #[pin]
        inner: F,
        // Reports the output to the error trail, at the function's depth.
        report: R,
        function: &'static Function,
        state: State,
    }

    impl<F, R> PinnedDrop for Profiled<F, R> {
        fn drop(this: Pin<&mut Self>) {
            if let State::On { profile, id, .. } = &*this.project().state {
                profile.close(*id, true);
            }
        }
    }
}

impl<F> Profiled<F> {
    /// Wraps the body's future.
    #[inline]
    pub fn new(function: &'static Function, inner: F) -> Self {
        Profiled::reporting(function, inner, ())
    }
}

impl<F, R> Profiled<F, R> {
    /// Wraps the body's future; `report` sees its output when it completes.
    #[inline]
    pub fn reporting(function: &'static Function, inner: F, report: R) -> Self {
        Profiled {
            inner,
            report,
            function,
            state: State::Fresh,
        }
    }
}

impl<F: Future, R: crate::trail::Report<F::Output>> Future for Profiled<F, R> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _deeper = crate::trail::Deeper::enter();
        if let State::Fresh = this.state {
            *this.state = match active() {
                Some(profile) if detailed(profile.endpoint) => {
                    match profile.open(this.function, CURRENT.get()) {
                        Some(id) => State::On {
                            profile,
                            id,
                            resume: id,
                        },
                        None => State::Off,
                    }
                }
                _ => State::Off,
            };
        }
        let State::On { resume, .. } = this.state else {
            let poll = this.inner.poll(cx);
            if let Poll::Ready(output) = &poll {
                this.report.report(output);
            }
            return poll;
        };
        let restore = RestoreCurrent(CURRENT.replace(*resume));
        let poll = this.inner.poll(cx);
        *resume = CURRENT.replace(restore.0);
        std::mem::forget(restore);
        if let Poll::Ready(output) = &poll {
            this.report.report(output);
            if let State::On { profile, id, .. } = std::mem::replace(this.state, State::Done) {
                profile.close(id, false);
            }
        }
        poll
    }
}

/// One call path of the grouped profiler: the functions from the request's top level down.
#[derive(Debug, Clone, PartialEq)]
pub struct PathStats {
    /// The functions' names from the top level down to this one.
    pub path: Vec<String>,
    /// Calls along this path.
    pub hits: u64,
    /// Their total duration, in the unit of the input.
    pub total: f64,
    /// Mean duration per call.
    pub average: f64,
    /// Population standard deviation of the calls' durations.
    pub std_dev: f64,
    /// `hits` over the number of requests.
    pub hits_share: f64,
    /// `total` over the requests' total duration.
    pub time_share: f64,
}

/// Merges call paths over several requests, as the original's grouped profiler does: for each
/// path its hits, total, average and (population) standard deviation, its hits relative to
/// `total_hits` and its time relative to `total_time`.
///
/// ```
/// use fmd_core::profile::group_paths;
/// let path = vec!["handler".to_string(), "load".to_string()];
/// let calls = vec![(path.clone(), 10.0), (path.clone(), 10.0), (path, 40.0)];
/// let stats = group_paths(calls, 6, 100.0);
/// assert_eq!(stats[0].hits, 3);
/// assert_eq!(stats[0].total, 60.0);
/// assert_eq!(stats[0].average, 20.0);
/// assert!((stats[0].std_dev - 200f64.sqrt()).abs() < 1e-9);
/// assert_eq!((stats[0].hits_share, stats[0].time_share), (0.5, 0.6));
/// ```
pub fn group_paths(
    calls: impl IntoIterator<Item = (Vec<String>, f64)>,
    total_hits: u64,
    total_time: f64,
) -> Vec<PathStats> {
    let mut order: Vec<Vec<String>> = Vec::new();
    let mut values: std::collections::HashMap<Vec<String>, Vec<f64>> = Default::default();
    for (path, value) in calls {
        values
            .entry(path.clone())
            .or_insert_with(|| {
                order.push(path);
                Vec::new()
            })
            .push(value);
    }
    // Paths sorted so that each follows its parent, siblings by name: the table reads as a tree.
    order.sort();
    order
        .into_iter()
        .map(|path| {
            let v = &values[&path];
            let hits = v.len() as u64;
            let total: f64 = v.iter().sum();
            let average = total / hits as f64;
            let variance = v.iter().map(|x| (x - average).powi(2)).sum::<f64>() / hits as f64;
            let share = |part: f64, whole: f64| if whole > 0.0 { part / whole } else { 0.0 };
            PathStats {
                path,
                hits,
                total,
                average,
                std_dev: variance.sqrt(),
                hits_share: share(hits as f64, total_hits as f64),
                time_share: share(total, total_time),
            }
        })
        .collect()
}
