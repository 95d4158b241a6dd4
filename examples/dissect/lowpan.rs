//! The `sixlowpan` layer of `dissect` (RFC 4944 / RFC 6282).
//!
//! Adds `sixlowpan` to the frame object: the dispatch, the mesh (`mesh`), broadcast (`bc0`)
//! and fragment (`frag`) headers, the IPHC fields (`iphc`, one per IPv6 header, tunnelled ones
//! included) and the NHC chain (`nhc`). Fragments go to a reassembler kept in [`State`]; the
//! frame that completes a datagram returns it.

use crate::{LinkInfo, cli::Options};
use amimesh::core::{Instant, LinkAddr};
use amimesh::sixlowpan::wire::iphc::IphcPacket;
use amimesh::sixlowpan::wire::lorh::{
    CRITICAL_CLASS, ELECTIVE_CLASS, IpInIp6LoRh, IpInIp6LoRhRepr, PAGE_1_DISPATCH, Rpi6LoRh,
    Rpi6LoRhRepr, Srh6LoRh, Srh6LoRhRepr, TYPE_IP_IN_IP, TYPE_SRH_MAX,
};
use amimesh::sixlowpan::wire::lowpan::{Bc0Repr, Dispatch, FragHeader, FragRepr, MeshRepr};
use amimesh::sixlowpan::wire::nhc::{ExtHeaderId, ExtNhcPacket, NhcKind, UdpNhcPacket};
use amimesh::sixlowpan::{Context, ContextTable, Reassembler, ReassemblyConfig, decompress};
use serde_json::{Map, Value, json};

/// Reassembly buffers carried across frames.
pub struct State {
    reassembler: Reassembler,
}

impl Default for State {
    fn default() -> Self {
        State {
            reassembler: Reassembler::new(ReassemblyConfig {
                buffers: 16,
                max_bytes: 16 * 2047,
                max_datagram: 2047,
                ..Default::default()
            }),
        }
    }
}

/// The contexts given with `--context N=PREFIX/LEN`.
pub fn contexts(opts: &Options) -> ContextTable {
    let mut t = ContextTable::new();
    for c in &opts.contexts {
        // The CLI already checked id <= 15; a bad length just leaves the slot empty.
        let _ = t.set(c.id, Context::new(c.prefix, c.len));
    }
    t.set_root(opts.rpl_root);
    t
}

fn link_json(a: LinkAddr) -> Value {
    json!(a.to_string())
}

/// Describes an IPHC header (and, through NHC, the chain behind it) into `obj`.
fn describe_iphc(bytes: &[u8], iphc: &mut Vec<Value>, nhc: &mut Vec<Value>) {
    let mut at = 0usize;
    for _ in 0..8 {
        let Ok(p) = IphcPacket::new_checked(bytes.get(at..).unwrap_or(&[])) else {
            return;
        };
        iphc.push(json!({
            "tf": p.tf(), "nh": p.nh(), "hlim": p.hlim(), "cid": p.cid(),
            "sac": p.sac(), "sam": p.sam(), "m": p.m(), "dac": p.dac(), "dam": p.dam(),
            "sci": p.sci(), "dci": p.dci(),
        }));
        at += p.header_len();
        if !p.nh() {
            return;
        }
        loop {
            let rest = bytes.get(at..).unwrap_or(&[]);
            match rest.first().map(|b| NhcKind::from_byte(*b)) {
                Some(Ok(NhcKind::Udp)) => {
                    if let Ok(u) = UdpNhcPacket::new_checked(rest) {
                        nhc.push(json!({
                            "type": "udp", "ports": u.ports_mode(),
                            "checksum_elided": u.checksum_elided(),
                            "src_port": u.src_port(), "dst_port": u.dst_port(),
                        }));
                    }
                    return;
                }
                Some(Ok(NhcKind::Ext(ExtHeaderId::Ipv6))) => {
                    nhc.push(json!({"type": "ext", "eid": 7}));
                    at += 1;
                    break;
                }
                Some(Ok(NhcKind::Ext(id))) => {
                    let Ok(e) = ExtNhcPacket::new_checked(rest) else {
                        return;
                    };
                    nhc.push(json!({
                        "type": "ext", "eid": id.eid(), "nh": e.nh(), "length": e.length(),
                    }));
                    at += e.header_len();
                    if !e.nh() {
                        return;
                    }
                }
                _ => return,
            }
        }
    }
}

