//! Interop: the frames the MAC state machine puts on the air during a join (Beacon Request,
//! beacon with the amimesh/ZigBee IP payload, secured unicast data, immediate ACK, broadcast
//! data), decoded by Wireshark's `tshark`. Every field Wireshark shows must be what the MAC
//! meant to send, and the secured payload must decrypt (MIC verified) to the plaintext. A
//! missing tshark is a failure.

// Test harness code outside #[test] functions may fail loudly.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

mod medium;

use amimesh_core::{Duration, Key128, LinkAddr, PanId, ShortAddr};
use amimesh_mac::mac::beacon_payload::{FLAG_ALLOW_JOIN, FLAG_ROUTER_CAPACITY, RoutingHint};
use amimesh_mac::mac::{
    BeaconPayloadRepr, DataRequest, Event, ScanDuration, ScanRequest, SecurityPolicy, TxKind,
    TxSecurity,
};
use amimesh_mac::wire::PsduConfig;
use amimesh_testkit::pcap;
use amimesh_testkit::tshark::{self, KeyHash, Tshark};
use medium::{Link, Medium};
use serde_json::Value;

const PAN: PanId = PanId(0xabcd);
const MAC_KEY: [u8; 16] = [
    0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f,
];

fn network_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..12].copy_from_slice(b"amimesh-demo");
    id
}

/// Runs a join on the virtual medium and returns every PSDU (FCS excluded), in air order.
fn capture() -> Vec<(TxKind, Vec<u8>)> {
    let mut m = Medium::new(3);
    let mut rc = Medium::config(1);
    rc.pan_id = PAN;
    rc.short_addr = Some(ShortAddr(0x0001));
    rc.pan_coordinator = true;
    let relay = m.add(rc);
    let joiner = m.add(Medium::config(2));
    m.link(relay, joiner, Link::PERFECT);
    m.nodes[relay]
        .mac
        .set_beacon_payload(Some(BeaconPayloadRepr::new(
            FLAG_ALLOW_JOIN | FLAG_ROUTER_CAPACITY,
            network_id(),
            true,
            Some(RoutingHint { rank: 256, hops: 0 }),
        )));
    let now = m.now;
    m.nodes[joiner]
        .mac
        .start_scan(
            now,
            ScanRequest {
                channels: &[11],
                duration: ScanDuration::Exponent(2),
            },
        )
        .unwrap();
    m.drain(joiner);
    m.run_for(Duration::from_millis(200));
    assert!(
        m.nodes[joiner]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::ScanDone { pans } if pans.len() == 1))
    );
    // Joined: PAN from the beacon; both hold the MAC key (index 1) and secure data.
    m.nodes[joiner].mac.set_pan(PAN, 11);
    for n in [relay, joiner] {
        m.nodes[n].mac.install_key(1, &Key128::from(MAC_KEY));
        m.nodes[n].mac.set_tx_key(1).unwrap();
        m.nodes[n].mac.set_security_policy(SecurityPolicy::PROFILE);
    }
    let dst = LinkAddr::Extended(m.ext(relay));
    let now = m.now;
    m.nodes[joiner]
        .mac
        .send(now, DataRequest::new(1, dst, b"\x00secured reading"))
        .unwrap();
    m.drain(joiner);
    m.run_for(Duration::from_millis(50));
    let now = m.now;
    m.nodes[relay]
        .mac
        .send(
            now,
            DataRequest {
                security: TxSecurity::Unsecured,
                ..DataRequest::new(2, LinkAddr::Short(ShortAddr::BROADCAST), b"\x00hello all")
            },
        )
        .unwrap();
    m.drain(relay);
    m.run_for(Duration::from_millis(50));
    let mut all: Vec<_> = m
        .nodes
        .iter()
        .flat_map(|n| n.sent.iter().cloned())
        .collect();
    all.sort_by_key(|(t, _, _)| *t);
    all.into_iter().map(|(_, k, p)| (k, p)).collect()
}

fn tshark(frames: &[(TxKind, Vec<u8>)]) -> Vec<Value> {
    let psdus: Vec<Vec<u8>> = frames
        .iter()
        .map(|(_, f)| {
            let mut buf = f.clone();
            buf.extend_from_slice(&[0, 0]);
            let n = PsduConfig::IEEE802154.append(&mut buf, f.len()).unwrap();
            buf.truncate(n);
            buf
        })
        .collect();
    let file = pcap::write("mac-sm", pcap::LINKTYPE_IEEE802_15_4_WITHFCS, &psdus);
    Tshark::read(&file)
        .key(&MAC_KEY, 1, KeyHash::None)
        // Atmel LwMesh's heuristic claims arbitrary data payloads; it is not in this stack.
        .disable("lwm")
        .json()
}

/// Every value of field `name` anywhere in the packet's layers.
fn field(pkt: &Value, name: &str) -> Vec<String> {
    tshark::all(tshark::layers(pkt), name)
}

