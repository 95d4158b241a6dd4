//! Captures written by the simulator decode in Wireshark: every frame present, FCS correct,
//! TAP channel TLV read back. Fails if tshark is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use amimesh_core::{Duration, Instant};
use amimesh_mac::mac::phy::PhyProfile;
use amimesh_sim::pcap::PcapSink;
use amimesh_sim::topology::Layout;
use amimesh_sim::traffic::{TrafficConfig, TrafficNode};
use amimesh_sim::{NoServer, Sim, SimConfig};
use amimesh_testkit::pcap::{LINKTYPE_IEEE802_15_4_TAP, write};
use amimesh_testkit::temp::TempFile;
use amimesh_testkit::tshark::{Row, Tshark};

/// Runs 4 nodes on a line for 5 s on `phy`, capturing to a file; returns (path, frames on
/// air, auto-ACKs).
fn capture(phy: PhyProfile, page: u8, channel: u8, name: &str) -> (TempFile, u64, u64) {
    let layout = Layout::line(4, 25.0);
    let nodes = (0..4u16)
        .map(|i| {
            let mut c = TrafficConfig::new(
                i,
                if i == 0 { 0xffff } else { i - 1 },
                Some(Duration::from_millis(500)),
                u64::from(i) + 100,
            );
            c.phy = phy;
            c.channel = channel;
            TrafficNode::new(c)
        })
        .collect();
    let mut cfg = SimConfig {
        seed: 77,
        ..SimConfig::default()
    };
    cfg.radio.phy = phy;
    cfg.radio.channel_page = page;
    let mut s = Sim::new(cfg, layout.positions, nodes, NoServer).unwrap();
    let pcap = TempFile::with_bytes(name, "pcap", &[]);
    let file = std::io::BufWriter::new(std::fs::File::create(pcap.path()).unwrap());
    s.set_frame_sink(Box::new(PcapSink::new(file, phy.fcs_len).unwrap()));
    s.run_until(Instant::from_secs(5)).unwrap();
    s.finish_frame_sink().unwrap();
    let st = s.stats();
    (pcap, st.frames, st.auto_acks)
}

fn tshark_fields(path: &std::path::Path, fields: &[&str]) -> Vec<Row> {
    Tshark::read(path).fields(fields)
}

fn check(phy: PhyProfile, page: u8, channel: u8, fcs_type: &str, name: &str) {
    let (pcap, frames, acks) = capture(phy, page, channel, name);
    assert!(frames > 30, "{frames}");
    assert!(acks > 10, "{acks}");
    let rows = tshark_fields(
        pcap.path(),
        &[
            "frame.protocols",
            "wpan-tap.fcs_type",
            "wpan-tap.ch_num",
            "wpan.fcs_ok",
            "wpan.frame_type",
            "wpan.src16",
            "wpan.dst16",
        ],
    );
    assert_eq!(rows.len() as u64, frames);
    let mut data = 0;
    let mut ack = 0;
    for r in &rows {
        assert!(r[0].starts_with("wpan-tap"), "{r:?}");
        assert_eq!(r[1], fcs_type, "{r:?}");
        assert_eq!(r[2], channel.to_string(), "{r:?}");
        assert_eq!(r[3], "1", "FCS not OK: {r:?}");
        match r[4].as_str() {
            "0x0001" => {
                data += 1;
                // Node i sends to node i − 1; node 0 broadcasts.
                let src = u16::from_str_radix(r[5].trim_start_matches("0x"), 16).unwrap();
                let dst = u16::from_str_radix(r[6].trim_start_matches("0x"), 16).unwrap();
                assert!(src < 4, "{r:?}");
                assert_eq!(dst, if src == 0 { 0xffff } else { src - 1 }, "{r:?}");
            }
            "0x0002" => ack += 1,
            other => panic!("unexpected frame type {other}"),
        }
    }
    assert_eq!(ack, acks);
    assert_eq!(data + ack, frames);
}

#[test]
fn oqpsk_capture_decodes_with_crc16() {
    check(PhyProfile::O_QPSK_2450, 0, 15, "1", "oqpsk");
}

#[test]
fn sun_fsk_capture_decodes_with_crc32() {
    check(PhyProfile::SUN_FSK_920_100K, 9, 3, "2", "sunfsk");
}

#[test]
fn the_oracle_flags_a_bad_fcs() {
    // A record whose FCS is off by one bit must show wpan.fcs_ok = 0, or the checks above
    // prove nothing.
    use amimesh_sim::pcap::{append_fcs, tap_header};
    let cfg = TrafficConfig::new(1, 0, None, 0);
    let mpdu = TrafficNode::new(cfg).build_frame(5, 1);
    let mut records = Vec::new();
    for corrupt in [false, true] {
        let mut frame = mpdu.clone();
        append_fcs(&mut frame, 2);
        if corrupt {
            let n = frame.len();
            frame[n - 1] ^= 0x01;
        }
        let mut data = tap_header(2, 11, 0).to_vec();
        data.extend_from_slice(&frame);
        records.push(data);
    }
    let pcap = write("badfcs", LINKTYPE_IEEE802_15_4_TAP, &records);
    let rows = tshark_fields(pcap.path(), &["wpan.fcs_ok", "wpan.seq_no"]);
    let rows: Vec<&[String]> = rows.iter().map(|r| &r[..]).collect();
    assert_eq!(rows, vec![["1", "5"], ["0", "5"]]);
}
