//! The RPL Packet Information (RFC 6553, RFC 9008) in the field network's data path:
//! meters carry it in what they send through the DODAG and check it where they forward,
//! and a meter tempted to take its own child as parent does not (the two-meter loop the
//! option would otherwise have to catch; the device's tests drive a loop through the rank
//! check packet by packet).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod fieldsim;

use amimesh_core::{Duration, ExtAddr, Instant};
use amimesh_device::ip;
use amimesh_rpl::consts::INFINITE_RANK;
use amimesh_rpl::wire::{DioRepr, MessageRepr, Mop, Options, code};
use amimesh_sim::NodeId;
use amimesh_sim::device::{FieldTuning, ext_addr, field_nodes_tuned, network_key};
use fieldsim::*;

const SEED: u64 = 11;

/// Relay and three meters on a line (meter `i` is `i` hops out), every meter joined, in
/// storing mode.
fn joined_line(rpl_option: bool) -> Field {
    joined_line_in(rpl_option, Mop::StoringNoMulticast)
}

fn joined_line_in(rpl_option: bool, mop: Mop) -> Field {
    let mut f = line(3, SEED, |nodes, servers| {
        let tuning = FieldTuning {
            rpl_option: Some(rpl_option),
            mop: Some(mop),
            ..FieldTuning::default()
        };
        (*nodes, *servers) = field_nodes_tuned(3, SEED, |_, _| {}, &tuning);
    });
    assert!(
        f.run_until_joined(&[1, 2, 3], Instant::from_secs(600))
            .is_some()
    );
    assert_eq!(f.upward_route(3), [2, 1, 0]);
    f
}

#[test]
fn meters_put_the_option_in_what_they_route_and_forwarders_check_it() {
    let mut on = joined_line(true);
    // A few reading periods.
    let t = on.sim.now() + Duration::from_secs(200);
    on.sim.run_until(t).unwrap();
    for i in 1..=3 {
        let p = on.meter(i).policy_stats();
        assert!(
            p.rpl_option_added > 0,
            "meter {i} originated with the option"
        );
        // A working tree has no loop and no inconsistency.
        assert_eq!((p.rpl_rank_errors, p.rpl_loop_drops), (0, 0), "meter {i}");
    }
    // Meters 1 and 2 forward for the ones further out, checking the option on the way.
    for i in 1..=2 {
        assert!(on.meter(i).policy_stats().forwarded > 0);
        assert!(on.meter(i).rpl_stats().unwrap().rank_errors == 0);
    }
    // Every meter's readings reach the AMR/DR server: the relay takes the option out.
    for i in 1..=3 {
        let a = on.meter(i).global_address().unwrap();
        assert!(on.sim.server().readings_from(&a) > 0, "meter {i} reports");
    }
    // Switched off, nobody adds it.
    let mut off = joined_line(false);
    let t = off.sim.now() + Duration::from_secs(200);
    off.sim.run_until(t).unwrap();
    for i in 1..=3 {
        assert_eq!(off.meter(i).policy_stats().rpl_option_added, 0);
    }
}

/// An RPL DIO body from a node of rank `rank` in the relay's DODAG (RFC 6550 §6.3.1).
fn dio(f: &Field, rank: u16) -> Vec<u8> {
    let m = MessageRepr::Dio(DioRepr {
        instance_id: 0,
        version: amimesh_rpl::lollipop::LOLLIPOP_INIT,
        rank,
        grounded: true,
        mop: f.relay().config().mop,
        dodag_preference: 0,
        dtsn: 240,
        flags: 0,
        dodag_id: f.relay().dodag_id(),
        options: Options::EMPTY,
    });
    let mut b = vec![0u8; m.buffer_len()];
    m.emit(&mut b).unwrap();
    b
}

/// A secured unicast DIO from `from` to meter 1, under `from`'s next frame counter.
fn dio_frame(f: &Field, from: ExtAddr, fc: u32, rank: u16) -> Vec<u8> {
    let to = ext_addr(1);
    let p = ip::build_icmp(
        &ip::link_local(from),
        &ip::link_local(to),
        ip::ICMPV6_RPL,
        code::DIO,
        255,
        &dio(f, rank),
    );
    data_frame(from, to, &p, Some((&network_key(), 1, fc)))
}

