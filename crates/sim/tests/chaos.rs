//! Property: arbitrary node behaviour (radio operations at any time, on any channel, of any
//! length, overlapping, uplink requests of any size) never makes the engine panic or stall,
//! every transmit request gets exactly one answer, time never goes backwards, and the same
//! inputs give the same trace.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use amimesh_core::{Duration, Instant, LinkAddr, ShortAddr};
use amimesh_mac::mac::radio::{RadioCaps, RadioOp, RxMeta, Transmit, TxKind, TxResult};
use amimesh_sim::{
    AckFilter, NoServer, Node, NodeId, Position, Propagation, RadioModel, Sim, SimConfig,
    UplinkInput, UplinkOutput,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Action {
    Tx {
        delay_us: u32,
        channel: u8,
        cca: bool,
        len: usize,
        ar: bool,
        dst: u16,
    },
    Listen(u8),
    Off,
    Open,
    Close,
    Datagram(usize),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0u32..20_000, 0u8..3, any::<bool>(), 0usize..2_100, any::<bool>(), 0u16..4)
            .prop_map(|(delay_us, channel, cca, len, ar, dst)| Action::Tx { delay_us, channel, cca, len, ar, dst }),
        2 => (0u8..3).prop_map(Action::Listen),
        1 => Just(Action::Off),
        1 => Just(Action::Open),
        1 => Just(Action::Close),
        1 => (0usize..70_000).prop_map(Action::Datagram),
    ]
}

#[derive(Debug, Clone)]
struct Chaos {
    id: u16,
    caps: RadioCaps,
    /// (time in µs, action)
    script: Vec<(i64, Action)>,
    next: usize,
    uplink_pending: Vec<Action>,
    transmits: u64,
    answers: u64,
    last_now: Instant,
    backwards: bool,
    frames: u64,
}

impl Chaos {
    fn see(&mut self, now: Instant) {
        if now < self.last_now {
            self.backwards = true;
        }
        self.last_now = now;
    }
}

impl Node for Chaos {
    type Event = u64;
    fn radio_caps(&self) -> RadioCaps {
        self.caps
    }
    fn ack_filter(&self) -> AckFilter {
        AckFilter {
            pan_id: None,
            short: Some(ShortAddr(self.id)),
            ext: None,
        }
    }
    fn handle_tx_done(&mut self, now: Instant, _r: TxResult) {
        self.see(now);
        self.answers += 1;
    }
    fn handle_frame(&mut self, now: Instant, _m: RxMeta, _p: &[u8]) {
        self.see(now);
        self.frames += 1;
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.see(now);
    }
    fn handle_uplink(&mut self, now: Instant, _i: UplinkInput<'_>) {
        self.see(now);
    }
    fn poll_radio(&mut self, now: Instant, buf: &mut [u8]) -> Option<RadioOp> {
        while let Some((at, a)) = self.script.get(self.next).cloned() {
            if at > now.total_micros() {
                return None;
            }
            self.next += 1;
            match a {
                Action::Tx {
                    delay_us,
                    channel,
                    cca,
                    len,
                    ar,
                    dst,
                } => {
                    // A data frame header, then filler; lengths beyond the buffer are clipped
                    // but still claimed in `len`, which the engine must refuse.
                    let fc: u16 = 0x0001
                        | if ar { 0x20 } else { 0 }
                        | 0x40
                        | (2 << 10)
                        | (1 << 12)
                        | (2 << 14);
                    let n = len.min(buf.len());
                    let hdr = [
                        fc.to_le_bytes()[0],
                        fc.to_le_bytes()[1],
                        self.next as u8,
                        0xce,
                        0xfa,
                        dst.to_le_bytes()[0],
                        dst.to_le_bytes()[1],
                    ];
                    for (i, b) in buf[..n].iter_mut().enumerate() {
                        *b = hdr.get(i).copied().unwrap_or(i as u8);
                    }
                    self.transmits += 1;
                    // Sometimes in the past: the engine starts it now.
                    let at = Instant::from_micros(at) + Duration::from_micros(u64::from(delay_us));
                    return Some(RadioOp::Transmit(Transmit {
                        at: if delay_us % 7 == 0 { Instant::ZERO } else { at },
                        channel,
                        cca,
                        len,
                        kind: TxKind::Data,
                        ack_request: ar,
                        seq: self.next as u8,
                        dst: LinkAddr::Short(ShortAddr(dst)),
                    }));
                }
                Action::Listen(channel) => return Some(RadioOp::Listen { channel }),
                Action::Off => return Some(RadioOp::Off),
                other => self.uplink_pending.push(other),
            }
        }
        None
    }
    fn poll_uplink(&mut self, _now: Instant, buf: &mut [u8]) -> Option<UplinkOutput> {
        let a = self.uplink_pending.pop()?;
        Some(match a {
            Action::Open => UplinkOutput::Open,
            Action::Close => UplinkOutput::Close,
            Action::Datagram(len) => {
                let n = len.min(buf.len());
                buf[..n].fill(0x60);
                UplinkOutput::Datagram { len }
            }
            _ => UplinkOutput::Close,
        })
    }
    fn poll_event(&mut self) -> Option<u64> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.script
            .get(self.next)
            .map(|(at, _)| Instant::from_micros(*at))
    }
}

