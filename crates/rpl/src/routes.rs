//! Downward route tables and the route table view.
//!
//! - [`NonStoringTable`]: the root's view of the DODAG built from DAO Transit Information
//!   (target → parent), from which it computes source routes (RFC 6550 §9.7, RFC 6554). Nodes
//!   are stored once in an arena of 28-byte records and found through a sorted 4-byte index,
//!   so a route costs 32 bytes.
//! - [`StoringTable`]: a storing-mode node's per-hop table (target → next hop) (§9.8).
//! - [`RouteView`]: for one node, its address, default router list (upward) and routing table
//!   (downward, every destination below it with the next hop).
//!
//! Both tables are bounded; an insert into a full table fails with [`Error::TableFull`].
//! Lifetimes are whole seconds of the caller's clock.

use alloc::vec::Vec;
use core::net::Ipv6Addr;

use crate::error::{Error, Result};
use crate::lollipop::SequenceCounter;

const NONE: u32 = u32::MAX;
const ROOT: u32 = u32::MAX - 1;
/// Longest source route the table will produce (and loop guard).
pub const MAX_DEPTH: usize = 64;
const F_ROUTE: u8 = 1;

/// One arena record (28 bytes): a node of the DODAG known to the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NsNode {
    addr: [u8; 16],
    /// Parent index, [`ROOT`], [`NONE`]; for a free slot, the next free slot.
    parent: u32,
    /// Expiry (seconds) of this node's own DAO route.
    expires: u32,
    /// References from children.
    refs: u16,
    /// Path Sequence of the route.
    seq: u8,
    flags: u8,
}

/// Whether an update with path sequence `new` replaces one with `old` (RFC 6550 §7.2,
/// §6.7.8): newer, equal (a refresh), or not comparable (two circular values more than
/// SEQUENCE_WINDOW apart, where §7.2 gives no order and the update is taken rather than
/// leaving the route stuck). An older value is refused, on the lollipop stick too: a value
/// on the stick is newer than a circular one only by the §7.2 rules themselves (an
/// originator that restarted from 240 while the route holds a circular value), never
/// because it is on the stick. Taking any stick value let a stale copy of a route (path
/// sequence 251, say) replace the route of the target's current path (252) wherever it was
/// passed on, and most nodes stay on the stick for hours (one increment per parent change).
pub fn accept_sequence(old: u8, new: u8) -> bool {
    let (o, n) = (SequenceCounter(old), SequenceCounter(new));
    old == new || n.is_newer_than(o) || !o.is_comparable(n)
}

/// The root's non-storing route table.
#[derive(Debug, Clone)]
pub struct NonStoringTable {
    root: [u8; 16],
    nodes: Vec<NsNode>,
    /// Indices of live records sorted by address.
    index: Vec<u32>,
    free: u32,
    routes: usize,
    cap: usize,
}

impl NonStoringTable {
    /// A table for root `root` holding at most `cap` nodes (targets and parents).
    pub fn new(root: Ipv6Addr, cap: usize) -> Self {
        NonStoringTable {
            root: root.octets(),
            nodes: Vec::with_capacity(cap),
            index: Vec::with_capacity(cap),
            free: NONE,
            routes: 0,
            cap,
        }
    }

    /// Number of targets with a route.
    pub fn len(&self) -> usize {
        self.routes
    }
    /// `true` if no route is known.
    pub fn is_empty(&self) -> bool {
        self.routes == 0
    }
    /// Capacity (nodes).
    pub fn capacity(&self) -> usize {
        self.cap
    }
    /// Bytes of storage reserved (arena and index), for sizing.
    pub fn reserved_bytes(&self) -> usize {
        self.nodes.capacity() * core::mem::size_of::<NsNode>()
            + self.index.capacity() * core::mem::size_of::<u32>()
    }
    /// Bytes of storage in use.
    pub fn used_bytes(&self) -> usize {
        self.nodes.len() * core::mem::size_of::<NsNode>()
            + self.index.len() * core::mem::size_of::<u32>()
    }

    fn node(&self, i: u32) -> Option<&NsNode> {
        self.nodes.get(usize::try_from(i).ok()?)
    }
    fn node_mut(&mut self, i: u32) -> Option<&mut NsNode> {
        self.nodes.get_mut(usize::try_from(i).ok()?)
    }

