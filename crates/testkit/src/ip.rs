//! IPv6 packets, UDP datagrams and ICMPv6 messages with their checksums, for test inputs.
//!
//! The checksum is the ones' complement of the ones' complement sum (RFC 1071) over the
//! RFC 8200 §8.1 pseudo-header (source, destination, upper-layer length, next header) and the
//! upper-layer data. Addresses are `std::net::Ipv6Addr`; all fields are big-endian.

use std::net::Ipv6Addr;

/// Next header: Hop-by-Hop Options (RFC 8200 §4.3).
pub const HOP_BY_HOP: u8 = 0;
/// Next header: UDP.
pub const UDP: u8 = 17;
/// Next header: Routing header (RFC 8200 §4.4).
pub const ROUTING: u8 = 43;
/// Next header: ICMPv6.
pub const ICMPV6: u8 = 58;

/// An `Ipv6Addr` from its text form.
///
/// # Panics
///
/// When `s` is not an IPv6 address.
pub fn addr(s: &str) -> Ipv6Addr {
    s.parse()
        .unwrap_or_else(|e| panic!("not an IPv6 address {s:?}: {e}"))
}

/// The ones' complement sum of `data` as 16-bit big-endian words (an odd last octet is padded
/// with zero) added to `acc`, not yet folded.
fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for c in data.chunks(2) {
        let hi = c.first().copied().unwrap_or(0);
        let lo = c.get(1).copied().unwrap_or(0);
        acc += u32::from(u16::from_be_bytes([hi, lo]));
    }
    acc
}

/// The upper-layer checksum of `upper` (its checksum field zeroed or included as it is) with
/// the pseudo-header for `src`, `dst` (the final destination when a routing header is
/// present) and `next_header`. A result of 0 is returned as it is (UDP maps it, see [`udp`]).
pub fn checksum(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, upper: &[u8]) -> u16 {
    let len = u32::try_from(upper.len()).expect("upper-layer length fits u32");
    let mut acc = sum16(&src.octets(), 0);
    acc = sum16(&dst.octets(), acc);
    acc = sum16(&len.to_be_bytes(), acc);
    acc = sum16(&[0, 0, 0, next_header], acc);
    acc = sum16(upper, acc);
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // Folded above, so `acc` fits 16 bits.
    !(acc as u16)
}

/// A UDP datagram (RFC 768): ports, length, checksum (0 sent as 0xffff), `payload`.
pub fn udp(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).expect("UDP length fits u16");
    let mut d = Vec::with_capacity(usize::from(len));
    d.extend_from_slice(&sport.to_be_bytes());
    d.extend_from_slice(&dport.to_be_bytes());
    d.extend_from_slice(&len.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    let ck = match checksum(src, dst, UDP, &d) {
        0 => 0xffff,
        c => c,
    };
    d.splice(6..8, ck.to_be_bytes());
    d
}

/// An ICMPv6 message (RFC 4443 §2.1): type, code, checksum, `body`. `dst` is the final
/// destination (the last address of a routing header, RFC 8200 §8.1).
pub fn icmpv6(src: Ipv6Addr, dst: Ipv6Addr, msg_type: u8, code: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![msg_type, code, 0, 0];
    m.extend_from_slice(body);
    let ck = checksum(src, dst, ICMPV6, &m);
    m.splice(2..4, ck.to_be_bytes());
    m
}

/// The fixed IPv6 header (RFC 8200 §3). The payload length is taken from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6 {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header of the first header after this one.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class (DSCP | ECN).
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6 {
    /// A header with traffic class and flow label 0.
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, hop_limit: u8) -> Self {
        Ipv6 {
            src,
            dst,
            next_header,
            hop_limit,
            traffic_class: 0,
            flow_label: 0,
        }
    }
}

/// The IPv6 packet `header` + `payload` (extension headers, if any, are part of `payload`).
pub fn ipv6(header: Ipv6, payload: &[u8]) -> Vec<u8> {
    let vtf =
        (6u32 << 28) | (u32::from(header.traffic_class) << 20) | (header.flow_label & 0xf_ffff);
    let len = u16::try_from(payload.len()).expect("IPv6 payload length fits u16");
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&vtf.to_be_bytes());
    p.extend_from_slice(&len.to_be_bytes());
    p.push(header.next_header);
    p.push(header.hop_limit);
    p.extend_from_slice(&header.src.octets());
    p.extend_from_slice(&header.dst.octets());
    p.extend_from_slice(payload);
    p
}

/// An IPv6 packet carrying one UDP datagram ([`udp`]).
pub fn udp6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    ipv6(
        Ipv6::new(src, dst, UDP, hop_limit),
        &udp(src, dst, sport, dport, payload),
    )
}

/// A Hop-by-Hop Options header (RFC 8200 §4.3) holding the RPL Option (RFC 6553 §3,
/// type 0x63, flags 0) with `instance` and `sender_rank`; 8 octets.
pub fn hbh_rpl(next_header: u8, instance: u8, sender_rank: u16) -> Vec<u8> {
    let r = sender_rank.to_be_bytes();
    vec![next_header, 0, 0x63, 0x04, 0x00, instance, r[0], r[1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_sum_and_udp_zero() {
        // Odd length pads with zero; the sum folds carries.
        assert_eq!(sum16(&[0xff, 0xff, 0x01], 0), 0xffff + 0x0100);
        let src = addr("::");
        assert_eq!(checksum(src, src, 0, &[]), 0xffff);
        // Pseudo-header length 8 + next header 17 + UDP length 8 = 33.
        assert_eq!(udp(src, src, 0, 0, &[]), [0, 0, 0, 0, 0, 8, 0xff, 0xde]);
        // 10 + 17 + 10 + 0xffda sums to 0xffff, so the computed checksum is 0: sent as 0xffff.
        let d = udp(src, src, 0, 0, &[0xff, 0xda]);
        assert_eq!(d[6..8], [0xff, 0xff]);
    }

    #[test]
    fn ipv6_header_fields() {
        let h = Ipv6 {
            traffic_class: 0xb8,
            flow_label: 0x12345,
            ..Ipv6::new(addr("::1"), addr("::2"), UDP, 7)
        };
        let p = ipv6(h, &[1, 2, 3]);
        assert_eq!(p[..8], [0x6b, 0x81, 0x23, 0x45, 0, 3, 17, 7]);
        assert_eq!(p[23], 1);
        assert_eq!(p[39], 2);
        assert_eq!(p[40..], [1, 2, 3]);
    }

    #[test]
    fn a_verified_checksum_sums_to_zero() {
        let (s, d) = (addr("fe80::1"), addr("ff02::1a"));
        let m = icmpv6(s, d, 155, 1, &[1, 2, 3]);
        assert_eq!(checksum(s, d, ICMPV6, &m), 0);
        let u = udp(s, d, 19788, 19788, b"mle");
        assert_eq!(checksum(s, d, UDP, &u), 0);
    }
}
