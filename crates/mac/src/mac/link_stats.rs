//! Per-neighbour link statistics and the ETX estimate that RPL's MRHOF uses.
//!
//! ETX (expected transmission count) is kept in the fixed-point unit of RFC 6719 §3.3: ETX ×
//! 128, so a perfect link is 128 and MRHOF's `MAX_LINK_METRIC` (ETX 4) is 512.
//!
//! Each unicast frame that requested an ACK gives one sample when it completes:
//! - acknowledged after `n` transmissions (first try + retries): sample = `n · 128`;
//! - not acknowledged after all retries: sample = [`ETX_NOACK_PENALTY`] (ETX 8, beyond
//!   `MAX_LINK_METRIC`, so MRHOF stops using a link that keeps failing).
//!
//! Channel-access failures say nothing about the link and give no sample. The first sample
//! replaces the initial guess; later ones are averaged with an exponentially weighted moving
//! average of weight 1/8 ([`ETX_EWMA_SHIFT`]).

use amimesh_core::Instant;
#[cfg(feature = "alloc")]
use amimesh_core::LinkAddr;

/// ETX × 128 of a perfect link.
pub const ETX_DIVISOR: u16 = 128;
/// ETX assumed for a neighbour with no samples yet (ETX 2).
pub const ETX_INIT: u16 = 2 * ETX_DIVISOR;
/// Sample used when a frame got no ACK after every retry (ETX 8).
pub const ETX_NOACK_PENALTY: u16 = 8 * ETX_DIVISOR;
/// Largest stored ETX (ETX 64).
pub const ETX_MAX: u16 = 64 * ETX_DIVISOR;
/// EWMA weight of a new sample: `2^-ETX_EWMA_SHIFT`.
pub const ETX_EWMA_SHIFT: u32 = 3;

/// Statistics for one neighbour.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    /// ETX × 128 ([`ETX_INIT`] until the first sample).
    pub etx: u16,
    /// Number of ETX samples taken.
    pub etx_samples: u32,
    /// Transmissions (first tries and retries) of frames that requested an ACK.
    pub tx_attempts: u32,
    /// Frames acknowledged.
    pub tx_acked: u32,
    /// Frames that got no ACK after every retry.
    pub tx_noack: u32,
    /// Frames accepted from this neighbour.
    pub rx_frames: u32,
    /// LQI of the last accepted frame.
    pub last_lqi: u8,
    /// RSSI of the last accepted frame (dBm).
    pub last_rssi: i8,
    /// When the neighbour was last heard or acknowledged a frame.
    pub last_seen: Instant,
}

impl LinkStats {
    /// A fresh entry.
    pub const fn new(now: Instant) -> Self {
        LinkStats {
            etx: ETX_INIT,
            etx_samples: 0,
            tx_attempts: 0,
            tx_acked: 0,
            tx_noack: 0,
            rx_frames: 0,
            last_lqi: 0,
            last_rssi: 0,
            last_seen: now,
        }
    }

    /// Feeds one ETX sample (ETX × 128).
    pub fn add_etx_sample(&mut self, sample: u16) {
        let sample = sample.min(ETX_MAX);
        self.etx = if self.etx_samples == 0 {
            sample
        } else {
            // etx += (sample - etx) / 8, rounded to nearest, in i32.
            let old = i32::from(self.etx);
            let diff = i32::from(sample) - old;
            let half = 1i32 << (ETX_EWMA_SHIFT - 1);
            let step = if diff >= 0 {
                (diff + half) >> ETX_EWMA_SHIFT
            } else {
                -((-diff + half) >> ETX_EWMA_SHIFT)
            };
            u16::try_from((old + step).clamp(1, i32::from(ETX_MAX))).unwrap_or(ETX_MAX)
        };
        self.etx_samples = self.etx_samples.saturating_add(1);
    }

    /// Records the outcome of one ACK-requesting frame sent `transmissions` times.
    pub fn on_tx_complete(&mut self, now: Instant, transmissions: u8, acked: bool) {
        self.tx_attempts = self.tx_attempts.saturating_add(u32::from(transmissions));
        if acked {
            self.tx_acked = self.tx_acked.saturating_add(1);
            self.last_seen = now;
            self.add_etx_sample(u16::from(transmissions.max(1)).saturating_mul(ETX_DIVISOR));
        } else {
            self.tx_noack = self.tx_noack.saturating_add(1);
            self.add_etx_sample(ETX_NOACK_PENALTY);
        }
    }
}

