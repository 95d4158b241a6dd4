//! Fixture tests (deconstruct / construct / parse / emit) and error cases for the wire types.

use core::net::Ipv6Addr;

use super::*;
use crate::error::Error;
use alloc::vec;
use alloc::vec::Vec;

const DIS: &[u8] = include_bytes!("../../testdata/dis.bin");
const DIO: &[u8] = include_bytes!("../../testdata/dio.bin");
const DIO_MISC: &[u8] = include_bytes!("../../testdata/dio_misc.bin");
const DAO: &[u8] = include_bytes!("../../testdata/dao.bin");
const DAO_ACK: &[u8] = include_bytes!("../../testdata/dao_ack.bin");
const DCO: &[u8] = include_bytes!("../../testdata/dco.bin");
const DCO_ACK: &[u8] = include_bytes!("../../testdata/dco_ack.bin");
const CC: &[u8] = include_bytes!("../../testdata/cc.bin");
const HBH: &[u8] = include_bytes!("../../testdata/hbh_rpl.bin");
const SRH: &[u8] = include_bytes!("../../testdata/srh.bin");

const ROOT: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const NODE: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

fn config() -> DodagConfiguration {
    DodagConfiguration {
        rfc8138_compression: false,
        authentication: false,
        path_control_size: 0,
        dio_interval_doublings: 8,
        dio_interval_min: 12,
        dio_redundancy_constant: 10,
        max_rank_increase: 1792,
        min_hop_rank_increase: 256,
        objective_code_point: 1,
        default_lifetime: 30,
        lifetime_unit: 60,
    }
}

fn pio() -> OptionRepr<'static> {
    OptionRepr::PrefixInformation {
        prefix_length: 64,
        on_link: false,
        autonomous: true,
        router_address: true,
        valid_lifetime: 86_400,
        preferred_lifetime: 14_400,
        prefix: ROOT,
    }
}

const NODE_OCTETS: [u8; 16] = NODE.octets();

fn target() -> OptionRepr<'static> {
    OptionRepr::RplTarget {
        flags: 0,
        prefix_length: 128,
        prefix: &NODE_OCTETS,
    }
}

fn emit_checked(repr: &MessageRepr<'_>, expected: &[u8]) {
    let mut buf = vec![0xa5u8; repr.buffer_len()];
    assert_eq!(repr.buffer_len(), expected.len());
    assert_eq!(repr.emit(&mut buf), Ok(expected.len()));
    assert_eq!(&buf[..], expected);
    // Too small a buffer is refused.
    let mut small = vec![0u8; expected.len() - 1];
    assert_eq!(
        repr.emit(&mut small),
        Err(Error::BufferTooSmall {
            required: expected.len()
        })
    );
}

// ---------------------------------------------------------------- DIS

#[test]
fn dis_deconstruct() {
    let m = Message::new_checked(code::DIS, DIS).unwrap();
    assert_eq!(m.flags_byte(), 0);
    let opts: Vec<_> = OptionsIter::new(m.options()).collect();
    assert_eq!(opts.len(), 1);
    match opts[0].unwrap() {
        OptionRepr::SolicitedInformation {
            instance_id,
            version_predicate,
            instance_id_predicate,
            dodag_id_predicate,
            dodag_id,
            version,
        } => {
            assert_eq!(instance_id, 30);
            assert!(version_predicate && instance_id_predicate && dodag_id_predicate);
            assert_eq!(dodag_id, ROOT);
            assert_eq!(version, 240);
        }
        other => panic!("{other:?}"),
    }
}

fn dis_repr_opts() -> [OptionRepr<'static>; 1] {
    [OptionRepr::SolicitedInformation {
        instance_id: 30,
        version_predicate: true,
        instance_id_predicate: true,
        dodag_id_predicate: true,
        dodag_id: ROOT,
        version: 240,
    }]
}

#[test]
fn dis_construct_parse_emit() {
    let opts = dis_repr_opts();
    let repr = MessageRepr::Dis(DisRepr {
        flags: 0,
        options: Options::List(&opts),
    });
    // construct with setters
    let mut buf = vec![0xa5u8; DIS.len()];
    let mut m = Message::new_unchecked(code::DIS, &mut buf[..]);
    m.set_flags_byte(0);
    m.clear_reserved();
    Options::List(&opts).emit(&mut buf[2..]).unwrap();
    assert_eq!(&buf[..], DIS);
    // parse
    assert_eq!(MessageRepr::parse_body(code::DIS, DIS).unwrap(), repr);
    // emit
    emit_checked(&repr, DIS);
}

