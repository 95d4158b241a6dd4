//! RPL, the IPv6 Routing Protocol for Low-Power and Lossy Networks (RFC 6550), sans-IO.
//!
//! This crate works on ICMPv6 type-155 bodies (the ICMPv6 code plus the bytes after the 4-byte
//! ICMPv6 header) with `core::net::Ipv6Addr` source and destination; checksums are the IPv6
//! layer's job. It never touches sockets or clocks: time is an [`amimesh_core::Instant`]
//! argument and randomness comes from an [`amimesh_core::Rng`] seeded by the configuration.
//!
//! ## What is implemented
//!
//! Wire formats (`wire`, no allocation, compiles with no features):
//!
//! - [x] Control messages (RFC 6550 §6, RFC 9009 §4.3–4.4): DIS, DIO, DAO, DAO-ACK, DCO,
//!   DCO-ACK, Consistency Check (security section + base object); secure variants
//!   (0x80–0x88) parsed into their security section (§6.1) and kept raw; P2P and unknown codes
//!   kept raw. View [`wire::Message`], value [`wire::MessageRepr`].
//! - [x] Options (§6.7): Pad1, PadN, DAG Metric Container (with an RFC 6551 object iterator),
//!   Route Information, DODAG Configuration, RPL Target, Transit Information (with RFC 9009's
//!   I flag), Solicited Information, Prefix Information, RPL Target Descriptor; unknown types
//!   round-trip. View [`wire::RplOption`], value [`wire::OptionRepr`], iterator
//!   [`wire::OptionsIter`].
//! - [x] RPL Option for the Hop-by-Hop header (RFC 6553 type 0x63 and RFC 9008 type 0x23, both
//!   accepted; [`RplNode::hbh_option`] gives 0x23), with a whole-header emitter and finder
//!   ([`wire::HbhRepr`]); data-path validation (RFC 6550 §11.2.2: instance, rank errors with
//!   R, loop drop and Trickle reset, forwarding errors with F) in [`RplNode::check_hbh`],
//!   SenderRank in DAGRank or Rank units ([`RpiRank`]).
//! - [x] Source Routing Header (RFC 6554) with CmprI/CmprE/Pad compression, route emitter and
//!   §4.2 processing ([`wire::Srh`], [`wire::SrhRepr`]).
//! - [ ] Message security (MAC/signature verification, encryption): not implemented; secure
//!   messages are parsed, counted as unsupported and not acted upon.
//!
//! Algorithms (no allocation): [`Trickle`] (RFC 6206 §4.2), [`lollipop`] counters (RFC 6550
//! §7.2), [`ObjectiveFunction`] OF0 (RFC 6552) and MRHOF with ETX (RFC 6719).
//!
//! State machine (feature `alloc`): [`RplNode`] as root, router or leaf (§3.2, §8.5), in
//! non-storing (MOP 1) or storing (MOP 2/3) mode:
//!
//! - [x] root: grounded DODAG, DIO Trickle, DODAG Configuration and Prefix Information options,
//!   DIS answers (unicast DIO / Trickle reset), DTSN refresh (§9.3), version increment
//!   (global repair, §8.2.2.1);
//! - [x] non-storing: DAO with Transit Information (parent address) to the root, DAO-ACK; the
//!   root's [`routes::NonStoringTable`] (32 bytes per route) gives source routes and SRHs;
//! - [x] storing: per-hop [`routes::StoringTable`], DAO forwarding, No-Path DAO to the old
//!   parent, DCO down an invalidated path (RFC 9009), the sub-DODAG's recently refreshed
//!   targets re-advertised to a new parent; a route is replaced only by a newer Path Sequence
//!   (§7.2) or by an equal one that does not expire earlier, so copies of old refreshes held
//!   where a target used to be never pull its route back ([`routes::StoringTable::update`]);
//! - [x] router/leaf: DIS while unjoined, parent set and preferred parent with hysteresis
//!   (PARENT_SWITCH_THRESHOLD, RFC 6719 §3.4) and a hold-off between voluntary switches,
//!   link ETX from the link layer per DIO ([`RplNode::handle_message_with_link`]) or at any
//!   time ([`RplNode::set_link_etx`]), links above MAX_LINK_METRIC used only when no other
//!   parent qualifies, rank rules and MaxRankIncrease (§8.2.2.4), DAO with path sequence and lifetime, DAO-ACK wait and
//!   retry, loop avoidance in parent selection (never a neighbour of our own sub-DODAG in
//!   storing mode, never one ranked where a child of our advertised rank is, §3.5.1, §8.2.1;
//!   counted in [`Stats`]), rank rises of MinHopRankIncrease announced at once (Trickle
//!   reset, §8.3), parents refused by the link layer passed over
//!   ([`RplNode::reject_parent`]), local repair with INFINITE_RANK poisoning (§8.2.2.5), data-path validation with the
//!   O/R/F flags (§11.2), next-hop lookup;
//! - [x] route lifetimes expire; tables, queues and neighbour sets are bounded; DIS and DAO
//!   floods are rate-limited; malformed input is counted in [`Stats`];
//! - [x] route table view from the root in both modes ([`RplNode::route_views`]): for every
//!   node its address, default router list and routing table including hop routes. In storing
//!   mode the root learns parents from the optional Parent Address of Transit Information
//!   (`Config::storing_parent_address`).
//! - [ ] multiple instances / DODAGs at once, floating DODAGs, P2P-RPL, multicast (MOP 3
//!   behaves as MOP 2), Consistency Check exchanges.
//!
//! ## Run loop
//!
//! See [`RplNode`]: after each `handle_*` input or command, drain `poll_transmit`, then
//! `poll_event`, then read `poll_timeout`. Send each `Transmit` as ICMPv6 type 155 with its
//! code; route global destinations with [`RplNode::next_hop`] (and, at a non-storing root,
//! [`RplNode::build_srh`]); put [`RplNode::hbh_option`] in the packets the node originates and
//! check the option of every packet it forwards with [`RplNode::check_hbh`].

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

#[cfg(feature = "alloc")]
mod config;
pub mod consts;
mod error;
pub mod lollipop;
#[cfg(feature = "alloc")]
mod node;
pub mod of;
#[cfg(feature = "alloc")]
pub mod routes;
pub mod trickle;
pub mod wire;

#[cfg(test)]
mod test_gens;

#[cfg(feature = "alloc")]
pub use config::{Config, Role, RpiRank};
pub use error::{Error, Result};
pub use lollipop::SequenceCounter;
#[cfg(feature = "alloc")]
pub use node::{Event, HbhVerdict, NextHop, RplNode, Stats, Transmit};
pub use of::ObjectiveFunction;
pub use trickle::Trickle;
