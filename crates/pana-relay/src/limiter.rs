//! Token buckets with bounded memory: one per neighbour (in a fixed-size table) and one in total.
//!
//! A bucket holds at most `burst` tokens and gains one every `interval`. A neighbour whose
//! bucket has refilled to `burst` carries no information any more, so its entry is removed
//! ([`Limiter::prune`]); an idle neighbour therefore leaves nothing behind. When the table is
//! full and no entry is idle, the least recently refilled entry is evicted (and counted): an
//! attacker cycling through spoofed source addresses can reset its own per-neighbour bucket that
//! way, which is why the total bucket exists.

use amimesh_core::{Duration, Instant};
use core::net::Ipv6Addr;

/// Token-bucket parameters: up to `burst` messages at once, then one per `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateLimit {
    /// Bucket size (messages allowed back to back). 0 refuses everything.
    pub burst: u32,
    /// Time to earn one token. `Duration::ZERO` means "no limit".
    pub interval: Duration,
}

impl RateLimit {
    /// A limit that never refuses.
    pub const UNLIMITED: RateLimit = RateLimit {
        burst: u32::MAX,
        interval: Duration::ZERO,
    };
}

/// One token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bucket {
    tokens: u32,
    /// When `tokens` was last brought up to date (the remainder of a partial interval is kept
    /// by not moving `stamp` past the last whole interval).
    stamp: Instant,
}

impl Bucket {
    pub(crate) const fn full(limit: &RateLimit, now: Instant) -> Self {
        Bucket {
            tokens: limit.burst,
            stamp: now,
        }
    }

    fn refill(&mut self, limit: &RateLimit, now: Instant) {
        let step = limit.interval.total_micros();
        if step == 0 {
            self.tokens = limit.burst;
            self.stamp = now;
            return;
        }
        let elapsed = now.saturating_duration_since(self.stamp).total_micros();
        let earned = elapsed / step;
        let tokens = u64::from(self.tokens).saturating_add(earned);
        if tokens >= u64::from(limit.burst) {
            self.tokens = limit.burst;
            self.stamp = now;
        } else {
            // tokens < burst <= u32::MAX
            self.tokens = u32::try_from(tokens).unwrap_or(limit.burst);
            self.stamp = self
                .stamp
                .checked_add(Duration::from_micros(earned.saturating_mul(step)))
                .unwrap_or(now);
        }
    }

    fn is_full(&self, limit: &RateLimit) -> bool {
        self.tokens >= limit.burst
    }

    /// When the bucket will be full again.
    fn full_at(&self, limit: &RateLimit) -> Instant {
        let missing = u64::from(limit.burst.saturating_sub(self.tokens));
        self.stamp
            .checked_add(limit.interval.saturating_mul(missing))
            .unwrap_or(Instant::MAX)
    }

    fn take(&mut self) -> bool {
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// Why the limiter refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The sender's own bucket is empty.
    Neighbour,
    /// The total bucket is empty.
    Total,
}

/// The per-neighbour table (at most `N` entries) and the total bucket.
#[derive(Debug, Clone)]
pub(crate) struct Limiter<const N: usize> {
    per_neighbour: RateLimit,
    total_limit: RateLimit,
    table: heapless::Vec<(Ipv6Addr, Bucket), N>,
    total: Bucket,
    /// Entries evicted while still holding information.
    pub evictions: u64,
}

impl<const N: usize> Limiter<N> {
    pub(crate) const fn new(per_neighbour: RateLimit, total: RateLimit) -> Self {
        Limiter {
            per_neighbour,
            total_limit: total,
            table: heapless::Vec::new(),
            total: Bucket::full(&total, Instant::ZERO),
            evictions: 0,
        }
    }

