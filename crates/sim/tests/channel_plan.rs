//! Receiver-directed channels (`MacParams::channel_plan`) in a whole field: every meter finds
//! its PRE by scanning the plan, joins, reports and obeys, each device listening on its own
//! home channel; a scenario names the plan with `[radio] channels`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod fieldsim;

use std::collections::BTreeSet;

use amimesh_core::Instant;
use amimesh_mac::mac::ChannelPlan;
use amimesh_sim::Scenario;
use amimesh_sim::device::{FieldTuning, field_nodes_tuned, field_sim};
use fieldsim::*;

const SEED: u64 = 21;
const METERS: usize = 30;
const PLAN: ChannelPlan = ChannelPlan::new(1, 4);

#[test]
fn meters_join_report_and_obey_with_a_home_channel_each() {
    let layout = random_layout(METERS, SEED, 3);
    let tuning = FieldTuning {
        channel_plan: Some(PLAN),
        ..FieldTuning::default()
    };
    let mut f = build(&layout, METERS, SEED, 0.0, |nodes, servers| {
        (*nodes, *servers) = field_nodes_tuned(METERS, SEED, |_, _| {}, &tuning);
    });
    let all = f.all();
    let t = f.run_until_joined(&all, Instant::from_secs(900));
    assert!(t.is_some(), "every meter joined");
    f.check_all_report_and_dr(75);
    let relay = f.relay();
    assert_eq!(relay.mac_config().channel_plan, Some(PLAN));
    let mut homes = BTreeSet::new();
    let mut copies = 0;
    let mut switched = 0;
    for i in 1..=METERS {
        let m = f.meter(i);
        assert_eq!(m.mac_config().channel_plan, Some(PLAN), "meter {i}");
        let home = PLAN.home(&m.mac_config().ext_addr);
        homes.insert(home);
        // Unicast frames to a parent on another channel: the meter waited for their ACKs
        // there and came back.
        let parent = f.upward_route(i)[0];
        let parent_home = PLAN.home(&amimesh_sim::device::ext_addr(parent));
        if parent_home != home {
            assert!(m.mac_stats().rx_channel_switches > 0, "meter {i}");
            switched += 1;
        }
        copies += m.mac_stats().tx_broadcast_copies;
    }
    // Thirty addresses spread over all four channels, and broadcasts went out on each.
    assert_eq!(homes.len(), 4, "{homes:?}");
    // With four channels most parents listen elsewhere.
    assert!(switched >= METERS / 2, "{switched}");
    assert!(copies >= 4 * METERS as u64, "{copies}");
    assert!(relay.mac_stats().rx_channel_switches > 0);
}

#[test]
fn a_scenario_names_its_plan_and_impossible_plans_are_refused() {
    let toml = |radio: &str| {
        format!("seed = 3\nmeters = 6\n{radio}\n[topology]\nkind = \"line\"\nspacing_m = 60\n")
    };
    let s = Scenario::from_toml(&toml("[radio]\nchannels = 4")).unwrap();
    assert_eq!(s.channel_plan(), Some(PLAN));
    let one = Scenario::from_toml(&toml("[radio]\nchannels = 1")).unwrap();
    assert_eq!(one.channel_plan(), None);
    let q = Scenario::from_toml(&toml(
        "phy = \"o-qpsk-2450\"\n[radio]\nchannel = 20\nchannels = 7",
    ))
    .unwrap();
    assert_eq!(q.channel_plan(), Some(ChannelPlan::new(20, 7)));
    // Channels 20–27: 27 is not a 2450 MHz channel.
    assert!(
        Scenario::from_toml(&toml(
            "phy = \"o-qpsk-2450\"\n[radio]\nchannel = 20\nchannels = 8"
        ))
        .is_err()
    );
    assert!(Scenario::from_toml(&toml("[radio]\nchannels = 0")).is_err());
    // More channels than one scan visits.
    assert!(Scenario::from_toml(&toml("[radio]\nchannels = 65")).is_err());
    assert!(Scenario::from_toml(&toml("[radio]\nchannels = 64")).is_ok());
    // `field_sim` gives every device the scenario's plan.
    let mut sim = field_sim(&s).unwrap();
    sim.run_until(Instant::from_secs(1)).unwrap();
    for i in 0..=6u32 {
        let plan = sim
            .with_node(amimesh_sim::NodeId(i), |n, _| match n.relay() {
                Some(r) => r.mac_config().channel_plan,
                None => n.meter().map(|m| m.mac_config().channel_plan).unwrap(),
            })
            .unwrap();
        assert_eq!(plan, Some(PLAN), "node {i}");
    }
}
