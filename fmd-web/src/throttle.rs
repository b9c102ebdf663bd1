//! The login throttle: failed logins counted per address and per (address, username), with a
//! lockout that doubles with every failure past the limit.
//!
//! An attempt is counted when it starts, before the password hash is checked, so attempts sent
//! in parallel cannot all slip past the limit while the (deliberately slow) checks run. A
//! successful login clears the count of its own (address, username) pair only: another
//! account's success, such as the guest's, resets nothing an attacker guesses at.
//!
//! Counts are kept in memory, per instance. Behind a proxy every client has the proxy's
//! address unless `trusted_proxy_header` is set; the per-pair limit then still keeps one
//! client's failures from locking out users it did not guess at, but the per-address limit
//! counts all of them together (docs/security.md).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures per (address, username) before that pair is locked.
pub(crate) const PAIR_LIMIT: u32 = 5;
/// Failures per address, over all usernames, before the address is locked.
pub(crate) const ADDRESS_LIMIT: u32 = 30;
/// The first lockout; each further failure doubles it.
pub(crate) const FIRST_LOCK: Duration = Duration::from_secs(30);
/// The longest lockout.
pub(crate) const LONGEST_LOCK: Duration = Duration::from_secs(3600);
/// Failures are forgotten after this long without one.
const FORGET: Duration = Duration::from_secs(24 * 3600);
/// Keys tracked at most; quiet ones are forgotten first.
const MAX_TRACKED: usize = 20_000;
/// Usernames are cut to this length in keys, so guesses at long names take no more memory.
const MAX_NAME: usize = 255;

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(Option<IpAddr>),
    Pair(Option<IpAddr>, String),
}

impl Key {
    fn limit(&self) -> u32 {
        match self {
            Key::Address(_) => ADDRESS_LIMIT,
            Key::Pair(..) => PAIR_LIMIT,
        }
    }
}

#[derive(Default)]
struct Count {
    failures: u32,
    /// Attempts whose password is being checked.
    checking: u32,
    locked_until: Option<Instant>,
    last_failure: Option<Instant>,
}

impl Count {
    /// How long `key` must wait before another attempt, if it must.
    fn wait(&self, limit: u32, now: Instant) -> Option<Duration> {
        if let Some(until) = self.locked_until.filter(|u| *u > now) {
            return Some(until - now);
        }
        // Below the limit, as many checks at once as failures are left; past it (after a
        // lockout ended), one at a time.
        let room = limit.saturating_sub(self.failures).max(1);
        (self.checking >= room).then_some(Duration::from_secs(1))
    }

    fn quiet(&self, now: Instant) -> bool {
        self.checking == 0
            && self.locked_until.is_none_or(|u| u <= now)
            && self
                .last_failure
                .is_none_or(|t| now.duration_since(t) >= FORGET)
    }
}

/// The lockout after `failures` failures of a key whose limit is `limit`.
pub(crate) fn lockout(failures: u32, limit: u32) -> Option<Duration> {
    let past = failures.checked_sub(limit)?;
    Some(
        FIRST_LOCK
            .saturating_mul(1u32.checked_shl(past.min(31)).unwrap_or(u32::MAX))
            .min(LONGEST_LOCK),
    )
}

/// Makes room when [`MAX_TRACKED`] keys are counted (a guesser rotating addresses): first the
/// quiet keys go, then those below their lockout, and as a last resort every key not being
/// checked, so memory stays bounded whatever the guesser does.
fn forget_some(counts: &mut HashMap<Key, Count>, now: Instant) {
    counts.retain(|_, c| !c.quiet(now));
    if counts.len() >= MAX_TRACKED / 2 {
        counts.retain(|_, c| c.checking > 0 || c.locked_until.is_some_and(|u| u > now));
    }
    if counts.len() >= MAX_TRACKED / 2 {
        counts.retain(|_, c| c.checking > 0);
    }
}

/// Failed logins per address and per (address, username).
#[derive(Default)]
pub(crate) struct Throttle {
    counts: Mutex<HashMap<Key, Count>>,
}

/// A login attempt being checked: say how it ended with [`Attempt::failed`] or
/// [`Attempt::succeeded`]; dropped without either (the client went away), it counts as neither.
pub(crate) struct Attempt<'a> {
    throttle: &'a Throttle,
    keys: [Key; 2],
    ended: bool,
}

