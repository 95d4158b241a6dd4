//! The PRE fed arbitrary datagrams from both sides (the PAA, on-link neighbours, off-link
//! sources) with time advancing between them. It must never panic, never hold more than its
//! capacities, emit only well-formed datagrams, and account for every input exactly once.
//!
//! Input format, repeated: control byte `c`, length (2 bytes, big-endian), datagram bytes.
//! `c & 3` picks the source: 0 the PAA, 1 the PAA's address on another port, 2 the link-local
//! neighbour `fe80::(c >> 2)`, 3 an off-link address. Time advances by `c × 37` ms after each
//! datagram; `c & 0x80` polls with a 64-byte buffer instead of a full one.
#![no_main]

use amimesh_core::{Duration, Instant};
use amimesh_pana_relay::{PanaRelay, RelayConfig, check_inner, parse_relay};
use core::net::Ipv6Addr;
use libfuzzer_sys::fuzz_target;

const PAA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

fuzz_target!(|data: &[u8]| {
    let mut pre: PanaRelay<4, 4> = PanaRelay::new(RelayConfig::new(PAA));
    let mut now = Instant::ZERO;
    let mut rest = data;
    let mut inputs = 0u64;
    let mut sent = 0u64;
    let mut big = [0u8; 1280];
    while let [c, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (dgram, next) = tail.split_at(len);
        rest = next;
        let c = *c;
        match c & 3 {
            0 => pre.handle_datagram(now, PAA, 716, dgram),
            1 => pre.handle_datagram(now, PAA, 7160, dgram),
            2 => pre.handle_datagram(
                now,
                Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(c >> 2)),
                716,
                dgram,
            ),
            _ => pre.handle_datagram(now, Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2), 716, dgram),
        }
        inputs += 1;
        assert!(pre.queued() <= 4 && pre.tracked_neighbours() <= 4);
        let buf = if c & 0x80 != 0 { &mut big[..64] } else { &mut big[..] };
        while let Some(t) = pre.poll_transmit(now, buf) {
            sent += 1;
            let out = &buf[..t.len];
            assert_eq!(t.src_port, 716);
            if t.dst == PAA {
                parse_relay(out).unwrap();
            } else {
                assert!(t.dst.is_unicast_link_local());
                check_inner(out).unwrap();
            }
        }
        now += Duration::from_millis(u64::from(c) * 37);
        if pre.poll_timeout().is_some_and(|t| t <= now) {
            pre.handle_timeout(now);
        }
    }
    let s = pre.stats();
    let dropped = s.rx_malformed
        + s.rx_nested_relay
        + s.rx_not_link_local
        + s.rx_wrong_port
        + s.rx_too_long
        + s.rx_rate_limited_neighbour
        + s.rx_rate_limited_total
        + s.tx_queue_full;
    assert_eq!(s.relayed_to_paa + s.relayed_to_pac + dropped, inputs);
    assert_eq!(sent + s.tx_buffer_too_small, s.relayed_to_paa + s.relayed_to_pac);
});
