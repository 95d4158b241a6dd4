//! A seeded, reproducible, non-cryptographic PRNG.
//!
//! Used for everything random that is not key material: CSMA-CA backoff, Trickle's `t`, jitter,
//! initial sequence numbers and datagram tags. One `u64` seed fixes the behaviour of a whole node:
//! a parent state machine hands each child a [`Rng::fork`] of its own generator.
//!
//! The generator is xoshiro256++ from `rand_xoshiro`, seeded through SplitMix64. It is **not**
//! suitable for nonces, challenges or keys; those take a caller-supplied
//! [`rand_core::CryptoRng`].

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Seeded PRNG (xoshiro256++). Cloning it clones the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    inner: Xoshiro256PlusPlus,
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng {
            inner: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    /// A child generator with its own independent stream, derived from (and advancing) this one.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.inner.next_u64())
    }

    /// Next 32 random bits.
    pub fn u32(&mut self) -> u32 {
        self.inner.next_u32()
    }

    /// Next 64 random bits.
    pub fn u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Next 16 random bits.
    pub fn u16(&mut self) -> u16 {
        (self.inner.next_u32() >> 16) as u16
    }

    /// Next random byte.
    pub fn u8(&mut self) -> u8 {
        (self.inner.next_u32() >> 24) as u8
    }

    /// Uniform in `0..n` without modulo bias (Lemire's multiply-and-reject); 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let x = self.inner.next_u64();
            let m = u128::from(x) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Uniform in `lo..hi` (half-open); `lo` when the range is empty.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo.saturating_add(self.below(hi.saturating_sub(lo)))
    }

    /// Uniform in `lo..=hi` (closed); `lo` when `hi < lo`.
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        if hi < lo {
            return lo;
        }
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.u64(),
        }
    }

    /// `true` with probability `p` (clamped to 0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        self.unit() < p
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        (self.inner.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Fills `dest` with random bytes.
    pub fn fill(&mut self, dest: &mut [u8]) {
        self.inner.fill_bytes(dest)
    }
}

/// Lets the PRNG serve APIs that take a generic [`RngCore`] (it deliberately does not implement
/// [`rand_core::CryptoRng`]).
impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.inner.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.inner.fill_bytes(dest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.u64(), b.u64());
        }
        assert_ne!(Rng::new(1).u64(), Rng::new(2).u64());
    }

    #[test]
    fn forks_differ_from_parent_and_each_other() {
        let mut p = Rng::new(7);
        let mut c1 = p.fork();
        let mut c2 = p.fork();
        assert_ne!(c1.u64(), c2.u64());
    }

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut r = Rng::new(3);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = r.below(7);
            assert!(v < 7);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(r.below(0), 0);
        assert_eq!(r.range(5, 5), 5);
        assert_eq!(r.range_inclusive(9, 3), 9);
        for _ in 0..100 {
            let v = r.range_inclusive(10, 12);
            assert!((10..=12).contains(&v));
        }
    }

    #[test]
    fn chance_extremes_and_mean() {
        let mut r = Rng::new(11);
        assert!(!r.chance(0.0));
        assert!(r.chance(1.0));
        let hits = (0..10_000).filter(|_| r.chance(0.3)).count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
    }
}
