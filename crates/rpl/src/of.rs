//! Objective functions: OF0 (RFC 6552) and MRHOF with ETX (RFC 6719).
//!
//! Both turn a candidate parent's advertised rank and the link's ETX (×128, from the link
//! layer) into the rank this node would have through that parent, and tell how much better a
//! candidate must be before the preferred parent changes (hysteresis).

use crate::consts::{INFINITE_RANK, OCP_MRHOF, OCP_OF0};

/// DEFAULT_STEP_OF_RANK (RFC 6552 §6.3).
pub const DEFAULT_STEP_OF_RANK: u16 = 3;
/// MINIMUM_STEP_OF_RANK (RFC 6552 §6.3).
pub const MINIMUM_STEP_OF_RANK: u16 = 1;
/// MAXIMUM_STEP_OF_RANK (RFC 6552 §6.3).
pub const MAXIMUM_STEP_OF_RANK: u16 = 9;
/// DEFAULT_RANK_FACTOR (RFC 6552 §6.3).
pub const DEFAULT_RANK_FACTOR: u16 = 1;
/// DEFAULT_RANK_STRETCH (RFC 6552 §6.3).
pub const DEFAULT_RANK_STRETCH: u16 = 0;
/// MAX_LINK_METRIC for ETX: 512 = ETX 4 (RFC 6719 §5).
pub const MAX_LINK_METRIC: u16 = 512;
/// MAX_PATH_COST for ETX: 32768 = ETX 256 (RFC 6719 §5).
pub const MAX_PATH_COST: u32 = 32_768;
/// PARENT_SWITCH_THRESHOLD for ETX: 192 = ETX 1.5 (RFC 6719 §5).
pub const PARENT_SWITCH_THRESHOLD: u16 = 192;
/// PARENT_SET_SIZE (RFC 6719 §5).
pub const PARENT_SET_SIZE: usize = 3;
/// ETX of one perfect transmission, in the ×128 fixed point of RFC 6551 §4.3.2.
pub const ETX_ONE: u16 = 128;

/// Which objective function a DODAG uses, from its OCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ObjectiveFunction {
    /// OF0 (OCP 0).
    Of0,
    /// MRHOF with the ETX metric (OCP 1).
    Mrhof,
}

impl ObjectiveFunction {
    /// The function for an OCP; `None` if unsupported.
    pub fn from_ocp(ocp: u16) -> Option<Self> {
        match ocp {
            OCP_OF0 => Some(ObjectiveFunction::Of0),
            OCP_MRHOF => Some(ObjectiveFunction::Mrhof),
            _ => None,
        }
    }
    /// The Objective Code Point.
    pub fn ocp(self) -> u16 {
        match self {
            ObjectiveFunction::Of0 => OCP_OF0,
            ObjectiveFunction::Mrhof => OCP_MRHOF,
        }
    }

    /// OF0 step_of_rank from an ETX (×128): `3·ETX − 2` clamped to 1..=9 (a common mapping;
    /// RFC 6552 §4.1 leaves it to the implementation), DEFAULT_STEP_OF_RANK without one.
    pub fn of0_step(etx: Option<u16>) -> u16 {
        match etx {
            None => DEFAULT_STEP_OF_RANK,
            Some(e) => {
                let s = (3 * u32::from(e))
                    .div_ceil(u32::from(ETX_ONE))
                    .saturating_sub(2);
                u16::try_from(s)
                    .unwrap_or(MAXIMUM_STEP_OF_RANK)
                    .clamp(MINIMUM_STEP_OF_RANK, MAXIMUM_STEP_OF_RANK)
            }
        }
    }

