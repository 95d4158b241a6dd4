//! Proptest strategies for every Repr, and the four STYLE §6 properties for each.
//!
//! Borrowed byte fields are backed by leaked vectors: test-only and bounded by the case count.

use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv6Addr;
use proptest::collection::vec;
use proptest::prelude::*;

use crate::wire::*;

fn leak(v: Vec<u8>) -> &'static [u8] {
    v.leak()
}

pub fn addr() -> impl Strategy<Value = Ipv6Addr> + Clone {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

fn bytes(max: usize) -> impl Strategy<Value = &'static [u8]> {
    vec(any::<u8>(), 0..=max).prop_map(leak)
}

pub fn dodag_configuration() -> impl Strategy<Value = DodagConfiguration> {
    (
        any::<[bool; 2]>(),
        0u8..8,
        any::<[u8; 3]>(),
        any::<[u16; 3]>(),
        any::<u8>(),
        any::<u16>(),
    )
        .prop_map(|([t, a], pcs, b, w, dl, lu)| DodagConfiguration {
            rfc8138_compression: t,
            authentication: a,
            path_control_size: pcs,
            dio_interval_doublings: b[0],
            dio_interval_min: b[1],
            dio_redundancy_constant: b[2],
            max_rank_increase: w[0],
            min_hop_rank_increase: w[1],
            objective_code_point: w[2],
            default_lifetime: dl,
            lifetime_unit: lu,
        })
}

pub fn transit() -> impl Strategy<Value = TransitInformation> {
    (
        any::<[bool; 2]>(),
        any::<[u8; 3]>(),
        proptest::option::of(addr()),
    )
        .prop_map(|(f, b, p)| TransitInformation {
            external: f[0],
            invalidate: f[1],
            path_control: b[0],
            path_sequence: b[1],
            path_lifetime: b[2],
            parent_address: p,
        })
}

pub fn option() -> impl Strategy<Value = OptionRepr<'static>> {
    prop_oneof![
        Just(OptionRepr::Pad1),
        (0u8..8).prop_map(OptionRepr::PadN),
        bytes(24).prop_map(OptionRepr::DagMetricContainer),
        (0u8..=128, 0u8..4, any::<u32>(), bytes(16)).prop_map(|(l, p, t, x)| {
            OptionRepr::RouteInformation {
                prefix_length: l,
                preference: p,
                route_lifetime: t,
                prefix: x,
            }
        }),
        dodag_configuration().prop_map(OptionRepr::DodagConfiguration),
        (any::<u8>(), 0u8..=128, bytes(16)).prop_map(|(f, l, x)| OptionRepr::RplTarget {
            flags: f,
            prefix_length: l,
            prefix: x,
        }),
        transit().prop_map(OptionRepr::TransitInformation),
        (any::<u8>(), any::<[bool; 3]>(), addr(), any::<u8>()).prop_map(|(i, f, d, v)| {
            OptionRepr::SolicitedInformation {
                instance_id: i,
                version_predicate: f[0],
                instance_id_predicate: f[1],
                dodag_id_predicate: f[2],
                dodag_id: d,
                version: v,
            }
        }),
        (0u8..=128, any::<[bool; 3]>(), any::<[u32; 2]>(), addr()).prop_map(|(l, f, t, p)| {
            OptionRepr::PrefixInformation {
                prefix_length: l,
                on_link: f[0],
                autonomous: f[1],
                router_address: f[2],
                valid_lifetime: t[0],
                preferred_lifetime: t[1],
                prefix: p,
            }
        }),
        any::<u32>().prop_map(OptionRepr::RplTargetDescriptor),
        (10u8..=255, bytes(20)).prop_map(|(t, d)| OptionRepr::Unknown {
            option_type: t,
            data: d
        }),
    ]
}

pub fn options() -> impl Strategy<Value = Options<'static>> {
    vec(option(), 0..5).prop_map(|v| Options::List(v.leak()))
}

pub fn security() -> impl Strategy<Value = SecurityRepr> {
    (
        any::<bool>(),
        any::<u8>(),
        0u8..4,
        0u8..8,
        any::<u8>(),
        any::<u32>(),
        any::<[u8; 8]>(),
        any::<u8>(),
    )
        .prop_map(|(t, alg, kim, lvl, flags, counter, src, idx)| {
            let (key_source, key_index) = match kim {
                0 => (None, Some(idx)),
                1 => (None, None),
                2 => (Some(src), Some(idx)),
                _ if lvl == 1 || lvl == 3 => (Some(src), Some(idx)),
                _ => (None, None),
            };
            SecurityRepr {
                counter_is_time: t,
                algorithm: alg,
                kim,
                lvl,
                flags,
                counter,
                key_source,
                key_index,
            }
        })
}

