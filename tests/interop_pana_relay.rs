//! `dissect`'s PANA layer on a relayed session produced by the real PRE and PAA: every
//! PANA-Relay message shows its PaC-Information and the inner message nested under
//! `pana.relayed` (type, session id, sequence number, AVPs), with the inner EAP decoded; plain
//! messages on the mesh hop have no `relayed`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../crates/pana-relay/tests/common/mod.rs"]
mod common;
#[path = "../examples/dissect/pana.rs"]
mod pana;

use amimesh::core::Key128;
use amimesh::pana::AgentEvent;
use amimesh::pana::wire::{AvpCode, Message, MessageRepr, MessageType};
use amimesh::pana_relay::parse_relay;
use common::*;
use serde_json::{Map, Value, json};

/// What `examples/dissect/main.rs` provides to its layers.
pub fn set_error(obj: &mut Map<String, Value>, msg: impl std::fmt::Display) {
    if obj.get("error").is_none_or(Value::is_null) {
        obj.insert("error".into(), json!(msg.to_string()));
    }
}

fn codes(r: &MessageRepr<'_>) -> Vec<u16> {
    r.avps().map(|a| u16::from(a.unwrap().code)).collect()
}

fn avp_codes(v: &Value) -> Vec<u16> {
    v["avps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_u64().unwrap() as u16)
        .collect()
}

#[test]
fn dissect_nests_the_relayed_message_under_pana() {
    let mut net = Net::new(1, 31);
    net.start_all();
    net.drive_until(300, |n| n.authenticated(0));
    let now = net.now;
    net.agent
        .rotate_network_key(now, Key128::new([0x24; 16]), 2)
        .unwrap();
    net.drive_until(200, |n| {
        n.agent_count(|e| matches!(e, AgentEvent::KeyDelivered { .. })) == 1
    });
    let mut relayed = 0;
    for d in net.wire() {
        let mut obj = Map::new();
        obj.insert("error".into(), Value::Null);
        pana::dissect(&mut obj, &d.bytes);
        assert_eq!(obj["error"], Value::Null, "{obj:?}");
        let p = &obj["pana"];
        let outer = MessageRepr::parse(&Message::new_checked(&d.bytes[..]).unwrap()).unwrap();
        assert_eq!(p["type"], json!(u16::from(outer.message_type)));
        assert_eq!(avp_codes(p), codes(&outer));
        let inner_bytes = if outer.message_type == MessageType::Relay {
            relayed += 1;
            let pry = parse_relay(&d.bytes).unwrap();
            assert_eq!(p["type_name"], json!("PRY"));
            assert_eq!(p["session_id"], json!(0));
            assert_eq!(p["seq"], json!(0));
            assert_eq!(
                p["pac_information"],
                json!({"address": pac_addr(0).to_string(), "port": 716})
            );
            pry.relayed.to_vec()
        } else {
            assert!(p.get("relayed").is_none());
            continue;
        };
        let inner = MessageRepr::parse(&Message::new_checked(&inner_bytes[..]).unwrap()).unwrap();
        let n = &p["relayed"];
        assert_eq!(n["type"], json!(u16::from(inner.message_type)));
        assert_eq!(
            n["type_name"],
            json!(inner.message_type.abbreviation(inner.is_request()))
        );
        assert_eq!(n["flags"], json!(inner.flags.0));
        assert_eq!(n["session_id"], json!(inner.session_id));
        assert_eq!(n["seq"], json!(inner.seq));
        assert_eq!(avp_codes(n), codes(&inner));
        match inner.find(AvpCode::EapPayload) {
            Some(e) => assert_eq!(obj["eap"]["code"], json!(e.value[0])),
            None => assert!(obj.get("eap").is_none()),
        }
    }
    assert!(relayed >= 12, "{relayed}");
}
