//! Scale: the per-node bookkeeping of frames on air keeps the trace of the network-wide
//! search it replaced (golden hashes recorded with that search), and a few hundred meters
//! with real device stacks all join and report.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use amimesh_core::{Duration, Instant};
use amimesh_sim::topology::Layout;
use amimesh_sim::traffic::{TrafficConfig, TrafficNode};
use amimesh_sim::{NoServer, Position, Sim, SimConfig};

/// A dense grid (every node hears many others, so CCA, capture and collisions all happen),
/// with broadcast and acknowledged unicast traffic, two channels and no extra loss.
fn busy_grid(seed: u64, side: usize, spacing: f64, secs: i64) -> Sim<TrafficNode> {
    let layout = Layout::grid(side, side, spacing);
    let nodes = (0..side * side)
        .map(|i| {
            let dst = if i % 3 == 0 { 0xffff } else { (i / 2) as u16 };
            let mut c = TrafficConfig::new(
                i as u16,
                dst,
                Some(Duration::from_millis(700)),
                seed * 7919 + i as u64,
            );
            c.payload_len = 30 + (i % 5) * 20;
            c.channel = 1 + (i % 4 == 0) as u8;
            TrafficNode::new(c)
        })
        .collect();
    let cfg = SimConfig {
        seed,
        ..SimConfig::default()
    };
    let mut s = Sim::new(cfg, layout.positions, nodes, NoServer).unwrap();
    s.run_until(Instant::from_secs(secs)).unwrap();
    s
}

/// Two clusters out of each other's CCA range but sharing receivers in the middle (hidden
/// terminals), on an explicit random layout.
fn hidden_terminals(seed: u64, secs: i64) -> Sim<TrafficNode> {
    let mut positions = Vec::new();
    for k in 0..30u32 {
        let x = f64::from(k % 10) * 37.0 + f64::from(k / 10) * 11.0;
        let y = f64::from(k / 10) * 41.0;
        positions.push(Position { x, y });
    }
    let nodes = (0..positions.len())
        .map(|i| {
            let dst = ((i + 5) % positions.len()) as u16;
            let mut c = TrafficConfig::new(
                i as u16,
                dst,
                Some(Duration::from_millis(400)),
                seed + i as u64,
            );
            c.payload_len = 90;
            TrafficNode::new(c)
        })
        .collect();
    let mut cfg = SimConfig {
        seed,
        ..SimConfig::default()
    };
    cfg.radio.extra_loss = 0.05;
    let mut s = Sim::new(cfg, positions, nodes, NoServer).unwrap();
    s.run_until(Instant::from_secs(secs)).unwrap();
    s
}

/// Trace hashes of these runs as the engine gave them when every transmission and every CCA
/// searched all frames on air in the network (before the per-node lists).
const GOLDEN: [(u64, u64, u64); 2] = [
    (1, 0x54f2_5f9e_7974_58a2, 0xbfb8_b46d_0b1a_99b2),
    (2, 0x36d3_8ce7_b028_36e0, 0xca29_f847_e663_63b6),
];

#[test]
fn per_node_air_lists_keep_the_trace_of_the_network_wide_search() {
    for (seed, grid, hidden) in GOLDEN {
        let a = busy_grid(seed, 8, 25.0, 30);
        let st = a.stats();
        // Every part of the medium model was exercised.
        assert!(st.cca_busy > 1000 && st.collisions > 1000, "{st:?}");
        assert!(
            st.interrupted > 100 && st.no_ack > 1000 && st.auto_acks > 100,
            "{st:?}"
        );
        assert_eq!(a.trace_hash(), grid, "grid, seed {seed}: {st:?}");
        let b = hidden_terminals(seed, 30);
        let st = b.stats();
        assert!(st.collisions > 1000 && st.extra_loss > 0, "{st:?}");
        assert_eq!(
            b.trace_hash(),
            hidden,
            "hidden terminals, seed {seed}: {st:?}"
        );
    }
}

/// A hundred meters with the large-network settings (scan back-off, LQI floor for the PRE,
/// readings every 30 min) on the default random area (2,200 m² per meter, relay at the west
/// edge, several hops): every meter joins and every meter's reading reaches the AMR server.
#[test]
fn a_hundred_meters_with_large_network_settings_all_join_and_report() {
    use amimesh_device::{MeterEvent, Phase};
    use amimesh_sim::NodeId;
    use amimesh_sim::device::{DeviceEvent, FieldTuning, field_sim_tuned};
    use amimesh_sim::scenario::{PhyName, Scenario, TopologySpec};

    let meters = 100usize;
    let mut s = Scenario::new(
        1,
        meters,
        TopologySpec::random_area(meters, 2200.0, 2.27, 0),
    );
    s.phy = PhyName::SunFsk920_100k;
    let tuning = FieldTuning::large_network();
    let mut sim = field_sim_tuned(&s, &tuning).unwrap();
    let mut no_beacon = 0u64;
    let mut t = 0i64;
    let all_joined_and_reported = loop {
        t += 60;
        sim.run_until(Instant::from_secs(t)).unwrap();
        while let Some((_, _, e)) = sim.poll_event() {
            if matches!(e, DeviceEvent::Meter(MeterEvent::NoBeacon)) {
                no_beacon += 1;
            }
        }
        let nodes = sim.nodes();
        let joined: Vec<_> = nodes
            .iter()
            .filter_map(|d| d.meter())
            .filter(|m| m.phase() == Phase::Operational)
            .filter_map(|m| m.global_address())
            .collect();
        let reported = joined
            .iter()
            .filter(|a| sim.server().readings_from(a) > 0)
            .count();
        if reported == meters {
            break true;
        }
        if t >= 3600 {
            break false;
        }
    };
    assert!(
        all_joined_and_reported,
        "not all joined and reported by {t} s"
    );
    // The scan back-off kept the Beacon Requests of meters beyond the joined area bounded:
    // with a fixed 5 s retry each of them scans every 5.3 s.
    assert!(no_beacon > 0);
    assert!(
        no_beacon < (meters as u64) * (t as u64) / 5 / 4,
        "{no_beacon} empty scans in {t} s"
    );
    let relay = sim.node(NodeId(0)).and_then(|d| d.relay()).unwrap();
    assert!(relay.route_table().len() > meters / 2);
    // The PAA ran its timers from measured round trips over the mesh (several hops: longer
    // than a direct link, and never below REQ_IRT), and kept within its handshake limit.
    let paa = &sim.server().paa;
    let srtt = paa.rtt().srtt().expect("the PAA measured round trips");
    assert!(srtt > amimesh_core::Duration::from_millis(50), "{srtt}");
    assert!(paa.rtt().rto(&amimesh_pana::RtxParams::REQ) >= amimesh_pana::RtxParams::REQ.irt);
    assert!(paa.handshakes() <= 64);
}
