//! PaCs ↔ one PRE ↔ one PAA in memory, with a virtual clock and a seeded lossy link per hop
//! (the `step`/`drive` pattern of quinn-proto's test `Pair`), plus a raw-IPv6 pcap writer.
//!
//! Hop 1 is the mesh link between the PaCs and the PRE (link-local addresses); hop 2 is the
//! uplink between the PRE and the PAA (global addresses). Each hop has its own loss and
//! duplication probabilities.

#![allow(dead_code)]

use amimesh_core::{Duration, Instant, Key128, Rng};
use amimesh_pana::eap_psk::identity;
use amimesh_pana::wire::{Message, MessageRepr};
use amimesh_pana::{
    AgentConfig, AgentEvent, ClientConfig, ClientEvent, MemoryStore, PanaAgent, PanaClient,
};
use amimesh_pana_relay::{PanaRelay, RelayConfig};
use amimesh_testkit::{ip, pcap};
use core::net::Ipv6Addr;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub const PAA_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// The PRE's uplink address (source of PANA-Relay messages to the PAA).
pub const PRE_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99);
/// The PRE's link-local address (what the PaCs take for the PAA).
pub const PRE_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x99);
pub const NETWORK_KEY: [u8; 16] = [0xab; 16];

/// The PRE used in these tests: 64 neighbour buckets, 64 queued messages.
pub type Pre = PanaRelay<64, 64>;

pub fn pac_addr(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0212, 0x4b00, (i >> 16) as u16, i as u16)
}

pub fn pac_index(a: Ipv6Addr) -> Option<usize> {
    let s = a.segments();
    (s[..6] == [0xfe80, 0, 0, 0, 0x0212, 0x4b00])
        .then(|| (usize::from(s[6]) << 16) | usize::from(s[7]))
}

pub fn pac_identity(i: usize) -> Vec<u8> {
    format!("meter-{i}@example").into_bytes()
}

pub fn pac_psk(i: usize) -> Key128 {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&(0x5053_4b00_0000_0000u64 | i as u64).to_be_bytes());
    k[8..].copy_from_slice(&[0xc3; 8]);
    Key128::new(k)
}

/// A callback that inspects the PRE.
pub type Probe = Box<dyn FnMut(&Pre)>;

/// One datagram on a wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub at: Instant,
    pub src: Ipv6Addr,
    pub sport: u16,
    pub dst: Ipv6Addr,
    pub dport: u16,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Agent,
    Client(usize),
    Pre,
}

/// Loss and duplication of one hop.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hop {
    pub loss: f64,
    pub dup: f64,
}

pub struct Net {
    pub now: Instant,
    pub agent: PanaAgent<MemoryStore>,
    pub pre: Pre,
    pub clients: Vec<PanaClient>,
    inflight: Vec<(Instant, u64, To, Datagram)>,
    order: u64,
    link: Rng,
    /// PaC ↔ PRE.
    pub mesh: Hop,
    /// PRE ↔ PAA.
    pub uplink: Hop,
    pub latency: Duration,
    pub crng: ChaCha20Rng,
    pub client_events: Vec<Vec<ClientEvent>>,
    pub agent_events: Vec<AgentEvent>,
    /// Every datagram sent on the mesh hop.
    pub mesh_wire: Vec<Datagram>,
    /// Every datagram sent on the uplink hop.
    pub uplink_wire: Vec<Datagram>,
    pub trace: Vec<String>,
    /// Called with the PRE after every input, before it is drained (e.g. to inspect it).
    pub pre_probe: Option<Probe>,
    /// Largest session table seen.
    pub max_sessions_seen: usize,
    /// Clients that may have output to drain (so a drain costs O(active), not O(all)).
    dirty: Vec<usize>,
    is_dirty: Vec<bool>,
    /// Each client's `poll_timeout`, refreshed whenever it is drained.
    client_timeout: Vec<Option<Instant>>,
    /// The PAA's `poll_timeout` as of the last `next_time`.
    agent_timeout: Option<Instant>,
}

pub fn agent_config(seed: u64) -> AgentConfig {
    let mut c = AgentConfig::new(identity(b"paa.example").unwrap());
    c.seed = seed;
    c.session_lifetime = Duration::from_secs(600);
    c
}

pub fn client_config(i: usize, seed: u64) -> ClientConfig {
    // The PaC is configured with the PRE's link-local address: it does not know it is relayed.
    let mut c = ClientConfig::new(identity(&pac_identity(i)).unwrap(), pac_psk(i), PRE_LL);
    c.seed = seed.wrapping_mul(31).wrapping_add(i as u64);
    c
}

pub fn relay_config() -> RelayConfig {
    RelayConfig::new(PAA_ADDR)
}

impl Net {
    pub fn new(n: usize, seed: u64) -> Self {
        Self::with(
            agent_config(seed),
            relay_config(),
            (0..n).map(|i| client_config(i, seed)).collect(),
            seed,
        )
    }

