//! The PANA Relay Element (RFC 6345): stateless, sans-IO encapsulation and decapsulation.
//!
//! # Run loop
//!
//! After every input (`handle_datagram`, `handle_timeout`) drain [`PanaRelay::poll_transmit`]
//! until it returns `None`, then read [`PanaRelay::poll_timeout`]. `handle_*` never returns a
//! datagram itself. `now` must never go backwards.
//!
//! # What the PRE remembers
//!
//! Nothing per PaC session (RFC 6345 §2, "the PRE keeps no per-PaC state"): every PaC message
//! is wrapped as it arrives and every PANA-Relay from the PAA is unwrapped as it arrives. The
//! only memory is
//! - the output queue (at most `QUEUE` messages, each sent on the next `poll_transmit`), and
//! - the rate limiter's token buckets, keyed by neighbour address (at most `NEIGHBOURS`). A
//!   bucket is deleted as soon as it has refilled, so a neighbour that goes quiet for
//!   `burst × interval` is forgotten ([`PanaRelay::handle_timeout`] does that).
//!
//! The PRE never holds key material: the types it stores are addresses, ports, counters, token
//! counts and PANA message bytes in transit, none of which is a key, MSK, PSK or network key (the
//! network key crosses the PRE only inside an RFC 6786 Encryption-Encap, encrypted).

pub use crate::config::{PANA_PORT, RelayConfig};
use crate::error::Error;
use crate::limiter::{Limiter, Refused};
use crate::wire::{PacInformation, RELAY_OVERHEAD, RelayRepr, check_inner, parse_relay};
use amimesh_core::Instant;
use core::net::Ipv6Addr;

/// Longest inner PANA message the PRE relays: a PANA-Relay carrying it must fit a UDP payload
/// in the IPv6 minimum MTU (1280 − 40 − 8 = 1232 bytes, RFC 8200 §5).
pub const MAX_RELAYED_LEN: usize = 1232 - RELAY_OVERHEAD;

/// Counters. Every datagram handed to [`PanaRelay::handle_datagram`] ends in exactly one of
/// `relayed_to_paa`, `relayed_to_pac` or one drop counter; `tx_*` count later losses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct RelayStats {
    /// PaC messages queued for the PAA.
    pub relayed_to_paa: u64,
    /// Inner messages queued for a PaC.
    pub relayed_to_pac: u64,
    /// Not a well-formed PANA message (or PANA-Relay from the PAA).
    pub rx_malformed: u64,
    /// A PANA-Relay where a plain message was expected, or one nested in another.
    pub rx_nested_relay: u64,
    /// From a source that is not link-local (RFC 6345: the PaC is an on-link neighbour), or a
    /// PANA-Relay naming such a PaC.
    pub rx_not_link_local: u64,
    /// From the PAA's address but not its port.
    pub rx_wrong_port: u64,
    /// Inner message longer than [`MAX_RELAYED_LEN`].
    pub rx_too_long: u64,
    /// Refused by the neighbour's token bucket.
    pub rx_rate_limited_neighbour: u64,
    /// Refused by the total token bucket.
    pub rx_rate_limited_total: u64,
    /// Neighbour buckets evicted from a full table while still counting.
    pub limiter_evictions: u64,
    /// Dropped because the output queue was full.
    pub tx_queue_full: u64,
    /// Dropped because the caller's buffer was too small.
    pub tx_buffer_too_small: u64,
}

/// A datagram to send: `len` bytes of the caller's buffer, from `src_port` to `dst`:`dst_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Transmit {
    /// Destination address: the PAA, or the PaC named in PaC-Information.
    pub dst: Ipv6Addr,
    /// Destination UDP port.
    pub dst_port: u16,
    /// Source UDP port (the PRE's PANA port).
    pub src_port: u16,
    /// Bytes written to the buffer.
    pub len: usize,
}

/// Which way a queued message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Wrap in PANA-Relay and send to the PAA.
    ToPaa,
    /// Send as is to the PaC.
    ToPac,
}

/// A message waiting for `poll_transmit`: the inner PANA message and the PaC it concerns.
#[derive(Debug, Clone)]
struct Pending {
    direction: Direction,
    pac: Ipv6Addr,
    pac_port: u16,
    inner: heapless::Vec<u8, MAX_RELAYED_LEN>,
}

