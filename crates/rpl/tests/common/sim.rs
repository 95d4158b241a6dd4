//! A small deterministic multi-node harness: nodes, a virtual clock, broadcast and unicast
//! delivery over a seeded lossy link model with MAC-style retries, and multi-hop forwarding
//! through the nodes' own routing decisions (next hop, source routes, RPL option checks).
//!
//! Each step advances the clock to the earliest of all pending deliveries and node timeouts,
//! delivers or fires, then drains every node (transmits, then events). Everything random comes
//! from one seed, so the same seed gives the same trace.

use amimesh_core::{Duration, Instant, Rng};
use amimesh_rpl::wire::{Mop, code_name};
use amimesh_rpl::{Config, Event, HbhVerdict, NextHop, RplNode};
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv6Addr;

pub const MAC_ATTEMPTS: usize = 4;

#[derive(Debug, Clone)]
struct Delivery {
    to: usize,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    code: u8,
    body: Vec<u8>,
}

pub struct Sim {
    pub now: Instant,
    pub nodes: Vec<RplNode>,
    pub configs: Vec<Config>,
    pub alive: Vec<bool>,
    pub adj: Vec<Vec<usize>>,
    pub loss: f64,
    pub ll: Vec<Ipv6Addr>,
    pub global: Vec<Ipv6Addr>,
    by_ll: HashMap<Ipv6Addr, usize>,
    by_global: HashMap<Ipv6Addr, usize>,
    rng: Rng,
    queue: BTreeMap<(Instant, u64), Delivery>,
    seq: u64,
    pub trace: Vec<String>,
    pub delivered: u64,
    pub lost: u64,
    pub data_dropped: u64,
    pub steps: u64,
}

pub fn ll(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0x00ff, 0xfe00, i as u16 + 1)
}
pub fn global(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0x00ff, 0xfe00, i as u16 + 1)
}

/// Test parameters: fast Trickle, short lifetimes.
pub fn tune(mut c: Config) -> Config {
    c.dio_interval_min = 7;
    c.dio_interval_doublings = 10;
    c.dio_redundancy_constant = 3;
    c.default_lifetime = 60;
    c.lifetime_unit = 1;
    c.dao_ack_timeout = Duration::from_secs(2);
    c.dis_interval = Duration::from_secs(2);
    c.route_capacity = 256;
    c.neighbour_capacity = 32;
    c.tx_queue_capacity = 256;
    c.event_queue_capacity = 64;
    c.dao_burst = 200;
    c.link_failures_to_drop = 3;
    c
}

impl Sim {
    /// Node 0 is the root; `adj` lists the links (symmetric). MRHOF.
    pub fn new(seed: u64, adj: Vec<Vec<usize>>, mop: Mop, loss: f64) -> Self {
        Self::new_with_ocp(seed, adj, mop, loss, 1)
    }

    /// As [`Sim::new`] with the root advertising objective code point `ocp`.
    pub fn new_with_ocp(seed: u64, adj: Vec<Vec<usize>>, mop: Mop, loss: f64, ocp: u16) -> Self {
        let n = adj.len();
        let mut rng = Rng::new(seed);
        let mut configs = Vec::new();
        for i in 0..n {
            let s = rng.u64();
            let c = if i == 0 {
                Config {
                    ocp,
                    ..Config::root(s, ll(0), global(0), mop)
                }
            } else {
                Config::router(s, ll(i))
            };
            configs.push(tune(c));
        }
        let nodes = configs.iter().cloned().map(RplNode::new).collect();
        let lls: Vec<_> = (0..n).map(ll).collect();
        let gs: Vec<_> = (0..n).map(global).collect();
        let mut s = Sim {
            now: Instant::ZERO,
            nodes,
            configs,
            alive: vec![true; n],
            adj,
            loss,
            by_ll: lls.iter().enumerate().map(|(i, a)| (*a, i)).collect(),
            by_global: gs.iter().enumerate().map(|(i, a)| (*a, i)).collect(),
            ll: lls,
            global: gs,
            rng,
            queue: BTreeMap::new(),
            seq: 0,
            trace: Vec::new(),
            delivered: 0,
            lost: 0,
            data_dropped: 0,
            steps: 0,
        };
        for node in &mut s.nodes {
            node.start(Instant::ZERO);
        }
        s.drain_all();
        s
    }

