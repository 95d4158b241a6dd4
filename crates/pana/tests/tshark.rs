//! Interop: a whole PANA/EAP-PSK session written as a raw-IPv6 pcap (linktype 229, UDP 716)
//! and decoded by Wireshark's `tshark`. Every message type, flag word, session id, sequence
//! number, AVP code and EAP-PSK field it reports must match what we sent. A missing `tshark`
//! fails the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use amimesh_core::Key128;
use amimesh_pana::wire::{AvpCode, EapRepr, Message, MessageRepr, MessageType, Packet, PskRepr};
use amimesh_pana::{AgentEvent, ClientEvent};
use amimesh_testkit::tshark::{Row, Tshark};
use common::*;

const FIELDS: &[&str] = &[
    "frame.protocols",
    "udp.checksum.status",
    "udp.payload",
    "pana.type",
    "pana.sid",
    "pana.seq",
    "pana.avp.code",
    "eap.code",
    "eap.id",
    "eap.type",
    "eap.identity",
    "eap.psk.flags.t",
    "eap.psk.rand_s",
    "eap.psk.rand_p",
    "eap.psk.mac_p",
    "eap.psk.mac_s",
    "eap.psk.id_s",
    "eap.psk.id_p",
    "eap.psk.pchannel",
];

fn tshark(pcap_bytes: &[u8], name: &str) -> Vec<Row> {
    Tshark::read_bytes(&format!("pana-{name}"), pcap_bytes)
        .no_resolve()
        .pref("udp.check_checksum", "TRUE")
        .fields(FIELDS)
}

/// What tshark 4.0 lists as `pana.avp.code` for a message: every AVP code, plus the
/// Result-Code value right after code 7 (TSHARK.md quirk), plus the AVP codes of a
/// Relayed-Message's inner message.
fn expected_codes(avps: &[u8]) -> Vec<String> {
    let mut v = Vec::new();
    for a in amimesh_pana::wire::AvpIter::new(avps) {
        let a = a.unwrap();
        v.push(u16::from(a.code).to_string());
        if a.code == AvpCode::ResultCode {
            v.push(a.value_u32().unwrap().to_string());
        }
        if a.code == AvpCode::RelayedMessage {
            let m = Message::new_checked(a.value).unwrap();
            v.extend(expected_codes(MessageRepr::parse(&m).unwrap().avps));
        }
    }
    v
}

/// The EAP packet inside a message (or inside its Relayed-Message).
fn eap_of(r: &MessageRepr<'_>) -> Option<Vec<u8>> {
    if let Some(e) = r.find(AvpCode::EapPayload) {
        return Some(e.value.to_vec());
    }
    let inner = r.find(AvpCode::RelayedMessage)?;
    let m = Message::new_checked(inner.value).unwrap();
    let ir = MessageRepr::parse(&m).unwrap();
    ir.find(AvpCode::EapPayload).map(|e| e.value.to_vec())
}

fn check_capture(net: &Net, name: &str) -> (usize, usize) {
    let rows = tshark(&pcap(&net.wire), name);
    assert_eq!(rows.len(), net.wire.len());
    let mut eap_psk = 0;
    for (d, row) in net.wire.iter().zip(&rows) {
        let m = Message::new_checked(&d.bytes[..]).unwrap();
        let r = MessageRepr::parse(&m).unwrap();
        let ctx = format!("{} / {:?}", summary(&d.bytes), row);
        assert!(row.col("frame.protocols").contains("pana"), "{ctx}");
        assert_eq!(row.hex("udp.checksum.status"), "1", "{ctx}");
        let payload = hex::decode(row.hex("udp.payload")).unwrap();
        assert_eq!(payload, d.bytes, "{ctx}");
        // Flags from bytes 4-5 of the payload (tshark 4.0's pana.flags is broken).
        assert_eq!(u16::from_be_bytes([payload[4], payload[5]]), r.flags.0);
        let mut types = vec![u16::from(r.message_type).to_string()];
        let mut sids = vec![format!("{:#010x}", r.session_id)];
        let mut seqs = vec![format!("{:#010x}", r.seq)];
        if r.message_type == MessageType::Relay {
            let inner = r.find(AvpCode::RelayedMessage).unwrap().value;
            let im = MessageRepr::parse(&Message::new_checked(inner).unwrap()).unwrap();
            types.push(u16::from(im.message_type).to_string());
            sids.push(format!("{:#010x}", im.session_id));
            seqs.push(format!("{:#010x}", im.seq));
        }
        assert_eq!(row.hex("pana.type"), types.join(","), "{ctx}");
        assert_eq!(row.hex("pana.sid"), sids.join(","), "{ctx}");
        assert_eq!(row.hex("pana.seq"), seqs.join(","), "{ctx}");
        assert_eq!(
            row.hex("pana.avp.code"),
            expected_codes(r.avps).join(","),
            "{ctx}"
        );
        match eap_of(&r) {
            None => assert_eq!(row.hex("eap.code"), "", "{ctx}"),
            Some(e) => {
                let p = Packet::new_checked(&e[..]).unwrap();
                let er = EapRepr::parse(&p).unwrap();
                assert_eq!(row.hex("eap.code"), u8::from(er.code).to_string(), "{ctx}");
                assert_eq!(row.hex("eap.id"), er.identifier.to_string(), "{ctx}");
                let ty = er
                    .eap_type
                    .map(|t| u8::from(t).to_string())
                    .unwrap_or_default();
                assert_eq!(row.hex("eap.type"), ty, "{ctx}");
                if er.eap_type == Some(amimesh_pana::wire::EapType::Identity)
                    && !er.type_data.is_empty()
                {
                    assert_eq!(
                        row.hex("eap.identity"),
                        String::from_utf8(er.type_data.to_vec()).unwrap()
                    );
                }
                if er.eap_type == Some(amimesh_pana::wire::EapType::Psk) {
                    eap_psk += 1;
                    let psk = PskRepr::parse(er.type_data).unwrap();
                    assert_eq!(
                        row.hex("eap.psk.flags.t"),
                        format!("{:#04x}", psk.flags().t()),
                        "{ctx}"
                    );
                    assert_eq!(
                        row.hex("eap.psk.rand_s"),
                        hex::encode(psk.rand_s()),
                        "{ctx}"
                    );
                    match psk {
                        PskRepr::First { id_s, .. } => {
                            assert_eq!(row.hex("eap.psk.id_s").as_bytes(), id_s)
                        }
                        PskRepr::Second {
                            rand_p,
                            mac_p,
                            id_p,
                            ..
                        } => {
                            assert_eq!(row.hex("eap.psk.rand_p"), hex::encode(rand_p));
                            assert_eq!(row.hex("eap.psk.mac_p"), hex::encode(mac_p));
                            assert_eq!(row.hex("eap.psk.id_p").as_bytes(), id_p);
                        }
                        PskRepr::Third {
                            mac_s, pchannel, ..
                        } => {
                            assert_eq!(row.hex("eap.psk.mac_s"), hex::encode(mac_s));
                            assert_eq!(row.hex("eap.psk.pchannel"), hex::encode(pchannel));
                        }
                        PskRepr::Fourth { pchannel, .. } => {
                            assert_eq!(row.hex("eap.psk.pchannel"), hex::encode(pchannel));
                        }
                    }
                }
            }
        }
    }
    (rows.len(), eap_psk)
}

