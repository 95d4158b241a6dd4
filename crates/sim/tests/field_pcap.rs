//! A field capture (linktype 283) that Wireshark decodes and decrypts with the network key
//! ("ZigBee IP hash") and the derived MLE key. Fails if tshark is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod fieldsim;

use amimesh_core::Instant;
use amimesh_mac::security::keys::derive_link_keys;
use amimesh_sim::device::network_key;
use amimesh_sim::pcap::PcapSink;
use amimesh_testkit::temp::TempFile;
use amimesh_testkit::tshark::{KeyHash, Row, Tshark};
use fieldsim::*;

fn tshark(path: &std::path::Path, keyed: bool, fields: &[&str]) -> Vec<Row> {
    let mut t = Tshark::read(path);
    if keyed {
        let nk = network_key();
        let mle_key = derive_link_keys(&nk).0;
        t = t
            .key(nk.expose(), 1, KeyHash::ZigbeeIp)
            .key(mle_key.expose(), 1, KeyHash::None);
    }
    t.fields(fields)
}
#[test]
fn capture_decodes_and_decrypts_in_wireshark() {
    let mut f = line(2, 3, |_, _| {});
    let pcap = TempFile::with_bytes("field", "pcap", &[]);
    let path = pcap.path().to_path_buf();
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    // The capture declares the FCS the PHY puts on air (CRC-32 for SUN FSK).
    let fcs_len = f.sim.config().radio.phy.fcs_len;
    f.sim
        .set_frame_sink(Box::new(PcapSink::new(file, fcs_len).unwrap()));
    assert!(
        f.run_until_joined(&[1, 2], Instant::from_secs(300))
            .is_some()
    );
    let frames = f.sim.stats().frames;
    f.sim.finish_frame_sink().unwrap();

    let fields = [
        "frame.protocols",
        "wpan.security",
        "wpan.key_number",
        "wpan.aux_sec.key_index",
        "pana.type",
        "mle.cmd",
        "icmpv6.type",
        "icmpv6.code",
        "data.data",
        "udp.dstport",
        "wpan.fcs_ok",
    ];
    let rows = tshark(&path, true, &fields);
    // tshark shows every frame put on air (ACKs included), each with a good FCS.
    assert_eq!(rows.len() as u64, frames);
    for r in &rows {
        assert!(r[10] == "1" || r[10] == "True", "bad FCS: {r:?}");
    }
    let secured: Vec<&Row> = rows
        .iter()
        .filter(|r| r[1] == "1" || r[1] == "True")
        .collect();
    assert!(secured.len() > 20);
    // Every secured frame is decrypted with the network key (ZigBee IP hash), key index 1.
    for r in &secured {
        assert!(!r[2].is_empty(), "not decrypted: {r:?}");
        // The MAC's key index, and MLE's own aux header where there is one.
        assert!(
            r.all("wpan.aux_sec.key_index").iter().all(|k| *k == "0x01"),
            "{r:?}"
        );
    }
    // Decrypted content decodes: RPL DIS/DIO/DAO/DAO-ACK, MLE commands, readings over UDP.
    let rpl_codes: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| r[6] == "155")
        .map(|r| r[7].as_str())
        .collect();
    for code in ["0", "1", "2", "3"] {
        assert!(
            rpl_codes.contains(code),
            "RPL code {code} seen: {rpl_codes:?}"
        );
    }
    assert!(
        secured.iter().any(|r| !r[5].is_empty()),
        "an MLE command decrypted"
    );
    assert!(rows.iter().any(|r| r[9] == "61617"), "a reading decoded");
    // PANA travels unsecured between PaC and PRE, and PANA-Relay (5) on the PRE→PAA path
    // inside secured frames.
    assert!(
        rows.iter()
            .any(|r| r[1] != "1" && r[1] != "True" && r[4] == "1"),
        "PCI in clear"
    );
    assert!(
        secured.iter().any(|r| r[4].starts_with('5')),
        "PANA-Relay decrypted"
    );
    // Beacons carry the ZigBee IP layout (protocol id 2, flags, network id) with our network
    // id; tshark 4.0 leaves the payload as data here, so the bytes are checked.
    let net_id = hex::encode(b"amimesh-field-01");
    assert!(
        rows.iter()
            .any(|r| r[0].ends_with(":data") && r[8].starts_with(&format!("02{:02x}{net_id}", 1))),
        "a beacon with the network id"
    );

    // Without the key nothing secured decodes.
    let plain = tshark(&path, false, &fields);
    let decrypted = plain
        .iter()
        .filter(|r| (r[1] == "1" || r[1] == "True") && !r[2].is_empty())
        .count();
    assert_eq!(decrypted, 0);
}
