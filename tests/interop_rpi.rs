//! The RPL Packet Information (RFC 6553 §3, RFC 9008) as the meters put it on the air,
//! decoded by Wireshark: a capture of a three-meter line (readings of meter 3 forwarded by
//! meters 2 and 1) is decrypted with the network key ("ZigBee IP hash"), its 6LoWPAN
//! headers decompressed (the Hop-by-Hop header travels as LOWPAN_NHC EID 0, RFC 6282 §4.2),
//! and every RPL option tshark finds must equal the one our own decoder reads from the same
//! frame. With type 0x63 Wireshark 4.0 decodes the option's fields (O, R, F, RPLInstanceID,
//! SenderRank); it does not know type 0x23 (RFC 9008 §11.1) and shows it as an unknown
//! option that may change en route and is skipped when unknown, with its 4 data octets.
//! Fails if tshark is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../crates/sim/tests/fieldsim/mod.rs"]
mod fieldsim;

use amimesh_core::LinkAddr;
use amimesh_device::ip;
use amimesh_rpl::wire::HbhRepr;
use amimesh_rpl::wire::hbh::{OPTION_TYPE_RFC6553, OPTION_TYPE_RFC9008};
use amimesh_sim::device::{FieldTuning, ext_addr, network_key};
use amimesh_testkit::pcap::{LINKTYPE_IEEE802_15_4_NOFCS, write};
use amimesh_testkit::tshark::{KeyHash, Tshark, num};
use fieldsim::*;

/// What our own decoder reads from one captured frame: the MAC source, the IPv6 source and
/// the RPL option, if the frame carries a whole IPv6 packet with one.
struct Ours {
    from: u64,
    ip_src: std::net::Ipv6Addr,
    rpi: HbhRepr,
}

/// `None`: not a secured data frame carrying a whole IPv6 packet; `Some(None)`: a whole
/// packet without the option.
fn ours(mpdu: &[u8]) -> Option<Option<Ours>> {
    let (payload, src, dst) = whole_packet_lowpan(mpdu)?;
    let payload = &payload[..];
    let mut out = vec![0u8; 1500];
    let n = amimesh_sixlowpan::decompress(
        payload,
        src,
        dst,
        &amimesh_sixlowpan::ContextTable::new(),
        &mut out,
    )
    .ok()?;
    let p = &out[..n];
    let h = ip::parse(p)?;
    let LinkAddr::Extended(from) = src else {
        return None;
    };
    let Some((rpi, _)) = ip::rpi(p, &h).ok()? else {
        return Some(None);
    };
    Some(Some(Ours {
        from: from.to_u64(),
        ip_src: h.src,
        rpi,
    }))
}

/// Runs the line with meters putting the option of `option_type` in, captures every frame
/// on air from the moment all have joined for `secs`, and returns the frames (MPDUs) and the
/// DODAG's MinHopRankIncrease.
fn capture(option_type: u8, secs: u64) -> (Vec<Vec<u8>>, u16) {
    let tuning = FieldTuning {
        rpl_option_type: Some(option_type),
        ..FieldTuning::default()
    };
    let (f, frames) = joined_line_frames(&tuning, secs);
    (frames, f.relay().config().min_hop_rank_increase)
}

fn tshark(frames: &[Vec<u8>], name: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let pcap = write(name, LINKTYPE_IEEE802_15_4_NOFCS, frames);
    let nk = network_key();
    let rows = Tshark::read(pcap.path())
        .key(nk.expose(), 1, KeyHash::ZigbeeIp)
        .fields(fields);
    assert_eq!(rows.len(), frames.len(), "one row per frame");
    rows.into_iter().map(|r| r.to_vec()).collect()
}

/// Index of the meter (or relay, 0) behind an extended address.
fn node(ext: u64) -> usize {
    (0..=3).find(|i| ext_addr(*i).to_u64() == ext).unwrap()
}