    fn search(&self, a: &[u8; 16]) -> core::result::Result<usize, usize> {
        self.index
            .binary_search_by(|i| self.node(*i).map_or([0u8; 16], |n| n.addr).cmp(a))
    }

    fn find(&self, a: &[u8; 16]) -> Option<u32> {
        self.search(a).ok().and_then(|p| self.index.get(p).copied())
    }

    fn find_or_insert(&mut self, a: &[u8; 16]) -> Result<u32> {
        match self.search(a) {
            Ok(p) => self.index.get(p).copied().ok_or(Error::TableFull),
            Err(pos) => {
                let rec = NsNode {
                    addr: *a,
                    parent: NONE,
                    expires: 0,
                    refs: 0,
                    seq: 0,
                    flags: 0,
                };
                let idx = if self.free != NONE {
                    let i = self.free;
                    let next = self.node(i).map_or(NONE, |n| n.parent);
                    self.free = next;
                    if let Some(n) = self.node_mut(i) {
                        *n = rec;
                    }
                    i
                } else {
                    if self.nodes.len() >= self.cap {
                        return Err(Error::TableFull);
                    }
                    self.nodes.push(rec);
                    u32::try_from(self.nodes.len() - 1).map_err(|_| Error::TableFull)?
                };
                self.index.insert(pos, idx);
                Ok(idx)
            }
        }
    }

    /// Frees `i` if it has no route and no children.
    fn gc(&mut self, i: u32) {
        let Some(n) = self.node(i).copied() else {
            return;
        };
        if n.flags & F_ROUTE != 0 || n.refs != 0 {
            return;
        }
        if let Ok(p) = self.search(&n.addr) {
            self.index.remove(p);
        }
        let free = self.free;
        if let Some(r) = self.node_mut(i) {
            r.parent = free;
            r.addr = [0; 16];
        }
        self.free = i;
    }

    fn unref(&mut self, parent: u32) {
        if parent == ROOT || parent == NONE {
            return;
        }
        if let Some(p) = self.node_mut(parent) {
            p.refs = p.refs.saturating_sub(1);
        }
        self.gc(parent);
    }

    /// Records that `target`'s parent is `parent`, with path sequence `seq`, until `expires`
    /// (seconds). Returns `Ok(false)` when the update is stale (older path sequence) or would
    /// create a loop, `Err(TableFull)` when there is no room.
    pub fn update(
        &mut self,
        target: Ipv6Addr,
        parent: Ipv6Addr,
        seq: u8,
        expires: u32,
    ) -> Result<bool> {
        let t = target.octets();
        if t == self.root {
            return Ok(false);
        }
        let p = parent.octets();
        if p == t {
            return Ok(false);
        }
        // Check staleness before inserting anything.
        if let Some(ti) = self.find(&t) {
            if let Some(n) = self.node(ti) {
                if n.flags & F_ROUTE != 0 && !accept_sequence(n.seq, seq) {
                    return Ok(false);
                }
            }
        }
        let pi = if p == self.root {
            ROOT
        } else {
            self.find_or_insert(&p)?
        };
        let ti = match self.find_or_insert(&t) {
            Ok(i) => i,
            Err(e) => {
                if pi != ROOT {
                    self.gc(pi);
                }
                return Err(e);
            }
        };
        // Loop check: walking up from the new parent must not reach the target.
        let mut cur = pi;
        for _ in 0..MAX_DEPTH {
            if cur == ti {
                if pi != ROOT {
                    self.gc(pi);
                }
                self.gc(ti);
                return Ok(false);
            }
            if cur == ROOT || cur == NONE {
                break;
            }
            cur = self.node(cur).map_or(NONE, |n| n.parent);
        }
        let old = self.node(ti).map_or(NONE, |n| n.parent);
        let had = self.node(ti).is_some_and(|n| n.flags & F_ROUTE != 0);
        if old != pi {
            if pi != ROOT {
                if let Some(n) = self.node_mut(pi) {
                    n.refs = n.refs.saturating_add(1);
                }
            }
            if let Some(n) = self.node_mut(ti) {
                n.parent = pi;
            }
            self.unref(old);
        }
        if let Some(n) = self.node_mut(ti) {
            n.seq = seq;
            n.expires = expires;
            n.flags |= F_ROUTE;
        }
        if !had {
            self.routes += 1;
        }
        Ok(true)
    }

