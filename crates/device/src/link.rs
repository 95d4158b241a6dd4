//! Link metrics for parent selection: the ETX (×128, RFC 6551 §4.3.2) each neighbour's link
//! gets in RPL's MRHOF (RFC 6719) and in the choice of a PANA relay in P1.
//!
//! RFC 6719 §3.1 leaves the ETX estimator to the implementation. Here:
//! - a neighbour known only from what we heard (DIOs, beacons) gets an initial estimate from
//!   the LQI of its frames ([`LinkMetricConfig::etx_from_lqi`]): a clean link is ETX 1, and the
//!   estimate grows linearly to ETX 4 (MRHOF's `MAX_LINK_METRIC`, RFC 6719 §5) as the LQI
//!   falls to [`LinkMetricConfig::lqi_poor`]; below that the link counts as unusable (ETX 5)
//!   unless nothing better is heard;
//! - once we send to it, the MAC's ETX (acknowledged transmissions, an EWMA over frames,
//!   `amimesh_mac::mac::link_stats`) takes over, blended with the initial estimate over the
//!   first [`LinkMetricConfig::prior_samples`] frames so one lucky or unlucky frame does not
//!   swing the estimate.
//!
//! The estimate reaches RPL with every DIO heard from the neighbour (and, with
//! [`LinkMetricConfig::feed_on_tx`], whenever it moves by at least
//! [`LinkMetricConfig::feed_delta`]); MRHOF's PARENT_SWITCH_THRESHOLD (RFC 6719 §3.4) and
//! RPL's parent-switch hold-off then keep small changes from moving the preferred parent.

use alloc::vec::Vec;
use amimesh_core::{ExtAddr, LinkAddr};
use amimesh_mac::mac::LinkStats;
use amimesh_mac::mac::{PanDescriptor, PanSelector};
use core::cmp::Ordering;

/// ETX of one perfect transmission (×128).
pub const ETX_ONE: u16 = 128;
/// MAX_LINK_METRIC for ETX: 512 = ETX 4 (RFC 6719 §5); MRHOF does not use poorer links.
pub const MAX_LINK_METRIC: u16 = amimesh_rpl::of::MAX_LINK_METRIC;

/// How link quality turns into ETX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkMetricConfig {
    /// LQI at and above which a link is assumed clean (ETX 1). Default 64.
    pub lqi_good: u8,
    /// LQI at which a link is assumed as bad as MRHOF still accepts (ETX 4); below it, a
    /// link is assumed beyond MAX_LINK_METRIC (ETX 5) and used only when nothing else is.
    /// Default 24.
    pub lqi_poor: u8,
    /// Measured frames after which the MAC's ETX alone counts. Default 4.
    pub prior_samples: u32,
    /// Smallest change (×128) of a neighbour's estimate that is passed to RPL. Default 16.
    pub feed_delta: u16,
    /// Neighbours whose estimate is tracked (the MAC's link table size is the other bound).
    pub capacity: usize,
    /// An estimate rising above this (×128) is passed to RPL at once, without waiting for
    /// the neighbour's next DIO; RPL then stops using the link (it is above
    /// [`MAX_LINK_METRIC`]). Default 640 (ETX 5): a link losing most frames gets there
    /// within a few frames, while uniform loss of 30 % (ETX about 2) would need five frames
    /// in a row lost after every retry.
    pub drop_etx: u16,
    /// Also pass an estimate to RPL as soon as a frame's outcome moves it (by
    /// `feed_delta`). Default false: the estimate (LQI prior blended with the MAC's measured
    /// ETX) reaches RPL with each DIO heard from the neighbour, which paces parent
    /// re-evaluation by the DIO Trickle, and at once only when a link fails beyond
    /// `drop_etx` or recovers below [`MAX_LINK_METRIC`]. Passing every move makes collision bursts during
    /// joins swing ranks and parents (measured in the field simulations: two to three times
    /// the control traffic and routes missing while DAOs chase the changes).
    pub feed_on_tx: bool,
}

impl Default for LinkMetricConfig {
    fn default() -> Self {
        LinkMetricConfig {
            lqi_good: 64,
            lqi_poor: 24,
            prior_samples: 4,
            feed_delta: 16,
            capacity: 64,
            drop_etx: 5 * ETX_ONE,
            feed_on_tx: false,
        }
    }
}

impl LinkMetricConfig {
    /// Initial ETX (×128) of a link heard at `lqi`: 128 at `lqi_good` and above, rising
    /// linearly to 512 at `lqi_poor`, and 640 below.
    pub fn etx_from_lqi(&self, lqi: u8) -> u16 {
        let good = u32::from(self.lqi_good);
        let poor = u32::from(self.lqi_poor.min(self.lqi_good));
        let l = u32::from(lqi);
        if l >= good {
            return ETX_ONE;
        }
        if l < poor {
            return 5 * ETX_ONE;
        }
        if good == poor {
            return 4 * ETX_ONE;
        }
        let span = good - poor;
        let extra = (3 * u32::from(ETX_ONE) * (good - l)).div_ceil(span);
        u16::try_from(u32::from(ETX_ONE) + extra).unwrap_or(4 * ETX_ONE)
    }

