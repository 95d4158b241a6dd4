//! PRE self-check (`MeterConfig::pre_unanswered_limit`): a meter whose relayed PANA messages
//! get no answer from the PAA stops offering itself as PRE, and offers itself again after
//! `pre_withdraw_time`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use amimesh_core::{Duration, Instant};
use amimesh_device::Phase;
use amimesh_sim::device::{Device, FieldTuning, UtilityServers, field_nodes_tuned};
use amimesh_sim::topology::Layout;
use amimesh_sim::{NodeId, Sim, SimConfig};

/// Relay, meter 1, meter 2 on a line; meter 2 hears only meter 1. Meter 2 starts once meter
/// 1 is operational, with the uplink (and so the PAA) already gone.
fn run(limit: Option<Duration>) -> (Vec<(i64, bool)>, Phase) {
    let tuning = FieldTuning {
        pre_unanswered_limit: limit,
        ..FieldTuning::default()
    };
    let (nodes, servers) = field_nodes_tuned(2, 3, |_, _| {}, &tuning);
    let layout = Layout::line(3, 70.0);
    let cfg = SimConfig {
        seed: 3,
        uplink_node: Some(NodeId(0)),
        ..SimConfig::default()
    };
    let mut sim: Sim<Device, UtilityServers> =
        Sim::new(cfg, layout.positions, nodes, servers).unwrap();
    sim.with_node(NodeId(0), |n, now| {
        n.relay_mut().unwrap().start_session(now).unwrap()
    })
    .unwrap();
    sim.with_node(NodeId(1), |n, now| {
        n.meter_mut().unwrap().start(now).unwrap()
    })
    .unwrap();
    let meter1 = |sim: &Sim<Device, UtilityServers>| {
        let m = sim.node(NodeId(1)).unwrap().meter().unwrap();
        (m.phase(), m.pre_offered())
    };
    let mut t = 0;
    while meter1(&sim).0 != Phase::Operational {
        t += 1;
        assert!(t < 300, "meter 1 did not join");
        sim.run_until(Instant::from_secs(t)).unwrap();
    }
    assert!(meter1(&sim).1, "an operational meter offers itself as PRE");
    sim.set_uplink_available(false);
    sim.with_node(NodeId(2), |n, now| {
        n.meter_mut().unwrap().start(now).unwrap()
    })
    .unwrap();
    let start = t;
    let mut offered = Vec::new();
    while t < start + 400 {
        t += 1;
        sim.run_until(Instant::from_secs(t)).unwrap();
        offered.push((t - start, meter1(&sim).1));
    }
    while let Some(e) = sim.poll_event() {
        if std::env::var("FIELD_TRACE").is_ok() {
            println!("{e:?}");
        }
    }
    if std::env::var("FIELD_TRACE").is_ok() {
        println!(
            "{:?}",
            sim.node(NodeId(1)).unwrap().meter().unwrap().relay_stats()
        );
    }
    let phase2 = sim.node(NodeId(2)).unwrap().meter().unwrap().phase();
    (offered, phase2)
}

#[test]
fn a_pre_whose_paa_stays_silent_withdraws_and_returns() {
    let (offered, phase2) = run(Some(Duration::from_secs(10)));
    assert_ne!(phase2, Phase::Operational, "no PAA, no join");
    let first_off = offered
        .iter()
        .find(|(_, on)| !on)
        .map(|(t, _)| *t)
        .expect("meter 1 withdrew");
    // Four relayed PCIs (RFC 5191 §9.1: 1 s, then doubling) and then 10 s of silence.
    assert!(first_off >= 10, "withdrew after {first_off} s");
    assert!(first_off < 120, "withdrew after {first_off} s");
    // Withdrawn for the default 300 s, then offered again.
    let back = offered
        .iter()
        .find(|(t, on)| *t > first_off && *on)
        .map(|(t, _)| *t)
        .expect("meter 1 offered itself again");
    assert!(back >= first_off + 300, "back after {} s", back - first_off);
}

#[test]
fn without_the_self_check_the_pre_stays_offered() {
    let (offered, phase2) = run(None);
    assert_ne!(phase2, Phase::Operational);
    assert!(offered.iter().all(|(_, on)| *on));
}
