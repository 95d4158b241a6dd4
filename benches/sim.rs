//! amimesh-sim engine throughput: N reference nodes on a grid for T virtual seconds.
//!
//! Each meter sends a 40-octet acknowledged frame towards its west neighbour every 5 s
//! (auto-ACK radios, CSMA-CA, 10 % extra loss). The throughput figure is simulator events
//! per wall-clock second (`Throughput::Elements` = steps of one run).
//!
//! `sim_field_scale`: real device stacks with the large-network settings
//! (`FieldTuning::large_network`) on the random area of `--scale` runs (2,200 m² per meter):
//! 1,000 meters for the first 60 simulated seconds (scans, the first joins; events per
//! second), and 100 meters until every meter is operational (the scenario is built outside
//! the timed part).

#![allow(clippy::panic)] // a bench that cannot build its network has nothing to measure

use amimesh_core::{Duration, Instant};
use amimesh_device::Phase;
use amimesh_sim::device::{Device, FieldTuning, UtilityServers, field_sim_tuned};
use amimesh_sim::scenario::{PhyName, Scenario, TopologySpec};
use amimesh_sim::topology::Layout;
use amimesh_sim::traffic::{TrafficConfig, TrafficNode};
use amimesh_sim::{NoServer, Sim, SimConfig};
use criterion::{
    BatchSize, BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main,
};

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

/// The `--scale` layout: 2,200 m² per meter, 2.27 : 1, relay at the middle of the west edge.
fn field(meters: usize) -> Sim<Device, UtilityServers> {
    let mut s = Scenario::new(
        1,
        meters,
        TopologySpec::random_area(meters, 2200.0, 2.27, 0),
    );
    s.phy = PhyName::SunFsk920_100k;
    let mut t = FieldTuning::large_network();
    t.root_route_capacity = Some(meters + 16);
    match field_sim_tuned(&s, &t) {
        Ok(sim) => sim,
        Err(e) => panic!("building {meters} meters: {e}"),
    }
}

fn all_operational(sim: &Sim<Device, UtilityServers>) -> bool {
    sim.nodes()
        .iter()
        .filter_map(Device::meter)
        .all(|m| m.phase() == Phase::Operational)
}

/// Runs until every meter is operational (checked every simulated second); the steps taken.
fn to_all_joined(mut sim: Sim<Device, UtilityServers>) -> u64 {
    for t in 1..=3600i64 {
        if let Err(e) = sim.run_until(Instant::from_secs(t)) {
            panic!("field run failed: {e}");
        }
        if all_operational(&sim) {
            return sim.steps();
        }
    }
    panic!("not every meter joined within 3600 s");
}

fn for_secs(mut sim: Sim<Device, UtilityServers>, secs: i64) -> u64 {
    if let Err(e) = sim.run_until(Instant::from_secs(secs)) {
        panic!("field run failed: {e}");
    }
    sim.steps()
}

fn bench_field(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim_field_scale");
    g.sample_size(10);
    let steps = for_secs(field(1000), 60);
    g.throughput(Throughput::Elements(steps));
    g.bench_function("1000_meters/60s", |b| {
        b.iter_batched(
            || field(1000),
            |sim| for_secs(sim, 60),
            BatchSize::LargeInput,
        )
    });
    let steps = to_all_joined(field(100));
    g.throughput(Throughput::Elements(steps));
    g.bench_function("100_meters/all_joined", |b| {
        b.iter_batched(|| field(100), to_all_joined, BatchSize::LargeInput)
    });
    g.finish();
}

criterion_group!(benches, bench, bench_field);
criterion_main!(benches);
