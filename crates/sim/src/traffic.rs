//! A reference [`Node`]: a minimal 802.15.4 MAC that sends periodic data frames.
//!
//! It exists to exercise the medium with real MAC behaviour and to serve as a load generator
//! (and as an example of implementing [`Node`]):
//! - data frames, frame version 2006, PAN ID compression, short source and destination
//!   (802.15.4-2020 §7.2), payload = a 4-octet big-endian frame counter, padded;
//! - unslotted CSMA-CA with `amimesh_mac`'s [`Csma`] (802.15.4-2020 §6.2.5.1);
//! - acknowledged unicast with up to `macMaxFrameRetries` retries (§6.7.4), using either the
//!   radio's auto-ACK ([`RadioCaps::auto_ack`]) or software ACKs (sent `aTurnaroundTime` after
//!   the frame, waiting `macAckWaitDuration` for ours);
//! - optionally, on the uplink node, an uplink that it opens (reopening after `Down`) and a
//!   datagram sent every period, counting the answers.
//!
//! A software ACK due while the node's own transmit is outstanding is skipped and counted: a
//! node has at most one radio operation outstanding.

use crate::frame::{self, FRAME_TYPE_ACK, FRAME_TYPE_DATA};
use crate::node::{AckFilter, Node, Server, UplinkInput, UplinkOutput};
use amimesh_core::{Duration, Instant, LinkAddr, PanId, Rng, ShortAddr};
use amimesh_mac::mac::csma::{Csma, CsmaParams};
use amimesh_mac::mac::phy::PhyProfile;
use amimesh_mac::mac::radio::{RadioCaps, RadioOp, RxMeta, Transmit, TxKind, TxResult};
use std::collections::VecDeque;

/// `macMaxFrameRetries` default (802.15.4-2020 §8.4.3.1 Table 8-94).
pub const DEFAULT_MAX_FRAME_RETRIES: u8 = 3;

/// Configuration of a [`TrafficNode`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficConfig {
    /// Own short address.
    pub short: ShortAddr,
    /// PAN.
    pub pan_id: PanId,
    /// Channel.
    pub channel: u8,
    /// Destination of generated frames (broadcast: no ACK).
    pub dst: ShortAddr,
    /// Generation period; `None`: only receive.
    pub period: Option<Duration>,
    /// First frame at this time plus a random part of one period.
    pub start: Instant,
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
    /// MAC payload length (≥ 4).
    pub payload_len: usize,
    /// Request ACKs for unicast frames.
    pub ack_request: bool,
    /// Use the radio's auto-ACK.
    pub auto_ack: bool,
    /// `macMaxFrameRetries`.
    pub max_frame_retries: u8,
    /// CSMA-CA parameters.
    pub csma: CsmaParams,
    /// PHY timing.
    pub phy: PhyProfile,
    /// Frames waiting to be sent.
    pub queue_capacity: usize,
    /// Uplink datagram period (uplink node only); `None`: no uplink.
    pub uplink_period: Option<Duration>,
    /// Delay before reopening a failed or cut uplink.
    pub uplink_retry: Duration,
    /// PRNG seed.
    pub seed: u64,
}

impl TrafficConfig {
    /// A node with address `short` sending to `dst` every `period`, with auto-ACK.
    pub fn new(short: u16, dst: u16, period: Option<Duration>, seed: u64) -> Self {
        TrafficConfig {
            short: ShortAddr(short),
            pan_id: PanId(0xface),
            channel: 1,
            dst: ShortAddr(dst),
            period,
            start: Instant::ZERO,
            max_frames: None,
            payload_len: 40,
            ack_request: true,
            auto_ack: true,
            max_frame_retries: DEFAULT_MAX_FRAME_RETRIES,
            csma: CsmaParams::default(),
            phy: PhyProfile::SUN_FSK_920_100K,
            queue_capacity: 8,
            uplink_period: None,
            uplink_retry: Duration::from_secs(1),
            seed,
        }
    }
}

