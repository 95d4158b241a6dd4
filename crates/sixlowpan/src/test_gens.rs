//! Proptest strategies shared by the crate's tests.

use crate::context::{Context, ContextTable};
use crate::wire::IpProtocol;
use amimesh_core::{ExtAddr, LinkAddr, ShortAddr};
use core::net::Ipv6Addr;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

/// Addresses biased towards the shapes IPHC compresses.
pub fn ipv6_addr() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        any::<[u8; 16]>().prop_map(Ipv6Addr::from),
        any::<[u8; 8]>().prop_map(|iid| {
            let mut o = [0u8; 16];
            o[0] = 0xfe;
            o[1] = 0x80;
            o[8..].copy_from_slice(&iid);
            Ipv6Addr::from(o)
        }),
        any::<u16>().prop_map(|s| Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, s)),
        any::<u16>().prop_map(|s| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0xff, 0xfe00, s)),
        any::<[u8; 8]>().prop_map(|iid| {
            let mut o = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            o[8..].copy_from_slice(&iid);
            Ipv6Addr::from(o)
        }),
        Just(Ipv6Addr::UNSPECIFIED),
        any::<u8>().prop_map(|g| Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, u16::from(g))),
        (any::<u8>(), any::<[u8; 3]>()).prop_map(|(f, g)| {
            let mut o = [0u8; 16];
            o[0] = 0xff;
            o[1] = f;
            o[13..].copy_from_slice(&g);
            Ipv6Addr::from(o)
        }),
        (any::<u8>(), any::<[u8; 5]>()).prop_map(|(f, g)| {
            let mut o = [0u8; 16];
            o[0] = 0xff;
            o[1] = f;
            o[11..].copy_from_slice(&g);
            Ipv6Addr::from(o)
        }),
        (any::<[u8; 2]>(), any::<[u8; 4]>()).prop_map(|(f, g)| {
            // RFC 3306 unicast-prefix-based, prefix 2001:db8::/64.
            let mut o = [
                0xff, f[0], f[1], 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
            ];
            o[12..].copy_from_slice(&g);
            Ipv6Addr::from(o)
        }),
    ]
}

/// Link addresses, short or extended (or absent).
pub fn link_addr() -> impl Strategy<Value = LinkAddr> {
    prop_oneof![
        any::<u16>().prop_map(|s| LinkAddr::Short(ShortAddr(s))),
        any::<[u8; 8]>().prop_map(|e| LinkAddr::Extended(ExtAddr(e))),
        Just(LinkAddr::Absent),
    ]
}

/// Context tables with a few entries, including 2001:db8::/64 at a random id.
pub fn contexts() -> impl Strategy<Value = ContextTable> {
    (
        0u8..16,
        proptest::collection::vec((0u8..16, any::<[u8; 16]>(), 0u8..=128, any::<bool>()), 0..3),
    )
        .prop_map(|(id, extra)| {
            let mut t = ContextTable::new();
            for (i, p, l, c) in extra {
                let _ = t.set(
                    i,
                    Context {
                        prefix: Ipv6Addr::from(p),
                        prefix_len: l,
                        compress: c,
                    },
                );
            }
            let _ = t.set(
                id,
                Context::new("2001:db8::".parse().unwrap_or(Ipv6Addr::UNSPECIFIED), 64),
            );
            t
        })
}

/// Next-header values, biased to the ones NHC knows.
pub fn ip_protocol() -> impl Strategy<Value = IpProtocol> {
    prop_oneof![
        Just(IpProtocol::Udp),
        Just(IpProtocol::Icmpv6),
        Just(IpProtocol::HopByHop),
        Just(IpProtocol::Ipv6Route),
        Just(IpProtocol::Ipv6Frag),
        Just(IpProtocol::Ipv6Opts),
        Just(IpProtocol::Ipv6),
        any::<u8>().prop_map(IpProtocol::from),
    ]
}

/// One IPv6 packet built from a random header chain; lengths are consistent unless `raw`.
pub fn packet() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => chain_packet(),
        1 => proptest::collection::vec(any::<u8>(), 0..120),
    ]
}

