//! Whole PANA sessions PaC ↔ PRE ↔ PAA in memory with a virtual clock: success, wrong PSK,
//! revocation, loss and duplication on either hop, PAA-initiated re-authentication, ping, key
//! push and termination through the PRE, 1,000 PaCs through one PRE, and the proof that the PRE
//! holds no key material and forgets every PaC.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use amimesh_core::{Duration, Key128};
use amimesh_pana::eap_psk::{derive_ak_kdk, derive_session_keys};
use amimesh_pana::wire::{
    AvpCode, EapCode, EapRepr, EapType, Message, MessageRepr, MessageType, Packet, PskRepr,
    ResultCode, TerminationCause,
};
use amimesh_pana::{
    AgentEvent, ClientEvent, ClientState, CredentialStore, FailReason, SessionState,
};
use amimesh_pana_relay::{RateLimit, parse_relay};
use common::*;
use std::cell::RefCell;
use std::rc::Rc;

fn parse(b: &[u8]) -> MessageRepr<'_> {
    MessageRepr::parse(&Message::new_checked(b).unwrap()).unwrap()
}

/// Checks the shape of both hops: plain PANA between PaCs and the PRE, PANA-Relay between the
/// PRE and the PAA, inner messages relayed byte for byte, the PAA never addressing a PaC.
fn check_hops(net: &Net) {
    for d in &net.mesh_wire {
        let r = parse(&d.bytes);
        assert_ne!(r.message_type, MessageType::Relay, "PANA-Relay on the mesh");
        assert!(d.src.is_unicast_link_local() && d.dst.is_unicast_link_local());
        assert!(d.src == PRE_LL || d.dst == PRE_LL);
    }
    let from_pacs: Vec<&[u8]> = net
        .mesh_wire
        .iter()
        .filter(|d| d.dst == PRE_LL)
        .map(|d| &d.bytes[..])
        .collect();
    let to_pacs: Vec<&[u8]> = net
        .mesh_wire
        .iter()
        .filter(|d| d.src == PRE_LL)
        .map(|d| &d.bytes[..])
        .collect();
    for d in &net.uplink_wire {
        let pry = parse_relay(&d.bytes).unwrap();
        assert!(pac_index(pry.pac.addr).is_some());
        assert_eq!(pry.pac.port, 716);
        if d.src == PAA_ADDR {
            assert_eq!((d.dst, d.dport), (PRE_ADDR, 716), "PAA answers via the PRE");
        } else {
            assert_eq!((d.src, d.dst, d.dport), (PRE_ADDR, PAA_ADDR, 716));
            assert!(from_pacs.contains(&pry.relayed), "inner message altered");
        }
    }
    // What the PRE sent to PaCs is exactly what the PAA put in Relayed-Message.
    for b in &to_pacs {
        assert!(
            net.uplink_wire
                .iter()
                .any(|d| { d.src == PAA_ADDR && parse_relay(&d.bytes).unwrap().relayed == *b })
        );
    }
}

#[test]
fn relayed_session_succeeds() {
    let mut net = Net::new(1, 1);
    net.start_all();
    net.drive_until(300, |n| n.authenticated(0));
    net.drive_until(50, |n| {
        n.agent.sessions().all(|s| s.state == SessionState::Open) && n.agent.session_count() == 1
    });
    match &net.client_events[0][0] {
        ClientEvent::Authenticated {
            network_key,
            key_index,
            ..
        } => {
            assert_eq!(network_key, &Key128::new(NETWORK_KEY));
            assert_eq!(*key_index, 1);
        }
        e => panic!("{e:?}"),
    }
    assert!(net.agent_events.iter().any(|e| matches!(
        e,
        AgentEvent::Authenticated { pac, via: Some(v), key_index: Some(1), .. }
            if *pac == pac_addr(0) && *v == PRE_ADDR
    )));
    let s = net.agent.sessions().next().unwrap();
    assert_eq!(s.pac, (pac_addr(0), 716));
    assert_eq!(s.via, Some((PRE_ADDR, 716)));
    assert_eq!(net.clients[0].session_id(), s.session_id);
    check_hops(&net);
    let st = net.pre.stats();
    assert_eq!(
        st.relayed_to_paa as usize,
        net.mesh_wire.iter().filter(|d| d.dst == PRE_LL).count()
    );
    assert_eq!(
        st.relayed_to_pac as usize,
        net.uplink_wire.iter().filter(|d| d.src == PAA_ADDR).count()
    );
    assert!(st.relayed_to_paa >= 4 && st.relayed_to_pac >= 4);
    assert_eq!(
        st.rx_malformed + st.rx_rate_limited_neighbour + st.tx_queue_full,
        0
    );
}

