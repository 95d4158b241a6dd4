//! Interop with scapy 2.8.0: frames built by scapy's 6LoWPAN layers must decompress to the IPv6
//! packets scapy itself decodes from them (bit for bit). Fails when python3/scapy is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amimesh_core::{ExtAddr, LinkAddr, ShortAddr};
use amimesh_sixlowpan::wire::lowpan::{Dispatch, MeshRepr};
use amimesh_sixlowpan::{CompressOptions, ContextTable, compress, decompress};
use amimesh_testkit::scapy;

fn link(s: &str) -> LinkAddr {
    let (kind, hex) = s.split_once(':').unwrap();
    match kind {
        "s" => LinkAddr::Short(ShortAddr(u16::from_str_radix(hex, 16).unwrap())),
        _ => LinkAddr::Extended(ExtAddr::from_u64(u64::from_str_radix(hex, 16).unwrap())),
    }
}

/// Length of the 802.15.4 MAC header of the frames the script builds (data frame, PAN ID
/// compression, 2006 addressing).
fn mac_header_len(frame: &[u8]) -> usize {
    let fcf = u16::from_le_bytes([frame[0], frame[1]]);
    let alen = |mode: u16| match mode {
        2 => 2,
        3 => 8,
        _ => 0,
    };
    3 + 2 + alen((fcf >> 10) & 3) + alen((fcf >> 14) & 3)
}

#[test]
fn scapy_frames_decompress_to_what_scapy_decodes() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scapy_frames.py");
    let ctx = ContextTable::new();
    let lines = scapy::json_lines(&scapy::run_file(script));
    assert!(lines.len() >= 14, "every scapy case printed");
    for c in &lines {
        let name = c["name"].as_str().unwrap();
        let frame = hex::decode(c["frame"].as_str().unwrap()).unwrap();
        let want = hex::decode(c["ipv6"].as_str().unwrap()).unwrap();
        let (src, dst) = (
            link(c["src"].as_str().unwrap()),
            link(c["dst"].as_str().unwrap()),
        );
        // Strip the MAC header and the FCS scapy appended.
        let mut lowpan = &frame[mac_header_len(&frame)..frame.len() - 2];
        if Dispatch::from_byte(lowpan[0]) == Dispatch::Mesh {
            let (mesh, n) = MeshRepr::parse(lowpan).unwrap();
            assert_eq!(mesh.hops_left, 3, "{name}");
            assert_eq!(mesh.originator, LinkAddr::Short(ShortAddr(1)), "{name}");
            assert_eq!(mesh.final_dest, LinkAddr::Short(ShortAddr(2)), "{name}");
            lowpan = &lowpan[n..];
        }
        let mut packet = [0u8; 256];
        let n = decompress(lowpan, src, dst, &ctx, &mut packet)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hex::encode(&packet[..n]), hex::encode(&want), "{name}");

        // And our compressor, given scapy's packet, produces something that comes back.
        let mut again = [0u8; 256];
        let opts = CompressOptions::default();
        let k = compress(&want, src, dst, &ctx, &opts, &mut again).unwrap();
        let mut back = [0u8; 256];
        let m = decompress(&again[..k], src, dst, &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &want[..], "{name}");
    }
}
