//! A small deterministic radio medium for MAC tests: nodes, a virtual clock, airtime, CCA,
//! half-duplex radios, collisions and per-link loss, all driven by one seed.
//!
//! Each step advances the clock to the earliest of: a scheduled radio event (start of a CCA or
//! transmission, end of a transmission) or a node's `poll_timeout`, processes it, then drains
//! every node (`poll_transmit` until `None`, then `poll_event` until `None`).

#![allow(
    dead_code,
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use amimesh_core::{Duration, ExtAddr, Instant, Rng};
use amimesh_mac::mac::{Config, Event, Mac, RadioOp, RxMeta, Transmit, TxKind, TxResult};

/// Quality of the link from one node to another.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// Probability that a frame (other than an ACK) is lost.
    pub loss: f64,
    /// Probability that an ACK frame is lost.
    pub ack_loss: f64,
    /// Probability that a delivered frame is delivered a second time (a repeater, multipath
    /// or a driver bug).
    pub dup: f64,
    /// LQI reported to the receiver.
    pub lqi: u8,
    /// RSSI reported to the receiver.
    pub rssi: i8,
}

impl Link {
    pub const PERFECT: Link = Link {
        loss: 0.0,
        ack_loss: 0.0,
        dup: 0.0,
        lqi: 255,
        rssi: -40,
    };
    pub fn lqi(lqi: u8) -> Link {
        Link {
            lqi,
            ..Link::PERFECT
        }
    }
}

#[derive(Debug, Clone)]
struct OnAir {
    from: usize,
    channel: u8,
    start: Instant,
    end: Instant,
    psdu: Vec<u8>,
    kind: TxKind,
    id: u64,
}

#[derive(Debug, Clone)]
enum Ev {
    /// CCA (if asked) then transmission by `node`.
    TxStart {
        node: usize,
        tx: Transmit,
        psdu: Vec<u8>,
    },
    /// End of transmission `id`.
    TxEnd { id: u64 },
    /// CCA of `node` found the channel busy.
    CcaBusy { node: usize },
    /// Deliver a PSDU to a node directly (tests inject frames with this).
    Inject { node: usize, psdu: Vec<u8>, lqi: u8 },
}

pub struct Node {
    pub mac: Mac,
    pub listen: Option<u8>,
    pub events: Vec<(Instant, Event)>,
    /// Every PSDU this node put on the air, with its kind.
    pub sent: Vec<(Instant, TxKind, Vec<u8>)>,
}

pub struct Medium {
    pub now: Instant,
    pub nodes: Vec<Node>,
    links: BTreeMap<(usize, usize), Link>,
    queue: BTreeMap<(Instant, u64), Ev>,
    on_air: Vec<OnAir>,
    seq: u64,
    rng: Rng,
    buf: Vec<u8>,
    pub trace: Vec<String>,
    pub collisions: u64,
    pub losses: u64,
    pub deliveries: u64,
    /// Frames a hardware-FCS radio dropped for a bad FCS.
    pub bad_fcs: u64,
}

/// The FCS and PSDU limit of a PHY profile.
pub fn psdu_config(phy: &amimesh_mac::mac::PhyProfile) -> amimesh_mac::wire::PsduConfig {
    amimesh_mac::wire::PsduConfig {
        fcs: if phy.fcs_len == 4 {
            amimesh_mac::wire::FcsType::Crc32
        } else {
            amimesh_mac::wire::FcsType::Crc16
        },
        max_psdu_len: usize::from(phy.max_psdu),
    }
}

impl Medium {
    pub fn new(seed: u64) -> Self {
        Medium {
            now: Instant::ZERO,
            nodes: Vec::new(),
            links: BTreeMap::new(),
            queue: BTreeMap::new(),
            on_air: Vec::new(),
            seq: 0,
            rng: Rng::new(seed),
            buf: vec![0; 4096],
            trace: Vec::new(),
            collisions: 0,
            losses: 0,
            deliveries: 0,
            bad_fcs: 0,
        }
    }

    /// Adds a node with config `cfg` and returns its index.
    pub fn add(&mut self, cfg: Config) -> usize {
        self.nodes.push(Node {
            mac: Mac::new(cfg),
            listen: None,
            events: Vec::new(),
            sent: Vec::new(),
        });
        let i = self.nodes.len() - 1;
        self.drain(i);
        i
    }

    /// A config for node `n` (EUI-64 `n`, seed derived from `n`).
    pub fn config(n: u64) -> Config {
        let mut c = Config::new(ExtAddr::from_u64(0x0012_4b00_0000_0000 | n));
        c.seed = 1000 + n;
        c
    }

    /// Connects `a` and `b` both ways.
    pub fn link(&mut self, a: usize, b: usize, l: Link) {
        self.links.insert((a, b), l);
        self.links.insert((b, a), l);
    }

