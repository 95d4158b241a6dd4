//! The few IPv6 facts the device needs to move packets between the layers: building UDP and
//! ICMPv6 packets with their checksums (RFC 8200 §8.1) and reading the fields that decide
//! where a packet goes.

use alloc::vec::Vec;
use amimesh_core::{ExtAddr, LinkAddr, ShortAddr};
use amimesh_rpl::wire::{HbhOption, HbhRepr};
use amimesh_sixlowpan::wire::{icmpv6, udp};
use core::net::Ipv6Addr;

/// IPv6 header length (RFC 8200 §3).
pub const IPV6_HEADER_LEN: usize = 40;
/// UDP header length (RFC 768).
pub const UDP_HEADER_LEN: usize = 8;
/// Next Header value of UDP.
pub const PROTO_UDP: u8 = 17;
/// Next Header value of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
/// ICMPv6 type of RPL control messages (RFC 6550 §6).
pub const ICMPV6_RPL: u8 = 155;

/// The fields of a received IPv6 packet the device routes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next Header.
    pub next_header: u8,
    /// Hop Limit.
    pub hop_limit: u8,
    /// Payload length from the header (checked against the buffer).
    pub payload_len: usize,
}

/// Reads the IPv6 header; `None` if the packet is not a well-formed IPv6 packet.
pub fn parse(packet: &[u8]) -> Option<Header> {
    let fixed = packet.get(..IPV6_HEADER_LEN)?;
    let b = |i: usize| fixed.get(i).copied().unwrap_or(0);
    if b(0) >> 4 != 6 {
        return None;
    }
    let payload_len = usize::from(u16::from_be_bytes([b(4), b(5)]));
    if packet.len() < IPV6_HEADER_LEN.saturating_add(payload_len) {
        return None;
    }
    Some(Header {
        src: addr(fixed.get(8..24)?)?,
        dst: addr(fixed.get(24..40)?)?,
        next_header: b(6),
        hop_limit: b(7),
        payload_len,
    })
}

fn addr(s: &[u8]) -> Option<Ipv6Addr> {
    let a: [u8; 16] = s.try_into().ok()?;
    Some(Ipv6Addr::from(a))
}

/// The upper-layer payload of a parsed packet.
pub fn payload<'a>(packet: &'a [u8], h: &Header) -> &'a [u8] {
    packet
        .get(IPV6_HEADER_LEN..IPV6_HEADER_LEN.saturating_add(h.payload_len))
        .unwrap_or(&[])
}

/// A UDP datagram's ports and payload, if `h` is UDP and its checksum verifies.
pub fn udp<'a>(packet: &'a [u8], h: &Header) -> Option<(u16, u16, &'a [u8])> {
    if h.next_header != PROTO_UDP {
        return None;
    }
    let p = udp::Packet::new_checked(payload(packet, h)).ok()?;
    if !p.verify_checksum(&h.src, &h.dst) {
        return None;
    }
    let (s, d) = (p.src_port(), p.dst_port());
    Some((s, d, p.payload()))
}

/// An ICMPv6 message's type, code and body, if `h` is ICMPv6 and its checksum verifies.
pub fn icmp<'a>(packet: &'a [u8], h: &Header) -> Option<(u8, u8, &'a [u8])> {
    if h.next_header != PROTO_ICMPV6 {
        return None;
    }
    let p = icmpv6::Packet::new_checked(payload(packet, h)).ok()?;
    if !p.verify_checksum(&h.src, &h.dst) {
        return None;
    }
    let (t, c) = (u8::from(p.msg_type()), p.msg_code());
    Some((t, c, p.body()))
}

fn header(out: &mut Vec<u8>, src: &Ipv6Addr, dst: &Ipv6Addr, nh: u8, hlim: u8, len: usize) {
    out.extend_from_slice(&[0x60, 0, 0, 0]);
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    out.push(nh);
    out.push(hlim);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
}

