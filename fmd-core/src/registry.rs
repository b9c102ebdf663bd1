//! Endpoints registered at compile time.
//!
//! `#[fmd::monitored]` places a `static` [`Endpoint`] inside the annotated function and submits
//! a reference to it with `inventory`, so every endpoint of the binary is known at start-up,
//! including those never requested yet.

use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};

/// The level of an endpoint for which no dashboard is running: nothing is measured.
pub const LEVEL_INACTIVE: u8 = u8::MAX;

/// What the macro knows about an endpoint at compile time.
#[derive(Debug)]
pub struct EndpointMeta {
    /// The endpoint's name: the function name or `#[monitored(name = "...")]`.
    pub name: &'static str,
    /// `module_path!()` at the function.
    pub module_path: &'static str,
    /// The function's name as written (for methods, without the type).
    pub function: &'static str,
    /// `file!()` at the function: relative to the workspace root when built by cargo.
    pub file: &'static str,
    /// The first line of the captured source (attributes and doc comments included).
    pub line: u32,
    /// The function's source text as written, captured at compile time.
    pub source: &'static str,
    /// Lower-case hex sha256 of `source`.
    pub source_sha256: &'static str,
}

/// A monitored endpoint: its compile-time description plus the state the request path reads.
#[derive(Debug)]
pub struct Endpoint {
    /// The compile-time description.
    pub meta: EndpointMeta,
    level: AtomicU8,
    last_requested: AtomicI64,
}

impl Endpoint {
    /// Creates the static an annotated function owns; used by the macro expansion.
    pub const fn new(meta: EndpointMeta) -> Self {
        Endpoint {
            meta,
            level: AtomicU8::new(LEVEL_INACTIVE),
            last_requested: AtomicI64::new(0),
        }
    }

    /// The handler's path, `module::function`.
    pub fn path(&self) -> String {
        format!("{}::{}", self.meta.module_path, self.meta.function)
    }

    /// The current monitoring level (0-3), or [`LEVEL_INACTIVE`] when no dashboard runs.
    #[inline]
    pub fn level(&self) -> u8 {
        self.level.load(Ordering::Relaxed)
    }

    /// Sets the monitoring level; the next request reads it.
    pub fn set_level(&self, level: u8) {
        self.level.store(level, Ordering::Relaxed);
    }

    /// Marks the endpoint as requested at `secs` (seconds since the epoch).
    #[inline]
    pub fn touch(&self, secs: i64) {
        // Within the same second this is one load. Racing requests may store a second older by
        // one than the newest; fetch_max would make every call a read-modify-write instead.
        if secs > self.last_requested.load(Ordering::Relaxed) {
            self.last_requested.store(secs, Ordering::Relaxed);
        }
    }

    /// When the endpoint was last requested in this process, in seconds since the epoch (0: never).
    pub fn last_requested(&self) -> i64 {
        self.last_requested.load(Ordering::Relaxed)
    }
}

/// The item `inventory` collects: a reference to an annotated function's static.
#[derive(Debug, Clone, Copy)]
pub struct EndpointRef(pub &'static Endpoint);

inventory::collect!(EndpointRef);

/// Every endpoint registered in this binary, in no particular order.
pub fn endpoints() -> impl Iterator<Item = &'static Endpoint> {
    inventory::iter::<EndpointRef>.into_iter().map(|r| r.0)
}

/// Finds two registered endpoints that share a name, which the database could not tell apart.
pub fn duplicate_names() -> Option<(&'static Endpoint, &'static Endpoint)> {
    let mut all: Vec<&'static Endpoint> = endpoints().collect();
    all.sort_by_key(|e| e.meta.name);
    all.windows(2)
        .find(|w| w[0].meta.name == w[1].meta.name && !std::ptr::eq(w[0], w[1]))
        .map(|w| (w[0], w[1]))
}
