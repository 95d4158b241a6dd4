//! The `mle` layer of the `dissect` example, exercised directly: secured MLE from real nodes is
//! decrypted with `--mle-key` (raw, with or without index) and `--network-key` (ZigBee-IP and
//! Thread derivations), in key id modes 1 and 2, and reports the same command and TLVs as the
//! crate's own decode.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../examples/dissect/cli.rs"]
mod cli;
#[path = "../examples/dissect/mle.rs"]
mod mle;

use amimesh::core::{ExtAddr, Instant, Key128, LinkAddr};
use amimesh::mac::security::KeyIdMode;
use amimesh::mle::security::{MleKey, link_local};
use amimesh::mle::{Config, MleNode, RxMeta};
use amimesh_testkit::rng::TestCsprng;
use cli::{KeyArg, Options};
use serde_json::{Map, Value, json};
use std::net::Ipv6Addr;

/// What `main.rs` of the example provides to the layers.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkInfo {
    pub src: LinkAddr,
    pub dst: LinkAddr,
    pub src_ext: Option<ExtAddr>,
}

pub fn set_error(obj: &mut Map<String, Value>, msg: impl std::fmt::Display) {
    if obj.get("error").is_none_or(Value::is_null) {
        obj.insert("error".into(), json!(msg.to_string()));
    }
}

const NK: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];

/// A two-node handshake; returns (src, dst, payload) of every message.
fn handshake(mode: KeyIdMode, key: impl Fn() -> MleKey) -> Vec<(Ipv6Addr, Ipv6Addr, Vec<u8>)> {
    let mut nodes: Vec<MleNode> = (0..2u64)
        .map(|i| {
            let mut c = Config::new(ExtAddr::from_u64(0x0212_4b00_0000_0001 + i));
            c.key_id_mode = mode;
            let mut n = MleNode::new(c);
            n.set_key(Instant::ZERO, key());
            n
        })
        .collect();
    let mut rng = TestCsprng::new(3);
    let peer = ExtAddr::from_u64(0x0212_4b00_0000_0002);
    nodes[0]
        .link_request(Instant::ZERO, Some(peer), &mut rng)
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    let mut from = 0;
    while let Some(t) = nodes[from].poll_transmit(Instant::ZERO, &mut buf) {
        let p = buf[..t.len].to_vec();
        out.push((t.src, t.dst, p.clone()));
        from = 1 - from;
        nodes[from].handle_datagram(Instant::ZERO, t.src, t.dst, RxMeta::default(), &p, &mut rng);
    }
    assert_eq!(out.len(), 3);
    out
}

fn opts(mle_keys: &[([u8; 16], Option<u8>)], network_keys: &[([u8; 16], Option<u8>)]) -> Options {
    let k = |v: &[([u8; 16], Option<u8>)]| {
        v.iter()
            .map(|(key, index)| KeyArg {
                key: *key,
                index: *index,
            })
            .collect()
    };
    Options {
        file: String::new(),
        keys: Vec::new(),
        network_keys: k(network_keys),
        mle_keys: k(mle_keys),
        contexts: Vec::new(),
        rpl_root: None,
    }
}

fn run(o: &Options, msgs: &[(Ipv6Addr, Ipv6Addr, Vec<u8>)], with_mac_src: bool) -> Vec<Value> {
    msgs.iter()
        .map(|(src, dst, p)| {
            let mut obj = Map::new();
            obj.insert("error".into(), Value::Null);
            let link = LinkInfo {
                src_ext: with_mac_src
                    .then(|| amimesh::mle::security::sender_ext_addr(*src).unwrap()),
                ..LinkInfo::default()
            };
            mle::dissect(o, &mut obj, link, *src, *dst, p);
            assert_eq!(obj["error"], Value::Null);
            obj["mle"].clone()
        })
        .collect()
}

fn commands(v: &[Value]) -> Vec<Value> {
    v.iter().map(|m| m["command"].clone()).collect()
}