// ---------------------------------------------------------------- DIO

fn dio_opts() -> [OptionRepr<'static>; 2] {
    [OptionRepr::DodagConfiguration(config()), pio()]
}

fn dio_repr<'a>(opts: &'a [OptionRepr<'a>]) -> MessageRepr<'a> {
    MessageRepr::Dio(DioRepr {
        instance_id: 30,
        version: 240,
        rank: 256,
        grounded: true,
        mop: Mop::NonStoring,
        dodag_preference: 0,
        dtsn: 240,
        flags: 0,
        dodag_id: ROOT,
        options: Options::List(opts),
    })
}

#[test]
fn dio_deconstruct() {
    let m = Message::new_checked(code::DIO, DIO).unwrap();
    assert_eq!(m.instance_id(), 30);
    assert_eq!(m.version(), 240);
    assert_eq!(m.rank(), 256);
    assert!(m.grounded());
    assert_eq!(m.mop(), Mop::NonStoring);
    assert_eq!(m.dodag_preference(), 0);
    assert_eq!(m.dtsn(), 240);
    assert_eq!(m.dodag_id(), Some(ROOT));
    assert_eq!(m.options().len(), 16 + 32);
}

#[test]
fn dio_construct() {
    let mut buf = vec![0xa5u8; DIO.len()];
    let mut m = Message::new_unchecked(code::DIO, &mut buf[..]);
    m.set_instance_id(30);
    m.set_version(240);
    m.set_rank(256);
    m.set_dio_mode(true, Mop::NonStoring, 0);
    m.set_dtsn(240);
    m.set_flags_byte(0);
    m.clear_reserved();
    m.set_dodag_id(&ROOT);
    Options::List(&dio_opts()).emit(&mut buf[24..]).unwrap();
    assert_eq!(&buf[..], DIO);
}

#[test]
fn dio_parse_emit() {
    let opts = dio_opts();
    let repr = dio_repr(&opts);
    assert_eq!(MessageRepr::parse_body(code::DIO, DIO).unwrap(), repr);
    emit_checked(&repr, DIO);
}

#[test]
fn dio_misc_options_round_trip() {
    let repr = MessageRepr::parse_body(code::DIO, DIO_MISC).unwrap();
    let MessageRepr::Dio(d) = repr else { panic!() };
    assert_eq!(d.mop, Mop::StoringMulticast);
    assert!(!d.grounded);
    let opts: Vec<_> = d.options.iter().map(|o| o.unwrap()).collect();
    assert_eq!(opts.len(), 6);
    let OptionRepr::DagMetricContainer(mc) = opts[0] else {
        panic!()
    };
    let objs: Vec<_> = MetricObjects::new(mc).map(|o| o.unwrap()).collect();
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0].mc_type, options::metric_type::ETX);
    assert_eq!(objs[0].body, &[0x00, 0xc0]);
    assert_eq!(
        opts[1],
        OptionRepr::RouteInformation {
            prefix_length: 48,
            preference: 1,
            route_lifetime: 3600,
            prefix: &[0xfd, 0, 0, 1, 0, 0, 0, 0],
        }
    );
    assert_eq!(opts[2], OptionRepr::RplTargetDescriptor(0xdead_beef));
    assert_eq!(
        opts[3],
        OptionRepr::Unknown {
            option_type: 0x0b,
            data: &[1, 2, 3]
        }
    );
    assert_eq!(opts[4], OptionRepr::Pad1);
    assert_eq!(opts[5], OptionRepr::PadN(1));
    // Re-emitting from the list form gives the same bytes (unknown option included).
    let list = MessageRepr::Dio(DioRepr {
        options: Options::List(&opts),
        ..d
    });
    emit_checked(&list, DIO_MISC);
}

// ---------------------------------------------------------------- DAO / DAO-ACK / DCO / DCO-ACK

fn dao_opts() -> [OptionRepr<'static>; 2] {
    [
        target(),
        OptionRepr::TransitInformation(TransitInformation {
            external: false,
            invalidate: false,
            path_control: 0,
            path_sequence: 241,
            path_lifetime: 30,
            parent_address: Some(ROOT),
        }),
    ]
}