#[test]
fn tshark_decodes_the_rfc6553_option_fields_of_forwarded_packets() {
    let (frames, mhri) = capture(OPTION_TYPE_RFC6553, 200);
    let mut by_sender = [(u16::MAX, 0u16); 4];
    let rows = tshark(
        &frames,
        "rpi6553",
        &[
            "ipv6.opt.type",
            "ipv6.opt.rpl.flag.o",
            "ipv6.opt.rpl.flag.r",
            "ipv6.opt.rpl.flag.f",
            "ipv6.opt.rpl.instance_id",
            "ipv6.opt.rpl.sender_rank",
            "6lowpan.nhc.ext.eid",
            "ipv6.src",
        ],
    );
    let mut forwarded = 0;
    let mut with_option = 0;
    for (mpdu, r) in frames.iter().zip(&rows) {
        let Some(o) = ours(mpdu) else { continue };
        let Some(o) = o else {
            // A whole packet without the option: tshark finds none either.
            assert!(
                !r[0].split(',').any(|t| t == "0x63" || t == "0x23"),
                "tshark sees an option we do not: {r:?}"
            );
            continue;
        };
        with_option += 1;
        assert_eq!(r[0], "0x63", "{r:?}");
        let b = |s: &str| s == "1" || s == "True";
        assert_eq!(b(&r[1]), o.rpi.down, "O {r:?}");
        assert_eq!(b(&r[2]), o.rpi.rank_error, "R {r:?}");
        assert_eq!(b(&r[3]), o.rpi.forwarding_error, "F {r:?}");
        assert_eq!(num(&r[4]), u64::from(o.rpi.instance_id), "{r:?}");
        assert_eq!(num(&r[5]), u64::from(o.rpi.sender_rank), "{r:?}");
        // Carried compressed: LOWPAN_NHC extension header EID 0 (Hop-by-Hop).
        assert!(r[6].split(',').any(|e| num(e) == 0), "NHC EID 0: {r:?}");
        assert_eq!(r[7], o.ip_src.to_string(), "{r:?}");
        // SenderRank is the sender's own Rank (the devices' default `rpl_option_rank`),
        // whoever originated the packet (RFC 6550 §11.2): meter k is k hops out, at least
        // (k + 1) × MinHopRankIncrease (RFC 6550 §3.5.1, the root at MinHopRankIncrease).
        // No inconsistency on a loop-free line.
        let sender = node(o.from);
        assert!(o.rpi.sender_rank >= (sender as u16 + 1) * mhri, "{r:?}");
        let e = &mut by_sender[sender];
        *e = (e.0.min(o.rpi.sender_rank), e.1.max(o.rpi.sender_rank));
        assert!(!o.rpi.rank_error && !o.rpi.forwarding_error);
        let origin = ip::ext_of(&o.ip_src).to_u64();
        if origin != o.from {
            forwarded += 1;
        }
    }
    assert!(with_option >= 6, "{with_option} frames with the option");
    assert!(
        forwarded >= 3,
        "{forwarded} forwarded frames with the option"
    );
    // Rewritten hop by hop: every meter's SenderRank is below that of the one beyond it.
    for k in 1..3 {
        assert!(by_sender[k].1 < by_sender[k + 1].0, "{by_sender:?}");
    }
}

#[test]
fn tshark_sees_the_rfc9008_option_as_a_skippable_changing_option() {
    let (frames, mhri) = capture(OPTION_TYPE_RFC9008, 200);
    let rows = tshark(
        &frames,
        "rpi9008",
        &[
            "ipv6.opt.type",
            "ipv6.opt.type.action",
            "ipv6.opt.type.change",
            "ipv6.opt.length",
            "ipv6.opt.unknown",
            "6lowpan.nhc.ext.eid",
        ],
    );
    let mut with_option = 0;
    let mut forwarded = 0;
    for (mpdu, r) in frames.iter().zip(&rows) {
        let Some(Some(o)) = ours(mpdu) else { continue };
        with_option += 1;
        assert_eq!(o.rpi.option_type, OPTION_TYPE_RFC9008);
        assert_eq!(r[0], "0x23", "{r:?}");
        // RFC 9008 §4.2: action 00 (skip if unknown), the change bit set.
        assert_eq!(num(&r[1]), 0, "{r:?}");
        assert!(r[2] == "1" || r[2] == "True", "{r:?}");
        assert_eq!(num(&r[3]), 4, "{r:?}");
        // The data octets as tshark shows them: O|R|F flags, RPLInstanceID, SenderRank.
        let data = hex::decode(r[4].replace(':', "")).unwrap();
        let mut expect = [0u8; 6];
        o.rpi.emit(&mut expect).unwrap();
        assert_eq!(data, expect[2..], "{r:?}");
        let sender = node(o.from) as u16;
        assert!(u16::from_be_bytes([data[2], data[3]]) >= (sender + 1) * mhri);
        assert!(r[5].split(',').any(|e| num(e) == 0), "NHC EID 0: {r:?}");
        if ip::ext_of(&o.ip_src).to_u64() != o.from {
            forwarded += 1;
        }
    }
    assert!(with_option >= 6, "{with_option} frames with the option");
    assert!(forwarded >= 3, "{forwarded}");
}

