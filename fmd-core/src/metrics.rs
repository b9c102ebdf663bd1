//! Counters per endpoint for the Prometheus exposition: requests by status code, a latency
//! histogram and exceptions, kept in the endpoint's static so that counting a request is a few
//! relaxed atomic adds and a scrape reads memory, never the database.
//!
//! Labels can only be endpoint names (fixed at compile time) and status codes: an endpoint keeps
//! [`CODE_SLOTS`] distinct codes, and counts any further ones as `other`, so the number of series
//! stays bounded whatever clients send.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

/// Upper bounds of the latency histogram's buckets, in microseconds: 1 ms to 10 s, the
/// Prometheus client libraries' defaults with 1 ms added for fast handlers.
pub const BUCKETS_US: [u64; 12] = [
    1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// Distinct status codes counted per endpoint; more are counted as `other`.
pub const CODE_SLOTS: usize = 16;

/// One endpoint's counters.
#[derive(Debug)]
pub struct EndpointMetrics {
    /// The code each slot counts; 0 while free. Claimed once, never changed.
    codes: [AtomicU16; CODE_SLOTS],
    counts: [AtomicU64; CODE_SLOTS],
    other: AtomicU64,
    /// Requests per bucket (not cumulative); the last is above every bound.
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
    exceptions: AtomicU64,
}

/// What a scrape reads of an endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Requests by status code, in the order the codes were first seen.
    pub codes: Vec<(u16, u64)>,
    /// Requests with a code beyond the first [`CODE_SLOTS`].
    pub other: u64,
    /// Cumulative counts per bucket of [`BUCKETS_US`], then the total (`+Inf`).
    pub cumulative: Vec<u64>,
    /// The requests' total duration in seconds.
    pub sum_seconds: f64,
    /// Exceptions recorded (panics, errors into a 5xx, `capture!`).
    pub exceptions: u64,
}

impl Default for EndpointMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl EndpointMetrics {
    /// All zero.
    pub const fn new() -> Self {
        EndpointMetrics {
            codes: [const { AtomicU16::new(0) }; CODE_SLOTS],
            counts: [const { AtomicU64::new(0) }; CODE_SLOTS],
            other: AtomicU64::new(0),
            buckets: [const { AtomicU64::new(0) }; BUCKETS_US.len() + 1],
            sum_us: AtomicU64::new(0),
            exceptions: AtomicU64::new(0),
        }
    }

    /// Counts one request.
    ///
    /// ```
    /// let m = fmd_core::metrics::EndpointMetrics::new();
    /// m.count(200, 3_000, 0);
    /// m.count(500, 40_000, 1);
    /// let s = m.snapshot();
    /// assert_eq!(s.codes, [(200, 1), (500, 1)]);
    /// assert_eq!((s.cumulative[0], s.cumulative[1], s.cumulative[4]), (0, 1, 2));
    /// assert_eq!(s.exceptions, 1);
    /// ```
    #[inline]
    pub fn count(&self, status: u16, duration_us: u64, exceptions: usize) {
        self.count_code(status);
        let bucket = BUCKETS_US.partition_point(|bound| *bound < duration_us);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(duration_us, Ordering::Relaxed);
        if exceptions > 0 {
            self.exceptions
                .fetch_add(exceptions as u64, Ordering::Relaxed);
        }
    }

    #[inline]
    fn count_code(&self, status: u16) {
        for (code, count) in self.codes.iter().zip(&self.counts) {
            let seen = code.load(Ordering::Relaxed);
            // Free: claim it; another thread may claim it first, for this code or another.
            let seen = match seen {
                0 => match code.compare_exchange(0, status, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => status,
                    Err(now) => now,
                },
                seen => seen,
            };
            if seen == status {
                count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.other.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now. Read without a lock: a request counted during the read may show in
    /// some counters and not yet in others, as with any Prometheus client.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let codes = self
            .codes
            .iter()
            .zip(&self.counts)
            .map(|(c, n)| (c.load(Ordering::Relaxed), n.load(Ordering::Relaxed)))
            .filter(|(c, n)| *c != 0 && *n > 0)
            .collect();
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                total += b.load(Ordering::Relaxed);
                total
            })
            .collect();
        MetricsSnapshot {
            codes,
            other: self.other.load(Ordering::Relaxed),
            cumulative,
            sum_seconds: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            exceptions: self.exceptions.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_durations_up_to_their_bound() {
        let m = EndpointMetrics::new();
        for us in [0, 1_000, 1_001, 10_000_000, 10_000_001] {
            m.count(200, us, 0);
        }
        let s = m.snapshot();
        assert_eq!(s.cumulative.len(), BUCKETS_US.len() + 1);
        assert_eq!(s.cumulative[0], 2, "0 and exactly 1 ms are within 1 ms");
        assert_eq!(s.cumulative[1], 3);
        assert_eq!(s.cumulative[BUCKETS_US.len() - 1], 4);
        assert_eq!(*s.cumulative.last().unwrap(), 5);
        assert!((s.sum_seconds - 20.002002).abs() < 1e-9);
    }

    #[test]
    fn codes_beyond_the_slots_are_other() {
        let m = EndpointMetrics::new();
        for code in 200..200 + CODE_SLOTS as u16 + 3 {
            m.count(code, 1, 0);
        }
        m.count(200, 1, 0);
        let s = m.snapshot();
        assert_eq!(s.codes.len(), CODE_SLOTS);
        assert_eq!(s.codes[0], (200, 2));
        assert_eq!(s.other, 3);
    }

    #[test]
    fn threads_count_every_request_once() {
        let m = std::sync::Arc::new(EndpointMetrics::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        m.count(if (i + t) % 2 == 0 { 200 } else { 404 }, 5, 0);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut codes = m.snapshot().codes;
        codes.sort();
        assert_eq!(codes, [(200, 20_000), (404, 20_000)]);
    }
}
