//! 6LoWPAN header compression and decompression, amimesh-sixlowpan next to smoltcp's IPHC on
//! the same packets.
//!
//! Both sides do the whole job a 6LoWPAN adaptation layer does for one frame: compress =
//! IPv6 packet in, LOWPAN_IPHC + NHC-UDP + payload out; decompress = the 6LoWPAN payload in, the
//! IPv6 packet out. smoltcp is driven through its public wire API the way its interface code
//! does it (`iface/interface/sixlowpan.rs`). At start the bench prints the compressed size each
//! library reaches per packet. The `sixlowpan_srh` group (amimesh only; smoltcp has no RFC 8138)
//! times a source-routed packet with and without SRH-6LoRH, the `sixlowpan_rpi` group the RPL
//! option with and without RPI-6LoRH, the `sixlowpan_ipinip` group a server's datagram the root
//! tunnels down a source route (IPv6-in-IPv6) with and without the IP-in-IP 6LoRH.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amimesh::core::{ExtAddr, LinkAddr, ShortAddr};
use amimesh::sixlowpan::wire::ipv6::Ipv6Repr;
use amimesh::sixlowpan::wire::udp::UdpRepr;
use amimesh::sixlowpan::wire::{IpProtocol, icmpv6};
use amimesh::sixlowpan::{CompressOptions, Context, ContextTable, compress, decompress};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, black_box, criterion_group};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    Ieee802154Address, IpProtocol as SIpProtocol, Ipv6Packet, Ipv6Repr as SIpv6Repr,
    SixlowpanAddressContext, SixlowpanIphcPacket, SixlowpanIphcRepr, SixlowpanNextHeader,
    SixlowpanUdpNhcPacket, SixlowpanUdpNhcRepr, UdpPacket, UdpRepr as SUdpRepr,
};
use std::net::Ipv6Addr;

struct Case {
    name: &'static str,
    packet: Vec<u8>,
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
}

fn ipv6(src: &str, dst: &str, hlim: u8, next: IpProtocol, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    Ipv6Repr {
        src_addr: src.parse().unwrap(),
        dst_addr: dst.parse().unwrap(),
        next_header: next,
        payload_len: payload.len() as u16,
        hop_limit: hlim,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut p)
    .unwrap();
    p.extend_from_slice(payload);
    p
}

fn udp(src: &str, dst: &str, sport: u16, dport: u16, len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let mut d = vec![0u8; 8 + len];
    UdpRepr {
        src_port: sport,
        dst_port: dport,
    }
    .emit(
        &mut d,
        &src.parse().unwrap(),
        &dst.parse().unwrap(),
        &payload,
    )
    .unwrap();
    d
}

fn cases() -> Vec<Case> {
    let s = |a| LinkAddr::Short(ShortAddr(a));
    let e = |l| LinkAddr::Extended(ExtAddr([0, 0x12, 0x4b, 0, 0, 0, 0, l]));
    let (a, b) = ("fe80::ff:fe00:1", "fe80::ff:fe00:2");
    let (ea, eb) = ("fe80::212:4b00:0:1", "fe80::212:4b00:0:2");
    let (ga, gb) = ("2001:db8::212:4b00:0:1", "2001:db8::ff:fe00:2");
    let mut echo = vec![0u8; 4 + 20];
    icmpv6::Icmpv6Repr {
        msg_type: icmpv6::Icmpv6Type::EchoRequest,
        code: 0,
        body: &[7; 20],
    }
    .emit(&mut echo, &ga.parse().unwrap(), &gb.parse().unwrap())
    .unwrap();
    vec![
        Case {
            name: "udp_ll16_4bit_ports",
            packet: ipv6(a, b, 255, IpProtocol::Udp, &udp(a, b, 0xf0b1, 0xf0b2, 32)),
            ll_src: s(1),
            ll_dst: s(2),
        },
        Case {
            name: "udp_ll64_mle",
            packet: ipv6(ea, eb, 255, IpProtocol::Udp, &udp(ea, eb, 19788, 19788, 48)),
            ll_src: e(1),
            ll_dst: e(2),
        },
        Case {
            name: "udp_mcast_pana",
            packet: ipv6(
                a,
                "ff02::1",
                64,
                IpProtocol::Udp,
                &udp(a, "ff02::1", 716, 716, 24),
            ),
            ll_src: s(1),
            ll_dst: s(0xffff),
        },
        Case {
            name: "icmp_context0",
            packet: ipv6(ga, gb, 64, IpProtocol::Icmpv6, &echo),
            ll_src: e(1),
            ll_dst: s(2),
        },
    ]
}

