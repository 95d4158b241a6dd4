//! The medium driving the real `amimesh_mac` state machine through the `Node` trait: unicast
//! with ACK/retry (auto-ACK radios and software ACKs), active scan of a beacon responder, and
//! a reproducible trace.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use amimesh_core::{ExtAddr, Instant, LinkAddr, PanId, ShortAddr};
use amimesh_mac::mac::{
    BeaconPayloadRepr, Config, DataRequest, Event, Mac, PhyProfile, RadioCaps, RadioOp, RxMeta,
    ScanDuration, ScanRequest, SecurityPolicy, TxResult, TxStatus,
};
use amimesh_sim::topology::Layout;
use amimesh_sim::{AckFilter, NoServer, Node, NodeId, Sim, SimConfig};

/// A node that is just the MAC.
struct MacNode {
    mac: Mac,
}

impl Node for MacNode {
    type Event = Event;
    fn radio_caps(&self) -> RadioCaps {
        self.mac.config().caps
    }
    fn ack_filter(&self) -> AckFilter {
        let c = self.mac.config();
        AckFilter {
            pan_id: Some(c.pan_id),
            short: c.short_addr,
            ext: Some(c.ext_addr),
        }
    }
    fn handle_tx_done(&mut self, now: Instant, result: TxResult) {
        self.mac.handle_tx_done(now, result);
    }
    fn handle_frame(&mut self, now: Instant, meta: RxMeta, psdu: &[u8]) {
        self.mac.handle_frame(now, meta, psdu);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.mac.handle_timeout(now);
    }
    fn poll_radio(&mut self, now: Instant, buf: &mut [u8]) -> Option<RadioOp> {
        self.mac.poll_transmit(now, buf)
    }
    fn poll_event(&mut self) -> Option<Event> {
        self.mac.poll_event()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.mac.poll_timeout()
    }
}

const PAN: PanId = PanId(0xface);

fn ext(i: u16) -> ExtAddr {
    ExtAddr::from_u64(0x0012_4b00_0000_0000 | u64::from(i))
}

fn mac_node(i: u16, auto_ack: bool) -> MacNode {
    mac_node_caps(
        i,
        RadioCaps {
            auto_ack,
            software_fcs: false,
        },
    )
}

fn mac_node_caps(i: u16, caps: RadioCaps) -> MacNode {
    let mut c = Config::new(ext(i));
    c.phy = PhyProfile::SUN_FSK_920_100K;
    c.caps = caps;
    c.short_addr = Some(ShortAddr(i));
    c.pan_id = PAN;
    c.channel = 1;
    c.seed = u64::from(i) + 1;
    c.pan_coordinator = i == 0;
    let mut mac = Mac::new(c);
    mac.set_security_policy(SecurityPolicy::UNSECURED);
    MacNode { mac }
}

/// Four MACs on a line 30 m apart; every 400 ms each of nodes 1..=3 sends a frame to its
/// west neighbour, 20 rounds. Returns the sim and its events.
fn line_run(caps: RadioCaps, seed: u64) -> (Sim<MacNode>, Vec<(Instant, NodeId, Event)>) {
    let layout = Layout::line(4, 30.0);
    let nodes = (0..4).map(|i| mac_node_caps(i, caps)).collect();
    let cfg = SimConfig {
        seed,
        ..SimConfig::default()
    };
    let mut s = Sim::new(cfg, layout.positions, nodes, NoServer).unwrap();
    let mut events = Vec::new();
    for round in 0..20u32 {
        let t = Instant::from_millis(i64::from(round) * 400);
        s.run_until(t).unwrap();
        for i in 1..4u16 {
            let payload = format!("{i}:{round}");
            s.with_node(NodeId(u32::from(i)), |n, now| {
                let req =
                    DataRequest::new(round, LinkAddr::Short(ShortAddr(i - 1)), payload.as_bytes());
                n.mac.send(now, req).unwrap();
            })
            .unwrap();
        }
        while let Some(e) = s.poll_event() {
            events.push(e);
        }
    }
    s.run_until(Instant::from_secs(10)).unwrap();
    while let Some(e) = s.poll_event() {
        events.push(e);
    }
    (s, events)
}

