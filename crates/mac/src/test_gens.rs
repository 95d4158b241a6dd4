//! proptest strategies and the four Repr properties (STYLE §6): (1) emit → parse gives the
//! Repr back; (2) `buffer_len` is exactly what emit writes; (3) arbitrary bytes never panic;
//! (4) parse → emit → parse is a fixed point.

use crate::security::ccm_star::CcmKey;
use crate::security::frame::{KeyTable, secured_layout, unsecure_frame};
use crate::security::{AuxSecurityHeader, AuxSecurityHeaderRepr, KeyIdentifier, SecurityLevel};
use crate::wire::beacon::{BeaconRepr, GtsDescriptor, SuperframeSpec};
use crate::wire::command::MacCommandRepr;
use crate::wire::frame::{
    AddressingMode, Frame, FrameRepr, FrameType, FrameVersion, pan_ids_present,
};
use crate::wire::ie::{
    HeaderElementId, HeaderIe, HeaderIeRepr, NestedIeRepr, PayloadGroupId, PayloadIe, PayloadIeRepr,
};
use alloc::vec;
use alloc::vec::Vec;
use amimesh_core::{ExtAddr, Key128, LinkAddr, PanId, ShortAddr};
use proptest::collection::vec as pvec;
use proptest::prelude::*;

pub fn security_level() -> impl Strategy<Value = SecurityLevel> {
    (0u8..8).prop_map(SecurityLevel::from_bits)
}

pub fn key_identifier() -> impl Strategy<Value = KeyIdentifier> {
    prop_oneof![
        Just(KeyIdentifier::Implicit),
        any::<u8>().prop_map(KeyIdentifier::Index),
        (any::<[u8; 4]>(), any::<u8>())
            .prop_map(|(source, index)| KeyIdentifier::Source4 { source, index }),
        (any::<[u8; 8]>(), any::<u8>())
            .prop_map(|(source, index)| KeyIdentifier::Source8 { source, index }),
    ]
}

pub fn aux_header(allow_suppression: bool) -> impl Strategy<Value = AuxSecurityHeaderRepr> {
    (
        security_level(),
        any::<u32>(),
        any::<bool>(),
        key_identifier(),
        any::<bool>(),
    )
        .prop_map(
            move |(security_level, fc, suppress, key_id, asn)| AuxSecurityHeaderRepr {
                security_level,
                frame_counter: (!(suppress && allow_suppression)).then_some(fc),
                key_id,
                asn_in_nonce: asn,
            },
        )
}

fn link_addr(mode: AddressingMode) -> BoxedStrategy<LinkAddr> {
    match mode {
        AddressingMode::Short => any::<u16>()
            .prop_map(|s| LinkAddr::Short(ShortAddr(s)))
            .boxed(),
        AddressingMode::Extended => any::<[u8; 8]>()
            .prop_map(|e| LinkAddr::Extended(ExtAddr(e)))
            .boxed(),
        _ => Just(LinkAddr::Absent).boxed(),
    }
}

fn mode() -> impl Strategy<Value = AddressingMode> {
    prop_oneof![
        Just(AddressingMode::Absent),
        Just(AddressingMode::Short),
        Just(AddressingMode::Extended)
    ]
}

/// A header IE other than a termination.
pub fn header_ie() -> impl Strategy<Value = (u8, Vec<u8>)> {
    ((0u8..0x7e), pvec(any::<u8>(), 0..12))
}

/// A payload IE other than the termination.
pub fn payload_ie() -> impl Strategy<Value = (u8, Vec<u8>)> {
    ((0u8..0x0f), pvec(any::<u8>(), 0..12))
}

/// The owned parts of a [`FrameRepr`].
#[derive(Debug, Clone)]
pub struct OwnedFrame {
    pub frame_type: FrameType,
    pub version: FrameVersion,
    pub security: Option<AuxSecurityHeaderRepr>,
    pub flags: (bool, bool, bool),
    pub seq: Option<u8>,
    pub pans: (Option<PanId>, Option<PanId>),
    pub dst: LinkAddr,
    pub src: LinkAddr,
    pub header_ies: Vec<u8>,
    pub content: Vec<u8>,
}

impl OwnedFrame {
    pub fn repr(&self) -> FrameRepr<'_> {
        FrameRepr {
            frame_type: self.frame_type,
            frame_version: self.version,
            security: self.security,
            frame_pending: self.flags.0,
            ack_request: self.flags.1,
            pan_id_compression: self.flags.2,
            sequence_number: self.seq,
            dst_pan_id: self.pans.0,
            dst_addr: self.dst,
            src_pan_id: self.pans.1,
            src_addr: self.src,
            header_ies: &self.header_ies,
            content: &self.content,
        }
    }
}