#[test]
fn wrong_psk_is_rejected_through_the_pre() {
    let mut cc = client_config(0, 2);
    cc.psk = Key128::new([0xee; 16]);
    let mut net = Net::with(agent_config(2), relay_config(), vec![cc], 2);
    net.start_all();
    net.drive_until(300, |n| !n.client_events[0].is_empty());
    assert_eq!(
        net.client_events[0][0],
        ClientEvent::Failed {
            reason: FailReason::AuthenticationRejected
        }
    );
    net.drive_until(50, |n| {
        n.agent_count(|e| {
            matches!(
                e,
                AgentEvent::AuthenticationFailed {
                    result_code: ResultCode::AuthenticationRejected,
                    ..
                }
            )
        }) == 1
    });
    assert!(!net.clients[0].holds_secrets());
    assert_eq!(net.agent.session_count(), 0);
    check_hops(&net);
}

#[test]
fn revoked_identity_is_refused_and_a_live_session_ends_through_the_pre() {
    let mut net = Net::new(2, 3);
    assert!(net.agent.store_mut().revoke(&pac_identity(1)));
    net.start_all();
    net.drive_until(400, |n| {
        n.authenticated(0)
            && n.client_events[1].contains(&ClientEvent::Failed {
                reason: FailReason::AuthenticationRejected,
            })
    });
    net.drive_until(50, |n| {
        n.agent.session_count() == 1 && n.agent.sessions().all(|s| s.state == SessionState::Open)
    });
    // Revoking PaC 0 now sends PTR (ADMINISTRATIVE) through the PRE.
    let now = net.now;
    assert_eq!(net.agent.revoke(now, &pac_identity(0)), 1);
    net.drive_until(100, |n| {
        n.client_events[0].contains(&ClientEvent::Terminated {
            cause: TerminationCause::Administrative,
        }) && n.agent_count(|e| matches!(e, AgentEvent::Terminated { .. })) == 1
    });
    assert!(!net.clients[0].holds_secrets());
    assert_eq!(net.agent.session_count(), 0);
    check_hops(&net);
    // The PTR crossed the uplink inside a PANA-Relay.
    assert!(net.uplink_wire.iter().any(|d| {
        d.src == PAA_ADDR && {
            let inner = parse(parse_relay(&d.bytes).unwrap().relayed);
            inner.message_type == MessageType::Termination && inner.is_request()
        }
    }));
}

#[test]
fn loss_and_duplication_on_either_hop() {
    let bad = Hop {
        loss: 0.15,
        dup: 0.15,
    };
    let mut retransmissions = 0;
    let mut duplicates = 0;
    for (mesh, uplink) in [(bad, Hop::default()), (Hop::default(), bad), (bad, bad)] {
        for seed in 10..13 {
            let mut net = Net::new(4, seed);
            net.mesh = mesh;
            net.uplink = uplink;
            net.start_all();
            net.drive_until(5000, |n| (0..4).all(|i| n.authenticated(i)));
            net.drive_until(2000, |n| {
                n.agent_count(|e| matches!(e, AgentEvent::Authenticated { .. })) == 4
            });
            for c in &net.clients {
                assert_eq!(c.state(), ClientState::Open);
                assert_eq!(c.key_index(), Some(1));
            }
            assert!(net.agent.sessions().all(|s| s.via == Some((PRE_ADDR, 716))));
            check_hops(&net);
            retransmissions += net.agent.stats().tx_retransmissions
                + net
                    .clients
                    .iter()
                    .map(|c| c.stats().tx_retransmissions)
                    .sum::<u64>();
            duplicates += net.agent.stats().rx_duplicate
                + net
                    .clients
                    .iter()
                    .map(|c| c.stats().rx_duplicate)
                    .sum::<u64>();
        }
    }
    // The lossy runs really exercised retransmission and duplicate handling.
    assert!(retransmissions > 10, "{retransmissions}");
    assert!(duplicates > 5, "{duplicates}");
}

