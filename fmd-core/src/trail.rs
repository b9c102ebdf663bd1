//! Error return traces: an error returned by a `#[profiled]` (or `#[monitored]`) function and
//! passed on by its callers, up to the handler, is recorded with every annotated function it was
//! returned through, innermost first, when the request ends with a 5xx.
//!
//! The expansion of each annotated function classifies the value it returns ([`Ret`]): a value
//! (anything but `Err`), an `Err` holding a `std::error::Error`, or an `Err` of another type (a
//! `Rejection`). A per-thread slot, installed by the monitored handler for each poll (or call),
//! holds the call depth and the request's pending trail:
//!
//! - an error returned at depth `d` continues the pending trail when that trail's last function
//!   was deeper than `d` (it was called, directly or not, by this one); otherwise it starts a new
//!   trail, the old one having been handled;
//! - a value returned at depth `d` by a profiled function discards a pending trail deeper than
//!   `d`: the function handled the error;
//! - the handler's own value does not: a handler that turns an error into a 500 reply still has
//!   that error behind its 5xx.
//!
//! On the request path this costs a depth increment around each profiled call and one
//! comparison when it returns a value; only an `Err` return does more (its message and source
//! chain are read then).

use std::cell::Cell;
use std::error::Error;
use std::ops::Deref;

use crate::exception::{source_chain as chain, CapturedError, DynError, Origin, Stack};
use crate::registry::{Endpoint, EndpointMeta, Function};

/// How an annotated function returned.
#[derive(Debug, Clone, Copy)]
pub enum Returned<'a> {
    /// Anything but an `Err`.
    Value,
    /// `Err` of a `std::error::Error` (or of a type that dereferences to one, as
    /// `anyhow::Error` and `Box<dyn Error>` do), with the error type's name.
    Error(&'a dyn Error, &'static str),
    /// `Err` of a type that is no `std::error::Error`, e.g. a `warp::Rejection`.
    Opaque,
}

/// A returned value, wrapped so the expansion can classify it by its type: the expansion calls
/// `fmd_returned` on `&&&&Ret(&value)`, and method lookup picks the first of [`ReturnedError`],
/// [`ReturnedDeref`], [`ReturnedOther`] and [`ReturnedValue`] whose bounds the type meets.
///
/// ```
/// use fmd_core::trail::{Ret, Returned};
/// #[allow(unused_imports)]
/// use fmd_core::trail::{ReturnedDeref as _, ReturnedError as _, ReturnedOther as _, ReturnedValue as _};
///
/// let io: Result<(), std::io::Error> = Err(std::io::Error::other("disk"));
/// assert!(matches!((&&&&Ret(&io)).fmd_returned(), Returned::Error(e, _) if e.to_string() == "disk"));
/// let text: Result<(), String> = Err("no".into());
/// assert!(matches!((&&&&Ret(&text)).fmd_returned(), Returned::Opaque));
/// let fine: Result<u8, std::io::Error> = Ok(1);
/// assert!(matches!((&&&&Ret(&fine)).fmd_returned(), Returned::Value));
/// assert!(matches!((&&&&Ret(&7)).fmd_returned(), Returned::Value));
/// ```
#[derive(Debug)]
pub struct Ret<'a, T>(pub &'a T);

/// See [`Ret`]: `Result<T, E>` with `E: Error`.
#[doc(hidden)]
pub trait ReturnedError {
    /// The classification.
    fn fmd_returned(&self) -> Returned<'_>;
}

impl<T, E: Error> ReturnedError for &&&Ret<'_, Result<T, E>> {
    #[inline]
    fn fmd_returned(&self) -> Returned<'_> {
        match self.0 {
            Ok(_) => Returned::Value,
            Err(e) => Returned::Error(e, std::any::type_name::<E>()),
        }
    }
}

/// See [`Ret`]: `Result<T, E>` with `E` dereferencing to `dyn Error`.
#[doc(hidden)]
pub trait ReturnedDeref {
    /// The classification.
    fn fmd_returned(&self) -> Returned<'_>;
}

impl<T, E> ReturnedDeref for &&Ret<'_, Result<T, E>>
where
    E: Deref,
    E::Target: DynError,
{
    #[inline]
    fn fmd_returned(&self) -> Returned<'_> {
        match self.0 {
            Ok(_) => Returned::Value,
            Err(e) => Returned::Error((**e).as_dyn(), std::any::type_name::<E>()),
        }
    }
}