/// The PANA Relay Element. `NEIGHBOURS` bounds the rate limiter's table and `QUEUE` the
/// output queue; nothing else grows. See the module doc for the run loop.
#[derive(Debug, Clone)]
pub struct PanaRelay<const NEIGHBOURS: usize = 32, const QUEUE: usize = 8> {
    config: RelayConfig,
    limiter: Limiter<NEIGHBOURS>,
    queue: heapless::Deque<Pending, QUEUE>,
    stats: RelayStats,
    last_now: Instant,
}

impl<const NEIGHBOURS: usize, const QUEUE: usize> PanaRelay<NEIGHBOURS, QUEUE> {
    /// A PRE relaying to `config.paa`.
    pub const fn new(config: RelayConfig) -> Self {
        PanaRelay {
            limiter: Limiter::new(config.per_neighbour, config.total),
            config,
            queue: heapless::Deque::new(),
            stats: RelayStats {
                relayed_to_paa: 0,
                relayed_to_pac: 0,
                rx_malformed: 0,
                rx_nested_relay: 0,
                rx_not_link_local: 0,
                rx_wrong_port: 0,
                rx_too_long: 0,
                rx_rate_limited_neighbour: 0,
                rx_rate_limited_total: 0,
                limiter_evictions: 0,
                tx_queue_full: 0,
                tx_buffer_too_small: 0,
            },
            last_now: Instant::ZERO,
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> RelayStats {
        RelayStats {
            limiter_evictions: self.limiter.evictions,
            ..self.stats
        }
    }

    /// `true` if anything the PRE holds concerns `addr`: a rate-limiter bucket or a message
    /// still in the output queue. After a session has ended, the queue has been drained and the
    /// neighbour's bucket has refilled (see [`PanaRelay::handle_timeout`]), this is `false`.
    pub fn remembers(&self, addr: &Ipv6Addr) -> bool {
        self.limiter.tracks(addr) || self.queue.iter().any(|p| p.pac == *addr)
    }

    /// Neighbour buckets currently held.
    pub fn tracked_neighbours(&self) -> usize {
        self.limiter.len()
    }

    /// Messages waiting for `poll_transmit`.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    fn advance(&mut self, now: Instant) {
        debug_assert!(now >= self.last_now, "time went backwards");
        self.last_now = self.last_now.max(now);
    }

    /// Handles a UDP datagram received on the PRE's PANA port from `src`:`src_port`.
    ///
    /// - From the configured PAA (address and port): must be a well-formed PANA-Relay message
    ///   naming a link-local IPv6 PaC; the inner message is queued for that PaC (RFC 6345 §2).
    /// - From anyone else: `src` must be link-local (the PaC is an on-link neighbour), the
    ///   payload a well-formed PANA message that is not PANA-Relay (§2: one PRE at most), and
    ///   the rate limits must allow it; it is queued to be wrapped for the PAA (§2).
    ///
    /// Everything else is dropped and counted in [`RelayStats`]. Only messages from PaCs are
    /// rate-limited; PANA-Relay from the configured PAA is bounded by the output queue alone.
    ///
    /// The PRE cannot see interfaces: the caller must pass a datagram claiming the PAA's
    /// address only when it arrived over the protected PRE–PAA path (RFC 6345 §6), never
    /// unsecured from the mesh.
    pub fn handle_datagram(&mut self, now: Instant, src: Ipv6Addr, src_port: u16, data: &[u8]) {
        self.advance(now);
        if src == self.config.paa {
            if src_port == self.config.paa_port {
                self.on_paa_datagram(data);
            } else {
                self.stats.rx_wrong_port += 1;
            }
        } else {
            self.on_pac_datagram(now, src, src_port, data);
        }
    }

    fn on_pac_datagram(&mut self, now: Instant, src: Ipv6Addr, src_port: u16, data: &[u8]) {
        if !src.is_unicast_link_local() {
            self.stats.rx_not_link_local += 1;
            return;
        }
        match check_inner(data) {
            Ok(_) => {}
            Err(Error::NestedRelay) => {
                self.stats.rx_nested_relay += 1;
                return;
            }
            Err(_) => {
                self.stats.rx_malformed += 1;
                return;
            }
        }
        let Ok(inner) = heapless::Vec::from_slice(data) else {
            self.stats.rx_too_long += 1;
            return;
        };
        match self.limiter.allow(now, src) {
            Ok(()) => {}
            Err(Refused::Neighbour) => {
                self.stats.rx_rate_limited_neighbour += 1;
                return;
            }
            Err(Refused::Total) => {
                self.stats.rx_rate_limited_total += 1;
                return;
            }
        }
        self.enqueue(Pending {
            direction: Direction::ToPaa,
            pac: src,
            pac_port: src_port,
            inner,
        });
    }

    fn on_paa_datagram(&mut self, data: &[u8]) {
        let relay = match parse_relay(data) {
            Ok(r) => r,
            Err(Error::NestedRelay) => {
                self.stats.rx_nested_relay += 1;
                return;
            }
            Err(_) => {
                self.stats.rx_malformed += 1;
                return;
            }
        };
        let PacInformation {
            addr: pac,
            port: pac_port,
        } = relay.pac;
        if !pac.is_unicast_link_local() {
            self.stats.rx_not_link_local += 1;
            return;
        }
        let Ok(inner) = heapless::Vec::from_slice(relay.relayed) else {
            self.stats.rx_too_long += 1;
            return;
        };
        self.enqueue(Pending {
            direction: Direction::ToPac,
            pac,
            pac_port,
            inner,
        });
    }

    fn enqueue(&mut self, p: Pending) {
        let direction = p.direction;
        if self.queue.push_back(p).is_err() {
            self.stats.tx_queue_full += 1;
            return;
        }
        match direction {
            Direction::ToPaa => self.stats.relayed_to_paa += 1,
            Direction::ToPac => self.stats.relayed_to_pac += 1,
        }
    }

    /// Forgets neighbours whose token bucket has refilled. Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.limiter.prune(now);
    }

