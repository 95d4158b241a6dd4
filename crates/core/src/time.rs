//! Virtual-or-real time as plain values.
//!
//! [`Instant`] is a signed count of microseconds since an arbitrary epoch chosen by the caller
//! (simulations start at [`Instant::ZERO`]). [`Duration`] is an unsigned count of microseconds.
//! All arithmetic saturates: time values from a caller can never make a protocol crate panic.

use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};

/// A point in time, in microseconds since the caller's epoch. Monotonic by contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant {
    micros: i64,
}

impl Instant {
    /// The epoch, where simulations start.
    pub const ZERO: Instant = Instant { micros: 0 };
    /// The latest representable instant ("never").
    pub const MAX: Instant = Instant { micros: i64::MAX };

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Instant { micros }
    }
    /// An instant `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: i64) -> Self {
        Instant {
            micros: millis.saturating_mul(1_000),
        }
    }
    /// An instant `secs` seconds after the epoch (saturating).
    pub const fn from_secs(secs: i64) -> Self {
        Instant {
            micros: secs.saturating_mul(1_000_000),
        }
    }
    /// Microseconds since the epoch.
    pub const fn total_micros(&self) -> i64 {
        self.micros
    }
    /// Whole milliseconds since the epoch.
    pub const fn total_millis(&self) -> i64 {
        self.micros / 1_000
    }
    /// Whole seconds since the epoch.
    pub const fn total_secs(&self) -> i64 {
        self.micros / 1_000_000
    }
    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        let d = self.micros.saturating_sub(earlier.micros);
        Duration::from_micros(u64::try_from(d).unwrap_or(0))
    }
    /// `self + d`, or `None` on overflow.
    pub fn checked_add(&self, d: Duration) -> Option<Instant> {
        let d = i64::try_from(d.total_micros()).ok()?;
        self.micros.checked_add(d).map(Instant::from_micros)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at [`Instant::MAX`].
    fn add(self, rhs: Duration) -> Instant {
        let d = i64::try_from(rhs.total_micros()).unwrap_or(i64::MAX);
        Instant::from_micros(self.micros.saturating_add(d))
    }
}
impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}
impl Sub<Duration> for Instant {
    type Output = Instant;
    /// Saturates at `i64::MIN` microseconds.
    fn sub(self, rhs: Duration) -> Instant {
        let d = i64::try_from(rhs.total_micros()).unwrap_or(i64::MAX);
        Instant::from_micros(self.micros.saturating_sub(d))
    }
}
impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}
impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero when `rhs` is later than `self`.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.micros < 0 { "-" } else { "" };
        let m = self.micros.unsigned_abs();
        write!(f, "{sign}{}.{:06}s", m / 1_000_000, m % 1_000_000)
    }
}

/// A span of time in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Duration {
    micros: u64,
}

impl Duration {
    /// No time.
    pub const ZERO: Duration = Duration { micros: 0 };
    /// The longest representable span.
    pub const MAX: Duration = Duration { micros: u64::MAX };

    /// `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Duration { micros }
    }
    /// `millis` milliseconds (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Duration {
            micros: millis.saturating_mul(1_000),
        }
    }
    /// `secs` seconds (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Duration {
            micros: secs.saturating_mul(1_000_000),
        }
    }
    /// Total microseconds.
    pub const fn total_micros(&self) -> u64 {
        self.micros
    }
    /// Whole milliseconds.
    pub const fn total_millis(&self) -> u64 {
        self.micros / 1_000
    }
    /// Whole seconds.
    pub const fn total_secs(&self) -> u64 {
        self.micros / 1_000_000
    }
    /// `self * n`, saturating.
    pub const fn saturating_mul(self, n: u64) -> Duration {
        Duration {
            micros: self.micros.saturating_mul(n),
        }
    }
    /// `self / n`; zero when `n` is zero.
    pub const fn checked_div_or_zero(self, n: u64) -> Duration {
        match self.micros.checked_div(n) {
            Some(m) => Duration { micros: m },
            None => Duration::ZERO,
        }
    }
    /// `self + rhs`, saturating.
    pub const fn saturating_add(self, rhs: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_add(rhs.micros),
        }
    }
    /// `self - rhs`, saturating at zero.
    pub const fn saturating_sub(self, rhs: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_sub(rhs.micros),
        }
    }
}

impl Add for Duration {
    type Output = Duration;
    /// Saturates at [`Duration::MAX`].
    fn add(self, rhs: Duration) -> Duration {
        self.saturating_add(rhs)
    }
}
impl AddAssign for Duration {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}
impl Sub for Duration {
    type Output = Duration;
    /// Saturates at zero.
    fn sub(self, rhs: Duration) -> Duration {
        self.saturating_sub(rhs)
    }
}
impl SubAssign for Duration {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl From<core::time::Duration> for Duration {
    fn from(d: core::time::Duration) -> Self {
        Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
}
impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> Self {
        core::time::Duration::from_micros(d.total_micros())
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.micros / 1_000_000,
            self.micros % 1_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO - Instant::from_secs(5), Duration::ZERO);
        assert_eq!(
            Duration::from_secs(1) - Duration::from_secs(2),
            Duration::ZERO
        );
        assert_eq!(Duration::MAX + Duration::from_micros(1), Duration::MAX);
        assert_eq!(Instant::MAX.checked_add(Duration::from_micros(1)), None);
    }

    #[test]
    fn conversions() {
        let t = Instant::from_millis(1_500);
        assert_eq!(t.total_micros(), 1_500_000);
        assert_eq!(t.total_secs(), 1);
        assert_eq!(t + Duration::from_millis(500), Instant::from_secs(2));
        assert_eq!(Instant::from_secs(3) - t, Duration::from_millis(1_500));
        assert_eq!(
            Duration::from_secs(2).checked_div_or_zero(0),
            Duration::ZERO
        );
        assert_eq!(
            Duration::from(core::time::Duration::from_millis(7)).total_micros(),
            7_000
        );
    }

    #[test]
    fn display() {
        use alloc::string::ToString;
        assert_eq!(Instant::from_micros(1_000_001).to_string(), "1.000001s");
        assert_eq!(Instant::from_micros(-5).to_string(), "-0.000005s");
        assert_eq!(Duration::from_millis(2_500).to_string(), "2.500000s");
    }
}
