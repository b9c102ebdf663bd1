//! Endpoints registered at compile time.
//!
//! `#[fmd::monitored]` places a `static` [`Endpoint`] inside the annotated function and submits
//! a reference to it with `inventory`, so every endpoint of the binary is known at start-up,
//! including those never requested yet.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};

/// The level of an endpoint for which no dashboard is running: nothing is measured.
pub const LEVEL_INACTIVE: u8 = u8::MAX;

/// What the macro knows about an annotated function (an endpoint, or a profiled function) at
/// compile time.
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

impl EndpointMeta {
    /// `module::function`.
    pub fn path(&self) -> String {
        format!("{}::{}", self.module_path, self.function)
    }

    /// The name a function is shown by: its custom name (`name = "..."`), or
    /// `module::function`.
    pub fn display_name(&self) -> String {
        if self.name == self.function {
            self.path()
        } else {
            self.name.to_owned()
        }
    }
}

/// A monitored endpoint: its compile-time description plus the state the request path reads.
#[derive(Debug)]
pub struct Endpoint {
    /// The compile-time description.
    pub meta: EndpointMeta,
    level: AtomicU8,
    last_requested: AtomicI64,
    /// Requests counted into the running mean, and their total duration: written by the writer
    /// (off the request path), read by the outlier watchdog.
    samples: AtomicU64,
    total_us: AtomicU64,
    /// What the Prometheus exposition reads: counted with each record.
    metrics: crate::metrics::EndpointMetrics,
}

/// Whether any endpoint is at level 2 or 3: the web layer then keeps each request's URL and
/// headers, which an outlier stores.
static ANY_DETAILED: AtomicBool = AtomicBool::new(false);

/// The thread to wake when an endpoint becomes detailed: the outlier watchdog, which sleeps
/// longer while none is.
static WATCHER: std::sync::OnceLock<std::thread::Thread> = std::sync::OnceLock::new();

/// Makes `thread` the one woken when an endpoint's level is set to 2 or 3 (once per process).
pub fn wake_when_detailed(thread: std::thread::Thread) {
    let _ = WATCHER.set(thread);
}

/// Whether some endpoint records outliers or profiles (level 2 or 3).
#[inline]
pub fn any_detailed() -> bool {
    ANY_DETAILED.load(Ordering::Relaxed)
}

impl Endpoint {
    /// Creates the static an annotated function owns; used by the macro expansion.
    pub const fn new(meta: EndpointMeta) -> Self {
        Endpoint {
            meta,
            level: AtomicU8::new(LEVEL_INACTIVE),
            last_requested: AtomicI64::new(0),
            samples: AtomicU64::new(0),
            total_us: AtomicU64::new(0),
            metrics: crate::metrics::EndpointMetrics::new(),
        }
    }

    /// The endpoint's request, latency and exception counters since the process started.
    pub fn metrics(&self) -> &crate::metrics::EndpointMetrics {
        &self.metrics
    }

    /// The handler's path, `module::function`.
    pub fn path(&self) -> String {
        self.meta.path()
    }

    /// The current monitoring level (0-3), or [`LEVEL_INACTIVE`] when no dashboard runs.
    #[inline]
    pub fn level(&self) -> u8 {
        self.level.load(Ordering::Relaxed)
    }

    /// Sets the monitoring level; the next request reads it.
    pub fn set_level(&self, level: u8) {
        self.level.store(level, Ordering::Relaxed);
        let detailed =
            (2..=3).contains(&level) || endpoints().any(|e| (2..=3).contains(&e.level()));
        ANY_DETAILED.store(detailed, Ordering::Relaxed);
        if detailed {
            if let Some(watcher) = WATCHER.get() {
                watcher.unpark();
            }
        }
    }

    /// Sets the running mean's starting point: `samples` requests taking `total_us` in all
    /// (from the database, at start-up).
    pub fn seed_mean(&self, samples: u64, total_us: u64) {
        self.samples.store(samples, Ordering::Relaxed);
        self.total_us.store(total_us, Ordering::Relaxed);
    }

    /// Adds one request's duration to the running mean.
    pub(crate) fn observe(&self, duration_us: u64) {
        self.samples.fetch_add(1, Ordering::Relaxed);
        self.total_us.fetch_add(duration_us, Ordering::Relaxed);
    }

    /// The running mean: requests counted and their mean duration in microseconds.
    pub fn mean(&self) -> (u64, f64) {
        let n = self.samples.load(Ordering::Relaxed);
        let total = self.total_us.load(Ordering::Relaxed);
        (n, if n == 0 { 0.0 } else { total as f64 / n as f64 })
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

/// A `#[profiled]` function, or an `fmd::span!` block: what a span of the profiler names.
#[derive(Debug)]
pub struct Function {
    /// The compile-time description (`name` is the function's or the block's name).
    pub meta: EndpointMeta,
}

impl Function {
    /// Used by the macros' expansion.
    pub const fn new(meta: EndpointMeta) -> Self {
        Function { meta }
    }
}

/// What `#[profiled]` submits to `inventory`.
#[derive(Debug, Clone, Copy)]
pub struct FunctionRef(pub &'static Function);

inventory::collect!(FunctionRef);

/// Every `#[profiled]` function and `span!` block in the binary.
pub fn functions() -> impl Iterator<Item = &'static Function> {
    inventory::iter::<FunctionRef>.into_iter().map(|r| r.0)
}
