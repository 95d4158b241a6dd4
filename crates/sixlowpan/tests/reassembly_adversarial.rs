//! Adversarial reassembly: floods, duplicate FRAG1, overlaps, oversized sizes, zero-length
//! and lost fragments. Memory stays under the cap and legitimate datagrams still reassemble.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use amimesh_core::{Duration, Instant, LinkAddr, Rng, ShortAddr};
use amimesh_sixlowpan::{CompressOptions, ContextTable, Fragmenter, Reassembler, ReassemblyConfig};
use common::*;

fn s(a: u16) -> LinkAddr {
    LinkAddr::Short(ShortAddr(a))
}

fn datagram(len: usize, seed: u8) -> Vec<u8> {
    let payload: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect();
    let (a, b) = ("fe80::ff:fe00:1", "fe80::ff:fe00:2");
    ipv6(a, b, 64, 0, 0, 17, &udp(a, b, 5683, 5683, &payload))
}

fn fragments(p: &[u8], tag: u16, budget: usize) -> Vec<Vec<u8>> {
    fragments_from(s(1), p, tag, budget)
}

fn fragments_from(src: LinkAddr, p: &[u8], tag: u16, budget: usize) -> Vec<Vec<u8>> {
    let mut f = Fragmenter::new(tag);
    let mut it = f
        .fragment(
            p,
            src,
            s(2),
            &ContextTable::new(),
            &CompressOptions::default(),
            budget,
        )
        .unwrap();
    assert!(it.is_fragmented());
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    while let Some(n) = it.next_frame(&mut buf) {
        out.push(buf[..n.unwrap()].to_vec());
    }
    out
}

fn check_bounds(r: &Reassembler, cfg: &ReassemblyConfig) {
    assert!(r.bytes_used() <= cfg.max_bytes, "memory cap exceeded");
    assert!(r.in_progress() <= cfg.buffers, "buffer count exceeded");
}

fn feed(r: &mut Reassembler, now: Instant, frames: &[Vec<u8>]) -> Option<Vec<u8>> {
    let ctx = ContextTable::new();
    let mut done = None;
    for f in frames {
        if let Some(d) = r.handle_fragment(now, s(1), s(2), &ctx, f) {
            assert!(done.is_none(), "completed twice");
            done = Some(d.packet);
        }
    }
    done
}

#[test]
fn flood_from_many_sources_then_legitimate_datagram() {
    let cfg = ReassemblyConfig::default();
    let mut r = Reassembler::new(cfg);
    let ctx = ContextTable::new();
    let mut rng = Rng::new(7);
    let legit = datagram(600, 1);
    let frames = fragments(&legit, 0x1000, 90);
    let now = Instant::from_secs(10);
    for i in 0..5000u32 {
        let src = s(rng.u16() | 0x8000);
        let size = 200 + (rng.u16() % 1000);
        let mut f = vec![0xc0 | (size >> 8) as u8, size as u8];
        f.extend_from_slice(&rng.u16().to_be_bytes());
        // A plausible compressed header and some payload.
        f.extend_from_slice(&[0x7a, 0x33, 0x11]);
        f.extend(std::iter::repeat_n(i as u8, 40));
        r.handle_fragment(now, src, s(2), &ctx, &f);
        check_bounds(&r, &cfg);
        // Interleave the legitimate datagram slowly: the flood between two of its fragments
        // stays below the number of buffers, so it is not the oldest when evicting.
        if i % 2 == 0 && (i / 2) < frames.len() as u32 {
            let k = (i / 2) as usize;
            let got = r.handle_fragment(now, s(1), s(2), &ctx, &frames[k]);
            check_bounds(&r, &cfg);
            if k + 1 == frames.len() {
                assert_eq!(got.unwrap().packet, legit);
            }
        }
    }
    assert!(r.stats().evicted > 4000);
    assert_eq!(r.stats().datagrams, 1);
    // After the flood, a fresh datagram reassembles.
    let again = datagram(300, 2);
    assert_eq!(
        feed(&mut r, now, &fragments(&again, 0x2000, 80)).unwrap(),
        again
    );
}