    /// Connects every pair of nodes with `l`.
    pub fn full_mesh(&mut self, l: Link) {
        let n = self.nodes.len();
        for a in 0..n {
            for b in 0..n {
                if a != b {
                    self.links.insert((a, b), l);
                }
            }
        }
    }

    pub fn ext(&self, i: usize) -> ExtAddr {
        self.nodes[i].mac.config().ext_addr
    }

    fn push(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    /// Injects a PSDU into node `i`'s receiver at the current time.
    pub fn inject(&mut self, i: usize, psdu: Vec<u8>) {
        let at = self.now;
        self.push(
            at,
            Ev::Inject {
                node: i,
                psdu,
                lqi: 200,
            },
        );
    }

    /// Drains node `i`'s outputs.
    pub fn drain(&mut self, i: usize) {
        let now = self.now;
        loop {
            let op = self.nodes[i].mac.poll_transmit(now, &mut self.buf);
            match op {
                None => break,
                Some(RadioOp::Listen { channel }) => self.nodes[i].listen = Some(channel),
                Some(RadioOp::Off) => self.nodes[i].listen = None,
                Some(RadioOp::Transmit(tx)) => {
                    assert!(tx.at >= now, "transmit scheduled in the past");
                    let psdu = self.buf[..tx.len].to_vec();
                    self.trace.push(format!(
                        "{} n{i} tx {:?} seq={} len={} ch={}",
                        tx.at, tx.kind, tx.seq, tx.len, tx.channel
                    ));
                    self.push(tx.at, Ev::TxStart { node: i, tx, psdu });
                }
            }
        }
        while let Some(ev) = self.nodes[i].mac.poll_event() {
            self.trace.push(format!("{now} n{i} event {ev:?}"));
            self.nodes[i].events.push((now, ev));
        }
    }

    fn audible(&self, from: usize, to: usize) -> Option<Link> {
        self.links.get(&(from, to)).copied()
    }

    fn busy_for(&self, node: usize, channel: u8, from: Instant, to: Instant) -> bool {
        self.on_air.iter().any(|t| {
            t.channel == channel
                && t.start < to
                && t.end > from
                && (t.from == node || self.audible(t.from, node).is_some())
        })
    }

    /// Runs one step. Returns `false` when nothing is left to do before `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        let next_ev = self.queue.keys().next().map(|k| k.0);
        let next_timer = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.mac.poll_timeout().map(|t| (t, i)))
            .min();
        let t_ev = next_ev.unwrap_or(Instant::MAX);
        let t_timer = next_timer.map(|x| x.0).unwrap_or(Instant::MAX);
        let t = t_ev.min(t_timer);
        if t == Instant::MAX || t > limit {
            return false;
        }
        if t > self.now {
            self.now = t;
        }
        if t_ev <= t_timer {
            let key = *self.queue.keys().next().unwrap();
            let ev = self.queue.remove(&key).unwrap();
            self.process(ev);
        } else {
            let i = next_timer.unwrap().1;
            let now = self.now;
            self.nodes[i].mac.handle_timeout(now);
            self.drain(i);
        }
        true
    }

    /// Runs until `limit` (or until idle).
    pub fn run_until(&mut self, limit: Instant) {
        let mut steps = 0u64;
        while self.step(limit) {
            steps += 1;
            assert!(steps < 2_000_000, "livelock");
        }
        if self.now < limit {
            self.now = limit;
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        self.run_until(limit);
    }

    fn process(&mut self, ev: Ev) {
        let now = self.now;
        match ev {
            Ev::Inject { node, psdu, lqi } => {
                let meta = RxMeta {
                    at: now,
                    lqi,
                    rssi: -50,
                    channel: self.nodes[node].listen.unwrap_or(0),
                };
                self.nodes[node].mac.handle_frame(now, meta, &psdu);
                self.drain(node);
            }
            Ev::CcaBusy { node } => {
                self.nodes[node]
                    .mac
                    .handle_tx_done(now, TxResult::ChannelBusy);
                self.drain(node);
            }
            Ev::TxStart { node, tx, psdu } => {
                let phy = self.nodes[node].mac.config().phy;
                let caps = self.nodes[node].mac.config().caps;
                let start = if tx.cca {
                    let cca_end = now + phy.cca_time();
                    if self.busy_for(node, tx.channel, now, cca_end) {
                        self.trace.push(format!("{now} n{node} cca busy"));
                        // Reported at the end of the CCA.
                        self.push(cca_end, Ev::CcaBusy { node });
                        return;
                    }
                    cca_end + phy.turnaround()
                } else {
                    now
                };
                self.nodes[node].sent.push((start, tx.kind, psdu.clone()));
                // On the air a PSDU always ends with its FCS; a radio without software FCS
                // appends it.
                let air = if caps.software_fcs {
                    psdu
                } else {
                    let mut b = psdu.clone();
                    b.extend_from_slice(&[0; 4]);
                    let n = psdu_config(&phy).append(&mut b, psdu.len()).unwrap();
                    b.truncate(n);
                    b
                };
                let end = start + phy.airtime(air.len());
                self.seq += 1;
                let id = self.seq;
                let psdu = air;
                self.on_air.push(OnAir {
                    from: node,
                    channel: tx.channel,
                    start,
                    end,
                    psdu,
                    kind: tx.kind,
                    id,
                });
                self.push(end, Ev::TxEnd { id });
            }
            Ev::TxEnd { id } => {
                let Some(pos) = self.on_air.iter().position(|t| t.id == id) else {
                    return;
                };
                let t = self.on_air[pos].clone();
                let n = self.nodes.len();
                for j in 0..n {
                    if j == t.from {
                        continue;
                    }
                    let Some(link) = self.audible(t.from, j) else {
                        continue;
                    };
                    if self.nodes[j].listen != Some(t.channel) {
                        continue;
                    }
                    // Half duplex: j was transmitting during the frame.
                    if self
                        .on_air
                        .iter()
                        .any(|o| o.from == j && o.start < t.end && o.end > t.start)
                    {
                        continue;
                    }
                    let collided = self.on_air.iter().any(|o| {
                        o.id != t.id
                            && o.channel == t.channel
                            && o.start < t.end
                            && o.end > t.start
                            && (o.from == j || self.audible(o.from, j).is_some())
                    });
                    if collided {
                        self.collisions += 1;
                        self.trace.push(format!("{now} n{j} collision"));
                        continue;
                    }
                    let p = if t.kind == TxKind::Ack {
                        link.ack_loss
                    } else {
                        link.loss
                    };
                    if self.rng.chance(p) {
                        self.losses += 1;
                        self.trace.push(format!("{now} n{j} lost"));
                        continue;
                    }
                    // A radio without software FCS checks and strips it.
                    let rx_caps = self.nodes[j].mac.config().caps;
                    let rx_phy = self.nodes[j].mac.config().phy;
                    let bytes = if rx_caps.software_fcs {
                        t.psdu.clone()
                    } else {
                        match psdu_config(&rx_phy).check(&t.psdu) {
                            Ok(f) => f.to_vec(),
                            Err(_) => {
                                self.bad_fcs += 1;
                                continue;
                            }
                        }
                    };
                    self.deliveries += 1;
                    let meta = RxMeta {
                        at: t.end,
                        lqi: link.lqi,
                        rssi: link.rssi,
                        channel: t.channel,
                    };
                    self.nodes[j].mac.handle_frame(now, meta, &bytes);
                    self.drain(j);
                    if self.rng.chance(link.dup) {
                        self.trace.push(format!("{now} n{j} duplicated"));
                        self.nodes[j].mac.handle_frame(now, meta, &bytes);
                        self.drain(j);
                    }
                }
                self.nodes[t.from].mac.handle_tx_done(
                    now,
                    TxResult::Ok {
                        frame_pending: false,
                    },
                );
                self.drain(t.from);
                // Forget transmissions that can no longer overlap anything new.
                let horizon = now - Duration::from_millis(100);
                self.on_air.retain(|o| o.end > horizon);
            }
        }
    }

    /// Data payloads node `i` received, in order.
    pub fn received(&self, i: usize) -> Vec<Vec<u8>> {
        self.nodes[i]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Received(f) => Some(f.payload.clone()),
                _ => None,
            })
            .collect()
    }

    /// `TxDone` events of node `i`: (handle, status, transmissions).
    pub fn tx_done(&self, i: usize) -> Vec<(u32, amimesh_mac::mac::TxStatus, u8)> {
        self.nodes[i]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::TxDone {
                    handle,
                    status,
                    transmissions,
                } => Some((*handle, *status, *transmissions)),
                _ => None,
            })
            .collect()
    }
}

/// The extended address of node `i` as a MAC destination.
pub fn to(m: &Medium, i: usize) -> amimesh_core::LinkAddr {
    amimesh_core::LinkAddr::Extended(m.ext(i))
}

/// Queues `payload` at node `from` for `dst` (the MAC must accept it) and drains the node.
pub fn send(m: &mut Medium, from: usize, dst: amimesh_core::LinkAddr, handle: u32, payload: &[u8]) {
    let now = m.now;
    m.nodes[from]
        .mac
        .send(
            now,
            amimesh_mac::mac::DataRequest::new(handle, dst, payload),
        )
        .unwrap();
    m.drain(from);
}
