//! Unslotted CSMA-CA (802.15.4-2020 §6.2.5.1).
//!
//! For each frame: `NB = 0`, `BE = macMinBE`. Before every CCA the MAC waits a random number of
//! unit backoff periods in `0..=2^BE − 1`. When CCA finds the channel busy, `NB += 1` and
//! `BE = min(BE + 1, macMaxBE)`; once `NB > macMaxCSMABackoffs` the attempt ends with a channel
//! access failure. The random numbers come from the node's seeded [`Rng`].

use amimesh_core::{Duration, Rng};

/// CSMA-CA parameters (802.15.4-2020 §8.4.3.1 Table 8-94 defaults).
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsmaParams {
    /// `macMinBE`, 0–`macMaxBE` (default 3).
    pub min_be: u8,
    /// `macMaxBE`, 3–8 (default 5).
    pub max_be: u8,
    /// `macMaxCSMABackoffs`, 0–5 (default 4).
    pub max_csma_backoffs: u8,
}

impl Default for CsmaParams {
    fn default() -> Self {
        CsmaParams {
            min_be: 3,
            max_be: 5,
            max_csma_backoffs: 4,
        }
    }
}

impl CsmaParams {
    /// The parameters clamped into their ranges (`macMaxBE` ≤ 8, `macMinBE` ≤ `macMaxBE`,
    /// `macMaxCSMABackoffs` ≤ 5).
    pub fn clamped(self) -> Self {
        let max_be = self.max_be.min(8);
        CsmaParams {
            min_be: self.min_be.min(max_be),
            max_be,
            max_csma_backoffs: self.max_csma_backoffs.min(5),
        }
    }
}

/// The CSMA-CA state of one frame.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Csma {
    /// `NB`: backoffs done for this frame.
    pub nb: u8,
    /// `BE`: the current backoff exponent.
    pub be: u8,
}

impl Csma {
    /// The state at the start of a frame: `NB = 0`, `BE = macMinBE`.
    pub fn new(p: &CsmaParams) -> Self {
        let p = p.clamped();
        Csma {
            nb: 0,
            be: p.min_be,
        }
    }

    /// A random backoff delay: `random(0..=2^BE − 1)` unit backoff periods.
    pub fn backoff(&self, unit: Duration, rng: &mut Rng) -> Duration {
        let be = u32::from(self.be.min(8));
        let slots = rng.below(1u64 << be);
        unit.saturating_mul(slots)
    }

    /// CCA found the channel busy. Returns `true` if another backoff is allowed, `false` on
    /// channel access failure.
    pub fn on_busy(&mut self, p: &CsmaParams) -> bool {
        let p = p.clamped();
        self.nb = self.nb.saturating_add(1);
        self.be = self.be.saturating_add(1).min(p.max_be);
        self.nb <= p.max_csma_backoffs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_range_grows_with_be_and_is_seeded() {
        let p = CsmaParams::default();
        let unit = Duration::from_micros(320);
        let mut c = Csma::new(&p);
        assert_eq!((c.nb, c.be), (0, 3));
        let mut rng = Rng::new(1);
        let mut max = Duration::ZERO;
        for _ in 0..1000 {
            let d = c.backoff(unit, &mut rng);
            assert!(d <= unit.saturating_mul(7));
            assert_eq!(d.total_micros() % 320, 0);
            max = max.max(d);
        }
        assert_eq!(max, unit.saturating_mul(7), "all of 0..=7 is reachable");
        // Same seed, same sequence.
        let a: [Duration; 4] = core::array::from_fn(|_| c.backoff(unit, &mut Rng::new(9)));
        assert!(a.iter().all(|d| *d == a[0]));

        assert!(c.on_busy(&p));
        assert_eq!((c.nb, c.be), (1, 4));
        assert!(c.on_busy(&p));
        assert_eq!((c.nb, c.be), (2, 5));
        assert!(c.on_busy(&p));
        assert_eq!(c.be, 5, "BE saturates at macMaxBE");
        assert!(c.on_busy(&p));
        assert_eq!(c.nb, 4);
        // The fifth busy CCA exceeds macMaxCSMABackoffs = 4.
        assert!(!c.on_busy(&p));
    }

    #[test]
    fn out_of_range_parameters_are_clamped() {
        let p = CsmaParams {
            min_be: 12,
            max_be: 200,
            max_csma_backoffs: 99,
        };
        let mut c = Csma::new(&p);
        assert_eq!(c.be, 8);
        let mut n = 0;
        while c.on_busy(&p) {
            n += 1;
        }
        assert_eq!(n, 5);
        // min_be = 0: no backoff at all.
        let z = Csma::new(&CsmaParams {
            min_be: 0,
            ..CsmaParams::default()
        });
        assert_eq!(
            z.backoff(Duration::from_micros(320), &mut Rng::new(3)),
            Duration::ZERO
        );
    }
}