#[test]
fn dao_deconstruct_construct() {
    let m = Message::new_checked(code::DAO, DAO).unwrap();
    assert_eq!(m.instance_id(), 30);
    assert!(m.expect_ack());
    assert!(m.dodag_id_present());
    assert_eq!(m.sequence(), 241);
    assert_eq!(m.dodag_id(), Some(ROOT));
    assert_eq!(m.base_len(), 20);

    let mut buf = vec![0xa5u8; DAO.len()];
    let mut m = Message::new_unchecked(code::DAO, &mut buf[..]);
    m.set_instance_id(30);
    m.set_flags_byte(0xc0);
    m.clear_reserved();
    m.set_sequence(241);
    m.set_dodag_id(&ROOT);
    Options::List(&dao_opts()).emit(&mut buf[20..]).unwrap();
    assert_eq!(&buf[..], DAO);
}

#[test]
fn dao_parse_emit() {
    let opts = dao_opts();
    let repr = MessageRepr::Dao(DaoRepr {
        instance_id: 30,
        expect_ack: true,
        flags: 0,
        sequence: 241,
        dodag_id: Some(ROOT),
        options: Options::List(&opts),
    });
    let parsed = MessageRepr::parse_body(code::DAO, DAO).unwrap();
    assert_eq!(parsed, repr);
    let MessageRepr::Dao(d) = parsed else {
        panic!()
    };
    assert_eq!(
        d.options
            .find(OptionType::RplTarget)
            .unwrap()
            .target_address(),
        Some(NODE)
    );
    emit_checked(&repr, DAO);
}

#[test]
fn dao_ack_four_tests() {
    let m = Message::new_checked(code::DAO_ACK, DAO_ACK).unwrap();
    assert_eq!((m.instance_id(), m.sequence(), m.status()), (30, 241, 0));
    assert_eq!(m.dodag_id(), Some(ROOT));
    let mut buf = vec![0xa5u8; DAO_ACK.len()];
    let mut v = Message::new_unchecked(code::DAO_ACK, &mut buf[..]);
    v.set_instance_id(30);
    v.set_flags_byte(0x80);
    v.set_sequence(241);
    v.set_status(0);
    v.set_dodag_id(&ROOT);
    assert_eq!(&buf[..], DAO_ACK);
    let repr = MessageRepr::DaoAck(DaoAckRepr {
        instance_id: 30,
        sequence: 241,
        status: 0,
        dodag_id: Some(ROOT),
        options: Options::EMPTY,
    });
    assert_eq!(
        MessageRepr::parse_body(code::DAO_ACK, DAO_ACK).unwrap(),
        repr
    );
    emit_checked(&repr, DAO_ACK);
}

#[test]
fn dco_four_tests() {
    let m = Message::new_checked(code::DCO, DCO).unwrap();
    assert!(m.expect_ack());
    assert_eq!((m.status(), m.sequence()), (0, 242));
    let opts = [
        target(),
        OptionRepr::TransitInformation(TransitInformation {
            external: false,
            invalidate: false,
            path_control: 0,
            path_sequence: 242,
            path_lifetime: 0,
            parent_address: None,
        }),
    ];
    let mut buf = vec![0xa5u8; DCO.len()];
    let mut v = Message::new_unchecked(code::DCO, &mut buf[..]);
    v.set_instance_id(30);
    v.set_flags_byte(0xc0);
    v.set_status(0);
    v.set_sequence(242);
    v.set_dodag_id(&ROOT);
    Options::List(&opts).emit(&mut buf[20..]).unwrap();
    assert_eq!(&buf[..], DCO);
    let repr = MessageRepr::Dco(DcoRepr {
        instance_id: 30,
        expect_ack: true,
        status: 0,
        sequence: 242,
        dodag_id: Some(ROOT),
        options: Options::List(&opts),
    });
    assert_eq!(MessageRepr::parse_body(code::DCO, DCO).unwrap(), repr);
    emit_checked(&repr, DCO);
}

