//! PANA with EAP-PSK: complete authentications (PCI … PAN[C], network key delivered) between a
//! PaC and a PAA in memory, no latency, one core. Also the message codec on the PAN[C].

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amimesh::core::{Instant, Key128};
use amimesh::pana::eap_psk::identity;
use amimesh::pana::wire::{Message, MessageRepr};
use amimesh::pana::{AgentConfig, ClientConfig, ClientEvent, MemoryStore, PanaAgent, PanaClient};
use core::net::Ipv6Addr;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const PAC: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const PAA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

fn agent() -> PanaAgent<MemoryStore> {
    let mut c = AgentConfig::new(identity(b"paa.example").unwrap());
    c.max_sessions = 4;
    c.max_queued = 8;
    c.max_events = 8;
    let mut store = MemoryStore::with_capacity(4);
    store
        .insert(b"meter@example", Key128::new([7; 16]))
        .unwrap();
    let mut a = PanaAgent::new(c, store);
    a.set_network_key(Key128::new([1; 16]), 1).unwrap();
    a
}

/// One full authentication; returns the number of PANA messages exchanged.
fn authenticate(rng: &mut ChaCha20Rng, buf: &mut [u8]) -> usize {
    let mut a = agent();
    let mut c = PanaClient::new(ClientConfig::new(
        identity(b"meter@example").unwrap(),
        Key128::new([7; 16]),
        PAA,
    ));
    let now = Instant::ZERO;
    c.start(now).unwrap();
    let mut msgs = 0;
    loop {
        let mut progressed = false;
        while let Some(t) = c.poll_transmit(now, buf) {
            msgs += 1;
            progressed = true;
            a.handle_datagram(now, PAC, 716, &buf[..t.len], rng);
        }
        while let Some(t) = a.poll_transmit(now, buf) {
            msgs += 1;
            progressed = true;
            c.handle_datagram(now, &buf[..t.len], rng);
        }
        while let Some(e) = c.poll_event() {
            if let ClientEvent::Authenticated { .. } = e {
                // Let the PAA see PAN[C].
                while let Some(t) = c.poll_transmit(now, buf) {
                    msgs += 1;
                    a.handle_datagram(now, PAC, 716, &buf[..t.len], rng);
                }
                while a.poll_event().is_some() {}
                return msgs;
            }
        }
        assert!(progressed, "stalled");
    }
}

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut buf = [0u8; 1500];
    assert_eq!(authenticate(&mut rng, &mut buf), 11);
    let mut g = c.benchmark_group("pana");
    g.throughput(Throughput::Elements(1));
    g.bench_function("eap_psk_authentication", |b| {
        b.iter(|| black_box(authenticate(&mut rng, &mut buf)))
    });
    // The codec on a typical message (PAN[C] with Key-Id and AUTH).
    let pan_c = include_bytes!("../crates/pana/testdata/pan_c.bin");
    g.throughput(Throughput::Bytes(pan_c.len() as u64));
    g.bench_function("parse_pan_c", |b| {
        b.iter(|| {
            let m = Message::new_checked(black_box(&pan_c[..])).unwrap();
            let r = MessageRepr::parse(&m).unwrap();
            black_box(r.avps().count())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
