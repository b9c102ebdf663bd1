//! What the `#[monitored]` expansion calls: a future adaptor for `async fn` and a guard for
//! plain functions. Both read the endpoint's level with one atomic load; at level 0 they only
//! move `last_requested`; at levels 1-3 they time the call and hand the result to the request's
//! context (or, outside a bound request, straight to the default recorder).

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::clock::Clock;
use crate::context;
use crate::outlier;
use crate::profile::{self, Profile, ROOT};
use crate::queue::record_default;
use crate::record::{Ending, HandlerRun, Outcome};
use crate::registry::{Endpoint, LEVEL_INACTIVE};
use crate::trail::{self, Report, Trail};

#[derive(Debug, Clone, Copy)]
enum Phase {
    Fresh,
    Untimed,
    Timing(Instant),
    Done,
}

/// Decides at the start of a call whether to time it, and at levels 2 and 3 starts the
/// request's profile and shows it to the outlier watchdog.
#[inline]
fn start(endpoint: &'static Endpoint) -> (Phase, Option<Arc<Profile>>) {
    match endpoint.level() {
        LEVEL_INACTIVE => (Phase::Untimed, None),
        0 => {
            endpoint.touch(Clock::coarse_secs());
            (Phase::Untimed, None)
        }
        1 => (Phase::Timing(Instant::now()), None),
        level => start_detailed(endpoint, level),
    }
}

#[inline(never)]
fn start_detailed(endpoint: &'static Endpoint, level: u8) -> (Phase, Option<Arc<Profile>>) {
    let now = Instant::now();
    let threshold = outlier::threshold_us(endpoint);
    // At level 2 the profile only serves outliers: without a threshold yet, none can be one.
    if threshold == 0 && level == 2 {
        return (Phase::Timing(now), None);
    }
    let profile = Profile::new(endpoint, now, threshold);
    crate::watchdog::watch(&profile);
    (Phase::Timing(now), Some(profile))
}

// Kept out of line so the poll that wraps every handler stays small.
#[inline(never)]
fn finish(
    endpoint: &'static Endpoint,
    start: Instant,
    outcome: Outcome,
    profile: Option<Arc<Profile>>,
    trail: Option<Box<Trail>>,
) {
    let duration_us = start.elapsed().as_micros() as u64;
    let started = Clock::micros_at(start);
    endpoint.touch(started / 1_000_000);
    let mut detail = profile.and_then(|p| p.finish(duration_us));
    if outcome == Outcome::Panicked {
        if let Some(panic) = crate::exception::take_panic() {
            detail
                .get_or_insert_with(Box::default)
                .exceptions
                .push(panic);
        }
    }
    let mut run = Some(HandlerRun {
        endpoint,
        started,
        duration_us,
        outcome,
        detail,
        trail,
    });
    if context::with_current(|state| state.set_run(run.take().expect("set once"))).is_some() {
        return;
    }
    let Some(run) = run else { return };
    // Outside a tracked request the function's own `Err` is what ends the call: an error it
    // returned makes it a failed one, and is its exception.
    let returned_error = outcome == Outcome::Completed
        && run
            .trail
            .as_ref()
            .is_some_and(|t| t.returned_by(&endpoint.meta));
    record_default(run.into_record(Ending {
        status: returned_error.then_some(500),
        ..Ending::default()
    }))
}

pin_project_lite::pin_project! {
    /// The future of a monitored `async fn`: times it from first poll to completion, and
    /// records a panic (then resumes it) or a cancellation (the future dropped unfinished).
    #[derive(Debug)]
    pub struct Monitored<F, R = ()> {
        #[pin]
        inner: F,
        // Reports the output to the error trail, inside the poll that produced it.
        report: R,
        endpoint: &'static Endpoint,
        phase: Phase,
        profile: Option<Arc<Profile>>,
        // An error returned by the handler's callees, on its way out.
        trail: Option<Box<Trail>>,
        // The span current when the body last returned `Pending`.
        resume: u32,
    }

    impl<F, R> PinnedDrop for Monitored<F, R> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Phase::Timing(start) = *this.phase {
                finish(
                    this.endpoint,
                    start,
                    Outcome::Cancelled,
                    this.profile.take(),
                    this.trail.take(),
                );
            }
        }
    }
}

