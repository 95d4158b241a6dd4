//! The event trace: every observable thing the simulator does, folded into a 64-bit hash and
//! optionally kept as records.
//!
//! The hash is FNV-1a (bytes) with word-wide multiply-xor steps for integers, over a fixed
//! encoding of each record (time, kind, node ids, lengths, and the `Debug` text of node events), so it is the same on every platform and every run.
//! Two runs with the same seed and the same nodes give the same hash; tests assert it.

use crate::NodeId;
use amimesh_core::Instant;
use amimesh_mac::mac::radio::TxResult;
use std::collections::VecDeque;

/// Why a frame that reached a receiver's neighbourhood was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossCause {
    /// Another frame overlapped it at the receiver (no capture).
    Collision,
    /// The PRR draw failed (bit errors).
    Fading,
    /// Dropped by the configured extra loss.
    ExtraLoss,
    /// The receiver started transmitting, changed channel or was switched off mid-frame.
    Interrupted,
    /// The FCS was wrong (sent by a software-FCS node) and the receiving radio checks it.
    BadFcs,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceKind {
    /// A node's transmission went on air.
    TxStart {
        /// Sender.
        node: NodeId,
        /// Channel.
        channel: u8,
        /// MPDU length (no FCS).
        len: usize,
        /// An immediate ACK sent by an auto-ACK radio.
        auto_ack: bool,
    },
    /// The outcome of a node's transmit operation was reported to it.
    TxDone {
        /// The node.
        node: NodeId,
        /// The result.
        result: TxResult,
    },
    /// A frame was delivered to a node.
    Rx {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// MPDU length.
        len: usize,
        /// RSSI, dBm.
        rssi: i8,
    },
    /// A frame did not make it to a receiver that had synchronised on it.
    Lost {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// Why.
        cause: LossCause,
    },
    /// A node's timer fired.
    Timer {
        /// The node.
        node: NodeId,
    },
    /// A node reported an event (its `Debug` text).
    Event {
        /// The node.
        node: NodeId,
        /// `format!("{event:?}")`.
        text: String,
    },
    /// A node broke the radio contract (second transmit outstanding, frame too long).
    ContractViolation {
        /// The node.
        node: NodeId,
    },
    /// An uplink datagram was sent (`up`: relay → servers).
    UplinkSend {
        /// Direction: `true` towards the servers.
        up: bool,
        /// Length.
        len: usize,
    },
    /// An uplink datagram arrived.
    UplinkDeliver {
        /// Direction: `true` towards the servers.
        up: bool,
        /// Length.
        len: usize,
    },
    /// An uplink datagram was dropped (down, queue full or lost).
    UplinkDrop {
        /// Direction: `true` towards the servers.
        up: bool,
    },
    /// The uplink came up (`true`) or went down.
    UplinkState {
        /// Up.
        up: bool,
    },
    /// A node was powered off, or (re)started.
    Power {
        /// The node.
        node: NodeId,
        /// `true` when started.
        on: bool,
    },
}

/// A timestamped trace entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRecord {
    /// When.
    pub at: Instant,
    /// What.
    pub kind: TraceKind,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The running trace: a hash of everything plus the last `capacity` records.
#[derive(Debug, Clone)]
pub struct Trace {
    hash: u64,
    count: u64,
    records: VecDeque<TraceRecord>,
    capacity: usize,
}

impl Trace {
    /// A trace that keeps the last `capacity` records (0: hash only).
    pub fn new(capacity: usize) -> Self {
        Trace {
            hash: FNV_OFFSET,
            count: 0,
            records: VecDeque::new(),
            capacity,
        }
    }