fn ll(a: LinkAddr) -> Option<Ieee802154Address> {
    match a {
        LinkAddr::Absent => None,
        LinkAddr::Short(s) => Some(Ieee802154Address::Short(s.0.to_be_bytes())),
        LinkAddr::Extended(e) => Some(Ieee802154Address::Extended(e.0)),
    }
}

fn ctx() -> ContextTable {
    ContextTable::new()
        .with(0, Context::new("2001:db8::".parse().unwrap(), 64))
        .unwrap()
}

fn smol_ctx() -> [SixlowpanAddressContext; 1] {
    [SixlowpanAddressContext([
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
    ])]
}

/// smoltcp: IPv6 packet → 6LoWPAN payload.
fn smoltcp_compress(packet: &[u8], src: LinkAddr, dst: LinkAddr, out: &mut [u8]) -> usize {
    let ip = Ipv6Packet::new_checked(packet).unwrap();
    let ip_repr = SIpv6Repr::parse(&ip).unwrap();
    let udp = ip_repr.next_header == SIpProtocol::Udp;
    let iphc = SixlowpanIphcRepr {
        src_addr: ip_repr.src_addr,
        ll_src_addr: ll(src),
        dst_addr: ip_repr.dst_addr,
        ll_dst_addr: ll(dst),
        next_header: if udp {
            SixlowpanNextHeader::Compressed
        } else {
            SixlowpanNextHeader::Uncompressed(ip_repr.next_header)
        },
        hop_limit: ip_repr.hop_limit,
        ecn: None,
        dscp: None,
        flow_label: None,
    };
    let n = iphc.buffer_len();
    iphc.emit(&mut SixlowpanIphcPacket::new_unchecked(&mut out[..n]));
    let body = ip.payload();
    if udp {
        let u = UdpPacket::new_checked(body).unwrap();
        let repr = SixlowpanUdpNhcRepr(SUdpRepr {
            src_port: u.src_port(),
            dst_port: u.dst_port(),
        });
        let payload = u.payload();
        let total = n + repr.header_len() + payload.len();
        let mut nhc = SixlowpanUdpNhcPacket::new_unchecked(&mut out[n..total]);
        repr.emit(
            &mut nhc,
            &ip_repr.src_addr,
            &ip_repr.dst_addr,
            payload.len(),
            |b| b.copy_from_slice(payload),
            &ChecksumCapabilities::default(),
        );
        total
    } else {
        out[n..n + body.len()].copy_from_slice(body);
        n + body.len()
    }
}

/// smoltcp: 6LoWPAN payload → IPv6 packet (as its interface's `sixlowpan_to_ipv6`).
fn smoltcp_decompress(frame: &[u8], src: LinkAddr, dst: LinkAddr, out: &mut [u8]) -> usize {
    let iphc = SixlowpanIphcPacket::new_checked(frame).unwrap();
    let repr = SixlowpanIphcRepr::parse(&iphc, ll(src), ll(dst), &smol_ctx()).unwrap();
    let data = iphc.payload();
    let (next, body_len) = match repr.next_header {
        SixlowpanNextHeader::Compressed => {
            let u = SixlowpanUdpNhcPacket::new_checked(data).unwrap();
            let ur = SixlowpanUdpNhcRepr::parse(
                &u,
                &repr.src_addr,
                &repr.dst_addr,
                &ChecksumCapabilities::ignored(),
            )
            .unwrap();
            let payload = u.payload();
            let mut up = UdpPacket::new_unchecked(&mut out[40..48 + payload.len()]);
            // What smoltcp's interface does through its crate-private `emit_header`.
            up.set_src_port(ur.src_port);
            up.set_dst_port(ur.dst_port);
            up.set_len((8 + payload.len()) as u16);
            up.set_checksum(0);
            out[48..48 + payload.len()].copy_from_slice(payload);
            (SIpProtocol::Udp, 8 + payload.len())
        }
        SixlowpanNextHeader::Uncompressed(p) => {
            out[40..40 + data.len()].copy_from_slice(data);
            (p, data.len())
        }
    };
    SIpv6Repr {
        src_addr: repr.src_addr,
        dst_addr: repr.dst_addr,
        next_header: next,
        payload_len: body_len,
        hop_limit: repr.hop_limit,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut out[..40]));
    40 + body_len
}

