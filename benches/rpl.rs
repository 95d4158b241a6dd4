//! RPL benches: parse/emit of the fixtures, DAO processing at the root, and the root's state
//! for 10,000 non-storing routes (bytes per route, printed) with SRH build time.

// A bench that cannot set up its input should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use amimesh::core::Instant;
use amimesh::rpl::wire::{
    DaoRepr, MessageRepr, Mop, OptionRepr, Options, TransitInformation, code,
};
use amimesh::rpl::{Config, RplNode};
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use std::net::Ipv6Addr;

const FIXTURES: &[(&str, u8, &[u8])] = &[
    (
        "dis",
        code::DIS,
        include_bytes!("../crates/rpl/testdata/dis.bin"),
    ),
    (
        "dio",
        code::DIO,
        include_bytes!("../crates/rpl/testdata/dio.bin"),
    ),
    (
        "dio_misc",
        code::DIO,
        include_bytes!("../crates/rpl/testdata/dio_misc.bin"),
    ),
    (
        "dao",
        code::DAO,
        include_bytes!("../crates/rpl/testdata/dao.bin"),
    ),
    (
        "dao_ack",
        code::DAO_ACK,
        include_bytes!("../crates/rpl/testdata/dao_ack.bin"),
    ),
    (
        "dco",
        code::DCO,
        include_bytes!("../crates/rpl/testdata/dco.bin"),
    ),
];

const ROUTES: usize = 10_000;

fn addr(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, (i >> 16) as u16, i as u16 + 1)
}

/// Parent of node i in a 4-ary tree rooted at node 0 (depth ≈ 7 for 10,000 nodes).
fn parent(i: usize) -> usize {
    (i - 1) / 4
}

fn dao_body(i: usize) -> Vec<u8> {
    let target = addr(i).octets();
    let opts = [
        OptionRepr::RplTarget {
            flags: 0,
            prefix_length: 128,
            prefix: &target,
        },
        OptionRepr::TransitInformation(TransitInformation {
            external: false,
            invalidate: false,
            path_control: 0,
            path_sequence: 240,
            path_lifetime: 30,
            parent_address: Some(addr(parent(i))),
        }),
    ];
    let r = MessageRepr::Dao(DaoRepr {
        instance_id: 0,
        expect_ack: true,
        flags: 0,
        sequence: 240,
        dodag_id: Some(addr(0)),
        options: Options::List(&opts),
    });
    let mut b = vec![0u8; r.buffer_len()];
    r.emit(&mut b).unwrap();
    b
}

fn loaded_root() -> RplNode {
    let mut cfg = Config::root(1, "fe80::1".parse().unwrap(), addr(0), Mop::NonStoring);
    cfg.route_capacity = ROUTES;
    cfg.dao_burst = u16::MAX;
    let mut root = RplNode::new(cfg);
    let now = Instant::ZERO;
    root.start(now);
    let mut buf = [0u8; 1280];
    for i in 1..=ROUTES {
        root.handle_message(now, addr(i), addr(0), code::DAO, &dao_body(i));
        while root.poll_transmit(now, &mut buf).is_some() {}
        while root.poll_event().is_some() {}
    }
    root
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("rpl_codec");
    for (name, code, body) in FIXTURES {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(BenchmarkId::new("parse", name), body, |b, body| {
            b.iter(|| MessageRepr::parse_body(*code, black_box(body)).unwrap())
        });
        let repr = MessageRepr::parse_body(*code, body).unwrap();
        let mut out = vec![0u8; repr.buffer_len()];
        g.bench_with_input(BenchmarkId::new("emit", name), &repr, |b, repr| {
            b.iter(|| black_box(repr).emit(&mut out).unwrap())
        });
    }
    g.finish();
}

fn root_state(c: &mut Criterion) {
    let root = loaded_root();
    let table = root.root_table().unwrap();
    assert_eq!(table.len(), ROUTES);
    let per_route = table.reserved_bytes() as f64 / ROUTES as f64;
    let whole = root.heap_bytes() as f64 / ROUTES as f64;
    println!(
        "rpl root, {ROUTES} non-storing routes: route table {} B ({per_route:.1} B/route), \
         whole root heap {} B ({whole:.1} B/route), RplNode itself {} B",
        table.reserved_bytes(),
        root.heap_bytes(),
        std::mem::size_of::<RplNode>()
    );

    let mut g = c.benchmark_group("rpl_root_10k");
    // SRH for the deepest nodes (7 hops) and a shallow one.
    let mut srh = [0u8; 512];
    for target in [ROUTES, 5_000, 3] {
        let dst = addr(target);
        g.bench_with_input(BenchmarkId::new("build_srh", target), &dst, |b, dst| {
            b.iter(|| root.build_srh(black_box(dst), 58, &mut srh).unwrap())
        });
    }
    let body = dao_body(ROUTES);
    let mut buf = [0u8; 1280];
    let mut r = root.clone();
    g.bench_function("dao_refresh", |b| {
        b.iter(|| {
            r.handle_message(
                Instant::ZERO,
                addr(ROUTES),
                addr(0),
                code::DAO,
                black_box(&body),
            );
            while r.poll_transmit(Instant::ZERO, &mut buf).is_some() {}
        })
    });
    g.sample_size(10);
    g.bench_function("load_10k_daos", |b| b.iter(loaded_root));
    g.finish();
}

criterion_group!(benches, codec, root_state);
criterion_main!(benches);
