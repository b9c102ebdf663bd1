//! A hasher for maps keyed by integers fmd makes itself (task ids, endpoint ids, hours): a
//! multiplicative hash spreads such keys well, at a fraction of SipHash's cost. Not for keys an
//! attacker chooses: SipHash is std's default because it resists collision floods.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The hasher: one rotate, xor and multiply per integer written.
///
/// ```
/// use std::hash::{BuildHasher, BuildHasherDefault};
/// let build = BuildHasherDefault::<fmd_core::hash::IntHasher>::default();
/// assert_ne!(build.hash_one((1_i64, 2_i64)), build.hash_one((2_i64, 1_i64)));
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`IntHasher`].
///
/// ```
/// let mut hits = fmd_core::hash::IntMap::<(i64, i64), u64>::default();
/// *hits.entry((3, 1_700_000_000)).or_default() += 1;
/// assert_eq!(hits[&(3, 1_700_000_000)], 1);
/// ```
pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn nearby_keys_spread_over_the_high_bits() {
        // The context registry picks its shard from the top 5 bits.
        let build = BuildHasherDefault::<IntHasher>::default();
        let shards: std::collections::HashSet<u64> =
            (0..64_u64).map(|id| build.hash_one(id) >> 59).collect();
        assert!(shards.len() >= 24, "{} of 32 shards used", shards.len());
    }
}
