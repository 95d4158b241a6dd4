//! Radio medium behaviour: airtime and timing, CCA, collisions and capture, half-duplex,
//! channels, auto-ACK, extra loss and the PRR curve.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod common;

use amimesh_core::{Duration, Instant};
use amimesh_mac::mac::phy::PhyProfile;
use amimesh_mac::mac::radio::TxResult;
use amimesh_sim::traffic::{TrafficConfig, TrafficNode};
use amimesh_sim::{NoServer, NodeId, Position, RadioModel, Sim, SimConfig};
use common::{Script, data_frame, sun_airtime_us, table_model};

const OK: TxResult = TxResult::Ok {
    frame_pending: false,
};

fn sim(model: RadioModel, nodes: Vec<Script>) -> Sim<Script> {
    let n = nodes.len();
    let cfg = SimConfig {
        seed: 1,
        radio: model,
        ..SimConfig::default()
    };
    Sim::new(cfg, vec![Position::default(); n], nodes, NoServer).unwrap()
}

fn run(s: &mut Sim<Script>) {
    s.run_until(Instant::from_secs(1)).unwrap();
}

fn node(s: &Sim<Script>, i: u32) -> &Script {
    s.node(NodeId(i)).unwrap()
}

#[test]
fn airtime_arithmetic_matches_the_phy_profile() {
    let m = RadioModel::default();
    // SUN FSK 100 kb/s: (SHR 48 + (PHR 2 + MPDU 20 + FCS 4) · 8) symbols · 10 µs.
    assert_eq!(m.airtime(20).total_micros(), 2_560);
    assert_eq!(m.airtime(20).total_micros() as i64, sun_airtime_us(20));
    // An immediate ACK: 3-octet MPDU.
    assert_eq!(m.airtime(3).total_micros(), 1_200);
    let q = RadioModel {
        phy: PhyProfile::O_QPSK_2450,
        ..RadioModel::default()
    };
    // O-QPSK 250 kb/s: (10 + (1 + 125 + 2) · 2) symbols · 16 µs = 4256 µs for a full PSDU.
    assert_eq!(q.airtime(125).total_micros(), 4_256);
    // 100 kb/s is 80 µs per octet.
    assert_eq!(
        m.airtime(120).total_micros() - m.airtime(20).total_micros(),
        8_000
    );
}

#[test]
fn transmit_timing_without_and_with_cca() {
    let f = data_frame(7, 1, 0, false, 11);
    assert_eq!(f.len(), 20);
    let a = Script::new()
        .listen(0, 1)
        .tx(1_000, 1, false, f.clone())
        .tx(10_000, 1, true, f.clone());
    let b = Script::new().listen(0, 1);
    let mut s = sim(table_model(&[(0, 1, -60.0)]), vec![a, b]);
    run(&mut s);
    let air = sun_airtime_us(20);
    // Without CCA the frame starts at `at`; with CCA after aCcaTime (80 µs) and
    // aTurnaroundTime (1 ms).
    let end1 = 1_000 + air;
    let end2 = 10_000 + 80 + 1_000 + air;
    assert_eq!(node(&s, 0).tx_results(), vec![(end1, OK), (end2, OK)]);
    let rx = node(&s, 1).frames();
    assert_eq!(rx.len(), 2);
    assert_eq!(rx[0].0.at.total_micros(), end1);
    assert_eq!(rx[1].0.at.total_micros(), end2);
    assert_eq!(rx[0].0.rssi, -60);
    assert_eq!(rx[0].0.channel, 1);
    assert_eq!(rx[0].0.lqi, 255);
    assert_eq!(rx[0].1, f);
    let st = s.stats();
    assert_eq!(st.frames, 2);
    assert_eq!(st.bytes, 2 * 24);
    assert_eq!(st.delivered, 2);
    assert_eq!(s.node_stats(NodeId(0)).unwrap().tx_bytes, 48);
}

#[test]
fn rssi_and_lqi_come_from_the_model() {
    let f = data_frame(1, 1, 0, false, 5);
    let a = Script::new().listen(0, 1).tx(100, 1, false, f);
    let b = Script::new().listen(0, 1);
    // −82 dBm: 15 dB above the −97 dBm sensitivity → LQI 128; PRR ≈ 1 at SNR 23 dB.
    let mut s = sim(table_model(&[(0, 1, -82.0)]), vec![a, b]);
    run(&mut s);
    let rx = node(&s, 1).frames();
    assert_eq!(rx.len(), 1);
    assert_eq!(rx[0].0.rssi, -82);
    assert_eq!(rx[0].0.lqi, 128);
}

