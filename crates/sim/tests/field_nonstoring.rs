//! The mesh in RPL non-storing mode: the relay (DODAG root) inserts a Source Routing Header
//! (RFC 6554) into downward packets, the meters on the way forward by it, and a DR command
//! reaches the far end of a four-hop line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod fieldsim;

use amimesh_core::{Duration, Instant};
use amimesh_device::{FieldRelay, MeterEvent};
use amimesh_rpl::wire::Mop;
use amimesh_sim::NodeId;
use amimesh_sim::device::{Device, node_rng, relay_config};
use fieldsim::*;

#[test]
fn dr_command_by_source_route() {
    let seed = 43;
    let mut f = line(4, seed, |nodes, _| {
        let mut c = relay_config(seed);
        c.mop = Mop::NonStoring;
        nodes[0] = Device::Relay(FieldRelay::new(c, node_rng(seed, 0)));
    });
    assert!(
        f.run_until_joined(&[1, 2, 3, 4], Instant::from_secs(300))
            .is_some()
    );
    for i in 1..=4 {
        f.assert_phases(i);
    }
    assert!(f.hop_count(4) >= 3);
    // The relay's table has the whole tree: every meter with its parent.
    let table = f.relay().route_table();
    assert_eq!(table.len(), 5);
    let far = f.meter(4).global_address().unwrap();
    let forwarded: Vec<u64> = (1..=3)
        .map(|i| f.meter(i).policy_stats().forwarded)
        .collect();
    f.sim.with_server(|s, _| s.send_command(far, 2));
    f.sim.poke(NodeId(0));
    let t = f.sim.now() + Duration::from_secs(5);
    f.sim.run_until(t).unwrap();
    f.drain();
    assert_eq!(f.meter(4).load_level(), 2);
    assert!(
        f.meter_events(4)
            .iter()
            .any(|e| matches!(e, MeterEvent::DemandResponse { level: 2 }))
    );
    // The meters on its path forwarded it (by the SRH: non-storing routers hold no
    // downward routes).
    let mut path = Vec::new();
    let mut cur = f.meter(4).rpl_parent();
    while let Some(p) = cur {
        let i = (amimesh_device::ip::ext_of(&p).to_u64() & 0xffff) as usize;
        if i == 0 {
            break;
        }
        path.push(i);
        cur = f.meter(i).rpl_parent();
    }
    assert!(path.len() >= 2, "{path:?}");
    for &i in &path {
        assert!(
            f.meter(i).policy_stats().forwarded > forwarded[i - 1],
            "meter {i} forwarded"
        );
    }
    for i in 1..=3 {
        assert_eq!(f.meter(i).secrets_held().routes, 0);
    }
    // Readings still flow upward.
    let t = f.sim.now() + Duration::from_secs(70);
    f.sim.run_until(t).unwrap();
    assert!(f.sim.server().readings_from(&far) >= 2);
}
