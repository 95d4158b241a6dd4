//! The RPL Packet Information as an RPI-6LoRH (RFC 8138 §6.3) behind the page-1 switch
//! (RFC 8025 §3), decoded by Wireshark 4.0's 6LoWPAN dissector (6LoRH support):
//!
//! - hand-built IPv6 packets with a Hop-by-Hop header holding only the RPL option, compressed
//!   by us in every I/K form (RFC 8138 §6.3) and behind both inline and NHC next headers: tshark
//!   must read the same O, R, F, I, K flags, RPLInstanceID and SenderRank, and our own
//!   decompression must give back the original packet bit for bit;
//! - a three-meter line whose relay sets the T flag (RFC 9035 §3) in its DODAG Configuration
//!   option: the meters follow it (RFC 9035 §4), their readings travel as RPI-6LoRH, and
//!   tshark reads the same RPI as our decoder in every such frame.
//!
//! Wireshark shows the K form's SenderRank as the one octet on the air (the most significant
//! octet, RFC 8138 §6.3). Its 6LoWPAN heuristic on 802.15.4 payloads does not know the page
//! switch, so the 6LoWPAN payloads (decrypted, for the line) go to tshark in Ethernet frames
//! of the LoWPAN encapsulation Ethertype 0xA0ED (RFC 7973), which calls the same 6LoWPAN
//! dissector directly. Fails if tshark is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../crates/sim/tests/fieldsim/mod.rs"]
mod fieldsim;

use amimesh_core::{ExtAddr, LinkAddr};
use amimesh_device::ip;
use amimesh_sim::device::FieldTuning;
use amimesh_sixlowpan::wire::lorh::{PAGE_1_DISPATCH, Rpi6LoRh, Rpi6LoRhRepr};
use amimesh_sixlowpan::{CompressOptions, ContextTable, compress, decompress};
use amimesh_testkit::ip::{Ipv6, addr, icmpv6, ipv6, udp};
use amimesh_testkit::pcap::write;
use amimesh_testkit::tshark::{Tshark, num};
use fieldsim::*;

const FIELDS: &[&str] = &[
    "6lowpan.pagenb",
    "6lowpan.6loRH.bitO",
    "6lowpan.6loRH.bitR",
    "6lowpan.6loRH.bitF",
    "6lowpan.6loRH.bitI",
    "6lowpan.6loRH.bitK",
    "6lowpan.rpl.instance",
    "6lowpan.sender.rank",
    "ipv6.src",
];

/// pcap link type of Ethernet.
const LINKTYPE_ETHERNET: u32 = 1;

/// An Ethernet frame carrying a 6LoWPAN payload (Ethertype 0xA0ED, RFC 7973).
fn eth(lowpan: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0xa0, 0xed];
    f.extend_from_slice(lowpan);
    f
}

fn flag(s: &str) -> bool {
    s == "1" || s == "True"
}

/// Asserts that a tshark row (`FIELDS`) shows the RPI-6LoRH at the front of `lowpan`.
fn assert_row(r: &[String], lowpan: &[u8]) {
    assert_eq!(lowpan[0], PAGE_1_DISPATCH);
    let v = Rpi6LoRh::new_checked(&lowpan[1..]).unwrap();
    let rpi = Rpi6LoRhRepr::parse(&v).unwrap();
    assert_eq!(num(&r[0]), 1, "page {r:?}");
    assert_eq!(flag(&r[1]), rpi.down, "O {r:?}");
    assert_eq!(flag(&r[2]), rpi.rank_error, "R {r:?}");
    assert_eq!(flag(&r[3]), rpi.forwarding_error, "F {r:?}");
    assert_eq!(flag(&r[4]), rpi.instance_id == 0, "I {r:?}");
    assert_eq!(flag(&r[5]), rpi.sender_rank & 0xff == 0, "K {r:?}");
    assert_eq!(flag(&r[4]), v.i_flag());
    assert_eq!(flag(&r[5]), v.k_flag());
    assert_eq!(num(&r[6]), u64::from(rpi.instance_id), "instance {r:?}");
    let rank = num(&r[7]);
    let rank = if v.k_flag() { rank << 8 } else { rank };
    assert_eq!(rank, u64::from(rpi.sender_rank), "rank {r:?}");
}

/// `src` → `dst` with a Hop-by-Hop header holding the RPL option of type 0x23 (RFC 9008
/// §11.1) with these data octets, then `next` and its bytes.
fn with_rpi(src: &str, dst: &str, data: [u8; 4], next: u8, upper: &[u8]) -> Vec<u8> {
    let mut payload = vec![next, 0, 0x23, 4];
    payload.extend_from_slice(&data);
    payload.extend_from_slice(upper);
    ipv6(Ipv6::new(addr(src), addr(dst), 0, 64), &payload)
}

