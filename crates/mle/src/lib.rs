//! Mesh Link Establishment (MLE) for amimesh.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod config;
mod error;
#[cfg(feature = "alloc")]
pub mod node;
pub mod security;
pub mod trickle;
pub mod wire;

pub use config::Config;
pub use error::{Error, Result};
#[cfg(feature = "alloc")]
pub use node::{Event, MleNode, Neighbour, NeighbourState, RxMeta, Stats, Transmit};
#[cfg(test)]
mod test_gens;