fn bench(c: &mut Criterion) {
    let ctx = ctx();
    let opts = CompressOptions::default();
    let mut ours_total = 0;
    let mut smol_total = 0;
    for case in cases() {
        let mut a = [0u8; 256];
        let mut b = [0u8; 256];
        let na = compress(&case.packet, case.ll_src, case.ll_dst, &ctx, &opts, &mut a).unwrap();
        let nb = smoltcp_compress(&case.packet, case.ll_src, case.ll_dst, &mut b);
        // Both decompress what they produced to the same addresses and payload.
        let mut x = [0u8; 256];
        let mut y = [0u8; 256];
        let mx = decompress(&a[..na], case.ll_src, case.ll_dst, &ctx, &mut x).unwrap();
        let my = smoltcp_decompress(&b[..nb], case.ll_src, case.ll_dst, &mut y);
        assert_eq!(&x[..mx], &case.packet[..], "{}", case.name);
        assert_eq!(&y[..8], &case.packet[..8], "{}", case.name);
        assert_eq!(&y[8..40], &case.packet[8..40], "{}", case.name);
        assert_eq!(&y[48..my], &case.packet[48..], "{}", case.name);
        let p = case.packet.len();
        println!(
            "{:<22} IPv6 {p:>3} B | amimesh {na:>3} B (saves {:>2}) | smoltcp {nb:>3} B (saves {:>2})",
            case.name,
            p - na,
            p - nb
        );
        ours_total += p - na;
        smol_total += p - nb;
    }
    println!(
        "bytes saved per packet (mean): amimesh {:.1}, smoltcp {:.1}",
        ours_total as f64 / 4.0,
        smol_total as f64 / 4.0
    );

    let mut g = c.benchmark_group("sixlowpan_compress");
    for case in cases() {
        g.throughput(Throughput::Bytes(case.packet.len() as u64));
        let mut out = [0u8; 256];
        g.bench_with_input(BenchmarkId::new("amimesh", case.name), &case, |bch, k| {
            bch.iter(|| {
                compress(
                    black_box(&k.packet),
                    k.ll_src,
                    k.ll_dst,
                    &ctx,
                    &opts,
                    &mut out,
                )
                .unwrap()
            })
        });
        g.bench_with_input(BenchmarkId::new("smoltcp", case.name), &case, |bch, k| {
            bch.iter(|| smoltcp_compress(black_box(&k.packet), k.ll_src, k.ll_dst, &mut out))
        });
    }
    g.finish();

    srh_bench(c);
    ipinip_bench(c);

    let mut g = c.benchmark_group("sixlowpan_decompress");
    for case in cases() {
        let mut a = [0u8; 256];
        let na = compress(&case.packet, case.ll_src, case.ll_dst, &ctx, &opts, &mut a).unwrap();
        let mut b = [0u8; 256];
        let nb = smoltcp_compress(&case.packet, case.ll_src, case.ll_dst, &mut b);
        let (fa, fb) = (a[..na].to_vec(), b[..nb].to_vec());
        g.throughput(Throughput::Bytes(case.packet.len() as u64));
        let mut out = [0u8; 256];
        g.bench_with_input(BenchmarkId::new("amimesh", case.name), &case, |bch, k| {
            bch.iter(|| decompress(black_box(&fa), k.ll_src, k.ll_dst, &ctx, &mut out).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("smoltcp", case.name), &case, |bch, k| {
            bch.iter(|| smoltcp_decompress(black_box(&fb), k.ll_src, k.ll_dst, &mut out))
        });
    }
    g.finish();
}

/// The RPL root's packet to node 4 through nodes 2 and 3 (RFC 6554 routing header, UDP),
/// compressed with RFC 8138 (SRH-6LoRH, RFC 8138 §5.1) and without (LOWPAN_NHC): the cost of
/// building both forms and keeping the shorter, and of rebuilding the routing header.
fn srh_bench(c: &mut Criterion) {
    let node = |x: u16| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0x0212, 0x4b00, 0, x);
    let (root, first, rest) = (node(1), node(2), [node(3), node(4)]);
    let mut rh = vec![0u8; 16];
    let n = amimesh::sixlowpan::compress::srh::emit_srh(17, &first, &rest, &mut rh).unwrap();
    rh.truncate(n);
    let mut udp = vec![0xf0, 0xb1, 0x02, 0xd4, 0, 10, 0, 0, b'h', b'i'];
    let c0 = amimesh::sixlowpan::wire::udp::compute(&root, &rest[1], &udp);
    udp[6..8].copy_from_slice(&c0.to_be_bytes());
    let mut packet = vec![0x60, 0, 0, 0, 0, (rh.len() + udp.len()) as u8, 43, 64];
    packet.extend_from_slice(&root.octets());
    packet.extend_from_slice(&first.octets());
    packet.extend_from_slice(&rh);
    packet.extend_from_slice(&udp);
    let ctx = ContextTable::new()
        .with(0, Context::new("2001:db8::".parse().unwrap(), 64))
        .unwrap();
    let mut g = c.benchmark_group("sixlowpan_srh");
    g.throughput(Throughput::Bytes(packet.len() as u64));
    for (name, rfc8138) in [("nhc", false), ("srh_6lorh", true)] {
        let k = time_both_ways(&mut g, name, &packet, &ctx, rfc8138);
        println!("source route, {name:<9}: IPv6 {} B -> {k} B", packet.len());
    }
    g.finish();
    rpi_bench(c, &ctx, &root, &first, &rh);
}

/// A server's UDP datagram that the RPL root tunnels to node 4 through nodes 2 and 3
/// (IPv6-in-IPv6, RFC 9008 §8.2.2: the RPL option and the RFC 6554 routing header in the
/// outer header), compressed with RFC 8138 (SRH-6LoRH, RPI-6LoRH and IP-in-IP 6LoRH with the
/// root's address elided, RFC 8138 §7) and without (LOWPAN_NHC with EID 7, RFC 6282 §4.2).
fn ipinip_bench(c: &mut Criterion) {
    let node = |x: u16| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0x0212, 0x4b00, 0, x);
    let (root, first, rest) = (node(1), node(2), [node(3), node(4)]);
    let server: Ipv6Addr = "2001:db8:ffff::1".parse().unwrap();
    let mut udp = vec![0x02, 0xd4, 0xf0, 0xb2, 0, 15, 0, 0];
    udp.extend_from_slice(b"command");
    let c0 = amimesh::sixlowpan::wire::udp::compute(&server, &rest[1], &udp);
    udp[6..8].copy_from_slice(&c0.to_be_bytes());
    let inner = ipv6(
        &server.to_string(),
        &rest[1].to_string(),
        63,
        IpProtocol::Udp,
        &udp,
    );
    let mut rh = vec![0u8; 16];
    let n = amimesh::sixlowpan::compress::srh::emit_srh(41, &first, &rest, &mut rh).unwrap();
    rh.truncate(n);
    let mut payload = vec![43, 0, 0x23, 4, 0x80, 0, 0x01, 0];
    payload.extend_from_slice(&rh);
    payload.extend_from_slice(&inner);
    let mut packet = ipv6(
        &root.to_string(),
        &first.to_string(),
        64,
        IpProtocol::HopByHop,
        &payload,
    );
    packet[6] = 0;
    let mut ctx = ContextTable::new()
        .with(0, Context::new("2001:db8::".parse().unwrap(), 64))
        .unwrap();
    ctx.set_root(Some(root));
    let mut g = c.benchmark_group("sixlowpan_ipinip");
    g.throughput(Throughput::Bytes(packet.len() as u64));
    for (name, rfc8138) in [("nhc", false), ("ipinip_6lorh", true)] {
        let k = time_both_ways(&mut g, name, &packet, &ctx, rfc8138);
        println!("tunnel, {name:<12}: IPv6 {} B -> {k} B", packet.len());
    }
    g.finish();
}

