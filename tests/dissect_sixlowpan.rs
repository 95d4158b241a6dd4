//! `dissect`'s 6LoWPAN and IP layers on frames built by amimesh-sixlowpan: decompression with
//! `--context`, reassembly across frames, extension headers, and the hand-off to PANA (UDP 716),
//! MLE (UDP 19788) and RPL (ICMPv6 155). The example's `lowpan.rs` and `ip.rs` are compiled
//! here as they are; the layers above are replaced by recorders with the same signatures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../examples/dissect/cli.rs"]
#[allow(dead_code)]
mod cli;
#[path = "../examples/dissect/ip.rs"]
mod ip;
#[path = "../examples/dissect/lowpan.rs"]
mod lowpan;

use amimesh::core::{Instant, LinkAddr, ShortAddr};
use amimesh::sixlowpan::{CompressOptions, Context, ContextTable, Fragmenter, compress};
use amimesh_testkit::ip as pkt;
use serde_json::{Map, Value, json};
use std::cell::RefCell;
use std::net::Ipv6Addr;

/// Same shape as the example's `LinkInfo`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkInfo {
    pub src: LinkAddr,
    pub dst: LinkAddr,
    pub src_ext: Option<amimesh::core::ExtAddr>,
}

pub fn set_error(obj: &mut Map<String, Value>, msg: impl std::fmt::Display) {
    if obj.get("error").is_none_or(Value::is_null) {
        obj.insert("error".into(), json!(msg.to_string()));
    }
}

