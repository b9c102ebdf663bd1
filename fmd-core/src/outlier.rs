//! Outlier detection (levels 2 and 3): the threshold rule, what is kept of an outlier (where it
//! was stuck, the machine's figures, its scrubbed URL and headers). The
//! [watchdog](crate::watchdog) notices requests running past the threshold.
//!
//! A request is an outlier when it runs longer than its endpoint's mean duration times
//! `outlier_detection_constant`. The mean is a running one per endpoint: seeded from the
//! database at start-up and updated by the writer with every recorded request, off the request
//! path. An endpoint with fewer than `outlier_min_samples` requests has no threshold yet, so its
//! first requests are never judged against a mean of almost nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::registry::{Endpoint, Function};

/// Headers whose values are never stored, whatever `scrub_headers` says.
pub const ALWAYS_SCRUBBED: [&str; 4] = [
    "authorization",
    "cookie",
    "set-cookie",
    "proxy-authorization",
];

/// The default `scrub_headers`: a header whose name contains one of these is scrubbed.
pub const DEFAULT_SCRUB_HEADERS: [&str; 7] = [
    "token", "secret", "key", "password", "auth", "cookie", "session",
];

/// The default `scrub_query_params`: query parameters whose values are never stored.
pub const DEFAULT_SCRUB_QUERY_PARAMS: [&str; 16] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "api_key",
    "apikey",
    "key",
    "auth",
    "session",
    "signature",
    "sig",
    "code",
    "client_secret",
];

/// What replaces a scrubbed header's value.
pub const SCRUBBED: &str = "[scrubbed]";

static CONSTANT_BITS: AtomicU64 = AtomicU64::new(0x4004_0000_0000_0000); // 2.5
static MIN_SAMPLES: AtomicU64 = AtomicU64::new(10);
/// What is scrubbed: parts of header names, and query parameter names, in lower case.
struct Scrub {
    headers: Vec<String>,
    query_params: Vec<String>,
}

static SCRUB: RwLock<Option<Scrub>> = RwLock::new(None);

/// Sets the rule's constant and the samples an endpoint needs before it is judged.
pub fn configure(constant: f64, min_samples: u32) {
    CONSTANT_BITS.store(constant.to_bits(), Ordering::Relaxed);
    MIN_SAMPLES.store(u64::from(min_samples.max(1)), Ordering::Relaxed);
}

/// Sets what [`scrub`] and [`scrub_url`] hide: headers whose lower-case name contains one of
/// `headers` (besides [`ALWAYS_SCRUBBED`]), and query parameters named one of `query_params`
/// (in any case). Until it is called, the defaults apply.
pub fn configure_scrubbing(headers: &[String], query_params: &[String]) {
    let lower = |v: &[String]| {
        v.iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect()
    };
    *SCRUB.write() = Some(Scrub {
        headers: lower(headers),
        query_params: lower(query_params),
    });
}

fn with_scrub<T>(f: impl FnOnce(&Scrub) -> T) -> T {
    let configured = SCRUB.read();
    match &*configured {
        Some(scrub) => f(scrub),
        None => f(&Scrub {
            headers: DEFAULT_SCRUB_HEADERS.map(String::from).to_vec(),
            query_params: DEFAULT_SCRUB_QUERY_PARAMS.map(String::from).to_vec(),
        }),
    }
}

/// The duration in microseconds beyond which a request of `endpoint` is an outlier now, or 0
/// while the endpoint has fewer requests than `outlier_min_samples`.
///
/// ```
/// use fmd_core::{Endpoint, EndpointMeta};
/// static E: Endpoint = Endpoint::new(EndpointMeta {
///     name: "e", module_path: "m", function: "e", file: "f.rs", line: 1, source: "", source_sha256: "",
/// });
/// fmd_core::outlier::configure(2.5, 10);
/// E.seed_mean(9, 9_000);
/// assert_eq!(fmd_core::outlier::threshold_us(&E), 0); // too few requests to judge
/// E.seed_mean(10, 10_000);
/// assert_eq!(fmd_core::outlier::threshold_us(&E), 2_500);
/// ```
pub fn threshold_us(endpoint: &Endpoint) -> u64 {
    let (samples, mean) = endpoint.mean();
    if samples < MIN_SAMPLES.load(Ordering::Relaxed) {
        return 0;
    }
    let constant = f64::from_bits(CONSTANT_BITS.load(Ordering::Relaxed));
    ((mean * constant).ceil() as u64).max(1)
}

/// The headers as stored with an outlier: names lower-cased, sensitive values replaced.
///
/// ```
/// let headers = vec![
///     ("Authorization".to_string(), "Bearer x".to_string()),
///     ("X-Api-Key".to_string(), "k".to_string()),
///     ("Accept".to_string(), "text/html".to_string()),
/// ];
/// let stored = fmd_core::outlier::scrub(headers);
/// assert_eq!(stored[0], ("authorization".to_string(), "[scrubbed]".to_string()));
/// assert_eq!(stored[1].1, "[scrubbed]"); // its name contains "key"
/// assert_eq!(stored[2].1, "text/html");
/// ```
pub fn scrub(headers: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    with_scrub(|scrub| {
        headers
            .into_iter()
            .map(|(name, value)| {
                let name = name.to_ascii_lowercase();
                let hidden = ALWAYS_SCRUBBED.contains(&name.as_str())
                    || scrub
                        .headers
                        .iter()
                        .any(|part| name.contains(part.as_str()));
                let value = if hidden { SCRUBBED.to_owned() } else { value };
                (name, value)
            })
            .collect()
    })
}

