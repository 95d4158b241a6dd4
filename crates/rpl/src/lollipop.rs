//! Lollipop sequence counters (RFC 6550 §7.2): DTSN, DODAG Version, DAO and Path Sequence.
//!
//! Values 128..=255 form the straight "stick" (a new counter starts at 240 = 256 −
//! SEQUENCE_WINDOW) and 0..=127 the circular region. Incrementing 255 gives 0 and 127 gives 0.

/// SEQUENCE_WINDOW (§7.2).
pub const SEQUENCE_WINDOW: u8 = 16;
/// Initial value of a lollipop counter: 256 − SEQUENCE_WINDOW (§7.2).
pub const LOLLIPOP_INIT: u8 = 240;
const CIRCULAR_MAX: u8 = 127;

/// A lollipop counter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SequenceCounter(pub u8);

impl Default for SequenceCounter {
    fn default() -> Self {
        SequenceCounter(LOLLIPOP_INIT)
    }
}

impl SequenceCounter {
    /// The raw value.
    pub const fn value(self) -> u8 {
        self.0
    }
    /// Advances the counter (§7.2: 255 → 0 and 127 → 0).
    pub fn increment(&mut self) {
        self.0 = match self.0 {
            CIRCULAR_MAX | 255 => 0,
            v => v + 1,
        };
    }
    /// The counter after one increment.
    pub fn next(self) -> Self {
        let mut s = self;
        s.increment();
        s
    }
    /// `true` if `self` is newer than `other` per the comparison rules of §7.2.
    /// Returns `false` when they are equal or not comparable.
    pub fn is_newer_than(self, other: SequenceCounter) -> bool {
        let (a, b) = (self.0, other.0);
        if a == b {
            return false;
        }
        let a_lin = a > CIRCULAR_MAX;
        let b_lin = b > CIRCULAR_MAX;
        match (a_lin, b_lin) {
            // One in each region.
            (true, false) => {
                // A in the stick, B circular: B newer iff 256 + B − A ≤ SEQUENCE_WINDOW.
                256 + u16::from(b) - u16::from(a) > u16::from(SEQUENCE_WINDOW)
            }
            (false, true) => 256 + u16::from(a) - u16::from(b) <= u16::from(SEQUENCE_WINDOW),
            // Both in the stick: plain comparison.
            (true, true) => a > b,
            // Both circular: RFC 1982 arithmetic within SEQUENCE_WINDOW; beyond it the values
            // are not comparable (desynchronised) and neither is newer.
            (false, false) => {
                let d = a.wrapping_sub(b) & CIRCULAR_MAX;
                d != 0 && d <= SEQUENCE_WINDOW
            }
        }
    }
}

impl SequenceCounter {
    /// `true` unless both values are circular and more than SEQUENCE_WINDOW apart (§7.2).
    pub fn is_comparable(self, other: SequenceCounter) -> bool {
        self == other || self.is_newer_than(other) || other.is_newer_than(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_through_both_regions() {
        let mut c = SequenceCounter::default();
        assert_eq!(c.0, 240);
        for _ in 0..15 {
            c.increment();
        }
        assert_eq!(c.0, 255);
        c.increment();
        assert_eq!(c.0, 0);
        c.0 = 127;
        c.increment();
        assert_eq!(c.0, 0);
    }

    #[test]
    fn comparison_rules() {
        let s = SequenceCounter;
        // Stick vs stick.
        assert!(s(241).is_newer_than(s(240)));
        assert!(!s(240).is_newer_than(s(241)));
        // Just-wrapped circular values are newer than the end of the stick.
        assert!(s(0).is_newer_than(s(250)));
        assert!(s(3).is_newer_than(s(255)));
        // A fresh stick value (reboot) is newer than an old circular value far away.
        assert!(s(240).is_newer_than(s(5)));
        assert!(!s(5).is_newer_than(s(240)));
        // Circular wrap-around.
        assert!(s(1).is_newer_than(s(127)));
        assert!(s(10).is_newer_than(s(3)));
        assert!(!s(3).is_newer_than(s(10)));
        assert!(!s(7).is_newer_than(s(7)));
        // Desynchronised circular values are not comparable either way.
        assert!(!s(60).is_newer_than(s(10)));
        assert!(!s(10).is_newer_than(s(60)));
        assert!(s(60).is_comparable(s(70)));
        assert!(!s(60).is_comparable(s(10)));
    }

    proptest::proptest! {
        #[test]
        fn newer_is_antisymmetric_and_increment_is_newer(a in 0u8..=255, b in 0u8..=255) {
            let (x, y) = (SequenceCounter(a), SequenceCounter(b));
            proptest::prop_assert!(!(x.is_newer_than(y) && y.is_newer_than(x)));
            proptest::prop_assert!(x.next().is_newer_than(x));
            proptest::prop_assert_eq!(x.is_comparable(y), y.is_comparable(x));
        }
    }
}
