use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, UTC.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Converts monotonic instants to wall-clock time from one reading of both clocks, so a request
/// costs one clock read at its start instead of two. Wall-clock adjustments after start-up are
/// not followed; the difference is bounded by the drift of the monotonic clock.
pub struct Clock;

static BASE: OnceLock<(Instant, i64)> = OnceLock::new();

/// A coarse "now" in seconds, advanced by the writer thread; level-0 endpoints read it instead of
/// the clock to stay within a few nanoseconds.
static COARSE_SECS: AtomicI64 = AtomicI64::new(0);

impl Clock {
    fn base() -> &'static (Instant, i64) {
        BASE.get_or_init(|| (Instant::now(), now_micros()))
    }

    /// The wall-clock time of `instant`, in microseconds since the Unix epoch.
    pub fn micros_at(instant: Instant) -> i64 {
        let (base_instant, base_micros) = *Self::base();
        match instant.checked_duration_since(base_instant) {
            Some(after) => base_micros + after.as_micros() as i64,
            None => base_micros - base_instant.duration_since(instant).as_micros() as i64,
        }
    }

    /// Advances the coarse clock; called periodically by the writer.
    pub(crate) fn tick() {
        COARSE_SECS.store(now_micros() / 1_000_000, Ordering::Relaxed);
    }

    /// The coarse clock in seconds since the epoch (0 before the first tick).
    pub fn coarse_secs() -> i64 {
        COARSE_SECS.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_at_tracks_wall_clock() {
        let wall = now_micros();
        let derived = Clock::micros_at(Instant::now());
        assert!((derived - wall).abs() < 1_000_000, "{derived} vs {wall}");
    }
}
