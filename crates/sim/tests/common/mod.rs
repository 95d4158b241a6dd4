//! A scripted node for medium tests: it performs given radio operations at given times and
//! records everything it is told.
#![allow(dead_code)]

use amimesh_core::{Instant, LinkAddr, PanId, ShortAddr};
use amimesh_mac::mac::radio::{RadioCaps, RadioOp, RxMeta, Transmit, TxKind, TxResult};
use amimesh_sim::{AckFilter, Node, NodeId, Propagation, RadioModel};
use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    TxDone(Instant, TxResult),
    Frame(Instant, RxMeta, Vec<u8>),
}

#[derive(Debug, Default)]
pub struct Script {
    pub caps: RadioCaps,
    pub filter: Option<AckFilter>,
    pub ops: VecDeque<(Instant, RadioOp, Vec<u8>)>,
    pub log: Vec<Input>,
}

pub const PAN: PanId = PanId(0xface);

impl Script {
    pub fn new() -> Self {
        Script::default()
    }

    pub fn auto_ack(mut self, short: u16) -> Self {
        self.caps.auto_ack = true;
        self.filter = Some(AckFilter {
            pan_id: Some(PAN),
            short: Some(ShortAddr(short)),
            ext: None,
        });
        self
    }

    pub fn listen(mut self, at: i64, channel: u8) -> Self {
        self.ops.push_back((
            Instant::from_micros(at),
            RadioOp::Listen { channel },
            vec![],
        ));
        self
    }

    pub fn off(mut self, at: i64) -> Self {
        self.ops
            .push_back((Instant::from_micros(at), RadioOp::Off, vec![]));
        self
    }

    /// A transmit op requested at `at_us` (delivered to the sim at that time) to start at
    /// the same instant.
    pub fn tx(mut self, at: i64, channel: u8, cca: bool, frame: Vec<u8>) -> Self {
        let p = amimesh_sim::frame::peek(&frame).unwrap();
        let t = Transmit {
            at: Instant::from_micros(at),
            channel,
            cca,
            len: frame.len(),
            kind: TxKind::Data,
            ack_request: p.ack_request,
            seq: p.seq.unwrap_or(0),
            dst: p.dst,
        };
        self.ops
            .push_back((Instant::from_micros(at), RadioOp::Transmit(t), frame));
        self
    }

    pub fn tx_results(&self) -> Vec<(i64, TxResult)> {
        self.log
            .iter()
            .filter_map(|i| match i {
                Input::TxDone(t, r) => Some((t.total_micros(), *r)),
                _ => None,
            })
            .collect()
    }

    pub fn frames(&self) -> Vec<(RxMeta, Vec<u8>)> {
        self.log
            .iter()
            .filter_map(|i| match i {
                Input::Frame(_, m, f) => Some((*m, f.clone())),
                _ => None,
            })
            .collect()
    }
}

impl Node for Script {
    type Event = String;

    fn radio_caps(&self) -> RadioCaps {
        self.caps
    }

    fn ack_filter(&self) -> AckFilter {
        self.filter.unwrap_or(AckFilter::NONE)
    }

    fn handle_tx_done(&mut self, now: Instant, result: TxResult) {
        self.log.push(Input::TxDone(now, result));
    }

    fn handle_frame(&mut self, now: Instant, meta: RxMeta, psdu: &[u8]) {
        self.log.push(Input::Frame(now, meta, psdu.to_vec()));
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_radio(&mut self, now: Instant, buf: &mut [u8]) -> Option<RadioOp> {
        if self.ops.front().is_some_and(|(t, _, _)| *t <= now) {
            let (_, op, bytes) = self.ops.pop_front()?;
            buf[..bytes.len()].copy_from_slice(&bytes);
            return Some(op);
        }
        None
    }

    fn poll_event(&mut self) -> Option<String> {
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.ops.front().map(|(t, _, _)| *t)
    }
}

/// A 2006 data frame, PAN ID compression, short addresses, `payload` zero octets.
pub fn data_frame(seq: u8, dst: u16, src: u16, ar: bool, payload: usize) -> Vec<u8> {
    let fc: u16 = 0x0001 | if ar { 0x20 } else { 0 } | 0x40 | (2 << 10) | (1 << 12) | (2 << 14);
    let mut f = fc.to_le_bytes().to_vec();
    f.push(seq);
    f.extend_from_slice(&PAN.to_le_bytes());
    f.extend_from_slice(&dst.to_le_bytes());
    f.extend_from_slice(&src.to_le_bytes());
    f.extend(std::iter::repeat_n(0u8, payload));
    let _ = LinkAddr::Absent;
    f
}

/// A radio model with an explicit, symmetric link table (RSSI in dBm).
pub fn table_model(links: &[(u32, u32, f64)]) -> RadioModel {
    let mut t = BTreeMap::new();
    for &(a, b, r) in links {
        t.insert((NodeId(a), NodeId(b)), r);
        t.insert((NodeId(b), NodeId(a)), r);
    }
    RadioModel {
        propagation: Propagation::Table(t),
        ..RadioModel::default()
    }
}

/// Airtime in µs of an MPDU on the default PHY (SUN FSK 100 kb/s: SHR 48 symbols, PHR 2
/// octets, FCS 4 octets, 8 symbols of 10 µs per octet).
pub fn sun_airtime_us(mpdu_len: i64) -> i64 {
    (48 + (2 + mpdu_len + 4) * 8) * 10
}
