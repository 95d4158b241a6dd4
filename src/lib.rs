//! amimesh: sans-IO protocol crates for smart-meter mesh networks and a portable field relay.
//!
//! This facade re-exports the workspace crates under short names. See the README for the crate
//! map and the two flows (work session, meter join) that the crates serve.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use amimesh_core as core;
pub use amimesh_device as device;
pub use amimesh_mac as mac;
pub use amimesh_mle as mle;
pub use amimesh_pana as pana;
pub use amimesh_pana_relay as pana_relay;
pub use amimesh_rpl as rpl;
/// The simulator (std only).
#[cfg(feature = "std")]
pub use amimesh_sim as sim;
pub use amimesh_sixlowpan as sixlowpan;
