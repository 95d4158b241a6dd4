//! Interop: frames written by this crate, decoded by Wireshark's `tshark` (4.0).
//!
//! The capture covers every frame type (beacon, data, ack, command), every addressing and PAN
//! ID Compression combination of the 2006 rule and the 2015 table, sequence-number suppression,
//! header and payload IEs, CRC-16 and CRC-32 FCS (linktype 283, per-record FCS type), and
//! secured frames at levels 1–7 with key id modes 0–3, keyed both with a raw key ("No hash")
//! and with a network key ("ZigBee IP hash"). Every field Wireshark decodes must equal our own
//! decoding, and every secured payload must decrypt to the same plaintext. A missing tshark is
//! a failure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use amimesh_core::{ExtAddr, Key128, LinkAddr, PanId, ShortAddr};
use amimesh_mac::security::ccm_star::CcmKey;
use amimesh_mac::security::frame::{KeyTable, secure_frame, unsecure_frame};
use amimesh_mac::security::keys::derive_link_keys;
use amimesh_mac::security::{AuxSecurityHeaderRepr, KeyIdentifier, SecurityLevel};
use amimesh_mac::wire::{
    AddressingMode, FcsType, Frame, FrameRepr, FrameType, FrameVersion, HeaderElementId,
    HeaderIeRepr, MacCommandRepr, NestedIeRepr, PayloadGroupId, PayloadIeRepr, PsduConfig,
    pan_ids_present,
};
use amimesh_testkit::pcap::{self, TapFcs};
use amimesh_testkit::tshark::{KeyHash, Tshark, all, first, num};
use serde_json::Value;

const RAW_KEY: [u8; 16] = [
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
];
const RAW_INDEX: u8 = 2;
const NETWORK_KEY: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];
const NETWORK_INDEX: u8 = 1;
const PAN: PanId = PanId(0xabcd);
const PAN2: PanId = PanId(0x1234);
const EXT_A: ExtAddr = ExtAddr([0x00, 0x12, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x01]);
const EXT_B: ExtAddr = ExtAddr([0x00, 0x12, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x02]);
const SHORT_A: ShortAddr = ShortAddr(0x0001);
const SHORT_B: ShortAddr = ShortAddr(0x0002);

/// One frame of the capture.
struct Case {
    name: String,
    frame: Vec<u8>,
    fcs: FcsType,
    /// Expected plaintext of the payload of a data or beacon frame (shown as `data.data`).
    plaintext: Option<Vec<u8>>,
}

fn addr(mode: AddressingMode, short: ShortAddr, ext: ExtAddr) -> LinkAddr {
    match mode {
        AddressingMode::Short => LinkAddr::Short(short),
        AddressingMode::Extended => LinkAddr::Extended(ext),
        _ => LinkAddr::Absent,
    }
}

#[allow(clippy::too_many_arguments)]
fn repr<'a>(
    frame_type: FrameType,
    version: FrameVersion,
    dst: LinkAddr,
    src: LinkAddr,
    pc: bool,
    seq: Option<u8>,
    security: Option<AuxSecurityHeaderRepr>,
    header_ies: &'a [u8],
    content: &'a [u8],
) -> FrameRepr<'a> {
    let (dp, sp) = pan_ids_present(
        version,
        AddressingMode::of(dst),
        AddressingMode::of(src),
        pc,
    );
    FrameRepr {
        frame_type,
        frame_version: version,
        security,
        frame_pending: false,
        ack_request: matches!(dst, LinkAddr::Short(s) if !s.is_broadcast()),
        pan_id_compression: pc,
        sequence_number: seq,
        dst_pan_id: dp.then_some(PAN),
        dst_addr: dst,
        src_pan_id: sp.then_some(if dp { PAN2 } else { PAN }),
        src_addr: src,
        header_ies,
        content,
    }
}

fn emit(r: &FrameRepr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; r.buffer_len()];
    r.emit_into(&mut buf).unwrap();
    buf
}