    fn latency(&mut self) -> Duration {
        Duration::from_micros(2_000 + self.rng.range(0, 3_000))
    }

    fn linked(&self, a: usize, b: usize) -> bool {
        self.alive[a] && self.alive[b] && self.adj[a].contains(&b)
    }

    /// One unicast hop with MAC retries; `false` if every attempt was lost.
    fn hop(&mut self, a: usize, b: usize) -> bool {
        if !self.linked(a, b) {
            return false;
        }
        for _ in 0..MAC_ATTEMPTS {
            if !self.rng.chance(self.loss) {
                return true;
            }
        }
        false
    }

    fn schedule(&mut self, at: Instant, d: Delivery) {
        self.seq += 1;
        self.queue.insert((at, self.seq), d);
    }

    fn send(
        &mut self,
        from: usize,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        code: u8,
        body: Vec<u8>,
    ) -> Vec<usize> {
        let mut failed_at = Vec::new();
        if dst.is_multicast() {
            for j in self.adj[from].clone() {
                if !self.alive[j] {
                    continue;
                }
                if self.rng.chance(self.loss) {
                    self.lost += 1;
                    continue;
                }
                let at = self.now + self.latency();
                self.schedule(
                    at,
                    Delivery {
                        to: j,
                        src,
                        dst,
                        code,
                        body: body.clone(),
                    },
                );
            }
            return failed_at;
        }
        if let Some(&j) = self.by_ll.get(&dst) {
            if self.hop(from, j) {
                let at = self.now + self.latency();
                self.schedule(
                    at,
                    Delivery {
                        to: j,
                        src,
                        dst,
                        code,
                        body,
                    },
                );
            } else {
                self.lost += 1;
                self.nodes[from].handle_link_failure(self.now, dst);
                failed_at.push(from);
            }
            return failed_at;
        }
        // Multi-hop: follow each node's routing decision, validating the RPL option per hop.
        let mut cur = from;
        let mut latency = Duration::ZERO;
        let mut hbh = self.nodes[from].hbh_option(&dst);
        for _ in 0..64 {
            if self.global[cur] == dst {
                let at = self.now + latency + self.latency();
                self.schedule(
                    at,
                    Delivery {
                        to: cur,
                        src,
                        dst,
                        code,
                        body,
                    },
                );
                return failed_at;
            }
            if cur != from {
                match self.nodes[cur].check_hbh(self.now, &dst, &mut hbh) {
                    HbhVerdict::Forward => {}
                    _ => {
                        self.data_dropped += 1;
                        failed_at.push(cur);
                        return failed_at;
                    }
                }
            }
            match self.nodes[cur].next_hop(&dst) {
                Some(NextHop::Neighbour(n)) => {
                    let Some(&j) = self.by_ll.get(&n) else {
                        self.data_dropped += 1;
                        return failed_at;
                    };
                    if !self.hop(cur, j) {
                        self.lost += 1;
                        self.nodes[cur].handle_link_failure(self.now, n);
                        failed_at.push(cur);
                        return failed_at;
                    }
                    latency += self.latency();
                    cur = j;
                }
                Some(NextHop::SourceRoute) => {
                    let mut path = [Ipv6Addr::UNSPECIFIED; 64];
                    let Ok(k) = self.nodes[cur].source_route(&dst, &mut path) else {
                        self.data_dropped += 1;
                        return failed_at;
                    };
                    hbh.down = true;
                    for h in &path[..k] {
                        let Some(&j) = self.by_global.get(h) else {
                            self.data_dropped += 1;
                            return failed_at;
                        };
                        if !self.hop(cur, j) {
                            self.lost += 1;
                            self.data_dropped += 1;
                            return failed_at;
                        }
                        latency += self.latency();
                        cur = j;
                    }
                }
                Some(NextHop::Local) => {
                    let at = self.now + latency;
                    self.schedule(
                        at,
                        Delivery {
                            to: cur,
                            src,
                            dst,
                            code,
                            body,
                        },
                    );
                    return failed_at;
                }
                None => {
                    self.data_dropped += 1;
                    return failed_at;
                }
            }
        }
        self.data_dropped += 1;
        failed_at
    }