#[test]
fn cca_senses_frames_in_range_only() {
    let long = data_frame(1, 9, 0, false, 91); // 100 octets: 8960 µs on air
    let short = data_frame(2, 9, 1, false, 1);
    let air = sun_airtime_us(100);
    assert_eq!(air, 8_960);
    let cases: &[(f64, u8, i64, bool)] = &[
        // (RSSI of node 0 at node 1, node 1's channel, CCA start, busy?)
        (-60.0, 1, 2_000, true),  // frame on air during the whole window
        (-60.0, 1, 8_900, true),  // frame ends inside the window
        (-60.0, 1, air, false),   // frame ended exactly when the window opens
        (-60.0, 2, 2_000, false), // another channel
        (-95.5, 1, 2_000, false), // heard (above −97) but below the −94 dBm CCA threshold
        (-93.5, 1, 2_000, true),  // above the CCA threshold
        (-60.0, 1, -40, true),    // frame starts inside the window (window −40..40 µs)
    ];
    for &(rssi, ch, start, busy) in cases {
        let (a_at, b_at) = if start < 0 { (40, 0) } else { (0, start) };
        let a = Script::new().listen(0, 1).tx(a_at, 1, false, long.clone());
        let b = Script::new()
            .listen(0, ch)
            .tx(b_at, ch, true, short.clone());
        let mut s = sim(table_model(&[(0, 1, rssi)]), vec![a, b]);
        run(&mut s);
        let r = node(&s, 1).tx_results();
        let expect = if busy {
            (b_at + 80, TxResult::ChannelBusy)
        } else {
            (b_at + 80 + 1_000 + sun_airtime_us(10), OK)
        };
        assert_eq!(r, vec![expect], "rssi {rssi} channel {ch} start {start}");
        assert_eq!(s.stats().cca_busy, u64::from(busy));
    }
}

#[test]
fn hidden_terminals_collide_at_the_middle_node() {
    // 0 — 1 — 2, with 0 and 2 out of range of each other; both send without CCA.
    let fa = data_frame(1, 1, 0, false, 30);
    let fc = data_frame(2, 1, 2, false, 30);
    let a = Script::new().listen(0, 1).tx(1_000, 1, false, fa);
    let b = Script::new().listen(0, 1);
    let c = Script::new().listen(0, 1).tx(1_500, 1, false, fc);
    let mut s = sim(table_model(&[(0, 1, -70.0), (1, 2, -70.0)]), vec![a, b, c]);
    run(&mut s);
    assert!(node(&s, 1).frames().is_empty());
    assert_eq!(s.stats().collisions, 1);
    assert_eq!(s.stats().delivered, 0);
    // Both senders believe they succeeded (no ACK requested).
    assert_eq!(node(&s, 0).tx_results().len(), 1);
    assert_eq!(node(&s, 2).tx_results().len(), 1);
}

/// Node 0 starts at 1000 µs, node 2 at 1500 µs; returns the senders node 1 received from.
fn capture_case(rssi0: f64, rssi2: f64, margin: f64) -> Vec<u8> {
    let a = Script::new()
        .listen(0, 1)
        .tx(1_000, 1, false, data_frame(1, 1, 0, false, 30));
    let b = Script::new().listen(0, 1);
    let c = Script::new()
        .listen(0, 1)
        .tx(1_500, 1, false, data_frame(2, 1, 2, false, 30));
    let mut m = table_model(&[(0, 1, rssi0), (1, 2, rssi2)]);
    m.capture_margin_db = margin;
    let mut s = sim(m, vec![a, b, c]);
    run(&mut s);
    node(&s, 1).frames().iter().map(|(_, f)| f[7]).collect()
}

#[test]
fn capture_needs_the_margin_and_the_first_preamble() {
    // Locked on the stronger first frame: captured.
    assert_eq!(capture_case(-60.0, -75.0, 3.0), vec![0]);
    // Exactly the margin is enough; a little less is not.
    assert_eq!(capture_case(-60.0, -63.0, 3.0), vec![0]);
    assert_eq!(capture_case(-60.0, -62.9, 3.0), Vec::<u8>::new());
    // A stronger frame that starts later destroys the first and is not received either.
    assert_eq!(capture_case(-75.0, -60.0, 3.0), Vec::<u8>::new());
    // With an infinite margin any overlap destroys both.
    assert_eq!(capture_case(-60.0, -90.0, f64::INFINITY), Vec::<u8>::new());
}

