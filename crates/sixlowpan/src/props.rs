//! The four proptest properties of STYLE §6 for every Repr: (1) emit then parse gives the Repr
//! back; (2) `buffer_len` equals the bytes written; (3) arbitrary bytes never make the view or
//! `parse` panic; (4) bytes that parse are a fixed point of parse→emit→parse.

use crate::context::ContextTable;
use crate::test_gens::*;
use crate::wire::IpProtocol;
use crate::wire::ext::{ExtHeader, ExtHeaderRepr};
use crate::wire::icmpv6::{self, Icmpv6Repr, Icmpv6Type};
use crate::wire::iphc::{IphcPacket, IphcRepr};
use crate::wire::ipv6::{self, Ipv6Repr};
use crate::wire::lowpan::{Bc0Repr, FragHeader, FragRepr, MeshRepr};
use crate::wire::nhc::{ExtHeaderId, ExtNhcPacket, ExtNhcRepr, UdpNhcPacket, UdpNhcRepr};
use crate::wire::udp::{self, UdpRepr};
use amimesh_core::LinkAddr;
use core::net::Ipv6Addr;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..64)
}

fn ipv6_repr() -> impl Strategy<Value = Ipv6Repr> {
    (
        ipv6_addr(),
        ipv6_addr(),
        ip_protocol(),
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        0u32..0x100000,
    )
        .prop_map(|(s, d, nh, len, hl, tc, fl)| Ipv6Repr {
            src_addr: s,
            dst_addr: d,
            next_header: nh,
            payload_len: len,
            hop_limit: hl,
            traffic_class: tc,
            flow_label: fl,
        })
}

fn iphc_repr() -> impl Strategy<Value = IphcRepr> {
    (
        ipv6_addr(),
        ipv6_addr(),
        proptest::option::of(ip_protocol()),
        prop_oneof![Just(1u8), Just(64), Just(255), any::<u8>()],
        any::<u8>(),
        prop_oneof![Just(0u32), 0u32..0x100000],
    )
        .prop_map(|(s, d, nh, hl, tc, fl)| IphcRepr {
            src_addr: s,
            dst_addr: d,
            next_header: nh,
            hop_limit: hl,
            traffic_class: tc,
            flow_label: fl,
        })
}

fn frag_repr() -> impl Strategy<Value = FragRepr> {
    prop_oneof![
        (0u16..2048, any::<u16>()).prop_map(|(size, tag)| FragRepr::First { size, tag }),
        (0u16..2048, any::<u16>(), any::<u8>())
            .prop_map(|(size, tag, offset)| FragRepr::Subsequent { size, tag, offset }),
    ]
}

fn mesh_repr() -> impl Strategy<Value = MeshRepr> {
    (any::<u8>(), link_addr(), link_addr())
        .prop_filter("addresses present", |(_, o, f)| {
            *o != LinkAddr::Absent && *f != LinkAddr::Absent
        })
        .prop_map(|(hops_left, originator, final_dest)| MeshRepr {
            hops_left: hops_left.min(0xfe).max(u8::from(hops_left == 0xff)),
            originator,
            final_dest,
        })
}

fn udp_nhc_repr() -> impl Strategy<Value = UdpNhcRepr> {
    let port = || {
        prop_oneof![
            any::<u16>(),
            (0u16..256).prop_map(|p| 0xf000 | p),
            (0u16..16).prop_map(|p| 0xf0b0 | p)
        ]
    };
    (port(), port(), proptest::option::of(any::<u16>())).prop_map(|(s, d, c)| UdpNhcRepr {
        src_port: s,
        dst_port: d,
        checksum: c,
    })
}

fn ext_id() -> impl Strategy<Value = ExtHeaderId> {
    prop_oneof![
        Just(ExtHeaderId::HopByHop),
        Just(ExtHeaderId::Routing),
        Just(ExtHeaderId::Fragment),
        Just(ExtHeaderId::DestinationOptions),
        Just(ExtHeaderId::Mobility),
    ]
}

fn addr_pair() -> impl Strategy<Value = (Ipv6Addr, Ipv6Addr)> {
    (ipv6_addr(), ipv6_addr())
}

