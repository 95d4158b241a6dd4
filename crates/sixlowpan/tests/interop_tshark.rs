//! Interop with Wireshark: every IPHC/NHC mode, a mesh + broadcast frame, uncompressed IPv6
//! and fragmented datagrams (one with a deep source route whose compressed headers do not fit
//! the first fragment) are written to a pcap (linktype 230, 802.15.4 without FCS) and tshark
//! must decode the same addresses, ports, hop limit, traffic class, flow label and payload,
//! and reassemble the fragments. Fails when tshark is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use amimesh_core::{ExtAddr, LinkAddr, ShortAddr};
use amimesh_sixlowpan::wire::lowpan::{Bc0Repr, MeshRepr};
use amimesh_sixlowpan::{CompressOptions, Context, ContextTable, Fragmenter, compress};
use amimesh_testkit::ip::hbh_rpl;
use amimesh_testkit::pcap;
use amimesh_testkit::tshark::Tshark;
use amimesh_testkit::wpan::data_frame;
use common::*;
use std::collections::BTreeSet;

const PAN: u16 = 0xabcd;

fn s(a: u16) -> LinkAddr {
    LinkAddr::Short(ShortAddr(a))
}
fn e(last: u8) -> LinkAddr {
    LinkAddr::Extended(ExtAddr([0x00, 0x12, 0x4b, 0, 0, 0, 0, last]))
}

/// What tshark must show for a case.
struct Expect {
    src: String,
    dst: String,
    hlim: u8,
    tc: u8,
    flow: u32,
    /// (src port, dst port, payload) for UDP.
    udp: Option<(u16, u16, Vec<u8>)>,
    icmp: bool,
    /// For an elided UDP checksum: the checksum of the original packet. Wireshark 4.0 puts a
    /// placeholder in the rebuilt header, so its calculated checksum is compared instead.
    elided: Option<u16>,
}

struct Case {
    name: &'static str,
    frames: Vec<Vec<u8>>,
    expect: Expect,
}

fn contexts() -> ContextTable {
    ContextTable::new()
        .with(0, Context::new(addr("2001:db8::"), 64))
        .unwrap()
        .with(3, Context::new(addr("2001:db8:3::"), 64))
        .unwrap()
}

struct Builder {
    seq: u8,
    cases: Vec<Case>,
    ctx: ContextTable,
}

impl Builder {
    fn frame(&mut self, src: LinkAddr, dst: LinkAddr, lowpan: &[u8]) -> Vec<u8> {
        self.seq = self.seq.wrapping_add(1);
        data_frame(self.seq, PAN, dst, src, lowpan)
    }

    #[allow(clippy::too_many_arguments)]
    fn udp_case(
        &mut self,
        name: &'static str,
        (lsrc, ldst): (LinkAddr, LinkAddr),
        (src, dst): (&str, &str),
        (hlim, tc, flow): (u8, u8, u32),
        (sport, dport): (u16, u16),
        payload: &[u8],
        opts: CompressOptions,
    ) {
        let packet = ipv6(
            src,
            dst,
            hlim,
            tc,
            flow,
            17,
            &udp(src, dst, sport, dport, payload),
        );
        let mut out = vec![0u8; 256];
        let n = compress(&packet, lsrc, ldst, &self.ctx, &opts, &mut out).unwrap();
        let f = self.frame(lsrc, ldst, &out[..n]);
        self.cases.push(Case {
            name,
            frames: vec![f],
            expect: Expect {
                src: src.into(),
                dst: dst.into(),
                hlim,
                tc,
                flow,
                udp: Some((sport, dport, payload.to_vec())),
                icmp: false,
                elided: opts
                    .elide_udp_checksum
                    .then(|| u16::from_be_bytes([packet[46], packet[47]])),
            },
        });
    }

    fn packet_case(
        &mut self,
        name: &'static str,
        (lsrc, ldst): (LinkAddr, LinkAddr),
        packet: Vec<u8>,
        expect: Expect,
    ) {
        let mut out = vec![0u8; 512];
        let n = compress(
            &packet,
            lsrc,
            ldst,
            &self.ctx,
            &CompressOptions::default(),
            &mut out,
        )
        .unwrap();
        let f = self.frame(lsrc, ldst, &out[..n]);
        self.cases.push(Case {
            name,
            frames: vec![f],
            expect,
        });
    }
}

