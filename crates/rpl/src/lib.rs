//! RPL, the IPv6 Routing Protocol for Low-Power and Lossy Networks (RFC 6550), sans-IO.
//!
//! This crate works on ICMPv6 type-155 bodies (the ICMPv6 code plus the bytes after the 4-byte
//! ICMPv6 header) with `core::net::Ipv6Addr` source and destination; checksums are the IPv6
//! layer's job. It never touches sockets or clocks: time is an [`amimesh_core::Instant`]
//! argument and randomness comes from an [`amimesh_core::Rng`] seeded by the configuration.
//!
//! PLACEHOLDER_DOCS

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
pub use config::{Config, Role};
pub use error::{Error, Result};
pub use lollipop::SequenceCounter;
#[cfg(feature = "alloc")]
pub use node::{Event, HbhVerdict, NextHop, RplNode, Stats, Transmit};
pub use of::ObjectiveFunction;
pub use trickle::Trickle;
