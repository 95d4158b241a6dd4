//! Interop: Wireshark's MLE dissector (tshark 4.0) decodes and decrypts the messages our nodes
//! send, and sees the same command and TLVs as we do.
//!
//! Each pcap record (linktype 230, 802.15.4 without FCS) is a minimal unsecured 802.15.4 data
//! frame with the sender's extended source address (Wireshark takes the MLE nonce's address from
//! it), the 6LoWPAN uncompressed-IPv6 dispatch 0x41, IPv6, UDP with its checksum, and the MLE
//! message. A missing tshark makes these tests fail.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod common;

use amimesh_core::{ExtAddr, Instant, LinkAddr, ShortAddr};
use amimesh_mac::security::KeyIdMode;
use amimesh_mac::security::keys::derive_link_keys;
use amimesh_mle::security::{MleKey, SoftCrypto, open_message, sender_ext_addr};
use amimesh_mle::wire::message::Message;
use amimesh_mle::wire::tlv::TlvType;
use amimesh_mle::{Config, MleNode};
use amimesh_testkit::temp::TempFile;
use amimesh_testkit::tshark::{KeyHash, Row, Tshark, key_row, num};
use amimesh_testkit::{ip, pcap, wpan};
use common::*;
use std::net::Ipv6Addr;

/// One captured message and what we decode from it.
struct Captured {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    payload: Vec<u8>,
    command: u8,
    /// (type, length, entries of a TLV Request)
    tlvs: Vec<(u8, u8, Vec<u8>)>,
    key_index: u8,
    frame_counter: u32,
    /// Values as tshark prints them: challenge, response, link-layer and MLE frame counters,
    /// source address.
    values: [String; 5],
}

/// A minimal 802.15.4-2006 data frame (no security, PAN ID compression, extended source) with
/// 6LoWPAN dispatch 0x41 and an uncompressed IPv6/UDP packet carrying `mle`.
fn frame(seq: u8, src_ext: ExtAddr, dst: Ipv6Addr, src: Ipv6Addr, mle: &[u8]) -> Vec<u8> {
    // Destination: the broadcast short address for multicast, else the extended address.
    let dst_link = if dst.is_multicast() {
        LinkAddr::Short(ShortAddr::BROADCAST)
    } else {
        LinkAddr::Extended(sender_ext_addr(dst).unwrap())
    };
    let mut lowpan = vec![0x41]; // 6LoWPAN: uncompressed IPv6
    lowpan.extend_from_slice(&ip::udp6(src, dst, 255, 19788, 19788, mle));
    wpan::data_frame(seq, 0xabcd, dst_link, LinkAddr::Extended(src_ext), &lowpan)
}

const FIELDS: &[&str] = &[
    "mle.sec_suite",
    "mle.cmd",
    "mle.tlv.type",
    "mle.tlv.len",
    "wpan.aux_sec.key_id_mode",
    "wpan.aux_sec.key_index",
    "wpan.aux_sec.frame_counter",
    "udp.checksum.status",
    "_ws.expert.message",
    "mle.tlv.challenge",
    "mle.tlv.response",
    "mle.tlv.ll_frm_cntr",
    "mle.tlv.mle_frm_cntr",
    "mle.tlv.source_addr",
];

/// Runs tshark with one key row; returns one row of [`FIELDS`] per frame.
fn tshark(pcap: &TempFile, key_row: &str) -> Vec<Row> {
    Tshark::read(pcap)
        .pref("udp.check_checksum", "TRUE")
        .uat("ieee802154_keys", key_row)
        .fields(FIELDS)
}