#[test]
fn dco_ack_four_tests() {
    let m = Message::new_checked(code::DCO_ACK, DCO_ACK).unwrap();
    assert_eq!((m.sequence(), m.status()), (242, 0));
    let mut buf = vec![0xa5u8; DCO_ACK.len()];
    let mut v = Message::new_unchecked(code::DCO_ACK, &mut buf[..]);
    v.set_instance_id(30);
    v.set_flags_byte(0x80);
    v.set_sequence(242);
    v.set_status(0);
    v.set_dodag_id(&ROOT);
    assert_eq!(&buf[..], DCO_ACK);
    let repr = MessageRepr::DcoAck(DcoAckRepr {
        instance_id: 30,
        sequence: 242,
        status: 0,
        dodag_id: Some(ROOT),
        options: Options::EMPTY,
    });
    assert_eq!(
        MessageRepr::parse_body(code::DCO_ACK, DCO_ACK).unwrap(),
        repr
    );
    emit_checked(&repr, DCO_ACK);
}

#[test]
fn cc_parse_emit() {
    let m = Message::new_checked(code::CC, CC).unwrap();
    assert!(m.is_secure());
    assert_eq!(m.security_len(), 9);
    assert_eq!(m.instance_id(), 30);
    assert_eq!(m.cc_nonce(), 0x1234);
    assert_eq!(m.cc_destination_counter(), 99);
    let repr = MessageRepr::ConsistencyCheck(CcRepr {
        security: SecurityRepr {
            counter_is_time: false,
            algorithm: 0,
            kim: 0,
            lvl: 0,
            flags: 0,
            counter: 7,
            key_source: None,
            key_index: Some(5),
        },
        instance_id: 30,
        is_response: true,
        nonce: 0x1234,
        dodag_id: ROOT,
        destination_counter: 99,
        rest: &[0, 0, 0, 0],
    });
    assert_eq!(MessageRepr::parse_body(code::CC, CC).unwrap(), repr);
    emit_checked(&repr, CC);
}