fn icmp_expect(src: &str, dst: &str, hlim: u8, tc: u8, flow: u32) -> Expect {
    Expect {
        src: src.into(),
        dst: dst.into(),
        hlim,
        tc,
        flow,
        udp: None,
        icmp: true,
        elided: None,
    }
}

fn build_cases() -> Vec<Case> {
    let d = CompressOptions::default();
    let mut b = Builder {
        seq: 0,
        cases: Vec::new(),
        ctx: contexts(),
    };
    // TF=11 HLIM=11 SAM=11 DAM=11, UDP 4-bit ports.
    b.udp_case(
        "ll16 udp 4-bit ports",
        (s(1), s(2)),
        ("fe80::ff:fe00:1", "fe80::ff:fe00:2"),
        (255, 0, 0),
        (0xf0b1, 0xf0b2),
        b"hello",
        d,
    );
    // TF=00 HLIM=01 SAM=00 DAM=10, UDP dst 8-bit.
    b.udp_case(
        "tc+flow full src",
        (s(1), s(2)),
        ("2001:db8:1::5", "fe80::ff:fe00:7"),
        (1, 0xb9, 0x12345),
        (1234, 0xf012),
        b"tc and flow",
        d,
    );
    // TF=01 HLIM=00 SAM=01 DAM=01, UDP src 8-bit.
    b.udp_case(
        "ecn+flow 64-bit inline",
        (s(1), s(2)),
        ("fe80::1:2:3:4", "fe80::a:b:c:d"),
        (17, 0x02, 0xabcde),
        (0xf0ab, 5683),
        b"ecn",
        d,
    );
    // SAC=1 SAM=11 (implicit context 0), DAC=1 DAM=10, 16-bit ports.
    b.udp_case(
        "context 0 implicit",
        (e(1), s(2)),
        ("2001:db8::212:4b00:0:1", "2001:db8::ff:fe00:9"),
        (64, 0, 0),
        (5683, 5684),
        b"ctx0",
        d,
    );
    // CID=1 SCI=3 DCI=3, SAC=1 SAM=01, DAC=1 DAM=11.
    b.udp_case(
        "context 3 explicit",
        (s(1), s(2)),
        ("2001:db8:3::1:2:3:4", "2001:db8:3::ff:fe00:2"),
        (64, 0, 0),
        (0xf0b5, 19788),
        b"ctx3",
        d,
    );
    // SAC=0 SAM=10, M=1 DAM=11.
    b.udp_case(
        "16-bit src to ff02::1a",
        (s(1), s(0xffff)),
        ("fe80::ff:fe00:77", "ff02::1a"),
        (255, 0, 0),
        (716, 716),
        b"mc8",
        d,
    );
    // M=1 DAM=10.
    b.udp_case(
        "mcast 32",
        (s(1), s(0xffff)),
        ("fe80::ff:fe00:1", "ff05::1:3"),
        (255, 0, 0),
        (547, 547),
        b"mc32",
        d,
    );
    // M=1 DAC=1 DAM=00 (RFC 3306 prefix-based).
    b.udp_case(
        "mcast stateful",
        (s(1), s(0xffff)),
        ("fe80::ff:fe00:1", "ff3e:40:2001:db8::1234"),
        (255, 0, 0),
        (1000, 1001),
        b"mc-ctx",
        d,
    );
    // M=1 DAM=00.
    b.udp_case(
        "mcast full",
        (s(1), s(0xffff)),
        ("fe80::ff:fe00:1", "ff38:1:2:3:4:5:6:7"),
        (255, 0, 0),
        (1000, 1001),
        b"mc128",
        d,
    );
    // UDP checksum elided (C=1).
    b.udp_case(
        "udp checksum elided",
        (s(1), s(2)),
        ("fe80::ff:fe00:1", "fe80::ff:fe00:2"),
        (255, 0, 0),
        (0xf0b3, 0xf0b4),
        b"no checksum on air",
        CompressOptions {
            elide_udp_checksum: true,
            ..d
        },
    );
    // TF=10 HLIM=10 from extended addresses; ICMPv6.
    {
        let (src, dst) = ("fe80::212:4b00:0:1", "fe80::212:4b00:0:2");
        let p = ipv6(src, dst, 64, 0xb8, 0, 58, &echo(src, dst, b"ping"));
        b.packet_case(
            "ll64 echo tc",
            (e(1), e(2)),
            p,
            icmp_expect(src, dst, 64, 0xb8, 0),
        );
    }
    // SAC=1 SAM=10 (context 0), DAC=1 DAM=01; ICMPv6.
    {
        let (src, dst) = ("2001:db8::ff:fe00:33", "2001:db8::1:2:3:4");
        let p = ipv6(src, dst, 64, 0, 0, 58, &echo(src, dst, b"ctx16"));
        b.packet_case(
            "ctx 16-bit src",
            (e(1), e(2)),
            p,
            icmp_expect(src, dst, 64, 0, 0),
        );
    }
    // SAC=1 SAM=00 (unspecified), M=1 DAM=01.
    {
        let (src, dst) = ("::", "ff02::1:ff00:1");
        let p = ipv6(src, dst, 255, 0, 0, 58, &echo(src, dst, b"dad"));
        b.packet_case(
            "unspecified src",
            (e(1), s(0xffff)),
            p,
            icmp_expect(src, dst, 255, 0, 0),
        );
    }
    // DAC=0 DAM=00 unicast full; Fragment (EID 2) and Destination Options (EID 3) headers.
    {
        let (src, dst) = ("fe80::ff:fe00:1", "2001:db8:99::1");
        let u = udp(src, dst, 4000, 4001, b"ext");
        let mut dest_opts = vec![17, 0, 0x1e, 0x02, 0xaa, 0xbb, 0x01, 0x00];
        let mut frag = vec![60, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef];
        frag.append(&mut dest_opts);
        frag.extend_from_slice(&u);
        let p = ipv6(src, dst, 64, 0, 0, 44, &frag);
        b.packet_case(
            "fragment + destination options + udp",
            (s(1), s(2)),
            p,
            Expect {
                src: src.into(),
                dst: dst.into(),
                hlim: 64,
                tc: 0,
                flow: 0,
                udp: Some((4000, 4001, b"ext".to_vec())),
                icmp: false,
                elided: None,
            },
        );
    }
    // Hop-by-Hop RPL option (EID 0) then UDP.
    {
        let (src, dst) = ("fe80::ff:fe00:1", "fe80::ff:fe00:2");
        let mut pl = hbh_rpl(17, 0x1e, 0x0300);
        pl.extend_from_slice(&udp(src, dst, 0xf0b1, 0xf0b2, b"rpl"));
        let p = ipv6(src, dst, 64, 0, 0, 0, &pl);
        b.packet_case(
            "hbh rpl + udp",
            (s(1), s(2)),
            p,
            Expect {
                src: src.into(),
                dst: dst.into(),
                hlim: 64,
                tc: 0,
                flow: 0,
                udp: Some((0xf0b1, 0xf0b2, b"rpl".to_vec())),
                icmp: false,
                elided: None,
            },
        );
    }
    // Routing header type 3 (EID 1) then ICMPv6.
    {
        let (src, dst) = ("2001:db8::ff:fe00:1", "2001:db8::ff:fe00:2");
        let mut pl = srh(58, &["2001:db8::5", "2001:db8::6"]);
        pl.extend_from_slice(&echo(src, "2001:db8::6", b"sr"));
        let p = ipv6(src, dst, 64, 0, 0, 43, &pl);
        // The ICMPv6 checksum uses the final destination (RFC 8200 §8.1), which tshark knows.
        b.packet_case(
            "srh + echo",
            (s(1), s(2)),
            p,
            Expect {
                src: src.into(),
                dst: dst.into(),
                hlim: 64,
                tc: 0,
                flow: 0,
                udp: None,
                icmp: true,
                elided: None,
            },
        );
    }
    // IPv6-in-IPv6 (EID 7) then UDP.
    {
        let (osrc, odst) = ("fe80::ff:fe00:1", "fe80::ff:fe00:2");
        let (isrc, idst) = ("2001:db8::1", "2001:db8::2");
        let inner = ipv6(
            isrc,
            idst,
            63,
            0,
            0,
            17,
            &udp(isrc, idst, 5000, 5001, b"tunnel"),
        );
        let p = ipv6(osrc, odst, 64, 0, 0, 41, &inner);
        b.packet_case(
            "ip-in-ip",
            (s(1), s(2)),
            p,
            Expect {
                src: format!("{osrc},{isrc}"),
                dst: format!("{odst},{idst}"),
                hlim: 64,
                tc: 0,
                flow: 0,
                udp: Some((5000, 5001, b"tunnel".to_vec())),
                icmp: false,
                elided: None,
            },
        );
    }
    let mut cases = b.cases;
    let ctx = contexts();

    // Mesh header (16-bit originator/final) + BC0 + IPHC; addresses derive from the mesh
    // header (RFC 4944 §5.2, RFC 6282 §3.2.2).
    {
        let (src, dst) = ("fe80::ff:fe00:11", "ff02::1");
        let p = ipv6(
            src,
            dst,
            255,
            0,
            0,
            17,
            &udp(src, dst, 0xf0b1, 0xf0b1, b"mesh"),
        );
        let mesh = MeshRepr {
            hops_left: 4,
            originator: s(0x11),
            final_dest: s(0xffff),
        };
        let mut lowpan = vec![0u8; 256];
        let mut n = mesh.emit(&mut lowpan).unwrap();
        n += Bc0Repr { seq: 9 }.emit(&mut lowpan[n..]).unwrap();
        n += compress(
            &p,
            s(0x11),
            s(0xffff),
            &ctx,
            &CompressOptions::default(),
            &mut lowpan[n..],
        )
        .unwrap();
        cases.push(Case {
            name: "mesh + bc0",
            frames: vec![data_frame(200, PAN, s(0xffff), s(0x22), &lowpan[..n])],
            expect: Expect {
                src: src.into(),
                dst: dst.into(),
                hlim: 255,
                tc: 0,
                flow: 0,
                udp: Some((0xf0b1, 0xf0b1, b"mesh".to_vec())),
                icmp: false,
                elided: None,
            },
        });
    }
    // Mesh header with 64-bit originator and final addresses and a deep hops-left byte.
    {
        let (src, dst) = ("fe80::212:4b00:0:33", "fe80::212:4b00:0:44");
        let p = ipv6(
            src,
            dst,
            64,
            0,
            0,
            17,
            &udp(src, dst, 0xf0b2, 0xf0b3, b"mesh64"),
        );
        let mesh = MeshRepr {
            hops_left: 0x20,
            originator: e(0x33),
            final_dest: e(0x44),
        };
        let mut lowpan = vec![0u8; 256];
        let mut n = mesh.emit(&mut lowpan).unwrap();
        n += compress(
            &p,
            e(0x33),
            e(0x44),
            &ctx,
            &CompressOptions::default(),
            &mut lowpan[n..],
        )
        .unwrap();
        cases.push(Case {
            name: "mesh 64-bit deep hops",
            frames: vec![data_frame(202, PAN, s(0x66), s(0x55), &lowpan[..n])],
            expect: Expect {
                src: src.into(),
                dst: dst.into(),
                hlim: 64,
                tc: 0,
                flow: 0,
                udp: Some((0xf0b2, 0xf0b3, b"mesh64".to_vec())),
                icmp: false,
                elided: None,
            },
        });
    }
    // Uncompressed IPv6 (dispatch 0x41).
    {
        let (src, dst) = ("fe80::1", "fe80::2");
        let p = ipv6(src, dst, 64, 0, 0, 58, &echo(src, dst, b"plain"));
        let mut lowpan = vec![0x41];
        lowpan.extend_from_slice(&p);
        cases.push(Case {
            name: "uncompressed",
            frames: vec![data_frame(201, PAN, s(2), s(1), &lowpan)],
            expect: icmp_expect(src, dst, 64, 0, 0),
        });
    }
    // A fragmented UDP datagram.
    let mut fragmenter = Fragmenter::new(0x4242);
    {
        let (src, dst) = ("2001:db8::ff:fe00:1", "2001:db8::ff:fe00:2");
        let payload: Vec<u8> = (0..400u32).map(|i| (i * 7) as u8).collect();
        let p = ipv6(
            src,
            dst,
            64,
            0,
            0,
            17,
            &udp(src, dst, 61616, 61617, &payload),
        );
        let mut frames = Vec::new();
        let mut it = fragmenter
            .fragment(&p, s(1), s(2), &ctx, &CompressOptions::default(), 90)
            .unwrap();
        assert!(it.is_fragmented());
        let mut buf = [0u8; 127];
        while let Some(n) = it.next_frame(&mut buf) {
            let n = n.unwrap();
            assert!(n <= 90);
            frames.push(data_frame(210, PAN, s(2), s(1), &buf[..n]));
        }
        assert!(frames.len() >= 5);
        cases.push(Case {
            name: "fragmented udp",
            frames,
            expect: Expect {
                src: src.into(),
                dst: dst.into(),
                hlim: 64,
                tc: 0,
                flow: 0,
                udp: Some((61616, 61617, payload)),
                icmp: false,
                elided: None,
            },
        });
    }
    // A deep source route: the compressed headers exceed the first fragment's room.
    {
        let (src, dst) = ("2001:db8::ff:fe00:1", "2001:db8::ff:fe00:2");
        let hops: Vec<String> = (1..=8).map(|i| format!("2001:db8::{i}:0:0:{i}")).collect();
        let hops: Vec<&str> = hops.iter().map(String::as_str).collect();
        let last = *hops.last().unwrap();
        let payload: Vec<u8> = (0..100u8).collect();
        let mut pl = srh(17, &hops);
        pl.extend_from_slice(&udp(src, last, 7000, 7001, &payload));
        let p = ipv6(src, dst, 64, 0, 0, 43, &pl);
        let mut frames = Vec::new();
        let mut it = fragmenter
            .fragment(&p, s(1), s(2), &ctx, &CompressOptions::default(), 80)
            .unwrap();
        let mut buf = [0u8; 127];
        while let Some(n) = it.next_frame(&mut buf) {
            frames.push(data_frame(220, PAN, s(2), s(1), &buf[..n.unwrap()]));
        }
        cases.push(Case {
            name: "fragmented deep source route",
            frames,
            expect: Expect {
                src: src.into(),
                dst: dst.into(),
                hlim: 64,
                tc: 0,
                flow: 0,
                udp: Some((7000, 7001, payload)),
                icmp: false,
                elided: None,
            },
        });
    }
    cases
}

