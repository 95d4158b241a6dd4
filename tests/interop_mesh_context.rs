//! Stateful compression of the mesh prefix (`FieldTuning::mesh_context`, RFC 6282 §3.1.1):
//! on a three-meter line every device takes the prefix of the DODAG's Prefix Information
//! option as 6LoWPAN context 0. A reading's source address then shrinks from 16 octets to
//! none on its first hop (the IID is the sender's link-layer address) and to 8 when it is
//! forwarded; Wireshark, given the same context, decodes the addresses we decode, and
//! without it cannot. Fails if tshark is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../crates/sim/tests/fieldsim/mod.rs"]
mod fieldsim;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use amimesh_core::LinkAddr;
use amimesh_device::{AMR_PORT, ip};
use amimesh_sim::device::{FieldTuning, network_key, relay_config};
use amimesh_sixlowpan::{Context, ContextTable};
use amimesh_testkit::pcap::{LINKTYPE_IEEE802_15_4_NOFCS, write};
use amimesh_testkit::tshark::{KeyHash, Tshark, num};
use fieldsim::*;

/// One reading as we decode it from a captured frame.
#[derive(Debug)]
struct Reading {
    frame: usize,
    /// The frame's sender is the reading's origin (first hop), not a forwarder.
    first_hop: bool,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    /// Octets of 6LoWPAN headers: the frame payload less the UDP payload.
    headers: usize,
}

fn mesh_prefix() -> Ipv6Addr {
    relay_config(5).prefix
}

fn contexts() -> ContextTable {
    ContextTable::new()
        .with(0, Context::new(mesh_prefix(), 64))
        .unwrap()
}

/// A three-meter line joined with or without the context, then 300 s of frames (MPDUs) and
/// the readings among them.
fn capture(mesh_context: bool) -> (Vec<Vec<u8>>, Vec<Reading>) {
    let tuning = FieldTuning {
        mesh_context: Some(mesh_context),
        ..FieldTuning::default()
    };
    let (f, frames) = joined_line_frames(&tuning, 300);
    for i in 0..=3 {
        let node = f.sim.node(amimesh_sim::NodeId::from(i)).unwrap();
        let on = node
            .meter()
            .map(|m| m.config().mesh_context)
            .or(node.relay().map(|r| r.config().mesh_context));
        assert_eq!(on, Some(mesh_context), "node {i}");
    }
    let ctx = contexts();
    let mut readings = Vec::new();
    for (i, mpdu) in frames.iter().enumerate() {
        let Some((lowpan, src, dst)) = whole_packet_lowpan(mpdu) else {
            continue;
        };
        let mut out = vec![0u8; 1500];
        let n = amimesh_sixlowpan::decompress(&lowpan, src, dst, &ctx, &mut out).unwrap();
        let p = &out[..n];
        let h = ip::parse(p).unwrap();
        // Readings carry the RPL option in a Hop-by-Hop header (type 0x23, skippable).
        let inner = ip::skip_hbh(p.to_vec(), &h).unwrap();
        let hi = ip::parse(&inner).unwrap();
        let Some((_, dport, payload)) = ip::udp(&inner, &hi) else {
            continue;
        };
        if dport != AMR_PORT {
            continue;
        }
        let LinkAddr::Extended(from) = src else {
            panic!("{src:?}")
        };
        readings.push(Reading {
            frame: i,
            first_hop: ip::ext_of(&h.src) == from,
            src: h.src,
            dst: h.dst,
            headers: lowpan.len() - payload.len(),
        });
    }
    (frames, readings)
}

/// The header octets of first-hop and forwarded readings (each the same for every reading).
fn header_sizes(readings: &[Reading]) -> BTreeMap<bool, usize> {
    let mut m = BTreeMap::new();
    for r in readings {
        let prev = m.insert(r.first_hop, r.headers);
        assert!(prev.is_none_or(|p| p == r.headers), "{readings:?}");
    }
    m
}

#[test]
fn the_context_takes_the_prefix_out_of_every_reading() {
    let (_, plain) = capture(false);
    let (_, compact) = capture(true);
    let before = header_sizes(&plain);
    let after = header_sizes(&compact);
    // Readings of all three meters, sent by their origin and forwarded.
    assert_eq!(before.len(), 2, "{plain:?}");
    assert_eq!(after.len(), 2, "{compact:?}");
    // First hop: the 16-octet source is elided (SAM = 11 with the context). Forwarded: the
    // 64-bit IID stays (SAM = 01), the prefix goes.
    assert_eq!(before[&true] - after[&true], 16, "{before:?} {after:?}");
    assert_eq!(before[&false] - after[&false], 8, "{before:?} {after:?}");
    for r in &compact {
        assert_eq!(r.src.segments()[..4], mesh_prefix().segments()[..4]);
    }
}

fn tshark(frames: &[Vec<u8>], name: &str, context: bool) -> Vec<Vec<String>> {
    let pcap = write(name, LINKTYPE_IEEE802_15_4_NOFCS, frames);
    let mut t = Tshark::read(pcap.path()).key(network_key().expose(), 1, KeyHash::ZigbeeIp);
    if context {
        t = t.pref("6lowpan.context0", format!("{}/64", mesh_prefix()));
    }
    let rows = t.fields(&[
        "6lowpan.iphc.sac",
        "6lowpan.iphc.sam",
        "ipv6.src",
        "ipv6.dst",
        "udp.dstport",
    ]);
    assert_eq!(rows.len(), frames.len(), "one row per frame");
    rows.into_iter().map(|r| r.to_vec()).collect()
}

#[test]
fn tshark_with_the_context_decodes_the_addresses_we_decode() {
    let (frames, readings) = capture(true);
    assert!(readings.len() >= 6, "{readings:?}");
    let with = tshark(&frames, "mesh-context", true);
    let without = tshark(&frames, "mesh-context-none", false);
    let (mut elided, mut iid_only) = (0, 0);
    for r in &readings {
        let row = &with[r.frame];
        // The outer header (the last in a frame tshark decodes once) is the reading's own.
        assert_eq!(row[0].split(',').next(), Some("1"), "SAC {row:?}");
        let sam = num(row[1].split(',').next().unwrap());
        match (r.first_hop, sam) {
            (true, 3) => elided += 1,
            (false, 1) => iid_only += 1,
            other => panic!("{other:?}: {row:?}"),
        }
        assert!(row[2].split(',').any(|a| a == r.src.to_string()), "{row:?}");
        assert!(row[3].split(',').any(|a| a == r.dst.to_string()), "{row:?}");
        assert_eq!(row[4], AMR_PORT.to_string(), "{row:?}");
        // Without the context tshark cannot know the prefix.
        let blind = &without[r.frame];
        assert!(
            !blind[2].split(',').any(|a| a == r.src.to_string()),
            "{blind:?}"
        );
    }
    assert!(elided >= 3 && iid_only >= 3, "{elided} {iid_only}");
}
