//! Interop: a relayed session (PaC ↔ PRE ↔ PAA, including a network-key push and a logout)
//! captured on both hops as a raw-IPv6 pcap (linktype 229, UDP 716, checksums computed) and
//! decoded by Wireshark's `tshark`. For every PANA-Relay message tshark must report type `5`
//! followed by the inner type, the PaC-Information bytes the PRE wrote, and the nested inner
//! message (session id, sequence number, AVP codes, EAP). A missing `tshark` fails the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use amimesh_core::Key128;
use amimesh_pana::AgentEvent;
use amimesh_pana::wire::{AvpCode, AvpIter, EapRepr, Message, MessageRepr, MessageType, Packet};
use amimesh_pana_relay::{PacInformation, parse_relay};
use amimesh_testkit::tshark::{Row, Tshark};
use common::*;

const FIELDS: &[&str] = &[
    "frame.protocols",
    "ipv6.src",
    "ipv6.dst",
    "udp.srcport",
    "udp.dstport",
    "udp.checksum.status",
    "udp.payload",
    "pana.type",
    "pana.sid",
    "pana.seq",
    "pana.avp.code",
    "pana.avp.data_length",
    "pana.avp.data.bytes",
    "eap.code",
    "eap.type",
];

fn tshark(pcap_bytes: &[u8]) -> Vec<Row> {
    Tshark::read_bytes("pana-relay", pcap_bytes)
        .no_resolve()
        .pref("udp.check_checksum", "TRUE")
        .fields(FIELDS)
}

/// `pana.avp.code` as tshark 4.0 lists it: every AVP code, the Result-Code value right after
/// code 7 (TSHARK.md quirk), and the AVP codes of a Relayed-Message's inner message.
fn expected_codes(avps: &[u8]) -> Vec<String> {
    let mut v = Vec::new();
    for a in AvpIter::new(avps) {
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

fn parse(b: &[u8]) -> MessageRepr<'_> {
    MessageRepr::parse(&Message::new_checked(b).unwrap()).unwrap()
}

#[test]
fn tshark_decodes_pana_relay_from_the_pre_and_the_paa() {
    let mut net = Net::new(1, 21);
    net.start_all();
    net.drive_until(300, |n| n.authenticated(0));
    let now = net.now;
    net.agent
        .rotate_network_key(now, Key128::new([0x42; 16]), 2)
        .unwrap();
    net.drive_until(200, |n| {
        n.agent_count(|e| matches!(e, AgentEvent::KeyDelivered { .. })) == 1
    });
    let now = net.now;
    net.clients[0].terminate(now).unwrap();
    net.drive_until(100, |n| n.agent.session_count() == 0);

    let wire = net.wire();
    let rows = tshark(&pcap(&wire));
    assert_eq!(rows.len(), wire.len());
    let (mut from_pre, mut from_paa, mut with_eap) = (0, 0, 0);
    for (d, row) in wire.iter().zip(&rows) {
        let r = parse(&d.bytes);
        let ctx = format!("{} / {row:?}", summary(&d.bytes));
        assert!(row.col("frame.protocols").contains("pana"), "{ctx}");
        assert_eq!(row.hex("udp.checksum.status"), "1", "{ctx}");
        assert_eq!(row.col("ipv6.src"), d.src.to_string(), "{ctx}");
        assert_eq!(row.col("ipv6.dst"), d.dst.to_string(), "{ctx}");
        assert_eq!(row.hex("udp.srcport"), d.sport.to_string(), "{ctx}");
        assert_eq!(row.hex("udp.dstport"), d.dport.to_string(), "{ctx}");
        assert_eq!(hex::decode(row.hex("udp.payload")).unwrap(), d.bytes);
        assert_eq!(
            row.hex("pana.avp.code"),
            expected_codes(r.avps).join(","),
            "{ctx}"
        );
        let (inner, pac) = if r.message_type == MessageType::Relay {
            let pry = parse_relay(&d.bytes).unwrap();
            (parse(pry.relayed), Some(pry))
        } else {
            (r, None)
        };
        let (types, sids, seqs) = match pac {
            Some(_) => (
                format!("5,{}", u16::from(inner.message_type)),
                format!("0x00000000,{:#010x}", inner.session_id),
                format!("0x00000000,{:#010x}", inner.seq),
            ),
            None => (
                u16::from(inner.message_type).to_string(),
                format!("{:#010x}", inner.session_id),
                format!("{:#010x}", inner.seq),
            ),
        };
        assert_eq!(row.hex("pana.type"), types, "{ctx}");
        assert_eq!(row.hex("pana.sid"), sids, "{ctx}");
        assert_eq!(row.hex("pana.seq"), seqs, "{ctx}");
        if let Some(pry) = pac {
            // PaC-Information: the PaC's link-local address and port, 18 bytes.
            assert_eq!(
                pry.pac,
                PacInformation {
                    addr: pac_addr(0),
                    port: 716
                }
            );
            let lens = row.hex("pana.avp.data_length");
            assert!(
                lens.starts_with(&format!("18,{},", pry.relayed.len()))
                    || lens == format!("18,{}", pry.relayed.len()),
                "{ctx}"
            );
            let bytes = row.hex("pana.avp.data.bytes");
            assert_eq!(
                bytes.split(',').next().unwrap(),
                hex::encode(pry.pac.to_bytes()),
                "{ctx}"
            );
            if d.src == PRE_ADDR {
                from_pre += 1;
            } else {
                assert_eq!(d.src, PAA_ADDR);
                from_paa += 1;
            }
        } else {
            assert!(d.src.is_unicast_link_local() && d.dst.is_unicast_link_local());
        }
        match inner.find(AvpCode::EapPayload) {
            None => assert_eq!(row.hex("eap.code"), "", "{ctx}"),
            Some(e) => {
                let er = EapRepr::parse(&Packet::new_checked(e.value).unwrap()).unwrap();
                assert_eq!(row.hex("eap.code"), u8::from(er.code).to_string(), "{ctx}");
                let ty = er.eap_type.map(|t| u8::from(t).to_string());
                assert_eq!(row.hex("eap.type"), ty.unwrap_or_default(), "{ctx}");
                with_eap += 1;
            }
        }
    }
    assert!(from_pre >= 6 && from_paa >= 6, "{from_pre} {from_paa}");
    assert!(with_eap >= 8, "{with_eap}");
}