#[derive(Debug, Clone)]
enum Hdr {
    Ipv6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hlim: u8,
        tc: u8,
        flow: u32,
    },
    Opts {
        kind: IpProtocol,
        options: Vec<(u8, Vec<u8>)>,
        pad: bool,
    },
    Frag {
        word: u16,
        ident: u32,
    },
    Route {
        rtype: u8,
        left: u8,
        data: Vec<u8>,
    },
    Udp {
        sport: u16,
        dport: u16,
        good_cksum: bool,
        cksum: u16,
    },
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![
        any::<u16>(),
        (0u16..256).prop_map(|p| 0xf000 | p),
        (0u16..16).prop_map(|p| 0xf0b0 | p)
    ]
}

fn hdr() -> impl Strategy<Value = Hdr> {
    prop_oneof![
        (
            ipv6_addr(),
            ipv6_addr(),
            prop_oneof![Just(1u8), Just(64), Just(255), any::<u8>()],
            any::<u8>(),
            prop_oneof![Just(0u32), 0u32..0x100000]
        )
            .prop_map(|(src, dst, hlim, tc, flow)| Hdr::Ipv6 {
                src,
                dst,
                hlim,
                tc,
                flow
            }),
        (
            prop_oneof![Just(IpProtocol::HopByHop), Just(IpProtocol::Ipv6Opts)],
            proptest::collection::vec(
                (
                    prop_oneof![Just(0x63u8), Just(0x23), Just(1), 2u8..255],
                    proptest::collection::vec(any::<u8>(), 0..12)
                ),
                0..3
            ),
            any::<bool>()
        )
            .prop_map(|(kind, options, pad)| Hdr::Opts { kind, options, pad }),
        (any::<u16>(), any::<u32>()).prop_map(|(word, ident)| Hdr::Frag { word, ident }),
        (
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(rtype, left, data)| Hdr::Route { rtype, left, data }),
        (port(), port(), any::<bool>(), any::<u16>()).prop_map(
            |(sport, dport, good_cksum, cksum)| Hdr::Udp {
                sport,
                dport,
                good_cksum,
                cksum
            }
        ),
    ]
}

fn chain_packet() -> impl Strategy<Value = Vec<u8>> {
    (
        hdr().prop_filter("starts with IPv6", |h| matches!(h, Hdr::Ipv6 { .. })),
        proptest::collection::vec(hdr(), 0..5),
        ip_protocol(),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(first, rest, last_proto, payload)| build(first, rest, last_proto, payload))
}

fn proto_of(h: &Hdr) -> u8 {
    match h {
        Hdr::Ipv6 { .. } => 41,
        Hdr::Opts { kind, .. } => u8::from(*kind),
        Hdr::Frag { .. } => 44,
        Hdr::Route { .. } => 43,
        Hdr::Udp { .. } => 17,
    }
}

