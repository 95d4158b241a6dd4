//! IEEE 802.15.4 frames and link-layer security for amimesh.
//!
//! See the crate README section in the workspace README; the full checklist is below.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod error;
pub mod security;
pub mod wire;

#[cfg(test)]
mod test_gens;

pub use error::{Error, Result};
pub mod mac;