#[test]
fn tshark_reads_our_rpi_6lorh_and_we_decompress_to_the_original() {
    // No link-layer addresses: the IPHC carries the addresses (RFC 6282 §3.2.2), so the
    // Ethernet carrier's addresses play no part.
    let (ls, ld) = (LinkAddr::Absent, LinkAddr::Absent);
    let (s, d) = ("fe80::ff:fe00:1", "fe80::ff:fe00:2");
    let (gs, gd) = ("2001:db8::ff:fe00:1", "2001:db8:ffff::1");
    let reading = udp(addr(gs), addr(gd), 0xf0b1, 0xf0b2, b"meter reading");
    let echo = icmpv6(addr(s), addr(d), 128, 0, &[0, 1, 0, 2, b'x']);
    let packets = [
        // I and K: instance 0, rank 0x0200 — the 3-octet form.
        with_rpi(s, d, [0x00, 0x00, 0x02, 0x00], 58, &echo),
        // K only: instance 0x1e, rank 0x0300, O set.
        with_rpi(s, d, [0x80, 0x1e, 0x03, 0x00], 58, &echo),
        // I only: rank 0x0281, R and F set.
        with_rpi(s, d, [0x60, 0x00, 0x02, 0x81], 58, &echo),
        // Neither, UDP (NHC) behind the option, global addresses.
        with_rpi(gs, gd, [0x00, 0x07, 0x01, 0x23], 17, &reading),
        // Neither, O set.
        with_rpi(gs, gd, [0x80, 0xff, 0xff, 0xff], 17, &reading),
    ];
    let ctx = ContextTable::new();
    let on = CompressOptions {
        rfc8138: true,
        ..CompressOptions::default()
    };
    let mut frames = Vec::new();
    let mut lowpans = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let mut out = vec![0u8; p.len() + 16];
        let n = compress(p, ls, ld, &ctx, &on, &mut out).unwrap();
        let lowpan = out[..n].to_vec();
        assert_eq!(lowpan[0], PAGE_1_DISPATCH, "case {i}");
        // Shorter than LOWPAN_NHC EID 0 (RFC 6282 §4.2).
        let mut nhc = vec![0u8; p.len() + 16];
        let m = compress(p, ls, ld, &ctx, &CompressOptions::default(), &mut nhc).unwrap();
        assert!(n + 2 <= m, "case {i}: {n} vs {m}");
        // Decompressed: the original packet, bit for bit.
        let mut back = vec![0u8; p.len() + 16];
        let k = decompress(&lowpan, ls, ld, &ctx, &mut back).unwrap();
        assert_eq!(&back[..k], &p[..], "case {i}");
        frames.push(eth(&lowpan));
        lowpans.push(lowpan);
    }
    let pcap = write("rpi6lorh", LINKTYPE_ETHERNET, &frames);
    let rows = Tshark::read(pcap.path()).fields(FIELDS);
    assert_eq!(rows.len(), frames.len());
    for ((r, lowpan), p) in rows.iter().zip(&lowpans).zip(&packets) {
        assert_row(r, lowpan);
        let h = ip::parse(p).unwrap();
        assert_eq!(r[8], h.src.to_string(), "{r:?}");
    }
}

/// Runs a three-meter line whose relay turns RFC 8138 on (T flag), captures every frame for
/// `secs` once all have joined.
fn capture(secs: u64) -> Vec<Vec<u8>> {
    // Only the relay's switch: the meters' stays off and they follow the relay's T flag
    // (RFC 9035 §4).
    let tuning = FieldTuning {
        rfc8138: Some(true),
        ..FieldTuning::default()
    };
    joined_line_frames(&tuning, secs).1
}

#[test]
fn meters_follow_the_t_flag_and_tshark_reads_their_rpi_6lorh() {
    let frames = capture(200);
    let lowpans: Vec<_> = frames
        .iter()
        .filter_map(|m| whole_packet_lowpan(m))
        .collect();
    let eths: Vec<_> = lowpans.iter().map(|(l, ..)| eth(l)).collect();
    let pcap = write("rpi6lorh_line", LINKTYPE_ETHERNET, &eths);
    let rows = Tshark::read(pcap.path()).fields(FIELDS);
    assert_eq!(rows.len(), eths.len(), "one row per frame");
    let mut with_lorh = 0;
    let mut from_meters = std::collections::BTreeSet::new();
    for ((lowpan, src, dst), r) in lowpans.iter().zip(&rows) {
        let (src, dst) = (*src, *dst);
        if lowpan.first() != Some(&PAGE_1_DISPATCH) {
            assert!(
                r[0].is_empty(),
                "tshark sees a page switch we do not: {r:?}"
            );
            continue;
        }
        with_lorh += 1;
        assert_row(r, lowpan);
        // Our decoder turns it into a Hop-by-Hop header with the same RPI (RFC 9008 §4.1.3:
        // type 0x23, the DODAG's).
        let mut out = vec![0u8; 1500];
        let n = decompress(lowpan, src, dst, &ContextTable::new(), &mut out).unwrap();
        let p = &out[..n];
        let h = ip::parse(p).unwrap();
        let (opt, _) = ip::rpi(p, &h).unwrap().unwrap();
        let v = Rpi6LoRhRepr::parse(&Rpi6LoRh::new_checked(&lowpan[1..]).unwrap()).unwrap();
        assert_eq!(opt.option_type, 0x23);
        assert_eq!(
            (opt.down, opt.rank_error, opt.instance_id, opt.sender_rank),
            (v.down, v.rank_error, v.instance_id, v.sender_rank)
        );
        if let LinkAddr::Extended(e) = src {
            from_meters.insert(e);
        }
    }
    assert!(with_lorh >= 6, "{with_lorh} frames with an RPI-6LoRH");
    // Every meter sends some (the relay sends none upward: it is the root).
    let meters: std::collections::BTreeSet<ExtAddr> =
        (1..=3).map(amimesh_sim::device::ext_addr).collect();
    assert!(meters.is_subset(&from_meters), "{from_meters:?}");
}
