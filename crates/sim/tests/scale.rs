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