#[test]
fn receiver_that_was_deaf_at_the_start_still_sees_the_interferer() {
    // Node 1 transmits 0..; node 2's frame (weak) starts while node 1 is deaf; node 0's frame
    // (strong) starts after node 1 is back: node 1 receives node 0's frame only if it beats
    // the ongoing interferer by the margin.
    for (rssi2, expect) in [(-80.0, 1usize), (-62.0, 0)] {
        let a = Script::new()
            .listen(0, 1)
            .tx(3_000, 1, false, data_frame(1, 1, 0, false, 10));
        let b = Script::new()
            .listen(0, 1)
            .tx(0, 1, false, data_frame(2, 9, 1, false, 5));
        let c = Script::new()
            .listen(0, 1)
            .tx(500, 1, false, data_frame(3, 9, 2, false, 200));
        let mut s = sim(table_model(&[(0, 1, -60.0), (1, 2, rssi2)]), vec![a, b, c]);
        run(&mut s);
        assert_eq!(node(&s, 1).frames().len(), expect, "interferer {rssi2}");
    }
}

#[test]
fn half_duplex_radio_misses_frames_while_sending() {
    // Node 1 is on air when node 0's frame starts: not received.
    let a = Script::new()
        .listen(0, 1)
        .tx(1_500, 1, false, data_frame(1, 1, 0, false, 10));
    let b = Script::new()
        .listen(0, 1)
        .tx(1_000, 1, false, data_frame(2, 0, 1, false, 30));
    let mut s = sim(table_model(&[(0, 1, -60.0)]), vec![a, b]);
    run(&mut s);
    assert!(node(&s, 1).frames().is_empty());
    assert!(node(&s, 0).frames().is_empty());
    // Node 1 starts sending while receiving: the reception is cut.
    let a = Script::new()
        .listen(0, 1)
        .tx(1_000, 1, false, data_frame(1, 1, 0, false, 30));
    let b = Script::new()
        .listen(0, 1)
        .tx(1_500, 1, false, data_frame(2, 5, 1, false, 10));
    let mut s = sim(table_model(&[(0, 1, -60.0)]), vec![a, b]);
    run(&mut s);
    assert!(node(&s, 1).frames().is_empty());
    assert_eq!(s.stats().interrupted, 1);
}

#[test]
fn receivers_on_another_channel_or_off_hear_nothing() {
    let f = data_frame(1, 0xffff, 0, false, 10);
    let a = Script::new().listen(0, 1).tx(1_000, 1, false, f.clone());
    let b = Script::new().listen(0, 2);
    let c = Script::new().listen(0, 1).off(10);
    let d = Script::new().listen(0, 1);
    let mut s = sim(
        table_model(&[(0, 1, -60.0), (0, 2, -60.0), (0, 3, -60.0)]),
        vec![a, b, c, d],
    );
    run(&mut s);
    assert!(node(&s, 1).frames().is_empty());
    assert!(node(&s, 2).frames().is_empty());
    assert_eq!(node(&s, 3).frames().len(), 1);
    // Switching channel mid-frame cuts the reception.
    let a = Script::new().listen(0, 1).tx(1_000, 1, false, f);
    let b = Script::new().listen(0, 1).listen(2_000, 2);
    let mut s = sim(table_model(&[(0, 1, -60.0)]), vec![a, b]);
    run(&mut s);
    assert!(node(&s, 1).frames().is_empty());
    assert_eq!(s.stats().interrupted, 1);
}

