//! Builds `captures/demo.pcap`: a field relay (PAN coordinator, short 0x0000, PAN 0xabcd) and a
//! meter joining it, as IEEE 802.15.4 TAP records (linktype 283, CRC-16 FCS).
//!
//! 1. the meter's Beacon Request;
//! 2. the relay's beacon with a ZigBee IP beacon payload;
//! 3. and 4. Association Request / Response (the meter gets short address 0x0101);
//! 5. and 6. unsecured PANA between the meter and the relay (UDP 716, allowed before
//!    authentication);
//! 7. an immediate ACK;
//! 8. to 10. frames secured at level 5 (ENC-MIC-32) with key id mode 1, key index 1 and the MAC
//!    key derived from network key 00112233445566778899aabbccddeeff by the ZigBee-IP scheme: an
//!    MLE Link Request (UDP 19788) from the meter's short address, an RPL DIS and an RPL DIO.
//!
//! Upper layers are hand-assembled 6LoWPAN (RFC 6282) with valid UDP/ICMPv6 checksums.
//!
//! The bytes are deterministic; `tests/demo_capture.rs` checks that the shipped file matches.

// A generator of a fixed, known-good capture: a failure here is a bug to fix, not input.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use amimesh::core::{ExtAddr, Key128, LinkAddr, PanId, ShortAddr};
use amimesh::mac::security::ccm_star::CcmKey;
use amimesh::mac::security::frame::secure_frame;
use amimesh::mac::security::keys::derive_link_keys;
use amimesh::mac::security::{AuxSecurityHeaderRepr, KeyIdentifier, SecurityLevel};
use amimesh::mac::wire::{
    BeaconRepr, FrameRepr, FrameType, FrameVersion, MacCommandRepr, PsduConfig, SuperframeSpec,
};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness};
use std::time::Duration;

/// The demo network key and its key index.
pub const NETWORK_KEY: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];
/// Key index of the network key.
pub const KEY_INDEX: u8 = 1;
/// The PAN.
pub const PAN: PanId = PanId(0xabcd);
/// The relay's extended address.
pub const RELAY: ExtAddr = ExtAddr([0x00, 0x12, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x01]);
/// The relay's short address.
pub const RELAY_SHORT: ShortAddr = ShortAddr(0x0000);
/// The meter's extended address.
pub const METER: ExtAddr = ExtAddr([0x00, 0x12, 0x4b, 0x00, 0x00, 0x00, 0x01, 0x01]);
/// The short address the relay assigns to the meter.
pub const METER_SHORT: ShortAddr = ShortAddr(0x0101);

fn link_local(a: LinkAddr) -> [u8; 16] {
    let mut ip = [0u8; 16];
    ip[0] = 0xfe;
    ip[1] = 0x80;
    ip[8..].copy_from_slice(&a.to_iid().unwrap_or([0; 8]));
    ip
}