    pub fn with(ac: AgentConfig, rc: RelayConfig, ccs: Vec<ClientConfig>, seed: u64) -> Self {
        let mut store = MemoryStore::with_capacity(ccs.len().max(1));
        for i in 0..ccs.len() {
            store.insert(&pac_identity(i), pac_psk(i)).unwrap();
        }
        let mut agent = PanaAgent::new(ac, store);
        agent.set_network_key(Key128::new(NETWORK_KEY), 1).unwrap();
        let n = ccs.len();
        Net {
            now: Instant::ZERO,
            agent,
            pre: PanaRelay::new(rc),
            clients: ccs.into_iter().map(PanaClient::new).collect(),
            inflight: Vec::new(),
            order: 0,
            link: Rng::new(seed ^ 0x5eed),
            mesh: Hop::default(),
            uplink: Hop::default(),
            latency: Duration::from_millis(10),
            crng: ChaCha20Rng::seed_from_u64(seed),
            client_events: vec![Vec::new(); n],
            agent_events: Vec::new(),
            mesh_wire: Vec::new(),
            uplink_wire: Vec::new(),
            trace: Vec::new(),
            pre_probe: None,
            max_sessions_seen: 0,
            dirty: (0..n).collect(),
            is_dirty: vec![true; n],
            client_timeout: vec![None; n],
            agent_timeout: None,
        }
    }

    /// Every datagram of both hops in time order.
    pub fn wire(&self) -> Vec<Datagram> {
        let mut all: Vec<_> = self
            .mesh_wire
            .iter()
            .chain(self.uplink_wire.iter())
            .cloned()
            .collect();
        all.sort_by_key(|d| d.at);
        all
    }

    fn put(&mut self, to: To, d: Datagram) {
        let hop = if to == To::Agent || d.src == PAA_ADDR {
            self.uplink_wire.push(d.clone());
            self.uplink
        } else {
            self.mesh_wire.push(d.clone());
            self.mesh
        };
        if self.link.chance(hop.loss) {
            self.trace
                .push(format!("{} lost {}", self.now, summary(&d.bytes)));
            return;
        }
        let copies = if self.link.chance(hop.dup) { 2 } else { 1 };
        for c in 0..copies {
            let at = self.now + self.latency + Duration::from_millis(c * 3);
            self.order += 1;
            self.inflight.push((at, self.order, to, d.clone()));
        }
    }

    /// Drains every output of every node (transmits, then events).
    pub fn drain(&mut self) {
        let mut buf = [0u8; 1500];
        loop {
            let mut any = false;
            while let Some(t) = self.agent.poll_transmit(self.now, &mut buf) {
                any = true;
                let d = Datagram {
                    at: self.now,
                    src: PAA_ADDR,
                    sport: 716,
                    dst: t.dst,
                    dport: t.dst_port,
                    bytes: buf[..t.len].to_vec(),
                };
                // Only the PRE is reachable from the PAA: a datagram to anyone else is lost.
                let to = if t.dst == PRE_ADDR {
                    To::Pre
                } else {
                    To::Agent
                };
                if to == To::Agent {
                    self.trace
                        .push(format!("{} PAA sent to {}", self.now, t.dst));
                    self.uplink_wire.push(d);
                    continue;
                }
                self.put(to, d);
            }
            while let Some(e) = self.agent.poll_event() {
                self.trace.push(format!("{} paa {e:?}", self.now));
                self.agent_events.push(e);
            }
            while let Some(t) = self.pre.poll_transmit(self.now, &mut buf) {
                any = true;
                let to_paa = t.dst == PAA_ADDR;
                let d = Datagram {
                    at: self.now,
                    src: if to_paa { PRE_ADDR } else { PRE_LL },
                    sport: t.src_port,
                    dst: t.dst,
                    dport: t.dst_port,
                    bytes: buf[..t.len].to_vec(),
                };
                let to = if to_paa {
                    To::Agent
                } else {
                    match pac_index(t.dst).filter(|i| *i < self.clients.len()) {
                        Some(i) => To::Client(i),
                        None => continue,
                    }
                };
                self.put(to, d);
            }
            let dirty = std::mem::take(&mut self.dirty);
            for &i in &dirty {
                self.is_dirty[i] = false;
            }
            for i in dirty {
                while let Some(t) = self.clients[i].poll_transmit(self.now, &mut buf) {
                    any = true;
                    let d = Datagram {
                        at: self.now,
                        src: pac_addr(i),
                        sport: 716,
                        dst: t.dst,
                        dport: t.dst_port,
                        bytes: buf[..t.len].to_vec(),
                    };
                    assert_eq!(t.dst, PRE_LL, "a PaC only ever talks to the PRE");
                    self.put(To::Pre, d);
                }
                while let Some(e) = self.clients[i].poll_event() {
                    self.trace.push(format!("{} pac{i} {e:?}", self.now));
                    self.client_events[i].push(e);
                }
                self.client_timeout[i] = self.clients[i].poll_timeout();
            }
            if !any {
                break;
            }
        }
        self.max_sessions_seen = self.max_sessions_seen.max(self.agent.session_count());
    }

    fn mark(&mut self, i: usize) {
        if !self.is_dirty[i] {
            self.is_dirty[i] = true;
            self.dirty.push(i);
        }
    }