#[test]
fn duplicate_frag1_never_wedges() {
    let cfg = ReassemblyConfig::default();
    let mut r = Reassembler::new(cfg);
    let p = datagram(400, 3);
    let frames = fragments(&p, 0x3000, 96);
    let now = Instant::from_secs(1);
    let mut seq = vec![frames[0].clone(), frames[0].clone()];
    seq.extend(frames[1..].iter().cloned());
    seq.insert(3, frames[0].clone());
    assert_eq!(feed(&mut r, now, &seq).unwrap(), p);
    assert_eq!(r.stats().duplicates, 2);
    assert_eq!(r.in_progress(), 0);
    assert_eq!(r.bytes_used(), 0);

    // A FRAG1 with the same key but other content restarts the buffer; the sender's
    // retransmission of the whole datagram then completes.
    let other = datagram(400, 4);
    let other_frames = fragments(&other, 0x3000, 96);
    assert!(feed(&mut r, now, &frames[..2]).is_none());
    assert!(feed(&mut r, now, &other_frames[..1]).is_none());
    assert_eq!(r.stats().overlaps, 1);
    assert_eq!(feed(&mut r, now, &other_frames[1..]).unwrap(), other);
}

#[test]
fn overlapping_offsets_reset_and_recover() {
    let cfg = ReassemblyConfig::default();
    let mut r = Reassembler::new(cfg);
    let p = datagram(500, 5);
    let frames = fragments(&p, 0x4000, 90);
    let now = Instant::from_secs(1);
    assert!(feed(&mut r, now, &frames[..3]).is_none());
    // Same offset as fragment 2 but shifted by 8 bytes and different data.
    let mut evil = frames[2].clone();
    evil[4] += 1;
    for b in &mut evil[5..] {
        *b ^= 0xff;
    }
    assert!(feed(&mut r, now, &[evil]).is_none());
    assert_eq!(r.stats().overlaps, 1);
    // The buffer restarted with the conflicting fragment; the first retransmission meets it
    // again (another restart), the next one completes.
    assert!(feed(&mut r, now, &frames).is_none());
    assert_eq!(r.stats().overlaps, 2);
    assert_eq!(feed(&mut r, now, &frames[..2]).unwrap(), p);
    assert_eq!(r.in_progress(), 0);
    // An exact duplicate of a FRAGN is ignored.
    assert!(feed(&mut r, now, &frames[..2]).is_none());
    assert!(feed(&mut r, now, &frames[1..2]).is_none());
    assert_eq!(r.stats().duplicates, 1);
}

#[test]
fn oversized_and_zero_length_fragments_are_dropped() {
    let cfg = ReassemblyConfig::default();
    let mut r = Reassembler::new(cfg);
    let ctx = ContextTable::new();
    let now = Instant::from_secs(1);
    // Datagram size 2047 > max_datagram (1280).
    let big = [
        0xc7, 0xff, 0x00, 0x01, 0x7a, 0x33, 0x11, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert!(r.handle_fragment(now, s(1), s(2), &ctx, &big).is_none());
    assert_eq!(r.stats().too_large, 1);
    // FRAGN with no data.
    assert!(
        r.handle_fragment(now, s(1), s(2), &ctx, &[0xe1, 0x00, 0x00, 0x01, 0x02])
            .is_none()
    );
    // FRAGN reaching beyond its datagram.
    let mut beyond = vec![0xe0, 0x40, 0x00, 0x01, 0x07];
    beyond.extend_from_slice(&[0u8; 16]);
    assert!(r.handle_fragment(now, s(1), s(2), &ctx, &beyond).is_none());
    // Truncated headers and non-fragments.
    assert!(
        r.handle_fragment(now, s(1), s(2), &ctx, &[0xc0, 0x10])
            .is_none()
    );
    assert!(
        r.handle_fragment(now, s(1), s(2), &ctx, &[0x41, 0x60])
            .is_none()
    );
    // FRAG1 with only the fragment header.
    assert!(
        r.handle_fragment(now, s(1), s(2), &ctx, &[0xc0, 0x50, 0, 1])
            .is_none()
    );
    assert_eq!(r.stats().malformed, 5);
    // FRAG1 whose IPHC needs a context that is not configured.
    let nctx = [0xc0, 0x50, 0, 2, 0x7b, 0x73, 0x11, 1, 2, 3, 4];
    assert!(r.handle_fragment(now, s(1), s(2), &ctx, &nctx).is_none());
    assert_eq!(r.stats().decompress_failed, 1);
    assert_eq!(r.in_progress(), 0);
    assert_eq!(r.bytes_used(), 0);
    // Still works.
    let p = datagram(300, 6);
    assert_eq!(feed(&mut r, now, &fragments(&p, 7, 64)).unwrap(), p);
}

#[test]
fn lost_fragment_times_out_and_out_of_order_completes() {
    let cfg = ReassemblyConfig {
        timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let mut r = Reassembler::new(cfg);
    let p = datagram(700, 8);
    let frames = fragments(&p, 0x5000, 100);
    let t0 = Instant::from_secs(100);
    let mut lossy = frames.clone();
    lossy.remove(3);
    assert!(feed(&mut r, t0, &lossy).is_none());
    assert_eq!(r.in_progress(), 1);
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    r.handle_timeout(t0 + Duration::from_secs(59));
    assert_eq!(r.in_progress(), 1);
    r.handle_timeout(t0 + Duration::from_secs(60));
    assert_eq!(r.in_progress(), 0);
    assert_eq!(r.bytes_used(), 0);
    assert_eq!(r.stats().timeouts, 1);
    assert_eq!(r.poll_timeout(), None);
    // Reversed order, FRAG1 last.
    let mut rev = frames.clone();
    rev.reverse();
    assert_eq!(feed(&mut r, t0 + Duration::from_secs(61), &rev).unwrap(), p);
}

#[test]
fn same_tag_from_two_sources_does_not_mix() {
    let mut r = Reassembler::new(ReassemblyConfig::default());
    let ctx = ContextTable::new();
    let now = Instant::from_secs(1);
    let a = datagram(300, 9);
    let b = datagram(300, 10);
    let fa = fragments(&a, 0x77, 80);
    let fb = fragments_from(s(3), &b, 0x77, 80);
    let mut got = Vec::new();
    for (x, y) in fa.iter().zip(fb.iter()) {
        if let Some(d) = r.handle_fragment(now, s(1), s(2), &ctx, x) {
            got.push(d);
        }
        if let Some(d) = r.handle_fragment(now, s(3), s(2), &ctx, y) {
            got.push(d);
        }
    }
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].packet, a);
    assert_eq!(got[0].src, s(1));
    assert_eq!(got[1].packet, b);
    assert_eq!(got[1].src, s(3));
}

