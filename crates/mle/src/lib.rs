//! Mesh Link Establishment (MLE) for amimesh: messages and TLVs, MLE security, link
//! establishment with challenge and response, and neighbour frame-counter synchronisation.
//!
//! A meter that has obtained the network key (PANA) runs MLE with its parent and neighbours so
//! that both sides learn each other's 802.15.4 frame counters; from the first secured frame on,
//! the MAC rejects replays (DESIGN, join phase P3).
//!
//! Implemented from draft-ietf-6lo-mesh-link-establishment-00 (commands 0–6, TLVs 0–8), with
//! the Thread command and TLV numbers and Thread's MLE security, as Wireshark's `packet-mle.c`
//! and OpenThread implement them (FACTS §9):
//!
//! - [`wire`]: the UDP 19788 payload — security suite byte (0 secured, 255 unsecured), the
//!   802.15.4 auxiliary security header (from `amimesh-mac`), `Command ‖ TLVs`, the MIC;
//!   commands 0–20 and 99 ([`wire::command::Command`]), every TLV of FACTS §9.5
//!   ([`wire::tlv::TlvRepr`], unknown types kept verbatim), a TLV iterator and writer.
//! - [`security`]: CCM* with nonce = sender's extended address ‖ MLE frame counter (BE) ‖
//!   level and a-data = IPv6 source ‖ IPv6 destination ‖ auxiliary security header; keys from
//!   the network key (ZigBee-IP scheme, or Thread's for Thread peers) selected by key index
//!   (key id mode 1) or key index and key source = key sequence (key id mode 2). The Thread MLE
//!   encryption vector (OpenThread `test_crypto.py`) is a unit test.
//! - [`node`]: [`MleNode`], the sans-IO state machine — Link Request / Link
//!   Accept / Link Accept and Request / Link Reject with retransmission, a bounded neighbour
//!   table with MLE and link-layer frame counters, link margin and state,
//!   [`Event::NeighbourLinked`] for the MAC replay table, Advertisements on a [`trickle`]
//!   timer, Update / Update Request, Data Request / Data Response, replay rejection.
//!
//! # Checklist
//!
//! Commands (parse and emit: all; the node acts on):
//! - [x] 0 Link Request, 1 Link Accept, 2 Link Accept and Request, 3 Link Reject
//! - [x] 4 Advertisement, 5 Update, 6 Update Request, 7 Data Request, 8 Data Response
//! - [ ] 9–20, 99 (Thread attach, discovery, link metrics, time sync): parsed, counted as
//!   ignored by the node
//!
//! TLVs (all parse and emit; typed values for the fixed-size ones):
//! - [x] 0 Source Address (2 or 8 bytes), 1 Mode, 2 Timeout, 3 Challenge, 4 Response,
//!   5 Link-layer Frame Counter, 8 MLE Frame Counter, 10 Address16, 11 Leader Data,
//!   13 TLV Request, 14 Scan Mask, 16 Link Margin, 17 Status, 18 Version, 20 Channel,
//!   21 PAN ID, 22/23 Active/Pending Timestamp
//! - [x] 6 Link Quality, 7 Network Parameter, 9 Route64, 12 Network Data, 15 Connectivity,
//!   19 Address Registration, 24/25 Operational Datasets, 26 Thread Discovery: value kept as
//!   bytes
//! - [x] unknown types: kept verbatim
//!
//! Security:
//! - [x] levels 1–7; key id modes 1 and 2
//! - [ ] key id modes 0 and 3 (refused: MLE needs an explicit key), frame-counter suppression
//!   (refused: MLE needs the counter)
//!
//! # Run loop
//!
//! ```
//! use amimesh_core::{ExtAddr, Instant, Key128};
//! use amimesh_mle::security::MleKey;
//! use amimesh_mle::{Config, Event, MleNode, RxMeta};
//! # use amimesh_core::rand_core::{CryptoRng, RngCore, Error};
//! # struct Os(amimesh_core::Rng);
//! # impl RngCore for Os {
//! #     fn next_u32(&mut self) -> u32 { self.0.u32() }
//! #     fn next_u64(&mut self) -> u64 { self.0.u64() }
//! #     fn fill_bytes(&mut self, d: &mut [u8]) { self.0.fill(d) }
//! #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Error> { self.0.fill(d); Ok(()) }
//! # }
//! # impl CryptoRng for Os {}
//! # let mut os_rng = Os(amimesh_core::Rng::new(1)); // the platform's CSPRNG in real use
//! let network_key = Key128::new([0x11; 16]);
//! let parent = ExtAddr::from_u64(0x0212_4b00_0000_0001);
//! let mut node = MleNode::new(Config::new(ExtAddr::from_u64(0x0212_4b00_0000_0002)));
//! let mut now = Instant::ZERO;
//!
//! // PANA delivered the network key (index 1): install the MLE half.
//! node.set_key(now, MleKey::from_network_key(&network_key, 1, 0));
//! node.set_link_frame_counter(42); // the MAC's current outgoing counter
//! node.link_request(now, Some(parent), &mut os_rng).unwrap();
//!
//! let mut buf = [0u8; 127];
//! for _ in 0..3 {
//!     // 1. drain transmits: send each as UDP 19788 → 19788, hop limit 255
//!     while let Some(t) = node.poll_transmit(now, &mut buf) {
//!         let _datagram = (&t.src, &t.dst, &buf[..t.len]);
//!     }
//!     // 2. drain events
//!     while let Some(e) = node.poll_event() {
//!         if let Event::NeighbourLinked { ext_addr, link_frame_counter, .. } = e {
//!             // install in the MAC replay table: frames from ext_addr below
//!             // link_frame_counter are old
//!             let _ = (ext_addr, link_frame_counter);
//!         }
//!     }
//!     // 3. wait until the deadline or a datagram, then feed it in
//!     now = node.poll_timeout().unwrap_or(now);
//!     node.handle_timeout(now, &mut os_rng);
//!     # let received: Option<(std::net::Ipv6Addr, std::net::Ipv6Addr, Vec<u8>)> = None;
//!     if let Some((src, dst, payload)) = received {
//!         node.handle_datagram(now, src, dst, RxMeta { link_margin: 20 }, &payload, &mut os_rng);
//!     }
//! }
//! // Nobody answered: after the retransmissions the request failed.
//! assert_eq!(node.stats().tx_messages, 3);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod config;
mod error;
pub mod node;
pub mod security;
mod table;
pub mod trickle;
pub mod wire;

pub use config::Config;
pub use error::{Error, Result};
pub use node::{Event, MleNode, Neighbour, NeighbourState, RxMeta, Stats, Transmit};
#[cfg(test)]
mod test_gens;