fn hies(list: &[HeaderIeRepr<'_>]) -> Vec<u8> {
    let mut out = vec![0u8; 512];
    let mut n = 0;
    for ie in list {
        n += ie.emit(&mut out[n..]).unwrap();
    }
    out.truncate(n);
    out
}

fn pies(list: &[PayloadIeRepr<'_>]) -> Vec<u8> {
    let mut out = vec![0u8; 512];
    let mut n = 0;
    for ie in list {
        n += ie.emit(&mut out[n..]).unwrap();
    }
    out.truncate(n);
    out
}

fn tsch_sync_mlme() -> Vec<u8> {
    let mut nested = [0u8; 8];
    NestedIeRepr {
        long: false,
        sub_id: 0x1a,
        content: &[1, 2, 3, 4, 5, 0],
    }
    .emit(&mut nested)
    .unwrap();
    nested.to_vec()
}

fn build_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut seq = 0u8;
    let mut next_seq = || {
        seq = seq.wrapping_add(1);
        seq
    };
    let modes = [
        AddressingMode::Absent,
        AddressingMode::Short,
        AddressingMode::Extended,
    ];

    // 1. Unsecured data frames: every addressing / PAN ID Compression combination.
    for version in [
        FrameVersion::Ieee2003,
        FrameVersion::Ieee2006,
        FrameVersion::Ieee2015,
    ] {
        for d in modes {
            for s in modes {
                for pc in [false, true] {
                    let v2 = version == FrameVersion::Ieee2015;
                    // Before 2015 the compression bit is defined only with both addresses, and
                    // a data frame needs at least one address.
                    if !v2 && (pc && (d == AddressingMode::Absent || s == AddressingMode::Absent)) {
                        continue;
                    }
                    if !v2 && d == AddressingMode::Absent && s == AddressingMode::Absent {
                        continue;
                    }
                    let seq = if v2 && pc { None } else { Some(next_seq()) };
                    let payload = vec![0x00, 0xd0 | u8::from(version), d as u8, s as u8];
                    let r = repr(
                        FrameType::Data,
                        version,
                        addr(d, SHORT_B, EXT_B),
                        addr(s, SHORT_A, EXT_A),
                        pc,
                        seq,
                        None,
                        &[],
                        &payload,
                    );
                    cases.push(Case {
                        name: format!(
                            "data v{} d{} s{} pc{}",
                            u8::from(version),
                            d as u8,
                            s as u8,
                            pc
                        ),
                        frame: emit(&r),
                        fcs: if v2 { FcsType::Crc32 } else { FcsType::Crc16 },
                        plaintext: Some(payload),
                    });
                }
            }
        }
    }

    // 2. Beacons (2006 with GTS and pending addresses; 2015 with payload IEs), acks.
    {
        use amimesh_mac::wire::{BeaconRepr, GtsDescriptor, SuperframeSpec};
        let b = BeaconRepr {
            superframe_spec: SuperframeSpec::new(15, 15, 15, false, true, true),
            gts_permit: true,
            gts_directions: 0x01,
            gts: heapless::Vec::from_slice(&[GtsDescriptor {
                short_addr: ShortAddr(0x0042),
                starting_slot: 9,
                length: 2,
            }])
            .unwrap(),
            pending_short: heapless::Vec::from_slice(&[SHORT_B]).unwrap(),
            pending_ext: heapless::Vec::from_slice(&[EXT_B]).unwrap(),
            payload: &[0xf7, 0x01, 0x02],
        };
        let mut content = vec![0u8; b.buffer_len()];
        b.emit(&mut content).unwrap();
        let r = repr(
            FrameType::Beacon,
            FrameVersion::Ieee2006,
            LinkAddr::Absent,
            LinkAddr::Short(SHORT_A),
            false,
            Some(next_seq()),
            None,
            &[],
            &content,
        );
        cases.push(Case {
            name: "beacon 2006 gts pending".into(),
            frame: emit(&r),
            fcs: FcsType::Crc16,
            plaintext: Some(vec![0xf7, 0x01, 0x02]),
        });
        let mlme = tsch_sync_mlme();
        let pl = pies(&[PayloadIeRepr {
            group_id: PayloadGroupId::Mlme,
            content: &mlme,
        }]);
        let h = hies(&[HeaderIeRepr::HT1]);
        let r = repr(
            FrameType::Beacon,
            FrameVersion::Ieee2015,
            LinkAddr::Short(ShortAddr::BROADCAST),
            LinkAddr::Extended(EXT_A),
            false,
            Some(next_seq()),
            None,
            &h,
            &pl,
        );
        cases.push(Case {
            name: "enhanced beacon 2015".into(),
            frame: emit(&r),
            fcs: FcsType::Crc16,
            plaintext: None,
        });
    }
    cases.push(Case {
        name: "imm-ack 2006".into(),
        frame: vec![0x02, 0x00, 0x77],
        fcs: FcsType::Crc16,
        plaintext: None,
    });
    {
        let h = hies(&[HeaderIeRepr {
            element_id: HeaderElementId::TimeCorrection,
            content: &[0x10, 0x00],
        }]);
        let r = repr(
            FrameType::Ack,
            FrameVersion::Ieee2015,
            LinkAddr::Extended(EXT_B),
            LinkAddr::Absent,
            true,
            Some(next_seq()),
            None,
            &h,
            &[],
        );
        cases.push(Case {
            name: "enh-ack 2015 time correction".into(),
            frame: emit(&r),
            fcs: FcsType::Crc16,
            plaintext: None,
        });
    }

    // 3. MAC commands (2006).
    let commands = [
        MacCommandRepr::AssociationRequest { capability: 0x8e },
        MacCommandRepr::AssociationResponse {
            short_addr: ShortAddr(0x0123),
            status: 0,
        },
        MacCommandRepr::DisassociationNotification { reason: 2 },
        MacCommandRepr::DataRequest,
        MacCommandRepr::PanIdConflictNotification,
        MacCommandRepr::OrphanNotification,
        MacCommandRepr::BeaconRequest,
        MacCommandRepr::CoordinatorRealignment {
            pan_id: PAN,
            coord_short_addr: SHORT_A,
            channel: 15,
            short_addr: SHORT_B,
            channel_page: Some(0),
        },
        MacCommandRepr::GtsRequest {
            characteristics: 0x23,
        },
    ];
    for c in commands {
        let mut content = vec![0u8; c.buffer_len()];
        c.emit(&mut content).unwrap();
        // Addressing as 802.15.4-2006 §7.3 prescribes per command (Wireshark checks it).
        let bcast = LinkAddr::Short(ShortAddr::BROADCAST);
        let (d, s, pc, dst_pan, src_pan) = match c {
            MacCommandRepr::BeaconRequest => {
                (bcast, LinkAddr::Absent, false, Some(PanId::BROADCAST), None)
            }
            MacCommandRepr::OrphanNotification => (
                bcast,
                LinkAddr::Extended(EXT_A),
                true,
                Some(PanId::BROADCAST),
                None,
            ),
            MacCommandRepr::AssociationRequest { .. } => (
                LinkAddr::Short(SHORT_B),
                LinkAddr::Extended(EXT_A),
                false,
                Some(PAN),
                Some(PanId::BROADCAST),
            ),
            MacCommandRepr::CoordinatorRealignment { .. } => (
                LinkAddr::Extended(EXT_B),
                LinkAddr::Extended(EXT_A),
                false,
                Some(PanId::BROADCAST),
                Some(PAN),
            ),
            MacCommandRepr::GtsRequest { .. } => (
                LinkAddr::Absent,
                LinkAddr::Short(SHORT_A),
                false,
                None,
                Some(PAN),
            ),
            _ => (
                LinkAddr::Extended(EXT_B),
                LinkAddr::Extended(EXT_A),
                true,
                Some(PAN),
                None,
            ),
        };
        let mut r = repr(
            FrameType::MacCommand,
            FrameVersion::Ieee2006,
            d,
            s,
            pc,
            Some(next_seq()),
            None,
            &[],
            &content,
        );
        r.dst_pan_id = dst_pan;
        r.src_pan_id = src_pan;
        r.ack_request = !matches!(
            c,
            MacCommandRepr::BeaconRequest | MacCommandRepr::OrphanNotification
        );
        cases.push(Case {
            name: format!("command {}", c.command_id().name()),
            frame: emit(&r),
            fcs: FcsType::Crc16,
            plaintext: None,
        });
    }

    // 4. 2015 IEs: header IEs with HT2, payload IEs with termination; a SUN-size PSDU.
    {
        let h = hies(&[
            HeaderIeRepr {
                element_id: HeaderElementId::Csl,
                content: &[0x10, 0x00, 0x20, 0x00],
            },
            HeaderIeRepr {
                element_id: HeaderElementId::Rit,
                content: &[1, 2, 3, 4, 5],
            },
            HeaderIeRepr::HT2,
        ]);
        let payload = [0x00, 0x42];
        let r = repr(
            FrameType::Data,
            FrameVersion::Ieee2015,
            LinkAddr::Short(SHORT_B),
            LinkAddr::Extended(EXT_A),
            true,
            Some(next_seq()),
            None,
            &h,
            &payload,
        );
        cases.push(Case {
            name: "2015 header IEs HT2".into(),
            frame: emit(&r),
            fcs: FcsType::Crc16,
            plaintext: Some(payload.to_vec()),
        });
        let mlme = tsch_sync_mlme();
        let mut content = pies(&[
            PayloadIeRepr {
                group_id: PayloadGroupId::Mlme,
                content: &mlme,
            },
            PayloadIeRepr::TERMINATION,
        ]);
        content.extend_from_slice(&[0x00, 0x43]);
        let h = hies(&[HeaderIeRepr::HT1]);
        let r = repr(
            FrameType::Data,
            FrameVersion::Ieee2015,
            LinkAddr::Short(SHORT_B),
            LinkAddr::Short(SHORT_A),
            true,
            None,
            None,
            &h,
            &content,
        );
        cases.push(Case {
            name: "2015 payload IEs".into(),
            frame: emit(&r),
            fcs: FcsType::Crc16,
            plaintext: Some(vec![0x00, 0x43]),
        });
        let big: Vec<u8> = (0..600u32)
            .map(|i| if i == 0 { 0 } else { i as u8 })
            .collect();
        let r = repr(
            FrameType::Data,
            FrameVersion::Ieee2015,
            LinkAddr::Extended(EXT_B),
            LinkAddr::Extended(EXT_A),
            false,
            Some(next_seq()),
            None,
            &[],
            &big,
        );
        cases.push(Case {
            name: "2015 SUN 600-byte payload CRC-32".into(),
            frame: emit(&r),
            fcs: FcsType::Crc32,
            plaintext: Some(big),
        });
    }

    // 5. Secured frames: levels 1-7 x key id modes 0-3, 2006 and 2015.
    let raw = CcmKey::new(&Key128::new(RAW_KEY));
    let (_, mac_key) = derive_link_keys(&Key128::new(NETWORK_KEY));
    let net = CcmKey::new(&mac_key);
    let mut fc = 1000u32;
    for version in [FrameVersion::Ieee2006, FrameVersion::Ieee2015] {
        for level in 1..=7u8 {
            for kim in 0..=3u8 {
                let key_id = match kim {
                    0 => KeyIdentifier::Implicit,
                    1 => KeyIdentifier::Index(RAW_INDEX),
                    2 => KeyIdentifier::Source4 {
                        source: [0, 0, 0, 7],
                        index: RAW_INDEX,
                    },
                    _ => KeyIdentifier::Source8 {
                        source: [1, 2, 3, 4, 5, 6, 7, 8],
                        index: RAW_INDEX,
                    },
                };
                fc += 1;
                let sec = AuxSecurityHeaderRepr {
                    security_level: SecurityLevel::try_from(level).unwrap(),
                    frame_counter: Some(fc),
                    key_id,
                    asn_in_nonce: false,
                };
                let payload = vec![0x00, 0x5e, level, kim, 0xaa, 0xbb, 0xcc];
                let h = if version == FrameVersion::Ieee2015 {
                    hies(&[
                        HeaderIeRepr {
                            element_id: HeaderElementId::Csl,
                            content: &[0x01, 0x00, 0x02, 0x00],
                        },
                        HeaderIeRepr::HT2,
                    ])
                } else {
                    vec![]
                };
                let r = repr(
                    FrameType::Data,
                    version,
                    LinkAddr::Short(SHORT_B),
                    LinkAddr::Extended(EXT_A),
                    true,
                    Some(next_seq()),
                    Some(sec),
                    &h,
                    &payload,
                );
                let mut frame = emit(&r);
                secure_frame(&mut frame, &raw, EXT_A).unwrap();
                cases.push(Case {
                    name: format!("secured v{} level {level} kim {kim}", u8::from(version)),
                    frame,
                    fcs: FcsType::Crc16,
                    plaintext: Some(payload),
                });
            }
        }
    }
    // Secured command, secured 2006 beacon, short source (nonce via the address table),
    // ZigBee-IP-hash network key.
    {
        let sec = |level: u8, fc: u32, key_id| AuxSecurityHeaderRepr {
            security_level: SecurityLevel::try_from(level).unwrap(),
            frame_counter: Some(fc),
            key_id,
            asn_in_nonce: false,
        };
        let content = [0x04u8]; // Data Request
        let r = repr(
            FrameType::MacCommand,
            FrameVersion::Ieee2006,
            LinkAddr::Extended(EXT_B),
            LinkAddr::Extended(EXT_A),
            true,
            Some(next_seq()),
            Some(sec(5, 5000, KeyIdentifier::Index(RAW_INDEX))),
            &[],
            &content,
        );
        let mut frame = emit(&r);
        secure_frame(&mut frame, &raw, EXT_A).unwrap();
        cases.push(Case {
            name: "secured command data request".into(),
            frame,
            fcs: FcsType::Crc16,
            plaintext: None,
        });
        let content = [0x04u8];
        let r = repr(
            FrameType::MacCommand,
            FrameVersion::Ieee2015,
            LinkAddr::Extended(EXT_B),
            LinkAddr::Extended(EXT_A),
            false,
            Some(next_seq()),
            Some(sec(6, 5003, KeyIdentifier::Index(RAW_INDEX))),
            &[],
            &content,
        );
        let mut frame = emit(&r);
        secure_frame(&mut frame, &raw, EXT_A).unwrap();
        cases.push(Case {
            name: "secured 2015 command data request".into(),
            frame,
            fcs: FcsType::Crc16,
            plaintext: None,
        });
        // 2015 data frame whose payload IEs are encrypted with the payload.
        let mlme = tsch_sync_mlme();
        let mut content = pies(&[
            PayloadIeRepr {
                group_id: PayloadGroupId::Mlme,
                content: &mlme,
            },
            PayloadIeRepr::TERMINATION,
        ]);
        content.extend_from_slice(&[0x00, 0x44, 0x45]);
        let h = hies(&[HeaderIeRepr::HT1]);
        let r = repr(
            FrameType::Data,
            FrameVersion::Ieee2015,
            LinkAddr::Short(SHORT_B),
            LinkAddr::Extended(EXT_A),
            true,
            Some(next_seq()),
            Some(sec(5, 5004, KeyIdentifier::Index(RAW_INDEX))),
            &h,
            &content,
        );
        let mut frame = emit(&r);
        secure_frame(&mut frame, &raw, EXT_A).unwrap();
        cases.push(Case {
            name: "secured 2015 payload IEs".into(),
            frame,
            fcs: FcsType::Crc16,
            plaintext: Some(vec![0x00, 0x44, 0x45]),
        });
        let content = [0x04u8, 0x02, 0x00, 0x00, 0xf7, 0x0a, 0x0b];
        let r = repr(
            FrameType::Beacon,
            FrameVersion::Ieee2006,
            LinkAddr::Absent,
            LinkAddr::Extended(EXT_A),
            false,
            Some(next_seq()),
            Some(sec(6, 5001, KeyIdentifier::Index(RAW_INDEX))),
            &[],
            &content,
        );
        let mut frame = emit(&r);
        secure_frame(&mut frame, &raw, EXT_A).unwrap();
        cases.push(Case {
            name: "secured beacon level 6".into(),
            frame,
            fcs: FcsType::Crc16,
            plaintext: Some(vec![0xf7, 0x0a, 0x0b]),
        });
        let payload = [0x00u8, 0x11, 0x22, 0x33];
        let r = repr(
            FrameType::Data,
            FrameVersion::Ieee2006,
            LinkAddr::Short(SHORT_B),
            LinkAddr::Short(SHORT_A),
            true,
            Some(next_seq()),
            Some(sec(5, 5002, KeyIdentifier::Index(RAW_INDEX))),
            &[],
            &payload,
        );
        let mut frame = emit(&r);
        secure_frame(&mut frame, &raw, EXT_A).unwrap();
        cases.push(Case {
            name: "secured short source".into(),
            frame,
            fcs: FcsType::Crc16,
            plaintext: Some(payload.to_vec()),
        });
        for (i, version) in [FrameVersion::Ieee2006, FrameVersion::Ieee2015]
            .into_iter()
            .enumerate()
        {
            let payload = [0x00u8, 0x99, i as u8];
            let r = repr(
                FrameType::Data,
                version,
                LinkAddr::Extended(EXT_B),
                LinkAddr::Extended(EXT_A),
                version != FrameVersion::Ieee2015,
                Some(next_seq()),
                Some(sec(5, 6000 + i as u32, KeyIdentifier::Index(NETWORK_INDEX))),
                &[],
                &payload,
            );
            let mut frame = emit(&r);
            secure_frame(&mut frame, &net, EXT_A).unwrap();
            cases.push(Case {
                name: format!("zigbee-ip network key v{}", u8::from(version)),
                frame,
                fcs: FcsType::Crc16,
                plaintext: Some(payload.to_vec()),
            });
        }
    }
    // The fixtures of testdata/ (Annex C uses its own key: Wireshark shows them undecrypted).
    for (name, bytes) in [
        (
            "fixture ie2015",
            &include_bytes!("../testdata/ie2015_data.bin")[..],
        ),
        (
            "fixture openthread ll16",
            &include_bytes!("../testdata/openthread_ll16_echo_fcs.bin")[..28],
        ),
    ] {
        cases.push(Case {
            name: name.into(),
            frame: bytes.to_vec(),
            fcs: FcsType::Crc16,
            plaintext: None,
        });
    }
    cases
}

/// The PSDU of `frame` with its FCS, in a TAP record (linktype 283) whose FCS-type TLV
/// announces it, on channel 11 page 0.
fn tap_record(frame: &[u8], fcs: FcsType) -> Vec<u8> {
    let cfg = match fcs {
        FcsType::Crc16 => PsduConfig::IEEE802154,
        FcsType::Crc32 => PsduConfig::SUN,
    };
    let cfg = PsduConfig {
        max_psdu_len: 2047,
        ..cfg
    };
    let mut psdu = frame.to_vec();
    psdu.resize(frame.len() + fcs.len(), 0);
    cfg.append(&mut psdu, frame.len()).unwrap();
    let tap_fcs = match fcs {
        FcsType::Crc16 => TapFcs::Crc16,
        FcsType::Crc32 => TapFcs::Crc32,
    };
    pcap::tap_record(&psdu, tap_fcs, Some((11, 0)))
}

fn tshark_json(file: &amimesh_testkit::temp::TempFile) -> Vec<Value> {
    let mut t = Tshark::read(file);
    // MAC payloads go to the `data` dissector, so plaintexts can be compared byte for byte.
    for h in [
        "zbee_nwk_gp",
        "zbee_nwk",
        "lwm",
        "6lowpan",
        "zbip_beacon",
        "zbee_beacon",
        "thread_bcn",
    ] {
        t = t.disable(h);
    }
    t.key(&RAW_KEY, 0, KeyHash::None)
        .key(&RAW_KEY, RAW_INDEX, KeyHash::None)
        .key(&NETWORK_KEY, NETWORK_INDEX, KeyHash::ZigbeeIp)
        // Short source 0x0001 in PAN 0xabcd is EXT_A (needed for the nonce).
        .short_addr(SHORT_A.0, PAN.0, EXT_A.to_bytes())
        .json()
}

fn link(v: &Value, short_key: &str, ext_key: &str) -> LinkAddr {
    if let Some(s) = first(v, short_key) {
        return LinkAddr::Short(ShortAddr(num(&s) as u16));
    }
    if let Some(e) = first(v, ext_key) {
        let b = hex::decode(e.replace(':', "")).unwrap();
        return LinkAddr::Extended(ExtAddr(b.try_into().unwrap()));
    }
    LinkAddr::Absent
}

fn sorted(mut v: Vec<u8>) -> Vec<u8> {
    v.sort_unstable();
    v
}

#[test]
fn tshark_decodes_our_frames_like_we_do() {
    let cases = build_cases();
    let records: Vec<Vec<u8>> = cases.iter().map(|c| tap_record(&c.frame, c.fcs)).collect();
    let file = pcap::write("mac-interop", pcap::LINKTYPE_IEEE802_15_4_TAP, &records);
    let packets = tshark_json(&file);
    assert_eq!(packets.len(), cases.len());

    let mut keys: KeyTable<3, 1> = KeyTable::new();
    keys.add_key(Some(RAW_INDEX), CcmKey::new(&Key128::new(RAW_KEY)))
        .unwrap();
    keys.add_key(
        Some(NETWORK_INDEX),
        CcmKey::new(&derive_link_keys(&Key128::new(NETWORK_KEY)).1),
    )
    .unwrap();
    keys.add_key(None, CcmKey::new(&Key128::new(RAW_KEY)))
        .unwrap();
    keys.add_device(SHORT_A, EXT_A).unwrap();

    let mut secured = 0;
    for (c, p) in cases.iter().zip(&packets) {
        let l = &p["_source"]["layers"];
        let wpan = &l["wpan"];
        let ctx = &c.name;
        let ours = FrameRepr::parse(&Frame::new_checked(&c.frame[..]).unwrap()).unwrap();

        assert_eq!(
            first(wpan, "wpan.fcs_ok").as_deref(),
            Some("1"),
            "{ctx}: FCS"
        );
        assert_eq!(
            num(&first(wpan, "wpan.frame_type").unwrap()),
            u64::from(u8::from(ours.frame_type)),
            "{ctx}: frame type"
        );
        assert_eq!(
            num(&first(wpan, "wpan.version").unwrap()),
            u64::from(u8::from(ours.frame_version)),
            "{ctx}: version"
        );
        assert_eq!(
            first(wpan, "wpan.seq_no").map(|s| num(&s) as u8),
            ours.sequence_number,
            "{ctx}: seq"
        );
        assert_eq!(
            first(wpan, "wpan.dst_pan").map(|s| PanId(num(&s) as u16)),
            ours.dst_pan_id,
            "{ctx}: dst pan"
        );
        assert_eq!(
            first(wpan, "wpan.src_pan").map(|s| PanId(num(&s) as u16)),
            ours.src_pan_id,
            "{ctx}: src pan"
        );
        assert_eq!(
            link(wpan, "wpan.dst16", "wpan.dst64"),
            ours.dst_addr,
            "{ctx}: dst"
        );
        assert_eq!(
            link(wpan, "wpan.src16", "wpan.src64"),
            ours.src_addr,
            "{ctx}: src"
        );
        assert_eq!(
            num(&first(wpan, "wpan.pan_id_compression").unwrap()) == 1,
            ours.pan_id_compression,
            "{ctx}: PAN ID compression"
        );
        let their_hies: Vec<u8> = all(wpan, "wpan.header_ie.id")
            .iter()
            .map(|s| num(s) as u8)
            .collect();
        let our_hies: Vec<u8> = ours
            .header_ies()
            .map(|i| u8::from(i.unwrap().element_id))
            .collect();
        // `--no-duplicate-keys` merges same-named IEs, so compare as multisets.
        assert_eq!(sorted(their_hies), sorted(our_hies), "{ctx}: header IEs");
        if ours.security.is_none() {
            let their_pies: Vec<u8> = all(wpan, "wpan.payload_ie.id")
                .iter()
                .map(|s| num(s) as u8)
                .collect();
            let our_pies: Vec<u8> = ours
                .payload_ies()
                .map(|i| u8::from(i.unwrap().group_id))
                .collect();
            assert_eq!(sorted(their_pies), sorted(our_pies), "{ctx}: payload IEs");
            let nested: Vec<u8> = all(wpan, "wpan.mlme.ie.id")
                .iter()
                .map(|s| num(s) as u8)
                .collect();
            let our_nested: Vec<u8> = ours
                .payload_ies()
                .filter_map(Result::ok)
                .filter(|i| i.group_id == PayloadGroupId::Mlme)
                .flat_map(|i| i.nested().map(|n| n.unwrap().sub_id).collect::<Vec<_>>())
                .collect();
            assert_eq!(sorted(nested), sorted(our_nested), "{ctx}: nested IEs");
            assert!(
                first(l, "_ws.malformed").is_none(),
                "{ctx}: Wireshark flags the frame as malformed"
            );
        }
        if ours.frame_type == FrameType::Beacon
            && ours.frame_version != FrameVersion::Ieee2015
            && ours.security.is_none()
        {
            let b = amimesh_mac::wire::BeaconRepr::parse(ours.payload()).unwrap();
            let sf = b.superframe_spec;
            for (field, ours) in [
                ("wpan.beacon_order", u64::from(sf.beacon_order())),
                ("wpan.superframe_order", u64::from(sf.superframe_order())),
                ("wpan.cap", u64::from(sf.final_cap_slot())),
                ("wpan.bcn_coord", u64::from(sf.pan_coordinator())),
                ("wpan.assoc_permit", u64::from(sf.association_permit())),
                ("wpan.gts.count", b.gts.len() as u64),
                ("wpan.gts.permit", u64::from(b.gts_permit)),
            ] {
                assert_eq!(num(&first(wpan, field).unwrap()), ours, "{ctx}: {field}");
            }
        }
        if ours.frame_type == FrameType::MacCommand && ours.security.is_none() {
            let cmd = MacCommandRepr::parse(ours.payload()).unwrap();
            assert_eq!(
                num(&first(wpan, "wpan.cmd").unwrap()),
                u64::from(u8::from(cmd.command_id())),
                "{ctx}: command id"
            );
        }

        let mut plain = c.frame.clone();
        if let Some(sec) = ours.security {
            secured += 1;
            assert_eq!(
                num(&first(wpan, "wpan.aux_sec.sec_level").unwrap()),
                u64::from(sec.security_level.bits()),
                "{ctx}: level"
            );
            assert_eq!(
                num(&first(wpan, "wpan.aux_sec.key_id_mode").unwrap()),
                u64::from(sec.key_id.mode().bits()),
                "{ctx}: key id mode"
            );
            assert_eq!(
                first(wpan, "wpan.aux_sec.frame_counter").map(|s| num(&s) as u32),
                sec.frame_counter,
                "{ctx}: frame counter"
            );
            assert_eq!(
                first(wpan, "wpan.aux_sec.key_index").map(|s| num(&s) as u8),
                sec.key_id.index(),
                "{ctx}: key index"
            );
            let their_source = all(wpan, "wpan.aux_sec.key_source")
                .first()
                .map(|s| num(s))
                .unwrap_or(0);
            let our_source = match sec.key_id {
                KeyIdentifier::Source4 { source, .. } => u64::from(u32::from_be_bytes(source)),
                KeyIdentifier::Source8 { source, .. } => u64::from_be_bytes(source),
                _ => 0,
            };
            assert_eq!(their_source, our_source, "{ctx}: key source");
            let mic = all(wpan, "wpan.mic");
            assert_eq!(
                mic.first()
                    .map(|m| hex::decode(m.replace(':', "")).unwrap()),
                (sec.security_level.mic_len() > 0)
                    .then(|| Frame::new_unchecked(&c.frame[..]).mic().to_vec()),
                "{ctx}: MIC"
            );
            let expert = all(l, "_ws.expert.message");
            assert!(
                expert.iter().all(|m| !m.contains("decrypt")),
                "{ctx}: Wireshark could not decrypt: {expert:?}"
            );
            assert!(
                first(wpan, "wpan.key_number").is_some(),
                "{ctx}: Wireshark did not decrypt"
            );
            let u = unsecure_frame(&mut plain, &keys).unwrap();
            plain.truncate(u.len);
            if ours.frame_type == FrameType::MacCommand {
                let cmd_byte = plain[u.header_len];
                assert_eq!(
                    num(&first(wpan, "wpan.cmd").unwrap()),
                    u64::from(cmd_byte),
                    "{ctx}: decrypted command id"
                );
            }
        }
        if let Some(want) = &c.plaintext {
            // Our decryption gives the plaintext the frame was built from...
            let f = Frame::new_unchecked(&plain[..]);
            let content = if ours.security.is_some() {
                let hl = amimesh_mac::security::frame::secured_layout(&c.frame)
                    .unwrap()
                    .header_len;
                &plain[hl..]
            } else {
                f.content()
            };
            let r = FrameRepr {
                content,
                security: None,
                ..ours
            };
            let payload = match ours.frame_type {
                FrameType::Beacon => {
                    amimesh_mac::wire::BeaconRepr::parse(r.payload())
                        .unwrap()
                        .payload
                }
                _ => r.payload(),
            };
            assert_eq!(payload, &want[..], "{ctx}: our plaintext");
            // ...and Wireshark shows the same bytes.
            let data = first(l, "data.data").unwrap_or_else(|| panic!("{ctx}: no data layer"));
            assert_eq!(
                hex::decode(data.replace(':', "")).unwrap(),
                *want,
                "{ctx}: Wireshark's plaintext"
            );
        }
    }
    assert!(secured >= 56 + 5, "secured frames: {secured}");
}
