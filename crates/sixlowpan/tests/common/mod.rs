//! Packet builders with addresses in text form for the interop and reassembly tests, on top of
//! `amimesh-testkit` (which also writes the pcaps and runs the oracles).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amimesh_testkit::ip;
pub use amimesh_testkit::ip::addr;

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
    let header = ip::Ipv6 {
        traffic_class: tc,
        flow_label: flow,
        ..ip::Ipv6::new(addr(src), addr(dst), next, hlim)
    };
    ip::ipv6(header, payload)
}

/// A UDP datagram with its checksum for the given (innermost) addresses.
pub fn udp(src: &str, dst: &str, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    ip::udp(addr(src), addr(dst), sport, dport, payload)
}

/// An ICMPv6 echo request (RFC 4443 §4.1: identifier 1, sequence number 7).
pub fn echo(src: &str, dst: &str, body: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 1, 0, 7];
    b.extend_from_slice(body);
    ip::icmpv6(addr(src), addr(dst), 128, 0, &b)
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