pub fn message() -> impl Strategy<Value = MessageRepr<'static>> {
    prop_oneof![
        (any::<u8>(), options()).prop_map(|(f, o)| MessageRepr::Dis(DisRepr {
            flags: f,
            options: o
        })),
        (
            any::<[u8; 4]>(),
            any::<u16>(),
            any::<bool>(),
            0u8..8,
            0u8..8,
            addr(),
            options()
        )
            .prop_map(|(b, rank, g, mop, prf, id, o)| MessageRepr::Dio(DioRepr {
                instance_id: b[0],
                version: b[1],
                rank,
                grounded: g,
                mop: Mop::from(mop),
                dodag_preference: prf,
                dtsn: b[2],
                flags: b[3],
                dodag_id: id,
                options: o,
            })),
        (
            any::<u8>(),
            any::<bool>(),
            0u8..64,
            any::<u8>(),
            proptest::option::of(addr()),
            options()
        )
            .prop_map(|(i, k, f, s, d, o)| MessageRepr::Dao(DaoRepr {
                instance_id: i,
                expect_ack: k,
                flags: f,
                sequence: s,
                dodag_id: d,
                options: o,
            })),
        (any::<[u8; 3]>(), proptest::option::of(addr()), options()).prop_map(|(b, d, o)| {
            MessageRepr::DaoAck(DaoAckRepr {
                instance_id: b[0],
                sequence: b[1],
                status: b[2],
                dodag_id: d,
                options: o,
            })
        }),
        (
            any::<[u8; 3]>(),
            any::<bool>(),
            proptest::option::of(addr()),
            options()
        )
            .prop_map(|(b, k, d, o)| {
                MessageRepr::Dco(DcoRepr {
                    instance_id: b[0],
                    expect_ack: k,
                    status: b[1],
                    sequence: b[2],
                    dodag_id: d,
                    options: o,
                })
            }),
        (any::<[u8; 3]>(), proptest::option::of(addr()), options()).prop_map(|(b, d, o)| {
            MessageRepr::DcoAck(DcoAckRepr {
                instance_id: b[0],
                sequence: b[1],
                status: b[2],
                dodag_id: d,
                options: o,
            })
        }),
        (
            security(),
            any::<u8>(),
            any::<bool>(),
            any::<u16>(),
            addr(),
            any::<u32>(),
            bytes(24)
        )
            .prop_map(
                |(s, i, r, n, d, c, rest)| MessageRepr::ConsistencyCheck(CcRepr {
                    security: s,
                    instance_id: i,
                    is_response: r,
                    nonce: n,
                    dodag_id: d,
                    destination_counter: c,
                    rest,
                })
            ),
        (
            prop::sample::select(&[0x80u8, 0x81, 0x82, 0x83, 0x84, 0x85, 0x87, 0x88][..]),
            security(),
            bytes(40)
        )
            .prop_map(|(code, security, body)| MessageRepr::Secure {
                code,
                security,
                body
            }),
        (
            prop::sample::select(&[0x04u8, 0x05, 0x06, 0x09, 0x10, 0x7f][..]),
            bytes(30)
        )
            .prop_map(|(code, body)| MessageRepr::Unknown { code, body }),
    ]
}

pub fn hbh() -> impl Strategy<Value = HbhRepr> {
    (
        prop::sample::select(&[0x63u8, 0x23][..]),
        any::<[bool; 3]>(),
        any::<u8>(),
        any::<u16>(),
    )
        .prop_map(|(t, f, i, r)| HbhRepr {
            option_type: t,
            down: f[0],
            rank_error: f[1],
            forwarding_error: f[2],
            instance_id: i,
            sender_rank: r,
        })
}

/// A route (reference + hops) from a small set of prefixes, so compression varies.
pub fn route() -> impl Strategy<Value = (Ipv6Addr, Vec<Ipv6Addr>)> {
    let a = (0usize..3, any::<u64>()).prop_map(|(p, iid)| {
        let prefixes = [
            0xfd00_0000_0000_0000u128,
            0xfd00_0000_0001_0000,
            0x2001_0db8_0000_0000,
        ];
        Ipv6Addr::from((prefixes[p] << 64) | u128::from(iid % 4096))
    });
    (a.clone(), vec(a, 1..20))
}

mod props {
    use super::*;
    use crate::error::Error;