/// The RPL option (RFC 6553) as RPI-6LoRH (RFC 8138 §6.3) and as LOWPAN_NHC, alone and
/// after the SRH-6LoRH of [`srh_bench`]'s packet.
fn rpi_bench(c: &mut Criterion, ctx: &ContextTable, root: &Ipv6Addr, first: &Ipv6Addr, rh: &[u8]) {
    let mut g = c.benchmark_group("sixlowpan_rpi");
    for (name, with_rh) in [("rpi", false), ("srh_rpi", true)] {
        let dst = if with_rh {
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0x0212, 0x4b00, 0, 4)
        } else {
            *first
        };
        let mut udp = vec![0xf0, 0xb1, 0x02, 0xd4, 0, 10, 0, 0, b'h', b'i'];
        let c0 = amimesh::sixlowpan::wire::udp::compute(root, &dst, &udp);
        udp[6..8].copy_from_slice(&c0.to_be_bytes());
        let mut hbh = vec![17, 0, ctx.rpi_option_type(), 4, 0x80, 0, 0x01, 0];
        if with_rh {
            hbh[0] = 43;
        }
        let mut packet = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        let plen = hbh.len() + if with_rh { rh.len() } else { 0 } + udp.len();
        packet[5] = plen as u8;
        packet.extend_from_slice(&root.octets());
        packet.extend_from_slice(&first.octets());
        packet.extend_from_slice(&hbh);
        if with_rh {
            packet.extend_from_slice(rh);
        }
        packet.extend_from_slice(&udp);
        g.throughput(Throughput::Bytes(packet.len() as u64));
        for (form, rfc8138) in [("nhc", false), ("6lorh", true)] {
            let k = time_both_ways(&mut g, &format!("{name}_{form}"), &packet, ctx, rfc8138);
            println!("{name:<7} {form:<5}: IPv6 {} B -> {k} B", packet.len());
        }
    }
    g.finish();
}