    /// Marks every client for draining (after a test called a client command directly).
    pub fn touch_all(&mut self) {
        for i in 0..self.clients.len() {
            self.mark(i);
        }
    }

    fn next_time(&mut self) -> Option<Instant> {
        self.agent_timeout = self.agent.poll_timeout();
        self.inflight
            .iter()
            .map(|(at, ..)| *at)
            .chain(self.agent_timeout)
            .chain(self.pre.poll_timeout())
            .chain(self.client_timeout.iter().flatten().copied())
            .min()
    }

    /// One step: advance to the earliest event, deliver or fire. `false` when nothing is left.
    pub fn step(&mut self) -> bool {
        self.drain();
        let Some(t) = self.next_time() else {
            return false;
        };
        self.now = self.now.max(t);
        let now = self.now;
        let mut due: Vec<_> = self
            .inflight
            .iter()
            .filter(|(at, ..)| *at <= now)
            .cloned()
            .collect();
        due.sort_by_key(|(at, o, ..)| (*at, *o));
        self.inflight.retain(|(at, ..)| *at > now);
        for (_, _, to, d) in due {
            self.deliver(to, d);
            self.drain();
        }
        self.fire_timers();
        self.drain();
        true
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        if self.agent_timeout.is_some_and(|t| t <= now) {
            self.agent.handle_timeout(now);
        }
        if self.pre.poll_timeout().is_some_and(|t| t <= now) {
            self.pre.handle_timeout(now);
            self.probe();
        }
        for i in 0..self.clients.len() {
            if self.client_timeout[i].is_some_and(|t| t <= now) {
                self.clients[i].handle_timeout(now);
                self.mark(i);
            }
        }
    }

    fn probe(&mut self) {
        if let Some(p) = self.pre_probe.as_mut() {
            p(&self.pre);
        }
    }

    fn deliver(&mut self, to: To, d: Datagram) {
        self.trace
            .push(format!("{} deliver {}", self.now, summary(&d.bytes)));
        match to {
            To::Agent => {
                self.agent
                    .handle_datagram(self.now, d.src, d.sport, &d.bytes, &mut self.crng)
            }
            To::Client(i) => {
                self.clients[i].handle_datagram(self.now, &d.bytes, &mut self.crng);
                self.mark(i);
            }
            To::Pre => {
                self.pre.handle_datagram(self.now, d.src, d.sport, &d.bytes);
                self.probe();
            }
        }
    }

    /// Steps until `done` holds; panics after `max_steps` (livelock guard).
    pub fn drive_until(&mut self, max_steps: usize, mut done: impl FnMut(&Net) -> bool) {
        self.touch_all();
        for _ in 0..max_steps {
            self.drain();
            if done(self) {
                return;
            }
            if !self.step() {
                break;
            }
        }
        self.drain();
        assert!(
            done(self),
            "condition not reached at {}; trace tail:\n{}",
            self.now,
            self.trace_tail(40)
        );
    }

    /// Runs until `t`, firing timers on the way.
    pub fn run_until(&mut self, t: Instant) {
        self.touch_all();
        loop {
            self.drain();
            match self.next_time() {
                Some(n) if n <= t => {
                    self.step();
                }
                _ => break,
            }
        }
        self.now = self.now.max(t);
        self.agent_timeout = self.agent.poll_timeout();
        self.fire_timers();
        self.drain();
    }

    pub fn trace_tail(&self, n: usize) -> String {
        let s = self.trace.len().saturating_sub(n);
        self.trace[s..].join("\n")
    }

    pub fn start_all(&mut self) {
        for c in &mut self.clients {
            c.start(self.now).unwrap();
        }
        self.touch_all();
    }

    pub fn authenticated(&self, i: usize) -> bool {
        self.client_events[i]
            .iter()
            .any(|e| matches!(e, ClientEvent::Authenticated { .. }))
    }

    pub fn agent_count(&self, f: impl Fn(&AgentEvent) -> bool) -> usize {
        self.agent_events.iter().filter(|e| f(e)).count()
    }
}

/// "PAR[RS] sid seq" for traces.
pub fn summary(b: &[u8]) -> String {
    match Message::new_checked(b).and_then(|m| MessageRepr::parse(&m)) {
        Ok(r) => format!("{r}"),
        Err(e) => format!("malformed {e:?}"),
    }
}

/// IPv6 + UDP headers around a payload, with the UDP checksum over the pseudo-header
/// (RFC 8200 §8.1, RFC 768).
pub fn ipv6_udp(d: &Datagram) -> Vec<u8> {
    let hop_limit = if d.src.is_unicast_link_local() {
        255
    } else {
        64
    };
    ip::udp6(d.src, d.dst, hop_limit, d.sport, d.dport, &d.bytes)
}

/// A pcap file (linktype 229, raw IPv6) of the datagrams, stamped with their send times.
pub fn pcap(ds: &[Datagram]) -> Vec<u8> {
    let records: Vec<_> = ds
        .iter()
        .map(|d| (pcap::timestamp(d.at), ipv6_udp(d)))
        .collect();
    pcap::to_bytes(pcap::LINKTYPE_IPV6, &records)
}
