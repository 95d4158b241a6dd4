//! A seeded stand-in for the caller-supplied CSPRNG, so protocol runs in tests are repeatable.

use amimesh_core::Rng;
use amimesh_core::rand_core::{CryptoRng, Error, RngCore};

/// `amimesh_core::Rng` (a seeded, non-cryptographic PRNG) behind the
/// `rand_core::{RngCore, CryptoRng}` traits that the protocol crates take crypto randomness
/// from. For tests, fuzz seeds and benches only: the output is predictable by design.
#[derive(Debug, Clone)]
pub struct TestCsprng(pub Rng);

impl TestCsprng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        TestCsprng(Rng::new(seed))
    }
}

impl RngCore for TestCsprng {
    fn next_u32(&mut self) -> u32 {
        self.0.u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.0.fill(dest);
        Ok(())
    }
}

impl CryptoRng for TestCsprng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes() {
        let (mut a, mut b) = (TestCsprng::new(5), TestCsprng::new(5));
        let (mut x, mut y) = ([0u8; 33], [0u8; 33]);
        a.fill_bytes(&mut x);
        b.fill_bytes(&mut y);
        assert_eq!(x, y);
        assert_ne!(x, [0u8; 33]);
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(TestCsprng::new(6).next_u64(), TestCsprng::new(5).next_u64());
    }
}