    /// The ETX estimate (×128) of a link from the MAC's statistics.
    pub fn estimate(&self, s: &LinkStats) -> u16 {
        let prior = if s.rx_frames > 0 {
            self.etx_from_lqi(s.last_lqi)
        } else {
            // Never heard (only sent to): no better guess than the MAC's.
            s.etx
        };
        let n = self.prior_samples;
        if s.etx_samples >= n || n == 0 {
            return s.etx;
        }
        let k = s.etx_samples;
        let blended = (u32::from(prior) * (n - k) + u32::from(s.etx) * k) / n;
        u16::try_from(blended).unwrap_or(u16::MAX)
    }
}

/// What was last passed to RPL per neighbour, so only real changes trigger parent selection.
#[derive(Debug, Clone)]
pub(crate) struct LinkMetrics {
    pub(crate) cfg: LinkMetricConfig,
    fed: Vec<(ExtAddr, u16, u32)>,
}

impl LinkMetrics {
    pub(crate) fn new(cfg: LinkMetricConfig) -> Self {
        LinkMetrics {
            cfg,
            fed: Vec::new(),
        }
    }

    /// Records `etx` as passed to RPL for `n` (with the MAC sample count it came from).
    pub(crate) fn record(&mut self, n: ExtAddr, etx: u16, samples: u32) {
        if let Some(e) = self.fed.iter_mut().find(|e| e.0 == n) {
            e.1 = etx;
            e.2 = samples;
            return;
        }
        if self.fed.len() >= self.cfg.capacity.max(1) {
            self.fed.remove(0);
        }
        self.fed.push((n, etx, samples));
    }

    /// The neighbours whose estimate moved by at least `feed_delta` since it was last passed
    /// on, with the new estimate and sample count.
    pub(crate) fn changes<'a>(
        &self,
        links: impl Iterator<Item = (&'a LinkAddr, &'a LinkStats)>,
    ) -> Vec<(ExtAddr, u16, u32)> {
        let mut out = Vec::new();
        let drop = self.cfg.drop_etx.max(MAX_LINK_METRIC);
        for (a, s) in links {
            let LinkAddr::Extended(e) = a else { continue };
            if s.etx_samples == 0 {
                // Not sent to yet: its DIOs carry the initial estimate.
                continue;
            }
            let est = self.cfg.estimate(s);
            let changed = match self.fed.iter().find(|f| f.0 == *e) {
                Some(&(_, old, samples)) if samples != s.etx_samples => {
                    // A link failing beyond `drop_etx` counts at once (a parent whose frames
                    // keep failing must not wait for a DIO the same link loses), and so does
                    // its recovery below MAX_LINK_METRIC.
                    (old <= drop && est > drop)
                        || (old > MAX_LINK_METRIC && est <= MAX_LINK_METRIC)
                        || (self.cfg.feed_on_tx && est.abs_diff(old) >= self.cfg.feed_delta)
                }
                Some(_) => false,
                None => self.cfg.feed_on_tx || est > drop,
            };
            if changed {
                out.push((*e, est, s.etx_samples));
            }
        }
        out
    }

    pub(crate) fn clear(&mut self) {
        self.fed.clear();
    }
}

/// P1 policy: among beacons that permit joining and offer a PANA relay, the lowest path cost
/// through the sender, `advertised rank + ETX of the link` (the MRHOF path cost, RFC 6719
/// §3.1, with the link's initial estimate from the beacon's LQI), then the best LQI. A PRE
/// with a slightly lower rank behind a poor link loses to a nearer one.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkAwareSelector {
    /// The LQI-to-ETX mapping.
    pub links: LinkMetricConfig,
}

impl LinkAwareSelector {
    /// Path cost through the sender of `d`.
    pub fn cost(&self, d: &PanDescriptor) -> u32 {
        // An absent hint reads as 0xFFFF (infinite rank) and sorts last.
        u32::from(d.rank()) + u32::from(self.links.etx_from_lqi(d.lqi))
    }
}