    #[inline(always)]
    fn mix(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.hash ^= u64::from(*b);
            self.hash = self.hash.wrapping_mul(FNV_PRIME);
        }
    }

    /// One multiply per 64-bit word (FNV-style, word-wide).
    #[inline(always)]
    fn mix_u64(&mut self, v: u64) {
        self.hash = (self.hash ^ v).wrapping_mul(FNV_PRIME);
        self.hash ^= self.hash >> 32;
    }

    /// Records one entry. Inlined, so that at each call site only the hashing of the kind
    /// built there remains.
    #[inline]
    pub fn record(&mut self, at: Instant, kind: TraceKind) {
        self.count = self.count.wrapping_add(1);
        self.mix_u64(at.total_micros() as u64);
        self.mix_kind(&kind);
        if self.capacity > 0 {
            self.keep(at, kind);
        }
    }

    /// `record(at, TraceKind::Rx { from, to, len, rssi })` without building the kind when
    /// no records are kept (one of these per frame per receiver).
    #[inline]
    pub(crate) fn record_rx(
        &mut self,
        at: Instant,
        from: NodeId,
        to: NodeId,
        len: usize,
        rssi: i8,
    ) {
        if self.capacity > 0 {
            self.record(
                at,
                TraceKind::Rx {
                    from,
                    to,
                    len,
                    rssi,
                },
            );
            return;
        }
        self.count = self.count.wrapping_add(1);
        self.mix_u64(at.total_micros() as u64);
        self.mix(&[3, rssi as u8]);
        self.mix_u64(u64::from(from.0) << 32 | u64::from(to.0));
        self.mix_u64(len as u64);
    }

    /// `record(at, TraceKind::Lost { from, to, cause })` without building the kind when no
    /// records are kept.
    #[inline]
    pub(crate) fn record_lost(&mut self, at: Instant, from: NodeId, to: NodeId, cause: LossCause) {
        if self.capacity > 0 {
            self.record(at, TraceKind::Lost { from, to, cause });
            return;
        }
        self.count = self.count.wrapping_add(1);
        self.mix_u64(at.total_micros() as u64);
        self.mix(&[4, cause as u8]);
        self.mix_u64(u64::from(from.0) << 32 | u64::from(to.0));
    }

    /// Keeps a record, dropping the oldest beyond the capacity.
    #[inline(never)]
    fn keep(&mut self, at: Instant, kind: TraceKind) {
        if self.records.len() >= self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(TraceRecord { at, kind });
    }

    /// Folds a kind into the hash.
    #[inline]
    fn mix_kind(&mut self, kind: &TraceKind) {
        match kind {
            TraceKind::TxStart {
                node,
                channel,
                len,
                auto_ack,
            } => {
                self.mix(&[1, *channel, u8::from(*auto_ack)]);
                self.mix_u64(u64::from(node.0));
                self.mix_u64(*len as u64);
            }
            TraceKind::TxDone { node, result } => {
                let r = match result {
                    TxResult::Ok {
                        frame_pending: false,
                    } => 0,
                    TxResult::Ok {
                        frame_pending: true,
                    } => 1,
                    TxResult::ChannelBusy => 2,
                    TxResult::NoAck => 3,
                };
                self.mix(&[2, r]);
                self.mix_u64(u64::from(node.0));
            }
            TraceKind::Rx {
                from,
                to,
                len,
                rssi,
            } => {
                self.mix(&[3, *rssi as u8]);
                self.mix_u64(u64::from(from.0) << 32 | u64::from(to.0));
                self.mix_u64(*len as u64);
            }
            TraceKind::Lost { from, to, cause } => {
                self.mix(&[4, *cause as u8]);
                self.mix_u64(u64::from(from.0) << 32 | u64::from(to.0));
            }
            TraceKind::Timer { node } => {
                self.mix(&[5]);
                self.mix_u64(u64::from(node.0));
            }
            TraceKind::Event { node, text } => {
                self.mix(&[6]);
                self.mix_u64(u64::from(node.0));
                self.mix(text.as_bytes());
                self.mix(&[0]);
            }
            TraceKind::ContractViolation { node } => {
                self.mix(&[7]);
                self.mix_u64(u64::from(node.0));
            }
            TraceKind::UplinkSend { up, len } => {
                self.mix(&[8, u8::from(*up)]);
                self.mix_u64(*len as u64);
            }
            TraceKind::UplinkDeliver { up, len } => {
                self.mix(&[9, u8::from(*up)]);
                self.mix_u64(*len as u64);
            }
            TraceKind::UplinkDrop { up } => self.mix(&[10, u8::from(*up)]),
            TraceKind::UplinkState { up } => self.mix(&[11, u8::from(*up)]),
            TraceKind::Power { node, on } => {
                self.mix(&[12, u8::from(*on)]);
                self.mix_u64(u64::from(node.0));
            }
        }
    }

    /// Records a node event with `event`'s `Debug` text: the same as
    /// `record(at, TraceKind::Event { node, text: format!("{event:?}") })`, but when no
    /// records are kept the text goes straight into the hash, without building a string.
    pub fn record_event(&mut self, at: Instant, node: NodeId, event: &dyn core::fmt::Debug) {
        if self.capacity > 0 {
            let text = format!("{event:?}");
            self.record(at, TraceKind::Event { node, text });
            return;
        }
        self.count = self.count.wrapping_add(1);
        self.mix_u64(at.total_micros() as u64);
        self.mix(&[6]);
        self.mix_u64(u64::from(node.0));
        // Writing into the hash cannot fail.
        let _ = core::fmt::write(&mut HashWriter(self), format_args!("{event:?}"));
        self.mix(&[0]);
    }

    /// The hash of everything recorded so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Number of entries recorded so far (including those no longer kept).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The kept records, oldest first.
    pub fn records(&self) -> impl Iterator<Item = &TraceRecord> {
        self.records.iter()
    }
}