#[test]
fn secure_dio_round_trips_unverified() {
    // KIM 2 (key source + index), LVL 1: 8 + 9 bytes of security section, then opaque bytes.
    let mut body = vec![0x80, 0x00, 0x81, 0x00, 0, 0, 1, 0];
    body.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    body.extend_from_slice(&[0xaa; 10]);
    let r = MessageRepr::parse_body(0x81, &body).unwrap();
    let MessageRepr::Secure {
        code,
        security,
        body: rest,
    } = r
    else {
        panic!()
    };
    assert_eq!(code, 0x81);
    assert!(security.counter_is_time);
    assert_eq!((security.kim, security.lvl, security.counter), (2, 1, 256));
    assert_eq!(security.key_source, Some([1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(security.key_index, Some(9));
    assert_eq!(rest, &[0xaa; 10]);
    emit_checked(&r, &body);
    // Truncated inside the key identifier.
    assert_eq!(
        MessageRepr::parse_body(0x81, &body[..12]),
        Err(Error::Truncated {
            needed: 17,
            got: 12
        })
    );
}

#[test]
fn unknown_code_round_trips() {
    let body = [1u8, 2, 3];
    let r = MessageRepr::parse_body(0x04, &body).unwrap();
    assert_eq!(
        r,
        MessageRepr::Unknown {
            code: 4,
            body: &body
        }
    );
    emit_checked(&r, &body);
}

// ---------------------------------------------------------------- errors

#[test]
fn every_truncation_is_an_error() {
    for (c, f) in [
        (code::DIS, DIS),
        (code::DIO, DIO),
        (code::DIO, DIO_MISC),
        (code::DAO, DAO),
        (code::DAO_ACK, DAO_ACK),
        (code::DCO, DCO),
        (code::DCO_ACK, DCO_ACK),
        (code::CC, CC),
    ] {
        // Cuts that end exactly after the base object or after a whole option are valid
        // shorter messages; every other cut must fail.
        let m = Message::new_checked(c, f).unwrap();
        let mut boundaries = vec![f.len() - m.options().len()];
        let mut rest = m.options();
        while let Ok(o) = RplOption::new_checked(rest) {
            rest = &rest[o.total_len()..];
            boundaries.push(f.len() - rest.len());
        }
        for n in 0..f.len() {
            let r = MessageRepr::parse_body(c, &f[..n]);
            // CC keeps its trailing bytes raw, so only cuts into the base object fail.
            if (c == code::CC && n >= 9 + 24) || boundaries.contains(&n) {
                assert!(r.is_ok(), "code {c} cut at {n}: {r:?}");
                continue;
            }
            assert!(
                matches!(r, Err(Error::Truncated { .. }) | Err(Error::BadLength)),
                "code {c} cut at {n}: {r:?}"
            );
        }
    }
}

#[test]
fn option_errors() {
    // Wrong fixed lengths.
    let bad_cfg = [0x04u8, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(Options::parse(&bad_cfg), Err(Error::BadLength));
    let bad_transit = [0x06u8, 5, 0, 0, 0, 0, 0];
    assert_eq!(Options::parse(&bad_transit), Err(Error::BadLength));
    let long_target = [&[0x05u8, 19, 0, 128][..], &[0u8; 17]].concat();
    assert_eq!(Options::parse(&long_target), Err(Error::BadLength));
    let short_rio = [0x03u8, 5, 0, 0, 0, 0, 0];
    assert_eq!(Options::parse(&short_rio), Err(Error::BadLength));
    let bad_plen = [0x05u8, 2, 0, 129];
    assert_eq!(
        Options::parse(&bad_plen),
        Err(Error::Malformed("target prefix length > 128"))
    );
    let bad_rio_plen = [0x03u8, 6, 200, 0, 0, 0, 0, 0];
    assert!(matches!(
        Options::parse(&bad_rio_plen),
        Err(Error::Malformed(_))
    ));
    let mut bad_pio = [0u8; 32];
    bad_pio[0] = 8;
    bad_pio[1] = 30;
    bad_pio[2] = 129;
    assert!(matches!(Options::parse(&bad_pio), Err(Error::Malformed(_))));
    for (t, l) in [(7u8, 18u8), (8, 29), (9, 3)] {
        let mut v = vec![t, l];
        v.resize(2 + usize::from(l), 0);
        assert_eq!(Options::parse(&v), Err(Error::BadLength), "type {t}");
    }
    // Truncated TLV header / data.
    assert_eq!(
        Options::parse(&[0x01]),
        Err(Error::Truncated { needed: 2, got: 1 })
    );
    assert_eq!(
        Options::parse(&[0x01, 3, 0]),
        Err(Error::Truncated { needed: 5, got: 3 })
    );
    // The iterator stops after the first error.
    let mut it = OptionsIter::new(&[0x00, 0x01, 9]);
    assert_eq!(it.next(), Some(Ok(OptionRepr::Pad1)));
    assert!(matches!(it.next(), Some(Err(_))));
    assert_eq!(it.next(), None);
    // A message with bad options fails to parse.
    let mut dis = DIS.to_vec();
    dis[3] = 18;
    assert!(MessageRepr::parse_body(code::DIS, &dis).is_err());
    // Metric object truncation.
    let mut mo = MetricObjects::new(&[7, 0, 0, 2, 0]);
    assert!(matches!(mo.next(), Some(Err(Error::Truncated { .. }))));
    assert_eq!(mo.next(), None);
    // Option emit into too small a buffer.
    let mut b = [0u8; 3];
    assert_eq!(
        OptionRepr::RplTargetDescriptor(1).emit(&mut b),
        Err(Error::BufferTooSmall { required: 6 })
    );
    assert_eq!(
        Options::List(&[OptionRepr::PadN(2)]).emit(&mut b),
        Err(Error::BufferTooSmall { required: 4 })
    );
}

// ---------------------------------------------------------------- HBH

#[test]
fn hbh_four_tests() {
    let o = HbhOption::new_checked(HBH).unwrap();
    assert_eq!(o.option_type(), 0x63);
    assert!(!o.down() && !o.rank_error() && !o.forwarding_error());
    assert_eq!(o.instance_id(), 0x1e);
    assert_eq!(o.sender_rank(), 0x0300);

    let mut buf = [0xa5u8; 6];
    let mut v = HbhOption::new_unchecked(&mut buf[..]);
    v.set_option_type(0x63);
    v.set_data_len(4);
    v.set_down(false);
    v.set_rank_error(false);
    v.set_forwarding_error(false);
    v.set_instance_id(0x1e);
    v.set_sender_rank(0x0300);
    // The 5 reserved flag bits are not set by setters; emit clears them.
    buf[2] &= 0xe0;
    assert_eq!(&buf[..], HBH);

    let repr = HbhRepr {
        option_type: 0x63,
        down: false,
        rank_error: false,
        forwarding_error: false,
        instance_id: 0x1e,
        sender_rank: 0x0300,
    };
    assert_eq!(HbhRepr::parse(&o).unwrap(), repr);
    let mut out = [0xa5u8; 6];
    assert_eq!(repr.emit(&mut out), Ok(6));
    assert_eq!(&out[..], HBH);

    // Whole header, found again; RFC 9008 type accepted.
    let r2 = HbhRepr {
        option_type: hbh::OPTION_TYPE_RFC9008,
        down: true,
        rank_error: true,
        forwarding_error: true,
        ..repr
    };
    let mut hdr = [0xa5u8; 8];
    assert_eq!(r2.emit_header(58, &mut hdr), Ok(8));
    assert_eq!(hdr, [58, 0, 0x23, 4, 0xe0, 0x1e, 0x03, 0x00]);
    assert_eq!(HbhRepr::find_in_header(&hdr), Ok(Some((r2, 2))));
    // A header with Pad1/PadN and another option before ours.
    let hdr2 = [
        17u8, 1, 0x00, 0x01, 0x00, 0x05, 0x02, 0, 0, 0x63, 4, 0x80, 1, 0, 9, 0x00,
    ];
    let (found, at) = HbhRepr::find_in_header(&hdr2).unwrap().unwrap();
    assert_eq!(at, 9);
    assert!(found.down);
    assert_eq!(found.sender_rank, 9);
    assert_eq!(HbhRepr::find_in_header(&[6, 0, 1, 4, 0, 0, 0, 0]), Ok(None));
    // Errors.
    assert_eq!(
        HbhOption::new_checked(&HBH[..5]).unwrap_err(),
        Error::Truncated { needed: 6, got: 5 }
    );
    assert_eq!(
        HbhOption::new_checked(&[0x63u8, 3, 0, 0, 0][..]).unwrap_err(),
        Error::BadLength
    );
    let wrong = HbhOption::new_unchecked(&[0x64u8, 4, 0, 0, 0, 0][..]);
    assert!(matches!(HbhRepr::parse(&wrong), Err(Error::Malformed(_))));
    assert_eq!(
        HbhRepr::find_in_header(&[6, 0, 0x63, 9, 0, 0, 0, 0]),
        Err(Error::BadLength)
    );
    assert_eq!(
        repr.emit(&mut [0u8; 5]),
        Err(Error::BufferTooSmall { required: 6 })
    );
}

// ---------------------------------------------------------------- SRH

#[test]
fn srh_four_tests() {
    let s = Srh::new_checked(SRH).unwrap();
    assert_eq!(s.next_header(), 58);
    assert_eq!(s.hdr_ext_len(), 3);
    assert_eq!(s.routing_type(), 3);
    assert_eq!(s.segments_left(), 3);
    assert_eq!((s.cmpr_i(), s.cmpr_e(), s.pad()), (9, 9, 3));
    assert_eq!(s.address_count(), Some(3));
    let reference: Ipv6Addr = "fe80::ff:fe00:1".parse().unwrap();
    assert_eq!(
        s.address(1, &reference),
        Some("fe80::5:5:5:5".parse().unwrap())
    );
    assert_eq!(
        s.address(3, &reference),
        Some("fe80::2:2:2:2".parse().unwrap())
    );
    assert_eq!(s.address(4, &reference), None);

    let mut buf = [0xa5u8; 32];
    let mut v = Srh::new_unchecked(&mut buf[..]);
    v.set_next_header(58);
    v.set_hdr_ext_len(3);
    v.set_routing_type(3);
    v.set_segments_left(3);
    v.set_cmpr(9, 9);
    v.set_pad(3);
    buf[8..29].copy_from_slice(&SRH[8..29]);
    buf[29..].fill(0);
    assert_eq!(&buf[..], SRH);

    let repr = SrhRepr {
        next_header: 58,
        segments_left: 3,
        cmpr_i: 9,
        cmpr_e: 9,
        pad: 3,
        addresses: &SRH[8..29],
    };
    assert_eq!(SrhRepr::parse(&s).unwrap(), repr);
    let mut out = [0xa5u8; 32];
    assert_eq!(repr.emit(&mut out), Ok(32));
    assert_eq!(&out[..], SRH);

    // Built from the route itself: same compression, same bytes.
    let hops: Vec<Ipv6Addr> = (1..=3).map(|i| s.address(i, &reference).unwrap()).collect();
    let mut built = [0xa5u8; 32];
    assert_eq!(SrhRepr::route_len(&reference, &hops), Some(32));
    assert_eq!(
        SrhRepr::emit_route(58, &reference, &hops, &mut built),
        Ok(32)
    );
    assert_eq!(&built[..], SRH);
}

#[test]
fn srh_processing_visits_every_hop() {
    let first: Ipv6Addr = "fd00::a".parse().unwrap();
    let hops: Vec<Ipv6Addr> = ["fd00::b", "fd00::c", "fd00::1:d"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let mut buf = vec![0u8; SrhRepr::route_len(&first, &hops).unwrap()];
    SrhRepr::emit_route(58, &first, &hops, &mut buf).unwrap();
    let s = Srh::new_checked(&buf[..]).unwrap();
    assert_eq!((s.cmpr_i(), s.cmpr_e()), (15, 13));
    let mut dst = first;
    let mut visited = vec![dst];
    let mut v = Srh::new_unchecked(&mut buf[..]);
    while v.process(&mut dst).unwrap() {
        visited.push(dst);
    }
    assert_eq!(visited, [first, hops[0], hops[1], hops[2]]);
    assert_eq!(v.segments_left(), 0);
}

#[test]
fn srh_errors() {
    assert_eq!(
        Srh::new_checked(&SRH[..7]).unwrap_err(),
        Error::Truncated { needed: 8, got: 7 }
    );
    assert_eq!(
        Srh::new_checked(&SRH[..31]).unwrap_err(),
        Error::Truncated {
            needed: 32,
            got: 31
        }
    );
    let mut bad = SRH.to_vec();
    bad[5] = 0x40; // Pad 4: addresses no longer divide evenly
    assert_eq!(Srh::new_checked(&bad[..]).unwrap_err(), Error::BadLength);
    let mut bad = SRH.to_vec();
    bad[3] = 4; // Segments Left > n
    assert!(matches!(
        Srh::new_checked(&bad[..]),
        Err(Error::Malformed(_))
    ));
    let mut bad = SRH.to_vec();
    bad[2] = 4;
    let s = Srh::new_checked(&bad[..]).unwrap();
    assert!(matches!(SrhRepr::parse(&s), Err(Error::Malformed(_))));
    assert_eq!(
        SrhRepr::emit_route(58, &ROOT, &[], &mut [0u8; 64]),
        Err(Error::BadLength)
    );
    let mut small = [0u8; 8];
    assert_eq!(
        SrhRepr::emit_route(58, &ROOT, &[NODE, NODE], &mut small),
        Err(Error::BufferTooSmall { required: 16 })
    );
    let mut mc = vec![0u8; 64];
    let n = SrhRepr::emit_route(58, &ROOT, &["ff02::1".parse().unwrap()], &mut mc).unwrap();
    let mut dst = ROOT;
    assert!(matches!(
        Srh::new_unchecked(&mut mc[..n]).process(&mut dst),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn dodag_configuration_t_flag() {
    // RFC 9035 §3, §6: T is bit 2 of the flags octet (0x20), next to A (0x08) and PCS.
    let c = DodagConfiguration {
        rfc8138_compression: true,
        path_control_size: 3,
        ..config()
    };
    let o = OptionRepr::DodagConfiguration(c);
    let mut b = vec![0xa5u8; o.buffer_len()];
    assert_eq!(o.emit(&mut b).unwrap(), 16);
    assert_eq!(&b[..3], &[0x04, 14, 0x23]);
    let v = RplOption::new_checked(&b[..]).unwrap();
    assert_eq!(OptionRepr::parse(&v).unwrap(), o);
    // Without T the octet is as RFC 6550 §6.7.6 writes it.
    b[2] = 0x03;
    let v = RplOption::new_checked(&b[..]).unwrap();
    assert_eq!(
        OptionRepr::parse(&v).unwrap(),
        OptionRepr::DodagConfiguration(DodagConfiguration {
            rfc8138_compression: false,
            ..c
        })
    );
}