fn build(first: Hdr, mut rest: Vec<Hdr>, last_proto: IpProtocol, payload: Vec<u8>) -> Vec<u8> {
    // UDP ends a chain.
    if let Some(i) = rest.iter().position(|h| matches!(h, Hdr::Udp { .. })) {
        rest.truncate(i + 1);
    }
    let mut hdrs = vec![first];
    hdrs.extend(rest);
    let mut out: Vec<u8> = Vec::new();
    let mut ipv6_offsets = Vec::new();
    let mut udp_at = None;
    for (i, h) in hdrs.iter().enumerate() {
        let next = hdrs.get(i + 1).map_or(u8::from(last_proto), proto_of);
        match h {
            Hdr::Ipv6 {
                src,
                dst,
                hlim,
                tc,
                flow,
            } => {
                ipv6_offsets.push((out.len(), *src, *dst));
                let w = (6u32 << 28) | (u32::from(*tc) << 20) | flow;
                out.extend_from_slice(&w.to_be_bytes());
                out.extend_from_slice(&[0, 0, next, *hlim]);
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
            }
            Hdr::Opts { options, pad, .. } => {
                let mut data = Vec::new();
                for (k, d) in options {
                    data.push(*k);
                    data.push(d.len() as u8);
                    data.extend_from_slice(d);
                }
                let p = (8 - (data.len() + 2) % 8) % 8;
                if *pad || p != 0 {
                    match p {
                        0 => {}
                        1 => data.push(0),
                        n => {
                            data.push(1);
                            data.push((n - 2) as u8);
                            data.extend(std::iter::repeat_n(0, n - 2));
                        }
                    }
                }
                out.push(next);
                out.push(((data.len() + 2) / 8 - 1) as u8);
                out.extend_from_slice(&data);
            }
            Hdr::Frag { word, ident } => {
                out.extend_from_slice(&[next, 0]);
                out.extend_from_slice(&word.to_be_bytes());
                out.extend_from_slice(&ident.to_be_bytes());
            }
            Hdr::Route { rtype, left, data } => {
                let mut d = data.clone();
                let total = (d.len() + 4).div_ceil(8) * 8;
                d.resize(total - 4, 0);
                out.extend_from_slice(&[next, (total / 8 - 1) as u8, *rtype, *left]);
                out.extend_from_slice(&d);
            }
            Hdr::Udp {
                sport,
                dport,
                cksum,
                ..
            } => {
                udp_at = Some((out.len(), ipv6_offsets.last().map(|x| (x.1, x.2))));
                out.extend_from_slice(&sport.to_be_bytes());
                out.extend_from_slice(&dport.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&cksum.to_be_bytes());
            }
        }
    }
    out.extend_from_slice(&payload);
    let total = out.len();
    for (o, _, _) in &ipv6_offsets {
        let l = (total - o - 40) as u16;
        out[o + 4..o + 6].copy_from_slice(&l.to_be_bytes());
    }
    if let Some((o, addrs)) = udp_at {
        let l = (total - o) as u16;
        out[o + 4..o + 6].copy_from_slice(&l.to_be_bytes());
        if let (
            Some(Hdr::Udp {
                good_cksum: true, ..
            }),
            Some((s, d)),
        ) = (hdrs.iter().find(|h| matches!(h, Hdr::Udp { .. })), addrs)
        {
            let c = crate::wire::udp::compute(&s, &d, &out[o..]);
            out[o + 6..o + 8].copy_from_slice(&c.to_be_bytes());
        }
    }
    out
}

/// RPI-6LoRH values, biased towards the elided forms (instance 0, rank low octet 0).
pub fn rpi_6lorh_repr() -> impl Strategy<Value = crate::wire::lorh::Rpi6LoRhRepr> {
    (
        any::<[bool; 3]>(),
        prop_oneof![Just(0u8), any::<u8>()],
        prop_oneof![any::<u16>(), any::<u8>().prop_map(|h| u16::from(h) << 8)],
    )
        .prop_map(
            |([down, rank_error, forwarding_error], instance_id, sender_rank)| {
                crate::wire::lorh::Rpi6LoRhRepr {
                    down,
                    rank_error,
                    forwarding_error,
                    instance_id,
                    sender_rank,
                }
            },
        )
}

/// A [`packet`] with a Hop-by-Hop header holding one RPL option (type 0x23 or 0x63, or
/// with a flag bit an RPI-6LoRH cannot carry) put right after its IPv6 header.
pub fn rpi_packet() -> BoxedStrategy<Vec<u8>> {
    (
        packet().boxed(),
        rpi_6lorh_repr(),
        prop_oneof![4 => Just(0x23u8), 1 => Just(0x63)],
        prop_oneof![4 => Just(0u8), 1 => 1u8..32],
    )
        .prop_map(|(mut p, rpi, t, extra_flags)| {
            if p.len() >= 40 && p[0] >> 4 == 6 {
                let plen = u16::from_be_bytes([p[4], p[5]]).wrapping_add(8);
                let mut d = rpi.option_data();
                d[0] |= extra_flags;
                let hbh = [p[6], 0, t, 4, d[0], d[1], d[2], d[3]];
                p[6] = 0;
                p[4..6].copy_from_slice(&plen.to_be_bytes());
                p.splice(40..40, hbh);
            }
            p
        })
        .boxed()
}