fn emit_header_ies(list: &[(u8, Vec<u8>)], term: Option<HeaderIeRepr<'_>>) -> Vec<u8> {
    let mut out = vec![0u8; 1024];
    let mut n = 0;
    for (id, c) in list {
        n += HeaderIeRepr {
            element_id: HeaderElementId::from(*id),
            content: c,
        }
        .emit(&mut out[n..])
        .unwrap();
    }
    if let Some(t) = term {
        n += t.emit(&mut out[n..]).unwrap();
    }
    out.truncate(n);
    out
}

fn emit_payload_ies(list: &[(u8, Vec<u8>)], terminate: bool) -> Vec<u8> {
    let mut out = vec![0u8; 1024];
    let mut n = 0;
    for (g, c) in list {
        n += PayloadIeRepr {
            group_id: PayloadGroupId::from(*g),
            content: c,
        }
        .emit(&mut out[n..])
        .unwrap();
    }
    if terminate {
        n += PayloadIeRepr::TERMINATION.emit(&mut out[n..]).unwrap();
    }
    out.truncate(n);
    out
}

pub fn frame() -> impl Strategy<Value = OwnedFrame> {
    let kind = prop_oneof![
        Just(FrameType::Beacon),
        Just(FrameType::Data),
        Just(FrameType::Ack),
        Just(FrameType::MacCommand)
    ];
    let version = prop_oneof![
        Just(FrameVersion::Ieee2003),
        Just(FrameVersion::Ieee2006),
        Just(FrameVersion::Ieee2015)
    ];
    (kind, version, mode(), mode(), any::<[bool; 4]>())
        .prop_flat_map(|(ft, v, dm, sm, b)| {
            let v2 = v == FrameVersion::Ieee2015;
            let sec = if v == FrameVersion::Ieee2003 {
                Just(None).boxed()
            } else {
                proptest::option::of(aux_header(v2)).boxed()
            };
            let ies = if v2 {
                (pvec(header_ie(), 0..3), 0u8..4, pvec(payload_ie(), 0..3)).boxed()
            } else {
                Just((vec![], 0u8, vec![])).boxed()
            };
            (
                Just((ft, v, dm, sm, b)),
                link_addr(dm),
                link_addr(sm),
                any::<(u16, u16, u8)>(),
                sec,
                ies,
                pvec(any::<u8>(), 0..40),
            )
        })
        .prop_map(
            |((ft, v, dm, sm, b), dst, src, (p1, p2, s), sec, (h, term, p), payload)| {
                let v2 = v == FrameVersion::Ieee2015;
                let (dp, sp) = pan_ids_present(v, dm, sm, b[2]);
                // term: 0 none (then no content), 1 HT2 + payload, 2 HT1 + payload IEs + payload,
                // 3 HT1 + payload IEs only.
                let (header_ies, content) = if !v2 || (h.is_empty() && term == 0) {
                    (vec![], payload)
                } else {
                    match term {
                        0 => (emit_header_ies(&h, None), vec![]),
                        1 => (emit_header_ies(&h, Some(HeaderIeRepr::HT2)), payload),
                        2 => {
                            let mut c = emit_payload_ies(&p, true);
                            c.extend_from_slice(&payload);
                            (emit_header_ies(&h, Some(HeaderIeRepr::HT1)), c)
                        }
                        _ => (
                            emit_header_ies(&h, Some(HeaderIeRepr::HT1)),
                            emit_payload_ies(&p, false),
                        ),
                    }
                };
                OwnedFrame {
                    frame_type: ft,
                    version: v,
                    security: sec,
                    flags: (b[0], b[1], b[2]),
                    seq: (!(v2 && b[3])).then_some(s),
                    pans: (dp.then_some(PanId(p1)), sp.then_some(PanId(p2))),
                    dst,
                    src,
                    header_ies,
                    content,
                }
            },
        )
}

pub fn beacon() -> impl Strategy<Value = (BeaconRepr<'static>, Vec<u8>)> {
    (
        any::<u16>(),
        any::<bool>(),
        0u8..0x80,
        pvec((any::<u16>(), 0u8..16, 0u8..16), 0..8),
        pvec(any::<u16>(), 0..8),
        pvec(any::<[u8; 8]>(), 0..8),
        pvec(any::<u8>(), 0..20),
    )
        .prop_map(|(sf, permit, dirs, gts, ps, pe, payload)| {
            let b = BeaconRepr {
                superframe_spec: SuperframeSpec(sf),
                gts_permit: permit,
                gts_directions: if gts.is_empty() { 0 } else { dirs },
                gts: gts
                    .iter()
                    .take(7)
                    .map(|&(a, s, l)| GtsDescriptor {
                        short_addr: ShortAddr(a),
                        starting_slot: s,
                        length: l,
                    })
                    .collect(),
                pending_short: ps.iter().take(7).map(|&s| ShortAddr(s)).collect(),
                pending_ext: pe.iter().take(7).map(|&e| ExtAddr(e)).collect(),
                payload: &[],
            };
            (b, payload)
        })
}