/// A PANA-Client-Initiation (RFC 5191 §4.1, header only) from a new neighbour to meter 1's
/// PRE port: unsecured, link-local. Meter 1 relays it to the PAA (RFC 6345), as the source
/// of a global packet through the DODAG.
fn pci_frame() -> Vec<u8> {
    let newcomer = ExtAddr::from_u64(0x0212_4b00_00ff_0001);
    let to = ext_addr(1);
    let pci = [0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    let p = ip::build_udp(
        &ip::link_local(newcomer),
        &ip::link_local(to),
        716,
        716,
        255,
        &pci,
    );
    data_frame(newcomer, to, &p, None)
}

/// Tempts meter 1 to take meter 2 (its own child) as parent: meter 2 appears to advertise
/// the root's rank, then the relay appears to leave (infinite rank, RFC 6550 §8.2.2.5),
/// and meter 1 gets a packet to originate up the DODAG (a PANA message to relay to the PAA).
/// Meter 2 keeps meter 1 as its parent.
fn tempt_into_loop(f: &mut Field) {
    // Meter 2's next frame counter goes into the forged DIO; wait until meter 2 has used it
    // on the air, so that its own frames to meter 1 are not taken for replays afterwards.
    let fc2 = f.meter(2).frame_counter();
    let root_rank = 128;
    let frame = dio_frame(f, ext_addr(2), fc2, root_rank);
    inject(f, 1, &frame);
    let limit = f.sim.now() + Duration::from_secs(120);
    while f.meter(2).frame_counter() <= fc2 && f.sim.now() < limit {
        let t = f.sim.now() + Duration::from_millis(50);
        f.sim.run_until(t).unwrap();
    }
    assert!(f.meter(2).frame_counter() > fc2);
    let fc0 = f.relay().mac().frame_counter() + 1000;
    let poison = dio_frame(f, ext_addr(0), fc0, INFINITE_RANK);
    let probe = pci_frame();
    f.sim
        .with_node(NodeId(1), |n, now| {
            use amimesh_sim::Node;
            let meta = amimesh_mac::mac::RxMeta {
                at: now,
                lqi: 200,
                rssi: -50,
                channel: 1,
            };
            n.handle_frame(now, meta, &poison);
            n.handle_frame(now, meta, &probe);
        })
        .unwrap();
    assert_eq!(f.meter(2).rpl_parent(), Some(ip::link_local(ext_addr(1))));
    let t = f.sim.now() + Duration::from_secs(3);
    f.sim.run_until(t).unwrap();
    f.drain();
}

#[test]
fn a_meter_does_not_take_its_own_child_as_parent() {
    // Storing mode: meter 1 holds meter 2's route and passes it over (RFC 6550 §8.2.1).
    let mut f = joined_line(true);
    let skipped = f.meter(1).rpl_stats().unwrap().parent_in_subdodag_skipped;
    tempt_into_loop(&mut f);
    assert_ne!(f.meter(1).rpl_parent(), Some(ip::link_local(ext_addr(2))));
    assert!(f.meter(1).rpl_stats().unwrap().parent_in_subdodag_skipped > skipped);
    // Non-storing mode: without its parent meter 1 detaches (local repair, RFC 6550
    // §8.2.2.5, §8.2.2.6), and after it only DIOs heard since count, from nodes ranked below
    // where it was: meter 2's earlier claim does not make it a parent.
    let mut f = joined_line_in(true, Mop::NonStoring);
    tempt_into_loop(&mut f);
    assert_ne!(f.meter(1).rpl_parent(), Some(ip::link_local(ext_addr(2))));
    assert!(f.meter(1).rpl_stats().unwrap().local_repairs > 0);
    for i in 1..=2 {
        assert_eq!(f.meter(i).policy_stats().hop_limit_exceeded, 0, "meter {i}");
    }
}

/// With the relay carrying the option on uplink traffic too (IPv6-in-IPv6, RFC 9008
/// §7.2.2), a DR command from the AMR/DR server reaches the far end of the line in either
/// mode of operation (storing routes, or the relay's source route after the Hop-by-Hop
/// header), and the meters on the way check the option.
#[test]
fn uplink_traffic_tunnelled_with_the_option_reaches_the_far_meter() {
    for mop in [Mop::StoringNoMulticast, Mop::NonStoring] {
        let mut f = line(3, SEED, |nodes, servers| {
            let tuning = FieldTuning {
                rpl_option_from_uplink: Some(true),
                mop: Some(mop),
                ..FieldTuning::default()
            };
            (*nodes, *servers) = field_nodes_tuned(3, SEED, |_, _| {}, &tuning);
        });
        assert!(
            f.run_until_joined(&[1, 2, 3], Instant::from_secs(600))
                .is_some(),
            "{mop:?}"
        );
        // Let the last DAOs reach the relay.
        let t = f.sim.now() + Duration::from_secs(30);
        f.sim.run_until(t).unwrap();
        let added = f.relay().policy_stats().rpl_option_added;
        let far = f.meter(3).global_address().unwrap();
        f.sim.with_server(|s, _| s.send_command(far, 4));
        f.sim.poke(NodeId(0));
        let t = f.sim.now() + Duration::from_secs(5);
        f.sim.run_until(t).unwrap();
        f.drain();
        assert_eq!(f.meter(3).load_level(), 4, "{mop:?}");
        assert!(f.relay().policy_stats().rpl_option_added > added, "{mop:?}");
        for i in 1..=3 {
            let p = f.meter(i).policy_stats();
            assert_eq!(
                (p.rpl_rank_errors, p.malformed),
                (0, 0),
                "{mop:?} meter {i}"
            );
        }
    }
}
