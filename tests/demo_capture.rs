//! The shipped demo capture is exactly what `cargo run --example make_demo_capture` writes,
//! and Wireshark decrypts its secured frames with the network key ("ZigBee IP hash") down to
//! valid UDP/ICMPv6 checksums. A missing tshark is a failure.
//!
//! Regenerate with `cargo run --example make_demo_capture` (or `AMIMESH_REGENERATE=1 cargo
//! test --test demo_capture`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../examples/make_demo_capture/capture.rs"]
#[allow(dead_code)]
mod capture;

use amimesh_testkit::tshark::{KeyHash, Tshark};
use std::path::PathBuf;

fn shipped() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures/demo.pcap")
}

#[test]
fn demo_capture_is_up_to_date() {
    let bytes = capture::demo_pcap();
    if std::env::var_os("AMIMESH_REGENERATE").is_some() {
        std::fs::write(shipped(), &bytes).unwrap();
    }
    let on_disk = std::fs::read(shipped()).expect("captures/demo.pcap is shipped");
    assert!(
        on_disk == bytes,
        "captures/demo.pcap is stale: run `cargo run --example make_demo_capture`"
    );
}

#[test]
fn tshark_decrypts_the_demo_with_the_network_key() {
    let rows = Tshark::read(shipped())
        .key(&capture::NETWORK_KEY, capture::KEY_INDEX, KeyHash::ZigbeeIp)
        .pref("udp.check_checksum", "TRUE")
        .fields(&[
            "frame.protocols",
            "wpan.aux_sec.sec_level",
            "udp.checksum.status",
            "icmpv6.checksum.status",
            "_ws.expert.message",
        ]);
    assert_eq!(rows.len(), capture::demo_frames().len());
    let secured: Vec<_> = rows
        .iter()
        .filter(|r| r[1] == "0x05" || r[1] == "5")
        .collect();
    assert_eq!(secured.len(), 3);
    for r in &secured {
        assert!(r[0].contains(":6lowpan:ipv6:"), "not decrypted: {r:?}");
        assert!(
            r[2] == "1" || r[3] == "1",
            "bad checksum after decryption: {r:?}"
        );
        assert!(!r[4].contains("decrypt"), "{r:?}");
    }
    assert!(rows[1][0].ends_with("zbip_beacon"), "{:?}", rows[1]);
    assert!(
        rows[4][0].ends_with(":pana") && rows[4][2] == "1",
        "{:?}",
        rows[4]
    );
}
