//! IPv6-in-IPv6 (RFC 2473 §3) as an IP-in-IP 6LoRH (RFC 8138 §7) behind the page-1 switch
//! (RFC 8025 §3).
//!
//! A RPL root that forwards a packet from outside the DODAG down a source route may not
//! insert the routing header and the RPL option into that packet (RFC 8200 §4): it wraps it
//! in an outer IPv6 header of its own, from itself to the target, which carries them, its
//! Flow Label zero (RFC 9008 §8.2.2). RFC 8138 carries that outer header as an IP-in-IP
//! 6LoRH (its Hop Limit and source, the Encapsulator Address, elided when it is the root),
//! its routing header as SRH-6LoRH and its RPL option as an RPI-6LoRH before it, and the
//! inner packet as LOWPAN_IPHC after it:
//!
//! `F1 | SRH-6LoRH… | RPI-6LoRH | IP-in-IP-6LoRH | LOWPAN_IPHC (inner) | NHC… | payload`
//!
//! This is the order of RFC 9008 §4.3 (Figure 2): the 6LoRH before the IP-in-IP 6LoRH are
//! the outer header's, and the receiver that removes it removes them too, leaving the inner
//! packet as plain LOWPAN_IPHC.
//!
//! The outer header's other fields are implied, so the form is taken only when they hold:
//! version 6, Traffic Class and Flow Label 0, a payload length that matches the packet, at
//! most a Hop-by-Hop header holding only the RPL option before the inner header (RFC 6553
//! §3), and an inner header that LOWPAN_IPHC can carry. The outer destination is the last
//! hop of the SRH-6LoRH headers, which list every hop of the route, the target last (RFC
//! 9008 §4.3 places an outer destination that differs from the inner one as the entry of an
//! SRH-6LoRH); with none, it is the inner packet's destination, elided. The inner
//! LOWPAN_IPHC elides against the link-layer addresses of the frame, like any LOWPAN_IPHC
//! that follows the 6LoWPAN dispatch (RFC 6282 §3.2.2). Packets outside these rules keep
//! the LOWPAN_NHC form (RFC 6282 §4.2, IPv6 extension header EID 7).

use super::{Compressed, HOP_BY_HOP, IPV6_IN_IPV6, Link, rpi_of, sub, sub_mut};
use crate::context::ContextTable;
use crate::error::{Error, Result, room};
use crate::wire::ipv6;
use crate::wire::lorh::{IpInIp6LoRhRepr, PAGE_1_DISPATCH, Rpi6LoRhRepr, ip_in_ip_compressed};
use core::net::Ipv6Addr;

/// Octets of the Hop-by-Hop header that holds only the RPL option.
const RPI_HBH_LEN: usize = 8;

/// An IPv6-in-IPv6 packet whose outer header an IP-in-IP 6LoRH can stand for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tunnel {
    /// Offset of the inner IPv6 header.
    inner: usize,
    /// The outer Hop Limit.
    hop_limit: u8,
    /// The outer source: the encapsulator.
    src: Ipv6Addr,
    /// The RPI of the outer Hop-by-Hop header, if there is one.
    rpi: Option<Rpi6LoRhRepr>,
}

fn addr_at(packet: &[u8], at: usize) -> Option<Ipv6Addr> {
    let o: [u8; 16] = packet.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(o))
}

/// Whether the headers of `packet` lead to a tunnelled IPv6 header: its Next Header is 41,
/// or its Hop-by-Hop header's is.
pub(super) fn encapsulates(packet: &[u8]) -> bool {
    match packet.get(6) {
        Some(&IPV6_IN_IPV6) => true,
        Some(&HOP_BY_HOP) => packet.get(ipv6::HEADER_LEN) == Some(&IPV6_IN_IPV6),
        _ => false,
    }
}

