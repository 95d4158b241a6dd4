//! A field scenario read from TOML: the scenario's layout, PHY, channel and uplink drive real
//! `FieldRelay` and `Meter` devices through the whole work session and meter join.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amimesh_core::{Duration, Instant};
use amimesh_device::Phase;
use amimesh_sim::device::{Device, field_sim};
use amimesh_sim::{NodeId, Scenario};

fn load() -> Scenario {
    Scenario::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/field-line-4.toml"
    ))
    .unwrap()
}

fn phase(sim: &amimesh_sim::Sim<Device, amimesh_sim::device::UtilityServers>, i: u32) -> Phase {
    sim.node(NodeId(i)).unwrap().meter().unwrap().phase()
}

#[test]
fn toml_scenario_joins_every_meter_on_its_channel() {
    let s = load();
    assert_eq!(s.meters, 4);
    assert_eq!(s.channel(), 3);
    let mut sim = field_sim(&s).unwrap();
    let limit = Instant::ZERO + s.duration();
    let mut joined_at = None;
    while sim.now() < limit {
        let next = sim.now() + Duration::from_secs(1);
        sim.run_until(next).unwrap();
        while sim.poll_event().is_some() {}
        if (1..=4).all(|i| phase(&sim, i) == Phase::Operational) {
            joined_at = Some(sim.now());
            break;
        }
    }
    let t = joined_at.unwrap_or_else(|| {
        panic!(
            "not all meters joined by {limit}: {:?}",
            (1..=4).map(|i| phase(&sim, i)).collect::<Vec<_>>()
        )
    });
    assert!(t > Instant::ZERO);
    eprintln!("all 4 meters operational at {t}");
    // The meters really are where the file put them: 70 m apart, so the farthest one cannot
    // hear the relay and must route through the others.
    let layout = s.layout().unwrap();
    assert_eq!(layout.positions.len(), 5);
    let (x0, x4) = (layout.positions[0], layout.positions[4]);
    assert!((x4.x - x0.x - 280.0).abs() < 1e-9, "{x0:?} {x4:?}");
    // The relay's route table (Fig. 5) has the relay and the four meters, and the relay holds
    // a downward route to every meter's global address (once the last DAO has been passed up:
    // ≤ 1.5 s per hop, `amimesh_rpl::Config::forward_dao_delay`).
    let t = sim.now() + Duration::from_secs(10);
    sim.run_until(t).unwrap();
    let relay = sim.node(NodeId(0)).unwrap().relay().unwrap();
    let table = relay.route_table();
    assert_eq!(table.len(), 5, "{table:?}");
    for i in 1..=4 {
        let m = sim.node(NodeId(i)).unwrap().meter().unwrap();
        let addr = m.global_address().unwrap();
        assert!(
            table[0].routes.iter().any(|(d, _)| *d == addr),
            "no route to meter {i}"
        );
    }
}

#[test]
fn toml_scenario_is_deterministic() {
    let s = load();
    let run = || {
        let mut sim = field_sim(&s).unwrap();
        sim.run_until(Instant::from_secs(60)).unwrap();
        while sim.poll_event().is_some() {}
        sim.trace_hash()
    };
    assert_eq!(run(), run());
}