    /// When [`PanaRelay::handle_timeout`] would forget a neighbour next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.limiter.next_prune()
    }

    /// Writes the next datagram into `buf`: a PANA-Relay message for the PAA, or an inner
    /// message for a PaC. A datagram longer than `buf` is dropped and counted.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.advance(now);
        while let Some(p) = self.queue.pop_front() {
            let written = match p.direction {
                Direction::ToPaa => RelayRepr {
                    pac: PacInformation {
                        addr: p.pac,
                        port: p.pac_port,
                    },
                    relayed: &p.inner,
                }
                .emit(buf)
                .ok()
                .map(|len| (self.config.paa, self.config.paa_port, len)),
                Direction::ToPac => buf.get_mut(..p.inner.len()).map(|d| {
                    d.copy_from_slice(&p.inner);
                    (p.pac, p.pac_port, p.inner.len())
                }),
            };
            match written {
                Some((dst, dst_port, len)) => {
                    return Some(Transmit {
                        dst,
                        dst_port,
                        src_port: self.config.local_port,
                        len,
                    });
                }
                None => self.stats.tx_buffer_too_small += 1,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limiter::RateLimit;
    use crate::test_gens;
    use alloc::vec::Vec;
    use amimesh_core::Duration;
    use amimesh_pana::wire::avp::{AvpCode, AvpRepr};
    use amimesh_pana::wire::message::{Flags, MessageBuilder, MessageType};
    use proptest::prelude::*;

    static PRY_PCI: &[u8] = include_bytes!("../testdata/pry_pci.bin");
    static PCI: &[u8] = include_bytes!("../testdata/pci.bin");

    fn paa() -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)
    }
    fn pac() -> Ipv6Addr {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0212, 0x4b00, 0, 1)
    }
    fn info(addr: Ipv6Addr) -> PacInformation {
        PacInformation { addr, port: 716 }
    }
    fn ll(n: u16) -> Ipv6Addr {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, n)
    }

    fn drain<const N: usize, const Q: usize>(
        pre: &mut PanaRelay<N, Q>,
        now: Instant,
    ) -> Vec<(Transmit, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1280];
        while let Some(t) = pre.poll_transmit(now, &mut buf) {
            out.push((t, buf[..t.len].to_vec()));
        }
        out
    }

    fn t(s: i64) -> Instant {
        Instant::from_secs(s)
    }

    #[test]
    fn wraps_pac_message_for_paa() {
        let mut pre: PanaRelay = PanaRelay::new(RelayConfig::new(paa()));
        pre.handle_datagram(t(1), pac(), 716, PCI);
        let out = drain(&mut pre, t(1));
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].0,
            Transmit {
                dst: paa(),
                dst_port: 716,
                src_port: 716,
                len: 68
            }
        );
        assert_eq!(out[0].1, PRY_PCI);
        assert_eq!(pre.stats().relayed_to_paa, 1);
    }

    #[test]
    fn unwraps_paa_relay_for_pac() {
        let mut pre: PanaRelay = PanaRelay::new(RelayConfig::new(paa()));
        pre.handle_datagram(t(1), paa(), 716, PRY_PCI);
        let out = drain(&mut pre, t(1));
        assert_eq!(
            out,
            [(
                Transmit {
                    dst: pac(),
                    dst_port: 716,
                    src_port: 716,
                    len: 16
                },
                PCI.to_vec()
            )]
        );
        assert_eq!(pre.stats().relayed_to_pac, 1);
        // Unwrapping keeps nothing: no bucket, no queue.
        assert!(!pre.remembers(&pac()));
    }

    #[test]
    fn drops_and_counts() {
        let mut pre: PanaRelay = PanaRelay::new(RelayConfig::new(paa()));
        let now = t(1);
        // Not link-local.
        pre.handle_datagram(
            now,
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9),
            716,
            PCI,
        );
        // Not PANA.
        pre.handle_datagram(now, pac(), 716, &[1, 2, 3]);
        // A PaC sending PANA-Relay.
        pre.handle_datagram(now, pac(), 716, PRY_PCI);
        // The PAA's address with another port.
        pre.handle_datagram(now, paa(), 1716, PRY_PCI);
        // The PAA sending a plain message.
        pre.handle_datagram(now, paa(), 716, PCI);
        // A PANA-Relay naming a global PaC.
        let mut buf = [0u8; 128];
        let n = RelayRepr {
            pac: info(paa()),
            relayed: PCI,
        }
        .emit(&mut buf)
        .unwrap();
        pre.handle_datagram(now, paa(), 716, &buf[..n]);
        // …and an IPv4 PaC (6-byte PaC-Information, RFC 6345 §5.1): the PRE relays on IPv6
        // links only, so it is malformed here.
        let mut b = MessageBuilder::new(&mut buf, MessageType::Relay, Flags::NONE, 0, 0).unwrap();
        b.push(&AvpRepr::new(
            AvpCode::PacInformation,
            &[192, 0, 2, 1, 0x02, 0xcc],
        ))
        .unwrap();
        b.push(&AvpRepr::new(AvpCode::RelayedMessage, PCI)).unwrap();
        let n = b.finish();
        pre.handle_datagram(now, paa(), 716, &buf[..n]);
        // A PANA-Relay inside a PANA-Relay from the PAA: the codec refuses it.
        let mut nested = [0u8; 256];
        let n = RelayRepr {
            pac: info(pac()),
            relayed: PRY_PCI,
        }
        .emit(&mut nested)
        .unwrap();
        pre.handle_datagram(now, paa(), 716, &nested[..n]);
        // An inner message too long to relay.
        let mut long = alloc::vec![0u8; MAX_RELAYED_LEN + 4];
        let len = long.len() as u16;
        long[2..4].copy_from_slice(&len.to_be_bytes());
        long[7] = 2;
        let mut lm = alloc::vec![0u8; long.len() + 64];
        let n = RelayRepr {
            pac: info(pac()),
            relayed: &long,
        }
        .emit(&mut lm)
        .unwrap();
        pre.handle_datagram(now, paa(), 716, &lm[..n]);
        pre.handle_datagram(now, pac(), 716, &long);
        assert!(drain(&mut pre, now).is_empty());
        let s = pre.stats();
        assert_eq!(s.rx_not_link_local, 2);
        assert_eq!(s.rx_malformed, 3);
        assert_eq!(s.rx_nested_relay, 2);
        assert_eq!(s.rx_wrong_port, 1);
        assert_eq!(s.rx_too_long, 2);
        assert_eq!(s.relayed_to_paa + s.relayed_to_pac, 0);
        assert_eq!(pre.tracked_neighbours(), 0);
    }

    #[test]
    fn rate_limits_per_neighbour_and_in_total() {
        let mut cfg = RelayConfig::new(paa());
        cfg.per_neighbour = RateLimit {
            burst: 2,
            interval: Duration::from_secs(1),
        };
        cfg.total = RateLimit {
            burst: 5,
            interval: Duration::from_secs(1),
        };
        let mut pre: PanaRelay<4, 16> = PanaRelay::new(cfg);
        let now = t(1);
        for _ in 0..3 {
            pre.handle_datagram(now, ll(1), 716, PCI);
        }
        assert_eq!(pre.stats().rx_rate_limited_neighbour, 1);
        for n in 2..=5 {
            pre.handle_datagram(now, ll(n), 716, PCI);
        }
        assert_eq!(pre.stats().relayed_to_paa, 5);
        assert_eq!(pre.stats().rx_rate_limited_total, 1);
        assert_eq!(drain(&mut pre, now).len(), 5);
        // More neighbours than the table holds: the oldest is evicted, memory stays bounded.
        let later = t(2);
        for n in 10..20 {
            pre.handle_datagram(later, ll(n), 716, PCI);
        }
        assert!(pre.tracked_neighbours() <= 4);
        assert!(pre.stats().limiter_evictions > 0);
        drain(&mut pre, later);
        // Everyone is forgotten once their buckets refill.
        while let Some(at) = pre.poll_timeout() {
            pre.handle_timeout(at);
        }
        assert_eq!(pre.tracked_neighbours(), 0);
        for n in 1..20 {
            assert!(!pre.remembers(&ll(n)));
        }
    }

    #[test]
    fn bounded_queue_and_small_buffers() {
        let mut cfg = RelayConfig::new(paa());
        cfg.per_neighbour = RateLimit::UNLIMITED;
        cfg.total = RateLimit::UNLIMITED;
        let mut pre: PanaRelay<4, 2> = PanaRelay::new(cfg);
        for _ in 0..3 {
            pre.handle_datagram(t(1), pac(), 716, PCI);
        }
        assert_eq!(pre.stats().tx_queue_full, 1);
        assert!(pre.remembers(&pac()));
        let mut small = [0u8; 67];
        assert_eq!(pre.poll_transmit(t(1), &mut small), None);
        assert_eq!(pre.stats().tx_buffer_too_small, 2);
        assert_eq!(pre.queued(), 0);
        pre.handle_datagram(t(1), paa(), 716, PRY_PCI);
        assert_eq!(pre.poll_transmit(t(1), &mut small[..15]), None);
        assert_eq!(pre.stats().tx_buffer_too_small, 3);
    }

    proptest! {
        /// Arbitrary datagrams from both sides: no panic, bounded memory, and every datagram
        /// accounted for exactly once.
        #[test]
        fn prop_arbitrary_datagrams(
            inputs in proptest::collection::vec(
                (0u8..4, test_gens::link_local(), prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..120),
                    test_gens::inner_message(),
                    test_gens::relay_like_bytes(),
                ], 0u32..3000),
                1..40,
            )
        ) {
            let mut pre: PanaRelay<4, 4> = PanaRelay::new(RelayConfig::new(paa()));
            let mut now = t(0);
            let mut buf = [0u8; 1280];
            let mut sent = 0u64;
            for (who, src, data, dt) in &inputs {
                now += Duration::from_millis(u64::from(*dt));
                match who {
                    0 => pre.handle_datagram(now, paa(), 716, data),
                    1 => pre.handle_datagram(now, paa(), 9, data),
                    _ => pre.handle_datagram(now, *src, 716, data),
                }
                prop_assert!(pre.queued() <= 4 && pre.tracked_neighbours() <= 4);
                if who % 2 == 0 {
                    while let Some(tx) = pre.poll_transmit(now, &mut buf) {
                        prop_assert!(tx.len <= buf.len());
                        if tx.dst == paa() {
                            prop_assert!(parse_relay(&buf[..tx.len]).is_ok());
                        } else {
                            prop_assert!(tx.dst.is_unicast_link_local());
                            prop_assert!(check_inner(&buf[..tx.len]).is_ok());
                        }
                        sent += 1;
                    }
                }
                if let Some(at) = pre.poll_timeout() {
                    if at <= now {
                        pre.handle_timeout(now);
                    }
                }
            }
            while pre.poll_transmit(now, &mut buf).is_some() {
                sent += 1;
            }
            let s = pre.stats();
            let dropped = s.rx_malformed + s.rx_nested_relay + s.rx_not_link_local
                + s.rx_wrong_port + s.rx_too_long + s.rx_rate_limited_neighbour
                + s.rx_rate_limited_total + s.tx_queue_full;
            prop_assert_eq!(s.relayed_to_paa + s.relayed_to_pac + dropped, inputs.len() as u64);
            prop_assert_eq!(sent, s.relayed_to_paa + s.relayed_to_pac);
        }
    }
}