#[test]
fn auto_ack_radios_acknowledge_unicast_for_their_address() {
    let f = data_frame(0x42, 1, 0, true, 11);
    let end = 1_000 + sun_airtime_us(20);
    let ack_end = end + 1_000 + sun_airtime_us(3);
    let no_ack_at = end + 3_280; // macAckWaitDuration on SUN FSK
    // (receiver, destination, expected result)
    let receiver_auto = || Script::new().auto_ack(1).listen(0, 1);
    let receiver_plain = || Script::new().listen(0, 1);
    let cases: Vec<(Script, u16, (i64, TxResult))> = vec![
        (receiver_auto(), 1, (ack_end, OK)),
        (receiver_auto(), 7, (no_ack_at, TxResult::NoAck)),
        (receiver_plain(), 1, (no_ack_at, TxResult::NoAck)),
    ];
    for (b, dst, expect) in cases {
        let mut frame = f.clone();
        frame[5..7].copy_from_slice(&dst.to_le_bytes());
        let a = Script::new()
            .auto_ack(0)
            .listen(0, 1)
            .tx(1_000, 1, false, frame);
        let mut s = sim(table_model(&[(0, 1, -60.0)]), vec![a, b]);
        run(&mut s);
        assert_eq!(node(&s, 0).tx_results(), vec![expect], "dst {dst}");
        // The receiver saw the data frame; the sender's radio consumed the ACK.
        assert_eq!(node(&s, 1).frames().len(), 1);
        assert!(node(&s, 0).frames().is_empty());
        assert_eq!(s.stats().auto_acks, u64::from(expect.1 == OK));
    }
}

#[test]
fn software_mac_sees_the_ack_frame() {
    // A sender without auto-ACK gets Ok at the end of its frame and the ACK as a frame.
    let a = Script::new()
        .listen(0, 1)
        .tx(1_000, 1, false, data_frame(9, 1, 0, true, 11));
    let b = Script::new().auto_ack(1).listen(0, 1);
    let mut s = sim(table_model(&[(0, 1, -60.0)]), vec![a, b]);
    run(&mut s);
    let end = 1_000 + sun_airtime_us(20);
    assert_eq!(node(&s, 0).tx_results(), vec![(end, OK)]);
    let rx = node(&s, 0).frames();
    assert_eq!(rx.len(), 1);
    assert_eq!(rx[0].1, vec![0x02, 0x00, 9]);
    assert_eq!(rx[0].0.at.total_micros(), end + 1_000 + sun_airtime_us(3));
}

#[test]
fn broadcast_frames_are_never_acknowledged() {
    let a = Script::new().auto_ack(0).listen(0, 1).tx(
        1_000,
        1,
        false,
        data_frame(9, 0xffff, 0, true, 11),
    );
    let b = Script::new().auto_ack(1).listen(0, 1);
    let mut s = sim(table_model(&[(0, 1, -60.0)]), vec![a, b]);
    run(&mut s);
    assert_eq!(node(&s, 0).tx_results()[0].1, TxResult::NoAck);
    assert_eq!(s.stats().auto_acks, 0);
}

#[test]
fn contract_violations_are_answered_and_counted() {
    let f = data_frame(1, 1, 0, false, 10);
    // Two transmits at once: the second is refused with ChannelBusy at once.
    let a = Script::new()
        .listen(0, 1)
        .tx(1_000, 1, false, f.clone())
        .tx(1_000, 1, false, f.clone());
    // A frame longer than aMaxPhyPacketSize − FCS.
    let b = Script::new()
        .listen(0, 1)
        .tx(50_000, 1, false, data_frame(1, 1, 0, false, 2_044 - 9));
    let mut s = sim(table_model(&[(0, 1, -60.0)]), vec![a, b]);
    run(&mut s);
    assert_eq!(
        node(&s, 0).tx_results(),
        vec![
            (1_000, TxResult::ChannelBusy),
            (1_000 + sun_airtime_us(19), OK)
        ]
    );
    assert_eq!(
        node(&s, 1).tx_results(),
        vec![(50_000, TxResult::ChannelBusy)]
    );
    assert_eq!(s.stats().contract_violations, 2);
}

fn traffic_pair(
    rssi: f64,
    extra_loss: f64,
    frames: u64,
    payload: usize,
) -> (u64, Sim<TrafficNode>) {
    let mut m = table_model(&[(0, 1, rssi)]);
    m.extra_loss = extra_loss;
    let rx = TrafficNode::new(TrafficConfig::new(0, 0xffff, None, 1));
    let mut c = TrafficConfig::new(1, 0xffff, Some(Duration::from_millis(50)), 2);
    c.max_frames = Some(frames);
    c.payload_len = payload;
    let tx = TrafficNode::new(c);
    let cfg = SimConfig {
        seed: 11,
        radio: m,
        ..SimConfig::default()
    };
    let mut s = Sim::new(cfg, vec![Position::default(); 2], vec![rx, tx], NoServer).unwrap();
    s.drive_bounded(1_000_000).unwrap();
    (s.node(NodeId(0)).unwrap().stats().received, s)
}