impl PanSelector for LinkAwareSelector {
    fn compare(&self, a: &PanDescriptor, b: &PanDescriptor) -> Ordering {
        b.joining_permitted()
            .cmp(&a.joining_permitted())
            .then(b.pre_available().cmp(&a.pre_available()))
            .then(self.cost(a).cmp(&self.cost(b)))
            .then(b.lqi.cmp(&a.lqi))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use amimesh_core::{Instant, PanId};
    use amimesh_mac::mac::beacon_payload::{BeaconPayloadRepr, FLAG_ALLOW_JOIN, RoutingHint};
    use amimesh_mac::mac::select_pan;

    #[test]
    fn lqi_maps_to_etx_between_one_and_four() {
        let c = LinkMetricConfig::default();
        assert_eq!(c.etx_from_lqi(255), 128);
        assert_eq!(c.etx_from_lqi(64), 128);
        assert_eq!(c.etx_from_lqi(24), 512);
        assert_eq!(c.etx_from_lqi(23), 640);
        assert_eq!(c.etx_from_lqi(0), 640);
        // Halfway: ETX 2.5.
        assert_eq!(c.etx_from_lqi(44), 128 + 192);
        let mut last = 0;
        for l in (0..=255u8).rev() {
            let e = c.etx_from_lqi(l);
            assert!(e >= last, "monotonic");
            last = e;
        }
    }

    #[test]
    fn measurements_take_over_from_the_lqi_guess() {
        let c = LinkMetricConfig::default();
        let t = Instant::ZERO;
        let mut s = LinkStats::new(t);
        s.rx_frames = 1;
        s.last_lqi = 24; // guess ETX 4
        assert_eq!(c.estimate(&s), 512);
        s.on_tx_complete(t, 1, true); // MAC: ETX 1
        assert_eq!(c.estimate(&s), (512 * 3 + 128) / 4);
        for _ in 0..3 {
            s.on_tx_complete(t, 1, true);
        }
        assert_eq!(c.estimate(&s), 128);
        // A link never heard from keeps the MAC's value.
        let mut q = LinkStats::new(t);
        q.on_tx_complete(t, 4, false);
        assert_eq!(c.estimate(&q), q.etx);
    }

    #[test]
    fn changes_report_only_moves_beyond_the_delta() {
        let c = LinkMetricConfig {
            feed_on_tx: true,
            ..LinkMetricConfig::default()
        };
        let t = Instant::ZERO;
        let a = ExtAddr::from_u64(1);
        let mut s = LinkStats::new(t);
        s.rx_frames = 1;
        s.last_lqi = 200;
        let mut m = LinkMetrics::new(c);
        let la = LinkAddr::Extended(a);
        // Heard only: nothing to feed (the DIO carries the guess).
        assert!(m.changes([(&la, &s)].into_iter()).is_empty());
        s.on_tx_complete(t, 1, true);
        let ch = m.changes([(&la, &s)].into_iter());
        assert_eq!(ch, [(a, 128, 1)]);
        m.record(a, 128, 1);
        assert!(m.changes([(&la, &s)].into_iter()).is_empty());
        // One retry moves the MAC's EWMA by 16, half of which shows while the LQI guess
        // still weighs in: below the delta, not reported.
        s.on_tx_complete(t, 2, true);
        assert!(m.changes([(&la, &s)].into_iter()).is_empty());
        // A frame lost after every retry moves it far: reported.
        s.on_tx_complete(t, 4, false);
        let ch = m.changes([(&la, &s)].into_iter());
        assert_eq!(ch.len(), 1);
        assert!(ch[0].1 > 128 + 16);
        m.clear();
        assert_eq!(m.changes([(&la, &s)].into_iter()).len(), 1);
        // Off by default: between DIOs only a link failing beyond drop_etx is passed on.
        let mut quiet = LinkMetrics::new(LinkMetricConfig::default());
        quiet.record(a, ch[0].1, s.etx_samples);
        assert!(quiet.changes([(&la, &s)].into_iter()).is_empty());
        for _ in 0..12 {
            s.on_tx_complete(t, 4, false);
            let ch = quiet.changes([(&la, &s)].into_iter());
            if let Some(&(_, etx, n)) = ch.first() {
                assert!(etx > c.drop_etx);
                quiet.record(a, etx, n);
                break;
            }
        }
        assert!(
            quiet.fed.iter().any(|f| f.1 > MAX_LINK_METRIC),
            "crossing reported"
        );
    }

    fn desc(addr: u64, lqi: u8, rank: u16) -> PanDescriptor {
        PanDescriptor {
            channel: 1,
            pan_id: PanId(0x1234),
            coord_addr: LinkAddr::Extended(ExtAddr::from_u64(addr)),
            superframe_spec: 0xcfff,
            lqi,
            rssi: -80,
            at: Instant::ZERO,
            payload: Some(BeaconPayloadRepr::new(
                FLAG_ALLOW_JOIN,
                [0; 16],
                true,
                Some(RoutingHint { rank, hops: 1 }),
            )),
        }
    }

    #[test]
    fn selector_weighs_rank_against_link_quality() {
        let s = LinkAwareSelector::default();
        // A rank-256-lower PRE behind a marginal link (ETX ≥ 3) loses to a clean one.
        let far_low = desc(1, 20, 512);
        let near = desc(2, 120, 768);
        assert_eq!(select_pan(&[far_low, near], &s), Some(&near));
        // Equal links: the lower rank wins; equal cost: the better LQI.
        let a = desc(3, 100, 512);
        let b = desc(4, 100, 768);
        assert_eq!(select_pan(&[b, a], &s), Some(&a));
        let c = desc(5, 90, 512);
        assert_eq!(select_pan(&[c, a], &s), Some(&a));
        // Joining permitted still comes first.
        let mut closed = desc(6, 255, 256);
        closed.payload = Some(BeaconPayloadRepr::new(0, [0; 16], true, None));
        assert_eq!(select_pan(&[closed, far_low], &s), Some(&far_low));
    }
}