/// A bounded table of [`LinkStats`], evicting the least recently seen neighbour when full.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone)]
pub struct LinkTable {
    map: amimesh_core::bounded::BoundedMap<LinkAddr, LinkStats>,
}

#[cfg(feature = "alloc")]
impl LinkTable {
    /// A table for `cap` neighbours.
    pub fn new(cap: usize) -> Self {
        LinkTable {
            map: amimesh_core::bounded::BoundedMap::with_capacity(cap),
        }
    }

    /// The statistics of `addr`, if known.
    pub fn get(&self, addr: &LinkAddr) -> Option<&LinkStats> {
        self.map.get(addr)
    }

    /// ETX × 128 of `addr`, if known.
    pub fn etx(&self, addr: &LinkAddr) -> Option<u16> {
        self.get(addr).map(|s| s.etx)
    }

    /// All entries, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&LinkAddr, &LinkStats)> {
        self.map.iter()
    }

    /// Number of neighbours.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// `true` if no neighbour is known.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The entry for `addr`, created (evicting the least recently seen one if full). `None`
    /// only for [`LinkAddr::Absent`], broadcast, or a zero-capacity table.
    pub fn entry(&mut self, now: Instant, addr: LinkAddr) -> Option<&mut LinkStats> {
        if matches!(addr, LinkAddr::Absent) || addr.is_broadcast() || self.map.capacity() == 0 {
            return None;
        }
        self.map
            .get_or_insert_evicting(addr, || LinkStats::new(now), |_, s| s.last_seen)
    }

    /// Removes `addr`.
    pub fn remove(&mut self, addr: &LinkAddr) -> Option<LinkStats> {
        self.map.remove(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amimesh_core::{LinkAddr, ShortAddr};

    #[test]
    fn etx_follows_ack_outcomes() {
        let t = Instant::ZERO;
        let mut s = LinkStats::new(t);
        assert_eq!(s.etx, ETX_INIT);
        s.on_tx_complete(t, 1, true);
        assert_eq!(s.etx, 128, "first sample replaces the guess");
        // Perfect link stays perfect.
        for _ in 0..10 {
            s.on_tx_complete(t, 1, true);
        }
        assert_eq!(s.etx, 128);
        // One failure: 128 + (1024 - 128)/8 = 240.
        s.on_tx_complete(t, 4, false);
        assert_eq!(s.etx, 240);
        // Two transmissions per frame converge towards 256.
        for _ in 0..60 {
            s.on_tx_complete(t, 2, true);
        }
        assert!((250..=256).contains(&s.etx), "{}", s.etx);
        assert_eq!(s.tx_noack, 1);
        assert_eq!(s.tx_acked, 71);
        assert_eq!(s.tx_attempts, 11 + 4 + 120);
        // Persistent failure climbs past MAX_LINK_METRIC (512).
        for _ in 0..20 {
            s.on_tx_complete(t, 4, false);
        }
        assert!(s.etx > 512);
        s.add_etx_sample(u16::MAX);
        assert!(s.etx <= ETX_MAX);
    }

    #[test]
    fn table_is_bounded_and_evicts_stalest() {
        let mut tab = LinkTable::new(2);
        let a = LinkAddr::Short(ShortAddr(1));
        let b = LinkAddr::Short(ShortAddr(2));
        let c = LinkAddr::Short(ShortAddr(3));
        tab.entry(Instant::from_secs(1), a).unwrap().rx_frames = 1;
        tab.entry(Instant::from_secs(2), b).unwrap();
        tab.entry(Instant::from_secs(3), c).unwrap();
        assert_eq!(tab.len(), 2);
        assert!(tab.get(&a).is_none(), "oldest evicted");
        assert!(tab.entry(Instant::ZERO, LinkAddr::Absent).is_none());
        assert!(
            tab.entry(Instant::ZERO, LinkAddr::Short(ShortAddr::BROADCAST))
                .is_none()
        );
        assert_eq!(tab.etx(&b), Some(ETX_INIT));
        assert!(LinkTable::new(0).entry(Instant::ZERO, a).is_none());
    }
}