#[test]
fn paa_initiated_reauth_ping_key_push_and_termination_go_through_the_pre() {
    let mut net = Net::new(2, 4);
    net.start_all();
    net.drive_until(400, |n| n.authenticated(0) && n.authenticated(1));
    net.drive_until(50, |n| {
        n.agent_count(|e| matches!(e, AgentEvent::Authenticated { .. })) == 2
    });
    let sid0 = net.clients[0].session_id();
    let sid1 = net.clients[1].session_id();

    // Key push: rotation reaches both relayed PaCs.
    let new_key = Key128::new([0x5a; 16]);
    let now = net.now;
    assert_eq!(
        net.agent
            .rotate_network_key(now, new_key.clone(), 2)
            .unwrap(),
        2
    );
    net.drive_until(200, |n| {
        n.agent_count(|e| matches!(e, AgentEvent::KeyDelivered { key_index: 2, .. })) == 2
    });
    for i in 0..2 {
        assert!(net.client_events[i].contains(&ClientEvent::KeyUpdated {
            network_key: new_key.clone(),
            key_index: 2
        }));
    }

    // PAA-initiated re-authentication of PaC 0.
    let now = net.now;
    net.agent.reauthenticate(now, sid0, &mut net.crng).unwrap();
    net.drive_until(200, |n| {
        n.client_events[0]
            .iter()
            .any(|e| matches!(e, ClientEvent::Reauthenticated { .. }))
    });
    net.drive_until(50, |n| {
        n.agent_count(|e| {
            matches!(
                e,
                AgentEvent::Authenticated {
                    reauthentication: true,
                    ..
                }
            )
        }) == 1
    });

    // PAA ping of PaC 1, answered through the PRE.
    let before = net.uplink_wire.len();
    let now = net.now;
    net.agent.ping(now, sid1).unwrap();
    net.drive_until(50, |n| {
        n.agent
            .session(sid1)
            .is_some_and(|s| s.state == SessionState::Open)
            && n.uplink_wire.len() >= before + 2
    });
    let pnr_pna: Vec<_> = net.uplink_wire[before..]
        .iter()
        .map(|d| {
            let inner = parse(parse_relay(&d.bytes).unwrap().relayed);
            (d.src, inner.message_type, inner.is_request())
        })
        .collect();
    assert_eq!(
        pnr_pna,
        [
            (PAA_ADDR, MessageType::Notification, true),
            (PRE_ADDR, MessageType::Notification, false)
        ]
    );

    // PAA-initiated termination of PaC 1.
    let now = net.now;
    net.agent.terminate(now, sid1).unwrap();
    net.drive_until(100, |n| {
        n.client_events[1].contains(&ClientEvent::Terminated {
            cause: TerminationCause::Administrative,
        })
    });
    // PaC-initiated logout of PaC 0, also through the PRE.
    let now = net.now;
    net.clients[0].terminate(now).unwrap();
    net.drive_until(100, |n| {
        n.agent_count(|e| {
            matches!(
                e,
                AgentEvent::Terminated {
                    cause: TerminationCause::Logout,
                    ..
                }
            )
        }) == 1
    });
    net.drive_until(100, |n| n.agent.session_count() == 0);
    check_hops(&net);
}