/// Times `compress/<id>` and `decompress/<id>` of `packet` from link address 1 to 2, with
/// RFC 8138 or without, once the frame is checked to decompress to the packet; returns the
/// frame's length.
fn time_both_ways(
    g: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    packet: &[u8],
    ctx: &ContextTable,
    rfc8138: bool,
) -> usize {
    let ll = |x: u8| LinkAddr::Extended(ExtAddr([0, 0x12, 0x4b, 0, 0, 0, 0, x]));
    let opts = CompressOptions {
        rfc8138,
        ..CompressOptions::default()
    };
    let mut frame = [0u8; 256];
    let k = compress(packet, ll(1), ll(2), ctx, &opts, &mut frame).unwrap();
    let mut out = [0u8; 256];
    let m = decompress(&frame[..k], ll(1), ll(2), ctx, &mut out).unwrap();
    assert_eq!(&out[..m], packet, "{id}");
    let frame = frame[..k].to_vec();
    g.bench_function(BenchmarkId::new("compress", id), |b| {
        b.iter(|| compress(black_box(packet), ll(1), ll(2), ctx, &opts, &mut out).unwrap())
    });
    g.bench_function(BenchmarkId::new("decompress", id), |b| {
        b.iter(|| decompress(black_box(&frame), ll(1), ll(2), ctx, &mut out).unwrap())
    });
    k
}

/// One operation run `iters` times, for instruction counting:
/// `SIXLOWPAN_IR=<compress|decompress>:<amimesh|smoltcp>:<case>:<iters> valgrind
/// --tool=callgrind --toggle-collect='*ir_loop*' <bench binary>`; Ir / iters is the cost of
/// one call.
#[inline(never)]
fn ir_loop(op: &str, lib: &str, k: &Case, iters: usize) -> usize {
    let ctx = ctx();
    let opts = CompressOptions::default();
    let mut frame = [0u8; 256];
    let n = if lib == "amimesh" {
        compress(&k.packet, k.ll_src, k.ll_dst, &ctx, &opts, &mut frame).unwrap()
    } else {
        smoltcp_compress(&k.packet, k.ll_src, k.ll_dst, &mut frame)
    };
    let frame = &frame[..n];
    let mut out = [0u8; 256];
    let mut sum = 0;
    for _ in 0..iters {
        sum += match (op, lib) {
            ("compress", "amimesh") => compress(
                black_box(&k.packet),
                k.ll_src,
                k.ll_dst,
                &ctx,
                &opts,
                &mut out,
            )
            .unwrap(),
            ("compress", _) => smoltcp_compress(black_box(&k.packet), k.ll_src, k.ll_dst, &mut out),
            (_, "amimesh") => {
                decompress(black_box(frame), k.ll_src, k.ll_dst, &ctx, &mut out).unwrap()
            }
            _ => smoltcp_decompress(black_box(frame), k.ll_src, k.ll_dst, &mut out),
        };
    }
    sum
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var("SIXLOWPAN_IR") {
        let f: Vec<&str> = spec.split(':').collect();
        let case = cases().into_iter().find(|c| c.name == f[2]).unwrap();
        let n = ir_loop(f[0], f[1], &case, f[3].parse().unwrap());
        println!("{n}");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
