//! Test helpers: raw-IPv6 pcap writing (linktype 229) with hand-built IPv6, extension headers
//! and ICMPv6 checksums, and the tshark/scapy oracles.
#![allow(dead_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod sim;

use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::process::Command;

/// One IPv6 packet carrying an RPL message, optionally behind a Hop-by-Hop header and/or an
/// SRH. `ext` is a list of (next-header value of this extension, bytes), in order.
pub fn ipv6_rpl_packet(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ext: &[(u8, Vec<u8>)],
    code: u8,
    body: &[u8],
) -> Vec<u8> {
    ipv6_rpl_packet_routed(src, dst, dst, ext, code, body)
}

/// As [`ipv6_rpl_packet`], with the checksum computed over `final_dst` (the last address of a
/// routing header, RFC 8200 §8.1).
pub fn ipv6_rpl_packet_routed(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    final_dst: Ipv6Addr,
    ext: &[(u8, Vec<u8>)],
    code: u8,
    body: &[u8],
) -> Vec<u8> {
    let mut icmp = vec![155u8, code, 0, 0];
    icmp.extend_from_slice(body);
    // RFC 8200 §8.1 pseudo-header: src, final dst, upper-layer length, next header 58.
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0]) << 8
            };
            sum += u32::from(w);
        }
    };
    add(&src.octets());
    add(&final_dst.octets());
    add(&(icmp.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(&icmp);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    icmp[2..4].copy_from_slice(&ck.to_be_bytes());
    let ext_len: usize = ext.iter().map(|(_, b)| b.len()).sum();
    let first_nh = ext.first().map_or(58, |(t, _)| *t);
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&((icmp.len() + ext_len) as u16).to_be_bytes());
    p.push(first_nh);
    p.push(64);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    for (_, b) in ext {
        p.extend_from_slice(b);
    }
    p.extend_from_slice(&icmp);
    p
}

/// Writes a pcap (linktype 229, raw IPv6) with the given packets; returns its path.
pub fn write_pcap(name: &str, packets: &[Vec<u8>]) -> PathBuf {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&65_535u32.to_le_bytes());
    f.extend_from_slice(&229u32.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        f.extend_from_slice(&(i as u32).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        f.extend_from_slice(p);
    }
    let path = std::env::temp_dir().join(format!(
        "amimesh-rpl-{name}-{}-{}.pcap",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::write(&path, f).unwrap();
    path
}

/// Runs tshark on `pcap` and returns, per packet, the values of `fields` (multiple occurrences
/// joined by ','). Panics (fails the test) if tshark is missing or fails.
pub fn tshark_fields(pcap: &PathBuf, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(pcap).args([
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .expect("tshark is required for this test (tools/setup-oracles.sh installs it)");
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

/// Runs a Python script (scapy must be importable) and returns its stdout.
pub fn python(script: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3 is required for this test");
    assert!(
        out.status.success(),
        "python/scapy failed (is scapy installed? tools/setup-oracles.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
