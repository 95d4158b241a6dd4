//! PANA over slow, congested paths: RTT-based retransmission timers (RFC 6298 with the
//! RFC 5191 §9.1 IRT as the floor), admission control at the PAA, and a new PCI taking over a
//! stale handshake.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use amimesh_core::{Duration, Instant};
use amimesh_pana::wire::{
    AvpCode, AvpRepr, Flags, Message, MessageBuilder, MessageRepr, MessageType,
};
use amimesh_pana::{AgentEvent, CloseReason, PanaClient};
use common::*;

/// One PaC over a path with a 1.5 s one-way delay (3 s round trip): `(PAA retransmissions,
/// PaC retransmissions, net)` once it is authenticated.
fn slow_path(adaptive: bool) -> (u64, u64, Net) {
    let seed = 41;
    let mut ac = agent_config(seed);
    ac.adaptive_rtx = adaptive;
    let mut cc = client_config(0, seed);
    cc.adaptive_rtx = adaptive;
    let mut net = Net::with(ac, vec![cc], seed);
    net.latency = Duration::from_millis(1500);
    net.start_all();
    net.drive_until(5_000, |n| n.authenticated(0));
    (
        net.agent.stats().tx_retransmissions,
        net.clients[0].stats().tx_retransmissions,
        net,
    )
}

#[test]
fn measured_rtt_stops_spurious_retransmissions_on_a_slow_path() {
    let (paa_fixed, pac_fixed, _) = slow_path(false);
    let (paa_adaptive, pac_adaptive, net) = slow_path(true);
    // Fixed 1 s timers fire before every 3 s answer: each PAR goes at least twice.
    assert!(
        paa_fixed >= 3,
        "fixed timers: {paa_fixed} PAA retransmissions"
    );
    // The PaC's first PCI meets the same 1 s IRT either way (no sample yet).
    assert!(pac_fixed >= 1 && pac_adaptive >= 1);
    // Karn: the first PAR is retransmitted (1 s RTO, 3 s RTT) and gives no sample, but its
    // backed-off timer is kept; the next PAR is answered in time and gives one; from then
    // on the PAA waits SRTT + 4·RTTVAR.
    assert!(
        paa_adaptive < paa_fixed,
        "adaptive {paa_adaptive} vs fixed {paa_fixed}"
    );
    let rtt = *net.agent.rtt();
    let srtt = rtt.srtt().expect("the PAA measured the path");
    assert!(
        srtt >= Duration::from_millis(2_990) && srtt <= Duration::from_millis(3_100),
        "{srtt}"
    );
    assert!(rtt.rto(&amimesh_pana::RtxParams::REQ) >= srtt);
    // The PaC measured PCI → PAR[S] only if its PCI went once; either way never below IRT.
    let pac_rto = net.clients[0].rtt().rto(&amimesh_pana::RtxParams::PCI);
    assert!(pac_rto >= amimesh_pana::RtxParams::PCI.irt);
}

#[test]
fn measured_rtt_on_a_fast_path_keeps_the_irt_floor() {
    let seed = 42;
    let mut ac = agent_config(seed);
    ac.adaptive_rtx = true;
    let mut cc = client_config(0, seed);
    cc.adaptive_rtx = true;
    let mut net = Net::with(ac, vec![cc], seed);
    net.start_all();
    net.drive_until(2_000, |n| n.authenticated(0));
    let rtt = *net.agent.rtt();
    assert!(rtt.srtt().unwrap() <= Duration::from_millis(30));
    assert_eq!(
        rtt.rto(&amimesh_pana::RtxParams::REQ),
        amimesh_pana::RtxParams::REQ.irt
    );
    assert_eq!(net.agent.stats().tx_retransmissions, 0);
    // The PaC measured its PCI → PAR[S] round trip (20 ms plus no processing time).
    let pac = net.clients[0].rtt().srtt().unwrap();
    assert_eq!(pac, Duration::from_millis(20));
}

#[test]
fn admission_control_drops_the_pci_beyond_the_limit_and_lets_it_in_later() {
    let seed = 43;
    let mut ac = agent_config(seed);
    ac.max_handshakes = 2;
    let mut net = Net::with(ac, (0..5).map(|i| client_config(i, seed)).collect(), seed);
    net.start_all();
    let mut most = 0;
    for _ in 0..20_000 {
        most = most.max(net.agent.handshakes());
        if (0..5).all(|i| net.authenticated(i)) {
            break;
        }
        assert!(net.step());
    }
    assert!(
        (0..5).all(|i| net.authenticated(i)),
        "{}",
        net.trace_tail(30)
    );
    assert_eq!(most, 2, "never more than two handshakes at once");
    // The third, fourth and fifth PCI of the first round were dropped and counted; the PaCs
    // got in through PCI retransmission (RFC 5191 §4.1).
    let refused = net.agent.stats().sessions_refused_busy;
    assert!(refused >= 3, "{refused}");
    assert_eq!(net.agent.stats().sessions_created, 5);
    assert!((2..5).any(|i| net.clients[i].stats().tx_retransmissions > 0));
}