pub fn command() -> impl Strategy<Value = (MacCommandRepr<'static>, Vec<u8>)> {
    (
        0u8..12,
        any::<[u8; 8]>(),
        any::<bool>(),
        pvec(any::<u8>(), 0..10),
    )
        .prop_map(|(which, b, page, other)| {
            let r = match which {
                0 => MacCommandRepr::AssociationRequest { capability: b[0] },
                1 => MacCommandRepr::AssociationResponse {
                    short_addr: ShortAddr(u16::from_le_bytes([b[0], b[1]])),
                    status: b[2],
                },
                2 => MacCommandRepr::DisassociationNotification { reason: b[0] },
                3 => MacCommandRepr::DataRequest,
                4 => MacCommandRepr::PanIdConflictNotification,
                5 => MacCommandRepr::OrphanNotification,
                6 => MacCommandRepr::BeaconRequest,
                7 => MacCommandRepr::CoordinatorRealignment {
                    pan_id: PanId(u16::from_le_bytes([b[0], b[1]])),
                    coord_short_addr: ShortAddr(u16::from_le_bytes([b[2], b[3]])),
                    channel: b[4],
                    short_addr: ShortAddr(u16::from_le_bytes([b[5], b[6]])),
                    channel_page: page.then_some(b[7]),
                },
                8 => MacCommandRepr::GtsRequest {
                    characteristics: b[0],
                },
                _ => MacCommandRepr::Other {
                    id: 0x20 | (b[0] & 0x1f),
                    content: &[],
                },
            };
            (r, other)
        })
}

fn key_table() -> KeyTable<1, 0> {
    let mut t = KeyTable::new();
    t.add_key(None, CcmKey::new(&Key128::new([0x42; 16])))
        .unwrap();
    t
}