/// Runs a handshake and the other exchanges between two nodes; returns every message with our
/// own decode.
fn traffic(mode: KeyIdMode, key: impl Fn() -> MleKey) -> Vec<Captured> {
    let cfg = |i: usize| {
        let mut c: Config = config(i);
        c.key_id_mode = mode;
        c
    };
    let mut net = Net::new(vec![cfg(0), cfg(1)], LinkModel::PERFECT, 42);
    for n in &mut net.nodes {
        n.set_key(Instant::ZERO, key());
    }
    net.nodes[0]
        .link_request(net.now, None, &mut net.csprng[0])
        .unwrap();
    net.drain_all();
    net.run_until(Instant::from_secs(5), 1000);
    net.nodes[0]
        .link_request(net.now, Some(ext(1)), &mut net.csprng[0])
        .unwrap();
    net.drain_all();
    net.run_until(Instant::from_secs(10), 1000);
    net.nodes[0]
        .data_request(
            net.now,
            ext(1),
            &[
                TlvType::LinkLayerFrameCounter,
                TlvType::MleFrameCounter,
                TlvType::LinkMargin,
                TlvType::Version,
            ],
        )
        .unwrap();
    net.nodes[1].update_request(net.now, ext(0)).unwrap();
    net.nodes[1].send_update(net.now, None).unwrap();
    net.drain_all();
    net.run_until(Instant::from_secs(15), 1000);
    assert!(net.linked(0, 1) && net.linked(1, 0));
    // A Link Reject and an Advertisement from a third node with room for nobody.
    let mut c2 = cfg(2);
    c2.max_neighbours = 0;
    c2.advertisement = Some(amimesh_mle::trickle::TrickleConfig::ADVERTISEMENT);
    let mut lonely = MleNode::new(c2);
    lonely.set_key(net.now, key());
    net.nodes.push(lonely);
    net.csprng.push(TestCsprng(amimesh_core::Rng::new(9)));
    for row in net.hears.iter_mut() {
        row.push(true);
    }
    net.hears.push(vec![true, true, false]);
    net.nodes[0]
        .link_request(net.now, Some(ext(2)), &mut net.csprng[0])
        .unwrap();
    net.drain_all();
    net.run_until(Instant::from_secs(17), 1000);

    let keys = [key()];
    net.sent
        .iter()
        .map(|d| {
            let msg = Message::new_checked(&d.payload[..]).unwrap();
            let mut plain = [0u8; 256];
            let sender = sender_ext_addr(d.src).unwrap();
            let (aux, k, body) =
                open_message(&SoftCrypto, &keys, sender, d.src, d.dst, &msg, &mut plain).unwrap();
            Captured {
                src: d.src,
                dst: d.dst,
                payload: d.payload.clone(),
                command: body.command.into(),
                tlvs: body
                    .tlvs()
                    .map(|t| {
                        let t = t.unwrap();
                        let req = match t {
                            amimesh_mle::wire::tlv::TlvRepr::TlvRequest(v) => v.to_vec(),
                            _ => Vec::new(),
                        };
                        (u8::from(t.tlv_type()), t.value_len() as u8, req)
                    })
                    .collect(),
                key_index: k.key_index,
                frame_counter: aux.frame_counter.unwrap(),
                values: {
                    use amimesh_mle::wire::tlv::{SourceAddress, TlvRepr};
                    let hexs = |v: &[u8]| v.iter().map(|b| format!("{b:02x}")).collect::<String>();
                    let mut v: [String; 5] = Default::default();
                    for t in body.tlvs().map(Result::unwrap) {
                        match t {
                            TlvRepr::Challenge(c) => v[0] = hexs(c),
                            TlvRepr::Response(c) => v[1] = hexs(c),
                            TlvRepr::LinkLayerFrameCounter(c) => v[2] = c.to_string(),
                            TlvRepr::MleFrameCounter(c) => v[3] = c.to_string(),
                            TlvRepr::SourceAddress(SourceAddress::Extended(e)) => v[4] = hexs(&e.0),
                            TlvRepr::SourceAddress(SourceAddress::Short(s)) => {
                                v[4] = hexs(&s.0.to_be_bytes())
                            }
                            _ => {}
                        }
                    }
                    v
                },
            }
        })
        .collect()
}

fn pcap_of(name: &str, msgs: &[Captured]) -> TempFile {
    let frames: Vec<_> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            frame(
                i as u8,
                sender_ext_addr(m.src).unwrap(),
                m.dst,
                m.src,
                &m.payload,
            )
        })
        .collect();
    pcap::write(
        &format!("mle-{name}"),
        pcap::LINKTYPE_IEEE802_15_4_NOFCS,
        &frames,
    )
}