/// Why a frame was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// CSMA-CA found the channel busy too often.
    ChannelAccess,
    /// No ACK after every retry.
    NoAck,
}

/// What a [`TrafficNode`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficEvent {
    /// A frame was sent (and acknowledged, if it asked).
    Sent {
        /// MAC sequence number.
        seq: u8,
        /// Transmissions it took.
        attempts: u8,
    },
    /// A frame was given up.
    Failed {
        /// MAC sequence number.
        seq: u8,
        /// Why.
        reason: FailReason,
    },
    /// A data frame for this node (or broadcast) arrived.
    Received {
        /// Source short address.
        from: ShortAddr,
        /// The sender's frame counter.
        counter: u32,
        /// RSSI, dBm.
        rssi: i8,
    },
    /// The uplink is up.
    UplinkUp,
    /// The uplink is down.
    UplinkDown,
    /// A datagram came back over the uplink.
    UplinkReceived {
        /// Its length.
        len: usize,
    },
}

/// Counters of a [`TrafficNode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrafficStats {
    /// Frames generated.
    pub generated: u64,
    /// Frames dropped because the queue was full.
    pub queue_drops: u64,
    /// Frames sent successfully.
    pub sent: u64,
    /// Frames given up after CSMA failure.
    pub channel_access_failures: u64,
    /// Frames given up without ACK.
    pub no_ack_failures: u64,
    /// Transmissions (first tries and retries).
    pub transmissions: u64,
    /// Data frames received for this node.
    pub received: u64,
    /// Duplicates among them (same source and sequence number as the previous one).
    pub duplicates: u64,
    /// Software ACKs sent.
    pub acks_sent: u64,
    /// Software ACKs skipped because a transmit was outstanding.
    pub acks_skipped: u64,
    /// Uplink datagrams sent.
    pub uplink_sent: u64,
    /// Uplink datagrams received.
    pub uplink_received: u64,
}

#[derive(Debug, Clone)]
struct Attempt {
    frame: Vec<u8>,
    seq: u8,
    csma: Csma,
    transmissions: u8,
    need_tx: bool,
}

/// The reference node; see the module documentation.
#[derive(Debug, Clone)]
pub struct TrafficNode {
    cfg: TrafficConfig,
    rng: Rng,
    listening: bool,
    next_seq: u8,
    counter: u32,
    queue: VecDeque<u32>,
    current: Option<Attempt>,
    outstanding: Option<TxKind>,
    ack_deadline: Option<Instant>,
    pending_ack: Option<(u8, Instant)>,
    next_gen: Option<Instant>,
    last_rx: Option<(ShortAddr, u8)>,
    uplink_want_open: bool,
    uplink_up: bool,
    uplink_opening: bool,
    uplink_next: Option<Instant>,
    uplink_send: bool,
    events: VecDeque<TrafficEvent>,
    stats: TrafficStats,
}

/// Events kept for polling before the oldest are dropped.
const EVENT_CAP: usize = 256;

impl TrafficNode {
    /// A node from its configuration.
    pub fn new(cfg: TrafficConfig) -> Self {
        let mut rng = Rng::new(cfg.seed);
        let next_gen = cfg.period.map(|p| {
            let j = rng.below(p.total_micros().max(1));
            cfg.start + Duration::from_micros(j)
        });
        let uplink = cfg.uplink_period.is_some();
        TrafficNode {
            next_seq: rng.u8(),
            rng,
            listening: false,
            counter: 0,
            queue: VecDeque::new(),
            current: None,
            outstanding: None,
            ack_deadline: None,
            pending_ack: None,
            next_gen,
            last_rx: None,
            uplink_want_open: uplink,
            uplink_up: false,
            uplink_opening: false,
            uplink_next: None,
            uplink_send: false,
            events: VecDeque::new(),
            stats: TrafficStats::default(),
            cfg,
        }
    }

