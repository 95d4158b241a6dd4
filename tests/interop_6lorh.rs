//! The RPL Packet Information as an RPI-6LoRH (RFC 8138 §6.3) and the RPL Source Routing
//! Header as SRH-6LoRH (RFC 8138 §5.1) behind the page-1 switch (RFC 8025 §3), decoded by
//! Wireshark 4.0's 6LoWPAN dissector (6LoRH support):
//!
//! - hand-built IPv6 packets with a Hop-by-Hop header holding only the RPL option, compressed
//!   by us in every I/K form (RFC 8138 §6.3) and behind both inline and NHC next headers: tshark
//!   must read the same O, R, F, I, K flags, RPLInstanceID and SenderRank, and our own
//!   decompression must give back the original packet bit for bit;
//! - a three-meter line whose relay sets the T flag (RFC 9035 §3) in its DODAG Configuration
//!   option: the meters follow it (RFC 9035 §4), their readings travel as RPI-6LoRH, and
//!   tshark reads the same RPI as our decoder in every such frame;
//! - hand-built root packets with an RPL Source Routing Header (RFC 6554, written as our RPL
//!   root writes it), compressed by us as SRH-6LoRH (RFC 8138 §5.1) in every Type 0 to 4,
//!   alone and in two headers, with and without the RPI-6LoRH after them: tshark must read
//!   the same Types, Sizes and hop octets, and the same final destination, and our own
//!   decompression must give back the original packet bit for bit;
//! - the same line in RPL non-storing mode: the relay's source-routed packets and meter 1's
//!   forwarded ones (its own hop consumed) travel as SRH-6LoRH, which tshark reads as we do;
//! - hand-built IPv6-in-IPv6 packets of a root tunnelling a server's datagram down a source
//!   route (RFC 9008 §8.2.2), compressed by us as SRH-6LoRH, RPI-6LoRH and IP-in-IP 6LoRH
//!   (RFC 8138 §7, the root's address elided or carried whole) before the inner
//!   LOWPAN_IPHC: tshark must read the same 6LoRH Types, the IP-in-IP Length and outer Hop
//!   Limit, and the server's datagram inside (addresses, hop limit, ports, payload, a good
//!   UDP checksum), and our own decompression must give back the outer packet bit for bit;
//! - the same line in non-storing mode with a server's datagram for the farthest meter: the
//!   relay tunnels it, each frame on the way carries the IP-in-IP 6LoRH, and tshark reads the
//!   server's datagram in them;
//! - the tunnel without RFC 8138 (LOWPAN_NHC EID 7 and a second LOWPAN_IPHC, RFC 6282 §4.2):
//!   tshark rebuilds both IPv6 headers as we do.
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
use amimesh_sixlowpan::wire::lorh::{
    PAGE_1_DISPATCH, Rpi6LoRh, Rpi6LoRhRepr, Srh6LoRh, Srh6LoRhRepr, coalesce,
};
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
    let mut frames = Vec::new();
    let mut lowpans = Vec::new();
    for (i, (lowpan, m)) in page1_forms(&packets, ls, ld).into_iter().enumerate() {
        // Shorter than LOWPAN_NHC EID 0 (RFC 6282 §4.2).
        let n = lowpan.len();
        assert!(n + 2 <= m, "case {i}: {n} vs {m}");
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

/// Each packet compressed from `ls` to `ld` (no contexts) with RFC 8138, which starts with the
/// page switch (RFC 8025 §3) and decompresses to the packet bit for bit, and the length of
/// its LOWPAN_NHC form (RFC 6282 §4.2).
fn page1_forms(packets: &[Vec<u8>], ls: LinkAddr, ld: LinkAddr) -> Vec<(Vec<u8>, usize)> {
    let ctx = ContextTable::new();
    let on = CompressOptions {
        rfc8138: true,
        ..CompressOptions::default()
    };
    let mut forms = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let mut out = vec![0u8; p.len() + 16];
        let n = compress(p, ls, ld, &ctx, &on, &mut out).unwrap();
        let lowpan = out[..n].to_vec();
        assert_eq!(lowpan[0], PAGE_1_DISPATCH, "case {i}");
        let mut nhc = vec![0u8; p.len() + 16];
        let m = compress(p, ls, ld, &ctx, &CompressOptions::default(), &mut nhc).unwrap();
        let mut back = vec![0u8; p.len() + 16];
        let k = decompress(&lowpan, ls, ld, &ctx, &mut back).unwrap();
        assert_eq!(&back[..k], &p[..], "case {i}");
        forms.push((lowpan, m));
    }
    forms
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
        // Our decoder turns it into a Hop-by-Hop header with the same RPI (RFC 9008 §4.3:
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

/// tshark fields of the SRH-6LoRH (RFC 8138 §5.1). Wireshark 4.0 shows each compressed hop
/// as a `6lowpan.src` item holding just the octets carried (the "delta", no coalescence),
/// before the LOWPAN_IPHC source; its Size field is `6lowpan.HopNuevo`.
const SRH_FIELDS: &[&str] = &[
    "6lowpan.pagenb",
    "6lowpan.rhtype",
    "6lowpan.HopNuevo",
    "6lowpan.src",
    "6lowpan.dst",
    "6lowpan.sender.rank",
    "ipv6.src",
    "ipv6.dst",
];

/// Our reading of the SRH-6LoRH headers at the front of `lowpan` (after the page switch):
/// (Type, Size, the hops as Wireshark shows them: the carried octets at the end of `::`),
/// and where the next header starts.
fn our_srh_6lorh(lowpan: &[u8]) -> (Vec<(u8, u8, Vec<std::net::Ipv6Addr>)>, usize) {
    let mut at = 1;
    let mut out = Vec::new();
    while lowpan[at] >> 5 == 0b100 && lowpan[at + 1] <= 4 {
        let v = Srh6LoRh::new_checked(&lowpan[at..]).unwrap();
        let r = Srh6LoRhRepr::parse(&v).unwrap();
        let deltas = (0..v.hop_count())
            .map(|i| coalesce(&std::net::Ipv6Addr::UNSPECIFIED, v.hop(i).unwrap()))
            .collect();
        out.push((r.lorh_type, v.size(), deltas));
        at += v.header_len();
    }
    (out, at)
}

/// Asserts that tshark's `SRH_FIELDS` row shows the SRH-6LoRH headers of `lowpan` as we
/// read them, and the same final destination as our decompression of it (`packet`).
fn assert_srh_row(r: &[String], lowpan: &[u8], packet: &[u8]) {
    let (headers, _) = our_srh_6lorh(lowpan);
    assert!(!headers.is_empty());
    assert_eq!(num(&r[0]), 1, "page {r:?}");
    let types: Vec<u64> = r[1].split(',').map(num).collect();
    let sizes: Vec<u64> = r[2].split(',').map(num).collect();
    // Wireshark prints some as IPv4-compatible (`::0.7.0.2`): compare the addresses.
    let srcs: Vec<std::net::Ipv6Addr> = r[3].split(',').map(|a| a.parse().unwrap()).collect();
    let hops: Vec<std::net::Ipv6Addr> = headers
        .iter()
        .flat_map(|(_, _, d)| d.iter().copied())
        .collect();
    for (i, (t, size, _)) in headers.iter().enumerate() {
        assert_eq!(types[i], u64::from(*t), "type {r:?}");
        assert_eq!(sizes[i], u64::from(*size), "size {r:?}");
    }
    // The hops, then the LOWPAN_IPHC source.
    assert_eq!(srcs.len(), hops.len() + 1, "{r:?}");
    assert_eq!(&srcs[..hops.len()], &hops[..], "hops {r:?}");
    // Wireshark rebuilds the IPv6 header without the routing header: its destination is the
    // final one, the last address of the routing header we rebuild.
    let h = ip::parse(packet).unwrap();
    let at = 40 + ip::hbh_len(packet, &h).unwrap();
    let srh = amimesh_rpl::wire::Srh::new_checked(&packet[at..]).unwrap();
    let n = srh.address_count().unwrap();
    let last = srh.address(n, &h.dst).unwrap();
    assert_eq!(r[4], last.to_string(), "final destination {r:?}");
    assert_eq!(r[7], last.to_string(), "{r:?}");
    assert_eq!(r[6], h.src.to_string(), "{r:?}");
    // Our first hop is the first SRH-6LoRH hop coalesced with the root (the IPv6 source).
    let (t0, _, d0) = &headers[0];
    let len = amimesh_sixlowpan::wire::lorh::srh_addr_len(*t0).unwrap();
    assert_eq!(h.dst.octets()[16 - len..], d0[0].octets()[16 - len..]);
    assert_eq!(h.dst.octets()[..16 - len], h.src.octets()[..16 - len]);
}

/// A packet the root (`root`) sends down `route` (the first hop first, the final destination
/// last) with an RFC 6554 Source Routing Header, written as our RPL root writes it
/// (`SrhRepr::emit_route`), maybe with the RPL option, carrying UDP.
fn source_routed(root: &str, route: &[&str], rpi: Option<[u8; 4]>) -> Vec<u8> {
    use amimesh_rpl::wire::srh::SrhRepr;
    let route: Vec<std::net::Ipv6Addr> = route.iter().map(|a| addr(a)).collect();
    let (first, rest) = route.split_first().unwrap();
    let last = *rest.last().unwrap();
    let u = udp(addr(root), last, 0xf0b1, 0xf0b2, b"reading");
    let upper = &u[..];
    let mut rh = vec![0u8; SrhRepr::route_len(first, rest).unwrap()];
    SrhRepr::emit_route(17, first, rest, &mut rh).unwrap();
    let mut payload = Vec::new();
    let next = match rpi {
        Some(d) => {
            payload.extend_from_slice(&[43, 0, 0x23, 4]);
            payload.extend_from_slice(&d);
            0
        }
        None => 43,
    };
    payload.extend_from_slice(&rh);
    payload.extend_from_slice(upper);
    let mut p = ipv6(Ipv6::new(addr(root), *first, next, 64), &payload);
    p[6] = next;
    p
}

#[test]
fn tshark_reads_our_srh_6lorh_and_we_decompress_to_the_original() {
    let (ls, ld) = (LinkAddr::Absent, LinkAddr::Absent);
    let root = "2001:db8::212:4b00:0:1";
    let packets = [
        // Two hops, one octet each (Type 0), to node 4.
        source_routed(
            root,
            &[
                "2001:db8::212:4b00:0:2",
                "2001:db8::212:4b00:0:3",
                "2001:db8::212:4b00:0:4",
            ],
            None,
        ),
        // The same with the RPL option: SRH-6LoRH then RPI-6LoRH.
        source_routed(
            root,
            &[
                "2001:db8::212:4b00:0:2",
                "2001:db8::212:4b00:0:3",
                "2001:db8::212:4b00:0:4",
            ],
            Some([0x80, 0x00, 0x01, 0x00]),
        ),
        // Two-octet hops then an eight-octet one: two headers (Types 1 and 3).
        source_routed(
            root,
            &[
                "2001:db8::212:4b00:0:102",
                "2001:db8::212:4b00:0:103",
                "2001:db8::1:2:3:4",
                "2001:db8::212:4b00:0:9",
            ],
            Some([0x80, 0x1e, 0x03, 0x01]),
        ),
        // One four-octet hop (Type 2).
        source_routed(
            root,
            &["2001:db8::212:4b00:7:2", "2001:db8::212:4b00:7:3"],
            None,
        ),
        // A hop outside the root's prefix (Type 4, 16 octets), then back (Type 3).
        source_routed(
            root,
            &[
                "2001:db8::212:4b00:0:2",
                "fd00:1::5",
                "2001:db8::aaaa:bbbb:cccc:dddd",
                "2001:db8::212:4b00:0:6",
            ],
            None,
        ),
    ];
    let mut frames = Vec::new();
    let mut lowpans = Vec::new();
    let mut seen_types = std::collections::BTreeSet::new();
    for (i, (lowpan, m)) in page1_forms(&packets, ls, ld).into_iter().enumerate() {
        let (headers, _) = our_srh_6lorh(&lowpan);
        assert!(!headers.is_empty(), "case {i}: {lowpan:02x?}");
        seen_types.extend(headers.iter().map(|h| h.0));
        // Shorter than the LOWPAN_NHC form (RFC 6282 §4.2).
        assert!(lowpan.len() < m, "case {i}: {} vs {m}", lowpan.len());
        frames.push(eth(&lowpan));
        lowpans.push(lowpan);
    }
    assert_eq!(seen_types, (0..=4).collect(), "every SRH-6LoRH Type");
    let pcap = write("srh6lorh", LINKTYPE_ETHERNET, &frames);
    let rows = Tshark::read(pcap.path()).fields(SRH_FIELDS);
    assert_eq!(rows.len(), frames.len());
    for ((r, lowpan), p) in rows.iter().zip(&lowpans).zip(&packets) {
        assert_srh_row(r, lowpan, p);
        // With the RPL option, tshark reads the RPI-6LoRH that follows.
        let h = ip::parse(p).unwrap();
        if ip::hbh_len(p, &h).unwrap() > 0 {
            // The K form shows the one octet on the air (RFC 8138 §6.3).
            let rank = u16::from_be_bytes([p[46], p[47]]);
            let shown = if rank & 0xff == 0 { rank >> 8 } else { rank };
            assert_eq!(num(&r[5]), u64::from(shown), "rank {r:?}");
        }
    }
}

#[test]
fn non_storing_root_source_routes_as_srh_6lorh_and_tshark_reads_it() {
    let tuning = FieldTuning {
        rfc8138: Some(true),
        mop: Some(amimesh_rpl::wire::Mop::NonStoring),
        ..FieldTuning::default()
    };
    let frames = joined_line_frames(&tuning, 200).1;
    let lowpans: Vec<_> = frames
        .iter()
        .filter_map(|m| whole_packet_lowpan(m))
        .filter(|(l, ..)| l.len() > 2 && l[0] == PAGE_1_DISPATCH && l[1] >> 5 == 0b100 && l[2] <= 4)
        .collect();
    let eths: Vec<_> = lowpans.iter().map(|(l, ..)| eth(l)).collect();
    let pcap = write("srh6lorh_line", LINKTYPE_ETHERNET, &eths);
    let rows = Tshark::read(pcap.path()).fields(SRH_FIELDS);
    assert_eq!(rows.len(), eths.len(), "one row per frame");
    let mut senders = std::collections::BTreeSet::new();
    let mut hop_counts = std::collections::BTreeSet::new();
    for ((lowpan, src, dst), r) in lowpans.iter().zip(&rows) {
        let mut out = vec![0u8; 1500];
        let n = decompress(lowpan, *src, *dst, &ContextTable::new(), &mut out).unwrap();
        let p = &out[..n];
        assert_srh_row(r, lowpan, p);
        // The frame goes to the first hop: the IPv6 destination our decoder rebuilds.
        let h = ip::parse(p).unwrap();
        assert_eq!(ip::link_dst(&h.dst), *dst);
        let (headers, _) = our_srh_6lorh(lowpan);
        hop_counts.insert(headers.iter().map(|h| h.2.len()).sum::<usize>());
        if let LinkAddr::Extended(e) = src {
            senders.insert(*e);
        }
    }
    // The relay source-routes to meters 2 and 3 (two and one hops before the final one), and
    // meter 1 forwards to meter 3 with its own hop consumed.
    assert!(
        hop_counts.contains(&1) && hop_counts.contains(&2),
        "{hop_counts:?}"
    );
    assert!(
        senders.contains(&amimesh_sim::device::ext_addr(1)),
        "meter 1 forwards with SRH-6LoRH: {senders:?}"
    );
    assert!(senders.len() >= 2, "{senders:?}");
}

/// Fields of the IP-in-IP 6LoRH (RFC 8138 §7) and of the inner packet Wireshark rebuilds
/// from the LOWPAN_IPHC after it.
const IPINIP_FIELDS: &[&str] = &[
    "6lowpan.pagenb",
    "6lowpan.rhtype",
    "6lowpan.rhElength",
    "6lowpan.rhhop.limit",
    "6lowpan.6loRH.bitO",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "udp.srcport",
    "udp.dstport",
    "udp.payload",
    "udp.checksum.status",
];

/// A server's UDP datagram to `target` that the root `root` tunnels down `route` (the
/// outer destination last, RFC 9008 §8.2.2): an outer header from the root with the RPL
/// option (`rpi` data octets) and, past one hop, an RFC 6554 Source Routing Header written as
/// our RPL root writes it; the server's packet inside.
fn tunnelled(root: &str, route: &[&str], rpi: Option<[u8; 4]>, hlim: u8) -> (Vec<u8>, Vec<u8>) {
    use amimesh_rpl::wire::srh::SrhRepr;
    let route: Vec<std::net::Ipv6Addr> = route.iter().map(|a| addr(a)).collect();
    let (first, rest) = route.split_first().unwrap();
    let target = *route.last().unwrap();
    let server = addr("2001:db8:ffff::1");
    let u = udp(server, target, 0xf0b1, 0xf0b2, b"work order");
    let inner = ipv6(Ipv6::new(server, target, 17, 63), &u);
    let mut payload = Vec::new();
    let mut next = 41;
    if !rest.is_empty() {
        let mut rh = vec![0u8; SrhRepr::route_len(first, rest).unwrap()];
        SrhRepr::emit_route(41, first, rest, &mut rh).unwrap();
        payload.extend_from_slice(&rh);
        next = 43;
    }
    if let Some(d) = rpi {
        let mut hbh = vec![next, 0, 0x23, 4];
        hbh.extend_from_slice(&d);
        payload.splice(0..0, hbh);
        next = 0;
    }
    payload.extend_from_slice(&inner);
    let mut p = ipv6(Ipv6::new(addr(root), *first, next, hlim), &payload);
    p[6] = next;
    (p, inner)
}

/// Where the IP-in-IP 6LoRH of `lowpan` starts: after the SRH-6LoRH and the RPI-6LoRH.
fn ip_in_ip_at(lowpan: &[u8]) -> usize {
    let (_, mut at) = our_srh_6lorh(lowpan);
    if lowpan[at] >> 5 == 0b100 && lowpan[at + 1] == 5 {
        at += Rpi6LoRh::new_checked(&lowpan[at..]).unwrap().header_len();
    }
    at
}

#[test]
fn tshark_reads_our_ip_in_ip_6lorh_and_the_inner_packet() {
    use amimesh_sixlowpan::wire::lorh::{IpInIp6LoRh, IpInIp6LoRhRepr, TYPE_IP_IN_IP};
    let (ls, ld) = (LinkAddr::Absent, LinkAddr::Absent);
    let root = "2001:db8::212:4b00:0:1";
    let cases = [
        // Three hops, the RPI Down with instance 0 and rank 0x0100.
        tunnelled(
            root,
            &[
                "2001:db8::212:4b00:0:2",
                "2001:db8::212:4b00:0:3",
                "2001:db8::212:4b00:0:4",
            ],
            Some([0x80, 0, 0x01, 0x00]),
            64,
        ),
        // One hop: no SRH-6LoRH.
        tunnelled(
            root,
            &["2001:db8::212:4b00:0:2"],
            Some([0x80, 0x1e, 0x02, 0x80]),
            33,
        ),
        // No RPL option: the IP-in-IP 6LoRH right after the page switch.
        tunnelled(root, &["2001:db8::212:4b00:0:9"], None, 255),
    ];
    let mut frames = Vec::new();
    let mut expect = Vec::new();
    for root_known in [true, false] {
        let mut ctx = ContextTable::new();
        if root_known {
            ctx.set_root(Some(addr(root)));
        }
        let on = CompressOptions {
            rfc8138: true,
            ..CompressOptions::default()
        };
        for (i, (p, inner)) in cases.iter().enumerate() {
            let mut out = vec![0u8; p.len() + 16];
            let n = compress(p, ls, ld, &ctx, &on, &mut out).unwrap();
            let lowpan = out[..n].to_vec();
            assert_eq!(lowpan[0], PAGE_1_DISPATCH, "case {i}");
            let mut back = vec![0u8; p.len() + 16];
            let k = decompress(&lowpan, ls, ld, &ctx, &mut back).unwrap();
            assert_eq!(&back[..k], &p[..], "case {i}: the outer header bit for bit");
            // Shorter than the LOWPAN_NHC form (RFC 6282 §4.2 EID 7) when the root's
            // address is elided.
            let m = compress(p, ls, ld, &ctx, &CompressOptions::default(), &mut back).unwrap();
            assert!(!root_known || n + 16 < m, "case {i}: {n} vs {m}");
            let at = ip_in_ip_at(&lowpan);
            let v = IpInIp6LoRh::new_checked(&lowpan[at..]).unwrap();
            let r = IpInIp6LoRhRepr::parse(&v).unwrap();
            assert_eq!(r.hop_limit, p[7]);
            assert_eq!(r.encapsulator.len(), if root_known { 0 } else { 16 });
            let length = v.length();
            frames.push(eth(&lowpan));
            expect.push((
                lowpan.clone(),
                p.clone(),
                inner.clone(),
                length,
                TYPE_IP_IN_IP,
            ));
        }
    }
    let pcap = write("ipinip6lorh", LINKTYPE_ETHERNET, &frames);
    let rows = Tshark::read(pcap.path())
        .pref("udp.check_checksum", "TRUE")
        .fields(IPINIP_FIELDS);
    assert_eq!(rows.len(), frames.len());
    for (r, (lowpan, p, inner, length, t)) in rows.iter().zip(&expect) {
        assert_eq!(num(&r[0]), 1, "page {r:?}");
        // Every 6LoRH Type in order: the SRH-6LoRH, the RPI-6LoRH if any, then 6.
        let (srh, _) = our_srh_6lorh(lowpan);
        let mut types: Vec<u64> = srh.iter().map(|(ty, ..)| u64::from(*ty)).collect();
        let h = ip::parse(p).unwrap();
        let has_rpi = h.next_header == 0;
        if has_rpi {
            types.push(5);
        }
        types.push(u64::from(*t));
        let got: Vec<u64> = r[1].split(',').map(num).collect();
        assert_eq!(got, types, "types {r:?}");
        assert_eq!(num(&r[2]), u64::from(*length), "Length {r:?}");
        assert_eq!(num(&r[3]), u64::from(h.hop_limit), "outer Hop Limit {r:?}");
        assert_eq!(flag(&r[4]), has_rpi, "O {r:?}");
        // Wireshark shows the inner packet: the server's datagram as it was tunnelled.
        let ih = ip::parse(inner).unwrap();
        assert_eq!(r[5], ih.src.to_string(), "{r:?}");
        assert_eq!(r[6], ih.dst.to_string(), "{r:?}");
        assert_eq!(num(&r[7]), u64::from(ih.hop_limit), "{r:?}");
        let (sp, dp, data) = ip::udp(inner, &ih).unwrap();
        assert_eq!(
            (num(&r[8]), num(&r[9])),
            (u64::from(sp), u64::from(dp)),
            "{r:?}"
        );
        assert_eq!(r[10], hex::encode(data), "{r:?}");
        assert_eq!(r[11], "1", "UDP checksum {r:?}");
    }
}

#[test]
fn non_storing_relay_tunnels_a_server_command_and_tshark_reads_the_inner_packet() {
    use amimesh_sixlowpan::wire::lorh::{ELECTIVE_CLASS, TYPE_IP_IN_IP};
    let tuning = FieldTuning {
        rfc8138: Some(true),
        mop: Some(amimesh_rpl::wire::Mop::NonStoring),
        ..FieldTuning::default()
    };
    let (mut f, _) = joined_line_frames(&tuning, 0);
    let cap = fieldsim::Capture::default();
    f.sim.set_frame_sink(Box::new(cap.clone()));
    // A demand-response command from the AMR/DR server to meter 3, three hops away.
    let target = f.meter(3).global_address().unwrap();
    let mut sends = 0;
    while f.meter(3).load_level() != 3 && sends < 4 {
        sends += 1;
        f.sim.with_server(|s, _| s.send_command(target, 3));
        f.sim.poke(amimesh_sim::NodeId(0));
        let t = f.sim.now() + amimesh_core::Duration::from_secs(20);
        f.sim.run_until(t).unwrap();
        f.drain();
    }
    assert_eq!(f.meter(3).load_level(), 3, "the meter obeyed the command");
    assert!(f.relay().policy_stats().ip_in_ip_encapsulated >= 1);
    assert!(f.meter(3).policy_stats().ip_in_ip_decapsulated >= 1);
    let root = f.relay().dodag_id();
    let mut ctx = ContextTable::new();
    ctx.set_root(Some(root));
    let tunnelled: Vec<_> = cap
        .0
        .borrow()
        .iter()
        .filter_map(|(_, m)| whole_packet_lowpan(m))
        .filter(|(l, ..)| {
            l.first() == Some(&PAGE_1_DISPATCH) && {
                let at = ip_in_ip_at(l);
                l.get(at).is_some_and(|b| b >> 5 == ELECTIVE_CLASS)
                    && l.get(at + 1) == Some(&TYPE_IP_IN_IP)
            }
        })
        .collect();
    assert!(!tunnelled.is_empty());
    let eths: Vec<_> = tunnelled.iter().map(|(l, ..)| eth(l)).collect();
    let pcap = write("ipinip6lorh_line", LINKTYPE_ETHERNET, &eths);
    let rows = Tshark::read(pcap.path())
        .pref("udp.check_checksum", "TRUE")
        .fields(IPINIP_FIELDS);
    assert_eq!(rows.len(), eths.len(), "one row per frame");
    let mut senders = std::collections::BTreeSet::new();
    for ((lowpan, src, dst), r) in tunnelled.iter().zip(&rows) {
        let mut out = vec![0u8; 1500];
        let n = decompress(lowpan, *src, *dst, &ctx, &mut out).unwrap();
        let outer = &out[..n];
        let oh = ip::parse(outer).unwrap();
        // From the relay (its address elided), to the next hop on the frame's link.
        assert_eq!(oh.src, root);
        assert_eq!(ip::link_dst(&oh.dst), *dst);
        assert_eq!(num(&r[3]), u64::from(oh.hop_limit), "{r:?}");
        assert_eq!(num(&r[2]), 1, "Length 1: the root elided {r:?}");
        // Inside: the server's datagram to meter 3, as tshark reads it.
        assert_eq!(r[6], target.to_string(), "{r:?}");
        assert_eq!(r[11], "1", "UDP checksum {r:?}");
        let inner_start = (40..n - 40)
            .find(|&i| outer[i] >> 4 == 6 && outer[i + 24..i + 40] == target.octets())
            .unwrap();
        let ih = ip::parse(&outer[inner_start..]).unwrap();
        assert_eq!(r[5], ih.src.to_string(), "{r:?}");
        assert_eq!(num(&r[7]), u64::from(ih.hop_limit), "{r:?}");
        if let LinkAddr::Extended(e) = src {
            senders.insert(*e);
        }
    }
    // The relay and meters 1 and 2 each sent it on.
    for i in [1, 2] {
        assert!(
            senders.contains(&amimesh_sim::device::ext_addr(i)),
            "meter {i} forwards the tunnel: {senders:?}"
        );
    }
    assert!(senders.len() >= 3, "{senders:?}");
}

#[test]
fn tshark_reads_our_nhc_tunnel_without_rfc8138() {
    // Without RFC 8138 the root's tunnel is LOWPAN_IPHC for the outer header, LOWPAN_NHC for
    // its Hop-by-Hop and routing headers, NHC EID 7 and a second LOWPAN_IPHC for the inner
    // packet (RFC 6282 §4.2): tshark rebuilds both IPv6 headers.
    let (ls, ld) = (LinkAddr::Absent, LinkAddr::Absent);
    let root = "2001:db8::212:4b00:0:1";
    let (p, inner) = tunnelled(
        root,
        &["2001:db8::212:4b00:0:2", "2001:db8::212:4b00:0:3"],
        Some([0x80, 0, 0x01, 0x00]),
        64,
    );
    let ctx = ContextTable::new();
    let mut out = vec![0u8; p.len() + 16];
    let n = compress(
        p.as_slice(),
        ls,
        ld,
        &ctx,
        &CompressOptions::default(),
        &mut out,
    )
    .unwrap();
    assert_eq!(out[0] >> 5, 0b011, "LOWPAN_IPHC");
    let mut back = vec![0u8; p.len() + 16];
    let k = decompress(&out[..n], ls, ld, &ctx, &mut back).unwrap();
    assert_eq!(&back[..k], &p[..]);
    let pcap = write("ipinip_nhc", LINKTYPE_ETHERNET, &[eth(&out[..n])]);
    let rows = Tshark::read(pcap.path())
        .pref("udp.check_checksum", "TRUE")
        .fields(&[
            "ipv6.src",
            "ipv6.dst",
            "ipv6.hlim",
            "udp.payload",
            "udp.checksum.status",
        ]);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    let (oh, ih) = (ip::parse(&p).unwrap(), ip::parse(&inner).unwrap());
    assert_eq!(r[0], format!("{},{}", oh.src, ih.src), "{r:?}");
    assert_eq!(r[1], format!("{},{}", oh.dst, ih.dst), "{r:?}");
    assert_eq!(r[2], format!("{},{}", oh.hop_limit, ih.hop_limit), "{r:?}");
    assert_eq!(r[3], hex::encode(b"work order"), "{r:?}");
    assert_eq!(r[4], "1", "{r:?}");
}