proptest! {
    // ---- Ipv6Repr
    #[test]
    fn ipv6_roundtrip(r in ipv6_repr()) {
        let mut buf = vec![0xa5u8; r.buffer_len()];
        r.emit(&mut buf).unwrap();
        prop_assert_eq!(Ipv6Repr::parse(&ipv6::Packet::new_checked(&buf[..]).unwrap()).unwrap(), r);
    }
    #[test]
    fn ipv6_len(r in ipv6_repr()) {
        let mut buf = vec![0xa5u8; 64];
        r.emit(&mut buf).unwrap();
        prop_assert!(buf[r.buffer_len()..].iter().all(|b| *b == 0xa5));
    }
    #[test]
    fn ipv6_no_panic_and_fixed_point(b in proptest::collection::vec(any::<u8>(), 0..60)) {
        if let Ok(p) = ipv6::Packet::new_checked(&b[..]) {
            let _ = (p.payload(), p.flow_label(), p.src_addr());
            if let Ok(r) = Ipv6Repr::parse(&p) {
                let mut out = vec![0u8; 40];
                r.emit(&mut out).unwrap();
                prop_assert_eq!(&out[..], &b[..40]);
            }
        }
    }

    // ---- UdpRepr
    #[test]
    fn udp_roundtrip_len_fixed_point(r in any::<(u16, u16)>(), payload in bytes(), (s, d) in addr_pair()) {
        let r = UdpRepr { src_port: r.0, dst_port: r.1 };
        let mut buf = vec![0xa5u8; r.buffer_len(payload.len()) + 4];
        let n = r.emit(&mut buf, &s, &d, &payload).unwrap();
        prop_assert_eq!(n, r.buffer_len(payload.len()));
        prop_assert!(buf[n..].iter().all(|b| *b == 0xa5));
        let p = udp::Packet::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(UdpRepr::parse(&p, &s, &d).unwrap(), r);
        prop_assert_eq!(p.payload(), &payload[..]);
    }
    #[test]
    fn udp_no_panic(b in bytes(), (s, d) in addr_pair()) {
        if let Ok(p) = udp::Packet::new_checked(&b[..]) {
            let _ = p.payload();
            if let Ok(r) = UdpRepr::parse(&p, &s, &d) {
                let mut out = vec![0u8; b.len()];
                let n = r.emit(&mut out, &s, &d, p.payload()).unwrap();
                prop_assert_eq!(&out[..n], &b[..n]);
            }
        }
    }

    // ---- Icmpv6Repr
    #[test]
    fn icmpv6_roundtrip_len(t in any::<u8>(), code in any::<u8>(), body in bytes(), (s, d) in addr_pair()) {
        let r = Icmpv6Repr { msg_type: Icmpv6Type::from(t), code, body: &body };
        let mut buf = vec![0xa5u8; r.buffer_len() + 4];
        let n = r.emit(&mut buf, &s, &d).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        prop_assert!(buf[n..].iter().all(|b| *b == 0xa5));
        let p = icmpv6::Packet::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(Icmpv6Repr::parse(&p, &s, &d).unwrap(), r);
    }
    #[test]
    fn icmpv6_no_panic_fixed_point(b in bytes(), (s, d) in addr_pair()) {
        if let Ok(p) = icmpv6::Packet::new_checked(&b[..]) {
            if let Ok(r) = Icmpv6Repr::parse(&p, &s, &d) {
                let mut out = vec![0u8; b.len()];
                r.emit(&mut out, &s, &d).unwrap();
                prop_assert_eq!(out, b);
            }
        }
    }

    // ---- ExtHeaderRepr
    #[test]
    fn ext_roundtrip(kind in prop_oneof![Just(IpProtocol::HopByHop), Just(IpProtocol::Ipv6Route), Just(IpProtocol::Ipv6Opts), Just(IpProtocol::Ipv6Frag)], nh in ip_protocol(), units in 0usize..4, fill in any::<u8>()) {
        let len = if kind == IpProtocol::Ipv6Frag { 6 } else { 8 * (units + 1) - 2 };
        let data = vec![fill; len];
        let r = ExtHeaderRepr { kind, next_header: nh, data: &data };
        let mut buf = vec![0xa5u8; r.buffer_len() + 3];
        let n = r.emit(&mut buf).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        prop_assert!(buf[n..].iter().all(|b| *b == 0xa5));
        let h = ExtHeader::new_checked(&buf[..n], kind).unwrap();
        prop_assert_eq!(ExtHeaderRepr::parse(&h).unwrap(), r);
    }
    #[test]
    fn ext_no_panic_fixed_point(b in bytes(), kind in ip_protocol()) {
        if let Ok(h) = ExtHeader::new_checked(&b[..], kind) {
            let _ = h.options().count();
            if let Ok(r) = ExtHeaderRepr::parse(&h) {
                let mut out = vec![0u8; r.buffer_len()];
                if r.emit(&mut out).is_ok() {
                    prop_assert_eq!(&out[..], h.bytes());
                }
            }
        }
    }

    // ---- FragRepr
    #[test]
    fn frag_roundtrip_len(r in frag_repr()) {
        let mut buf = vec![0xa5u8; 8];
        let n = r.emit(&mut buf).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        prop_assert!(buf[n..].iter().all(|b| *b == 0xa5));
        prop_assert_eq!(FragRepr::parse(&FragHeader::new_checked(&buf[..]).unwrap()).unwrap(), r);
    }
    #[test]
    fn frag_no_panic_fixed_point(b in bytes()) {
        if let Ok(h) = FragHeader::new_checked(&b[..]) {
            let _ = h.payload();
            if let Ok(r) = FragRepr::parse(&h) {
                let mut out = vec![0u8; r.buffer_len()];
                r.emit(&mut out).unwrap();
                prop_assert_eq!(FragRepr::parse(&FragHeader::new_checked(&out[..]).unwrap()).unwrap(), r);
            }
        }
    }

    // ---- MeshRepr and Bc0Repr
    #[test]
    fn mesh_roundtrip_len(r in mesh_repr()) {
        let mut buf = vec![0xa5u8; 24];
        let n = r.emit(&mut buf).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        prop_assert!(buf[n..].iter().all(|b| *b == 0xa5));
        prop_assert_eq!(MeshRepr::parse(&buf).unwrap(), (r, n));
    }
    #[test]
    fn mesh_bc0_no_panic_fixed_point(b in bytes()) {
        // A deep hops-left byte below 15 re-emits in the short form: the Repr is the fixed point.
        if let Ok((r, _)) = MeshRepr::parse(&b) {
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut out).unwrap();
            prop_assert_eq!(MeshRepr::parse(&out).unwrap(), (r, r.buffer_len()));
        }
        if let Ok(r) = Bc0Repr::parse(&b) {
            let mut out = [0u8; 2];
            prop_assert_eq!(r.emit(&mut out).unwrap(), r.buffer_len());
            prop_assert_eq!(&out[..], &b[..2]);
        }
    }

    // ---- IphcRepr
    #[test]
    fn iphc_roundtrip_len(r in iphc_repr(), s in link_addr(), d in link_addr(), ctx in contexts()) {
        let (si, di) = (s.to_iid(), d.to_iid());
        let mut buf = vec![0xa5u8; 64];
        let n = r.emit(&mut buf, si, di, &ctx).unwrap();
        prop_assert_eq!(n, r.buffer_len(si, di, &ctx));
        prop_assert!(buf[n..].iter().all(|b| *b == 0xa5));
        let p = IphcPacket::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(p.header_len(), n);
        prop_assert_eq!(IphcRepr::parse(&p, si, di, &ctx).unwrap(), r);
    }
    #[test]
    fn iphc_no_panic_fixed_point(b in bytes(), s in link_addr(), d in link_addr(), ctx in contexts()) {
        let (si, di) = (s.to_iid(), d.to_iid());
        if let Ok(p) = IphcPacket::new_checked(&b[..]) {
            let _ = (p.src_inline(), p.dst_inline(), p.payload(), p.flow_label(), p.sci());
            if let Ok(r) = IphcRepr::parse(&p, si, di, &ctx) {
                let mut out = vec![0u8; 64];
                let n = r.emit(&mut out, si, di, &ctx).unwrap();
                let q = IphcPacket::new_checked(&out[..n]).unwrap();
                prop_assert_eq!(IphcRepr::parse(&q, si, di, &ctx).unwrap(), r);
            }
        }
    }

    // ---- NHC reprs
    #[test]
    fn udp_nhc_roundtrip_len(r in udp_nhc_repr()) {
        let mut buf = vec![0xa5u8; 12];
        let n = r.emit(&mut buf).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        prop_assert!(buf[n..].iter().all(|b| *b == 0xa5));
        prop_assert_eq!(UdpNhcRepr::parse(&UdpNhcPacket::new_checked(&buf[..n]).unwrap()).unwrap(), r);
    }
    #[test]
    fn ext_nhc_roundtrip_len(id in ext_id(), nh in proptest::option::of(ip_protocol()), data in bytes()) {
        let r = ExtNhcRepr { header_id: id, next_header: nh, data: &data };
        let mut buf = vec![0xa5u8; r.buffer_len() + 2];
        let n = r.emit(&mut buf).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        prop_assert!(buf[n..].iter().all(|b| *b == 0xa5));
        prop_assert_eq!(ExtNhcRepr::parse(&ExtNhcPacket::new_checked(&buf[..n]).unwrap()).unwrap(), r);
    }
    #[test]
    fn nhc_no_panic_fixed_point(b in bytes()) {
        if let Ok(p) = UdpNhcPacket::new_checked(&b[..]) {
            let r = UdpNhcRepr::parse(&p).unwrap();
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut out).unwrap();
            prop_assert_eq!(UdpNhcRepr::parse(&UdpNhcPacket::new_checked(&out[..]).unwrap()).unwrap(), r);
        }
        if let Ok(p) = ExtNhcPacket::new_checked(&b[..]) {
            let _ = p.payload();
            let r = ExtNhcRepr::parse(&p).unwrap();
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut out).unwrap();
            prop_assert_eq!(&out[..], &b[..r.buffer_len()]);
        }
    }
}

#[test]
fn empty_context_table_is_stateless() {
    let r = IphcRepr {
        src_addr: "2001:db8::1".parse().unwrap(),
        dst_addr: "2001:db8::2".parse().unwrap(),
        next_header: Some(IpProtocol::Udp),
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    };
    assert_eq!(
        r.buffer_len(None, None, &ContextTable::new()),
        2 + 1 + 16 + 16
    );
}