#[test]
fn extra_loss_removes_its_share() {
    let (got, s) = traffic_pair(-60.0, 0.3, 2_000, 20);
    assert_eq!(s.node(NodeId(1)).unwrap().stats().sent, 2_000);
    // 70 % expected; binomial σ ≈ 20.
    assert!((1_300..1_500).contains(&got), "{got}");
    assert_eq!(s.stats().extra_loss + s.stats().delivered, 2_000);
    let (got, _) = traffic_pair(-60.0, 0.0, 500, 20);
    assert_eq!(got, 500);
}

#[test]
fn prr_curve_is_sane() {
    let m = RadioModel::default();
    assert_eq!(m.prr(m.sensitivity_dbm - 0.1, 50), 0.0);
    assert!(m.prr(-60.0, 127) > 0.999_999);
    let mut last = 0.0;
    let mut x = m.sensitivity_dbm;
    while x < -85.0 {
        let p = m.prr(x, 50);
        assert!(p >= last, "not monotone at {x}");
        assert!((0.0..=1.0).contains(&p));
        last = p;
        x += 0.25;
    }
    // Longer frames fail more often in the transitional region.
    assert!(m.prr(-94.0, 120) < m.prr(-94.0, 20));
    // The transitional region is a few dB wide.
    assert!(m.prr(-96.0, 50) < 0.1);
    assert!(m.prr(-91.0, 50) > 0.9);
}

#[test]
fn measured_reception_follows_the_prr_curve() {
    let m = RadioModel::default();
    // A 30-octet MPDU on air is 34 octets with the FCS; find the RSSI where PRR ≈ 0.5.
    let (mut lo, mut hi) = (-97.0, -85.0);
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        if m.prr(mid, 34) < 0.5 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let (got, s) = traffic_pair(lo, 0.0, 2_000, 21);
    assert_eq!(s.node(NodeId(1)).unwrap().stats().sent, 2_000);
    assert!((900..1_100).contains(&got), "{got}");
    assert_eq!(s.stats().fading + s.stats().delivered, 2_000);
}

#[test]
fn software_fcs_radios_send_and_receive_the_whole_psdu() {
    use amimesh_sim::pcap::append_fcs;
    let mpdu = data_frame(3, 0xffff, 0, false, 11);
    let mut good = mpdu.clone();
    append_fcs(&mut good, 4); // SUN FSK: 4-octet FCS
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 0x80;
    let mut a = Script::new()
        .listen(0, 1)
        .tx(1_000, 1, false, good.clone())
        .tx(20_000, 1, false, bad.clone());
    a.caps.software_fcs = true;
    let plain = Script::new().listen(0, 1);
    let mut soft = Script::new().listen(0, 1);
    soft.caps.software_fcs = true;
    let mut s = sim(
        table_model(&[(0, 1, -60.0), (0, 2, -60.0)]),
        vec![a, plain, soft],
    );
    run(&mut s);
    // Same airtime as a radio-appended FCS.
    assert_eq!(
        node(&s, 0).tx_results()[0],
        (1_000 + sun_airtime_us(20), OK)
    );
    // The checking radio strips the good FCS and drops the bad frame.
    let p: Vec<Vec<u8>> = node(&s, 1).frames().into_iter().map(|f| f.1).collect();
    assert_eq!(p, vec![mpdu.clone()]);
    assert_eq!(s.stats().bad_fcs, 1);
    // The software-FCS receiver gets both PSDUs as sent, FCS included.
    let q: Vec<Vec<u8>> = node(&s, 2).frames().into_iter().map(|f| f.1).collect();
    assert_eq!(q, vec![good, bad]);
    // A software-FCS transmit shorter than the FCS is refused.
    let mut c = Script::new().listen(0, 1);
    c.ops.push_back((
        Instant::from_micros(5),
        amimesh_mac::mac::radio::RadioOp::Transmit(amimesh_mac::mac::radio::Transmit {
            at: Instant::from_micros(5),
            channel: 1,
            cca: false,
            len: 3,
            kind: amimesh_mac::mac::radio::TxKind::Data,
            ack_request: false,
            seq: 0,
            dst: amimesh_core::LinkAddr::Absent,
        }),
        vec![1, 2, 3],
    ));
    c.caps.software_fcs = true;
    let mut s = sim(table_model(&[(0, 1, -60.0)]), vec![c, Script::new()]);
    run(&mut s);
    assert_eq!(s.stats().contract_violations, 1);
    assert_eq!(node(&s, 0).tx_results(), vec![(5, TxResult::ChannelBusy)]);
}