/// An IPv6/UDP packet with a valid checksum.
pub fn build_udp(
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    src_port: u16,
    dst_port: u16,
    hop_limit: u8,
    data: &[u8],
) -> Vec<u8> {
    let ulen = data.len().saturating_add(UDP_HEADER_LEN);
    let mut out = Vec::with_capacity(IPV6_HEADER_LEN.saturating_add(ulen));
    header(&mut out, src, dst, PROTO_UDP, hop_limit, ulen);
    out.extend_from_slice(&src_port.to_be_bytes());
    out.extend_from_slice(&dst_port.to_be_bytes());
    out.extend_from_slice(&u16::try_from(ulen).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(data);
    if let Some(u) = out.get_mut(IPV6_HEADER_LEN..) {
        udp::Packet::new_unchecked(u).fill_checksum(src, dst);
    }
    out
}

/// An IPv6/ICMPv6 packet with a valid checksum.
pub fn build_icmp(
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    ty: u8,
    code: u8,
    hop_limit: u8,
    body: &[u8],
) -> Vec<u8> {
    let ilen = body.len().saturating_add(4);
    let mut out = Vec::with_capacity(IPV6_HEADER_LEN.saturating_add(ilen));
    header(&mut out, src, dst, PROTO_ICMPV6, hop_limit, ilen);
    out.extend_from_slice(&[ty, code, 0, 0]);
    out.extend_from_slice(body);
    if let Some(i) = out.get_mut(IPV6_HEADER_LEN..) {
        icmpv6::Packet::new_unchecked(i).fill_checksum(src, dst);
    }
    out
}

/// Decrements the Hop Limit in place; `false` if it was already 0 or 1 (drop, RFC 8200 §3).
pub fn decrement_hop_limit(packet: &mut [u8]) -> bool {
    match packet.get_mut(7) {
        Some(h) if *h > 1 => {
            *h -= 1;
            true
        }
        _ => false,
    }
}

/// Next Header value of the Hop-by-Hop Options header (RFC 8200 §4.3).
pub const PROTO_HOP_BY_HOP: u8 = 0;

/// Length of the Hop-by-Hop Options header right after the IPv6 header, if there is one
/// (`Some(0)` if there is none). `None`: the header is cut short.
pub fn hbh_len(packet: &[u8], h: &Header) -> Option<usize> {
    if h.next_header != PROTO_HOP_BY_HOP {
        return Some(0);
    }
    let l = payload(packet, h).get(1)?;
    let len = (usize::from(*l) + 1) * 8;
    (len <= h.payload_len).then_some(len)
}

/// The Next Header of the Hop-by-Hop Options header (RFC 8200 §4.3), or of the IPv6
/// header when there is none.
pub fn after_hbh(packet: &[u8], h: &Header) -> u8 {
    if h.next_header == PROTO_HOP_BY_HOP {
        payload(packet, h)
            .first()
            .copied()
            .unwrap_or(PROTO_HOP_BY_HOP)
    } else {
        h.next_header
    }
}

/// The RPL Packet Information (RFC 6553 §3; type 0x23 of RFC 9008 §11.1 or 0x63) in the
/// packet's Hop-by-Hop Options header, with its offset in the packet. `Ok(None)`: no
/// Hop-by-Hop header or no RPL option in it; `Err(())`: the header or option is malformed.
#[allow(clippy::result_unit_err)]
pub fn rpi(packet: &[u8], h: &Header) -> Result<Option<(HbhRepr, usize)>, ()> {
    if h.next_header != PROTO_HOP_BY_HOP {
        return Ok(None);
    }
    match HbhRepr::find_in_header(payload(packet, h)) {
        Ok(Some((r, at))) => Ok(Some((r, at.saturating_add(IPV6_HEADER_LEN)))),
        Ok(None) => Ok(None),
        Err(_) => Err(()),
    }
}

/// Rewrites the flags, RPLInstanceID and SenderRank of the RPL option found by [`rpi`] at
/// `at` (RFC 6553 §3: the option may change en route). Its type, length and any sub-TLVs
/// after the four data octets stay as they are.
pub fn set_rpi(packet: &mut [u8], at: usize, r: &HbhRepr) {
    let Some(b) = at
        .checked_add(HbhRepr::LEN)
        .and_then(|e| packet.get_mut(at..e))
    else {
        return;
    };
    let mut o = HbhOption::new_unchecked(b);
    o.set_down(r.down);
    o.set_rank_error(r.rank_error);
    o.set_forwarding_error(r.forwarding_error);
    o.set_instance_id(r.instance_id);
    o.set_sender_rank(r.sender_rank);
}

/// The packet with a Hop-by-Hop Options header holding only the RPL option `r` inserted
/// after the IPv6 header: 8 octets, Hdr Ext Len 0, no padding needed (RFC 8200 §4.3; the
/// 6-octet option fills the header). Only the packet's source inserts it (RFC 8200 §4,
/// RFC 9008 §7.1.1). `None` if the packet already has a Hop-by-Hop header or grows too long.
pub fn insert_rpi(packet: &[u8], h: &Header, r: &HbhRepr) -> Option<Vec<u8>> {
    if h.next_header == PROTO_HOP_BY_HOP {
        return None;
    }
    let plen = u16::try_from(h.payload_len.checked_add(8)?).ok()?;
    let mut hdr = [0u8; 8];
    r.emit_header(h.next_header, &mut hdr).ok()?;
    let mut out = Vec::with_capacity(packet.len().saturating_add(8));
    out.extend_from_slice(packet.get(..IPV6_HEADER_LEN)?);
    out.extend_from_slice(&hdr);
    out.extend_from_slice(packet.get(IPV6_HEADER_LEN..)?);
    out.get_mut(4..6)?.copy_from_slice(&plen.to_be_bytes());
    *out.get_mut(6)? = PROTO_HOP_BY_HOP;
    Some(out)
}

/// Next Header value of an encapsulated IPv6 packet (RFC 2473 §3).
pub const PROTO_IPV6: u8 = 41;

/// `inner` wrapped in an outer IPv6 header from `src` to `dst` (IPv6-in-IPv6, RFC 2473 §3)
/// whose Hop-by-Hop Options header carries the RPL option `r` when there is one (RFC 9008
/// §7.2.2, §8.2.2). `None` if the result would be too long.
pub fn encapsulate(
    inner: &[u8],
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    hop_limit: u8,
    r: Option<&HbhRepr>,
) -> Option<Vec<u8>> {
    let hbh = if r.is_some() { 8 } else { 0 };
    let len = inner.len().checked_add(hbh)?;
    u16::try_from(len).ok()?;
    let mut out = Vec::with_capacity(IPV6_HEADER_LEN.saturating_add(len));
    match r {
        Some(r) => {
            header(&mut out, src, dst, PROTO_HOP_BY_HOP, hop_limit, len);
            let mut hdr = [0u8; 8];
            r.emit_header(PROTO_IPV6, &mut hdr).ok()?;
            out.extend_from_slice(&hdr);
        }
        None => header(&mut out, src, dst, PROTO_IPV6, hop_limit, len),
    }
    out.extend_from_slice(inner);
    Some(out)
}

/// The packet without its Hop-by-Hop Options header (unchanged if it has none). `None` if
/// the header is cut short.
pub fn strip_hbh(mut packet: Vec<u8>, h: &Header) -> Option<Vec<u8>> {
    let len = hbh_len(&packet, h)?;
    if len == 0 {
        return Some(packet);
    }
    let nh = after_hbh(&packet, h);
    let plen = u16::try_from(h.payload_len.checked_sub(len)?).ok()?;
    let end = IPV6_HEADER_LEN.checked_add(len)?;
    if end > packet.len() {
        return None;
    }
    packet.drain(IPV6_HEADER_LEN..end);
    packet.get_mut(4..6)?.copy_from_slice(&plen.to_be_bytes());
    *packet.get_mut(6)? = nh;
    Some(packet)
}

/// A host's handling of a Hop-by-Hop Options header it does not implement (RFC 8200 §4.2):
/// the packet without it when every option in it may be skipped (action bits 00, like the
/// RPL option of type 0x23 that a RPL root lets out, RFC 9008 §4.2), unchanged without one;
/// `None` when an option asks for the packet to be discarded or the header is malformed.
pub fn skip_hbh(packet: Vec<u8>, h: &Header) -> Option<Vec<u8>> {
    let len = hbh_len(&packet, h)?;
    if len == 0 {
        return Some(packet);
    }
    let opts = packet.get(IPV6_HEADER_LEN.checked_add(2)?..IPV6_HEADER_LEN.checked_add(len)?)?;
    let mut at = 0usize;
    while let Some(&t) = opts.get(at) {
        if t == 0 {
            at = at.checked_add(1)?;
            continue;
        }
        if t >> 6 != 0 {
            return None;
        }
        let l = usize::from(*opts.get(at.checked_add(1)?)?);
        at = at.checked_add(2)?.checked_add(l)?;
    }
    if at != opts.len() {
        return None;
    }
    strip_hbh(packet, h)
}

/// The link-local address of an extended address (fe80::/64 + IID, RFC 4944 §7).
pub fn link_local(ext: ExtAddr) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a[0] = 0xfe;
    a[1] = 0x80;
    a[8..].copy_from_slice(&ext.to_iid());
    Ipv6Addr::from(a)
}