/// The parts of an SRH-6LoRH (RFC 8138 §5.1): a Type 0 to 4 and 1 to 32 compressed
/// addresses of its size, back to back (the Repr borrows them).
pub fn srh_6lorh_parts() -> impl Strategy<Value = (u8, Vec<u8>)> {
    (0u8..=4, 1usize..=crate::wire::lorh::SRH_MAX_HOPS).prop_flat_map(|(t, n)| {
        let len = crate::wire::lorh::srh_addr_len(t).unwrap_or(16) * n;
        (Just(t), proptest::collection::vec(any::<u8>(), len))
    })
}

/// Addresses of the nodes along a source route: mostly in the root's /64 with interface
/// identifiers from EUI-64s that differ in their last octets, sometimes anywhere.
fn route_addr(prefix: [u8; 8]) -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        4 => any::<u8>().prop_map(move |x| {
            let mut o = [0u8; 16];
            o[..8].copy_from_slice(&prefix);
            o[8..].copy_from_slice(&[0x02, 0x12, 0x4b, 0, 0, 0, 0, x]);
            Ipv6Addr::from(o)
        }),
        2 => any::<u32>().prop_map(move |x| {
            let mut o = [0u8; 16];
            o[..8].copy_from_slice(&prefix);
            o[8..12].copy_from_slice(&[0x02, 0x12, 0x4b, 0]);
            o[12..].copy_from_slice(&x.to_be_bytes());
            Ipv6Addr::from(o)
        }),
        1 => any::<[u8; 8]>().prop_map(move |iid| {
            let mut o = [0u8; 16];
            o[..8].copy_from_slice(&prefix);
            o[8..].copy_from_slice(&iid);
            Ipv6Addr::from(o)
        }),
        1 => ipv6_addr(),
    ]
}

/// How [`srh_packet`] writes the routing header.
#[derive(Debug, Clone, Copy)]
pub enum SrhForm {
    /// As [`crate::compress::srh::emit_srh`] does: every address still to visit.
    Canonical,
    /// Full addresses (CmprI = CmprE = 0), which SRH-6LoRH does not stand for.
    Uncompressed,
    /// One address already visited (Segments Left = n − 1).
    Visited,
}

/// An IPv6 packet the RPL root sends down a source route (RFC 6554 §3): from the root to
/// the first hop, maybe a Hop-by-Hop header with the RPL option (type 0x23), the Source
/// Routing Header listing the other hops and the final destination (1 to 40 addresses), then
/// UDP (with a correct checksum over the final destination), ICMPv6 or nothing.
pub fn srh_packet() -> BoxedStrategy<Vec<u8>> {
    let prefix = prop_oneof![
        Just([0x20u8, 0x01, 0x0d, 0xb8, 0, 0, 0, 0]),
        Just([0xfd, 0, 0, 1, 0, 0, 0, 0])
    ];
    prefix
        .prop_flat_map(|prefix| {
            (
                route_addr(prefix),
                proptest::collection::vec(route_addr(prefix), 2..=41),
                proptest::option::of(rpi_6lorh_repr()),
                prop_oneof![Just(17u8), Just(58), Just(59)],
                proptest::collection::vec(any::<u8>(), 0..40),
                prop_oneof![
                    6 => Just(SrhForm::Canonical),
                    1 => Just(SrhForm::Uncompressed),
                    1 => Just(SrhForm::Visited)
                ],
                (any::<u8>(), any::<u8>()),
            )
        })
        .prop_map(|(root, hops, rpi, upper, body, form, (hlim, tc))| {
            build_srh_packet(root, &hops, rpi, upper, &body, form, hlim, tc)
        })
        .boxed()
}