fn join<T: ToString>(v: impl IntoIterator<Item = T>) -> String {
    v.into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// tshark decrypted every frame and agrees on command, TLV types and lengths, key id mode,
/// key index and frame counter; the UDP checksum is good.
///
/// Wireshark lists the entries of a TLV Request as further `mle.tlv.type` values, so the
/// expected type list carries them after the TLV Request's own type.
fn assert_same(rows: &[Row], msgs: &[Captured], mode: u8) {
    assert_eq!(rows.len(), msgs.len());
    for (r, m) in rows.iter().zip(msgs) {
        let ctx = format!("{r:?}");
        let types: Vec<u8> = m
            .tlvs
            .iter()
            .flat_map(|t| std::iter::once(t.0).chain(t.2.iter().copied()))
            .collect();
        assert_eq!(num(&r[0]), 0, "{ctx}");
        assert_eq!(r[1], m.command.to_string(), "{ctx}");
        assert_eq!(r[2], join(types), "{ctx}");
        assert_eq!(r[3], join(m.tlvs.iter().map(|t| t.1)), "{ctx}");
        assert_eq!(num(&r[4]), u64::from(mode), "{ctx}");
        assert_eq!(num(&r[5]), u64::from(m.key_index), "{ctx}");
        assert_eq!(num(&r[6]), u64::from(m.frame_counter), "{ctx}");
        assert_eq!(r[7], "1", "UDP checksum: {ctx}");
        assert!(!r[8].contains("can't decrypt"), "{ctx}");
        for (i, want) in m.values.iter().enumerate() {
            assert_eq!(
                r[9 + i].replace(':', ""),
                *want,
                "field {}: {ctx}",
                FIELDS[9 + i]
            );
        }
    }
}

#[test]
fn tshark_decrypts_key_id_mode_1_with_the_mle_key() {
    let key = || MleKey::from_network_key(&network_key(), 1, 0);
    let msgs = traffic(KeyIdMode::Index, key);
    let cmds: Vec<u8> = msgs.iter().map(|m| m.command).collect();
    for c in [0u8, 1, 2, 3, 4, 5, 6, 7, 8] {
        assert!(cmds.contains(&c), "command {c} not exercised: {cmds:?}");
    }
    let pcap = pcap_of("mode1", &msgs);
    let row = key_row(key().raw().expose(), 1, KeyHash::None);
    assert_same(&tshark(&pcap, &row), &msgs, 1);
    // With a wrong key tshark cannot decrypt (so the check above is meaningful).
    let rows = tshark(
        &pcap,
        "\"000102030405060708090a0b0c0d0e0f\",\"1\",\"No hash\"",
    );
    assert!(
        rows.iter()
            .all(|r| r[1].is_empty() && r[8].contains("can't decrypt")),
        "{rows:?}"
    );
}

#[test]
fn tshark_decrypts_key_id_mode_2_with_the_mle_key() {
    let key = || MleKey::from_network_key(&network_key(), 1, 0);
    let msgs = traffic(KeyIdMode::Source4Index, key);
    let pcap = pcap_of("mode2", &msgs);
    let row = key_row(key().raw().expose(), 1, KeyHash::None);
    assert_same(&tshark(&pcap, &row), &msgs, 2);
}

#[test]
fn tshark_thread_hash_decrypts_thread_keyed_mode_2() {
    // Thread peers: key id mode 2, Key Source = key sequence, MLE key from the Thread scheme.
    let key = || MleKey::from_thread_network_key(&network_key(), 0);
    let msgs = traffic(KeyIdMode::Source4Index, key);
    let pcap = pcap_of("thread", &msgs);
    let row = key_row(network_key().expose(), 1, KeyHash::Thread);
    assert_same(&tshark(&pcap, &row), &msgs, 2);
}

/// Wireshark 4.0's "ZigBee IP hash" row derives K' = HMAC-SHA256(K, "ZigBeeIP") and uses
/// K'[16:32] (the MAC key) for MLE as well, whereas the ZigBee-IP scheme (and this crate) use
/// K'[0:16] for MLE. So the network key with that setting does not decrypt our MLE; the MLE key
/// given directly does. This test pins that behaviour down, including that tshark would decrypt
/// messages secured with K'[16:32].
#[test]
fn tshark_zigbee_ip_hash_uses_the_mac_half_for_mle() {
    let ours = || MleKey::from_network_key(&network_key(), 1, 0);
    let msgs = traffic(KeyIdMode::Index, ours);
    let pcap = pcap_of("zbip", &msgs);
    let row = key_row(network_key().expose(), 1, KeyHash::ZigbeeIp);
    let rows = tshark(&pcap, &row);
    assert!(
        rows.iter()
            .all(|r| r[1].is_empty() && r[8].contains("can't decrypt")),
        "{rows:?}"
    );

    let (_mle, mac) = derive_link_keys(&network_key());
    let mac_half = || MleKey::new(mac.clone(), 1, 0);
    let msgs = traffic(KeyIdMode::Index, mac_half);
    let pcap = pcap_of("zbip-mac-half", &msgs);
    assert_same(&tshark(&pcap, &row), &msgs, 1);
}