thread_local! {
    static CALLS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn record(s: String) {
    CALLS.with(|c| c.borrow_mut().push(s));
}

mod pana {
    use serde_json::{Map, Value};
    pub fn dissect(_obj: &mut Map<String, Value>, payload: &[u8]) {
        super::record(format!("pana {}", hex::encode(payload)));
    }
}
mod mle {
    use serde_json::{Map, Value};
    pub fn dissect(
        _opts: &crate::cli::Options,
        _obj: &mut Map<String, Value>,
        _link: crate::LinkInfo,
        src: std::net::Ipv6Addr,
        dst: std::net::Ipv6Addr,
        payload: &[u8],
    ) {
        super::record(format!("mle {src} {dst} {}", hex::encode(payload)));
    }
}
#[path = "../examples/dissect/rpl.rs"]
#[allow(dead_code)]
mod rpl_layer;
mod rpl {
    pub use crate::rpl_layer::{describe_hbh_option, describe_srh};
    use serde_json::{Map, Value};
    pub fn dissect(_obj: &mut Map<String, Value>, code: u8, body: &[u8]) {
        super::record(format!("rpl {code} {}", hex::encode(body)));
    }
}

fn s(a: u16) -> LinkAddr {
    LinkAddr::Short(ShortAddr(a))
}

fn addr(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn udp_packet(src: &str, dst: &str, sport: u16, dport: u16, payload: &[u8], pre: &[u8]) -> Vec<u8> {
    let (s, d) = (addr(src), addr(dst));
    let mut body = pre.to_vec();
    body.extend_from_slice(&pkt::udp(s, d, sport, dport, payload));
    let next = if pre.is_empty() {
        pkt::UDP
    } else {
        pkt::HOP_BY_HOP
    };
    pkt::ipv6(pkt::Ipv6::new(s, d, next, 255), &body)
}

fn opts() -> cli::Options {
    cli::Options {
        file: String::new(),
        keys: vec![],
        network_keys: vec![],
        mle_keys: vec![],
        contexts: vec![cli::ContextArg {
            id: 2,
            prefix: addr("2001:db8:2::"),
            len: 64,
        }],
        rpl_root: Some(addr("2001:db8::212:4b00:0:1")),
    }
}

fn run(state: &mut lowpan::State, link: LinkInfo, lowpan_bytes: &[u8]) -> Map<String, Value> {
    run_at(state, link, lowpan_bytes, Instant::ZERO)
}

fn run_at(
    state: &mut lowpan::State,
    link: LinkInfo,
    lowpan_bytes: &[u8],
    now: Instant,
) -> Map<String, Value> {
    let o = opts();
    let mut obj = Map::new();
    obj.insert("error".into(), Value::Null);
    if let Some(p) = lowpan::dissect(&o, state, &mut obj, link, lowpan_bytes, now) {
        ip::dissect(&o, &mut obj, link, &p);
    }
    obj
}

#[test]
fn dissect_decodes_compressed_fragmented_and_hands_off() {
    let ctx = ContextTable::new()
        .with(2, Context::new(addr("2001:db8:2::"), 64))
        .unwrap();
    let link = LinkInfo {
        src: s(1),
        dst: s(2),
        src_ext: None,
    };
    let mut state = lowpan::State::default();
    let copts = CompressOptions::default();
    let mut buf = vec![0u8; 512];

    // PANA over link-local UDP 716, with an RPL Hop-by-Hop option in front.
    let hbh = [17, 0, 0x63, 4, 0, 0x1e, 3, 0];
    let p = udp_packet(
        "fe80::ff:fe00:1",
        "fe80::ff:fe00:2",
        716,
        716,
        b"pana!",
        &hbh,
    );
    let n = compress(&p, s(1), s(2), &ctx, &copts, &mut buf).unwrap();
    let obj = run(&mut state, link, &buf[..n]);
    assert_eq!(obj["error"], Value::Null, "{obj:?}");
    assert_eq!(obj["sixlowpan"]["iphc"][0]["sam"], 3);
    assert_eq!(obj["sixlowpan"]["nhc"][0]["eid"], 0);
    assert_eq!(obj["sixlowpan"]["nhc"][1]["type"], "udp");
    assert_eq!(obj["ipv6"]["src"], "fe80::ff:fe00:1");
    assert_eq!(obj["ipv6"]["ext"][0]["options"][0]["type"], 0x63);
    // The RPL layer describes the RFC 6553 option: instance 0x1e, sender rank 0x0300.
    let rpl = &obj["ipv6"]["ext"][0]["options"][0]["rpl"];
    assert_eq!(rpl["instance"], 0x1e, "{obj:?}");
    assert_eq!(rpl["sender_rank"], 0x0300);
    assert_eq!(rpl["o"], false);
    assert_eq!(obj["udp"]["dst_port"], 716);
    assert_eq!(obj["udp"]["checksum_ok"], true);

    // MLE with context 2 (needs --context 2=2001:db8:2::/64).
    let p = udp_packet(
        "2001:db8:2::ff:fe00:1",
        "2001:db8:2::ff:fe00:2",
        19788,
        19788,
        b"\xffmle",
        &[],
    );
    let n = compress(&p, s(1), s(2), &ctx, &copts, &mut buf).unwrap();
    let obj = run(&mut state, link, &buf[..n]);
    assert_eq!(obj["sixlowpan"]["iphc"][0]["sci"], 2);
    assert_eq!(obj["ipv6"]["dst"], "2001:db8:2::ff:fe00:2");

    // RPL DIS to ff02::1a, fragmented by a small budget.
    let (src, dst) = (addr("fe80::ff:fe00:1"), addr("ff02::1a"));
    let body: Vec<u8> = std::iter::once(0u8)
        .chain(std::iter::repeat_n(0xab, 150))
        .collect();
    // RFC 6550 §6: RPL is ICMPv6 type 155.
    let m = pkt::icmpv6(src, dst, 155, 0, &body);
    let p = pkt::ipv6(pkt::Ipv6::new(src, dst, pkt::ICMPV6, 255), &m);
    let mut f = Fragmenter::new(5);
    let mut it = f.fragment(&p, s(1), s(0xffff), &ctx, &copts, 60).unwrap();
    let link_b = LinkInfo {
        src: s(1),
        dst: s(0xffff),
        src_ext: None,
    };
    let mut last = Map::new();
    let mut frames = 0;
    while let Some(k) = it.next_frame(&mut buf) {
        let k = k.unwrap();
        last = run(&mut state, link_b, &buf[..k]);
        frames += 1;
        assert!(last["sixlowpan"]["frag"]["size"] == p.len());
    }
    assert!(frames >= 3);
    assert_eq!(last["sixlowpan"]["reassembled"], true);
    assert_eq!(last["icmpv6"]["type"], 155);
    assert_eq!(last["icmpv6"]["checksum_ok"], true);

    let calls = CALLS.with(|c| c.borrow().clone());
    assert_eq!(
        calls,
        vec![
            format!("pana {}", hex::encode(b"pana!")),
            format!(
                "mle 2001:db8:2::ff:fe00:1 2001:db8:2::ff:fe00:2 {}",
                hex::encode(b"\xffmle")
            ),
            format!("rpl 0 {}", hex::encode(&body)),
        ]
    );

    // Garbage is reported, not a panic.
    let obj = run(&mut state, link, &[0x7b, 0x73, 0x11]);
    assert!(obj["error"].as_str().unwrap().contains("context"));
    let obj = run(&mut state, link, &[0x42, 0x00]);
    assert!(obj["error"].as_str().unwrap().contains("dispatch"));
}

#[test]
fn dissect_reassembly_times_out_with_capture_time() {
    // A datagram whose fragments arrive 61 s apart is dropped (RFC 4944 §5.3: 60 s); the same
    // fragments 1 s apart are reassembled.
    let p = udp_packet(
        "fe80::ff:fe00:1",
        "fe80::ff:fe00:2",
        1000,
        2000,
        &[9; 200],
        &[],
    );
    let ctx = ContextTable::new();
    let link = LinkInfo {
        src: s(1),
        dst: s(2),
        src_ext: None,
    };
    for (gap, done) in [(1, true), (61, false)] {
        let mut state = lowpan::State::default();
        let mut f = Fragmenter::new(9);
        let mut it = f
            .fragment(&p, s(1), s(2), &ctx, &CompressOptions::default(), 80)
            .unwrap();
        let mut buf = [0u8; 127];
        let mut last = Map::new();
        let mut t = 100;
        while let Some(k) = it.next_frame(&mut buf) {
            last = run_at(&mut state, link, &buf[..k.unwrap()], Instant::from_secs(t));
            t += gap;
        }
        assert_eq!(last["sixlowpan"]["reassembled"], done, "gap {gap} s");
    }
}

/// `tail` (next header `nh`) from `root` to `first` with the RPL option and a routing header
/// that lists `rest`, compressed with RFC 8138 against `ctx` and dissected.
fn dissect_source_routed(
    (root, first, rest): (Ipv6Addr, Ipv6Addr, &[Ipv6Addr]),
    nh: u8,
    tail: &[u8],
    ctx: &ContextTable,
) -> Map<String, Value> {
    use amimesh::rpl::wire::srh::SrhRepr;
    let mut rh = vec![0u8; SrhRepr::route_len(&first, rest).unwrap()];
    SrhRepr::emit_route(nh, &first, rest, &mut rh).unwrap();
    let mut payload = vec![43, 0, 0x23, 4, 0x80, 0, 1, 0];
    payload.extend_from_slice(&rh);
    payload.extend_from_slice(tail);
    let p = pkt::ipv6(pkt::Ipv6::new(root, first, 0, 64), &payload);
    let on = CompressOptions {
        rfc8138: true,
        ..CompressOptions::default()
    };
    let mut buf = vec![0u8; 256];
    let n = compress(&p, s(1), s(2), ctx, &on, &mut buf).unwrap();
    let link = LinkInfo {
        src: s(1),
        dst: s(2),
        src_ext: None,
    };
    run(&mut lowpan::State::default(), link, &buf[..n])
}

#[test]
fn dissect_shows_srh_6lorh_hops_and_the_rebuilt_routing_header() {
    // The root 2001:db8::212:4b00:0:1 sends UDP to node 4 through nodes 2 and 3 (RFC 6554),
    // with the RPL option; compressed with RFC 8138 (SRH-6LoRH, then RPI-6LoRH).
    let (root, first, rest) = (
        addr("2001:db8::212:4b00:0:1"),
        addr("2001:db8::212:4b00:0:2"),
        [
            addr("2001:db8::212:4b00:0:3"),
            addr("2001:db8::212:4b00:0:4"),
        ],
    );
    let u = pkt::udp(root, rest[1], 0xf0b1, 0xf0b2, b"reading");
    let obj = dissect_source_routed((root, first, &rest), 17, &u, &ContextTable::new());
    assert_eq!(obj["error"], Value::Null, "{obj:?}");
    let srh = &obj["sixlowpan"]["srh_6lorh"];
    assert_eq!(srh[0]["type"], 0, "{obj:?}");
    assert_eq!(srh[0]["size"], 1);
    assert_eq!(srh[0]["hops"], json!(["02", "03"]));
    assert_eq!(obj["sixlowpan"]["rpi_6lorh"]["sender_rank"], 0x0100);
    assert_eq!(obj["sixlowpan"]["rpi_6lorh"]["o"], true);
    // The IPv6 layer sees the packet as sent: the first hop as destination, the routing
    // header after the Hop-by-Hop header.
    assert_eq!(obj["ipv6"]["dst"], "2001:db8::212:4b00:0:2");
    assert_eq!(obj["ipv6"]["ext"][1]["type"], 43, "{obj:?}");
    assert_eq!(obj["udp"]["checksum_ok"], true);
}

#[test]
fn dissect_shows_the_ip_in_ip_6lorh_and_the_tunnelled_packet() {
    // The root 2001:db8::212:4b00:0:1 tunnels a server's datagram to node 3 through node 2
    // (RFC 9008 §8.2.2): outer header with the RPL option and the routing header, then the
    // server's packet; compressed with RFC 8138 (SRH-6LoRH, RPI-6LoRH, IP-in-IP 6LoRH).
    let (root, first, target, server) = (
        addr("2001:db8::212:4b00:0:1"),
        addr("2001:db8::212:4b00:0:2"),
        addr("2001:db8::212:4b00:0:3"),
        addr("2001:db8:ffff::1"),
    );
    let u = pkt::udp(server, target, 0xf0b1, 0xf0b2, b"command");
    let inner = pkt::ipv6(pkt::Ipv6::new(server, target, 17, 63), &u);
    let mut ctx = ContextTable::new();
    ctx.set_root(Some(root));
    let obj = dissect_source_routed((root, first, &[target]), 41, &inner, &ctx);
    assert_eq!(obj["error"], Value::Null, "{obj:?}");
    let lorh = &obj["sixlowpan"]["ip_in_ip_6lorh"];
    assert_eq!(lorh["length"], 1, "{obj:?}");
    assert_eq!(lorh["hop_limit"], 64);
    assert_eq!(lorh["encapsulator_octets"], "");
    assert_eq!(lorh["encapsulator"], root.to_string());
    assert_eq!(
        obj["sixlowpan"]["srh_6lorh"][0]["hops"],
        json!(["02", "03"])
    );
    assert_eq!(obj["sixlowpan"]["rpi_6lorh"]["o"], true);
    // The IPv6 layer sees the outer packet as sent, the server's packet inside.
    assert_eq!(obj["ipv6"]["src"], root.to_string(), "{obj:?}");
    assert_eq!(obj["ipv6"]["dst"], first.to_string());
    assert_eq!(obj["ipv6"]["inner"]["src"], server.to_string(), "{obj:?}");
    assert_eq!(obj["ipv6"]["inner"]["dst"], target.to_string());
}