#[test]
fn random_fragment_sequences_stay_bounded() {
    let cfg = ReassemblyConfig {
        buffers: 3,
        max_bytes: 2000,
        max_datagram: 1280,
        ..Default::default()
    };
    let mut r = Reassembler::new(cfg);
    let ctx = ContextTable::new();
    let mut rng = Rng::new(99);
    let mut now = Instant::ZERO;
    for _ in 0..20_000 {
        now += Duration::from_millis(rng.below(500));
        let len = rng.below(60) as usize;
        let mut f = vec![0u8; len];
        rng.fill(&mut f);
        if let Some(b) = f.first_mut() {
            *b = [0xc0, 0xc1, 0xe0, 0xe2, 0x7a][rng.below(5) as usize];
        }
        let src = s(rng.below(4) as u16);
        r.handle_fragment(now, src, s(0), &ctx, &f);
        check_bounds(&r, &cfg);
        if let Some(t) = r.poll_timeout() {
            if t <= now {
                r.handle_timeout(now);
            }
        }
    }
    assert!(r.stats().fragments == 20_000);
}

#[test]
fn clear_drops_partial_datagrams_and_frees_their_memory() {
    let cfg = ReassemblyConfig::default();
    let mut r = Reassembler::new(cfg);
    let now = Instant::from_secs(1);
    // Two datagrams with their last fragment missing.
    for (tag, seed) in [(0x10, 1), (0x11, 2)] {
        let frames = fragments(&datagram(300, seed), tag, 90);
        assert!(feed(&mut r, now, &frames[..frames.len() - 1]).is_none());
    }
    assert_eq!(r.in_progress(), 2);
    assert!(r.bytes_used() > 0);
    assert_eq!(r.clear(), 2);
    assert_eq!((r.in_progress(), r.bytes_used()), (0, 0));
    assert_eq!(r.poll_timeout(), None);
    // The last fragment alone no longer completes anything; a whole datagram still does.
    let frames = fragments(&datagram(300, 1), 0x10, 90);
    assert!(feed(&mut r, now, &frames[frames.len() - 1..]).is_none());
    let d = datagram(300, 3);
    assert_eq!(feed(&mut r, now, &fragments(&d, 0x12, 90)), Some(d));
    check_bounds(&r, &cfg);
}