const FIELDS: &[&str] = &[
    "frame.number",
    "frame.protocols",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "ipv6.tclass",
    "ipv6.flow",
    "udp.srcport",
    "udp.dstport",
    "udp.payload",
    "udp.checksum.status",
    "udp.checksum_calculated",
    "icmpv6.checksum.status",
    "6lowpan.reassembled.in",
    "6lowpan.iphc.tf",
    "6lowpan.iphc.nh",
    "6lowpan.iphc.hlim",
    "6lowpan.iphc.cid",
    "6lowpan.iphc.sac",
    "6lowpan.iphc.sam",
    "6lowpan.iphc.m",
    "6lowpan.iphc.dac",
    "6lowpan.iphc.dam",
    "6lowpan.nhc.udp.checksum",
    "6lowpan.nhc.udp.ports",
    "6lowpan.nhc.ext.eid",
    "6lowpan.mesh.orig16",
    "6lowpan.mesh.orig64",
    "6lowpan.mesh.dest64",
    "6lowpan.mesh.hops8",
    "6lowpan.bcast.seqnum",
];

fn addrs(s: &str) -> Vec<std::net::Ipv6Addr> {
    s.split(',')
        .map(|a| a.parse().unwrap_or_else(|_| panic!("{a:?}")))
        .collect()
}