fn check_line(auto_ack: bool, software_fcs: bool) {
    let caps = RadioCaps {
        auto_ack,
        software_fcs,
    };
    let (s, events) = line_run(caps, 5);
    let mut done = 0;
    let mut received = vec![Vec::new(); 4];
    for (_, node, e) in &events {
        match e {
            Event::TxDone { status, .. } => {
                assert_eq!(*status, TxStatus::Success, "node {node}");
                done += 1;
            }
            Event::Received(f) => {
                assert_eq!(f.dst, LinkAddr::Short(ShortAddr(node.0 as u16)));
                received[node.index()].push((f.src, String::from_utf8(f.payload.clone()).unwrap()));
            }
            _ => {}
        }
    }
    assert_eq!(done, 60);
    for (dst, got) in received.iter().enumerate().take(3) {
        let src = dst as u16 + 1;
        let expect: Vec<(LinkAddr, String)> = (0..20)
            // The MAC sends data frames from its extended address.
            .map(|r| (LinkAddr::Extended(ext(src)), format!("{src}:{r}")))
            .collect();
        assert_eq!(got, &expect, "at node {dst}");
    }
    assert!(received[3].is_empty());
    let st = s.stats();
    if auto_ack {
        assert!(st.auto_acks >= 60, "{st:?}");
    } else {
        assert_eq!(st.auto_acks, 0);
        let sw: u64 = s.nodes().iter().map(|n| n.mac.stats().acks_sent).sum();
        assert!(sw >= 60, "{sw}");
    }
}

#[test]
fn real_mac_unicast_with_auto_ack_radios() {
    check_line(true, false);
}

#[test]
fn real_mac_unicast_with_software_acks() {
    check_line(false, false);
}

#[test]
fn real_mac_unicast_with_software_fcs_and_acks() {
    // The MAC appends and checks the FCS itself; the medium carries its PSDUs unchanged.
    check_line(false, true);
}

#[test]
fn real_mac_runs_are_reproducible() {
    let caps = RadioCaps {
        auto_ack: true,
        software_fcs: false,
    };
    let (a, ea) = line_run(caps, 9);
    let (b, eb) = line_run(caps, 9);
    assert_eq!(a.trace_hash(), b.trace_hash());
    assert_eq!(ea, eb);
    let (c, _) = line_run(caps, 10);
    assert_ne!(a.trace_hash(), c.trace_hash());
}

#[test]
fn real_mac_active_scan_finds_the_coordinator() {
    let layout = Layout::line(2, 30.0);
    let mut coord = mac_node(0, true);
    coord.mac.set_beacon_payload(Some(BeaconPayloadRepr::new(
        0x03,
        *b"amimesh-field-01",
        true,
        None,
    )));
    let mut joiner = mac_node(1, true);
    joiner.mac.set_pan(PanId::BROADCAST, 1);
    let mut s = Sim::new(
        SimConfig::default(),
        layout.positions,
        vec![coord, joiner],
        NoServer,
    )
    .unwrap();
    s.run_until(Instant::from_millis(10)).unwrap();
    s.with_node(NodeId(1), |n, now| {
        n.mac
            .start_scan(
                now,
                ScanRequest {
                    channels: &[1],
                    duration: ScanDuration::Fixed(amimesh_core::Duration::from_millis(300)),
                },
            )
            .unwrap();
    })
    .unwrap();
    s.run_until(Instant::from_secs(1)).unwrap();
    let rssi = s.links().rssi(NodeId(0), NodeId(1)).unwrap();
    let mut pans = None;
    while let Some((_, node, e)) = s.poll_event() {
        if let Event::ScanDone { pans: p } = e {
            assert_eq!(node, NodeId(1));
            pans = Some(p);
        }
    }
    let pans = pans.expect("scan finished");
    assert_eq!(pans.len(), 1);
    let p = &pans[0];
    assert_eq!(p.pan_id, PAN);
    assert_eq!(p.coord_addr, LinkAddr::Short(ShortAddr(0)));
    assert_eq!(p.channel, 1);
    assert_eq!(i32::from(p.rssi), rssi.round() as i32);
    assert_eq!(p.payload.unwrap().network_id, *b"amimesh-field-01");
    assert!(p.pre_available());
}