#[test]
fn tshark_decodes_a_whole_session() {
    let mut net = Net::new(1, 100);
    net.start_all();
    net.drive_until(200, |n| n.authenticated(0));
    net.drive_until(50, |n| {
        n.agent_events
            .iter()
            .any(|e| matches!(e, AgentEvent::Authenticated { .. }))
    });
    net.clients[0].ping(net.now).unwrap();
    net.drive_until(50, |n| {
        n.client_events[0].contains(&ClientEvent::PingAnswered)
    });
    net.clients[0].reauthenticate(net.now).unwrap();
    net.drive_until(100, |n| {
        n.client_events[0]
            .iter()
            .any(|e| matches!(e, ClientEvent::Reauthenticated { .. }))
    });
    let now = net.now;
    net.agent
        .rotate_network_key(now, Key128::new([0x42; 16]), 2)
        .unwrap();
    net.drive_until(100, |n| {
        n.agent_events
            .iter()
            .any(|e| matches!(e, AgentEvent::KeyDelivered { .. }))
    });
    net.clients[0].terminate(net.now).unwrap();
    net.drive_until(100, |n| n.agent.session_count() == 0);
    if let Ok(out) = std::env::var("AMIMESH_PANA_PCAP_OUT") {
        std::fs::write(out, pcap(&net.wire)).unwrap();
    }
    let (frames, psk) = check_capture(&net, "session");
    // PCI, PAR/PAN[S], 4 EAP round trips, PAR/PAN[C], ping, re-auth, push, PTR/PTA.
    assert!(frames >= 25, "{frames}");
    // 4 EAP-PSK messages per authentication, two authentications.
    assert_eq!(psk, 8);
    // Every message type 1-4 and both R states appear.
    let kinds: std::collections::BTreeSet<_> = net
        .wire
        .iter()
        .map(|d| (d.bytes[6..8].to_vec(), d.bytes[4] & 0x80))
        .collect();
    assert_eq!(kinds.len(), 7, "{kinds:?}");
}

#[test]
fn tshark_decodes_relayed_messages() {
    let mut net = Net::new(1, 101);
    net.relayed[0] = true;
    net.start_all();
    net.drive_until(300, |n| n.authenticated(0));
    let relayed = net.wire.iter().filter(|d| d.bytes[6..8] == [0, 5]).count();
    assert!(relayed >= 10);
    check_capture(&net, "relay");
}

#[test]
fn tshark_decodes_the_compact_profile() {
    // Optimised start (EAP-PSK message 1 in PAR[S], message 2 in PAN[S]), no EAP Identity,
    // one algorithm of each kind; relayed through a PRE like a meter's join.
    let mut ac = amimesh_pana::AgentConfig::compact(
        amimesh_pana::eap_psk::identity(b"paa.example").unwrap(),
    );
    ac.seed = 102;
    let mut net = Net::with(ac, vec![client_config(0, 102)], 102);
    net.start_all();
    net.drive_until(200, |n| n.authenticated(0));
    net.drive_until(50, |n| {
        n.agent_events
            .iter()
            .any(|e| matches!(e, AgentEvent::Authenticated { .. }))
    });
    let (frames, psk) = check_capture(&net, "compact");
    assert_eq!(frames, 7);
    assert_eq!(psk, 4);
    // tshark sees the EAP-PSK messages in the S-flagged PAR/PAN (flags 0xc000 / 0x4000).
    let rows = tshark(&pcap(&net.wire), "compact-flags");
    let start: Vec<_> = net
        .wire
        .iter()
        .zip(&rows)
        .filter(|(d, _)| d.bytes[4] & 0x40 != 0)
        .map(|(_, r)| {
            (
                r.col("eap.psk.flags.t").to_string(),
                r.col("pana.avp.code").to_string(),
            )
        })
        .collect();
    assert_eq!(
        start,
        vec![
            ("0x00".to_string(), "6,3,13,2".to_string()),
            ("0x01".to_string(), "6,3,13,2".to_string()),
        ]
    );
}