    proptest! {
        #[test]
        fn message_emit_parse_round_trip(repr in message()) {
            let mut buf = vec![0xa5u8; repr.buffer_len()];
            let n = repr.emit(&mut buf).unwrap();
            prop_assert_eq!(n, repr.buffer_len());
            let parsed = MessageRepr::parse_body(repr.code(), &buf).unwrap();
            prop_assert_eq!(parsed, repr);
        }

        #[test]
        fn message_arbitrary_bytes_never_panic(code in any::<u8>(), b in vec(any::<u8>(), 0..80)) {
            if let Ok(m) = Message::new_checked(code, &b[..]) {
                let _ = (m.instance_id(), m.rank(), m.dodag_id(), m.sequence(), m.status(), m.options());
                if let Ok(r) = MessageRepr::parse(&m) {
                    // Fixed point: parse → emit → parse.
                    let mut out = vec![0u8; r.buffer_len()];
                    prop_assert_eq!(r.emit(&mut out), Ok(out.len()));
                    let again = MessageRepr::parse_body(code, &out).unwrap();
                    prop_assert_eq!(again, r);
                    for o in r.option_list().iter() { let _ = o.unwrap().buffer_len(); }
                }
            }
        }

        #[test]
        fn option_round_trip(o in option()) {
            let mut buf = vec![0xa5u8; o.buffer_len()];
            prop_assert_eq!(o.emit(&mut buf), Ok(o.buffer_len()));
            let v = RplOption::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(v.total_len(), buf.len());
            prop_assert_eq!(OptionRepr::parse(&v).unwrap(), o);
        }

        #[test]
        fn option_arbitrary_bytes(b in vec(any::<u8>(), 0..40)) {
            if let Ok(opts) = Options::parse(&b) {
                let mut out = vec![0u8; opts.buffer_len()];
                opts.emit(&mut out).unwrap();
                let list: Vec<_> = opts.iter().map(|o| o.unwrap()).collect();
                let mut out2 = vec![0u8; Options::List(&list).buffer_len()];
                Options::List(&list).emit(&mut out2).unwrap();
                prop_assert_eq!(Options::parse(&out2).unwrap(), opts);
            }
        }

        #[test]
        fn hbh_round_trip(r in hbh()) {
            let mut buf = [0xa5u8; 6];
            prop_assert_eq!(r.emit(&mut buf), Ok(r.buffer_len()));
            prop_assert_eq!(HbhRepr::parse(&HbhOption::new_checked(&buf[..]).unwrap()), Ok(r));
            let mut hdr = [0u8; 8];
            r.emit_header(17, &mut hdr).unwrap();
            prop_assert_eq!(HbhRepr::find_in_header(&hdr), Ok(Some((r, 2))));
        }

        #[test]
        fn hbh_arbitrary_bytes(b in vec(any::<u8>(), 0..16)) {
            if let Ok(o) = HbhOption::new_checked(&b[..]) {
                if let Ok(r) = HbhRepr::parse(&o) {
                    let mut out = [0u8; 6];
                    r.emit(&mut out).unwrap();
                    prop_assert_eq!(HbhRepr::parse(&HbhOption::new_checked(&out[..]).unwrap()), Ok(r));
                }
            }
            let _ = HbhRepr::find_in_header(&b);
        }

        #[test]
        fn srh_route_round_trip((reference, hops) in route()) {
            let len = SrhRepr::route_len(&reference, &hops).unwrap();
            let mut buf = vec![0xa5u8; len];
            prop_assert_eq!(SrhRepr::emit_route(43, &reference, &hops, &mut buf), Ok(len));
            let s = Srh::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(s.address_count(), Some(hops.len()));
            for (i, h) in hops.iter().enumerate() {
                prop_assert_eq!(s.address(i + 1, &reference), Some(*h));
            }
            let repr = SrhRepr::parse(&s).unwrap();
            prop_assert_eq!(repr.buffer_len(), len);
            let mut out = vec![0xa5u8; len];
            prop_assert_eq!(repr.emit(&mut out), Ok(len));
            prop_assert_eq!(&out, &buf);
            // Processing hop by hop visits every address in order.
            let mut dst = reference;
            let mut v = Srh::new_unchecked(&mut buf[..]);
            for h in &hops {
                prop_assert_eq!(v.process(&mut dst), Ok(true));
                prop_assert_eq!(dst, *h);
            }
            prop_assert_eq!(v.process(&mut dst), Ok(false));
        }

        #[test]
        fn srh_arbitrary_bytes(b in vec(any::<u8>(), 0..64), reference in addr()) {
            if let Ok(s) = Srh::new_checked(&b[..]) {
                for i in 0..=s.address_count().unwrap_or(0) + 1 { let _ = s.address(i, &reference); }
                if let Ok(r) = SrhRepr::parse(&s) {
                    let mut out = vec![0u8; r.buffer_len()];
                    match r.emit(&mut out) {
                        Ok(_) => prop_assert_eq!(SrhRepr::parse(&Srh::new_checked(&out[..]).unwrap()), Ok(r)),
                        Err(e) => prop_assert_eq!(e, Error::BadLength),
                    }
                }
            }
            let mut m = b.clone();
            let mut d = reference;
            let _ = Srh::new_unchecked(&mut m[..]).process(&mut d);
        }
    }
}