    /// The rank this node would have with a parent advertising `parent_rank` over a link of
    /// ETX `etx` (×128; `None` if unknown). `None` if the parent is unusable.
    ///
    /// OF0 (RFC 6552 §4.1): `R(P) + (Rf·Sp + Sr)·MinHopRankIncrease`.
    /// MRHOF (RFC 6719 §3.1, §3.3): path cost `R(P) + ETX` (unknown ETX counts as 2), links
    /// above MAX_LINK_METRIC and paths above MAX_PATH_COST excluded, and the rank is at least
    /// `R(P) + MinHopRankIncrease`.
    pub fn rank_via(
        self,
        parent_rank: u16,
        etx: Option<u16>,
        min_hop_rank_increase: u16,
    ) -> Option<u16> {
        if parent_rank == INFINITE_RANK {
            return None;
        }
        let p = u32::from(parent_rank);
        let mhri = u32::from(min_hop_rank_increase.max(1));
        let r = match self {
            ObjectiveFunction::Of0 => {
                let sp = u32::from(Self::of0_step(etx));
                p + (u32::from(DEFAULT_RANK_FACTOR) * sp + u32::from(DEFAULT_RANK_STRETCH)) * mhri
            }
            ObjectiveFunction::Mrhof => {
                let link = etx.unwrap_or(2 * ETX_ONE);
                if link > MAX_LINK_METRIC {
                    return None;
                }
                let cost = p + u32::from(link);
                if cost > MAX_PATH_COST {
                    return None;
                }
                cost.max(p + mhri)
            }
        };
        u16::try_from(r).ok().filter(|r| *r < INFINITE_RANK)
    }

    /// How much lower (in rank units) a candidate's resulting rank must be before the preferred
    /// parent changes: PARENT_SWITCH_THRESHOLD for MRHOF (RFC 6719 §3.3), one MinHopRankIncrease
    /// (one DAGRank step) for OF0.
    pub fn switch_threshold(self, min_hop_rank_increase: u16) -> u16 {
        match self {
            ObjectiveFunction::Of0 => min_hop_rank_increase,
            ObjectiveFunction::Mrhof => PARENT_SWITCH_THRESHOLD,
        }
    }
}

/// DAGRank(rank) = floor(rank / MinHopRankIncrease) (RFC 6550 §3.5.1).
pub fn dag_rank(rank: u16, min_hop_rank_increase: u16) -> u16 {
    rank / min_hop_rank_increase.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of0_rank_increase() {
        let of = ObjectiveFunction::Of0;
        // Default step 3 → +3·256.
        assert_eq!(of.rank_via(256, None, 256), Some(256 + 768));
        // ETX 1 → step 1; ETX 2 → step 4; huge ETX → step 9.
        assert_eq!(of.rank_via(256, Some(128), 256), Some(512));
        assert_eq!(of.rank_via(256, Some(256), 256), Some(256 + 4 * 256));
        assert_eq!(of.rank_via(256, Some(10_000), 256), Some(256 + 9 * 256));
        assert_eq!(of.rank_via(INFINITE_RANK, None, 256), None);
        assert_eq!(of.rank_via(65_000, None, 256), None);
        assert_eq!(ObjectiveFunction::from_ocp(0), Some(of));
        assert_eq!(ObjectiveFunction::from_ocp(7), None);
    }

    #[test]
    fn mrhof_rank_and_limits() {
        let of = ObjectiveFunction::Mrhof;
        // Path cost = parent rank + ETX, but at least parent + MinHopRankIncrease.
        assert_eq!(of.rank_via(256, Some(384), 256), Some(640));
        assert_eq!(of.rank_via(256, Some(128), 256), Some(512));
        assert_eq!(of.rank_via(256, Some(128), 64), Some(384));
        // Link above MAX_LINK_METRIC and path above MAX_PATH_COST are excluded.
        assert_eq!(of.rank_via(256, Some(513), 256), None);
        assert_eq!(of.rank_via(32_700, Some(200), 256), None);
        assert_eq!(of.switch_threshold(256), PARENT_SWITCH_THRESHOLD);
        assert_eq!(dag_rank(767, 256), 2);
    }
}
