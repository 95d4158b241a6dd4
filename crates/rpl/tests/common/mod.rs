//! Test helpers: IPv6 packets carrying RPL messages (built with `amimesh-testkit`), and the
//! simulation harness.
#![allow(dead_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod sim;

use amimesh_testkit::ip;
use std::net::Ipv6Addr;

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
    // RFC 6550 §6: RPL control messages are ICMPv6 type 155.
    let icmp = ip::icmpv6(src, final_dst, 155, code, body);
    let first_nh = ext.first().map_or(ip::ICMPV6, |(t, _)| *t);
    let mut payload: Vec<u8> = ext.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    payload.extend_from_slice(&icmp);
    ip::ipv6(ip::Ipv6::new(src, dst, first_nh, 64), &payload)
}