fn one(pkt: &Value, name: &str) -> String {
    let v = field(pkt, name);
    assert_eq!(v.len(), 1, "{name}: {v:?} in {pkt:#}");
    v[0].clone()
}

#[test]
fn wireshark_decodes_the_join_traffic() {
    let frames = capture();
    let kinds: Vec<TxKind> = frames.iter().map(|f| f.0).collect();
    assert_eq!(
        kinds,
        [
            TxKind::BeaconRequest,
            TxKind::Beacon,
            TxKind::Data,
            TxKind::Ack,
            TxKind::Data
        ]
    );
    let pkts = tshark(&frames);
    assert_eq!(pkts.len(), 5);
    for p in &pkts {
        assert_eq!(one(p, "wpan.fcs_ok"), "1");
    }
    // Beacon Request: command 0x07 to 0xffff on PAN 0xffff, no source.
    let br = &pkts[0];
    assert_eq!(one(br, "wpan.frame_type"), "0x0003");
    assert_eq!(one(br, "wpan.cmd"), "0x07");
    assert_eq!(one(br, "wpan.dst_pan"), "0xffff");
    assert_eq!(one(br, "wpan.dst16"), "0xffff");
    assert!(field(br, "wpan.src_pan").is_empty());
    // Beacon: from 0x0001 on PAN 0xabcd, non-beacon-enabled superframe, PAN coordinator,
    // association permitted; ZigBee IP payload decoded by Wireshark.
    let b = &pkts[1];
    assert_eq!(one(b, "wpan.frame_type"), "0x0000");
    assert_eq!(one(b, "wpan.src16"), "0x0001");
    assert_eq!(one(b, "wpan.src_pan"), "0xabcd");
    assert_eq!(one(b, "wpan.beacon_order"), "15");
    assert_eq!(one(b, "wpan.superframe_order"), "15");
    assert_eq!(one(b, "wpan.bcn_coord"), "1");
    assert_eq!(one(b, "wpan.assoc_permit"), "1");
    assert_eq!(one(b, "zbee_beacon.protocol"), "2");
    assert_eq!(one(b, "zbip_beacon.allow_join"), "1");
    assert_eq!(one(b, "zbip_beacon.router"), "1");
    assert_eq!(one(b, "zbip_beacon.host"), "0");
    assert_eq!(one(b, "zbip_beacon.network_id"), "amimesh-demo");
    // Wireshark knows the 18-byte ZigBee IP header; our TLVs follow it undecoded: PRE (0xE,
    // length 0) and the routing hint (0xF, length 3: rank 0x0100, 0 hops).
    assert_eq!(one(b, "data.data"), "e0:f3:01:00:00");
    // Secured unicast: level 5, key id mode 1, index 1, decrypted with the MAC key.
    let d = &pkts[2];
    let seq = one(d, "wpan.seq_no");
    assert_eq!(one(d, "wpan.frame_type"), "0x0001");
    assert_eq!(one(d, "wpan.security"), "1");
    assert_eq!(one(d, "wpan.ack_request"), "1");
    assert_eq!(one(d, "wpan.aux_sec.sec_level"), "0x05");
    assert_eq!(one(d, "wpan.aux_sec.key_id_mode"), "0x01");
    assert_eq!(one(d, "wpan.aux_sec.key_index"), "0x01");
    assert_eq!(one(d, "wpan.aux_sec.frame_counter"), "0");
    assert_eq!(one(d, "wpan.key_number"), "0");
    assert_eq!(
        one(d, "data.data").replace(':', ""),
        hex::encode(b"\x00secured reading")
    );
    // Immediate ACK with the data frame's sequence number.
    let a = &pkts[3];
    assert_eq!(one(a, "wpan.frame_type"), "0x0002");
    assert_eq!(one(a, "wpan.seq_no"), seq);
    // Unsecured broadcast data.
    let bc = &pkts[4];
    assert_eq!(one(bc, "wpan.dst16"), "0xffff");
    assert_eq!(one(bc, "wpan.security"), "0");
    assert_eq!(one(bc, "wpan.ack_request"), "0");
    assert_eq!(
        one(bc, "data.data").replace(':', ""),
        hex::encode(b"\x00hello all")
    );
}

/// The join traffic is fixed by the seeds: it must equal the committed fixtures byte for byte
/// (`AMIMESH_BLESS=1` rewrites them after an intended change).
#[test]
fn join_traffic_matches_the_fixtures() {
    let frames = capture();
    let names = [
        "mac_sm_beacon_request.bin",
        "mac_sm_beacon_zbip.bin",
        "mac_sm_data_level5.bin",
        "mac_sm_ack.bin",
        "mac_sm_broadcast_data.bin",
    ];
    for (name, (_, psdu)) in names.iter().zip(&frames) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name);
        if std::env::var_os("AMIMESH_BLESS").is_some() {
            std::fs::write(&path, psdu).unwrap();
        }
        let fixture = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&fixture, psdu, "{name}");
    }
}