/// The PCI of a fresh PaC `i`, as it leaves the PaC.
fn pci_of(i: usize) -> Vec<u8> {
    let mut pac = PanaClient::new(client_config(i, 44));
    pac.start(Instant::ZERO).unwrap();
    let mut buf = [0u8; 256];
    let t = pac.poll_transmit(Instant::ZERO, &mut buf).unwrap();
    buf[..t.len].to_vec()
}

/// `inner` wrapped in a PANA-Relay message from PaC `i` (RFC 6345 §4.1).
fn relayed(i: usize, inner: &[u8]) -> Vec<u8> {
    let mut info = [0u8; 18];
    info[..16].copy_from_slice(&pac_addr(i).octets());
    info[16..].copy_from_slice(&716u16.to_be_bytes());
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(&mut buf, MessageType::Relay, Flags::NONE, 0, 0).unwrap();
    b.push(&AvpRepr::new(AvpCode::PacInformation, &info))
        .unwrap();
    b.push(&AvpRepr::new(AvpCode::RelayedMessage, inner))
        .unwrap();
    let n = b.finish();
    buf[..n].to_vec()
}

/// Every datagram the PAA sends: `(destination, inner message type, flags, session id)`.
fn sent(net: &mut Net) -> Vec<(core::net::Ipv6Addr, MessageType, Flags, u32)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1500];
    while let Some(t) = net.agent.poll_transmit(net.now, &mut buf) {
        let m = Message::new_checked(&buf[..t.len]).unwrap();
        let r = MessageRepr::parse(&m).unwrap();
        let (ty, fl, sid) = if r.message_type == MessageType::Relay {
            let inner = r.find(AvpCode::RelayedMessage).unwrap().value;
            let im = Message::new_checked(inner).unwrap();
            let ir = MessageRepr::parse(&im).unwrap();
            (ir.message_type, ir.flags, ir.session_id)
        } else {
            (r.message_type, r.flags, r.session_id)
        };
        out.push((t.dst, ty, fl, sid));
    }
    while let Some(e) = net.agent.poll_event() {
        net.agent_events.push(e);
    }
    out
}

#[test]
fn a_pci_through_another_pre_takes_the_handshake_over() {
    let mut ac = agent_config(44);
    // Long enough that silence plays no part here.
    ac.pci_takeover_after = Duration::from_secs(3600);
    let mut net = Net::with(ac, vec![client_config(0, 44)], 44);
    let pci = pci_of(0);
    let t0 = Instant::ZERO;
    // First through PRE_ADDR …
    net.agent
        .handle_datagram(t0, PRE_ADDR, 716, &relayed(0, &pci), &mut net.crng);
    let first = sent(&mut net);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, PRE_ADDR);
    assert!(first[0].2.contains(Flags::START));
    let old_sid = first[0].3;
    // … a repeat through the same PRE is a retransmission: no answer, no new session …
    let t1 = t0 + Duration::from_millis(500);
    net.agent
        .handle_datagram(t1, PRE_ADDR, 716, &relayed(0, &pci), &mut net.crng);
    assert!(sent(&mut net).is_empty());
    assert_eq!(net.agent.stats().rx_duplicate, 1);
    // … then the PaC starts over without a PRE: the new PCI takes over.
    let t2 = t0 + Duration::from_millis(800);
    net.agent
        .handle_datagram(t2, pac_addr(0), 716, &pci, &mut net.crng);
    let second = sent(&mut net);
    assert_eq!(second.len(), 1, "the new PCI is answered at once");
    assert_eq!(second[0].0, pac_addr(0));
    assert_eq!(second[0].1, MessageType::Auth);
    assert!(second[0].2.contains(Flags::START));
    assert_ne!(second[0].3, old_sid);
    assert_eq!(net.agent.session_count(), 1, "the stale handshake is gone");
    assert_eq!(net.agent.session(old_sid), None);
    assert_eq!(net.agent.stats().sessions_replaced, 1);
    assert!(net.agent_events.iter().any(|e| matches!(
        e,
        AgentEvent::SessionClosed { session_id, reason: CloseReason::Replaced, .. } if *session_id == old_sid
    )));
}

#[test]
fn without_takeover_a_pci_through_another_pre_opens_a_second_session() {
    let mut net = Net::new(1, 46);
    let pci = pci_of(0);
    net.agent.handle_datagram(
        Instant::ZERO,
        PRE_ADDR,
        716,
        &relayed(0, &pci),
        &mut net.crng,
    );
    assert_eq!(sent(&mut net).len(), 1);
    let t = Instant::ZERO + Duration::from_secs(30);
    net.agent
        .handle_datagram(t, PRE_ADDR, 716, &relayed(0, &pci), &mut net.crng);
    assert!(sent(&mut net).is_empty(), "same PRE: a retransmission");
    net.agent
        .handle_datagram(t, pac_addr(0), 716, &pci, &mut net.crng);
    assert_eq!(sent(&mut net).len(), 1);
    assert_eq!(net.agent.session_count(), 2);
    assert_eq!(net.agent.stats().sessions_replaced, 0);
}

