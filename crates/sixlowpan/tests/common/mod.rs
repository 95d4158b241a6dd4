//! Helpers shared by the interop tests: packet builders, a hand-made 802.15.4 data MAC header,
//! pcap writing and running the oracles.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amimesh_core::LinkAddr;
use amimesh_sixlowpan::wire::ipv6::Ipv6Repr;
use amimesh_sixlowpan::wire::udp::UdpRepr;
use amimesh_sixlowpan::wire::{IpProtocol, icmpv6};
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::process::Command;

pub fn addr(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// An IPv6 packet with `next` and `payload` (payload length computed).
pub fn ipv6(
    src: &str,
    dst: &str,
    hlim: u8,
    tc: u8,
    flow: u32,
    next: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    Ipv6Repr {
        src_addr: addr(src),
        dst_addr: addr(dst),
        next_header: IpProtocol::from(next),
        payload_len: payload.len() as u16,
        hop_limit: hlim,
        traffic_class: tc,
        flow_label: flow,
    }
    .emit(&mut p)
    .unwrap();
    p.extend_from_slice(payload);
    p
}

/// A UDP datagram with its checksum for the given (innermost) addresses.
pub fn udp(src: &str, dst: &str, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; 8 + payload.len()];
    UdpRepr {
        src_port: sport,
        dst_port: dport,
    }
    .emit(&mut d, &addr(src), &addr(dst), payload)
    .unwrap();
    d
}

/// An ICMPv6 echo request.
pub fn echo(src: &str, dst: &str, body: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 1, 0, 7];
    b.extend_from_slice(body);
    let mut m = vec![0u8; 4 + b.len()];
    icmpv6::Icmpv6Repr {
        msg_type: icmpv6::Icmpv6Type::EchoRequest,
        code: 0,
        body: &b,
    }
    .emit(&mut m, &addr(src), &addr(dst))
    .unwrap();
    m
}

/// A Hop-by-Hop header carrying the RPL option (RFC 6553) and padding to 8 bytes.
pub fn hbh_rpl(next: u8, instance: u8, rank: u16) -> Vec<u8> {
    let r = rank.to_be_bytes();
    vec![next, 0, 0x63, 0x04, 0x00, instance, r[0], r[1]]
}

/// An RFC 6554 source routing header with full 16-byte addresses.
pub fn srh(next: u8, hops: &[&str]) -> Vec<u8> {
    let len = 8 + 16 * hops.len();
    let mut h = vec![next, (len / 8 - 1) as u8, 3, hops.len() as u8, 0, 0, 0, 0];
    for a in hops {
        h.extend_from_slice(&addr(a).octets());
    }
    h
}

/// A minimal IEEE 802.15.4-2006 data frame header (no FCS): frame type data, PAN ID
/// compression, version 1, addressing modes from the addresses (802.15.4 §7.2.1).
pub fn mac_frame(seq: u8, pan: u16, dst: LinkAddr, src: LinkAddr, payload: &[u8]) -> Vec<u8> {
    let mode = |a: LinkAddr| match a {
        LinkAddr::Absent => 0u16,
        LinkAddr::Short(_) => 2,
        LinkAddr::Extended(_) => 3,
    };
    let fcf: u16 = 0x0001 | 0x0040 | (mode(dst) << 10) | (1 << 12) | (mode(src) << 14);
    let mut f = fcf.to_le_bytes().to_vec();
    f.push(seq);
    f.extend_from_slice(&pan.to_le_bytes());
    for a in [dst, src] {
        match a {
            LinkAddr::Short(s) => f.extend_from_slice(&s.to_le_bytes()),
            LinkAddr::Extended(e) => f.extend_from_slice(&e.to_le_bytes()),
            LinkAddr::Absent => {}
        }
    }
    f.extend_from_slice(payload);
    f
}

/// A unique path in the temp dir.
pub fn temp_path(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!(
        "amimesh-{name}-{}-{nanos}.pcap",
        std::process::id()
    ))
}

/// Writes a classic pcap with the given link type.
pub fn write_pcap(path: &PathBuf, linktype: u32, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

/// Runs tshark over `pcap` and returns, per frame, the requested fields (all occurrences joined
/// with ','). Panics (fails the test) when tshark is missing.
pub fn tshark_fields(pcap: &PathBuf, prefs: &[String], fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-2").arg("-r").arg(pcap).arg("-T").arg("fields");
    cmd.args([
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for p in prefs {
        cmd.arg("-o").arg(p);
    }
    for f in fields {
        cmd.arg("-e").arg(f);
    }
    let out = cmd
        .output()
        .expect("tshark must be installed (tools/setup-oracles.sh)");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}