/// See [`Ret`]: any other `Result`.
#[doc(hidden)]
pub trait ReturnedOther {
    /// The classification.
    fn fmd_returned(&self) -> Returned<'_>;
}

impl<T, E> ReturnedOther for &Ret<'_, Result<T, E>> {
    #[inline]
    fn fmd_returned(&self) -> Returned<'_> {
        match self.0 {
            Ok(_) => Returned::Value,
            Err(_) => Returned::Opaque,
        }
    }
}

/// See [`Ret`]: anything that is no `Result`.
#[doc(hidden)]
pub trait ReturnedValue {
    /// The classification.
    fn fmd_returned(&self) -> Returned<'_>;
}

impl<T> ReturnedValue for Ret<'_, T> {
    #[inline]
    fn fmd_returned(&self) -> Returned<'_> {
        Returned::Value
    }
}

/// What a monitored or profiled future does with its output when it completes: the
/// expansion's closure that classifies and reports it, or nothing (`()`, for `span!` blocks and
/// futures whose output type the signature does not name).
pub trait Report<T> {
    /// Reports `output`.
    fn report(&self, output: &T);
}

impl<T> Report<T> for () {
    #[inline]
    fn report(&self, _: &T) {}
}

impl<T, R: Fn(&T)> Report<T> for R {
    #[inline]
    fn report(&self, output: &T) {
        self(output)
    }
}

/// An error on its way out of the request: the functions it was returned through, innermost
/// first, and the outermost `std::error::Error` it was returned as.
#[derive(Debug, Clone)]
pub struct Trail {
    type_name: &'static str,
    message: String,
    chain: Vec<String>,
    /// The innermost error's message, kept in case the outer errors dropped their source.
    origin: String,
    time: i64,
    functions: Vec<&'static EndpointMeta>,
    /// The depth of its last function, while the handler is between polls.
    depth: u32,
}

impl Trail {
    fn new(meta: &'static EndpointMeta, err: &dyn Error, type_name: &'static str) -> Self {
        let message = err.to_string();
        Trail {
            type_name,
            origin: message.clone(),
            message,
            chain: chain(err),
            time: crate::now_micros(),
            functions: vec![meta],
            depth: 0,
        }
    }

    /// Whether `meta`'s function returned it: the last one it was returned through.
    pub fn returned_by(&self, meta: &'static EndpointMeta) -> bool {
        self.functions
            .last()
            .is_some_and(|m| std::ptr::eq(*m, meta))
    }

    /// The exception it is: the outermost error with its source chain, the innermost error's
    /// message added to the chain when the outer ones no longer carry it, and `endpoint` as the
    /// outermost frame (where the error turned into a 5xx) when it is not the last already.
    pub fn into_exception(mut self, endpoint: &'static EndpointMeta) -> CapturedError {
        if self.origin != self.message && !self.chain.contains(&self.origin) {
            self.chain.push(std::mem::take(&mut self.origin));
        }
        if !self.returned_by(endpoint) {
            self.functions.push(endpoint);
        }
        CapturedError {
            origin: Origin::Returned,
            type_name: self.type_name.to_owned(),
            message: self.message,
            chain: self.chain,
            site: None,
            time: self.time,
            stack: Stack::Functions(self.functions.iter().map(|m| (*m, m.line)).collect()),
        }
    }
}

/// The call depth (low half: 1 in the handler, +1 in each profiled call) and the depth of the
/// pending trail's last function (high half; 0 when there is none), in one word: a profiled
/// call adds one to it and a value return compares its halves. No destructor, so each access
/// is a plain load or store.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Counters(u64);

impl Counters {
    const fn new(depth: u32, pending: u32) -> Self {
        Counters((pending as u64) << 32 | depth as u64)
    }
    fn depth(self) -> u32 {
        self.0 as u32
    }
    fn pending(self) -> u32 {
        (self.0 >> 32) as u32
    }
    /// A trail is pending from deeper than the current call: the call returned above it.
    fn returned_above_trail(self) -> bool {
        self.pending() > self.depth()
    }
}

thread_local! {
    static COUNTERS: Cell<Counters> = const { Cell::new(Counters::new(0, 0)) };
    /// A monitored handler at levels 1-3 installed the slot: errors are followed.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// The pending trail itself: touched only when an error is returned, handled, or the
    /// handler's poll begins or ends with one pending.
    static TRAIL: Cell<Option<Box<Trail>>> = const { Cell::new(None) };
}

/// What [`enter`] replaced, for [`leave`].
#[derive(Debug)]
pub struct Saved {
    counters: Counters,
    active: bool,
    trail: Option<Box<Trail>>,
}

