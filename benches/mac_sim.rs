//! The sans-IO MAC state machine: per-frame receive cost (unsecured and level 5) and a
//! ten-node virtual-radio run (one virtual second of contention towards one sink).

// Bench harness code may fail loudly.
#![allow(clippy::indexing_slicing, clippy::panic)]

use std::hint::black_box;

use amimesh::core::{Duration, ExtAddr, Instant, Key128, LinkAddr, PanId};
use amimesh::mac::mac::{Config, DataRequest, Mac, RxMeta, SecurityPolicy};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

#[path = "../crates/mac/tests/medium/mod.rs"]
mod medium;

const MAC_KEY: [u8; 16] = [
    0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f,
];

fn receiver(secured: bool) -> Mac {
    // The relay of the fixtures' join run (EUI-64 0x00124b0000000001, PAN 0xabcd).
    let mut c = Config::new(ExtAddr::from_u64(0x0012_4b00_0000_0001));
    c.pan_id = PanId(0xabcd);
    let mut mac = Mac::new(c);
    if secured {
        mac.install_key(1, &Key128::from(MAC_KEY));
        mac.set_security_policy(SecurityPolicy::PROFILE);
    }
    mac
}

fn rx(c: &mut Criterion) {
    let mut g = c.benchmark_group("mac_rx");
    for (name, frame, secured) in [
        (
            "broadcast_unsecured",
            &include_bytes!("../crates/mac/testdata/mac_sm_broadcast_data.bin")[..],
            false,
        ),
        (
            "unicast_level5",
            &include_bytes!("../crates/mac/testdata/mac_sm_data_level5.bin")[..],
            true,
        ),
    ] {
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(name, |b| {
            b.iter_batched(
                || receiver(secured),
                |mut mac| {
                    let meta = RxMeta {
                        at: Instant::ZERO,
                        lqi: 200,
                        rssi: -50,
                        channel: 11,
                    };
                    mac.handle_frame(Instant::ZERO, meta, black_box(frame));
                    let mut buf = [0u8; 127];
                    while mac.poll_transmit(Instant::ZERO, &mut buf).is_some() {}
                    let ev = mac.poll_event();
                    assert!(ev.is_some(), "frame delivered");
                    black_box(ev)
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn sim(c: &mut Criterion) {
    c.bench_function("mac_sim_10_nodes_1s", |b| {
        b.iter(|| {
            let mut m = medium::Medium::new(black_box(5));
            for n in 0..10u64 {
                let mut cfg = medium::Medium::config(n + 1);
                cfg.pan_id = PanId(0xabcd);
                m.add(cfg);
            }
            m.full_mesh(medium::Link {
                loss: 0.05,
                ..medium::Link::PERFECT
            });
            let sink = LinkAddr::Extended(m.ext(0));
            for round in 0..10u32 {
                for n in 1..10 {
                    let now = m.now;
                    let _ = m.nodes[n]
                        .mac
                        .send(now, DataRequest::new(round, sink, &[n as u8; 40]));
                    m.drain(n);
                }
                m.run_for(Duration::from_millis(100));
            }
            black_box(m.received(0).len())
        })
    });
}

criterion_group!(benches, rx, sim);
criterion_main!(benches);