    /// The path sequence of `target`'s route, if it has one.
    pub fn path_sequence(&self, target: &Ipv6Addr) -> Option<u8> {
        let n = self.node(self.find(&target.octets())?)?;
        (n.flags & F_ROUTE != 0).then_some(n.seq)
    }

    /// Removes `target`'s route (No-Path DAO or expiry). Returns whether it existed.
    pub fn remove(&mut self, target: &Ipv6Addr) -> bool {
        let Some(ti) = self.find(&target.octets()) else {
            return false;
        };
        let Some(n) = self.node(ti).copied() else {
            return false;
        };
        if n.flags & F_ROUTE == 0 {
            return false;
        }
        if let Some(r) = self.node_mut(ti) {
            r.flags &= !F_ROUTE;
            r.parent = NONE;
        }
        self.routes = self.routes.saturating_sub(1);
        self.unref(n.parent);
        self.gc(ti);
        true
    }

    /// Removes every route that expired at or before `now_s`; calls `f` for each.
    pub fn expire(&mut self, now_s: u32, mut f: impl FnMut(Ipv6Addr)) {
        let mut i = 0usize;
        while i < self.nodes.len() {
            let n = self.nodes.get(i).copied();
            if let Some(n) = n {
                if n.flags & F_ROUTE != 0 && n.expires <= now_s {
                    let a = Ipv6Addr::from(n.addr);
                    self.remove(&a);
                    f(a);
                }
            }
            i += 1;
        }
    }

    /// The parent recorded for `target`.
    pub fn parent(&self, target: &Ipv6Addr) -> Option<Ipv6Addr> {
        let n = self.node(self.find(&target.octets())?)?;
        if n.flags & F_ROUTE == 0 {
            return None;
        }
        match n.parent {
            ROOT => Some(Ipv6Addr::from(self.root)),
            NONE => None,
            p => self.node(p).map(|x| Ipv6Addr::from(x.addr)),
        }
    }

    /// `true` if `target` has a route.
    pub fn contains(&self, target: &Ipv6Addr) -> bool {
        self.parent(target).is_some()
    }

    /// Writes the source route to `target` into `out` (first hop first, `target` last, root
    /// excluded) and returns its length. Fails with `NoRoute` if a node on the way has no route
    /// of its own or the path is longer than `out` or [`MAX_DEPTH`].
    pub fn source_route(&self, target: &Ipv6Addr, out: &mut [Ipv6Addr]) -> Result<usize> {
        let mut cur = self.find(&target.octets()).ok_or(Error::NoRoute)?;
        let mut n = 0usize;
        let limit = out.len().min(MAX_DEPTH);
        loop {
            let node = self.node(cur).ok_or(Error::NoRoute)?;
            if node.flags & F_ROUTE == 0 || n >= limit {
                return Err(Error::NoRoute);
            }
            if let Some(slot) = out.get_mut(n) {
                *slot = Ipv6Addr::from(node.addr);
            }
            n += 1;
            match node.parent {
                ROOT => break,
                NONE => return Err(Error::NoRoute),
                p => cur = p,
            }
        }
        if let Some(s) = out.get_mut(..n) {
            s.reverse();
        }
        Ok(n)
    }

    /// Every target with a route, with its parent, in address order.
    pub fn iter(&self) -> impl Iterator<Item = (Ipv6Addr, Ipv6Addr)> + '_ {
        self.index.iter().filter_map(move |i| {
            let n = self.node(*i)?;
            if n.flags & F_ROUTE == 0 {
                return None;
            }
            let p = match n.parent {
                ROOT => self.root,
                NONE => return None,
                p => self.node(p)?.addr,
            };
            Some((Ipv6Addr::from(n.addr), Ipv6Addr::from(p)))
        })
    }

    /// The route view of every node below the root, and of the root itself (first).
    pub fn route_views(&self) -> Vec<RouteView> {
        let root = Ipv6Addr::from(self.root);
        let mut views: Vec<RouteView> = Vec::new();
        views.push(RouteView {
            device: root,
            default_routers: Vec::new(),
            routes: Vec::new(),
        });
        for (t, p) in self.iter() {
            views.push(RouteView {
                device: t,
                default_routers: alloc::vec![p],
                routes: Vec::new(),
            });
        }
        // Sorted by device after the root, so lookups can binary-search.
        let mut path = [Ipv6Addr::UNSPECIFIED; MAX_DEPTH];
        for (t, _) in self.iter() {
            let Ok(n) = self.source_route(&t, &mut path) else {
                continue;
            };
            let hops = path.get(..n).unwrap_or(&[]);
            // The root reaches t through hops[0]; hops[k] reaches t through hops[k+1].
            if let (Some(v), Some(first)) = (views.first_mut(), hops.first()) {
                v.routes.push((t, *first));
            }
            for w in hops.windows(2) {
                if let [a, b] = w {
                    if let Ok(pos) = views
                        .get(1..)
                        .unwrap_or(&[])
                        .binary_search_by(|v| v.device.octets().cmp(&a.octets()))
                    {
                        if let Some(v) = views.get_mut(pos + 1) {
                            v.routes.push((t, *b));
                        }
                    }
                }
            }
        }
        views
    }
}

