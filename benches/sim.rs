//! amimesh-sim engine throughput: N reference nodes on a grid for T virtual seconds.
//!
//! Each meter sends a 40-octet acknowledged frame towards its west neighbour every 5 s
//! (auto-ACK radios, CSMA-CA, 10 % extra loss). The throughput figure is simulator events
//! per wall-clock second (`Throughput::Elements` = steps of one run).

#![allow(clippy::panic)] // a bench that cannot build its network has nothing to measure

use amimesh_core::{Duration, Instant};
use amimesh_sim::topology::Layout;
use amimesh_sim::traffic::{TrafficConfig, TrafficNode};
use amimesh_sim::{NoServer, Sim, SimConfig};
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};

fn build(side: usize, seed: u64) -> Sim<TrafficNode> {
    let layout = Layout::grid(side, side, 40.0);
    let nodes = (0..side * side)
        .map(|i| {
            let dst = if i % side == 0 { 0xffff } else { i as u16 - 1 };
            let mut c = TrafficConfig::new(i as u16, dst, Some(Duration::from_secs(5)), i as u64);
            c.payload_len = 40;
            TrafficNode::new(c)
        })
        .collect();
    let mut cfg = SimConfig {
        seed,
        ..SimConfig::default()
    };
    cfg.radio.extra_loss = 0.1;
    match Sim::new(cfg, layout.positions, nodes, NoServer) {
        Ok(s) => s,
        Err(e) => panic!("building the bench network: {e}"),
    }
}

fn run(side: usize, secs: i64) -> u64 {
    let mut s = build(side, 1);
    if let Err(e) = s.run_until(Instant::from_secs(secs)) {
        panic!("bench run failed: {e}");
    }
    black_box(s.trace_hash());
    s.steps()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim_grid");
    g.sample_size(10);
    for (side, secs) in [(10usize, 60i64), (32, 20)] {
        let steps = run(side, secs);
        g.throughput(Throughput::Elements(steps));
        g.bench_with_input(
            BenchmarkId::new(format!("{}_nodes", side * side), format!("{secs}s")),
            &(side, secs),
            |b, &(side, secs)| b.iter(|| run(black_box(side), secs)),
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
