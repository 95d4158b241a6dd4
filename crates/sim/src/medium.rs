//! The radio model: propagation, reception probability, link quality, and the neighbour tables
//! the engine uses.
//!
//! # Link model
//!
//! The mean received power of a link is `RSSI = tx_power − PL(d) − X`, with the log-distance
//! path loss `PL(d) = PL(d0) + 10·n·log10(d / d0)` and a per-link shadowing term `X`, normal
//! with standard deviation σ, truncated at ±4σ, drawn once per unordered node pair from the
//! seed (so links are symmetric and independent of the order in which they are computed). A
//! [`Propagation::Table`] gives the RSSI of each directed link explicitly instead.
//!
//! # Reception
//!
//! A frame below [`RadioModel::sensitivity_dbm`] is not heard at all. Above it, each frame is
//! received with the packet reception ratio of a non-coherent FSK receiver:
//! `BER = ½·exp(−γ / 2)`, `PRR = (1 − BER)^(8·L)`, with γ the linear SNR
//! (`RSSI − noise_floor`) scaled by `bandwidth_ratio` (B_N / R) and `L` the PSDU length in
//! octets. This is the textbook bit error rate of NC-FSK, so longer frames fail more often and
//! the transitional region is a few dB wide. [`RadioModel::extra_loss`] removes a further
//! fraction of frames at random.
//!
//! # Collisions and capture
//!
//! A receiver synchronises on the first frame above the sensitivity that starts while it is
//! listening on that channel and not transmitting. It delivers that frame only if every other
//! frame above the sensitivity that overlaps it at this receiver is at least
//! [`RadioModel::capture_margin_db`] weaker (capture). Otherwise the frame is lost. A frame that
//! starts while the receiver is already synchronised is never received (no re-synchronisation
//! on a later, stronger preamble). With `capture_margin_db = f64::INFINITY`, any overlap above
//! the sensitivity destroys both frames. Propagation delay is ignored (a few µs at these ranges).
//!
//! # CCA
//!
//! Clear channel assessment (802.15.4-2020 §10.2.8, mode 1, energy above threshold) reports
//! busy if, at the start or at the end of the `aCcaTime` window, a frame from another node is
//! on air on the channel with an RSSI at this node of at least
//! [`RadioModel::cca_threshold_dbm`]. Every frame is longer than `aCcaTime`, so checking both
//! ends finds every overlap.

use crate::topology::Position;
use crate::{NodeId, Result};
use amimesh_core::Rng;
use amimesh_mac::mac::phy::PhyProfile;
use std::collections::BTreeMap;

/// How the mean RSSI of a link is found.
#[derive(Debug, Clone, PartialEq)]
pub enum Propagation {
    /// Log-distance path loss with seeded log-normal shadowing.
    LogDistance(LogDistance),
    /// Explicit RSSI (dBm) per directed link `(from, to)`; absent links do not exist.
    Table(BTreeMap<(NodeId, NodeId), f64>),
}

/// Parameters of the log-distance path-loss model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogDistance {
    /// Path loss at the reference distance, dB.
    pub pl_d0_db: f64,
    /// Reference distance, metres.
    pub d0_m: f64,
    /// Path-loss exponent `n` (2 free space, 2.7–3.5 suburban).
    pub exponent: f64,
    /// Standard deviation of the per-link shadowing, dB.
    pub shadowing_sigma_db: f64,
}

impl Default for LogDistance {
    /// 920 MHz free-space loss at 1 m (≈ 31.7 dB), exponent 3, σ = 4 dB.
    fn default() -> Self {
        LogDistance {
            pl_d0_db: 31.7,
            d0_m: 1.0,
            exponent: 3.0,
            shadowing_sigma_db: 4.0,
        }
    }
}

