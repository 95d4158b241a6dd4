//! PANA Relay: the PRE's PANA-Relay acceptance check and emit on the fixture, the PRE's per-message cost in both
//! directions (wrap a PaC message for the PAA, unwrap a PAA message for a PaC), and a
//! simulation: 20 PaCs authenticating through one PRE to one PAA in virtual time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../crates/pana-relay/tests/common/mod.rs"]
mod common;

use amimesh::core::{Duration, Instant};
use amimesh::pana_relay::{PanaRelay, RateLimit, RelayConfig, parse_relay};
use core::net::Ipv6Addr;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};

static PRY_PCI: &[u8] = include_bytes!("../crates/pana-relay/testdata/pry_pci.bin");
static PCI: &[u8] = include_bytes!("../crates/pana-relay/testdata/pci.bin");

const PAA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const PAC: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0212, 0x4b00, 0, 1);

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("pana_relay_accept");
    g.throughput(Throughput::Bytes(PRY_PCI.len() as u64));
    g.bench_function("parse_relay", |b| {
        b.iter(|| black_box(parse_relay(black_box(PRY_PCI)).unwrap()))
    });
    let r = parse_relay(PRY_PCI).unwrap();
    let mut buf = [0u8; 128];
    g.bench_function("emit", |b| {
        b.iter(|| black_box(black_box(&r).emit(&mut buf).unwrap()))
    });
    g.finish();
}

fn pre(c: &mut Criterion) {
    let mut cfg = RelayConfig::new(PAA);
    cfg.per_neighbour = RateLimit::UNLIMITED;
    cfg.total = RateLimit::UNLIMITED;
    let mut pre: PanaRelay = PanaRelay::new(cfg);
    let mut buf = [0u8; 1280];
    let mut now = Instant::from_secs(1);
    let mut g = c.benchmark_group("pana_relay_pre");
    g.throughput(Throughput::Bytes(PCI.len() as u64));
    g.bench_function("wrap_pac_to_paa", |b| {
        b.iter(|| {
            now += Duration::from_micros(1);
            pre.handle_datagram(now, PAC, 716, black_box(PCI));
            black_box(pre.poll_transmit(now, &mut buf).unwrap());
        })
    });
    g.throughput(Throughput::Bytes(PRY_PCI.len() as u64));
    g.bench_function("unwrap_paa_to_pac", |b| {
        b.iter(|| {
            pre.handle_datagram(now, PAA, 716, black_box(PRY_PCI));
            black_box(pre.poll_transmit(now, &mut buf).unwrap());
        })
    });
    g.finish();
}

fn sim(c: &mut Criterion) {
    const N: usize = 20;
    let mut g = c.benchmark_group("pana_relay_sim");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("20_pacs_join_through_one_pre", |b| {
        b.iter(|| {
            let mut net = common::Net::new(N, 7);
            net.start_all();
            net.drive_until(20_000, |n| (0..N).all(|i| n.authenticated(i)));
            black_box(net.pre.stats())
        })
    });
    g.finish();
}

criterion_group!(benches, codec, pre, sim);
criterion_main!(benches);