#[test]
fn a_pci_after_long_silence_takes_the_handshake_over() {
    let mut ac = agent_config(45);
    ac.pci_takeover_after = Duration::from_secs(10);
    let mut net = Net::with(ac, vec![client_config(0, 45)], 45);
    let pci = pci_of(0);
    let t0 = Instant::ZERO;
    net.agent
        .handle_datagram(t0, pac_addr(0), 716, &pci, &mut net.crng);
    let old_sid = sent(&mut net)[0].3;
    // 9 s later: still a retransmission of the same attempt.
    net.now = t0 + Duration::from_secs(9);
    net.agent.handle_timeout(net.now);
    net.agent
        .handle_datagram(net.now, pac_addr(0), 716, &pci, &mut net.crng);
    assert!(sent(&mut net).iter().all(|(_, _, _, sid)| *sid == old_sid));
    assert_eq!(net.agent.stats().sessions_replaced, 0);
    // 10 s without a word from the PaC in that handshake: the PaC started over.
    net.now = t0 + Duration::from_secs(10);
    net.agent
        .handle_datagram(net.now, pac_addr(0), 716, &pci, &mut net.crng);
    let out = sent(&mut net);
    let new = out
        .iter()
        .find(|(_, t, f, sid)| {
            *t == MessageType::Auth && f.contains(Flags::START) && *sid != old_sid
        })
        .expect("the new PCI is answered with PAR[S]");
    assert_eq!(net.agent.stats().sessions_replaced, 1);
    assert_eq!(net.agent.session_count(), 1);
    assert!(net.agent.session(new.3).is_some());
}

#[test]
fn a_pac_paces_its_first_pci_by_an_earlier_estimate() {
    let mut est = amimesh_pana::RttEstimator::new();
    est.sample(Duration::from_secs(8)); // RTO = 8 + 4·4 = 24 s
    for (adaptive, lo, hi) in [(true, 21_600, 26_400), (false, 900, 1_100)] {
        let mut cc = client_config(0, 47);
        cc.adaptive_rtx = adaptive;
        let mut pac = PanaClient::new(cc);
        pac.set_rtt(est);
        pac.start(Instant::ZERO).unwrap();
        let first = pac.poll_timeout().unwrap() - Instant::ZERO;
        assert!(
            first >= Duration::from_millis(lo) && first <= Duration::from_millis(hi),
            "adaptive {adaptive}: first PCI timeout {first}"
        );
        // A retransmission leaves the estimate as it was (Karn: no sample from it).
        pac.handle_timeout(Instant::ZERO + first);
        assert_eq!(pac.stats().tx_retransmissions, 1);
        assert_eq!(pac.rtt().srtt(), Some(Duration::from_secs(8)));
    }
}

/// Two PaCs through a PAA that admits one handshake at a time, over a 1 s round trip; the
/// second PaC allows 8 s to authenticate. Returns whether it authenticated, how often it gave
/// up, and when its PAR\[S\] came (seconds after its first PCI).
fn second_in_line(initiation: Duration) -> (bool, usize, Option<f64>) {
    let seed = 45;
    let mut ac = agent_config(seed);
    ac.max_handshakes = 1;
    let ccs = (0..2)
        .map(|i| {
            let mut c = client_config(i, seed);
            c.auth_timeout = Duration::from_secs(if i == 0 { 120 } else { 8 });
            c.initiation_timeout = initiation;
            c
        })
        .collect();
    let mut net = Net::with(ac, ccs, seed);
    net.latency = Duration::from_millis(500);
    net.start_all();
    let mut par_start = None;
    for _ in 0..20_000 {
        if net.clients[1].session_id() != 0 && par_start.is_none() {
            par_start = Some(net.now.total_micros() as f64 / 1e6);
        }
        if net.authenticated(1) || net.now > Instant::from_secs(60) || !net.step() {
            break;
        }
    }
    let failed = net.client_events[1]
        .iter()
        .filter(|e| matches!(e, amimesh_pana::ClientEvent::Failed { .. }))
        .count();
    (net.authenticated(1), failed, par_start)
}

#[test]
fn a_pac_waiting_for_admission_keeps_its_turn_with_an_initiation_timeout() {
    // The first handshake holds the only slot for longer than the second PaC's 8 s.
    let (ok, failed, par_start) = second_in_line(Duration::ZERO);
    assert!(
        failed >= 1,
        "gave up while waiting: {ok} {failed} {par_start:?}"
    );
    // With PCIs allowed for 60 s, the 8 s count from PAR[S]: it gets in and authenticates
    // without starting over.
    let (ok, failed, par_start) = second_in_line(Duration::from_secs(60));
    assert!(ok, "{failed} {par_start:?}");
    assert_eq!(failed, 0);
    let par_start = par_start.unwrap();
    assert!(
        par_start > 2.0,
        "admitted only after the first handshake: {par_start}"
    );
}