impl<F> Monitored<F> {
    /// Wraps the body's future.
    #[inline]
    pub fn new(endpoint: &'static Endpoint, inner: F) -> Self {
        Monitored::reporting(endpoint, inner, ())
    }
}

impl<F, R> Monitored<F, R> {
    /// Wraps the body's future; `report` sees its output before the handler ends.
    #[inline]
    pub fn reporting(endpoint: &'static Endpoint, inner: F, report: R) -> Self {
        Monitored {
            inner,
            report,
            endpoint,
            phase: Phase::Fresh,
            profile: None,
            trail: None,
            resume: ROOT,
        }
    }
}

impl<F: Future, R: Report<F::Output>> Future for Monitored<F, R> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Phase::Fresh = this.phase {
            (*this.phase, *this.profile) = start(this.endpoint);
        }
        let Phase::Timing(start) = *this.phase else {
            return this.inner.poll(cx);
        };
        let (inner, report) = (this.inner, &*this.report);
        let poll = move || {
            let poll = inner.poll(cx);
            if let Poll::Ready(output) = &poll {
                report.report(output);
            }
            poll
        };
        let saved_trail = trail::enter(this.trail.take());
        let result = if this.profile.is_some() {
            let saved = profile::enter(this.profile.take(), *this.resume);
            let result = catch_unwind(AssertUnwindSafe(poll));
            (*this.profile, *this.resume) = profile::leave(saved);
            result
        } else {
            catch_unwind(AssertUnwindSafe(poll))
        };
        *this.trail = trail::leave(saved_trail);
        let outcome = match result {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(_)) => Outcome::Completed,
            Err(_) => Outcome::Panicked,
        };
        *this.phase = Phase::Done;
        finish(
            this.endpoint,
            start,
            outcome,
            this.profile.take(),
            this.trail.take(),
        );
        match result {
            Ok(poll) => poll,
            Err(payload) => resume_unwind(payload),
        }
    }
}

/// The guard of a monitored plain function: records when dropped, as a panic when dropped while
/// unwinding.
#[derive(Debug)]
pub struct SyncGuard {
    endpoint: &'static Endpoint,
    start: Option<Instant>,
    /// What the call's profile replaced on this thread, restored when it ends.
    saved: Option<(Option<Arc<Profile>>, u32)>,
    /// What the call's trail slot replaced, while it is timed.
    saved_trail: Option<trail::Saved>,
}

impl SyncGuard {
    /// Starts monitoring a call.
    #[inline]
    pub fn enter(endpoint: &'static Endpoint) -> Self {
        let (phase, profile) = start(endpoint);
        let start = match phase {
            Phase::Timing(start) => Some(start),
            _ => None,
        };
        let saved = profile.map(|p| profile::enter(Some(p), ROOT));
        SyncGuard {
            endpoint,
            start,
            saved,
            saved_trail: start.map(|_| trail::enter(None)),
        }
    }

    #[inline(never)]
    fn timed_end(&mut self, start: Instant) {
        let profile = self.saved.take().and_then(|saved| profile::leave(saved).0);
        let trail = self.saved_trail.take().and_then(trail::leave);
        let outcome = if std::thread::panicking() {
            Outcome::Panicked
        } else {
            Outcome::Completed
        };
        finish(self.endpoint, start, outcome, profile, trail);
    }
}

impl Drop for SyncGuard {
    #[inline]
    fn drop(&mut self) {
        // Untimed (level 0, or no dashboard): nothing was installed.
        let Some(start) = self.start else { return };
        self.timed_end(start);
    }
}
