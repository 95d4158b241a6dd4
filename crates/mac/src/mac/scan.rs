//! Active scan results and PAN selection (802.15.4-2020 §6.3.1, MLME-SCAN with ScanType = Active).
//!
//! During an active scan the MAC sends a Beacon Request on each channel of the list and records
//! every beacon heard within the dwell time as a [`PanDescriptor`] (§8.2.5.2 `PANDescriptor`,
//! reduced to what a non-beacon network needs). One descriptor is kept per (channel, PAN,
//! coordinator address); a repeated beacon updates it.
//!
//! Which PAN to join is a policy: [`PanSelector`] compares two descriptors; [`DefaultSelector`]
//! prefers (1) beacons that permit joining, (2) among those, senders that advertise a PANA
//! relay, then (3) the lowest advertised RPL rank, then (4) the best LQI.

use core::cmp::Ordering;

use amimesh_core::{Duration, Instant, LinkAddr, PanId};

use super::beacon_payload::BeaconPayloadRepr;

/// How long to listen on each channel after its Beacon Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanDuration {
    /// `ScanDuration` exponent `n`: `aBaseSuperframeDuration · (2^n + 1)` symbols (0–14).
    Exponent(u8),
    /// A fixed dwell time.
    Fixed(Duration),
}

/// One PAN heard during a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanDescriptor {
    /// Channel the beacon was heard on.
    pub channel: u8,
    /// The coordinator's PAN id (the beacon's source PAN id).
    pub pan_id: PanId,
    /// The coordinator's address (the beacon's source address).
    pub coord_addr: LinkAddr,
    /// Superframe Specification field of the beacon (§7.3.1.2), as received.
    pub superframe_spec: u16,
    /// LQI of the (best) beacon received.
    pub lqi: u8,
    /// RSSI of that beacon (dBm).
    pub rssi: i8,
    /// When the beacon was received.
    pub at: Instant,
    /// The beacon payload, if it is one amimesh (ZigBee IP layout) understands.
    pub payload: Option<BeaconPayloadRepr>,
}

impl PanDescriptor {
    /// Association Permit bit of the superframe specification (bit 15).
    pub const fn association_permit(&self) -> bool {
        self.superframe_spec & 0x8000 != 0
    }
    /// Joining is permitted: the payload's allow-join flag, or without an amimesh payload, the
    /// Association Permit bit.
    pub fn joining_permitted(&self) -> bool {
        match &self.payload {
            Some(p) => p.allow_join(),
            None => self.association_permit(),
        }
    }
    /// The sender advertises a PANA Relay Element.
    pub fn pre_available(&self) -> bool {
        self.payload.is_some_and(|p| p.pre_available)
    }
    /// The advertised RPL rank (0xFFFF when absent).
    pub fn rank(&self) -> u16 {
        self.payload
            .and_then(|p| p.routing_hint)
            .map_or(0xffff, |h| h.rank)
    }
}

/// A PAN-selection policy.
pub trait PanSelector {
    /// `Ordering::Less` when `a` is the better choice.
    fn compare(&self, a: &PanDescriptor, b: &PanDescriptor) -> Ordering;

    /// Can this PAN be used at all? The default accepts every descriptor.
    fn acceptable(&self, _d: &PanDescriptor) -> bool {
        true
    }
}

/// The default policy: joinable first, then PANA relay available, then lowest rank, then best
/// LQI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultSelector;

impl PanSelector for DefaultSelector {
    fn compare(&self, a: &PanDescriptor, b: &PanDescriptor) -> Ordering {
        b.joining_permitted()
            .cmp(&a.joining_permitted())
            .then(b.pre_available().cmp(&a.pre_available()))
            .then(a.rank().cmp(&b.rank()))
            .then(b.lqi.cmp(&a.lqi))
    }
}

/// The best acceptable descriptor under `policy`.
pub fn select_pan<'a>(
    pans: &'a [PanDescriptor],
    policy: &impl PanSelector,
) -> Option<&'a PanDescriptor> {
    pans.iter()
        .filter(|d| policy.acceptable(d))
        .min_by(|a, b| policy.compare(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mac::beacon_payload::{FLAG_ALLOW_JOIN, RoutingHint};
    use amimesh_core::ShortAddr;

    fn desc(addr: u16, lqi: u8, flags: u8, pre: bool, rank: Option<u16>) -> PanDescriptor {
        PanDescriptor {
            channel: 11,
            pan_id: PanId(0x1234),
            coord_addr: LinkAddr::Short(ShortAddr(addr)),
            superframe_spec: 0xcfff,
            lqi,
            rssi: -60,
            at: Instant::ZERO,
            payload: Some(BeaconPayloadRepr::new(
                flags,
                [0; 16],
                pre,
                rank.map(|rank| RoutingHint { rank, hops: 1 }),
            )),
        }
    }

    #[test]
    fn default_policy_order() {
        let closed = desc(1, 255, 0, true, Some(256)); // joining not permitted
        let no_pre = desc(2, 255, FLAG_ALLOW_JOIN, false, Some(256));
        let deep = desc(3, 250, FLAG_ALLOW_JOIN, true, Some(1024));
        let near_weak = desc(4, 100, FLAG_ALLOW_JOIN, true, Some(512));
        let near_strong = desc(5, 200, FLAG_ALLOW_JOIN, true, Some(512));
        let all = [closed, no_pre, deep, near_weak, near_strong];
        assert_eq!(select_pan(&all, &DefaultSelector), Some(&near_strong));
        assert_eq!(select_pan(&all[..3], &DefaultSelector), Some(&deep));
        assert_eq!(select_pan(&all[..2], &DefaultSelector), Some(&no_pre));
        assert_eq!(select_pan(&[], &DefaultSelector), None);
        // Without an amimesh payload the Association Permit bit decides joinability.
        let mut foreign = closed;
        foreign.payload = None;
        assert!(foreign.joining_permitted());
        foreign.superframe_spec = 0x4fff;
        assert!(!foreign.joining_permitted());
        assert_eq!(foreign.rank(), 0xffff);
    }

    #[test]
    fn custom_policy_hook() {
        struct OnlyPan(PanId);
        impl PanSelector for OnlyPan {
            fn compare(&self, a: &PanDescriptor, b: &PanDescriptor) -> Ordering {
                b.lqi.cmp(&a.lqi)
            }
            fn acceptable(&self, d: &PanDescriptor) -> bool {
                d.pan_id == self.0
            }
        }
        let mut other = desc(1, 255, FLAG_ALLOW_JOIN, true, Some(256));
        other.pan_id = PanId(7);
        let mine = desc(2, 10, 0, false, None);
        assert_eq!(
            select_pan(&[other, mine], &OnlyPan(PanId(0x1234))),
            Some(&mine)
        );
    }
}