    fn drain(&mut self, i: usize) {
        let mut buf = vec![0u8; 1280];
        let mut todo = vec![i];
        while let Some(i) = todo.pop() {
            if !self.alive[i] {
                continue;
            }
            while let Some(tx) = self.nodes[i].poll_transmit(self.now, &mut buf) {
                let body = buf[..tx.len].to_vec();
                let again = self.send(i, tx.src, tx.dst, tx.code, body);
                todo.extend(again);
            }
            while let Some(e) = self.nodes[i].poll_event() {
                self.trace.push(format!(
                    "{} n{i} {}",
                    self.now.total_micros(),
                    fmt_event(&e)
                ));
            }
        }
    }

    fn drain_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.drain(i);
        }
    }

    /// One step; `false` when nothing is left to do.
    pub fn step(&mut self) -> bool {
        let timer = (0..self.nodes.len())
            .filter(|i| self.alive[*i])
            .filter_map(|i| self.nodes[i].poll_timeout())
            .min();
        let msg = self.queue.keys().next().map(|k| k.0);
        let t = match (timer, msg) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => return false,
            },
        };
        self.steps += 1;
        self.now = self.now.max(t);
        if msg == Some(t) {
            let (_, d) = self.queue.pop_first().unwrap();
            if self.alive[d.to] {
                self.delivered += 1;
                self.trace.push(format!(
                    "{} n{} <- {} {}",
                    self.now.total_micros(),
                    d.to,
                    d.src,
                    code_name(d.code)
                ));
                self.nodes[d.to].handle_message(self.now, d.src, d.dst, d.code, &d.body);
                self.drain(d.to);
            }
        } else {
            for i in 0..self.nodes.len() {
                if self.alive[i] && self.nodes[i].poll_timeout().is_some_and(|x| x <= self.now) {
                    self.nodes[i].handle_timeout(self.now);
                    self.drain(i);
                }
            }
        }
        true
    }

    /// Runs until `until` (virtual), bounded by `max_steps` (fails on livelock).
    pub fn run_until(&mut self, until: Instant, max_steps: u64) {
        let start = self.steps;
        while self.now < until {
            let next_timer = (0..self.nodes.len())
                .filter(|i| self.alive[*i])
                .filter_map(|i| self.nodes[i].poll_timeout())
                .min();
            let next_msg = self.queue.keys().next().map(|k| k.0);
            let next = match (next_timer, next_msg) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(Instant::MAX),
            };
            if next > until {
                self.now = until;
                break;
            }
            assert!(self.step());
            assert!(
                self.steps - start < max_steps,
                "livelock: {max_steps} steps before {until}"
            );
        }
    }

    pub fn run_for(&mut self, d: Duration, max_steps: u64) {
        let until = self.now + d;
        self.run_until(until, max_steps);
    }

    /// Runs until `cond` holds (checked every virtual second) or `limit` passes.
    pub fn run_until_cond(
        &mut self,
        limit: Duration,
        max_steps: u64,
        cond: impl Fn(&Sim) -> bool,
    ) -> bool {
        let end = self.now + limit;
        while self.now < end {
            self.run_for(Duration::from_secs(1), max_steps);
            if cond(self) {
                return true;
            }
        }
        false
    }

    /// The link layer of node `i` now rates its link to node `j` at `etx` (×128).
    pub fn set_etx(&mut self, i: usize, j: usize, etx: u16) {
        let to = self.ll[j];
        self.nodes[i].set_link_etx(self.now, to, etx);
        self.trace
            .push(format!("{} n{i} etx n{j} {etx}", self.now.total_micros()));
        self.drain(i);
    }

    /// Hands node `i` a multicast DIS from an outside node (its Trickle timer resets).
    pub fn solicit(&mut self, i: usize) {
        let from = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xdead);
        let all = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x1a);
        self.nodes[i].handle_message(self.now, from, all, amimesh_rpl::wire::code::DIS, &[0, 0]);
        self.drain(i);
    }

    /// Two nodes that are each other's preferred parent, if any.
    pub fn mutual_parents(&self) -> Option<(usize, usize)> {
        for (i, n) in self.nodes.iter().enumerate() {
            let Some(&j) = n.preferred_parent().and_then(|p| self.by_ll.get(&p)) else {
                continue;
            };
            if self.nodes[j].preferred_parent() == Some(self.ll[i]) {
                return Some((i, j));
            }
        }
        None
    }

    pub fn kill(&mut self, i: usize) {
        self.alive[i] = false;
        self.trace
            .push(format!("{} n{i} killed", self.now.total_micros()));
    }

    pub fn reboot(&mut self, i: usize) {
        self.nodes[i] = RplNode::new(self.configs[i].clone());
        self.nodes[i].start(self.now);
        self.alive[i] = true;
        self.trace
            .push(format!("{} n{i} rebooted", self.now.total_micros()));
        self.drain(i);
    }

    fn idx_ll(&self, a: &Ipv6Addr) -> Option<usize> {
        self.by_ll.get(a).copied()
    }

    /// Every live node joined, each rank above its parent's, parents adjacent and alive, and
    /// following parents reaches the root.
    pub fn check_tree(&self) -> Result<(), String> {
        let n = self.nodes.len();
        for i in 1..n {
            if !self.alive[i] {
                continue;
            }
            let node = &self.nodes[i];
            if !node.is_joined() {
                return Err(format!("n{i} not joined"));
            }
            let p = node
                .preferred_parent()
                .and_then(|a| self.idx_ll(&a))
                .ok_or(format!("n{i} parent unknown"))?;
            if !self.linked(i, p) {
                return Err(format!("n{i} parent n{p} not a live neighbour"));
            }
            if node.rank() <= self.nodes[p].rank() {
                return Err(format!(
                    "n{i} rank {} <= parent n{p} rank {}",
                    node.rank(),
                    self.nodes[p].rank()
                ));
            }
            let mut cur = i;
            let mut steps = 0;
            while cur != 0 {
                cur = self.nodes[cur]
                    .preferred_parent()
                    .and_then(|a| self.idx_ll(&a))
                    .ok_or(format!("n{cur} no parent"))?;
                steps += 1;
                if steps > n {
                    return Err(format!("n{i}: parent loop"));
                }
            }
        }
        Ok(())
    }

    /// From the root, every live node is reachable downward over live links.
    pub fn check_downward(&self) -> Result<(), String> {
        let n = self.nodes.len();
        let root = &self.nodes[0];
        let storing = root.mop().is_some_and(|m| m.is_storing());
        for t in 1..n {
            if !self.alive[t] {
                continue;
            }
            let dst = self.global[t];
            if storing {
                let mut cur = 0;
                let mut steps = 0;
                while cur != t {
                    match self.nodes[cur].next_hop(&dst) {
                        Some(NextHop::Neighbour(a)) => {
                            let j = self.idx_ll(&a).ok_or(format!("n{t}: unknown hop {a}"))?;
                            if !self.linked(cur, j) {
                                return Err(format!("n{t}: hop n{cur}->n{j} not a live link"));
                            }
                            cur = j;
                        }
                        other => {
                            return Err(format!("n{t}: n{cur} has no downward route ({other:?})"));
                        }
                    }
                    steps += 1;
                    if steps > n {
                        return Err(format!("n{t}: downward loop"));
                    }
                }
            } else {
                let mut path = [Ipv6Addr::UNSPECIFIED; 64];
                let k = root
                    .source_route(&dst, &mut path)
                    .map_err(|e| format!("n{t}: {e}"))?;
                let mut cur = 0;
                for h in &path[..k] {
                    let j = *self
                        .by_global
                        .get(h)
                        .ok_or(format!("n{t}: unknown hop {h}"))?;
                    if !self.linked(cur, j) {
                        return Err(format!(
                            "n{t}: source route hop n{cur}->n{j} not a live link"
                        ));
                    }
                    cur = j;
                }
                if cur != t {
                    return Err(format!("n{t}: source route ends at n{cur}"));
                }
                // The SRH for it builds and decodes to the same hops.
                let mut srh = [0u8; 1024];
                let (first, len) = root
                    .build_srh(&dst, 58, &mut srh)
                    .map_err(|e| format!("n{t}: srh {e}"))?;
                assert_eq!(first, path[0]);
                if k > 1 {
                    let s = amimesh_rpl::wire::Srh::new_checked(&srh[..len]).unwrap();
                    assert_eq!(s.address_count(), Some(k - 1));
                    assert_eq!(s.address(k - 1, &first), Some(dst));
                }
            }
        }
        Ok(())
    }

    /// The root's route view lists every live node, with its parent as default router, and
    /// the root's own routing table reaches every live node.
    pub fn check_route_view(&self) -> Result<(), String> {
        let views = self.nodes[0].route_views().ok_or("no route view at root")?;
        let root_view = &views[0];
        for t in 1..self.nodes.len() {
            if !self.alive[t] {
                continue;
            }
            let v = views
                .iter()
                .find(|v| v.device == self.global[t])
                .ok_or(format!("n{t} missing from the route view"))?;
            let p = self.nodes[t]
                .preferred_parent()
                .and_then(|a| self.idx_ll(&a))
                .unwrap();
            if v.default_routers != [self.global[p]] {
                return Err(format!(
                    "n{t}: default routers {:?}, parent n{p}",
                    v.default_routers
                ));
            }
            if !root_view.routes.iter().any(|(d, _)| *d == self.global[t]) {
                return Err(format!("n{t} missing from the root's routing table"));
            }
        }
        Ok(())
    }

    pub fn converged(&self) -> bool {
        self.check_tree().is_ok() && self.check_downward().is_ok()
    }
}