/// Decodes the 6LoWPAN dispatch and headers, adds `sixlowpan` to `obj`, and returns the whole
/// IPv6 packet (decompressed and, for fragments, reassembled) when one is complete.
pub fn dissect(
    opts: &Options,
    state: &mut State,
    obj: &mut Map<String, Value>,
    link: LinkInfo,
    payload: &[u8],
    now: Instant,
) -> Option<Vec<u8>> {
    let ctx = contexts(opts);
    let mut out = Map::new();
    let (mut src, mut dst) = (link.src, link.dst);
    let mut p = payload;
    let result = (|| -> Result<Option<Vec<u8>>, String> {
        let first = *p.first().ok_or("empty 6LoWPAN payload")?;
        if Dispatch::from_byte(first) == Dispatch::Mesh {
            let (m, n) = MeshRepr::parse(p).map_err(|e| format!("mesh header: {e}"))?;
            out.insert(
                "mesh".into(),
                json!({"hops_left": m.hops_left, "originator": link_json(m.originator),
                       "final": link_json(m.final_dest)}),
            );
            // RFC 4944 §5.2: addresses derive from the originator and final destination.
            src = m.originator;
            dst = m.final_dest;
            p = p.get(n..).unwrap_or(&[]);
        }
        if p.first().map(|b| Dispatch::from_byte(*b)) == Some(Dispatch::Bc0) {
            let b = Bc0Repr::parse(p).map_err(|e| format!("BC0: {e}"))?;
            out.insert("bc0".into(), json!({"seq": b.seq}));
            p = p.get(2..).unwrap_or(&[]);
        }
        let first = *p.first().ok_or("nothing after mesh/broadcast header")?;
        let dispatch = Dispatch::from_byte(first);
        out.insert("dispatch".into(), json!(format!("0x{first:02x}")));
        let mut iphc = Vec::new();
        let mut nhc = Vec::new();
        let r = match dispatch {
            Dispatch::Frag1 | Dispatch::FragN => {
                let h = FragHeader::new_checked(p).map_err(|e| format!("fragment header: {e}"))?;
                let f = FragRepr::parse(&h).map_err(|e| e.to_string())?;
                out.insert(
                    "frag".into(),
                    json!({"first": !h.is_subsequent(), "size": f.size(), "tag": f.tag(),
                           "offset": f.offset_bytes()}),
                );
                if !h.is_subsequent()
                    && h.payload().first().map(|b| Dispatch::from_byte(*b)) == Some(Dispatch::Iphc)
                {
                    describe_iphc(h.payload(), &mut iphc, &mut nhc);
                }
                let done = state.reassembler.handle_fragment(now, src, dst, &ctx, p);
                out.insert("reassembled".into(), json!(done.is_some()));
                Ok(done.map(|d| d.packet))
            }
            Dispatch::Iphc => {
                describe_iphc(p, &mut iphc, &mut nhc);
                let mut buf = vec![0u8; 4096];
                let n =
                    decompress(p, src, dst, &ctx, &mut buf).map_err(|e| format!("IPHC: {e}"))?;
                buf.truncate(n);
                Ok(Some(buf))
            }
            Dispatch::Ipv6 => Ok(Some(p.get(1..).unwrap_or(&[]).to_vec())),
            // Page 1 (RFC 8025 §3): SRH-6LoRH headers (RFC 8138 §5.1), an RPI-6LoRH
            // (RFC 8138 §6.3), an IP-in-IP 6LoRH (RFC 8138 §7), in that order, then IPHC.
            Dispatch::Other(PAGE_1_DISPATCH) => {
                let mut at = 1;
                let mut srh = Vec::new();
                while p.get(at).is_some_and(|b| b >> 5 == CRITICAL_CLASS)
                    && p.get(at + 1).is_some_and(|t| *t <= TYPE_SRH_MAX)
                {
                    let v = Srh6LoRh::new_checked(p.get(at..).unwrap_or(&[]))
                        .map_err(|e| format!("SRH-6LoRH: {e}"))?;
                    let r = Srh6LoRhRepr::parse(&v).map_err(|e| format!("SRH-6LoRH: {e}"))?;
                    let hops: Vec<String> = (0..v.hop_count())
                        .filter_map(|i| v.hop(i))
                        .map(hex::encode)
                        .collect();
                    srh.push(json!({"type": r.lorh_type, "size": v.size(), "hops": hops}));
                    at += v.header_len();
                }
                if !srh.is_empty() {
                    out.insert("srh_6lorh".into(), Value::Array(srh));
                }
                if p.get(at).is_some_and(|b| b >> 5 == CRITICAL_CLASS) {
                    let v = Rpi6LoRh::new_checked(p.get(at..).unwrap_or(&[]))
                        .map_err(|e| format!("6LoRH: {e}"))?;
                    let r = Rpi6LoRhRepr::parse(&v).map_err(|e| format!("6LoRH: {e}"))?;
                    out.insert(
                        "rpi_6lorh".into(),
                        json!({"o": r.down, "r": r.rank_error, "f": r.forwarding_error,
                               "i": v.i_flag(), "k": v.k_flag(), "instance": r.instance_id,
                               "sender_rank": r.sender_rank}),
                    );
                    at += v.header_len();
                }
                if p.get(at).is_some_and(|b| b >> 5 == ELECTIVE_CLASS)
                    && p.get(at + 1) == Some(&TYPE_IP_IN_IP)
                {
                    let v = IpInIp6LoRh::new_checked(p.get(at..).unwrap_or(&[]))
                        .map_err(|e| format!("IP-in-IP-6LoRH: {e}"))?;
                    let r =
                        IpInIp6LoRhRepr::parse(&v).map_err(|e| format!("IP-in-IP-6LoRH: {e}"))?;
                    let encapsulator = match r.encapsulator_addr(ctx.root().as_ref()) {
                        Some(a) => json!(a.to_string()),
                        None => Value::Null,
                    };
                    out.insert(
                        "ip_in_ip_6lorh".into(),
                        json!({"length": v.length(), "hop_limit": r.hop_limit,
                               "encapsulator_octets": hex::encode(r.encapsulator),
                               "encapsulator": encapsulator}),
                    );
                    at += v.header_len();
                }
                describe_iphc(p.get(at..).unwrap_or(&[]), &mut iphc, &mut nhc);
                let mut buf = vec![0u8; 4096];
                let n =
                    decompress(p, src, dst, &ctx, &mut buf).map_err(|e| format!("6LoRH: {e}"))?;
                buf.truncate(n);
                Ok(Some(buf))
            }
            _ => Err(format!("unsupported 6LoWPAN dispatch 0x{first:02x}")),
        };
        if !iphc.is_empty() {
            out.insert("iphc".into(), Value::Array(iphc));
        }
        if !nhc.is_empty() {
            out.insert("nhc".into(), Value::Array(nhc));
        }
        r
    })();
    let packet = match result {
        Ok(p) => p,
        Err(e) => {
            crate::set_error(obj, e);
            None
        }
    };
    obj.insert("sixlowpan".into(), Value::Object(out));
    packet
}