impl LogDistance {
    /// Mean path loss at distance `d` (without shadowing); distances below `d0` count as `d0`.
    pub fn path_loss_db(&self, d_m: f64) -> f64 {
        let d = d_m.max(self.d0_m).max(1e-9);
        self.pl_d0_db + 10.0 * self.exponent * (d / self.d0_m.max(1e-9)).log10()
    }

    /// The distance at which the mean path loss equals `pl_db`.
    pub fn distance_for_loss(&self, pl_db: f64) -> f64 {
        let e = (pl_db - self.pl_d0_db) / (10.0 * self.exponent.max(1e-9));
        self.d0_m * 10f64.powf(e)
    }
}

/// The radio and propagation parameters of a simulation (the same for every node).
#[derive(Debug, Clone, PartialEq)]
pub struct RadioModel {
    /// PHY timing and sizes (airtime, CCA time, turnaround, FCS length, largest PSDU).
    pub phy: PhyProfile,
    /// Transmit power, dBm.
    pub tx_power_dbm: f64,
    /// Weakest frame a receiver can synchronise on, and weakest interferer that matters, dBm.
    pub sensitivity_dbm: f64,
    /// CCA energy-detect threshold, dBm.
    pub cca_threshold_dbm: f64,
    /// Thermal noise floor in the channel bandwidth, dBm.
    pub noise_floor_dbm: f64,
    /// `B_N / R`, noise bandwidth over bit rate, in the NC-FSK error model.
    pub bandwidth_ratio: f64,
    /// How much stronger the frame being received must be than every overlapping frame.
    pub capture_margin_db: f64,
    /// Probability that a frame which would have been received is dropped anyway.
    pub extra_loss: f64,
    /// Propagation model.
    pub propagation: Propagation,
    /// Channel page written into captures (TAP channel TLV).
    pub channel_page: u8,
}

impl Default for RadioModel {
    /// SUN FSK 920 MHz at 100 kb/s; 0 dBm; sensitivity −97 dBm over a −105 dBm noise floor;
    /// CCA threshold −94 dBm; capture margin 3 dB; log-distance defaults; no extra loss.
    fn default() -> Self {
        RadioModel {
            phy: PhyProfile::SUN_FSK_920_100K,
            tx_power_dbm: 0.0,
            sensitivity_dbm: -97.0,
            cca_threshold_dbm: -94.0,
            noise_floor_dbm: -105.0,
            bandwidth_ratio: 1.0,
            capture_margin_db: 3.0,
            extra_loss: 0.0,
            propagation: Propagation::LogDistance(LogDistance::default()),
            channel_page: 9,
        }
    }
}

/// LQI spans this many dB above the sensitivity (0 at the sensitivity, 255 at the top).
pub const LQI_SPAN_DB: f64 = 30.0;

impl RadioModel {
    /// Time on air of an MPDU of `mpdu_len` octets: SHR + PHR + MPDU + FCS.
    pub fn airtime(&self, mpdu_len: usize) -> amimesh_core::Duration {
        self.phy
            .airtime(mpdu_len.saturating_add(usize::from(self.phy.fcs_len)))
    }

    /// Probability that a frame of `psdu_len` octets (FCS included) arriving at `rssi_dbm` is
    /// received without interference: 0 below the sensitivity, else the NC-FSK PRR.
    pub fn prr(&self, rssi_dbm: f64, psdu_len: usize) -> f64 {
        prr_from_log(self.ln_bit_ok(rssi_dbm), psdu_len)
    }

    /// `ln(1 − BER)` at `rssi_dbm` (−∞ below the sensitivity): the per-bit term of
    /// [`RadioModel::prr`], computed once per link.
    pub fn ln_bit_ok(&self, rssi_dbm: f64) -> f64 {
        if rssi_dbm < self.sensitivity_dbm {
            return f64::NEG_INFINITY;
        }
        let snr_db = rssi_dbm - self.noise_floor_dbm;
        let gamma = 10f64.powf(snr_db / 10.0) * self.bandwidth_ratio;
        let ber = 0.5 * (-gamma / 2.0).exp();
        (-ber).ln_1p()
    }