pub fn fmt_event(e: &Event) -> String {
    format!("{e:?}")
}

// ------------------------------------------------------------------ topologies

pub fn line(n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| {
            let mut v = Vec::new();
            if i > 0 {
                v.push(i - 1);
            }
            if i + 1 < n {
                v.push(i + 1);
            }
            v
        })
        .collect()
}

pub fn star(n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| if i == 0 { (1..n).collect() } else { vec![0] })
        .collect()
}

pub fn grid(w: usize, h: usize) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if x + 1 < w {
                adj[i].push(i + 1);
                adj[i + 1].push(i);
            }
            if y + 1 < h {
                adj[i].push(i + w);
                adj[i + w].push(i);
            }
        }
    }
    adj
}

fn connected(adj: &[Vec<usize>]) -> bool {
    let mut seen = vec![false; adj.len()];
    let mut stack = vec![0];
    seen[0] = true;
    while let Some(i) = stack.pop() {
        for &j in &adj[i] {
            if !seen[j] {
                seen[j] = true;
                stack.push(j);
            }
        }
    }
    seen.iter().all(|s| *s)
}

/// `n` nodes uniform in the unit square, linked within `radius`; re-drawn (deterministically)
/// until connected.
pub fn random_geometric(seed: u64, n: usize, radius: f64) -> Vec<Vec<usize>> {
    let mut rng = Rng::new(seed);
    loop {
        let pts: Vec<(f64, f64)> = (0..n).map(|_| (rng.unit(), rng.unit())).collect();
        let mut adj = vec![Vec::new(); n];
        for i in 0..n {
            for j in i + 1..n {
                let (dx, dy) = (pts[i].0 - pts[j].0, pts[i].1 - pts[j].1);
                if dx * dx + dy * dy <= radius * radius {
                    adj[i].push(j);
                    adj[j].push(i);
                }
            }
        }
        if connected(&adj) {
            return adj;
        }
    }
}
