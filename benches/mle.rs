//! amimesh-mle: MLE message parse/emit, MLE security (seal/open), and a virtual network of
//! nodes establishing links and advertising.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::needless_range_loop
)]
use amimesh::core::{Duration, ExtAddr, Instant, Key128};
use amimesh::mle::security::{MleKey, SoftCrypto, open_message, seal_message};
use amimesh::mle::trickle::TrickleConfig;
use amimesh::mle::wire::message::{BodyRepr, Message, MessageRepr};
use amimesh::mle::wire::tlv::TlvIter;
use amimesh::mle::{Config, MleNode, RxMeta};
use amimesh_testkit::rng::TestCsprng;
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use std::net::Ipv6Addr;

static THREAD_ADV: &[u8] = include_bytes!("../crates/mle/testdata/thread_advertisement.bin");
static THREAD_PLAIN: &[u8] =
    include_bytes!("../crates/mle/testdata/thread_advertisement_plain.bin");
static LINK_AAR: &[u8] = include_bytes!("../crates/mle/testdata/link_accept_and_request.bin");

fn thread_key() -> MleKey {
    let k: [u8; 16] = hex::decode("5445f4158fd75912175809f8b57a66a4")
        .unwrap()
        .try_into()
        .unwrap();
    MleKey::new(Key128::new(k), 1, 0)
}

fn thread_addrs() -> (ExtAddr, Ipv6Addr, Ipv6Addr) {
    (
        ExtAddr::from_u64(0x0035_cc94_d77a_07e8),
        "fe80::235:cc94:d77a:7e8".parse().unwrap(),
        "ff02::2".parse().unwrap(),
    )
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("mle_codec");
    for (name, bytes) in [
        ("thread_advertisement", THREAD_ADV),
        ("link_accept_and_request", LINK_AAR),
    ] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("parse", name), bytes, |b, bytes| {
            b.iter(|| {
                let m = Message::new_checked(black_box(bytes)).unwrap();
                MessageRepr::parse(&m).unwrap()
            })
        });
        let m = Message::new_checked(bytes).unwrap();
        let r = MessageRepr::parse(&m).unwrap();
        let mut out = vec![0u8; r.buffer_len()];
        g.bench_with_input(BenchmarkId::new("emit", name), &r, |b, r| {
            b.iter(|| black_box(r).emit(&mut out).unwrap())
        });
    }
    g.throughput(Throughput::Bytes(THREAD_PLAIN.len() as u64 - 1));
    g.bench_function("tlv_iter/thread_advertisement", |b| {
        b.iter(|| TlvIter::new(black_box(&THREAD_PLAIN[1..])).count())
    });
    g.finish();
}

fn security(c: &mut Criterion) {
    let mut g = c.benchmark_group("mle_security");
    let key = thread_key();
    let keys = [thread_key()];
    let (sender, src, dst) = thread_addrs();
    let m = Message::new_checked(THREAD_ADV).unwrap();
    let MessageRepr::Secured(s) = MessageRepr::parse(&m).unwrap() else {
        unreachable!()
    };
    let body = BodyRepr::parse(THREAD_PLAIN).unwrap();
    g.throughput(Throughput::Bytes(THREAD_ADV.len() as u64));
    let mut out = [0u8; 128];
    g.bench_function("seal/thread_advertisement", |b| {
        b.iter(|| {
            seal_message(
                &SoftCrypto,
                &key,
                sender,
                src,
                dst,
                &s.aux,
                black_box(&body),
                &mut out,
            )
            .unwrap()
        })
    });
    g.bench_function("open/thread_advertisement", |b| {
        b.iter(|| {
            let m = Message::new_checked(black_box(THREAD_ADV)).unwrap();
            open_message(&SoftCrypto, &keys, sender, src, dst, &m, &mut out)
                .map(|_| ())
                .unwrap()
        })
    });
    g.finish();
}

/// `n` fully connected nodes, each sends a multicast Link Request at start and advertises on a
/// 1..32 s Trickle timer; runs `secs` virtual seconds with 5 ms latency. Returns the number of
/// linked (node, neighbour) pairs.
fn simulate(n: usize, secs: i64) -> usize {
    let nk = Key128::new([0x42; 16]);
    let mut nodes: Vec<MleNode> = (0..n)
        .map(|i| {
            let mut c = Config::new(ExtAddr::from_u64(0x0212_4b00_0000_0000 | (i as u64 + 1)));
            c.advertisement = Some(TrickleConfig::ADVERTISEMENT);
            c.max_neighbours = n;
            let mut m = MleNode::new(c);
            m.set_key(Instant::ZERO, MleKey::from_network_key(&nk, 1, 0));
            m
        })
        .collect();
    let mut rngs: Vec<TestCsprng> = (0..n).map(|i| TestCsprng::new(i as u64)).collect();
    let mut inflight: Vec<(Instant, usize, Ipv6Addr, Ipv6Addr, Vec<u8>)> = Vec::new();
    let end = Instant::from_secs(secs);
    let mut now = Instant::ZERO;
    let mut buf = [0u8; 256];
    for (node, rng) in nodes.iter_mut().zip(rngs.iter_mut()) {
        node.link_request(now, None, rng).unwrap();
    }
    loop {
        for i in 0..n {
            while let Some(t) = nodes[i].poll_transmit(now, &mut buf) {
                for j in 0..n {
                    if j != i && (t.dst.is_multicast() || t.dst == nodes[j].link_local()) {
                        let at = now + Duration::from_millis(5);
                        inflight.push((at, j, t.src, t.dst, buf[..t.len].to_vec()));
                    }
                }
            }
            while nodes[i].poll_event().is_some() {}
        }
        let timer = nodes
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.poll_timeout().map(|t| (t, i)))
            .min();
        let rx = inflight
            .iter()
            .enumerate()
            .min_by_key(|(_, d)| d.0)
            .map(|(k, d)| (d.0, k));
        match (timer, rx) {
            (Some((t, i)), r) if r.is_none_or(|(at, _)| t < at) => {
                if t > end {
                    break;
                }
                now = now.max(t);
                nodes[i].handle_timeout(now, &mut rngs[i]);
            }
            (_, Some((at, k))) => {
                if at > end {
                    break;
                }
                now = now.max(at);
                let (_, j, src, dst, p) = inflight.swap_remove(k);
                nodes[j].handle_datagram(
                    now,
                    src,
                    dst,
                    RxMeta { link_margin: 20 },
                    &p,
                    &mut rngs[j],
                );
            }
            _ => break,
        }
    }
    nodes.iter().map(|m| m.neighbours().count()).sum()
}

fn sim(c: &mut Criterion) {
    let mut g = c.benchmark_group("mle_sim");
    g.sample_size(10);
    for n in [4usize, 8] {
        assert_eq!(simulate(n, 60), n * (n - 1), "every pair links");
        g.bench_with_input(BenchmarkId::new("nodes_60s", n), &n, |b, &n| {
            b.iter(|| simulate(n, 60))
        });
    }
    g.finish();
}

criterion_group!(benches, codec, security, sim);
criterion_main!(benches);