impl Throttle {
    /// Counts an attempt from `ip` at `username` before its password is checked, or says how
    /// long to wait first.
    pub(crate) fn begin(
        &self,
        ip: Option<IpAddr>,
        username: &str,
    ) -> Result<Attempt<'_>, Duration> {
        let name: String = username.chars().take(MAX_NAME).collect();
        let keys = [Key::Address(ip), Key::Pair(ip, name)];
        let now = Instant::now();
        let mut counts = self.counts.lock();
        let wait = keys
            .iter()
            .filter_map(|k| counts.get(k)?.wait(k.limit(), now))
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        if counts.len() + 2 > MAX_TRACKED {
            forget_some(&mut counts, now);
        }
        for key in &keys {
            counts.entry(key.clone()).or_default().checking += 1;
        }
        Ok(Attempt {
            throttle: self,
            keys,
            ended: false,
        })
    }

    fn end(&self, keys: &[Key; 2], failed: bool, cleared: Option<&Key>) {
        let now = Instant::now();
        let mut counts = self.counts.lock();
        for key in keys {
            let Some(count) = counts.get_mut(key) else {
                continue;
            };
            count.checking = count.checking.saturating_sub(1);
            if failed {
                if count
                    .last_failure
                    .is_some_and(|t| now.duration_since(t) >= FORGET)
                {
                    count.failures = 0;
                }
                count.failures += 1;
                count.last_failure = Some(now);
                count.locked_until = lockout(count.failures, key.limit()).map(|d| now + d);
            }
        }
        if let Some(key) = cleared {
            if counts.get(key).is_some_and(|c| c.checking == 0) {
                counts.remove(key);
            }
        }
    }
}

impl Attempt<'_> {
    /// The password was wrong: counts a failure for the address and the pair.
    pub(crate) fn failed(mut self) {
        self.ended = true;
        self.throttle.end(&self.keys, true, None);
    }

    /// The login succeeded: clears the pair's failures, not the address's.
    pub(crate) fn succeeded(mut self) {
        self.ended = true;
        self.throttle.end(&self.keys, false, Some(&self.keys[1]));
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.throttle.end(&self.keys, false, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn parallel_attempts_are_counted_before_they_are_checked() {
        let t = Throttle::default();
        let started: Vec<_> = (0..30)
            .filter_map(|_| t.begin(ip(1), "admin").ok())
            .collect();
        assert_eq!(started.len(), PAIR_LIMIT as usize);
        for a in started {
            a.failed();
        }
        let wait = t.begin(ip(1), "admin").err().expect("locked");
        assert!(wait > FIRST_LOCK - Duration::from_secs(1) && wait <= FIRST_LOCK);
    }

    #[test]
    fn another_accounts_success_resets_nothing() {
        let t = Throttle::default();
        for _ in 0..PAIR_LIMIT - 1 {
            t.begin(ip(1), "admin").unwrap().failed();
        }
        t.begin(ip(1), "guest").unwrap().succeeded();
        t.begin(ip(1), "admin").unwrap().failed();
        assert!(
            t.begin(ip(1), "admin").is_err(),
            "the guest's login reset admin's count"
        );
        assert!(
            t.begin(ip(2), "admin").is_ok(),
            "other addresses are not locked"
        );
        assert!(
            t.begin(ip(1), "bob").is_ok(),
            "the address is below its own limit"
        );
    }

    #[test]
    fn a_success_clears_its_own_pair() {
        let t = Throttle::default();
        for _ in 0..PAIR_LIMIT - 1 {
            t.begin(ip(1), "admin").unwrap().failed();
        }
        t.begin(ip(1), "admin").unwrap().succeeded();
        for _ in 0..PAIR_LIMIT - 1 {
            t.begin(ip(1), "admin").unwrap().failed();
        }
        assert!(t.begin(ip(1), "admin").is_ok());
    }

    #[test]
    fn guessing_across_usernames_locks_the_address() {
        let t = Throttle::default();
        for n in 0..ADDRESS_LIMIT {
            t.begin(ip(3), &format!("user{n}")).unwrap().failed();
        }
        assert!(t.begin(ip(3), "someone-else").is_err());
        assert!(t.begin(ip(4), "someone-else").is_ok());
    }

    #[test]
    fn an_abandoned_attempt_frees_its_place_without_counting() {
        let t = Throttle::default();
        for _ in 0..PAIR_LIMIT {
            drop(t.begin(ip(1), "admin").unwrap());
        }
        assert!(t.begin(ip(1), "admin").is_ok());
    }

    #[test]
    fn memory_stays_bounded_when_addresses_rotate() {
        let t = Throttle::default();
        for n in 0..(MAX_TRACKED as u32) {
            let ip = Some(IpAddr::from(std::net::Ipv6Addr::from(u128::from(n))));
            for _ in 0..PAIR_LIMIT {
                if let Ok(a) = t.begin(ip, "admin") {
                    a.failed();
                }
            }
        }
        let tracked = t.counts.lock().len();
        assert!(tracked <= MAX_TRACKED, "{tracked} keys");
    }

    #[test]
    fn lockouts_double_up_to_an_hour() {
        assert_eq!(lockout(PAIR_LIMIT - 1, PAIR_LIMIT), None);
        assert_eq!(lockout(PAIR_LIMIT, PAIR_LIMIT), Some(FIRST_LOCK));
        assert_eq!(lockout(PAIR_LIMIT + 1, PAIR_LIMIT), Some(FIRST_LOCK * 2));
        assert_eq!(lockout(PAIR_LIMIT + 3, PAIR_LIMIT), Some(FIRST_LOCK * 8));
        assert_eq!(lockout(PAIR_LIMIT + 40, PAIR_LIMIT), Some(LONGEST_LOCK));
    }
}