    /// Takes one token from `src`'s bucket and from the total bucket, or refuses (taking none).
    pub(crate) fn allow(&mut self, now: Instant, src: Ipv6Addr) -> Result<(), Refused> {
        let limit = self.per_neighbour;
        let idx = match self.table.iter().position(|(a, _)| *a == src) {
            Some(i) => i,
            None => {
                if self.table.is_full() {
                    self.prune(now);
                }
                if self.table.is_full() {
                    let oldest = self
                        .table
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, (_, b))| b.stamp)
                        .map(|(i, _)| i);
                    if let Some(i) = oldest {
                        self.table.swap_remove(i);
                        self.evictions = self.evictions.saturating_add(1);
                    }
                }
                if self.table.push((src, Bucket::full(&limit, now))).is_err() {
                    // N == 0: no per-neighbour memory at all; only the total bucket applies.
                    return self.take_total(now);
                }
                self.table.len().saturating_sub(1)
            }
        };
        let Some((_, bucket)) = self.table.get_mut(idx) else {
            return Err(Refused::Neighbour);
        };
        bucket.refill(&limit, now);
        if bucket.tokens == 0 {
            return Err(Refused::Neighbour);
        }
        self.total.refill(&self.total_limit, now);
        if !self.total.take() {
            return Err(Refused::Total);
        }
        bucket.take();
        Ok(())
    }

    fn take_total(&mut self, now: Instant) -> Result<(), Refused> {
        self.total.refill(&self.total_limit, now);
        if self.total.take() {
            Ok(())
        } else {
            Err(Refused::Total)
        }
    }

    /// Removes every neighbour whose bucket has refilled: it would behave exactly like a new one.
    pub(crate) fn prune(&mut self, now: Instant) {
        let limit = self.per_neighbour;
        self.table.retain_mut(|(_, b)| {
            b.refill(&limit, now);
            !b.is_full(&limit)
        });
    }

    /// The earliest time [`Limiter::prune`] would remove an entry.
    pub(crate) fn next_prune(&self) -> Option<Instant> {
        self.table
            .iter()
            .map(|(_, b)| b.full_at(&self.per_neighbour))
            .min()
    }

    /// `true` if the table holds an entry for `addr`.
    pub(crate) fn tracks(&self, addr: &Ipv6Addr) -> bool {
        self.table.iter().any(|(a, _)| a == addr)
    }

    /// Entries in the table.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u16) -> Ipv6Addr {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, n)
    }

    const ONE_PER_SEC: RateLimit = RateLimit {
        burst: 3,
        interval: Duration::from_secs(1),
    };

    #[test]
    fn burst_then_refill_then_prune() {
        let mut l = Limiter::<4>::new(ONE_PER_SEC, RateLimit::UNLIMITED);
        let t0 = Instant::from_secs(10);
        for _ in 0..3 {
            assert_eq!(l.allow(t0, addr(1)), Ok(()));
        }
        assert_eq!(l.allow(t0, addr(1)), Err(Refused::Neighbour));
        // Another neighbour has its own bucket.
        assert_eq!(l.allow(t0, addr(2)), Ok(()));
        // 1.5 s later: one token earned, the half interval is kept.
        let t1 = t0 + Duration::from_millis(1500);
        assert_eq!(l.allow(t1, addr(1)), Ok(()));
        assert_eq!(l.allow(t1, addr(1)), Err(Refused::Neighbour));
        assert_eq!(l.allow(t0 + Duration::from_secs(2), addr(1)), Ok(()));
        assert_eq!(l.next_prune(), Some(t0 + Duration::from_secs(1)));
        l.prune(t0 + Duration::from_secs(2));
        assert!(!l.tracks(&addr(2)));
        assert!(l.tracks(&addr(1)));
        assert_eq!(l.next_prune(), Some(t0 + Duration::from_secs(5)));
        l.prune(t0 + Duration::from_secs(5));
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn total_bucket_caps_everyone() {
        let mut l = Limiter::<4>::new(ONE_PER_SEC, ONE_PER_SEC);
        let t0 = Instant::from_secs(1);
        assert_eq!(l.allow(t0, addr(1)), Ok(()));
        assert_eq!(l.allow(t0, addr(2)), Ok(()));
        assert_eq!(l.allow(t0, addr(3)), Ok(()));
        assert_eq!(l.allow(t0, addr(4)), Err(Refused::Total));
        // The refused neighbour kept its tokens.
        assert_eq!(l.allow(t0 + Duration::from_secs(1), addr(4)), Ok(()));
    }

    #[test]
    fn full_table_evicts_the_oldest() {
        let mut l = Limiter::<2>::new(ONE_PER_SEC, RateLimit::UNLIMITED);
        let t0 = Instant::from_secs(1);
        assert_eq!(l.allow(t0, addr(1)), Ok(()));
        assert_eq!(l.allow(t0 + Duration::from_millis(1), addr(2)), Ok(()));
        assert_eq!(l.allow(t0 + Duration::from_millis(2), addr(3)), Ok(()));
        assert_eq!(l.len(), 2);
        assert!(!l.tracks(&addr(1)));
        assert_eq!(l.evictions, 1);
        // With no per-neighbour memory only the total bucket applies.
        let mut z = Limiter::<0>::new(ONE_PER_SEC, ONE_PER_SEC);
        for _ in 0..3 {
            assert_eq!(z.allow(t0, addr(1)), Ok(()));
        }
        assert_eq!(z.allow(t0, addr(1)), Err(Refused::Total));
        // burst 0 refuses everything.
        let mut none = Limiter::<2>::new(
            RateLimit {
                burst: 0,
                interval: Duration::from_secs(1),
            },
            RateLimit::UNLIMITED,
        );
        assert_eq!(none.allow(t0, addr(1)), Err(Refused::Neighbour));
    }
}
