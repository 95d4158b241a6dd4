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

/// Encodes a list of TLVs.
pub fn encode_tlvs(list: &[OwnedTlv]) -> Vec<u8> {
    let mut out = alloc::vec![0u8; list.iter().map(|t| t.repr().buffer_len()).sum()];
    let mut w = crate::wire::tlv::TlvWriter::new(&mut out);
    for t in list {
        w.push(&t.repr()).unwrap();
    }
    out
}

/// An auxiliary security header MLE accepts: levels 1–7, a frame counter, key id mode 1 or 2.
pub fn mle_aux() -> impl Strategy<Value = amimesh_mac::security::AuxSecurityHeaderRepr> {
    use amimesh_mac::security::{AuxSecurityHeaderRepr, KeyIdentifier, SecurityLevel};
    (
        1u8..=7,
        any::<u32>(),
        any::<bool>(),
        any::<[u8; 4]>(),
        any::<u8>(),
    )
        .prop_map(|(level, fc, mode2, source, index)| AuxSecurityHeaderRepr {
            security_level: SecurityLevel::from_bits(level),
            frame_counter: Some(fc),
            key_id: if mode2 {
                KeyIdentifier::Source4 { source, index }
            } else {
                KeyIdentifier::Index(index)
            },
            asn_in_nonce: false,
        })
}

/// Owned material for a [`crate::wire::message::MessageRepr`].
#[derive(Debug, Clone)]
pub enum OwnedMessage {
    /// Suite 255: command and encoded TLVs.
    Unsecured(u8, Vec<u8>),
    /// Suite 0: header, ciphertext, MIC.
    Secured(
        amimesh_mac::security::AuxSecurityHeaderRepr,
        Vec<u8>,
        Vec<u8>,
    ),
}

/// Any MLE message.
pub fn message() -> impl Strategy<Value = OwnedMessage> {
    prop_oneof![
        (any::<u8>(), tlvs()).prop_map(|(c, t)| OwnedMessage::Unsecured(c, encode_tlvs(&t))),
        (
            mle_aux(),
            proptest::collection::vec(any::<u8>(), 1..48),
            any::<[u8; 16]>()
        )
            .prop_map(|(aux, ct, mic)| {
                let m = mic[..aux.security_level.mic_len()].to_vec();
                OwnedMessage::Secured(aux, ct, m)
            }),
    ]
}

impl OwnedMessage {
    /// The Repr.
    pub fn repr(&self) -> crate::wire::message::MessageRepr<'_> {
        use crate::wire::message::{BodyRepr, MessageRepr, SecuredRepr};
        match self {
            OwnedMessage::Unsecured(c, t) => MessageRepr::Unsecured(BodyRepr {
                command: (*c).into(),
                tlvs: t,
            }),
            OwnedMessage::Secured(aux, ct, mic) => MessageRepr::Secured(SecuredRepr {
                aux: *aux,
                ciphertext: ct,
                mic,
            }),
        }
    }
}