/// A URL as stored with an outlier: the values of sensitive query parameters replaced by
/// `[scrubbed]`, everything else as it came (names matched after percent-decoding, in any
/// case).
///
/// ```
/// let stored = fmd_core::outlier::scrub_url("/search?q=shoes&api_key=abc123&Password=x&page=2");
/// assert_eq!(stored, "/search?q=shoes&api_key=[scrubbed]&Password=[scrubbed]&page=2");
/// ```
pub fn scrub_url(url: &str) -> String {
    let Some((path, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    with_scrub(|scrub| {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| {
                let (raw_name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let name = percent_decoded_lower(raw_name);
                if scrub.query_params.contains(&name) && !value.is_empty() {
                    format!("{raw_name}={SCRUBBED}")
                } else {
                    pair.to_owned()
                }
            })
            .collect();
        format!("{path}?{}", pairs.join("&"))
    })
}

/// A query parameter's name as it is meant: `+` a space, `%XX` decoded, in lower case, so
/// `API%5Fkey` cannot slip past `api_key`.
fn percent_decoded_lower(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

#[cfg(test)]
mod scrub_tests {
    use super::*;

    #[test]
    fn query_names_are_matched_decoded_and_in_any_case() {
        assert_eq!(percent_decoded_lower("API%5Fkey"), "api_key");
        assert_eq!(percent_decoded_lower("a+b%2"), "a b%2");
        assert_eq!(
            scrub_url("/p?API%5Fkey=1&token&x=%41&sig=&code=9"),
            "/p?API%5Fkey=[scrubbed]&token&x=%41&sig=&code=[scrubbed]"
        );
        assert_eq!(scrub_url("/no/query"), "/no/query");
    }
}

/// The machine's state when an outlier was caught.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemFigures {
    /// Busy percentage of each CPU core over the last sample.
    pub cpu_percent: Vec<f32>,
    /// The process's resident memory in bytes.
    pub memory_bytes: u64,
    /// Memory in use on the machine, in bytes.
    pub system_memory_bytes: u64,
}

/// Where an outlier was when the watchdog found it past its threshold.
#[derive(Debug, Clone, Default)]
pub struct Stuck {
    /// How long the request had run, in microseconds.
    pub after_us: u64,
    /// The spans open at that moment, outermost first.
    pub frames: Vec<StuckFrame>,
    /// The machine's figures at that moment.
    pub figures: SystemFigures,
}

/// One open span in a stuck snapshot.
#[derive(Debug, Clone)]
pub struct StuckFrame {
    /// The function running.
    pub function: &'static Function,
    /// Its depth in the span tree (0 at the top level).
    pub depth: u32,
    /// How long it had been running, in microseconds.
    pub running_us: u64,
}

struct Sampler {
    /// `None` where the platform offers no figures: outliers then store none.
    system: Option<sysinfo::System>,
    pid: Option<sysinfo::Pid>,
    cpu_sampled: Instant,
}

static SAMPLER: Mutex<Option<Sampler>> = Mutex::new(None);

fn with_sampler<T>(f: impl FnOnce(&mut Sampler) -> T) -> T {
    let mut slot = SAMPLER.lock();
    let sampler = slot.get_or_insert_with(|| {
        let mut system = sysinfo::System::new().ok();
        if let Some(system) = &mut system {
            system.refresh_cpu_usage();
        }
        Sampler {
            system,
            pid: sysinfo::get_current_pid().ok(),
            cpu_sampled: Instant::now(),
        }
    });
    f(sampler)
}

fn sample_cpu(sampler: &mut Sampler) {
    // Usage is the difference between two refreshes; closer ones than this measure noise.
    if sampler.cpu_sampled.elapsed() >= sysinfo::MINIMUM_CPU_UPDATE_INTERVAL {
        if let Some(system) = &mut sampler.system {
            system.refresh_cpu_usage();
        }
        sampler.cpu_sampled = Instant::now();
    }
}

/// The machine's figures now. Not for the request path: it reads `/proc` (or the platform's
/// equivalent) through `sysinfo`.
pub fn system_figures() -> SystemFigures {
    with_sampler(|s| {
        sample_cpu(s);
        let pid = s.pid;
        let Some(system) = &mut s.system else {
            return SystemFigures::default();
        };
        system.refresh_memory_specifics(sysinfo::MemoryRefreshKind::nothing().with_ram());
        let memory_bytes = pid.map_or(0, |pid| {
            system.refresh_processes_specifics(
                sysinfo::ProcessesToUpdate::Some(&[pid]),
                true,
                sysinfo::ProcessRefreshKind::nothing().with_memory(),
            );
            system.process(pid).map_or(0, |p| p.memory())
        });
        SystemFigures {
            cpu_percent: system.cpus().iter().map(|c| c.usage()).collect(),
            memory_bytes,
            system_memory_bytes: system.used_memory(),
        }
    })
}

/// Samples CPU usage now, so the next figures show the load since this moment.
pub(crate) fn sample_cpu_now() {
    with_sampler(sample_cpu);
}