/// Internet checksum over the IPv6 pseudo-header and `upper` (RFC 8200 §8.1).
fn checksum(src: &[u8; 16], dst: &[u8; 16], next_header: u8, upper: &[u8]) -> u16 {
    let mut data = Vec::new();
    data.extend_from_slice(src);
    data.extend_from_slice(dst);
    data.extend_from_slice(&(upper.len() as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, next_header]);
    data.extend_from_slice(upper);
    if data.len() % 2 == 1 {
        data.push(0);
    }
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// IPHC (TF=11, NH=1, HLIM=255, SAM=11, DAM=11, link-local unicast from the MAC addresses)
/// followed by NHC UDP with inline ports and checksum.
fn lowpan_udp(src: LinkAddr, dst: LinkAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut udp = Vec::new();
    udp.extend_from_slice(&sport.to_be_bytes());
    udp.extend_from_slice(&dport.to_be_bytes());
    udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let c = checksum(&link_local(src), &link_local(dst), 17, &udp);
    let mut out = vec![0x7f, 0x33, 0xf0];
    out.extend_from_slice(&sport.to_be_bytes());
    out.extend_from_slice(&dport.to_be_bytes());
    out.extend_from_slice(&c.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// IPHC (TF=11, NH inline = 58, HLIM=255, SAM=11, M=1 DAM=11 → ff02::1a) + ICMPv6.
fn lowpan_icmp_all_rpl_nodes(src: LinkAddr, icmp_type: u8, code: u8, body: &[u8]) -> Vec<u8> {
    let mut dst = [0u8; 16];
    dst[0] = 0xff;
    dst[1] = 0x02;
    dst[15] = 0x1a;
    let mut icmp = vec![icmp_type, code, 0, 0];
    icmp.extend_from_slice(body);
    let c = checksum(&link_local(src), &dst, 58, &icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut out = vec![0x7b, 0x3b, 0x3a, 0x1a];
    out.extend_from_slice(&icmp);
    out
}

#[allow(clippy::too_many_arguments)]
fn frame(
    frame_type: FrameType,
    seq: u8,
    dst_pan: Option<PanId>,
    dst: LinkAddr,
    src_pan: Option<PanId>,
    src: LinkAddr,
    security: Option<(u32, &CcmKey, ExtAddr)>,
    content: &[u8],
) -> Vec<u8> {
    let pan_id_compression = dst_pan.is_some() && src_pan.is_none() && src != LinkAddr::Absent;
    let r = FrameRepr {
        frame_type,
        frame_version: if security.is_some() {
            FrameVersion::Ieee2006
        } else {
            FrameVersion::Ieee2003
        },
        security: security.map(|(fc, _, _)| AuxSecurityHeaderRepr {
            security_level: SecurityLevel::EncMic32,
            frame_counter: Some(fc),
            key_id: KeyIdentifier::Index(KEY_INDEX),
            asn_in_nonce: false,
        }),
        frame_pending: false,
        ack_request: matches!(dst, LinkAddr::Short(s) if !s.is_broadcast())
            || matches!(dst, LinkAddr::Extended(_)),
        pan_id_compression,
        sequence_number: Some(seq),
        dst_pan_id: dst_pan,
        dst_addr: dst,
        src_pan_id: src_pan,
        src_addr: src,
        header_ies: &[],
        content,
    };
    let mut buf = vec![0u8; r.buffer_len()];
    r.emit_into(&mut buf).expect("demo frame is consistent");
    if let Some((_, key, src_ext)) = security {
        secure_frame(&mut buf, key, src_ext).expect("demo frame secures");
    }
    buf
}

fn command(c: MacCommandRepr<'_>) -> Vec<u8> {
    let mut v = vec![0u8; c.buffer_len()];
    c.emit(&mut v).expect("command fits");
    v
}

/// The MAC frames of the demo, without FCS.
pub fn demo_frames() -> Vec<Vec<u8>> {
    let (_mle_key, mac_key) = derive_link_keys(&Key128::new(NETWORK_KEY));
    let key = CcmKey::new(&mac_key);
    let bcast = LinkAddr::Short(ShortAddr::BROADCAST);
    let relay_s = LinkAddr::Short(RELAY_SHORT);
    let relay_x = LinkAddr::Extended(RELAY);
    let meter_x = LinkAddr::Extended(METER);
    let meter_s = LinkAddr::Short(METER_SHORT);
    let mut out = Vec::new();

    // 1. Beacon Request.
    out.push(frame(
        FrameType::MacCommand,
        0x10,
        Some(PanId::BROADCAST),
        bcast,
        None,
        LinkAddr::Absent,
        None,
        &command(MacCommandRepr::BeaconRequest),
    ));
    // 2. Beacon with the ZigBee IP beacon payload (FACTS §6.6): protocol id 2, allow join +
    //    router capacity, network id.
    let mut zbip = vec![0x02, 0x03];
    zbip.extend_from_slice(b"amimesh-demo\0\0\0\0");
    let beacon = BeaconRepr {
        superframe_spec: SuperframeSpec::new(15, 15, 15, false, true, true),
        gts_permit: false,
        gts_directions: 0,
        gts: heapless::Vec::new(),
        pending_short: heapless::Vec::new(),
        pending_ext: heapless::Vec::new(),
        payload: &zbip,
    };
    let mut b = vec![0u8; beacon.buffer_len()];
    beacon.emit(&mut b).expect("beacon fits");
    out.push(frame(
        FrameType::Beacon,
        0x20,
        None,
        LinkAddr::Absent,
        Some(PAN),
        relay_s,
        None,
        &b,
    ));
    // 3-4. Association Request / Response.
    out.push(frame(
        FrameType::MacCommand,
        0x11,
        Some(PAN),
        relay_s,
        Some(PanId::BROADCAST),
        meter_x,
        None,
        &command(MacCommandRepr::AssociationRequest { capability: 0x8e }),
    ));
    out.push(frame(
        FrameType::MacCommand,
        0x21,
        Some(PAN),
        meter_x,
        None,
        relay_x,
        None,
        &command(MacCommandRepr::AssociationResponse {
            short_addr: METER_SHORT,
            status: 0,
        }),
    ));
    // 5-6. Unsecured PANA: PCI from the meter, PAR[S] with PRF/Integrity offers from the relay.
    let pci = [0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    out.push(frame(
        FrameType::Data,
        0x12,
        Some(PAN),
        relay_x,
        None,
        meter_x,
        None,
        &lowpan_udp(meter_x, relay_x, 716, 716, &pci),
    ));
    let mut par = vec![
        0, 0, 0, 40, 0xc0, 0x00, 0, 2, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 7,
    ];
    par.extend_from_slice(&[0, 6, 0, 0, 0, 4, 0, 0, 0, 0, 0, 5]); // PRF_HMAC_SHA2_256
    par.extend_from_slice(&[0, 3, 0, 0, 0, 4, 0, 0, 0, 0, 0, 12]); // AUTH_HMAC_SHA2_256_128
    out.push(frame(
        FrameType::Data,
        0x22,
        Some(PAN),
        meter_x,
        None,
        relay_x,
        None,
        &lowpan_udp(relay_x, meter_x, 716, 716, &par),
    ));
    // 7. Immediate ACK of the PAR.
    out.push(vec![0x02, 0x00, 0x22]);
    // 8. Secured MLE Link Request (security suite 255 inside the secured MAC frame) from the
    //    meter's new short address; its nonce needs the extended address learnt in frame 4.
    let mut mle = vec![255, 0];
    mle.extend_from_slice(&[0, 2, 0x01, 0x01]); // Source Address TLV
    mle.extend_from_slice(&[3, 8, 1, 2, 3, 4, 5, 6, 7, 8]); // Challenge TLV
    mle.extend_from_slice(&[18, 2, 0, 1]); // Version TLV
    out.push(frame(
        FrameType::Data,
        0x13,
        Some(PAN),
        relay_s,
        None,
        meter_s,
        Some((1, &key, METER)),
        &lowpan_udp(meter_s, relay_s, 19788, 19788, &mle),
    ));
    // 9. Secured RPL DIS (ICMPv6 155/0) from the meter to ff02::1a.
    out.push(frame(
        FrameType::Data,
        0x14,
        Some(PAN),
        bcast,
        None,
        meter_x,
        Some((2, &key, METER)),
        &lowpan_icmp_all_rpl_nodes(meter_x, 155, 0x00, &[0, 0]),
    ));
    // 10. Secured RPL DIO (ICMPv6 155/1) from the relay: instance 0, version 240, rank 256,
    //     G=1 MOP=1 (non-storing), DTSN 240, DODAGID fd00::1.
    let mut dio = vec![0, 240, 0x01, 0x00, 0x88, 240, 0, 0];
    let mut dodag = [0u8; 16];
    dodag[0] = 0xfd;
    dodag[15] = 1;
    dio.extend_from_slice(&dodag);
    out.push(frame(
        FrameType::Data,
        0x23,
        Some(PAN),
        bcast,
        None,
        relay_x,
        Some((1, &key, RELAY)),
        &lowpan_icmp_all_rpl_nodes(relay_x, 155, 0x01, &dio),
    ));
    out
}

/// The whole capture file.
pub fn demo_pcap() -> Vec<u8> {
    let header = PcapHeader {
        datalink: DataLink::IEEE802_15_4_TAP,
        endianness: Endianness::Little,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).expect("in-memory pcap");
    for (i, f) in demo_frames().iter().enumerate() {
        // TAP header: version 0, reserved, length 20; FCS-type TLV (CRC-16); channel 11, page 0.
        let mut rec = vec![
            0u8, 0, 20, 0, 0, 0, 1, 0, 1, 0, 0, 0, 3, 0, 3, 0, 11, 0, 0, 0,
        ];
        let start = rec.len();
        rec.extend_from_slice(f);
        rec.resize(start + f.len() + 2, 0);
        PsduConfig::IEEE802154
            .append(&mut rec[start..], f.len())
            .expect("demo PSDU fits 127 bytes");
        let ts = Duration::from_secs(1_700_000_000) + Duration::from_millis(250 * i as u64);
        w.write_packet(&PcapPacket::new(ts, rec.len() as u32, &rec))
            .expect("in-memory pcap");
    }
    w.into_writer()
}