/// `prefix` (first 64 bits) + the IID of `ext`.
pub fn with_iid(prefix: &Ipv6Addr, ext: ExtAddr) -> Ipv6Addr {
    let mut a = prefix.octets();
    a[8..].copy_from_slice(&ext.to_iid());
    Ipv6Addr::from(a)
}

/// The extended address behind an address whose IID was formed from one.
pub fn ext_of(addr: &Ipv6Addr) -> ExtAddr {
    let o = addr.octets();
    let mut iid = [0u8; 8];
    iid.copy_from_slice(&o[8..]);
    ExtAddr::from_iid(iid)
}

/// The link-layer destination of a next hop: broadcast for multicast, else the extended
/// address from the IID.
pub fn link_dst(next_hop: &Ipv6Addr) -> LinkAddr {
    if next_hop.is_multicast() {
        LinkAddr::Short(ShortAddr::BROADCAST)
    } else {
        LinkAddr::Extended(ext_of(next_hop))
    }
}

/// Same first 64 bits.
pub fn same_prefix(a: &Ipv6Addr, b: &Ipv6Addr) -> bool {
    a.octets()[..8] == b.octets()[..8]
}

/// The PANA message type of a UDP 716 payload (RFC 5191 §6.2), if long enough.
pub fn pana_message_type(data: &[u8]) -> Option<u16> {
    let b = data.get(6..8)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// PANA-Relay message type (RFC 6345 §4.1).
pub const PANA_RELAY: u16 = 5;

/// Drops the addresses a forwarded packet's Source Routing Header has visited (the header at
/// `start`, right after the IPv6 header or after a Hop-by-Hop header that follows it, already
/// processed: `dst` is the next hop), and the header itself when the next hop is
/// the final destination. RFC 8138 §5.2.2 carries only the hops still to visit, so with RFC 8138
/// on the packet then travels as SRH-6LoRH (the compressor takes only routing headers whose
/// every address is still to visit, RFC 6554 §3 Segments Left = n), one entry shorter per
/// hop. The addresses are compressed as the root compresses them
/// ([`amimesh_rpl::wire::srh::SrhRepr::emit_route`]). `None` if the header is inconsistent.
pub fn drop_visited_hops(packet: &mut Vec<u8>, start: usize, dst: &Ipv6Addr) -> Option<()> {
    let (next_header, len, remaining) = {
        let srh = amimesh_rpl::wire::Srh::new_checked(packet.get(start..)?).ok()?;
        let n = srh.address_count()?;
        let sl = usize::from(srh.segments_left());
        if sl == n {
            return Some(());
        }
        let mut v = Vec::with_capacity(sl);
        for i in n.checked_sub(sl)?.checked_add(1)?..=n {
            v.push(srh.address(i, dst)?);
        }
        (srh.next_header(), srh.header_len(), v)
    };
    let mut rh =
        alloc::vec![0u8; amimesh_rpl::wire::srh::SrhRepr::route_len(dst, &remaining).unwrap_or(0)];
    if !remaining.is_empty() {
        amimesh_rpl::wire::srh::SrhRepr::emit_route(next_header, dst, &remaining, &mut rh).ok()?;
    } else {
        let at = if start == IPV6_HEADER_LEN {
            6
        } else {
            IPV6_HEADER_LEN
        };
        *packet.get_mut(at)? = next_header;
    }
    packet.get(start..start.checked_add(len)?)?;
    packet.splice(start..start.saturating_add(len), rh);
    let plen = u16::try_from(packet.len().checked_sub(IPV6_HEADER_LEN)?).ok()?;
    packet.get_mut(4..6)?.copy_from_slice(&plen.to_be_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_host_skips_a_hop_by_hop_header_only_when_every_option_may_be_skipped() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let p = build_udp(&src, &dst, 1, 2, 64, b"x");
        let h = parse(&p).unwrap();
        assert_eq!(skip_hbh(p.clone(), &h), Some(p.clone()));
        let with = |opts: &[u8]| {
            let mut q = p[..40].to_vec();
            q[6] = PROTO_HOP_BY_HOP;
            q.extend_from_slice(&[PROTO_UDP, 0]);
            q.extend_from_slice(opts);
            q.extend_from_slice(&p[40..]);
            let l = (q.len() - 40) as u16;
            q[4..6].copy_from_slice(&l.to_be_bytes());
            q
        };
        // RPL option 0x23 (act 00), alone or before Pad1: skipped, the datagram as it was.
        let q = with(&[0x23, 4, 0, 0, 0, 0]);
        assert_eq!(skip_hbh(q.clone(), &parse(&q).unwrap()), Some(p.clone()));
        let q = with(&[0x23, 3, 0, 0, 0, 0x00]);
        assert_eq!(skip_hbh(q.clone(), &parse(&q).unwrap()), Some(p.clone()));
        // 0x63 (act 01: discard), and an option running past the header.
        let q = with(&[0x63, 4, 0, 0, 0, 0]);
        assert_eq!(skip_hbh(q.clone(), &parse(&q).unwrap()), None);
        let q = with(&[0x23, 5, 0, 0, 0, 0]);
        assert_eq!(skip_hbh(q.clone(), &parse(&q).unwrap()), None);
    }

    #[test]
    fn udp_round_trip_and_checksum() {
        let s: Ipv6Addr = "fe80::1".parse().unwrap();
        let d: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let mut p = build_udp(&s, &d, 716, 1000, 64, b"abc");
        let h = parse(&p).unwrap();
        assert_eq!((h.src, h.dst, h.hop_limit), (s, d, 64));
        assert_eq!(udp(&p, &h), Some((716, 1000, &b"abc"[..])));
        // A flipped payload bit fails the checksum.
        let n = p.len() - 1;
        p[n] ^= 1;
        assert_eq!(udp(&p, &parse(&p).unwrap()), None);
    }

    #[test]
    fn icmp_round_trip_and_hop_limit() {
        let s: Ipv6Addr = "fe80::1".parse().unwrap();
        let d: Ipv6Addr = "ff02::1a".parse().unwrap();
        let mut p = build_icmp(&s, &d, ICMPV6_RPL, 1, 2, &[1, 2, 3, 4]);
        let h = parse(&p).unwrap();
        assert_eq!(icmp(&p, &h), Some((155, 1, &[1u8, 2, 3, 4][..])));
        assert!(decrement_hop_limit(&mut p));
        assert!(!decrement_hop_limit(&mut p));
        assert_eq!(parse(&p[..39]), None);
    }

    #[test]
    fn rpl_option_in_a_hop_by_hop_header() {
        let s: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let d: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let plain = build_udp(&s, &d, 1, 2, 64, b"abc");
        let h = parse(&plain).unwrap();
        assert_eq!((hbh_len(&plain, &h), rpi(&plain, &h)), (Some(0), Ok(None)));
        let r = HbhRepr {
            option_type: 0x23,
            down: true,
            rank_error: false,
            forwarding_error: false,
            instance_id: 0,
            sender_rank: 3,
        };
        let p = insert_rpi(&plain, &h, &r).unwrap();
        // IPv6 | 00 00 NH=UDP len 0 | 23 04 80 00 00 03 | UDP
        let ph = parse(&p).unwrap();
        assert_eq!((ph.next_header, ph.payload_len), (0, h.payload_len + 8));
        assert_eq!(&p[40..48], &[17, 0, 0x23, 4, 0x80, 0, 0, 3]);
        assert_eq!(rpi(&p, &ph), Ok(Some((r, 42))));
        assert_eq!(
            udp(&strip_hbh(p.clone(), &ph).unwrap(), &h),
            udp(&plain, &h)
        );
        assert_eq!(insert_rpi(&p, &ph, &r), None, "only one Hop-by-Hop header");
        // Rewritten in place; a longer option keeps its length and sub-TLV bytes.
        let mut q = p.clone();
        let r2 = HbhRepr {
            rank_error: true,
            sender_rank: 0x0102,
            ..r
        };
        set_rpi(&mut q, 42, &r2);
        assert_eq!(rpi(&q, &ph), Ok(Some((r2, 42))));
        let mut long = plain[..40].to_vec();
        long[6] = 0;
        long[5] += 16;
        long.extend_from_slice(&[17, 1, 0x63, 8, 0, 0, 1, 0, 0xaa, 0xbb, 0xcc, 0xdd]);
        long.extend_from_slice(&[1, 2, 0, 0]); // PadN to 16 octets
        long.extend_from_slice(&plain[40..]);
        let lh = parse(&long).unwrap();
        assert_eq!(hbh_len(&long, &lh), Some(16));
        let (lr, at) = rpi(&long, &lh).unwrap().unwrap();
        set_rpi(
            &mut long,
            at,
            &HbhRepr {
                sender_rank: 9,
                ..lr
            },
        );
        assert_eq!(
            &long[42..56],
            &[0x63, 8, 0, 0, 0, 9, 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 0, 0]
        );
        assert_eq!(strip_hbh(long, &lh).unwrap(), plain);
        // Malformed: an option running past the header, or a header past the packet.
        let mut bad = p.clone();
        bad[43] = 9;
        assert_eq!(rpi(&bad, &ph), Err(()));
        let mut cut = p;
        cut[41] = 5;
        assert_eq!(hbh_len(&cut, &ph), None);
        assert_eq!(strip_hbh(cut, &ph), None);
    }

    #[test]
    fn addresses() {
        let e = ExtAddr::from_u64(0x0012_4b00_0000_0007);
        let ll = link_local(e);
        assert_eq!(ll, "fe80::212:4b00:0:7".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ext_of(&ll), e);
        assert_eq!(link_dst(&ll), LinkAddr::Extended(e));
    }

    mod visited_hops {
        use super::*;
        use amimesh_rpl::wire::Srh;
        use amimesh_rpl::wire::srh::{IPV6_ROUTING, SrhRepr};
        use proptest::prelude::*;

        fn addr(tail: u16) -> Ipv6Addr {
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, tail)
        }

        /// A UDP packet from the root to `route[0]` that lists the rest of `route` in a Source
        /// Routing Header (RFC 6554 §3), behind a Hop-by-Hop header when `hbh`.
        fn source_routed(route: &[Ipv6Addr], hbh: bool) -> Vec<u8> {
            let root = addr(1);
            // The UDP checksum covers the final destination (RFC 8200 §8.1).
            let last = route.last().unwrap();
            let upper = build_udp(&root, last, 5000, 5000, 64, b"reading");
            let mut rh = [0u8; 512];
            let n = SrhRepr::emit_route(17, &route[0], &route[1..], &mut rh).unwrap();
            let mut p = upper[..IPV6_HEADER_LEN].to_vec();
            let mut named = 6;
            if hbh {
                // Hop-by-Hop header with one PadN option of 4 octets.
                p.extend_from_slice(&[IPV6_ROUTING, 0, 1, 4, 0, 0, 0, 0]);
                p[6] = 0;
                named = IPV6_HEADER_LEN;
            }
            p[named] = IPV6_ROUTING;
            p[24..40].copy_from_slice(&route[0].octets());
            p.extend_from_slice(&rh[..n]);
            p.extend_from_slice(&upper[IPV6_HEADER_LEN..]);
            let plen = u16::try_from(p.len() - IPV6_HEADER_LEN).unwrap();
            p[4..6].copy_from_slice(&plen.to_be_bytes());
            p
        }

        proptest! {
            /// Each router on the route processes the header (RFC 6554 §4.2) and drops what it
            /// visited: what is left lists exactly the hops still to come, all still to visit,
            /// and the last hop receives the packet without a routing header.
            #[test]
            fn the_hops_still_to_come_are_left(
                tails in proptest::collection::btree_set(2u16..0x4000, 2..10),
                hbh in any::<bool>(),
            ) {
                // Distinct addresses: RFC 6554 §4.2 drops a route that names one twice.
                let route: Vec<Ipv6Addr> = tails.iter().map(|t| addr(*t)).collect();
                let mut p = source_routed(&route, hbh);
                let start = IPV6_HEADER_LEN + if hbh { 8 } else { 0 };
                for k in 1..route.len() {
                    let h = parse(&p).unwrap();
                    let mut dst = h.dst;
                    let forward = Srh::new_checked(&mut p[start..h.payload_len + IPV6_HEADER_LEN])
                        .unwrap()
                        .process(&mut dst)
                        .unwrap();
                    prop_assert!(forward);
                    p[24..40].copy_from_slice(&dst.octets());
                    prop_assert_eq!(dst, route[k]);
                    drop_visited_hops(&mut p, start, &dst).unwrap();
                    let h = parse(&p).unwrap();
                    prop_assert_eq!(h.payload_len + IPV6_HEADER_LEN, p.len());
                    if k + 1 == route.len() {
                        prop_assert_eq!(after_hbh(&p, &h), 17);
                        // The datagram arrives whole, its checksum over the final destination.
                        let q = if hbh { strip_hbh(p.clone(), &h).unwrap() } else { p.clone() };
                        let qh = parse(&q).unwrap();
                        prop_assert_eq!(udp(&q, &qh).map(|u| u.2), Some(&b"reading"[..]));
                    } else {
                        prop_assert_eq!(after_hbh(&p, &h), IPV6_ROUTING);
                        let srh = Srh::new_checked(&p[start..]).unwrap();
                        let left = route.len() - 1 - k;
                        prop_assert_eq!(srh.address_count(), Some(left));
                        prop_assert_eq!(usize::from(srh.segments_left()), left);
                        for (i, a) in route[k + 1..].iter().enumerate() {
                            prop_assert_eq!(srh.address(i + 1, &dst), Some(*a));
                        }
                    }
                }
            }

            /// Any bytes where the routing header should be: no panic, and a rewrite that
            /// succeeds leaves a packet whose length fields agree.
            #[test]
            fn any_routing_header_bytes_are_safe(
                body in proptest::collection::vec(any::<u8>(), 0..300),
                dst_tail in any::<u16>(),
            ) {
                let mut p = build_udp(&addr(1), &addr(dst_tail), 5000, 5000, 64, b"");
                p.truncate(IPV6_HEADER_LEN);
                p[6] = IPV6_ROUTING;
                p.extend_from_slice(&body);
                let plen = u16::try_from(p.len() - IPV6_HEADER_LEN).unwrap();
                p[4..6].copy_from_slice(&plen.to_be_bytes());
                let before = p.len();
                if drop_visited_hops(&mut p, IPV6_HEADER_LEN, &addr(dst_tail)).is_some() {
                    let h = parse(&p).unwrap();
                    prop_assert_eq!(h.payload_len + IPV6_HEADER_LEN, p.len());
                    prop_assert!(p.len() <= before + 8 + 16 * 255);
                }
            }
        }
    }
}
