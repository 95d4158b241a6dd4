//! proptest strategies for the MAC module's Reprs.

use proptest::prelude::*;

use super::beacon_payload::{BeaconPayloadRepr, RoutingHint, TLV_PRE, TLV_ROUTING_HINT};

/// Any beacon payload Repr, including foreign TLVs (types other than the amimesh ones).
pub fn beacon_payload() -> impl Strategy<Value = BeaconPayloadRepr> {
    (
        any::<u8>(),
        any::<[u8; 16]>(),
        any::<bool>(),
        proptest::option::of((any::<u16>(), any::<u8>())),
        proptest::collection::vec(
            (
                (0u8..=15).prop_filter("not amimesh", |t| *t != TLV_PRE && *t != TLV_ROUTING_HINT),
                proptest::collection::vec(any::<u8>(), 0..=15),
            ),
            0..4,
        ),
    )
        .prop_map(|(flags, id, pre, hint, others)| {
            let mut r = BeaconPayloadRepr::new(
                flags,
                id,
                pre,
                hint.map(|(rank, hops)| RoutingHint { rank, hops }),
            );
            for (ty, v) in others {
                // Stops silently once the foreign-TLV space is full.
                let _ = r.push_other_tlv(ty, &v);
            }
            r
        })
}