/// One node's routing state as the route table view shows it: the device, its default router
/// list (upward, preferred first) and its routing table (downward destination → next hop,
/// hop routes to deeper destinations included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteView {
    /// The node's address.
    pub device: Ipv6Addr,
    /// Default routers (parents), preferred first.
    pub default_routers: Vec<Ipv6Addr>,
    /// Downward routes: (destination, next hop).
    pub routes: Vec<(Ipv6Addr, Ipv6Addr)>,
}

/// One storing-mode route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoringRoute {
    /// Destination.
    pub target: Ipv6Addr,
    /// Next hop (a child's link-local address).
    pub next_hop: Ipv6Addr,
    /// Path Sequence.
    pub path_sequence: u8,
    /// Expiry in seconds.
    pub expires: u32,
}

/// A storing-mode node's downward table.
#[derive(Debug, Clone)]
pub struct StoringTable {
    routes: Vec<StoringRoute>,
    cap: usize,
}

/// Outcome of [`StoringTable::update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoringUpdate {
    /// Stale (older path sequence): ignored.
    Stale,
    /// New or refreshed with the same next hop.
    Installed,
    /// The next hop changed; the old one is returned (it may deserve a DCO, RFC 9009).
    Moved(Ipv6Addr),
}

impl StoringTable {
    /// An empty table holding at most `cap` routes. Storage grows on demand up to `cap` (a
    /// router learns whether the DODAG is storing only when it joins).
    pub fn new(cap: usize) -> Self {
        StoringTable {
            routes: Vec::new(),
            cap,
        }
    }
    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }
    /// Capacity (most routes it will hold).
    pub fn capacity(&self) -> usize {
        self.cap
    }
    /// Bytes of storage currently allocated.
    pub fn allocated_bytes(&self) -> usize {
        self.routes.capacity() * core::mem::size_of::<StoringRoute>()
    }
    /// `true` when empty.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
    /// The route to `target`.
    pub fn get(&self, target: &Ipv6Addr) -> Option<&StoringRoute> {
        self.routes.iter().find(|r| r.target == *target)
    }
    /// Installs or refreshes a route.
    ///
    /// Freshness is the path sequence first (RFC 6550 §9.2.1, §7.2, [`accept_sequence`]):
    /// an older one is [`StoringUpdate::Stale`]. With an equal path sequence the Path Lifetime
    /// orders the two: the target issues each DAO with the full Default Lifetime (§6.7.6,
    /// §6.7.8), and a node passing a stored route on gives what is left of it,
    /// so of two copies with one path sequence the one that expires earlier was issued
    /// earlier — a re-advertisement of an older refresh, held by a node the target has since
    /// left. Such a copy that expires more than `slack_s` seconds before the route held is
    /// stale too: taking it would move the route onto that node's branch and cut its
    /// lifetime to what the old copy had left. `slack_s` covers the rounding of a relayed
    /// remaining lifetime to whole Lifetime Units (one unit).
    pub fn update(&mut self, r: StoringRoute, slack_s: u32) -> Result<StoringUpdate> {
        if let Some(e) = self.routes.iter_mut().find(|x| x.target == r.target) {
            if !accept_sequence(e.path_sequence, r.path_sequence)
                || (e.path_sequence == r.path_sequence
                    && r.expires.saturating_add(slack_s) < e.expires)
            {
                return Ok(StoringUpdate::Stale);
            }
            let old = e.next_hop;
            *e = r;
            return Ok(if old == r.next_hop {
                StoringUpdate::Installed
            } else {
                StoringUpdate::Moved(old)
            });
        }
        if self.routes.len() >= self.cap {
            return Err(Error::TableFull);
        }
        self.routes.push(r);
        Ok(StoringUpdate::Installed)
    }
    /// Removes the route to `target` if its next hop is `via` (or any, with `None`).
    pub fn remove(&mut self, target: &Ipv6Addr, via: Option<&Ipv6Addr>) -> Option<StoringRoute> {
        let pos = self
            .routes
            .iter()
            .position(|r| r.target == *target && via.is_none_or(|v| r.next_hop == *v))?;
        Some(self.routes.swap_remove(pos))
    }
    /// Whether some route goes through `next_hop` (a neighbour of our sub-DODAG).
    pub fn has_next_hop(&self, next_hop: &Ipv6Addr) -> bool {
        self.routes.iter().any(|r| r.next_hop == *next_hop)
    }
    /// Removes every route through `next_hop`.
    pub fn remove_via(&mut self, next_hop: &Ipv6Addr) -> usize {
        let before = self.routes.len();
        self.routes.retain(|r| r.next_hop != *next_hop);
        before - self.routes.len()
    }
    /// Removes expired routes, calling `f` for each.
    pub fn expire(&mut self, now_s: u32, mut f: impl FnMut(Ipv6Addr)) {
        self.routes.retain(|r| {
            let keep = r.expires > now_s;
            if !keep {
                f(r.target);
            }
            keep
        });
    }
    /// All routes.
    pub fn iter(&self) -> impl Iterator<Item = &StoringRoute> {
        self.routes.iter()
    }
    /// Removes every route.
    pub fn clear(&mut self) {
        self.routes.clear()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(i: u16) -> Ipv6Addr {
        Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i)
    }

    #[test]
    fn record_is_28_bytes() {
        assert_eq!(core::mem::size_of::<NsNode>(), 28);
    }

    #[test]
    fn non_storing_routes_and_views() {
        let mut t = NonStoringTable::new(a(1), 8);
        // 1 ← 2 ← 3 ← 4, and 1 ← 5
        assert_eq!(t.update(a(2), a(1), 240, 100), Ok(true));
        assert_eq!(t.update(a(4), a(3), 240, 100), Ok(true)); // parent 3 not yet known
        let mut out = [Ipv6Addr::UNSPECIFIED; 8];
        assert_eq!(t.source_route(&a(4), &mut out), Err(Error::NoRoute));
        assert_eq!(t.update(a(3), a(2), 240, 100), Ok(true));
        assert_eq!(t.update(a(5), a(1), 240, 50), Ok(true));
        assert_eq!(t.source_route(&a(4), &mut out), Ok(3));
        assert_eq!(&out[..3], &[a(2), a(3), a(4)]);
        assert_eq!(t.len(), 4);
        // A loop (2's parent = 4) is refused.
        assert_eq!(t.update(a(2), a(4), 241, 100), Ok(false));
        // Newer sequence moves 3 under 5; an older circular value is refused; equal refreshes.
        assert_eq!(t.update(a(3), a(5), 0, 100), Ok(true));
        assert_eq!(t.update(a(3), a(2), 120, 100), Ok(false));
        assert_eq!(t.update(a(3), a(5), 0, 100), Ok(true));
        assert_eq!(t.parent(&a(3)), Some(a(5)));
        let views = t.route_views();
        let root = &views[0];
        assert_eq!(root.device, a(1));
        assert_eq!(root.routes.len(), 4);
        let v5 = views.iter().find(|v| v.device == a(5)).unwrap();
        assert_eq!(v5.default_routers, [a(1)]);
        assert!(v5.routes.contains(&(a(3), a(3))));
        assert!(v5.routes.contains(&(a(4), a(3))));
        // Expiry at 50 removes 5 and makes 3, 4 unreachable.
        let mut gone = Vec::new();
        t.expire(50, |x| gone.push(x));
        assert_eq!(gone, [a(5)]);
        assert_eq!(t.source_route(&a(4), &mut out), Err(Error::NoRoute));
        assert!(t.remove(&a(4)));
        assert!(!t.remove(&a(4)));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn non_storing_capacity_and_slot_reuse() {
        let mut t = NonStoringTable::new(a(1), 3);
        assert_eq!(t.update(a(2), a(1), 240, 9), Ok(true));
        assert_eq!(t.update(a(3), a(1), 240, 9), Ok(true));
        assert_eq!(t.update(a(4), a(1), 240, 9), Ok(true));
        assert_eq!(t.update(a(5), a(1), 240, 9), Err(Error::TableFull));
        assert!(t.remove(&a(3)));
        assert_eq!(t.update(a(5), a(4), 240, 9), Ok(true));
        let mut out = [Ipv6Addr::UNSPECIFIED; 4];
        assert_eq!(t.source_route(&a(5), &mut out), Ok(2));
        assert_eq!(t.reserved_bytes(), 3 * 32);
    }

    #[test]
    fn storing_table() {
        let mut t = StoringTable::new(2);
        let r = |target, nh, seq| StoringRoute {
            target,
            next_hop: nh,
            path_sequence: seq,
            expires: 10,
        };
        assert_eq!(
            t.update(r(a(5), a(2), 241), 0),
            Ok(StoringUpdate::Installed)
        );
        assert_eq!(
            t.update(r(a(5), a(3), 242), 0),
            Ok(StoringUpdate::Moved(a(2)))
        );
        assert_eq!(
            t.update(r(a(5), a(4), 0), 0),
            Ok(StoringUpdate::Moved(a(3)))
        );
        assert_eq!(t.update(r(a(5), a(2), 120), 0), Ok(StoringUpdate::Stale));
        assert_eq!(
            t.update(r(a(6), a(3), 241), 0),
            Ok(StoringUpdate::Installed)
        );
        assert_eq!(t.update(r(a(7), a(3), 241), 0), Err(Error::TableFull));
        assert_eq!(t.remove_via(&a(3)), 1);
        assert_eq!(t.remove_via(&a(4)), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn an_older_path_sequence_on_the_stick_is_stale() {
        // Both on the lollipop stick (128..=255): the lower one is older (RFC 6550 §7.2).
        assert!(!accept_sequence(252, 251));
        assert!(accept_sequence(251, 252));
        assert!(accept_sequence(252, 252));
        // A restart (240) after the counter went circular is newer; within the window of a
        // circular value it is not.
        assert!(accept_sequence(100, 240));
        assert!(!accept_sequence(5, 250));
        // Circular values beyond SEQUENCE_WINDOW are not comparable: the update is taken.
        assert!(accept_sequence(10, 60));
        let mut t = StoringTable::new(4);
        let r = |nh, seq| StoringRoute {
            target: a(9),
            next_hop: nh,
            path_sequence: seq,
            expires: 3600,
        };
        assert_eq!(t.update(r(a(2), 252), 60), Ok(StoringUpdate::Installed));
        assert_eq!(t.update(r(a(3), 251), 60), Ok(StoringUpdate::Stale));
        assert_eq!(t.get(&a(9)).map(|x| x.next_hop), Some(a(2)));
    }

    #[test]
    fn an_equal_path_sequence_that_expires_earlier_is_stale() {
        let mut t = StoringTable::new(4);
        let r = |nh, expires| StoringRoute {
            target: a(9),
            next_hop: nh,
            path_sequence: 245,
            expires,
        };
        // The target's own refresh: a full lifetime from now.
        assert_eq!(t.update(r(a(2), 3600), 60), Ok(StoringUpdate::Installed));
        // A copy of an earlier refresh re-advertised by a node the target left: refused,
        // and the route keeps its next hop and its lifetime.
        assert_eq!(t.update(r(a(3), 1500), 60), Ok(StoringUpdate::Stale));
        assert_eq!(
            t.get(&a(9)).map(|x| (x.next_hop, x.expires)),
            Some((a(2), 3600))
        );
        // The same refresh passed on by the node that moved, its remaining lifetime rounded
        // to a whole unit: within the slack, so the route follows it.
        assert_eq!(t.update(r(a(3), 3550), 60), Ok(StoringUpdate::Moved(a(2))));
        // A later refresh (a longer lifetime) is always taken.
        assert_eq!(t.update(r(a(2), 4800), 60), Ok(StoringUpdate::Moved(a(3))));
    }
}
