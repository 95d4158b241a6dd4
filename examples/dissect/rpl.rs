//! The `rpl` layer of `dissect` (ICMPv6 type 155), plus descriptions of the RPL option in a
//! Hop-by-Hop header and of the RPL Source Routing Header for the `ipv6` layer.

use amimesh::rpl::wire::{
    HbhOption, HbhRepr, Message, MessageRepr, OptionRepr, Options, Srh, SrhRepr, code_name,
};
use serde_json::{Map, Value, json};
use std::net::Ipv6Addr;

/// Decodes an RPL control message (the ICMPv6 code and body), adding `rpl` to `obj`:
/// `code` (number), `name`, and for the base objects that carry them `instance`, `version`,
/// `rank`, `dodag_id`, `mop`, `dtsn`, `sequence`, `status`, then `options` [{type, length}].
pub fn dissect(obj: &mut Map<String, Value>, code: u8, body: &[u8]) {
    let mut r = Map::new();
    r.insert("code".into(), json!(code));
    r.insert("name".into(), json!(code_name(code)));
    match Message::new_checked(code, body).and_then(|m| MessageRepr::parse(&m)) {
        Ok(repr) => describe(&mut r, &repr),
        Err(e) => crate::set_error(obj, format!("rpl: {e}")),
    }
    obj.insert("rpl".into(), Value::Object(r));
}

fn describe(r: &mut Map<String, Value>, repr: &MessageRepr<'_>) {
    let mut put = |k: &str, v: Value| {
        r.insert(k.into(), v);
    };
    let mut opts: Option<Options<'_>> = None;
    match repr {
        MessageRepr::Dis(d) => {
            put("flags", json!(d.flags));
            opts = Some(d.options);
        }
        MessageRepr::Dio(d) => {
            put("instance", json!(d.instance_id));
            put("version", json!(d.version));
            put("rank", json!(d.rank));
            put("grounded", json!(d.grounded));
            put("mop", json!(u8::from(d.mop)));
            put("preference", json!(d.dodag_preference));
            put("dtsn", json!(d.dtsn));
            put("dodag_id", json!(d.dodag_id.to_string()));
            opts = Some(d.options);
        }
        MessageRepr::Dao(d) => {
            put("instance", json!(d.instance_id));
            put("k", json!(d.expect_ack));
            put("sequence", json!(d.sequence));
            put("dodag_id", opt_addr(d.dodag_id));
            opts = Some(d.options);
        }
        MessageRepr::DaoAck(d) => {
            put("instance", json!(d.instance_id));
            put("sequence", json!(d.sequence));
            put("status", json!(d.status));
            put("dodag_id", opt_addr(d.dodag_id));
            opts = Some(d.options);
        }
        MessageRepr::Dco(d) => {
            put("instance", json!(d.instance_id));
            put("k", json!(d.expect_ack));
            put("sequence", json!(d.sequence));
            put("status", json!(d.status));
            put("dodag_id", opt_addr(d.dodag_id));
            opts = Some(d.options);
        }
        MessageRepr::DcoAck(d) => {
            put("instance", json!(d.instance_id));
            put("sequence", json!(d.sequence));
            put("status", json!(d.status));
            put("dodag_id", opt_addr(d.dodag_id));
            opts = Some(d.options);
        }
        MessageRepr::ConsistencyCheck(c) => {
            put("instance", json!(c.instance_id));
            put("response", json!(c.is_response));
            put("nonce", json!(c.nonce));
            put("dodag_id", json!(c.dodag_id.to_string()));
            put("destination_counter", json!(c.destination_counter));
            put(
                "security",
                json!({"kim": c.security.kim, "lvl": c.security.lvl, "counter": c.security.counter}),
            );
        }
        MessageRepr::Secure { security, body, .. } => {
            put(
                "security",
                json!({"kim": security.kim, "lvl": security.lvl, "counter": security.counter}),
            );
            put("secured_length", json!(body.len()));
        }
        MessageRepr::Unknown { body, .. } => put("length", json!(body.len())),
    }
    if let Some(o) = opts {
        let list: Vec<Value> = o
            .iter()
            .filter_map(|x| x.ok())
            .map(|x: OptionRepr<'_>| {
                let length = if matches!(x, OptionRepr::Pad1) { 0 } else { x.buffer_len() - 2 };
                json!({"type": u8::from(x.option_type()), "name": x.option_type().name(), "length": length})
            })
            .collect();
        put("options", Value::Array(list));
    }
}