    /// The LQI reported for a frame received at `rssi_dbm`: linear from 0 at the sensitivity to
    /// 255 at [`LQI_SPAN_DB`] above it (802.15.4-2020 §10.2.6 leaves the mapping to the radio).
    pub fn lqi(&self, rssi_dbm: f64) -> u8 {
        let x = (rssi_dbm - self.sensitivity_dbm) / LQI_SPAN_DB * 255.0;
        x.round().clamp(0.0, 255.0) as u8
    }

    /// Mean path-loss range: the distance at which the mean RSSI (no shadowing) equals `dbm`.
    /// `None` for an explicit link table.
    pub fn range_for_rssi(&self, dbm: f64) -> Option<f64> {
        match &self.propagation {
            Propagation::LogDistance(ld) => Some(ld.distance_for_loss(self.tx_power_dbm - dbm)),
            Propagation::Table(_) => None,
        }
    }

    /// Checks that the parameters make sense.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.extra_loss) {
            return Err(crate::Error::InvalidScenario("extra_loss must be in 0..=1"));
        }
        if self.capture_margin_db.is_nan() || self.capture_margin_db < 0.0 {
            return Err(crate::Error::InvalidScenario(
                "capture margin must be ≥ 0 dB",
            ));
        }
        if let Propagation::LogDistance(ld) = &self.propagation {
            if !(ld.exponent > 0.0 && ld.d0_m > 0.0 && ld.shadowing_sigma_db >= 0.0) {
                return Err(crate::Error::InvalidScenario(
                    "path loss needs exponent > 0, d0 > 0, sigma ≥ 0",
                ));
            }
        }
        Ok(())
    }
}

/// PRR of a `psdu_len`-octet frame from `ln(1 − BER)`.
pub fn prr_from_log(ln_bit_ok: f64, psdu_len: usize) -> f64 {
    if ln_bit_ok == f64::NEG_INFINITY {
        return 0.0;
    }
    (8.0 * psdu_len as f64 * ln_bit_ok).exp().clamp(0.0, 1.0)
}

/// Whether a reception whose uniform draw is `u` fails the PRR test: exactly
/// `u >= prr_from_log(ln_bit_ok, psdu_len)` for a draw from [`Rng::unit`] (a multiple of
/// 2⁻⁵³ in `[0, 1)`), but without the exponential wherever bounds on it decide.
///
/// With `x = 8·L·ln(1 − BER) ≤ 0`, Taylor's theorem with the Lagrange remainder brackets
/// `1 + x + x²/2 + x³/6 ≤ eˣ ≤ 1 + x + x²/2`; for `x ≥ −0.5` the bracket is narrow, and a draw
/// clear of it (by far more than the rounding of `exp` and of the bracket) decides. Below
/// `x = −40`, `eˣ < 2⁻⁵³`, the smallest non-zero draw, so any non-zero draw fails. Every other
/// case computes the PRR.
#[inline]
pub fn fails_prr(u: f64, ln_bit_ok: f64, psdu_len: usize) -> bool {
    /// Margin against rounding, many orders of magnitude above it.
    const SLACK: f64 = 1e-12;
    let x = 8.0 * psdu_len as f64 * ln_bit_ok;
    if (-0.5..=0.0).contains(&x) {
        let upper = 1.0 + x + 0.5 * x * x;
        let lower = upper + x * x * x / 6.0;
        if u < lower - SLACK {
            return false;
        }
        if u >= upper + SLACK {
            return true;
        }
    } else if x < -40.0 && u > 0.0 {
        return true;
    }
    u >= prr_from_log(ln_bit_ok, psdu_len)
}