#[test]
fn raw_mle_key_mode_1_and_2() {
    let raw = *MleKey::from_network_key(&Key128::new(NK), 1, 0)
        .raw()
        .expose();
    for mode in [KeyIdMode::Index, KeyIdMode::Source4Index] {
        let msgs = handshake(mode, || MleKey::from_network_key(&Key128::new(NK), 1, 0));
        for index in [Some(1), None] {
            let out = run(&opts(&[(raw, index)], &[]), &msgs, true);
            assert_eq!(commands(&out), vec![json!(0), json!(2), json!(1)]);
            let m = &out[1];
            assert_eq!(m["secured"], json!(true));
            assert_eq!(m["decrypted"], json!(true));
            assert_eq!(m["command_name"], json!("Link Accept and Request"));
            assert_eq!(m["key_id_mode"], json!(mode.bits()));
            assert_eq!(m["key_index"], json!(1));
            assert_eq!(m["security_level"], json!(5));
            let types: Vec<_> = m["tlvs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["type"].clone())
                .collect();
            assert_eq!(
                types,
                vec![
                    json!(0),
                    json!(4),
                    json!(5),
                    json!(8),
                    json!(18),
                    json!(16),
                    json!(3)
                ]
            );
            let lens: Vec<_> = m["tlvs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["length"].clone())
                .collect();
            assert_eq!(
                lens,
                vec![
                    json!(8),
                    json!(8),
                    json!(4),
                    json!(4),
                    json!(2),
                    json!(1),
                    json!(8)
                ]
            );
        }
        // The wrong index, or no key: secured, not decrypted.
        for o in [opts(&[(raw, Some(2))], &[]), opts(&[], &[])] {
            let out = run(&o, &msgs, true);
            assert!(
                out.iter()
                    .all(|m| m["decrypted"] == json!(false) && m["command"].is_null())
            );
            assert!(out.iter().all(|m| m["tlvs"] == json!([])));
        }
    }
}

#[test]
fn network_key_zigbee_ip_and_thread_derivations() {
    // ZigBee-IP derivation, mode 1, sender address from the IPv6 source (no MAC layer).
    let msgs = handshake(KeyIdMode::Index, || {
        MleKey::from_network_key(&Key128::new(NK), 1, 0)
    });
    let out = run(&opts(&[], &[(NK, Some(1))]), &msgs, false);
    assert_eq!(commands(&out), vec![json!(0), json!(2), json!(1)]);
    // Thread derivation, mode 2 with key sequence 5 in the Key Source (index 6).
    let msgs = handshake(KeyIdMode::Source4Index, || {
        MleKey::from_thread_network_key(&Key128::new(NK), 5)
    });
    let out = run(&opts(&[], &[(NK, None)]), &msgs, true);
    assert_eq!(commands(&out), vec![json!(0), json!(2), json!(1)]);
    assert_eq!(out[0]["key_source"], json!("00000005"));
    assert_eq!(out[0]["key_index"], json!(6));
}

#[test]
fn unsecured_and_malformed() {
    let o = opts(&[], &[]);
    let src = link_local(ExtAddr::from_u64(1));
    let dst: Ipv6Addr = "ff02::1".parse().unwrap();
    let mut obj = Map::new();
    obj.insert("error".into(), Value::Null);
    mle::dissect(
        &o,
        &mut obj,
        LinkInfo::default(),
        src,
        dst,
        &[0xff, 0x10, 0x12, 0x02, 0x00, 0x01],
    );
    assert_eq!(obj["mle"]["secured"], json!(false));
    assert_eq!(obj["mle"]["command"], json!(16));
    assert_eq!(obj["mle"]["command_name"], json!("Discovery Request"));
    assert_eq!(obj["mle"]["tlvs"], json!([{ "type": 18, "length": 2 }]));
    let mut obj = Map::new();
    obj.insert("error".into(), Value::Null);
    mle::dissect(&o, &mut obj, LinkInfo::default(), src, dst, &[0x07]);
    assert!(obj["error"].as_str().unwrap().starts_with("mle:"));
}
