//! A PAA and several PaCs in memory with a virtual clock and a seeded lossy link (the
//! `Pair::step`/`drive` pattern of quinn-proto's tests), plus a raw-IPv6 pcap writer.

#![allow(dead_code)]

use amimesh_core::{Duration, Instant, Key128, Rng};
use amimesh_pana::eap_psk::identity;
use amimesh_pana::wire::{
    AvpCode, AvpRepr, Flags, Message, MessageBuilder, MessageRepr, MessageType,
};
use amimesh_pana::{
    AgentConfig, AgentEvent, ClientConfig, ClientEvent, MemoryStore, PanaAgent, PanaClient,
};
use amimesh_testkit::{ip, pcap};
use core::net::Ipv6Addr;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub const PAA_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const PRE_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99);
pub const PRE_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x99);
pub const NETWORK_KEY: [u8; 16] = [0xab; 16];

pub fn pac_addr(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x100 + i as u16)
}

pub fn pac_identity(i: usize) -> Vec<u8> {
    format!("meter-{i}@example").into_bytes()
}

pub fn pac_psk(i: usize) -> Key128 {
    Key128::new([0x30 + i as u8; 16])
}

/// One datagram on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub at: Instant,
    pub src: Ipv6Addr,
    pub sport: u16,
    pub dst: Ipv6Addr,
    pub dport: u16,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum To {
    Agent,
    Client(usize),
    /// To the PRE from the PaC (wrap) or from the PAA (unwrap).
    Pre,
}

pub struct Net {
    pub now: Instant,
    pub agent: PanaAgent<MemoryStore>,
    pub clients: Vec<PanaClient>,
    /// Clients whose traffic goes through the PRE.
    pub relayed: Vec<bool>,
    inflight: Vec<(Instant, u64, To, Datagram)>,
    order: u64,
    link: Rng,
    pub loss: f64,
    pub dup: f64,
    pub latency: Duration,
    pub crng: ChaCha20Rng,
    pub client_events: Vec<Vec<ClientEvent>>,
    pub agent_events: Vec<AgentEvent>,
    pub wire: Vec<Datagram>,
    pub trace: Vec<String>,
    /// Drop everything (PAA unreachable).
    pub blackhole: bool,
}

pub fn agent_config(seed: u64) -> AgentConfig {
    let mut c = AgentConfig::new(identity(b"paa.example").unwrap());
    c.seed = seed;
    c.session_lifetime = Duration::from_secs(600);
    c
}

pub fn client_config(i: usize, seed: u64) -> ClientConfig {
    let mut c = ClientConfig::new(identity(&pac_identity(i)).unwrap(), pac_psk(i), PAA_ADDR);
    c.seed = seed.wrapping_mul(31).wrapping_add(i as u64);
    c
}

impl Net {
    pub fn new(n: usize, seed: u64) -> Self {
        Self::with(
            agent_config(seed),
            (0..n).map(|i| client_config(i, seed)).collect(),
            seed,
        )
    }

    pub fn with(ac: AgentConfig, ccs: Vec<ClientConfig>, seed: u64) -> Self {
        let mut store = MemoryStore::with_capacity(64);
        for i in 0..ccs.len() {
            store.insert(&pac_identity(i), pac_psk(i)).unwrap();
        }
        let mut agent = PanaAgent::new(ac, store);
        agent.set_network_key(Key128::new(NETWORK_KEY), 1).unwrap();
        let n = ccs.len();
        Net {
            now: Instant::ZERO,
            agent,
            clients: ccs.into_iter().map(PanaClient::new).collect(),
            relayed: vec![false; n],
            inflight: Vec::new(),
            order: 0,
            link: Rng::new(seed ^ 0x5eed),
            loss: 0.0,
            dup: 0.0,
            latency: Duration::from_millis(10),
            crng: ChaCha20Rng::seed_from_u64(seed),
            client_events: vec![Vec::new(); n],
            agent_events: Vec::new(),
            wire: Vec::new(),
            trace: Vec::new(),
            blackhole: false,
        }
    }

    fn put(&mut self, to: To, d: Datagram) {
        self.wire.push(d.clone());
        if self.blackhole || self.link.chance(self.loss) {
            self.trace
                .push(format!("{} lost {:?}", self.now, summary(&d.bytes)));
            return;
        }
        let copies = if self.link.chance(self.dup) { 2 } else { 1 };
        for c in 0..copies {
            let at = self.now + self.latency + Duration::from_millis(c * 3);
            self.order += 1;
            self.inflight.push((at, self.order, to.clone(), d.clone()));
        }
    }