proptest! {
    #[test]
    fn frame_round_trip(f in frame()) {
        let r = f.repr();
        let mut buf = vec![0xa5u8; r.buffer_len() + 8];
        let n = r.emit_into(&mut buf).unwrap();
        // (2) buffer_len is exact: nothing written past it.
        prop_assert_eq!(n, r.buffer_len());
        prop_assert!(buf[n..].iter().all(|b| *b == 0xa5));
        // (1) parse gives the Repr back.
        let view = Frame::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(FrameRepr::parse(&view).unwrap(), r);
    }

    #[test]
    fn frame_arbitrary_bytes(bytes in pvec(any::<u8>(), 0..160)) {
        // (3) no panic, whatever the bytes, through every getter and the security path.
        if let Ok(f) = Frame::new_checked(&bytes[..]) {
            let _ = (f.frame_type(), f.sequence_number(), f.dst_pan_id(), f.dst_addr());
            let _ = (f.src_pan_id(), f.src_addr(), f.header_len(), f.mic(), f.payload());
            let _ = f.header_ies().count() + f.payload_ies().count();
            let _ = f.aux_security_header().map(|h| h.key_identifier());
            let _ = alloc::format!("{f}");
            // (4) parse -> emit -> parse is a fixed point.
            if let Ok(r) = FrameRepr::parse(&f) {
                let mut out = vec![0u8; r.buffer_len()];
                r.emit_into(&mut out).unwrap();
                let again = FrameRepr::parse(&Frame::new_checked(&out[..]).unwrap()).unwrap();
                prop_assert_eq!(again, r);
            }
        }
        let _ = secured_layout(&bytes);
        let mut copy = bytes.clone();
        let _ = unsecure_frame(&mut copy, &key_table());
    }

    #[test]
    fn aux_header_round_trip(h in aux_header(true)) {
        let mut buf = [0xa5u8; 20];
        h.emit(&mut AuxSecurityHeader::new_unchecked(&mut buf[..])).unwrap();
        prop_assert!(buf[h.buffer_len()..].iter().all(|b| *b == 0xa5));
        let v = AuxSecurityHeader::new_checked(&buf[..h.buffer_len()]).unwrap();
        prop_assert_eq!(AuxSecurityHeaderRepr::parse(&v).unwrap(), h);
    }

    #[test]
    fn aux_header_arbitrary_bytes(bytes in pvec(any::<u8>(), 0..16)) {
        if let Ok(v) = AuxSecurityHeader::new_checked(&bytes[..]) {
            let r = AuxSecurityHeaderRepr::parse(&v).unwrap();
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut AuxSecurityHeader::new_unchecked(&mut out[..])).unwrap();
            let again = AuxSecurityHeaderRepr::parse(&AuxSecurityHeader::new_checked(&out[..]).unwrap());
            prop_assert_eq!(again.unwrap(), r);
        }
    }

    #[test]
    fn ies_round_trip(h in header_ie(), p in payload_ie(), sub in 0u8..0x80, long in any::<bool>()) {
        let hr = HeaderIeRepr { element_id: HeaderElementId::from(h.0), content: &h.1 };
        let mut buf = vec![0xa5u8; 40];
        let n = hr.emit(&mut buf).unwrap();
        prop_assert_eq!(n, hr.buffer_len());
        prop_assert_eq!(HeaderIeRepr::parse(&HeaderIe::new_checked(&buf[..n]).unwrap()).unwrap(), hr);
        let pr = PayloadIeRepr { group_id: PayloadGroupId::from(p.0), content: &p.1 };
        let n = pr.emit(&mut buf).unwrap();
        prop_assert_eq!(n, pr.buffer_len());
        prop_assert_eq!(PayloadIeRepr::parse(&PayloadIe::new_checked(&buf[..n]).unwrap()).unwrap(), pr);
        let nr = NestedIeRepr { long, sub_id: if long { sub & 0x0f } else { sub }, content: &p.1 };
        let n = nr.emit(&mut buf).unwrap();
        prop_assert_eq!(NestedIeRepr::parse(&buf[..n]).unwrap(), (nr, n));
    }

    #[test]
    fn ies_arbitrary_bytes(bytes in pvec(any::<u8>(), 0..40)) {
        for ie in crate::wire::ie::HeaderIeIter::new(&bytes).flatten() {
            let mut out = vec![0u8; ie.buffer_len()];
            ie.emit(&mut out).unwrap();
            prop_assert_eq!(HeaderIeRepr::parse(&HeaderIe::new_checked(&out[..]).unwrap()).unwrap(), ie);
        }
        for ie in crate::wire::ie::PayloadIeIter::new(&bytes).flatten() {
            let mut out = vec![0u8; ie.buffer_len()];
            ie.emit(&mut out).unwrap();
            prop_assert_eq!(PayloadIeRepr::parse(&PayloadIe::new_checked(&out[..]).unwrap()).unwrap(), ie);
        }
        for ie in crate::wire::ie::NestedIeIter::new(&bytes).flatten() {
            let mut out = vec![0u8; ie.buffer_len()];
            ie.emit(&mut out).unwrap();
            prop_assert_eq!(NestedIeRepr::parse(&out).unwrap().0, ie);
        }
        let _ = crate::wire::ie::header_ies_len(&bytes);
        let _ = crate::wire::ie::split_payload_ies(&bytes);
    }

    #[test]
    fn beacon_round_trip((b, payload) in beacon()) {
        let b = BeaconRepr { payload: &payload, ..b };
        let mut buf = vec![0xa5u8; b.buffer_len() + 4];
        let n = b.emit(&mut buf).unwrap();
        prop_assert_eq!(n, b.buffer_len());
        prop_assert!(buf[n..].iter().all(|x| *x == 0xa5));
        prop_assert_eq!(BeaconRepr::parse(&buf[..n]).unwrap(), b);
    }

    #[test]
    fn beacon_arbitrary_bytes(bytes in pvec(any::<u8>(), 0..80)) {
        if let Ok(b) = BeaconRepr::parse(&bytes) {
            let mut out = vec![0u8; b.buffer_len()];
            b.emit(&mut out).unwrap();
            prop_assert_eq!(BeaconRepr::parse(&out).unwrap(), b);
        }
    }

    #[test]
    fn command_round_trip((c, other) in command()) {
        let c = match c { MacCommandRepr::Other { id, .. } => MacCommandRepr::Other { id, content: &other }, c => c };
        let mut buf = vec![0xa5u8; c.buffer_len() + 4];
        let n = c.emit(&mut buf).unwrap();
        prop_assert_eq!(n, c.buffer_len());
        prop_assert!(buf[n..].iter().all(|x| *x == 0xa5));
        prop_assert_eq!(MacCommandRepr::parse(&buf[..n]).unwrap(), c);
    }

    #[test]
    fn command_arbitrary_bytes(bytes in pvec(any::<u8>(), 0..12)) {
        if let Ok(c) = MacCommandRepr::parse(&bytes) {
            let mut out = vec![0u8; c.buffer_len()];
            c.emit(&mut out).unwrap();
            prop_assert_eq!(MacCommandRepr::parse(&out).unwrap(), c);
        }
    }
}
