//! PANA Relay (RFC 6345): the PANA Relay Element (PRE) and the PAA side of relaying.
//!
//! A PaC that joins a mesh cannot reach the PAA yet: it talks PANA (UDP 716) to an on-link
//! neighbour that already belongs to the network, the PRE. The PRE wraps each PaC message in a
//! PANA-Relay message (type 5) carrying the PaC's address and port (PaC-Information) and the
//! message itself (Relayed-Message), and sends it to the PAA; the PAA answers with PANA-Relay
//! messages that the PRE unwraps and forwards to the PaC. The PaC does not know it is relayed.
//!
//! - [`PanaRelay`] is the PRE: sans-IO, no per-PaC state, structure checks only, rate limits per
//!   neighbour and in total with bounded memory, and nothing secret ever stored.
//! - The PAA side of relaying is built into `amimesh_pana::PanaAgent`: it accepts PANA-Relay,
//!   authenticates the inner PaC exactly as if it were direct, keeps the PRE's address and port
//!   in the session (`SessionInfo::via`), and sends every later message of that session
//!   (re-authentication, ping, termination, key pushes) back through the PRE wrapped in
//!   PANA-Relay (RFC 6345 §3). This crate's tests run PaC ↔ [`PanaRelay`] ↔ `PanaAgent`
//!   sessions end to end.
//! - [`wire`] holds the PRE's acceptance checks on top of `amimesh-pana`'s PANA-Relay codec
//!   (`amimesh_pana::wire::relay`, re-exported here).
//!
//! # Supported
//! - [x] PANA-Relay message, type 5, flags/session/sequence 0 (RFC 6345 §4.1)
//! - [x] PaC-Information AVP 10, IPv6 (18 bytes, §5.1); the PRE relays only to link-local
//!   IPv6 PaCs. [ ] IPv4 PaC-Information (6 bytes): refused as malformed
//! - [x] Relayed-Message AVP 11 (§5.2); a relayed PANA-Relay is refused (§2, one PRE at most)
//! - [x] PRE: PaC → PAA encapsulation and PAA → PaC decapsulation (§2)
//! - [x] PAA: PRE address/port per session, answers through the PRE (§3), in
//!   `amimesh_pana::PanaAgent`
//! - [ ] PRE–PAA protection (§6: IPsec/DTLS/link-layer): provided by the layer below (the
//!   device sends PRE↔PAA traffic secured at the link layer or over the secure uplink)
//!
//! # What the PRE keeps
//!
//! No per-PaC state (RFC 6345 §2): a bounded output queue of messages in transit and a bounded
//! table of token buckets keyed by neighbour address, each deleted once it has refilled. No key,
//! MSK, PSK or network key ever reaches it except as ciphertext inside a message in transit
//! (RFC 6786 Encryption-Encap). See [`relay`] for details.
//!
//! # Run loop (PRE)
//!
//! ```
//! use amimesh_core::Instant;
//! use amimesh_pana_relay::{PanaRelay, RelayConfig};
//! use core::net::Ipv6Addr;
//!
//! let paa: Ipv6Addr = "2001:db8::1".parse().unwrap();
//! let mut pre: PanaRelay = PanaRelay::new(RelayConfig::new(paa));
//! let now = Instant::from_secs(1);
//! // A PANA-Client-Initiation from an on-link PaC (16-byte header, no AVPs).
//! let pci = [0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
//! let pac: Ipv6Addr = "fe80::212:4b00:0:1".parse().unwrap();
//! pre.handle_datagram(now, pac, 716, &pci);
//! let mut buf = [0u8; 1232];
//! while let Some(t) = pre.poll_transmit(now, &mut buf) {
//!     // send buf[..t.len] from port t.src_port to t.dst:t.dst_port
//!     assert_eq!((t.dst, t.dst_port, t.len), (paa, 716, 16 + 28 + 8 + 16));
//! }
//! if let Some(at) = pre.poll_timeout() {
//!     // call pre.handle_timeout(at) then (it only forgets idle neighbours)
//!     pre.handle_timeout(at);
//! }
//! assert!(!pre.remembers(&pac));
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod config;
pub mod error;
mod limiter;
pub mod relay;
pub mod wire;

#[cfg(test)]
mod test_gens;

pub use error::{Error, Result};
pub use limiter::RateLimit;
pub use relay::{MAX_RELAYED_LEN, PANA_PORT, PanaRelay, RelayConfig, RelayStats, Transmit};
pub use wire::{PacInformation, RelayRepr, check_inner, parse_relay};