/// The secrets of a session, as they would appear in `Debug` output (decimal byte lists) and
/// in hex.
fn secret_patterns(secrets: &[Vec<u8>]) -> Vec<String> {
    let mut p = Vec::new();
    for s in secrets {
        let head = &s[..8];
        p.push(
            head.iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        );
        p.push(hex::encode(head));
        p.push(
            head.iter()
                .map(|b| format!("{b:#04x}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    p
}

/// RAND_P from EAP-PSK message 2 (inside a PAN on the mesh).
fn rand_p_of(net: &Net) -> [u8; 16] {
    for d in &net.mesh_wire {
        let r = parse(&d.bytes);
        let Some(eap) = r.find(AvpCode::EapPayload) else {
            continue;
        };
        let p = Packet::new_checked(eap.value).unwrap();
        let e = EapRepr::parse(&p).unwrap();
        if e.code == EapCode::Response && e.eap_type == Some(EapType::Psk) {
            if let Ok(PskRepr::Second { rand_p, .. }) = PskRepr::parse(e.type_data) {
                return rand_p;
            }
        }
    }
    panic!("no EAP-PSK message 2 on the mesh");
}

#[test]
fn pre_holds_no_key_material_and_forgets_the_pac() {
    let snapshots = Rc::new(RefCell::new(Vec::<String>::new()));
    let mut net = Net::new(1, 5);
    let s2 = snapshots.clone();
    net.pre_probe = Some(Box::new(move |pre| {
        s2.borrow_mut().push(format!("{pre:?}"))
    }));
    net.start_all();
    net.drive_until(300, |n| n.authenticated(0));
    // A key push and a re-authentication also cross the PRE.
    let now = net.now;
    let pushed = Key128::new([0x6c; 16]);
    net.agent
        .rotate_network_key(now, pushed.clone(), 2)
        .unwrap();
    net.drive_until(200, |n| {
        n.agent_count(|e| matches!(e, AgentEvent::KeyDelivered { key_index: 2, .. })) == 1
    });
    let now = net.now;
    net.clients[0].terminate(now).unwrap();
    net.drive_until(100, |n| {
        n.agent_count(|e| matches!(e, AgentEvent::Terminated { .. })) == 1
    });

    // Every secret of the session: PSK, AK, KDK, TEK, MSK, EMSK, both network keys.
    let psk = pac_psk(0);
    let (ak, kdk) = derive_ak_kdk(&psk);
    let keys = derive_session_keys(&kdk, &rand_p_of(&net));
    let secrets: Vec<Vec<u8>> = vec![
        psk.expose().to_vec(),
        ak.expose().to_vec(),
        kdk.expose().to_vec(),
        keys.tek.expose().to_vec(),
        keys.msk.expose()[..16].to_vec(),
        keys.msk.expose()[16..32].to_vec(),
        keys.msk.expose()[48..].to_vec(),
        keys.emsk.expose()[..16].to_vec(),
        NETWORK_KEY.to_vec(),
        pushed.expose().to_vec(),
    ];
    // The patterns do occur in the Debug output of a holder of these secrets' bytes…
    let demo = format!("{:?}", keys.tek.expose());
    assert!(
        secret_patterns(&secrets[3..4])
            .iter()
            .any(|p| demo.contains(p))
    );
    // …but never in the PRE's, at any point of the session (queued messages included).
    let snaps = snapshots.borrow().clone();
    assert!(snaps.len() > 10, "{}", snaps.len());
    assert!(
        snaps.iter().any(|s| s.contains("inner: [")),
        "messages were in the queue"
    );
    for s in snaps.iter() {
        for p in secret_patterns(&secrets) {
            assert!(!s.contains(&p), "secret {p} in PRE state: {s}");
        }
    }
    // Structure: what the PRE stores is configuration, token buckets keyed by neighbour
    // address, queued messages in transit, counters and the last time; no Secret/Key128.
    let dbg = format!("{:?}", net.pre);
    assert!(!dbg.contains("Secret<"));
    let mut fields: Vec<&str> = dbg
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter_map(|w| w.strip_suffix(':'))
        .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .collect();
    fields.sort_unstable();
    fields.dedup();
    for f in &fields {
        assert!(
            [
                "config",
                "paa",
                "paa_port",
                "local_port",
                "per_neighbour",
                "burst",
                "interval",
                "micros",
                "total",
                "limiter",
                "total_limit",
                "table",
                "tokens",
                "stamp",
                "evictions",
                "queue",
                "stats",
                "last_now",
                "direction",
                "pac",
                "pac_port",
                "inner",
            ]
            .contains(f)
                || f.starts_with("rx_")
                || f.starts_with("tx_")
                || f.starts_with("relayed_")
                || f.starts_with("limiter_"),
            "unexpected PRE field {f} in {dbg}"
        );
    }

    // Nothing keyed by the PaC survives once its rate-limit bucket has refilled.
    net.drive_until(100, |n| n.pre.poll_timeout().is_none());
    assert_eq!(net.pre.queued(), 0);
    assert_eq!(net.pre.tracked_neighbours(), 0);
    assert!(!net.pre.remembers(&pac_addr(0)));
    assert!(!format!("{:?}", net.pre).contains("fe80::212:4b00:0:0"));
}

#[test]
fn thousand_pacs_through_one_pre_with_a_bounded_session_table() {
    const N: usize = 1000;
    let mut ac = agent_config(6);
    ac.max_sessions = N;
    ac.new_session_burst = 100;
    ac.new_sessions_per_sec = 100;
    let mut rc = relay_config();
    rc.total = RateLimit {
        burst: 200,
        interval: Duration::from_millis(2),
    };
    // One PaC more than the table holds.
    let ccs = (0..=N).map(|i| client_config(i, 6)).collect();
    let mut net = Net::with(ac, rc, ccs, 6);
    net.start_all();
    net.drive_until(200_000, |n| {
        (0..=N).filter(|i| n.authenticated(*i)).count() == N
    });
    net.drive_until(10_000, |n| {
        n.agent_count(|e| matches!(e, AgentEvent::Authenticated { .. })) == N
    });
    assert_eq!(net.agent.session_count(), N);
    assert_eq!(
        net.max_sessions_seen, N,
        "the session table never exceeded its capacity"
    );
    assert!(net.agent.stats().sessions_refused_full > 0);
    assert!(net.agent.sessions().all(|s| s.via == Some((PRE_ADDR, 716))));
    // The PRE's memory stayed bounded while 1,001 neighbours used it.
    let st = net.pre.stats();
    assert!(net.pre.tracked_neighbours() <= 64);
    assert!(st.relayed_to_paa >= 5 * N as u64);
    // Both limits and the table bound were exercised, and PaC retransmission got past them.
    assert!(st.rx_rate_limited_total > 0, "{st:?}");
    assert!(st.limiter_evictions > 0, "{st:?}");
    // The PaC left out is still trying (or has given up), never authenticated.
    let out = (0..=N).find(|i| !net.authenticated(*i)).unwrap();
    assert_ne!(net.clients[out].state(), ClientState::Open);
}

#[test]
fn a_restarted_pre_carries_on_because_it_keeps_no_session_state() {
    let mut net = Net::new(2, 7);
    net.start_all();
    net.drive_until(400, |n| n.authenticated(0) && n.authenticated(1));
    net.drive_until(50, |n| {
        n.agent_count(|e| matches!(e, AgentEvent::Authenticated { .. })) == 2
    });
    // The PRE reboots (or a different neighbour takes over with the same addresses): a fresh
    // instance knows nothing, and nothing is lost.
    net.pre = Pre::new(relay_config());
    let now = net.now;
    let sid0 = net.clients[0].session_id();
    net.agent.reauthenticate(now, sid0, &mut net.crng).unwrap();
    net.clients[1].ping(now).unwrap();
    net.drive_until(300, |n| {
        n.client_events[0]
            .iter()
            .any(|e| matches!(e, ClientEvent::Reauthenticated { .. }))
            && n.client_events[1].contains(&ClientEvent::PingAnswered)
    });
    assert!(net.pre.stats().relayed_to_paa >= 3);
    check_hops(&net);
}

#[test]
fn same_seed_same_trace_through_the_pre() {
    let run = |seed| {
        let mut net = Net::new(3, seed);
        net.mesh = Hop {
            loss: 0.1,
            dup: 0.1,
        };
        net.uplink = Hop {
            loss: 0.1,
            dup: 0.1,
        };
        net.start_all();
        net.drive_until(5000, |n| (0..3).all(|i| n.authenticated(i)));
        (net.trace, net.pre.stats())
    };
    let (a, sa) = run(40);
    let (b, sb) = run(40);
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    let (c, _) = run(41);
    assert_ne!(a, c);
}
