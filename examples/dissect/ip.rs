//! The `ipv6`, `udp` and `icmpv6` layers of `dissect`, and the hand-off to PANA (UDP 716),
//! MLE (UDP 19788) and RPL (ICMPv6 type 155).
//!
//! Extension headers are listed generically (`ipv6.ext`: type, length, options of Hop-by-Hop
//! and Destination Options headers, routing type and segments left of Routing headers); a
//! tunnelled IPv6 header appears as `ipv6.inner`.

use crate::{LinkInfo, cli::Options};
use amimesh::sixlowpan::wire::ext::{ExtHeader, RoutingHeader, is_ext_header};
use amimesh::sixlowpan::wire::{IpProtocol, icmpv6, ipv6, udp};
use serde_json::{Map, Value, json};
use std::net::Ipv6Addr;

/// UDP port of PANA (RFC 5191 §6.1).
const PANA_PORT: u16 = 716;
/// UDP port of MLE.
const MLE_PORT: u16 = 19788;

/// The final destination of an RFC 6554 source routing header (for the upper-layer checksum,
/// RFC 8200 §8.1), when segments are left.
fn srh_final(dst: Ipv6Addr, h: &RoutingHeader<&[u8]>) -> Option<Ipv6Addr> {
    if h.routing_type() != 3 || h.segments_left() == 0 {
        return None;
    }
    let data = h.data();
    let cmpr_i = usize::from(data.first()? >> 4);
    let cmpr_e = usize::from(data.first()? & 0x0f);
    let pad = usize::from(data.get(1)? >> 4);
    let addrs = data.get(4..)?;
    let body = addrs.len().checked_sub(pad)?;
    let last_len = 16 - cmpr_e;
    let n = (body.checked_sub(last_len)?) / (16 - cmpr_i) + 1;
    let start = (n - 1) * (16 - cmpr_i);
    let mut a = dst.octets();
    a.get_mut(cmpr_e..)?
        .copy_from_slice(addrs.get(start..start + last_len)?);
    Some(Ipv6Addr::from(a))
}

/// Decodes an uncompressed IPv6 packet and what it carries.
pub fn dissect(opts: &Options, obj: &mut Map<String, Value>, link: LinkInfo, packet: &[u8]) {
    let p = match ipv6::Packet::new_checked(packet) {
        Ok(p) if p.version() == 6 => p,
        Ok(p) => return crate::set_error(obj, format!("IP version {}", p.version())),
        Err(e) => return crate::set_error(obj, format!("IPv6: {e}")),
    };
    let mut ip = Map::new();
    header_json(&mut ip, &p);
    let (mut src, mut dst) = (p.src_addr(), p.dst_addr());
    let mut pseudo_dst = dst;
    let mut proto = p.next_header();
    let mut rest = p.payload();
    let mut exts = Vec::new();
    let mut depth = 0;
    loop {
        if is_ext_header(proto) {
            let Ok(h) = ExtHeader::new_checked(rest, proto) else {
                crate::set_error(obj, "IPv6 extension header truncated");
                break;
            };
            let mut e = Map::new();
            e.insert("type".into(), json!(u8::from(proto)));
            e.insert("length".into(), json!(h.header_len()));
            match proto {
                IpProtocol::HopByHop | IpProtocol::Ipv6Opts => {
                    let o: Vec<Value> = h
                        .options()
                        .map(|o| match o {
                            Ok(o) => {
                                let mut v = json!({"type": o.kind, "length": o.data.len(),
                                                   "data": hex::encode(o.data)});
                                // RFC 6553 / RFC 9008 RPL option, described by the RPL layer.
                                let mut tlv = vec![o.kind, o.data.len() as u8];
                                tlv.extend_from_slice(o.data);
                                if let (Some(r), Some(m)) =
                                    (crate::rpl::describe_hbh_option(&tlv), v.as_object_mut())
                                {
                                    m.insert("rpl".into(), r);
                                }
                                v
                            }
                            Err(e) => json!({"error": e.to_string()}),
                        })
                        .collect();
                    e.insert("options".into(), Value::Array(o));
                }
                IpProtocol::Ipv6Route => {
                    let r = RoutingHeader::new_unchecked(h.bytes());
                    e.insert("routing_type".into(), json!(r.routing_type()));
                    e.insert("segments_left".into(), json!(r.segments_left()));
                    if r.routing_type() == 3 {
                        if let Some(srh) = crate::rpl::describe_srh(h.bytes(), dst) {
                            e.insert("srh".into(), srh);
                        }
                    }
                    if let Some(f) = srh_final(dst, &r) {
                        pseudo_dst = f;
                    }
                }
                _ => {}
            }
            exts.push(Value::Object(e));
            proto = h.next_header();
            rest = rest.get(h.header_len()..).unwrap_or(&[]);
            continue;
        }
        if proto == IpProtocol::Ipv6 && depth < 4 {
            let Ok(inner) = ipv6::Packet::new_checked(rest) else {
                crate::set_error(obj, "tunnelled IPv6 truncated");
                break;
            };
            depth += 1;
            let mut i = Map::new();
            header_json(&mut i, &inner);
            ip.insert("inner".into(), Value::Object(i));
            src = inner.src_addr();
            dst = inner.dst_addr();
            pseudo_dst = dst;
            proto = inner.next_header();
            rest = inner.payload();
            continue;
        }
        break;
    }
    if !exts.is_empty() {
        ip.insert("ext".into(), Value::Array(exts));
    }
    obj.insert("ipv6".into(), Value::Object(ip));
    match proto {
        IpProtocol::Udp => match udp::Packet::new_checked(rest) {
            Ok(u) => {
                obj.insert(
                    "udp".into(),
                    json!({
                        "src_port": u.src_port(), "dst_port": u.dst_port(), "length": u.len(),
                        "checksum": u.checksum(),
                        "checksum_ok": u.verify_checksum(&src, &pseudo_dst),
                    }),
                );
                let payload = u.payload();
                if u.src_port() == PANA_PORT || u.dst_port() == PANA_PORT {
                    crate::pana::dissect(obj, payload);
                } else if u.src_port() == MLE_PORT || u.dst_port() == MLE_PORT {
                    crate::mle::dissect(opts, obj, link, src, dst, payload);
                }
            }
            Err(e) => crate::set_error(obj, format!("UDP: {e}")),
        },
        IpProtocol::Icmpv6 => match icmpv6::Packet::new_checked(rest) {
            Ok(m) => {
                obj.insert(
                    "icmpv6".into(),
                    json!({
                        "type": u8::from(m.msg_type()), "code": m.msg_code(),
                        "checksum": m.checksum(),
                        "checksum_ok": m.verify_checksum(&src, &pseudo_dst),
                    }),
                );
                if m.msg_type() == icmpv6::Icmpv6Type::Rpl {
                    crate::rpl::dissect(obj, m.msg_code(), m.body());
                }
            }
            Err(e) => crate::set_error(obj, format!("ICMPv6: {e}")),
        },
        _ => {}
    }
}

fn header_json<T: AsRef<[u8]>>(m: &mut Map<String, Value>, p: &ipv6::Packet<T>) {
    m.insert("src".into(), json!(p.src_addr().to_string()));
    m.insert("dst".into(), json!(p.dst_addr().to_string()));
    m.insert("hop_limit".into(), json!(p.hop_limit()));
    m.insert("traffic_class".into(), json!(p.traffic_class()));
    m.insert("flow_label".into(), json!(p.flow_label()));
    m.insert("payload_length".into(), json!(p.payload_len()));
    m.insert("next_header".into(), json!(u8::from(p.next_header())));
}