/// Feeds formatted text into a trace's hash.
struct HashWriter<'a>(&'a mut Trace);

impl core::fmt::Write for HashWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.mix(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_hashes_the_same_with_or_without_kept_records() {
        #[derive(Debug)]
        #[allow(dead_code)] // read through Debug
        enum E {
            Joined { rank: u16, name: &'static str },
        }
        let ev = E::Joined {
            rank: 512,
            name: "pre-7",
        };
        let mut streamed = Trace::new(0);
        let mut kept = Trace::new(4);
        let mut by_hand = Trace::new(0);
        for t in [&mut streamed, &mut kept] {
            t.record(Instant::ZERO, TraceKind::Timer { node: NodeId(3) });
            t.record_event(Instant::from_micros(9), NodeId(3), &ev);
        }
        by_hand.record(Instant::ZERO, TraceKind::Timer { node: NodeId(3) });
        by_hand.record(
            Instant::from_micros(9),
            TraceKind::Event {
                node: NodeId(3),
                text: format!("{ev:?}"),
            },
        );
        assert_eq!(streamed.hash(), by_hand.hash());
        assert_eq!(kept.hash(), by_hand.hash());
        assert_eq!(streamed.count(), 2);
        let last = kept.records().last().map(|r| r.kind.clone());
        assert_eq!(
            last,
            Some(TraceKind::Event {
                node: NodeId(3),
                text: "Joined { rank: 512, name: \"pre-7\" }".into()
            })
        );
        let mut other = Trace::new(0);
        other.record(Instant::ZERO, TraceKind::Timer { node: NodeId(3) });
        other.record_event(Instant::from_micros(9), NodeId(3), &"Joined");
        assert_ne!(other.hash(), streamed.hash());
    }

    #[test]
    fn rx_and_lost_hash_as_their_records() {
        let (from, to) = (NodeId(7), NodeId(70_000));
        let mut direct = Trace::new(0);
        let mut kept = Trace::new(8);
        let mut by_kind = Trace::new(0);
        for t in [&mut direct, &mut kept] {
            t.record_rx(Instant::from_micros(5), from, to, 127, -93);
            t.record_lost(Instant::from_micros(6), to, from, LossCause::Fading);
            t.record_lost(Instant::from_micros(6), from, to, LossCause::BadFcs);
        }
        by_kind.record(
            Instant::from_micros(5),
            TraceKind::Rx {
                from,
                to,
                len: 127,
                rssi: -93,
            },
        );
        by_kind.record(
            Instant::from_micros(6),
            TraceKind::Lost {
                from: to,
                to: from,
                cause: LossCause::Fading,
            },
        );
        by_kind.record(
            Instant::from_micros(6),
            TraceKind::Lost {
                from,
                to,
                cause: LossCause::BadFcs,
            },
        );
        assert_eq!(direct.hash(), by_kind.hash());
        assert_eq!(kept.hash(), by_kind.hash());
        assert_eq!(direct.count(), 3);
        assert_eq!(kept.records().count(), 3);
        assert_eq!(
            kept.records().next().map(|r| r.kind.clone()),
            Some(TraceKind::Rx {
                from,
                to,
                len: 127,
                rssi: -93
            })
        );
        let mut other = Trace::new(0);
        other.record_rx(Instant::from_micros(5), from, to, 127, -92);
        assert_ne!(other.hash(), direct.hash());
    }

    #[test]
    fn hash_depends_on_content_and_order() {
        let mut a = Trace::new(0);
        let mut b = Trace::new(0);
        let t1 = TraceKind::Timer { node: NodeId(1) };
        let t2 = TraceKind::Timer { node: NodeId(2) };
        a.record(Instant::ZERO, t1.clone());
        a.record(Instant::ZERO, t2.clone());
        b.record(Instant::ZERO, t2);
        b.record(Instant::ZERO, t1);
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.count(), 2);
        assert_eq!(a.records().count(), 0);
    }

    #[test]
    fn keeps_the_last_records() {
        let mut t = Trace::new(2);
        for i in 0..5 {
            t.record(
                Instant::from_micros(i),
                TraceKind::Timer { node: NodeId(0) },
            );
        }
        let ats: Vec<i64> = t.records().map(|r| r.at.total_micros()).collect();
        assert_eq!(ats, vec![3, 4]);
    }
}
