//! The `pana` and `eap` layers of `dissect` (UDP 716).
//!
//! `pana`: `type` (number), `type_name` (PCI, PAR, PAN, …), `flags` (the 16-bit word),
//! `flags_str` (R S C A P I letters), `session_id`, `seq`, `length`, `avps`
//! (`[{code, name, vendor, length}]`), and for PANA-Relay `pac_information` and `relayed` (the
//! inner message, same shape). `eap`: `code`, `identifier`, `length`, `type`, `identity`, and
//! for EAP-PSK `psk` with `t`, `rand_s`, `rand_p`, `mac_p`, `mac_s`, `id_s`, `id_p`, `pchannel`.

use amimesh::pana::wire::{
    AvpCode, EapRepr, EapType, Message, MessageRepr, MessageType, Packet, PskRepr,
};
use serde_json::{Map, Value, json};

/// Decodes a PANA message (and EAP inside it), adding `pana` and `eap` to `obj`.
pub fn dissect(obj: &mut Map<String, Value>, payload: &[u8]) {
    match message(payload, obj, 0) {
        Ok(v) => {
            obj.insert("pana".into(), v);
        }
        Err(e) => crate::set_error(obj, format!("pana: {e}")),
    }
}

fn avp_name(c: AvpCode) -> String {
    match c {
        AvpCode::Unknown(v) => format!("unknown-{v}"),
        known => format!("{known:?}"),
    }
}

fn message(
    payload: &[u8],
    obj: &mut Map<String, Value>,
    depth: u8,
) -> Result<Value, amimesh::pana::Error> {
    let m = Message::new_checked(payload)?;
    let r = MessageRepr::parse(&m)?;
    let mut avps = Vec::new();
    let mut out = Map::new();
    out.insert("type".into(), json!(u16::from(r.message_type)));
    out.insert(
        "type_name".into(),
        json!(r.message_type.abbreviation(r.is_request())),
    );
    out.insert("flags".into(), json!(r.flags.0));
    out.insert("flags_str".into(), json!(r.flags.to_string()));
    out.insert("session_id".into(), json!(r.session_id));
    out.insert("seq".into(), json!(r.seq));
    out.insert("length".into(), json!(m.message_length()));
    for a in r.avps() {
        let a = a?;
        avps.push(json!({
            "code": u16::from(a.code),
            "name": avp_name(a.code),
            "vendor": a.vendor_id,
            "length": a.value.len(),
        }));
        if a.vendor_id.is_some() {
            continue;
        }
        match a.code {
            AvpCode::EapPayload => eap(a.value, obj),
            AvpCode::ResultCode
            | AvpCode::TerminationCause
            | AvpCode::SessionLifetime
            | AvpCode::KeyId => {
                let key = match a.code {
                    AvpCode::ResultCode => "result_code",
                    AvpCode::TerminationCause => "termination_cause",
                    AvpCode::SessionLifetime => "session_lifetime",
                    _ => "key_id",
                };
                if let Ok(v) = a.value_u32() {
                    out.insert(key.into(), json!(v));
                }
            }
            AvpCode::PacInformation if a.value.len() == 18 => {
                let addr: [u8; 16] = a
                    .value
                    .get(..16)
                    .and_then(|b| b.try_into().ok())
                    .unwrap_or([0; 16]);
                let port = a
                    .value
                    .get(16..18)
                    .and_then(|b| <[u8; 2]>::try_from(b).ok())
                    .map_or(0, u16::from_be_bytes);
                out.insert(
                    "pac_information".into(),
                    json!({"address": core::net::Ipv6Addr::from(addr).to_string(), "port": port}),
                );
            }
            AvpCode::RelayedMessage if r.message_type == MessageType::Relay && depth == 0 => {
                out.insert("relayed".into(), message(a.value, obj, 1)?);
            }
            _ => {}
        }
    }
    out.insert("avps".into(), Value::Array(avps));
    Ok(Value::Object(out))
}

fn eap(bytes: &[u8], obj: &mut Map<String, Value>) {
    let parsed = Packet::new_checked(bytes).and_then(|p| EapRepr::parse(&p).map(|r| (p, r)));
    let (p, r) = match parsed {
        Ok(v) => v,
        Err(e) => return crate::set_error(obj, format!("eap: {e}")),
    };
    let mut e = Map::new();
    e.insert("code".into(), json!(u8::from(r.code)));
    e.insert("identifier".into(), json!(r.identifier));
    e.insert("length".into(), json!(p.length()));
    e.insert("type".into(), json!(r.eap_type.map(u8::from)));
    match r.eap_type {
        Some(EapType::Identity) => {
            e.insert(
                "identity".into(),
                json!(String::from_utf8_lossy(r.type_data)),
            );
        }
        Some(EapType::Psk) => match PskRepr::parse(r.type_data) {
            Ok(m) => {
                let mut k = Map::new();
                k.insert("t".into(), json!(m.flags().t()));
                k.insert("rand_s".into(), json!(hex::encode(m.rand_s())));
                match m {
                    PskRepr::First { id_s, .. } => {
                        k.insert("id_s".into(), json!(String::from_utf8_lossy(id_s)));
                    }
                    PskRepr::Second {
                        rand_p,
                        mac_p,
                        id_p,
                        ..
                    } => {
                        k.insert("rand_p".into(), json!(hex::encode(rand_p)));
                        k.insert("mac_p".into(), json!(hex::encode(mac_p)));
                        k.insert("id_p".into(), json!(String::from_utf8_lossy(id_p)));
                    }
                    PskRepr::Third {
                        mac_s, pchannel, ..
                    } => {
                        k.insert("mac_s".into(), json!(hex::encode(mac_s)));
                        k.insert("pchannel".into(), json!(hex::encode(pchannel)));
                    }
                    PskRepr::Fourth { pchannel, .. } => {
                        k.insert("pchannel".into(), json!(hex::encode(pchannel)));
                    }
                }
                e.insert("psk".into(), Value::Object(k));
            }
            Err(err) => crate::set_error(obj, format!("eap-psk: {err}")),
        },
        _ => {}
    }
    obj.insert("eap".into(), Value::Object(e));
}
