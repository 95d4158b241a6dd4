//! proptest strategies for the wire types (owned forms; tests borrow from them).

use crate::wire::avp::{AvpCode, AvpRepr};
use crate::wire::eap::{EapCode, EapRepr, EapType};
use crate::wire::eap_psk::PskRepr;
use crate::wire::message::{Flags, MessageType};
use alloc::vec::Vec;
use proptest::prelude::*;

/// An AVP: code, vendor, value.
#[derive(Debug, Clone)]
pub struct OwnedAvp {
    pub code: u16,
    pub vendor_id: Option<u32>,
    pub value: Vec<u8>,
}

impl OwnedAvp {
    pub fn repr(&self) -> AvpRepr<'_> {
        AvpRepr {
            code: AvpCode::from(self.code),
            vendor_id: self.vendor_id,
            value: &self.value,
        }
    }
}

pub fn avp() -> impl Strategy<Value = OwnedAvp> {
    (
        any::<u16>(),
        proptest::option::of(any::<u32>()),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(code, vendor_id, value)| OwnedAvp {
            code,
            vendor_id,
            value,
        })
}

/// The wire bytes of a list of AVPs.
pub fn avp_area(avps: &[OwnedAvp]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in avps {
        let r = a.repr();
        let start = out.len();
        out.resize(start + r.buffer_len(), 0xa5);
        r.emit(&mut crate::wire::Avp::new_unchecked(&mut out[start..]));
    }
    out
}

/// A message: type, flags, session id, seq, AVP area.
#[derive(Debug, Clone)]
pub struct OwnedMessage {
    pub message_type: MessageType,
    pub flags: Flags,
    pub session_id: u32,
    pub seq: u32,
    pub avps: Vec<u8>,
}

pub fn message() -> impl Strategy<Value = OwnedMessage> {
    (
        1u16..=5,
        any::<u16>().prop_filter("S and C", |f| f & 0x6000 != 0x6000),
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec(avp(), 0..6),
    )
        .prop_map(|(t, f, session_id, seq, avps)| OwnedMessage {
            message_type: MessageType::from(t),
            flags: Flags(f),
            session_id,
            seq,
            avps: avp_area(&avps),
        })
}

/// An EAP packet: code, identifier, type, data.
#[derive(Debug, Clone)]
pub struct OwnedEap {
    pub code: EapCode,
    pub identifier: u8,
    pub eap_type: Option<EapType>,
    pub data: Vec<u8>,
}

impl OwnedEap {
    pub fn repr(&self) -> EapRepr<'_> {
        EapRepr {
            code: self.code,
            identifier: self.identifier,
            eap_type: self.eap_type,
            type_data: &self.data,
        }
    }
}

pub fn eap() -> impl Strategy<Value = OwnedEap> {
    prop_oneof![
        (
            1u8..=2,
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..60)
        )
            .prop_map(|(c, identifier, t, data)| OwnedEap {
                code: EapCode::from(c),
                identifier,
                eap_type: Some(EapType::from(t)),
                data,
            }),
        (3u8..=4, any::<u8>()).prop_map(|(c, identifier)| OwnedEap {
            code: EapCode::from(c),
            identifier,
            eap_type: None,
            data: Vec::new(),
        }),
    ]
}

/// An EAP-PSK message with owned variable parts.
#[derive(Debug, Clone)]
pub struct OwnedPsk {
    pub t: u8,
    pub a: [u8; 16],
    pub b: [u8; 16],
    pub c: [u8; 16],
    pub tail: Vec<u8>,
}

impl OwnedPsk {
    pub fn repr(&self) -> PskRepr<'_> {
        match self.t {
            0 => PskRepr::First {
                rand_s: self.a,
                id_s: &self.tail,
            },
            1 => PskRepr::Second {
                rand_s: self.a,
                rand_p: self.b,
                mac_p: self.c,
                id_p: &self.tail,
            },
            2 => PskRepr::Third {
                rand_s: self.a,
                mac_s: self.b,
                pchannel: &self.tail,
            },
            _ => PskRepr::Fourth {
                rand_s: self.a,
                pchannel: &self.tail,
            },
        }
    }
}

pub fn psk() -> impl Strategy<Value = OwnedPsk> {
    (
        0u8..=3,
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        proptest::collection::vec(any::<u8>(), 21..60),
    )
        .prop_map(|(t, a, b, c, tail)| OwnedPsk { t, a, b, c, tail })
}