/// Mixes a seed and an unordered node pair into one 64-bit seed (SplitMix64 finaliser).
fn pair_seed(seed: u64, a: NodeId, b: NodeId) -> u64 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut z =
        seed ^ (u64::from(lo.0) << 32 | u64::from(hi.0)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A standard normal sample (Box–Muller), truncated at ±4.
fn std_normal(rng: &mut Rng) -> f64 {
    let u1 = rng.unit().max(f64::MIN_POSITIVE);
    let u2 = rng.unit();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    z.clamp(-4.0, 4.0)
}

/// The shadowing (dB) of the link between `a` and `b` for `seed` (same in both directions).
pub fn shadowing_db(seed: u64, a: NodeId, b: NodeId, sigma_db: f64) -> f64 {
    if sigma_db == 0.0 {
        return 0.0;
    }
    let mut rng = Rng::new(pair_seed(seed, a, b));
    std_normal(&mut rng) * sigma_db
}

/// One directed link as the engine keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// The receiving node.
    pub to: NodeId,
    /// Mean RSSI at the receiver, dBm.
    pub rssi_dbm: f64,
    /// `ln(1 − BER)` at that RSSI ([`RadioModel::ln_bit_ok`]).
    pub ln_bit_ok: f64,
}

/// For every node, the nodes that can hear it (RSSI at least the lower of the sensitivity
/// and the CCA threshold), sorted by node id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    out: Vec<Vec<Link>>,
}

impl Links {
    /// Computes every link of a layout. Log-distance links are found through a grid of cells
    /// one maximum range wide, so the cost grows with the number of neighbours, not N².
    pub fn compute(model: &RadioModel, positions: &[Position], seed: u64) -> Links {
        let n = positions.len();
        let floor = model.sensitivity_dbm.min(model.cca_threshold_dbm);
        let mut out: Vec<Vec<Link>> = vec![Vec::new(); n];
        match &model.propagation {
            Propagation::Table(t) => {
                for (&(from, to), &rssi) in t {
                    if from != to && rssi >= floor {
                        if let Some(v) = out.get_mut(from.index()) {
                            if to.index() < n {
                                v.push(Link {
                                    to,
                                    rssi_dbm: rssi,
                                    ln_bit_ok: model.ln_bit_ok(rssi),
                                });
                            }
                        }
                    }
                }
            }
            Propagation::LogDistance(ld) => {
                // Largest distance at which a link can reach the floor: mean + 4σ of shadowing.
                let max_loss = model.tx_power_dbm - floor + 4.0 * ld.shadowing_sigma_db;
                let cell = ld.distance_for_loss(max_loss).max(1e-3);
                let mut grid: BTreeMap<(i64, i64), Vec<usize>> = BTreeMap::new();
                let key = |p: &Position| ((p.x / cell).floor() as i64, (p.y / cell).floor() as i64);
                for (i, p) in positions.iter().enumerate() {
                    grid.entry(key(p)).or_default().push(i);
                }
                // Each unordered pair once (path loss and shadowing are symmetric).
                let mut pairs: Vec<(usize, usize, f64)> = Vec::new();
                for (i, p) in positions.iter().enumerate() {
                    let (cx, cy) = key(p);
                    for dx in -1..=1 {
                        for dy in -1..=1 {
                            let Some(cands) = grid.get(&(cx + dx, cy + dy)) else {
                                continue;
                            };
                            for &j in cands {
                                if j <= i {
                                    continue;
                                }
                                let Some(q) = positions.get(j) else { continue };
                                let d = p.distance(q);
                                if d > cell {
                                    continue;
                                }
                                let x = shadowing_db(
                                    seed,
                                    NodeId::from(i),
                                    NodeId::from(j),
                                    ld.shadowing_sigma_db,
                                );
                                let rssi = model.tx_power_dbm - ld.path_loss_db(d) - x;
                                if rssi >= floor {
                                    pairs.push((i, j, rssi));
                                }
                            }
                        }
                    }
                }
                for (i, j, rssi) in pairs {
                    let ln_bit_ok = model.ln_bit_ok(rssi);
                    if let Some(v) = out.get_mut(i) {
                        v.push(Link {
                            to: NodeId::from(j),
                            rssi_dbm: rssi,
                            ln_bit_ok,
                        });
                    }
                    if let Some(v) = out.get_mut(j) {
                        v.push(Link {
                            to: NodeId::from(i),
                            rssi_dbm: rssi,
                            ln_bit_ok,
                        });
                    }
                }
            }
        }
        for v in &mut out {
            v.sort_by_key(|l| l.to);
        }
        Links { out }
    }