/// Builds the packet [`srh_packet`] describes: `hops[0]` is the IPv6 destination.
#[allow(clippy::too_many_arguments)]
pub fn build_srh_packet(
    root: Ipv6Addr,
    hops: &[Ipv6Addr],
    rpi: Option<crate::wire::lorh::Rpi6LoRhRepr>,
    upper: u8,
    body: &[u8],
    form: SrhForm,
    hlim: u8,
    tc: u8,
) -> Vec<u8> {
    let (first, addrs) = hops.split_first().unwrap();
    let last = *addrs.last().unwrap();
    let mut srh = vec![0u8; 8 + 16 * addrs.len()];
    let n = match form {
        SrhForm::Canonical | SrhForm::Visited => {
            crate::compress::srh::emit_srh(upper, first, addrs, &mut srh).unwrap()
        }
        SrhForm::Uncompressed => {
            srh[..4].copy_from_slice(&[upper, (2 * addrs.len()) as u8, 3, addrs.len() as u8]);
            for (i, a) in addrs.iter().enumerate() {
                srh[8 + 16 * i..24 + 16 * i].copy_from_slice(&a.octets());
            }
            8 + 16 * addrs.len()
        }
    };
    srh.truncate(n);
    if let SrhForm::Visited = form {
        srh[3] -= 1;
    }
    let mut upper_bytes = Vec::new();
    match upper {
        17 => {
            upper_bytes.extend_from_slice(&[0xf0, 0xb1, 0x02, 0xd4, 0, 0, 0, 0]);
            upper_bytes.extend_from_slice(body);
            let l = upper_bytes.len() as u16;
            upper_bytes[4..6].copy_from_slice(&l.to_be_bytes());
            let c = crate::wire::udp::compute(&root, &last, &upper_bytes);
            upper_bytes[6..8].copy_from_slice(&c.to_be_bytes());
        }
        58 => {
            upper_bytes.extend_from_slice(&[128, 0, 0x12, 0x34]);
            upper_bytes.extend_from_slice(body);
        }
        _ => {}
    }
    let mut p = vec![0x60 | (tc >> 4), tc << 4, 0, 0, 0, 0, 43, hlim];
    p.extend_from_slice(&root.octets());
    p.extend_from_slice(&first.octets());
    if let Some(r) = rpi {
        p[6] = 0;
        let d = r.option_data();
        p.extend_from_slice(&[43, 0, 0x23, 4, d[0], d[1], d[2], d[3]]);
    }
    p.extend_from_slice(&srh);
    p.extend_from_slice(&upper_bytes);
    let plen = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    p
}

/// The 6LoRH a page-1 payload opens with (RFC 8138 §5.1, §6.3): the page switch, an
/// SRH-6LoRH for each of `srh`, then `rpi`; nothing when there are none.
pub fn lorh_prefix(srh: &[(u8, Vec<u8>)], rpi: Option<crate::wire::lorh::Rpi6LoRhRepr>) -> Vec<u8> {
    if srh.is_empty() && rpi.is_none() {
        return Vec::new();
    }
    let mut f = vec![crate::wire::lorh::PAGE_1_DISPATCH];
    let mut b = [0u8; crate::wire::lorh::SRH_MAX_LEN];
    for (t, hops) in srh {
        let r = crate::wire::lorh::Srh6LoRhRepr {
            lorh_type: *t,
            hops,
        };
        let k = r.emit_bytes(&mut b).unwrap();
        f.extend_from_slice(&b[..k]);
    }
    if let Some(r) = rpi {
        let k = r.emit_bytes(&mut b).unwrap();
        f.extend_from_slice(&b[..k]);
    }
    f
}

/// When `frame` decompresses, the packet compresses (with RFC 8138 or without) and
/// decompresses back to itself.
pub fn decompress_is_fixed_point(
    frame: &[u8],
    src: LinkAddr,
    dst: LinkAddr,
    ctx: &ContextTable,
    rfc8138: bool,
) -> Result<(), TestCaseError> {
    use crate::compress::{CompressOptions, compress, decompress};
    let mut out = vec![0u8; 2048];
    if let Ok(n) = decompress(frame, src, dst, ctx, &mut out) {
        let packet = &out[..n];
        let opts = CompressOptions {
            rfc8138,
            ..CompressOptions::default()
        };
        let mut z = vec![0u8; n + 64];
        let k = compress(packet, src, dst, ctx, &opts, &mut z).unwrap();
        let mut again = vec![0u8; 2048];
        let m = decompress(&z[..k], src, dst, ctx, &mut again).unwrap();
        prop_assert_eq!(&again[..m], packet);
    }
    Ok(())
}