fn num(s: &str) -> u64 {
    let s = s.split(',').next().unwrap_or("");
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).unwrap()
    } else {
        s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
    }
}

#[test]
fn tshark_decodes_every_mode_and_reassembles() {
    let cases = build_cases();
    let frames: Vec<Vec<u8>> = cases.iter().flat_map(|c| c.frames.clone()).collect();
    let file = pcap::write("lowpan-interop", pcap::LINKTYPE_IEEE802_15_4_NOFCS, &frames);
    let rows = Tshark::read(&file)
        .two_pass()
        .pref("6lowpan.context0", "2001:db8::/64")
        .pref("6lowpan.context3", "2001:db8:3::/64")
        .pref("udp.check_checksum", "TRUE")
        .fields(FIELDS);
    assert_eq!(rows.len(), frames.len(), "tshark printed one row per frame");

    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut at = 0;
    for c in &cases {
        let last = &rows[at + c.frames.len() - 1];
        for r in &rows[at..at + c.frames.len()] {
            for f in FIELDS.iter().filter(|f| f.starts_with("6lowpan.")) {
                for v in r.col(f).split(',').filter(|v| !v.is_empty()) {
                    let v = if v.starts_with("0x") {
                        num(v).to_string()
                    } else {
                        v.to_string()
                    };
                    seen.insert((f.to_string(), v));
                }
            }
            // Address-mode combinations, one per IPHC header in the frame.
            let list = |f: &str| -> Vec<u64> {
                r.col(f)
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(num)
                    .collect()
            };
            let (sac, sam, m, dac, dam) = (
                list("6lowpan.iphc.sac"),
                list("6lowpan.iphc.sam"),
                list("6lowpan.iphc.m"),
                list("6lowpan.iphc.dac"),
                list("6lowpan.iphc.dam"),
            );
            for i in 0..sam.len() {
                seen.insert(("src".into(), format!("{}{}", sac[i], sam[i])));
                seen.insert(("dst".into(), format!("{}{}{}", m[i], dac[i], dam[i])));
            }
        }
        if c.frames.len() > 1 {
            // Every fragment points at the frame that completes the datagram.
            let done = (at + c.frames.len()).to_string();
            for r in &rows[at..at + c.frames.len() - 1] {
                assert_eq!(r.col("6lowpan.reassembled.in"), done, "{}: {r:?}", c.name);
            }
        }
        let x = &c.expect;
        assert_eq!(addrs(last.col("ipv6.src")), addrs(&x.src), "{}", c.name);
        assert_eq!(addrs(last.col("ipv6.dst")), addrs(&x.dst), "{}", c.name);
        assert_eq!(num(last.col("ipv6.hlim")), u64::from(x.hlim), "{}", c.name);
        assert_eq!(num(last.col("ipv6.tclass")), u64::from(x.tc), "{}", c.name);
        assert_eq!(num(last.col("ipv6.flow")), u64::from(x.flow), "{}", c.name);
        if let Some((sp, dp, payload)) = &x.udp {
            assert_eq!(num(last.col("udp.srcport")), u64::from(*sp), "{}", c.name);
            assert_eq!(num(last.col("udp.dstport")), u64::from(*dp), "{}", c.name);
            assert_eq!(last.col("udp.payload"), hex::encode(payload), "{}", c.name);
            match x.elided {
                None => assert_eq!(last.col("udp.checksum.status"), "1", "{}", c.name),
                Some(cks) => assert_eq!(
                    num(last.col("udp.checksum_calculated")),
                    u64::from(cks),
                    "{}",
                    c.name
                ),
            }
        }
        if x.icmp {
            assert_eq!(
                last.col("icmpv6.checksum.status"),
                "1",
                "{}: {last:?}",
                c.name
            );
        }
        at += c.frames.len();
    }

    // Coverage, as tshark itself parsed the headers.
    let has = |f: &str, v: &str| seen.contains(&(f.to_string(), v.to_string()));
    for v in ["0", "1", "2", "3"] {
        assert!(has("6lowpan.iphc.tf", v), "TF {v} missing: {seen:?}");
        assert!(has("6lowpan.iphc.hlim", v), "HLIM {v}");
        assert!(has("6lowpan.iphc.sam", v), "SAM {v}");
        assert!(has("6lowpan.iphc.dam", v), "DAM {v}");
        assert!(has("6lowpan.nhc.udp.ports", v), "UDP ports form {v}");
    }
    for f in ["cid", "sac", "m", "dac", "nh"] {
        for v in ["0", "1"] {
            assert!(
                has(&format!("6lowpan.iphc.{f}"), v),
                "{f}={v} missing: {seen:?}"
            );
        }
    }
    for v in ["0", "1"] {
        assert!(has("6lowpan.nhc.udp.checksum", v), "NHC UDP C={v}");
    }
    for eid in ["0", "1", "2", "3", "7"] {
        assert!(
            has("6lowpan.nhc.ext.eid", eid),
            "EID {eid} missing: {seen:?}"
        );
    }
    for v in ["00", "01", "02", "03", "10", "11", "12", "13"] {
        assert!(has("src", v), "SAC|SAM {v} missing");
    }
    for v in [
        "000", "001", "002", "003", "011", "012", "013", "100", "101", "102", "103", "110",
    ] {
        assert!(has("dst", v), "M|DAC|DAM {v} missing");
    }
    assert!(has("6lowpan.bcast.seqnum", "9"));
    assert!(has("6lowpan.mesh.orig16", "17"));
    let eui = |v: u64| v.to_string();
    assert!(
        has("6lowpan.mesh.orig64", &eui(0x0012_4b00_0000_0033)),
        "{seen:?}"
    );
    assert!(has("6lowpan.mesh.dest64", &eui(0x0012_4b00_0000_0044)));
    assert!(has("6lowpan.mesh.hops8", "32"));
}
