//! Shared set-up of the field scenarios: a relay (node 0) and meters, servers behind the
//! uplink, and a run that stops once every meter is operational.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)] // test code

use amimesh_core::{Duration, Instant};
use amimesh_device::{MeterEvent, Phase};
use amimesh_sim::device::{Device, DeviceEvent, UtilityServers, field_nodes};
use amimesh_sim::topology::{Layout, LinkGraph};
use amimesh_sim::{Links, NodeId, RadioModel, Sim, SimConfig};

pub type FieldSim = Sim<Device, UtilityServers>;

pub struct Field {
    pub sim: FieldSim,
    pub events: Vec<(Instant, NodeId, DeviceEvent)>,
    pub meters: usize,
}

pub fn model(extra_loss: f64) -> RadioModel {
    RadioModel {
        extra_loss,
        ..RadioModel::default()
    }
}

/// A random layout of `meters + 1` nodes whose farthest node is at least `min_hops` good hops
/// from the relay.
pub fn random_layout(meters: usize, seed: u64, min_hops: u32) -> Layout {
    Layout::random_connected(
        meters + 1,
        500.0,
        220.0,
        &model(0.0),
        seed,
        min_hops,
        0.7,
        500,
    )
    .unwrap()
}

/// Hops of the link graph (good links) from the relay.
pub fn hops(layout: &Layout, seed: u64) -> Vec<Option<u32>> {
    let m = model(0.0);
    let links = Links::compute(&m, &layout.positions, seed);
    LinkGraph::new(&links, &m, 60, 0.7).hops_from(NodeId(0))
}

pub fn build(
    layout: &Layout,
    meters: usize,
    seed: u64,
    extra_loss: f64,
    tweak: impl FnOnce(&mut Vec<Device>, &mut UtilityServers),
) -> Field {
    let (mut nodes, mut servers) = field_nodes(meters, seed);
    tweak(&mut nodes, &mut servers);
    let cfg = SimConfig {
        seed,
        uplink_node: Some(NodeId(0)),
        radio: model(extra_loss),
        ..SimConfig::default()
    };
    let mut sim = Sim::new(cfg, layout.positions.clone(), nodes, servers).unwrap();
    sim.with_node(NodeId(0), |n, now| {
        n.relay_mut().unwrap().start_session(now).unwrap()
    })
    .unwrap();
    for i in 1..=meters {
        sim.with_node(NodeId(i as u32), |n, now| {
            n.meter_mut().unwrap().start(now).unwrap()
        })
        .unwrap();
    }
    Field {
        sim,
        events: Vec::new(),
        meters,
    }
}

impl Field {
    pub fn drain(&mut self) {
        while let Some(e) = self.sim.poll_event() {
            self.events.push(e);
        }
    }

    pub fn meter(&self, i: usize) -> &amimesh_device::Meter<rand_chacha::ChaCha20Rng> {
        self.sim.node(NodeId(i as u32)).unwrap().meter().unwrap()
    }

    pub fn relay(&self) -> &amimesh_device::FieldRelay<rand_chacha::ChaCha20Rng> {
        self.sim.node(NodeId(0)).unwrap().relay().unwrap()
    }

    pub fn operational(&self, i: usize) -> bool {
        self.meter(i).phase() == Phase::Operational
    }

    /// Runs in steps of one second until every meter in `which` is operational or `limit`
    /// passes; returns the time it happened.
    pub fn run_until_joined(&mut self, which: &[usize], limit: Instant) -> Option<Instant> {
        loop {
            if which.iter().all(|i| self.operational(*i)) {
                self.drain();
                return Some(self.sim.now());
            }
            if self.sim.now() >= limit {
                self.drain();
                return None;
            }
            let t = self.sim.now() + Duration::from_secs(1);
            self.sim.run_until(t).unwrap();
            self.drain();
        }
    }