/// scapy's `RplOption` (the RFC 6553 layout) reads the Hop-by-Hop header our devices put in
/// front of a packet, and the one scapy builds reads back the same through our decoder. For
/// type 0x23, which scapy 2.8 does not know, its generic option shows the same data octets.
#[test]
fn scapy_reads_our_option_and_we_read_scapys() {
    let src: std::net::Ipv6Addr = "2001:db8:a::12:4b00:0:3".parse().unwrap();
    let dst: std::net::Ipv6Addr = "2001:db8:ffff::1".parse().unwrap();
    let plain = ip::build_udp(&src, &dst, 716, 716, 64, b"pana");
    let h = ip::parse(&plain).unwrap();
    let cases = [
        (OPTION_TYPE_RFC6553, true, false, false, 0u8, 0x0209u16),
        (OPTION_TYPE_RFC6553, false, true, false, 0, 700),
        (OPTION_TYPE_RFC6553, true, false, true, 0x1e, 0x0300),
        (OPTION_TYPE_RFC9008, false, true, true, 5, 1),
    ];
    let mut script = String::from(concat!(
        "import json\n",
        "from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop, RplOption, UDP\n",
        "def show(p):\n",
        "    o = IPv6(bytes.fromhex(p))[IPv6ExtHdrHopByHop].options[0]\n",
        "    if isinstance(o, RplOption):\n",
        "        print(json.dumps([o.otype, o.optlen, o.Down, o.RankError, o.ForwardError,\n",
        "                          o.RplInstanceId, o.SenderRank]))\n",
        "    else:\n",
        "        print(json.dumps([o.otype, o.optlen, bytes(o.optdata).hex()]))\n",
    ));
    for (t, down, r, f, inst, rank) in cases {
        let opt = HbhRepr {
            option_type: t,
            down,
            rank_error: r,
            forwarding_error: f,
            instance_id: inst,
            sender_rank: rank,
        };
        let p = ip::insert_rpi(&plain, &h, &opt).unwrap();
        script.push_str(&format!("show('{}')\n", hex::encode(&p)));
    }
    // And one built by scapy, printed as hex for our decoder.
    script.push_str(concat!(
        "p = IPv6(src='2001:db8::1', dst='2001:db8::2')/IPv6ExtHdrHopByHop(options=[",
        "RplOption(Down=1, RankError=1, ForwardError=0, RplInstanceId=0x1e, SenderRank=0x0300)",
        "])/UDP(sport=1, dport=2)\n",
        "print(json.dumps(bytes(p).hex()))\n",
    ));
    let out = amimesh_testkit::scapy::json_lines(&amimesh_testkit::scapy::run(&script));
    assert_eq!(out.len(), cases.len() + 1);
    for ((t, down, r, f, inst, rank), v) in cases.iter().zip(&out) {
        let v = v.as_array().unwrap();
        assert_eq!(v[0], u64::from(*t));
        assert_eq!(v[1], 4);
        if *t == OPTION_TYPE_RFC6553 {
            let flag = |b: bool| u64::from(b);
            assert_eq!(v[2], flag(*down));
            assert_eq!(v[3], flag(*r));
            assert_eq!(v[4], flag(*f));
            assert_eq!(v[5], u64::from(*inst));
            assert_eq!(v[6], u64::from(*rank));
        } else {
            let mut o = [0u8; 6];
            HbhRepr {
                option_type: *t,
                down: *down,
                rank_error: *r,
                forwarding_error: *f,
                instance_id: *inst,
                sender_rank: *rank,
            }
            .emit(&mut o)
            .unwrap();
            assert_eq!(v[2], hex::encode(&o[2..]));
        }
    }
    let theirs = hex::decode(out[cases.len()].as_str().unwrap()).unwrap();
    let th = ip::parse(&theirs).unwrap();
    let (o, at) = ip::rpi(&theirs, &th).unwrap().unwrap();
    assert_eq!(at, 42);
    assert_eq!(
        o,
        HbhRepr {
            option_type: OPTION_TYPE_RFC6553,
            down: true,
            rank_error: true,
            forwarding_error: false,
            instance_id: 0x1e,
            sender_rank: 0x0300,
        }
    );
    // scapy pads the 6-octet option to the 8-octet header as RFC 8200 §4.2 asks: the same
    // header as ours.
    assert_eq!(ip::hbh_len(&theirs, &th), Some(8));
    assert_eq!(ip::after_hbh(&theirs, &th), ip::PROTO_UDP);
}