/// (auto-ACK, software FCS, timed actions) of one node.
type NodeScript = (bool, bool, Vec<(i64, Action)>);

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    rssi: Vec<f64>,
    capture: f64,
    loss: f64,
    nodes: Vec<NodeScript>,
}

fn case() -> impl Strategy<Value = Case> {
    (2usize..5).prop_flat_map(|n| {
        (
            any::<u64>(),
            prop::collection::vec(-105.0f64..-40.0, n * n),
            prop_oneof![Just(f64::INFINITY), 0.0f64..10.0],
            0.0f64..0.5,
            prop::collection::vec(
                (
                    any::<bool>(),
                    any::<bool>(),
                    prop::collection::vec((0i64..200_000, action()), 0..25),
                ),
                n,
            ),
        )
            .prop_map(|(seed, rssi, capture, loss, mut nodes)| {
                for (_, _, s) in &mut nodes {
                    s.sort_by_key(|(t, _)| *t);
                }
                Case {
                    seed,
                    rssi,
                    capture,
                    loss,
                    nodes,
                }
            })
    })
}

fn run(c: &Case) -> Sim<Chaos> {
    let n = c.nodes.len();
    let mut t = BTreeMap::new();
    for a in 0..n {
        for b in 0..n {
            if a != b {
                t.insert((NodeId::from(a), NodeId::from(b)), c.rssi[a * n + b]);
            }
        }
    }
    let cfg = SimConfig {
        seed: c.seed,
        radio: RadioModel {
            propagation: Propagation::Table(t),
            capture_margin_db: c.capture,
            extra_loss: c.loss,
            ..RadioModel::default()
        },
        uplink_node: Some(NodeId(0)),
        max_steps_per_instant: 10_000,
        ..SimConfig::default()
    };
    let nodes = c
        .nodes
        .iter()
        .enumerate()
        .map(|(i, (auto, soft, script))| Chaos {
            id: i as u16,
            caps: RadioCaps {
                auto_ack: *auto,
                software_fcs: *soft,
            },
            script: script.clone(),
            next: 0,
            uplink_pending: Vec::new(),
            transmits: 0,
            answers: 0,
            last_now: Instant::ZERO,
            backwards: false,
            frames: 0,
        })
        .collect();
    let mut s = Sim::new(cfg, vec![Position::default(); n], nodes, NoServer).unwrap();
    s.drive_bounded(1_000_000).unwrap();
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_nodes_never_break_the_engine(c in case()) {
        let a = run(&c);
        for n in a.nodes() {
            prop_assert!(!n.backwards);
            prop_assert_eq!(n.next, n.script.len());
            // Every transmit request was answered exactly once.
            prop_assert_eq!(n.transmits, n.answers);
        }
        let st = a.stats();
        let frames: u64 = a.nodes().iter().map(|n| n.frames).sum();
        prop_assert!(frames <= st.delivered);
        let b = run(&c);
        prop_assert_eq!(a.trace_hash(), b.trace_hash());
        prop_assert_eq!(a.stats(), b.stats());
    }
}
