//! proptest strategies for the crate's Reprs (STYLE §6).

use crate::wire::tlv::{LeaderData, SourceAddress, TlvRepr};
use alloc::vec::Vec;
use amimesh_core::{ExtAddr, PanId, ShortAddr};
use proptest::prelude::*;

/// Owned material from which a [`TlvRepr`] of any variant is built.
#[derive(Debug, Clone)]
pub struct OwnedTlv {
    kind: u8,
    n: u64,
    bytes: Vec<u8>,
}

/// Any TLV, every variant, values that fit the length byte.
pub fn tlv() -> impl Strategy<Value = OwnedTlv> {
    (
        0u8..=28,
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..24),
    )
        .prop_map(|(kind, n, bytes)| OwnedTlv { kind, n, bytes })
}

/// A list of TLVs.
pub fn tlvs() -> impl Strategy<Value = Vec<OwnedTlv>> {
    proptest::collection::vec(tlv(), 0..6)
}

impl OwnedTlv {
    /// The TLV this material describes.
    pub fn repr(&self) -> TlvRepr<'_> {
        let n = self.n;
        let v = self.bytes.as_slice();
        let b = n.to_be_bytes();
        match self.kind {
            0 => TlvRepr::SourceAddress(SourceAddress::Short(ShortAddr(n as u16))),
            1 => TlvRepr::SourceAddress(SourceAddress::Extended(ExtAddr::from_u64(n))),
            2 => TlvRepr::Mode(n as u8),
            3 => TlvRepr::Timeout(n as u32),
            4 => TlvRepr::Challenge(v),
            5 => TlvRepr::Response(v),
            6 => TlvRepr::LinkLayerFrameCounter(n as u32),
            7 => TlvRepr::LinkQuality(v),
            8 => TlvRepr::NetworkParameter(v),
            9 => TlvRepr::MleFrameCounter(n as u32),
            10 => TlvRepr::Route64(v),
            11 => TlvRepr::Address16(ShortAddr(n as u16)),
            12 => TlvRepr::LeaderData(LeaderData {
                partition_id: n as u32,
                weighting: b[0],
                data_version: b[1],
                stable_data_version: b[2],
                leader_router_id: b[3],
            }),
            13 => TlvRepr::NetworkData(v),
            14 => TlvRepr::TlvRequest(v),
            15 => TlvRepr::ScanMask(n as u8),
            16 => TlvRepr::Connectivity(v),
            17 => TlvRepr::LinkMargin(n as u8),
            18 => TlvRepr::Status(n as u8),
            19 => TlvRepr::Version(n as u16),
            20 => TlvRepr::AddressRegistration(v),
            21 => TlvRepr::Channel {
                page: b[7],
                channel: n as u16,
            },
            22 => TlvRepr::PanId(PanId(n as u16)),
            23 => TlvRepr::ActiveTimestamp(n),
            24 => TlvRepr::PendingTimestamp(n),
            25 => TlvRepr::ActiveOperationalDataset(v),
            26 => TlvRepr::PendingOperationalDataset(v),
            27 => TlvRepr::ThreadDiscovery(v),
            _ => TlvRepr::Unknown {
                tlv_type: 27 + (n % 229) as u8,
                value: v,
            },
        }
    }
}
