//! A router node with a fixed seed, joined to a DODAG through a valid DIO, then fed an
//! arbitrary sequence of RPL messages from a few neighbours, timeouts, link failures, ETX
//! updates, parents refused by the link layer and data-path checks. Everything it sends must
//! parse; nothing may panic.
#![no_main]

use amimesh_core::{Duration, Instant};
use amimesh_rpl::wire::{HbhRepr, MessageRepr};
use amimesh_rpl::{Config, RplNode};
use arbitrary::Arbitrary;
use core::net::Ipv6Addr;
use libfuzzer_sys::fuzz_target;

const DIO: &[u8] = include_bytes!("../../crates/rpl/testdata/dio.bin");

#[derive(Arbitrary, Debug)]
enum Step {
    Message { from: u8, multicast: bool, code: u8, body: Vec<u8> },
    Dio { from: u8, rank: u16, version: u8, dtsn: u8 },
    Advance { millis: u16 },
    Timeout,
    LinkFailure { who: u8 },
    Etx { who: u8, etx: u16 },
    Hbh { down: bool, r: bool, f: bool, rank: u16, dst: u8 },
    GlobalRepair,
    Reject { who: u8, secs: u8 },
}

fn ll(i: u8) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(i % 8) + 1)
}

fuzz_target!(|steps: Vec<Step>| {
    let me: Ipv6Addr = "fe80::99".parse().unwrap();
    let mut cfg = Config::router(7, me);
    cfg.neighbour_capacity = 4;
    cfg.route_capacity = 8;
    cfg.tx_queue_capacity = 16;
    let mut node = RplNode::new(cfg);
    let mut now = Instant::ZERO;
    node.start(now);
    let mut buf = [0u8; 1280];
    let all: Ipv6Addr = "ff02::1a".parse().unwrap();
    let mut drain = |node: &mut RplNode, now: Instant| {
        while let Some(t) = node.poll_transmit(now, &mut buf) {
            let body = &buf[..t.len];
            MessageRepr::parse_body(t.code, body).expect("own output parses");
        }
        while node.poll_event().is_some() {}
    };
    node.handle_message(now, ll(0), all, 1, DIO);
    drain(&mut node, now);
    for s in steps.into_iter().take(256) {
        match s {
            Step::Message { from, multicast, code, body } => {
                let dst = if multicast { all } else { me };
                node.handle_message(now, ll(from), dst, code, &body);
            }
            Step::Dio { from, rank, version, dtsn } => {
                let mut b = DIO.to_vec();
                b[1] = version;
                b[2..4].copy_from_slice(&rank.to_be_bytes());
                b[5] = dtsn;
                node.handle_message(now, ll(from), all, 1, &b);
            }
            Step::Advance { millis } => now += Duration::from_millis(u64::from(millis)),
            Step::Timeout => {
                if let Some(t) = node.poll_timeout() {
                    now = now.max(t);
                    node.handle_timeout(now);
                }
            }
            Step::LinkFailure { who } => node.handle_link_failure(now, ll(who)),
            Step::Etx { who, etx } => node.set_link_etx(now, ll(who), etx),
            Step::Reject { who, secs } => {
                let _ = node.reject_parent(now, ll(who), Duration::from_secs(u64::from(secs)));
            }
            Step::Hbh { down, r, f, rank, dst } => {
                let mut h = HbhRepr {
                    option_type: 0x63,
                    down,
                    rank_error: r,
                    forwarding_error: f,
                    instance_id: 30,
                    sender_rank: rank,
                };
                let d = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(dst));
                let _ = node.check_hbh(now, &d, &mut h);
                let _ = node.next_hop(&d);
            }
            Step::GlobalRepair => {
                let _ = node.global_repair(now);
            }
        }
        drain(&mut node, now);
        assert!(node.storing_routes().len() <= 8);
    }
});