/// An optional DODAG ID (present when the D flag is set) as a JSON string or `null`.
fn opt_addr(a: Option<Ipv6Addr>) -> Value {
    a.map_or(Value::Null, |a| json!(a.to_string()))
}

/// Describes an RPL option (RFC 6553 / RFC 9008) given as its TLV (type, length, data), for
/// the `ipv6` layer's Hop-by-Hop header: `{type, o, r, f, instance, sender_rank}`. `None` if it
/// is not an RPL option.
pub fn describe_hbh_option(tlv: &[u8]) -> Option<Value> {
    let r = HbhRepr::parse(&HbhOption::new_checked(tlv).ok()?).ok()?;
    Some(json!({
        "type": r.option_type,
        "o": r.down,
        "r": r.rank_error,
        "f": r.forwarding_error,
        "instance": r.instance_id,
        "sender_rank": r.sender_rank,
    }))
}

/// Describes an RPL Source Routing Header (routing type 3, RFC 6554) given as the whole
/// routing header, expanding addresses with the packet's IPv6 destination `dst`:
/// `{segments_left, cmpr_i, cmpr_e, pad, addresses: [..]}`. `None` if malformed.
pub fn describe_srh(hdr: &[u8], dst: Ipv6Addr) -> Option<Value> {
    let s = Srh::new_checked(hdr).ok()?;
    let r = SrhRepr::parse(&s).ok()?;
    let n = s.address_count()?;
    let addrs: Vec<Value> = (1..=n)
        .filter_map(|i| s.address(i, &dst))
        .map(|a| json!(a.to_string()))
        .collect();
    Some(json!({
        "segments_left": r.segments_left,
        "cmpr_i": r.cmpr_i,
        "cmpr_e": r.cmpr_e,
        "pad": r.pad,
        "addresses": addrs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dio_fixture_is_described() {
        let body = include_bytes!("../../crates/rpl/testdata/dio.bin");
        let mut obj = Map::new();
        dissect(&mut obj, 1, body);
        let r = &obj["rpl"];
        assert_eq!(r["code"], 1);
        assert_eq!(r["name"], "DIO");
        assert_eq!(r["instance"], 30);
        assert_eq!(r["version"], 240);
        assert_eq!(r["rank"], 256);
        assert_eq!(r["mop"], 1);
        assert_eq!(r["dtsn"], 240);
        assert_eq!(r["dodag_id"], "fd00::1");
        assert_eq!(r["options"][0]["type"], 4);
        assert_eq!(r["options"][0]["length"], 14);
        assert_eq!(r["options"][1]["type"], 8);
        assert_eq!(r["options"][1]["length"], 30);
        assert!(obj.get("error").is_none());
    }

    #[test]
    fn malformed_sets_error_and_helpers_describe_headers() {
        let mut obj = Map::new();
        obj.insert("error".into(), Value::Null);
        dissect(&mut obj, 1, &[1, 2, 3]);
        assert!(obj["error"].as_str().unwrap().starts_with("rpl:"));
        let h =
            describe_hbh_option(include_bytes!("../../crates/rpl/testdata/hbh_rpl.bin")).unwrap();
        assert_eq!(h["instance"], 30);
        assert_eq!(h["sender_rank"], 768);
        assert!(describe_hbh_option(&[0x05, 4, 0, 0, 0, 0]).is_none());
        let dst: Ipv6Addr = "fe80::ff:fe00:1".parse().unwrap();
        let s = describe_srh(include_bytes!("../../crates/rpl/testdata/srh.bin"), dst).unwrap();
        assert_eq!(s["segments_left"], 3);
        assert_eq!(s["addresses"][0], "fe80::5:5:5:5");
        assert_eq!(s["addresses"].as_array().unwrap().len(), 3);
    }
}
