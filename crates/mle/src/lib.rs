//! Mesh Link Establishment (MLE) for amimesh.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod error;
pub mod security;
pub mod trickle;
pub mod wire;

pub use error::{Error, Result};
#[cfg(test)]
mod test_gens;