/// The parts of an IP-in-IP 6LoRH (RFC 8138 §7): a Hop Limit and an Encapsulator Address
/// of 0, 1, 2, 4, 8 or 16 octets (the Repr borrows it).
pub fn ip_in_ip_6lorh_parts() -> impl Strategy<Value = (u8, Vec<u8>)> {
    (
        any::<u8>(),
        prop_oneof![Just(0usize), Just(1), Just(2), Just(4), Just(8), Just(16)],
    )
        .prop_flat_map(|(h, n)| (Just(h), proptest::collection::vec(any::<u8>(), n)))
}

/// An IPv6-in-IPv6 packet a RPL root sends down a source route (RFC 9008 §8.2.2): an outer
/// header from `root` to `hops[0]` (Traffic Class 0 unless `tc` says otherwise), maybe a
/// Hop-by-Hop header with the RPL option (type 0x23), a Source Routing Header listing the
/// later hops when there are any (RFC 6554 §3, as [`crate::compress::srh::emit_srh`] writes
/// it), then `inner`.
pub fn build_tunnel_packet(
    root: Ipv6Addr,
    hops: &[Ipv6Addr],
    rpi: Option<crate::wire::lorh::Rpi6LoRhRepr>,
    inner: &[u8],
    hlim: u8,
    tc: u8,
) -> Vec<u8> {
    let (first, rest) = hops.split_first().unwrap();
    let mut p = vec![0x60 | (tc >> 4), tc << 4, 0, 0, 0, 0, 41, hlim];
    p.extend_from_slice(&root.octets());
    p.extend_from_slice(&first.octets());
    let mut last_next = 6;
    if let Some(r) = rpi {
        p[6] = 0;
        let d = r.option_data();
        p.extend_from_slice(&[41, 0, 0x23, 4, d[0], d[1], d[2], d[3]]);
        last_next = 40;
    }
    if !rest.is_empty() {
        let mut srh = vec![0u8; 8 + 16 * rest.len()];
        let n = crate::compress::srh::emit_srh(41, first, rest, &mut srh).unwrap();
        p[last_next] = 43;
        p.extend_from_slice(&srh[..n]);
    }
    p.extend_from_slice(inner);
    let plen = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    p
}

/// A UDP datagram from a server outside the DODAG to `dst` (correct checksum), for
/// tunnelling.
pub fn server_udp(dst: Ipv6Addr, hlim: u8, body: &[u8]) -> Vec<u8> {
    let src: Ipv6Addr = "2001:db8:ff::1".parse().unwrap();
    let mut u = vec![0x02, 0xd4, 0xf0, 0xb2, 0, 0, 0, 0];
    u.extend_from_slice(body);
    let l = u.len() as u16;
    u[4..6].copy_from_slice(&l.to_be_bytes());
    let c = crate::wire::udp::compute(&src, &dst, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&l.to_be_bytes());
    p.extend_from_slice(&[17, hlim]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&u);
    p
}

/// [`build_tunnel_packet`] with 1 to 33 hops in the root's /64, a UDP datagram from a server
/// to the last hop inside (or an arbitrary [`packet`] to some hop), mostly Traffic Class 0.
pub fn tunnel_packet() -> BoxedStrategy<Vec<u8>> {
    let prefix = [0x20u8, 0x01, 0x0d, 0xb8, 0, 0x0a, 0, 0];
    (
        route_addr(prefix),
        proptest::collection::vec(route_addr(prefix), 1..=33),
        proptest::option::of(rpi_6lorh_repr()),
        prop_oneof![4 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Some), 1 => Just(None)],
        packet(),
        (any::<u8>(), prop_oneof![6 => Just(0u8), 1 => any::<u8>()]),
    )
        .prop_map(|(root, hops, rpi, body, other, (hlim, tc))| {
            let inner = match body {
                Some(b) => server_udp(*hops.last().unwrap(), 64, &b),
                None => other,
            };
            build_tunnel_packet(root, &hops, rpi, &inner, hlim, tc)
        })
        .boxed()
}
