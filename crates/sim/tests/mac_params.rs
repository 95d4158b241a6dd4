//! The MAC parameters a vendor tunes (`MeterConfig::mac`, `RelayConfigDevice::mac`,
//! 802.15.4-2020 Table 8-94) reach the MAC of every device and change what it does on air.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod fieldsim;

use amimesh_core::Instant;
use amimesh_device::MacParams;
use amimesh_mac::mac::CsmaParams;
use amimesh_sim::device::{FieldTuning, field_nodes_tuned};
use amimesh_sim::topology::Layout;
use fieldsim::*;

const SEED: u64 = 7;
const METERS: usize = 3;

/// Three meters on a line with 20 % of frames lost on the way, the MAC tuned by `tuning`.
fn lossy_line(tuning: &FieldTuning) -> Field {
    let layout = Layout::line(METERS + 1, 70.0);
    let mut f = build(&layout, METERS, SEED, 0.2, |nodes, servers| {
        (*nodes, *servers) = field_nodes_tuned(METERS, SEED, |_, _| {}, tuning);
    });
    f.sim.run_until(Instant::from_secs(600)).unwrap();
    f.drain();
    f
}

#[test]
fn without_frame_retries_a_lost_frame_is_not_sent_again() {
    let none = MacParams {
        max_frame_retries: 0,
        channel_access_retries: 0,
        csma: CsmaParams {
            min_be: 2,
            max_be: 6,
            max_csma_backoffs: 5,
        },
        ..MacParams::default()
    };
    let f = lossy_line(&FieldTuning {
        meter_mac: Some(none),
        relay_mac: Some(none),
        ..FieldTuning::default()
    });
    let mut noack = 0;
    for i in 1..=METERS {
        let m = f.meter(i);
        assert_eq!(m.mac_config().max_frame_retries, 0);
        assert_eq!(m.mac_config().csma, none.csma);
        assert_eq!(m.mac_stats().tx_retries, 0, "meter {i}");
        noack += m.mac_stats().tx_noack;
    }
    let r = f.relay();
    assert_eq!(r.mac_config().max_frame_retries, 0);
    assert_eq!(r.mac_stats().tx_retries, 0);
    // Frames were lost and not acknowledged: with retries they would have been sent again.
    assert!(noack + r.mac_stats().tx_noack > 0);
}

#[test]
fn the_standard_defaults_retry_lost_frames_and_the_relay_can_differ_from_the_meters() {
    let relay = MacParams {
        max_frame_retries: 5,
        channel_access_retries: 2,
        csma: CsmaParams {
            min_be: 1,
            max_be: 4,
            max_csma_backoffs: 4,
        },
        ..MacParams::default()
    };
    let f = lossy_line(&FieldTuning {
        relay_mac: Some(relay),
        ..FieldTuning::default()
    });
    let retries: u64 = (1..=METERS)
        .map(|i| {
            let m = f.meter(i);
            assert_eq!(*m.mac_config(), {
                let mut c = m.mac_config().clone();
                c.max_frame_retries = 3;
                c.csma = CsmaParams::default();
                c
            });
            m.mac_stats().tx_retries
        })
        .sum();
    assert!(retries > 0);
    assert_eq!(f.relay().mac_config().max_frame_retries, 5);
    assert_eq!(f.relay().mac_config().channel_access_retries, 2);
    assert_eq!(f.relay().mac_config().csma, relay.csma);
    assert!((1..=METERS).all(|i| f.operational(i)));
}