    /// Counters.
    pub fn stats(&self) -> TrafficStats {
        self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &TrafficConfig {
        &self.cfg
    }

    /// Queues one frame now (in addition to the periodic ones).
    pub fn send_now(&mut self) {
        self.generate();
    }

    fn event(&mut self, e: TrafficEvent) {
        if self.events.len() >= EVENT_CAP {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn generate(&mut self) {
        self.stats.generated += 1;
        self.counter = self.counter.wrapping_add(1);
        if self.queue.len() >= self.cfg.queue_capacity {
            self.stats.queue_drops += 1;
        } else {
            self.queue.push_back(self.counter);
        }
    }

    fn unicast(&self) -> bool {
        self.cfg.dst != ShortAddr::BROADCAST
    }

    /// The data frame for one counter value.
    pub fn build_frame(&self, seq: u8, counter: u32) -> Vec<u8> {
        let ar = self.cfg.ack_request && self.unicast();
        // Data, PAN ID compression, short destination and source, frame version 2006.
        let fc: u16 =
            0x0001 | if ar { 0x0020 } else { 0 } | 0x0040 | (2 << 10) | (1 << 12) | (2 << 14);
        let mut f = Vec::with_capacity(9 + self.cfg.payload_len.max(4));
        f.extend_from_slice(&fc.to_le_bytes());
        f.push(seq);
        f.extend_from_slice(&self.cfg.pan_id.to_le_bytes());
        f.extend_from_slice(&self.cfg.dst.to_le_bytes());
        f.extend_from_slice(&self.cfg.short.to_le_bytes());
        f.extend_from_slice(&counter.to_be_bytes());
        for i in 4..self.cfg.payload_len {
            f.push(i as u8);
        }
        f
    }

    fn finish_current(&mut self, ok: bool, reason: FailReason) {
        let Some(a) = self.current.take() else { return };
        self.ack_deadline = None;
        if ok {
            self.stats.sent += 1;
            self.event(TrafficEvent::Sent {
                seq: a.seq,
                attempts: a.transmissions,
            });
        } else {
            match reason {
                FailReason::ChannelAccess => self.stats.channel_access_failures += 1,
                FailReason::NoAck => self.stats.no_ack_failures += 1,
            }
            self.event(TrafficEvent::Failed { seq: a.seq, reason });
        }
    }

    fn retry(&mut self) {
        let max = self.cfg.max_frame_retries;
        let csma = Csma::new(&self.cfg.csma);
        let give_up = match self.current.as_mut() {
            Some(a) if a.transmissions <= max => {
                a.csma = csma;
                a.need_tx = true;
                false
            }
            Some(_) => true,
            None => false,
        };
        if give_up {
            self.finish_current(false, FailReason::NoAck);
        }
    }
}

impl Node for TrafficNode {
    type Event = TrafficEvent;

    fn radio_caps(&self) -> RadioCaps {
        RadioCaps {
            auto_ack: self.cfg.auto_ack,
            software_fcs: false,
        }
    }

    fn ack_filter(&self) -> AckFilter {
        AckFilter {
            pan_id: Some(self.cfg.pan_id),
            short: Some(self.cfg.short),
            ext: None,
        }
    }

    fn handle_tx_done(&mut self, now: Instant, result: TxResult) {
        let Some(kind) = self.outstanding.take() else {
            return;
        };
        if kind == TxKind::Ack {
            self.stats.acks_sent += 1;
            return;
        }
        let unicast_ar = self.cfg.ack_request && self.unicast();
        match result {
            TxResult::Ok { .. } => {
                if unicast_ar && !self.cfg.auto_ack {
                    self.ack_deadline = Some(now + self.cfg.phy.ack_wait_duration());
                } else {
                    self.finish_current(true, FailReason::NoAck);
                }
            }
            TxResult::ChannelBusy => {
                let p = self.cfg.csma;
                let again = match self.current.as_mut() {
                    Some(a) => {
                        // A transmission that never went out does not count.
                        a.transmissions = a.transmissions.saturating_sub(1);
                        let again = a.csma.on_busy(&p);
                        a.need_tx = again;
                        again
                    }
                    None => true,
                };
                if !again {
                    self.finish_current(false, FailReason::ChannelAccess);
                }
            }
            TxResult::NoAck => self.retry(),
        }
    }

    fn handle_frame(&mut self, _now: Instant, meta: RxMeta, psdu: &[u8]) {
        let Some(p) = frame::peek(psdu) else { return };
        if p.frame_type == FRAME_TYPE_ACK {
            if self.ack_deadline.is_some() && self.current.as_ref().map(|a| a.seq) == p.seq {
                self.finish_current(true, FailReason::NoAck);
            }
            return;
        }
        if p.frame_type != FRAME_TYPE_DATA || p.dst_pan != Some(self.cfg.pan_id) {
            return;
        }
        let to_me = p.dst == LinkAddr::Short(self.cfg.short);
        if !to_me && p.dst != LinkAddr::Short(ShortAddr::BROADCAST) {
            return;
        }
        // Our own frame format: source short address at 7..9, counter at 9..13.
        let src: Option<[u8; 2]> = psdu.get(7..9).and_then(|s| s.try_into().ok());
        let ctr: Option<[u8; 4]> = psdu.get(9..13).and_then(|s| s.try_into().ok());
        let (Some(src), Some(ctr)) = (src, ctr) else {
            return;
        };
        let from = ShortAddr(u16::from_le_bytes(src));
        let counter = u32::from_be_bytes(ctr);
        let Some(seq) = p.seq else { return };
        if to_me && p.ack_request && !self.cfg.auto_ack {
            if self.outstanding.is_some() {
                self.stats.acks_skipped += 1;
            } else {
                self.pending_ack = Some((seq, meta.at + self.cfg.phy.turnaround()));
            }
        }
        if self.last_rx == Some((from, seq)) {
            self.stats.duplicates += 1;
            return;
        }
        self.last_rx = Some((from, seq));
        self.stats.received += 1;
        self.event(TrafficEvent::Received {
            from,
            counter,
            rssi: meta.rssi,
        });
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(t) = self.next_gen.filter(|t| *t <= now) {
            self.generate();
            let done = self
                .cfg
                .max_frames
                .is_some_and(|m| self.stats.generated >= m);
            self.next_gen = match (self.cfg.period, done) {
                (Some(p), false) => Some(t + p),
                _ => None,
            };
        }
        if self.ack_deadline.is_some_and(|t| t <= now) {
            self.ack_deadline = None;
            self.retry();
        }
        if self.uplink_next.is_some_and(|t| t <= now) {
            self.uplink_next = None;
            if self.uplink_up {
                self.uplink_send = true;
                self.uplink_next = self.cfg.uplink_period.map(|p| now + p);
            } else if !self.uplink_opening {
                self.uplink_want_open = true;
            }
        }
    }

    fn handle_uplink(&mut self, now: Instant, input: UplinkInput<'_>) {
        match input {
            UplinkInput::Up => {
                self.uplink_up = true;
                self.uplink_opening = false;
                self.uplink_next = Some(now);
                self.event(TrafficEvent::UplinkUp);
            }
            UplinkInput::Down => {
                self.uplink_up = false;
                self.uplink_opening = false;
                self.uplink_next = Some(now + self.cfg.uplink_retry);
                self.event(TrafficEvent::UplinkDown);
            }
            UplinkInput::Datagram(d) => {
                self.stats.uplink_received += 1;
                self.event(TrafficEvent::UplinkReceived { len: d.len() });
            }
        }
    }

    fn poll_radio(&mut self, now: Instant, buf: &mut [u8]) -> Option<RadioOp> {
        if !self.listening {
            self.listening = true;
            return Some(RadioOp::Listen {
                channel: self.cfg.channel,
            });
        }
        if self.outstanding.is_some() {
            return None;
        }
        if let Some((seq, at)) = self.pending_ack.take() {
            let ack = frame::imm_ack(seq, false);
            buf.get_mut(..ack.len())?.copy_from_slice(&ack);
            self.outstanding = Some(TxKind::Ack);
            return Some(RadioOp::Transmit(Transmit {
                at: at.max(now),
                channel: self.cfg.channel,
                cca: false,
                len: ack.len(),
                kind: TxKind::Ack,
                ack_request: false,
                seq,
                dst: LinkAddr::Absent,
            }));
        }
        if self.ack_deadline.is_some() {
            return None;
        }
        if self.current.is_none() {
            let counter = self.queue.pop_front()?;
            let seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1);
            self.current = Some(Attempt {
                frame: self.build_frame(seq, counter),
                seq,
                csma: Csma::new(&self.cfg.csma),
                transmissions: 0,
                need_tx: true,
            });
        }
        let unit = self.cfg.phy.unit_backoff_period();
        let ar = self.cfg.ack_request && self.unicast();
        let dst = LinkAddr::Short(self.cfg.dst);
        let channel = self.cfg.channel;
        let a = self.current.as_mut()?;
        if !a.need_tx {
            return None;
        }
        let backoff = a.csma.backoff(unit, &mut self.rng);
        buf.get_mut(..a.frame.len())?.copy_from_slice(&a.frame);
        a.need_tx = false;
        a.transmissions = a.transmissions.saturating_add(1);
        self.stats.transmissions += 1;
        self.outstanding = Some(TxKind::Data);
        Some(RadioOp::Transmit(Transmit {
            at: now + backoff,
            channel,
            cca: true,
            len: a.frame.len(),
            kind: TxKind::Data,
            ack_request: ar,
            seq: a.seq,
            dst,
        }))
    }

    fn poll_uplink(&mut self, _now: Instant, buf: &mut [u8]) -> Option<UplinkOutput> {
        if self.uplink_want_open {
            self.uplink_want_open = false;
            self.uplink_opening = true;
            return Some(UplinkOutput::Open);
        }
        if self.uplink_send {
            self.uplink_send = false;
            self.stats.uplink_sent += 1;
            let n = self.stats.uplink_sent;
            let mut d = [0u8; 48];
            d[0] = 0x60; // IPv6 version nibble
            d[40..48].copy_from_slice(&n.to_be_bytes());
            buf.get_mut(..48)?.copy_from_slice(&d);
            return Some(UplinkOutput::Datagram { len: 48 });
        }
        None
    }

    fn poll_event(&mut self) -> Option<TrafficEvent> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.next_gen, self.ack_deadline, self.uplink_next]
            .into_iter()
            .flatten()
            .min()
    }
}

/// A server that answers every datagram with the same bytes (bounded backlog).
#[derive(Debug, Clone, Default)]
pub struct EchoServer {
    backlog: VecDeque<Vec<u8>>,
    capacity: usize,
    /// Datagrams received.
    pub received: u64,
    /// Datagrams dropped because the backlog was full.
    pub dropped: u64,
}

impl EchoServer {
    /// An echo server keeping at most `capacity` unanswered datagrams.
    pub fn new(capacity: usize) -> Self {
        EchoServer {
            backlog: VecDeque::new(),
            capacity,
            received: 0,
            dropped: 0,
        }
    }
}

impl Server for EchoServer {
    fn handle_datagram(&mut self, _now: Instant, datagram: &[u8]) {
        self.received += 1;
        if self.backlog.len() >= self.capacity {
            self.dropped += 1;
        } else {
            self.backlog.push_back(datagram.to_vec());
        }
    }

    fn poll_datagram(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        let d = self.backlog.pop_front()?;
        buf.get_mut(..d.len())?.copy_from_slice(&d);
        Some(d.len())
    }
}