    pub fn all(&self) -> Vec<usize> {
        (1..=self.meters).collect()
    }

    /// Events of meter `i`.
    pub fn meter_events(&self, i: usize) -> Vec<&MeterEvent> {
        self.events
            .iter()
            .filter_map(|(_, n, e)| match e {
                DeviceEvent::Meter(m) if n.index() == i => Some(m),
                _ => None,
            })
            .collect()
    }

    /// Asserts that meter `i` went through P1, P2, P3 and P4 in order.
    pub fn assert_phases(&self, i: usize) {
        let ev = self.meter_events(i);
        let last = |f: &dyn Fn(&MeterEvent) -> bool| ev.iter().rposition(|e| f(e));
        let p4 = last(&|e| matches!(e, MeterEvent::Operational { .. })).expect("P4");
        let p3 = last(&|e| matches!(e, MeterEvent::Linked { .. })).expect("P3");
        let p2 = last(&|e| matches!(e, MeterEvent::Authenticated { .. })).expect("P2");
        let p1 = last(&|e| matches!(e, MeterEvent::PreSelected { .. })).expect("P1");
        assert!(p1 < p2 && p2 < p3 && p3 < p4, "meter {i}: {ev:?}");
    }

    /// RPL hop count of meter `i` (rank / MinHopRankIncrease − 1 for MRHOF is not exact;
    /// the parent chain through the meters is).
    pub fn hop_count(&self, i: usize) -> usize {
        let mut hops = 1;
        let mut cur = self.meter(i).parent();
        while let Some(p) = cur {
            let idx = (p.to_u64() & 0xffff) as usize;
            if idx == 0 {
                return hops;
            }
            hops += 1;
            if hops > 64 {
                return hops;
            }
            cur = self.meter(idx).parent();
        }
        hops
    }
}

/// `meters` meters on a line 70 m apart (the relay at one end): meter `i` is `i` hops out.
pub fn line(
    meters: usize,
    seed: u64,
    tweak: impl FnOnce(&mut Vec<Device>, &mut UtilityServers),
) -> Field {
    let layout = Layout::line(meters + 1, 70.0);
    build(&layout, meters, seed, 0.0, tweak)
}

/// Every frame put on air, kept in memory as its MPDU (the FCS the PHY appended is checked and
/// removed; the field scenarios run on the default radio model's PHY).
#[derive(Clone, Default)]
pub struct Capture(pub std::rc::Rc<std::cell::RefCell<Frames>>);

/// Captured frames with their time.
pub type Frames = Vec<(Instant, Vec<u8>)>;

impl amimesh_sim::pcap::FrameSink for Capture {
    fn frame(&mut self, at: Instant, _channel: u8, _page: u8, psdu: &[u8]) {
        let fcs_len = RadioModel::default().phy.fcs_len;
        assert!(
            amimesh_sim::pcap::fcs_matches(psdu, fcs_len),
            "bad FCS on air"
        );
        let mpdu = &psdu[..psdu.len() - usize::from(fcs_len)];
        self.0.borrow_mut().push((at, mpdu.to_vec()));
    }
    fn finish(&mut self) -> amimesh_sim::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Secured data frames from `src` to `dst`, in order.
    pub fn secured_data(
        &self,
        src: amimesh_core::ExtAddr,
        dst: amimesh_core::ExtAddr,
    ) -> Vec<(Instant, Vec<u8>)> {
        use amimesh_core::LinkAddr;
        use amimesh_mac::wire::frame::{Frame, FrameType};
        self.0
            .borrow()
            .iter()
            .filter(|(_, f)| {
                Frame::new_checked(&f[..]).is_ok_and(|v| {
                    v.frame_type() == FrameType::Data
                        && v.security_enabled()
                        && v.src_addr() == LinkAddr::Extended(src)
                        && v.dst_addr() == LinkAddr::Extended(dst)
                })
            })
            .cloned()
            .collect()
    }
}
