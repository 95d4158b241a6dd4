#![allow(dead_code)] // layers are filled in one crate at a time
//! `dissect`: decode a capture layer by layer and print one JSON object per frame (JSON Lines).
//!
//! ```text
//! cargo run --example dissect -- FILE.pcap [--key HEX[:INDEX]]... [--network-key HEX[:INDEX]]...
//!                                [--mle-key HEX[:INDEX]]... [--context N=PREFIX/64]...
//! ```
//!
//! Link types: 195 (802.15.4 with FCS), 230 (802.15.4 without FCS), 283 (802.15.4 TAP, whose
//! FCS-type TLV says whether an FCS follows) and 229 (raw IPv6, decoded from the IPv6 layer up).
//! Every layer adds its own key to the frame object (`mac`, `sixlowpan`, `ipv6`, `udp`,
//! `icmpv6`, `rpl`, `mle`, `pana`, `eap`). A malformed frame gets an `error` string and the run
//! goes on with the next frame.

mod cli;
mod ip;
mod lowpan;
mod mac;
mod mle;
mod pana;
mod rpl;

use amimesh::core::Instant;
use anyhow::{Context, Result, bail};
use pcap_file::pcap::PcapReader;
use serde_json::{Map, Value, json};
use std::io::Write;

/// Link-layer facts that upper layers need (6LoWPAN address derivation, MLE nonce).
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkInfo {
    /// MAC source address.
    pub src: amimesh::core::LinkAddr,
    /// MAC destination address.
    pub dst: amimesh::core::LinkAddr,
    /// The source's extended address, when the frame or an earlier frame told us.
    pub src_ext: Option<amimesh::core::ExtAddr>,
}

/// The FCS that follows the MAC frame in a capture record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FcsKind {
    None,
    Crc16,
    Crc32,
}

fn main() -> Result<()> {
    let opts = cli::Options::parse_args()?;
    let file = std::fs::File::open(&opts.file).with_context(|| format!("open {}", opts.file))?;
    let mut reader = PcapReader::new(file).context("not a pcap file")?;
    let linktype = u32::from(reader.header().datalink);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut state = State::default();
    let mut n = 0u64;
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.context("reading packet")?;
        n += 1;
        // The capture time drives reassembly timeouts (RFC 4944 §5.3).
        let now =
            Instant::from_micros(i64::try_from(pkt.timestamp.as_micros()).unwrap_or(i64::MAX));
        let obj = dissect_record(&opts, &mut state, linktype, &pkt.data, n, now)?;
        serde_json::to_writer(&mut out, &Value::Object(obj))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// State carried from frame to frame (6LoWPAN reassembly, learnt short→extended mappings).
#[derive(Default)]
pub struct State {
    pub lowpan: lowpan::State,
    pub mac: mac::State,
}

fn dissect_record(
    opts: &cli::Options,
    state: &mut State,
    linktype: u32,
    data: &[u8],
    n: u64,
    now: Instant,
) -> Result<Map<String, Value>> {
    let mut obj = Map::new();
    obj.insert("frame".into(), json!(n));
    obj.insert("error".into(), Value::Null);
    match linktype {
        195 => dissect_wpan(opts, state, &mut obj, data, FcsKind::Crc16, now),
        230 => dissect_wpan(opts, state, &mut obj, data, FcsKind::None, now),
        283 => match split_tap(data) {
            Ok((fcs, psdu)) => dissect_wpan(opts, state, &mut obj, psdu, fcs, now),
            Err(e) => set_error(&mut obj, e),
        },
        229 => ip::dissect(opts, &mut obj, LinkInfo::default(), data),
        other => bail!("unsupported pcap link type {other} (expected 195, 230, 283 or 229)"),
    }
    Ok(obj)
}

fn dissect_wpan(
    opts: &cli::Options,
    state: &mut State,
    obj: &mut Map<String, Value>,
    psdu: &[u8],
    fcs: FcsKind,
    now: Instant,
) {
    let Some((link, payload)) = mac::dissect(opts, &mut state.mac, obj, psdu, fcs) else {
        return;
    };
    let Some(packet) = lowpan::dissect(opts, &mut state.lowpan, obj, link, &payload, now) else {
        return;
    };
    ip::dissect(opts, obj, link, &packet);
}

/// Records a decode error on the frame (the first one wins).
pub fn set_error(obj: &mut Map<String, Value>, msg: impl std::fmt::Display) {
    if obj.get("error").is_none_or(Value::is_null) {
        obj.insert("error".into(), json!(msg.to_string()));
    }
}

/// Splits an IEEE 802.15.4 TAP record (linktype 283) into its FCS type and the PSDU.
/// Header: version(1) reserved(1) length(2, LE, whole header) then TLVs type(2) length(2) value
/// padded to 4. TLV 0 is the FCS type (0 none, 1 CRC-16, 2 CRC-32).
fn split_tap(data: &[u8]) -> std::result::Result<(FcsKind, &[u8]), String> {
    let Some(&[version, _, l0, l1]) = data.first_chunk::<4>() else {
        return Err("TAP header truncated".into());
    };
    if version != 0 {
        return Err(format!("TAP version {version} unsupported"));
    }
    let len = usize::from(u16::from_le_bytes([l0, l1]));
    let mut rest = data.get(4..len).ok_or("TAP header length exceeds record")?;
    let mut fcs = FcsKind::Crc16;
    while let Some(&[t0, t1, v0, v1]) = rest.first_chunk::<4>() {
        let l = usize::from(u16::from_le_bytes([v0, v1]));
        let value = rest.get(4..4 + l).ok_or("TAP TLV truncated")?;
        if u16::from_le_bytes([t0, t1]) == 0 {
            fcs = match value.first() {
                Some(0) => FcsKind::None,
                Some(1) => FcsKind::Crc16,
                Some(2) => FcsKind::Crc32,
                _ => return Err("TAP FCS type unknown".into()),
            };
        }
        rest = rest.get(4 + l.div_ceil(4) * 4..).unwrap_or(&[]);
    }
    Ok((fcs, data.get(len..).unwrap_or(&[])))
}