    /// The links out of `from`, sorted by receiver.
    pub fn from(&self, from: NodeId) -> &[Link] {
        self.out.get(from.index()).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Mean RSSI of the link `from → to`, if it exists.
    pub fn rssi(&self, from: NodeId, to: NodeId) -> Option<f64> {
        let v = self.from(from);
        v.binary_search_by_key(&to, |l| l.to)
            .ok()
            .and_then(|i| v.get(i))
            .map(|l| l.rssi_dbm)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// No nodes at all.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Total number of directed links.
    pub fn link_count(&self) -> usize {
        self.out.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_loss_grows_with_distance() {
        let ld = LogDistance::default();
        assert!((ld.path_loss_db(1.0) - 31.7).abs() < 1e-9);
        assert!((ld.path_loss_db(10.0) - 61.7).abs() < 1e-9);
        assert!((ld.distance_for_loss(61.7) - 10.0).abs() < 1e-9);
        assert_eq!(ld.path_loss_db(0.0), ld.path_loss_db(1.0));
    }

    #[test]
    fn shadowing_is_symmetric_seeded_and_bounded() {
        let a = NodeId(3);
        let b = NodeId(9);
        assert_eq!(shadowing_db(1, a, b, 4.0), shadowing_db(1, b, a, 4.0));
        assert_ne!(shadowing_db(1, a, b, 4.0), shadowing_db(2, a, b, 4.0));
        let xs: Vec<f64> = (0..2000u32)
            .map(|i| shadowing_db(5, NodeId(i), NodeId(i + 1), 4.0))
            .collect();
        assert!(xs.iter().all(|x| x.abs() <= 16.0));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.4, "{mean}");
        assert!((var.sqrt() - 4.0).abs() < 0.4, "{}", var.sqrt());
    }

    #[test]
    fn fails_prr_decides_as_the_computed_prr() {
        let mut rng = Rng::new(7);
        let m = RadioModel::default();
        let mut checked = 0u32;
        for i in 0..200_000u32 {
            // RSSIs across and beyond the transitional region, every PSDU length.
            let rssi = -120.0 + 40.0 * rng.unit();
            let ln = m.ln_bit_ok(rssi);
            let len = (i % 140) as usize;
            let prr = prr_from_log(ln, len);
            // Draws at random, at the PRR itself and one step either side of it.
            let step = 1.0 / (1u64 << 53) as f64;
            let at = (prr / step).floor() * step;
            for u in [rng.unit(), at, at + step, (at - step).max(0.0), 0.0] {
                assert_eq!(fails_prr(u, ln, len), u >= prr, "u {u} ln {ln} len {len}");
                checked += 1;
            }
        }
        assert_eq!(checked, 1_000_000);
        assert!(fails_prr(0.0, f64::NEG_INFINITY, 20));
        assert!(fails_prr(0.0, f64::NEG_INFINITY, 0));
        assert!(!fails_prr(0.5, 0.0, 20));
        assert!(fails_prr(0.5, -1.0, 20));
        assert!(!fails_prr(0.5, -1e-9, 20));
    }

    #[test]
    fn lqi_maps_linearly() {
        let m = RadioModel::default();
        assert_eq!(m.lqi(m.sensitivity_dbm - 5.0), 0);
        assert_eq!(m.lqi(m.sensitivity_dbm), 0);
        assert_eq!(m.lqi(m.sensitivity_dbm + 15.0), 128);
        assert_eq!(m.lqi(m.sensitivity_dbm + 40.0), 255);
    }
}