/// `packet` as a [`Tunnel`] when the IP-in-IP 6LoRH form rebuilds it bit for bit (see the
/// module doc). `routed`: SRH-6LoRH headers go before it and name the outer destination;
/// otherwise the outer destination must be the inner one.
pub(super) fn tunnel_of(packet: &[u8], ctx: &ContextTable, routed: bool) -> Option<Tunnel> {
    let h = packet.get(..ipv6::HEADER_LEN)?;
    let plen = usize::from(u16::from_be_bytes([*h.get(4)?, *h.get(5)?]));
    if h.get(..4)? != [0x60, 0, 0, 0] || plen + ipv6::HEADER_LEN != packet.len() {
        return None;
    }
    let (inner, rpi) = match *h.get(6)? {
        IPV6_IN_IPV6 => (ipv6::HEADER_LEN, None),
        HOP_BY_HOP if packet.get(ipv6::HEADER_LEN) == Some(&IPV6_IN_IPV6) => {
            (ipv6::HEADER_LEN + RPI_HBH_LEN, Some(rpi_of(packet, ctx)?))
        }
        _ => return None,
    };
    let i = sub(packet, inner);
    let ih = i.get(..ipv6::HEADER_LEN)?;
    let iplen = usize::from(u16::from_be_bytes([*ih.get(4)?, *ih.get(5)?]));
    if ih.first()? >> 4 != 6 || iplen + ipv6::HEADER_LEN != i.len() {
        return None;
    }
    if !routed && addr_at(packet, 24)? != addr_at(i, 24)? {
        return None;
    }
    Some(Tunnel {
        inner,
        hop_limit: *h.get(7)?,
        src: addr_at(packet, 8)?,
        rpi,
    })
}

/// `e` for a write at `out[at..]`, as the size the whole output needs.
fn shifted(e: Error, at: usize) -> Error {
    match e {
        Error::BufferTooSmall { required } => Error::BufferTooSmall {
            required: required + at,
        },
        e => e,
    }
}

/// Writes the page switch, then (after the `lorh` octets of SRH-6LoRH headers the caller
/// wrote at `out[1..]`) the RPI-6LoRH (RFC 8138 §6.3) of the outer Hop-by-Hop header, the
/// IP-in-IP 6LoRH (RFC 8138 §7) and the inner packet's LOWPAN_IPHC and NHC headers.
pub(super) fn compress(
    link: &Link,
    packet: &[u8],
    t: &Tunnel,
    lorh: usize,
    out: &mut [u8],
) -> Result<Compressed> {
    let mut at = 1 + lorh;
    room(out, at)?;
    if let Some(rpi) = t.rpi {
        at += rpi
            .emit_bytes(sub_mut(out, at))
            .map_err(|e| shifted(e, at))?;
    }
    let root = link.ctx.root();
    let (enc, n) = ip_in_ip_compressed(&t.src, root.as_ref());
    let r = IpInIp6LoRhRepr {
        hop_limit: t.hop_limit,
        encapsulator: enc.get(..n).unwrap_or(&[]),
    };
    at += r.emit_bytes(sub_mut(out, at)).map_err(|e| shifted(e, at))?;
    let c = link
        .iphc(sub(packet, t.inner), sub_mut(out, at))
        .map_err(|e| shifted(e, at))?;
    if let Some(b) = out.first_mut() {
        *b = PAGE_1_DISPATCH;
    }
    Ok(Compressed {
        header_len: at + c.header_len,
        consumed: t.inner + c.consumed,
    })
}

/// The encapsulating header an IP-in-IP 6LoRH stands for, as the decompressor rebuilds it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outer {
    /// Hop Limit.
    pub(super) hop_limit: u8,
    /// Source: the encapsulator.
    pub(super) src: Ipv6Addr,
    /// Destination (the first hop of the route, when there is one).
    pub(super) dst: Ipv6Addr,
}

impl Outer {
    /// Puts the outer IPv6 header in front of the decompressed inner headers `out[..end]`
    /// (whose payload length is already set): version 6, Traffic Class and Flow Label 0,
    /// Next Header 41. Returns the new end.
    pub(super) fn insert(&self, out: &mut [u8], end: usize) -> Result<usize> {
        room(out, end + ipv6::HEADER_LEN)?;
        let inner_plen = match (out.get(4), out.get(5)) {
            (Some(&a), Some(&b)) => usize::from(u16::from_be_bytes([a, b])),
            _ => return Err(Error::BadLength),
        };
        let plen = u16::try_from(inner_plen + ipv6::HEADER_LEN).map_err(|_| Error::BadLength)?;
        out.copy_within(..end, ipv6::HEADER_LEN);
        let [p0, p1] = plen.to_be_bytes();
        if let Some(d) = out.get_mut(..8) {
            d.copy_from_slice(&[0x60, 0, 0, 0, p0, p1, IPV6_IN_IPV6, self.hop_limit]);
        }
        if let Some(d) = out.get_mut(8..24) {
            d.copy_from_slice(&self.src.octets());
        }
        if let Some(d) = out.get_mut(24..40) {
            d.copy_from_slice(&self.dst.octets());
        }
        Ok(end + ipv6::HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompressOptions;
    use crate::compress::{compress, compress_header, decompress, decompress_header};
    use crate::context::Context;
    use crate::test_gens::{self, build_tunnel_packet, server_udp};
    use crate::wire::lorh::{IpInIp6LoRh, Srh6LoRh, TYPE_IP_IN_IP};
    use amimesh_core::{ExtAddr, LinkAddr};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn node(x: u8) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0x0212, 0x4b00, 0, u16::from(x))
    }

