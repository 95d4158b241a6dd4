//! `MeterConfig::dao_on_reading_timeout`: a meter whose readings stop being acknowledged
//! sends a fresh DAO, which restores a downward route lost on the way up long before the
//! route's refresh is due.
//!
//! Three meters on a line, each hearing only its neighbours, under long route lifetimes (60 min: refreshes 20 min apart). Meter 1
//! reboots and comes back with an empty route table, so the routes to meters 2 and 3 end at
//! it while the relay still sends their acknowledgements that way.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod fieldsim;

use amimesh_core::{Duration, Instant};
use amimesh_device::MeterEvent;
use amimesh_sim::device::{DeviceEvent, FieldTuning, field_nodes_tuned};
use fieldsim::*;

const SEED: u64 = 41;
/// Far enough apart that each meter hears only its neighbours on the line.
const SPACING_M: f64 = 80.0;

/// After meter 1's reboot: (readings of meters 2 and 3 acknowledged, readings given up).
fn after_reboot(dao_on_timeout: bool) -> (usize, usize) {
    let tuning = FieldTuning {
        reading_period: Some(Duration::from_secs(300)),
        reading_ack_timeout: Some(Duration::from_secs(5)),
        reading_retries: Some(4),
        route_lifetime_min: Some(60),
        dao_on_reading_timeout: Some(dao_on_timeout),
        ..FieldTuning::default()
    };
    let layout = amimesh_sim::topology::Layout::line(4, SPACING_M);
    let mut f = build(&layout, 3, SEED, 0.0, |nodes, servers| {
        (*nodes, *servers) = field_nodes_tuned(3, SEED, |_, _| {}, &tuning);
    });
    let j = f.run_until_joined(&[1, 2, 3], Instant::from_secs(300));
    assert!(j.is_some(), "the line did not join");
    f.sim
        .run_until(f.sim.now() + Duration::from_secs(60))
        .unwrap();
    f.drain();
    let (_, _, on) = f.reboot_meter(1, SEED);
    f.run_until_joined(&[1], on + Duration::from_secs(300))
        .unwrap();
    let back = f.sim.now();
    // Two reading periods of meters 2 and 3, well inside the 20 min refresh.
    f.sim.run_until(back + Duration::from_secs(700)).unwrap();
    f.drain();
    let (mut acked, mut lost) = (0, 0);
    for (t, id, e) in &f.events {
        if *t < back || id.index() < 2 {
            continue;
        }
        match e {
            DeviceEvent::Meter(MeterEvent::ReadingAcked { .. }) => acked += 1,
            DeviceEvent::Meter(MeterEvent::ReadingLost { .. }) => lost += 1,
            _ => {}
        }
    }
    (acked, lost)
}

#[test]
fn a_fresh_dao_repairs_the_route_an_unacknowledged_reading_reveals() {
    let (acked, lost) = after_reboot(true);
    assert!(acked >= 3, "acked {acked}, lost {lost}");
    assert_eq!(lost, 0);
}

#[test]
fn without_it_the_route_stays_broken_until_the_refresh() {
    let (acked, lost) = after_reboot(false);
    assert!(lost >= 2, "acked {acked}, lost {lost}");
}
