//! IEEE 802.15.4 MAC for amimesh.
//!
//! The [`mac`] module holds the sans-IO MAC state machine (802.15.4-2020 clause 6): active
//! scan, beacon responder, data service with ACK/retry and unslotted CSMA-CA, and per-neighbour
//! link statistics.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod mac;