    fn ll(x: u8) -> LinkAddr {
        LinkAddr::Extended(ExtAddr([0, 0x12, 0x4b, 0, 0, 0, 0, x]))
    }

    fn on() -> CompressOptions {
        CompressOptions {
            rfc8138: true,
            ..CompressOptions::default()
        }
    }

    fn rpi() -> Rpi6LoRhRepr {
        Rpi6LoRhRepr {
            down: true,
            rank_error: false,
            forwarding_error: false,
            instance_id: 0,
            sender_rank: 0x0100,
        }
    }

    fn ctx_with_root() -> ContextTable {
        let mut c = ContextTable::new();
        c.set_root(Some(node(1)));
        c
    }

    /// The root (node 1) tunnels a server's datagram to node 4 through nodes 2 and 3.
    fn down() -> (Vec<u8>, Vec<u8>) {
        let inner = server_udp(node(4), 63, b"reading");
        let p = build_tunnel_packet(
            node(1),
            &[node(2), node(3), node(4)],
            Some(rpi()),
            &inner,
            64,
            0,
        );
        (p, inner)
    }

    #[test]
    fn tunnel_byte_exact() {
        let ctx = ctx_with_root();
        let (p, inner) = down();
        let mut out = [0u8; 256];
        let n = compress(&p, ll(1), ll(2), &ctx, &on(), &mut out).unwrap();
        // The inner packet alone, as plain LOWPAN_IPHC on the same link.
        let mut alone = [0u8; 256];
        let k = compress(
            &inner,
            ll(1),
            ll(2),
            &ctx,
            &CompressOptions::default(),
            &mut alone,
        )
        .unwrap();
        let mut want = vec![
            0xf1, // page 1 (RFC 8025 §3)
            0x82, 0x00, 0x02, 0x03, 0x04, // SRH-6LoRH Type 0, Size 2: nodes 2, 3, 4
            0x93, 0x05, 0x01, // RPI-6LoRH O I K, SenderRank 0x01xx
            0xa1, 0x06, 0x40, // IP-in-IP-6LoRH Length 1 (root elided), Hop Limit 64
        ];
        want.extend_from_slice(&alone[..k]);
        assert_eq!(&out[..n], &want[..]);
        let mut back = [0u8; 256];
        let m = decompress(&out[..n], ll(1), ll(2), &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
        // Without the root's address the encapsulator goes whole (Length 17), and an
        // elided one cannot be rebuilt.
        let none = ContextTable::new();
        assert_eq!(
            decompress(&out[..n], ll(1), ll(2), &none, &mut back),
            Err(Error::NoLinkAddress)
        );
        let n2 = compress(&p, ll(1), ll(2), &none, &on(), &mut out).unwrap();
        assert_eq!(n2, n + 16);
        assert_eq!(&out[9..12], &[0xb1, 0x06, 0x40]);
        assert_eq!(&out[12..28], &node(1).octets());
        let m = decompress(&out[..n2], ll(1), ll(2), &none, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
    }

    #[test]
    fn one_hop_tunnel_has_no_srh_6lorh() {
        let ctx = ctx_with_root();
        let inner = server_udp(node(2), 63, b"x");
        let p = build_tunnel_packet(node(1), &[node(2)], Some(rpi()), &inner, 64, 0);
        let mut out = [0u8; 256];
        let n = compress(&p, ll(1), ll(2), &ctx, &on(), &mut out).unwrap();
        assert_eq!(&out[..7], &[0xf1, 0x93, 0x05, 0x01, 0xa1, 0x06, 0x40]);
        let mut back = [0u8; 256];
        let m = decompress(&out[..n], ll(1), ll(2), &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
        // No RPI either: the IP-in-IP 6LoRH right after the page switch.
        let p = build_tunnel_packet(node(1), &[node(2)], None, &inner, 9, 0);
        let n = compress(&p, ll(1), ll(2), &ctx, &on(), &mut out).unwrap();
        assert_eq!(&out[..4], &[0xf1, 0xa1, 0x06, 0x09]);
        let m = decompress(&out[..n], ll(1), ll(2), &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
    }

    #[test]
    fn outer_headers_6lorh_cannot_carry_keep_the_nhc_form() {
        let ctx = ctx_with_root();
        let inner = server_udp(node(3), 63, b"x");
        let mut out = [0u8; 256];
        let mut back = [0u8; 256];
        // Traffic class set; outer destination other than the inner one with no route;
        // a broken inner header.
        let mut bad_inner = inner.clone();
        bad_inner[5] ^= 1;
        for p in [
            build_tunnel_packet(node(1), &[node(3)], Some(rpi()), &inner, 64, 0x20),
            build_tunnel_packet(node(1), &[node(2)], Some(rpi()), &inner, 64, 0),
            build_tunnel_packet(node(1), &[node(2), node(3)], Some(rpi()), &bad_inner, 64, 0),
        ] {
            let n = compress(&p, ll(1), ll(2), &ctx, &on(), &mut out).unwrap();
            let has_ip_in_ip =
                (1..n.min(40)).any(|i| out[i] == 0xa1 && out[i + 1] == TYPE_IP_IN_IP);
            assert!(!has_ip_in_ip, "{:02x?}", &out[..n]);
            let m = decompress(&out[..n], ll(1), ll(2), &ctx, &mut back).unwrap();
            assert_eq!(&back[..m], &p[..]);
        }
    }

    #[test]
    fn fragments_rebuild_the_outer_header() {
        let ctx = ctx_with_root();
        let (p, _) = down();
        let mut out = [0u8; 256];
        let c = compress_header(&p, ll(1), ll(2), &ctx, &on(), &mut out).unwrap();
        let mut back = [0u8; 256];
        let d = decompress_header(
            &out[..c.header_len],
            ll(1),
            ll(2),
            &ctx,
            Some(p.len()),
            &mut back,
        )
        .unwrap();
        assert_eq!(d.consumed, c.header_len);
        assert_eq!(&back[..d.header_len], &p[..c.consumed]);
        // A datagram size too small for the outer headers.
        assert_eq!(
            decompress_header(
                &out[..c.header_len],
                ll(1),
                ll(2),
                &ctx,
                Some(60),
                &mut back
            ),
            Err(Error::BadLength)
        );
    }

    #[test]
    fn errors() {
        let ctx = ctx_with_root();
        let d = |f: &[u8]| decompress(f, ll(1), ll(2), &ctx, &mut [0u8; 256]);
        // Truncated IP-in-IP 6LoRH; Length 0; a Length that is no address size; nothing
        // after it.
        assert_eq!(
            d(&[0xf1, 0xa9, 0x06, 0x40, 1]),
            Err(Error::Truncated { needed: 11, got: 4 })
        );
        assert_eq!(d(&[0xf1, 0xa0, 0x06, 0x7a, 0x33]), Err(Error::BadLength));
        assert!(matches!(
            d(&[0xf1, 0xa4, 0x06, 0x40, 1, 2, 3, 0x7a, 0x33, 0x3b]),
            Err(Error::Reserved(_))
        ));
        assert_eq!(
            d(&[0xf1, 0xa1, 0x06, 0x40]),
            Err(Error::Truncated { needed: 5, got: 4 })
        );
        // No room for the outer header.
        let (p, _) = down();
        let mut out = [0u8; 256];
        let n = compress(&p, ll(1), ll(2), &ctx, &on(), &mut out).unwrap();
        let mut small = [0u8; 60];
        assert!(matches!(
            decompress(&out[..n], ll(1), ll(2), &ctx, &mut small),
            Err(Error::BufferTooSmall { .. })
        ));
    }

    #[test]
    fn fixtures() {
        // testdata/README.md: the three-hop tunnel of `down` (root 2001:db8:a::212:4b00:0:1
        // known, link 00:12:4b:00:00:00:00:01 → …:02), and a one-hop tunnel to node 2
        // without the RPL option, Hop Limit 9, no root address known.
        let (p, _) = down();
        let fixture = include_bytes!("../../testdata/rfc8138_ipinip_srh_rpi_udp.lowpan.bin");
        let mut out = [0u8; 256];
        let n = compress(&p, ll(1), ll(2), &ctx_with_root(), &on(), &mut out).unwrap();
        assert_eq!(&out[..n], &fixture[..]);
        let inner = server_udp(node(2), 63, b"x");
        let q = build_tunnel_packet(node(1), &[node(2)], None, &inner, 9, 0);
        let fixture = include_bytes!("../../testdata/rfc8138_ipinip_whole_encapsulator.lowpan.bin");
        let none = ContextTable::new();
        let n = compress(&q, ll(1), ll(2), &none, &on(), &mut out).unwrap();
        assert_eq!(&out[..n], &fixture[..]);
        let mut back = [0u8; 256];
        let m = decompress(fixture, ll(1), ll(2), &none, &mut back).unwrap();
        assert_eq!(&back[..m], &q[..]);
    }

    proptest! {
        #[test]
        fn tunnels_go_as_ip_in_ip_6lorh_and_shorter(
            (root, hops) in (1u8..=255, proptest::collection::vec(1u8..=255, 1..=32)),
            rpi in proptest::option::of(test_gens::rpi_6lorh_repr()),
            body in proptest::collection::vec(any::<u8>(), 0..40),
            hlim in any::<u8>(),
            src in test_gens::link_addr(),
            dst in test_gens::link_addr(),
            root_known in any::<bool>(),
            with_context in any::<bool>(),
        ) {
            let mut ctx = if with_context {
                ContextTable::new().with(0, Context::new("2001:db8:a::".parse().unwrap(), 64)).unwrap()
            } else {
                ContextTable::new()
            };
            let root = node(root);
            if root_known {
                ctx.set_root(Some(root));
            }
            let hops: Vec<Ipv6Addr> = hops.into_iter().map(node).collect();
            let inner = server_udp(*hops.last().unwrap(), 64, &body);
            let packet = build_tunnel_packet(root, &hops, rpi, &inner, hlim, 0);
            let mut a = vec![0u8; packet.len() + 64];
            let mut b = vec![0u8; packet.len() + 64];
            let n = compress(&packet, src, dst, &ctx, &CompressOptions::default(), &mut a).unwrap();
            let m = compress(&packet, src, dst, &ctx, &on(), &mut b).unwrap();
            let mut back = vec![0u8; packet.len() + 64];
            let k = decompress(&b[..m], src, dst, &ctx, &mut back).unwrap();
            prop_assert_eq!(&back[..k], &packet[..]);
            let k = decompress(&a[..n], src, dst, &ctx, &mut back).unwrap();
            prop_assert_eq!(&back[..k], &packet[..]);
            // SRH-6LoRH, RPI-6LoRH, then the IP-in-IP 6LoRH right before the inner
            // LOWPAN_IPHC. Without the root's address (16 octets of encapsulator) and with a
            // context for the mesh prefix, the LOWPAN_NHC form of the outer header may be
            // shorter for a source route, and the compressor keeps the shorter form.
            let mut at = 1;
            let mut listed = 0;
            while b[0] == PAGE_1_DISPATCH && b[at] >> 5 == CRITICAL_CLASS && b[at + 1] <= 4 {
                let v = Srh6LoRh::new_checked(&b[at..m]).unwrap();
                listed += v.hop_count();
                at += v.header_len();
            }
            if b[0] == PAGE_1_DISPATCH && b[at] >> 5 == CRITICAL_CLASS && b[at + 1] == TYPE_RPI {
                at += Rpi6LoRh::new_checked(&b[at..m]).unwrap().header_len();
            }
            if b[0] != PAGE_1_DISPATCH || b[at] >> 5 != 0b101 || b[at + 1] != TYPE_IP_IN_IP {
                prop_assert!(!root_known && hops.len() > 1, "{:02x?}", &b[..m]);
                return Ok(());
            }
            prop_assert!(!root_known || m < n, "{} vs {}", m, n);
            prop_assert_eq!(listed, if hops.len() > 1 { hops.len() } else { 0 });
            let v = IpInIp6LoRh::new_checked(&b[at..m]).unwrap();
            let r = IpInIp6LoRhRepr::parse(&v).unwrap();
            prop_assert_eq!(r.hop_limit, hlim);
            prop_assert_eq!(r.encapsulator.len(), if root_known { 0 } else { 16 });
            prop_assert_eq!(r.encapsulator_addr(Some(&root)), Some(root));
            prop_assert_eq!(b[at + v.header_len()] >> 5, 0b011);
        }
    }

    use crate::wire::lorh::{CRITICAL_CLASS, Rpi6LoRh, TYPE_RPI};
}