/// Installs a request's slot on this thread for one poll (or call) of its handler, with the
/// trail it had pending. Returns what to give [`leave`] afterwards.
#[inline]
pub fn enter(trail: Option<Box<Trail>>) -> Saved {
    let pending = trail.as_ref().map_or(0, |t| t.depth);
    let counters = COUNTERS.replace(Counters::new(1, pending));
    let active = ACTIVE.replace(true);
    // Only a nested handler finds an outer trail to save.
    let trail = if trail.is_some() || counters.pending() > 0 {
        TRAIL.replace(trail)
    } else {
        None
    };
    Saved {
        counters,
        active,
        trail,
    }
}

/// Restores what [`enter`] replaced; returns the request's pending trail.
#[inline]
pub fn leave(saved: Saved) -> Option<Box<Trail>> {
    let now = COUNTERS.replace(saved.counters);
    ACTIVE.set(saved.active);
    if now.pending() == 0 && saved.trail.is_none() {
        return None;
    }
    let mut trail = TRAIL.replace(saved.trail);
    if let Some(t) = trail.as_mut() {
        // The next poll rebuilds the same nesting, so the depth stays meaningful.
        t.depth = now.pending();
    }
    trail
}

/// One level deeper for as long as it lives: a profiled call, or one poll of one.
#[derive(Debug)]
#[must_use = "the depth is restored when the guard is dropped"]
pub struct Deeper(());

impl Deeper {
    /// Goes one level deeper.
    #[inline]
    pub fn enter() -> Deeper {
        COUNTERS.set(Counters(COUNTERS.get().0 + 1));
        Deeper(())
    }

    /// Leaves the level after the function it was entered for returned a value (not an `Err`),
    /// handling a pending trail from below: one access instead of a report and a drop.
    #[inline]
    pub fn returned_value(self) {
        let mut c = COUNTERS.get();
        if c.returned_above_trail() {
            c = handled();
        }
        std::mem::forget(self);
        COUNTERS.set(Counters(c.0 - 1));
    }
}

impl Drop for Deeper {
    #[inline]
    fn drop(&mut self) {
        COUNTERS.set(Counters(COUNTERS.get().0 - 1));
    }
}

/// Called by a profiled function's expansion with what it returns.
#[inline]
pub fn function_returned(function: &'static Function, returned: Returned<'_>) {
    match returned {
        Returned::Value => {
            if COUNTERS.get().returned_above_trail() {
                handled();
            }
        }
        other => error_returned(&function.meta, other),
    }
}

/// A value returned above a pending trail: the error does not leave this function. Returns
/// the counters as they are now.
#[cold]
#[inline(never)]
fn handled() -> Counters {
    let c = Counters::new(COUNTERS.get().depth(), 0);
    COUNTERS.set(c);
    TRAIL.set(None);
    c
}

/// Called by a monitored function's expansion with what it returns.
#[inline]
pub fn endpoint_returned(endpoint: &'static Endpoint, returned: Returned<'_>) {
    if !matches!(returned, Returned::Value) {
        error_returned(&endpoint.meta, returned);
    }
}

#[cold]
#[inline(never)]
fn error_returned(meta: &'static EndpointMeta, returned: Returned<'_>) {
    if !ACTIVE.get() {
        return;
    }
    let c = COUNTERS.get();
    let mut trail = TRAIL.take().filter(|_| c.returned_above_trail());
    match (returned, trail.as_mut()) {
        (Returned::Error(err, type_name), Some(t)) => {
            t.functions.push(meta);
            t.type_name = type_name;
            t.message = err.to_string();
            t.chain = chain(err);
        }
        (Returned::Error(err, type_name), None) => {
            trail = Some(Box::new(Trail::new(meta, err, type_name)));
        }
        (Returned::Opaque, Some(t)) => t.functions.push(meta),
        // An `Err` fmd cannot describe, with no error behind it.
        (Returned::Opaque, None) | (Returned::Value, _) => {}
    }
    let pending = if trail.is_some() { c.depth() } else { 0 };
    COUNTERS.set(Counters::new(c.depth(), pending));
    TRAIL.set(trail);
}

/// The functions of the trail pending on this thread, innermost first (for tests).
#[doc(hidden)]
pub fn pending_functions() -> Vec<&'static str> {
    let trail = TRAIL.take();
    let names = trail
        .as_ref()
        .map(|t| t.functions.iter().map(|m| m.name).collect())
        .unwrap_or_default();
    TRAIL.set(trail);
    names
}