    /// Drains every output of every node (the drain rule: transmits, then events).
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
                let to = if t.dst == PRE_ADDR {
                    To::Pre
                } else {
                    match (0..self.clients.len()).find(|i| pac_addr(*i) == t.dst) {
                        Some(i) => To::Client(i),
                        None => continue,
                    }
                };
                self.put(to, d);
            }
            while let Some(e) = self.agent.poll_event() {
                self.trace.push(format!("{} paa {e:?}", self.now));
                self.agent_events.push(e);
            }
            for i in 0..self.clients.len() {
                while let Some(t) = self.clients[i].poll_transmit(self.now, &mut buf) {
                    any = true;
                    let relayed = self.relayed[i];
                    let d = Datagram {
                        at: self.now,
                        src: pac_addr(i),
                        sport: 716,
                        dst: if relayed { PRE_LL } else { t.dst },
                        dport: t.dst_port,
                        bytes: buf[..t.len].to_vec(),
                    };
                    self.put(if relayed { To::Pre } else { To::Agent }, d);
                }
                while let Some(e) = self.clients[i].poll_event() {
                    self.trace.push(format!("{} pac{i} {e:?}", self.now));
                    self.client_events[i].push(e);
                }
            }
            if !any {
                break;
            }
        }
    }

    fn next_time(&self) -> Option<Instant> {
        let mut t = self.inflight.iter().map(|(at, ..)| *at).min();
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        consider(self.agent.poll_timeout());
        for c in &self.clients {
            consider(c.poll_timeout());
        }
        t
    }

    /// One step: advance to the earliest event, deliver or fire. `false` when nothing is left.
    pub fn step(&mut self) -> bool {
        self.drain();
        let Some(t) = self.next_time() else {
            return false;
        };
        self.now = self.now.max(t);
        let now = self.now;
        let due: Vec<_> = {
            let mut due: Vec<_> = self
                .inflight
                .iter()
                .filter(|(at, ..)| *at <= now)
                .cloned()
                .collect();
            due.sort_by_key(|(at, o, ..)| (*at, *o));
            self.inflight.retain(|(at, ..)| *at > now);
            due
        };
        for (_, _, to, d) in due {
            self.deliver(to, d);
            self.drain();
        }
        self.agent.handle_timeout(now);
        for c in &mut self.clients {
            c.handle_timeout(now);
        }
        self.drain();
        true
    }

    fn deliver(&mut self, to: To, d: Datagram) {
        self.trace
            .push(format!("{} deliver {}", self.now, summary(&d.bytes)));
        match to {
            To::Agent => {
                self.agent
                    .handle_datagram(self.now, d.src, d.sport, &d.bytes, &mut self.crng)
            }
            To::Client(i) => self.clients[i].handle_datagram(self.now, &d.bytes, &mut self.crng),
            To::Pre => self.pre(d),
        }
    }

    /// A minimal stateless PRE (RFC 6345 §3) for the PAA side of relaying.
    fn pre(&mut self, d: Datagram) {
        if d.src == PAA_ADDR {
            let m = Message::new_checked(&d.bytes[..]).unwrap();
            let r = MessageRepr::parse(&m).unwrap();
            assert_eq!(r.message_type, MessageType::Relay);
            let info = r.find(AvpCode::PacInformation).unwrap().value;
            let inner = r.find(AvpCode::RelayedMessage).unwrap().value.to_vec();
            let pac = Ipv6Addr::from(<[u8; 16]>::try_from(&info[..16]).unwrap());
            let port = u16::from_be_bytes([info[16], info[17]]);
            let i = (0..self.clients.len())
                .find(|i| pac_addr(*i) == pac)
                .unwrap();
            let out = Datagram {
                at: self.now,
                src: PRE_LL,
                sport: 716,
                dst: pac,
                dport: port,
                bytes: inner,
            };
            self.put(To::Client(i), out);
        } else {
            let mut info = [0u8; 18];
            info[..16].copy_from_slice(&d.src.octets());
            info[16..].copy_from_slice(&d.sport.to_be_bytes());
            let mut buf = [0u8; 1500];
            let mut b =
                MessageBuilder::new(&mut buf, MessageType::Relay, Flags::NONE, 0, 0).unwrap();
            b.push(&AvpRepr::new(AvpCode::PacInformation, &info))
                .unwrap();
            b.push(&AvpRepr::new(AvpCode::RelayedMessage, &d.bytes))
                .unwrap();
            let n = b.finish();
            let out = Datagram {
                at: self.now,
                src: PRE_ADDR,
                sport: 716,
                dst: PAA_ADDR,
                dport: 716,
                bytes: buf[..n].to_vec(),
            };
            self.put(To::Agent, out);
        }
    }

    /// Steps until `done` holds; panics after `max_steps` (livelock guard).
    pub fn drive_until(&mut self, max_steps: usize, mut done: impl FnMut(&Net) -> bool) {
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
            "condition not reached; trace tail:\n{}",
            self.trace_tail(40)
        );
    }

    /// Runs until `t`, firing timers on the way.
    pub fn run_until(&mut self, t: Instant) {
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
        self.agent.handle_timeout(self.now);
        for c in &mut self.clients {
            c.handle_timeout(self.now);
        }
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
    }

    pub fn authenticated(&self, i: usize) -> bool {
        self.client_events[i]
            .iter()
            .any(|e| matches!(e, ClientEvent::Authenticated { .. }))
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
    let hop_limit = 64;
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
