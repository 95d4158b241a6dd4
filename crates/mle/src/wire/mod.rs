//! MLE wire formats: views and Reprs, no state, no allocation.
//!
//! - [`command`]: the command type byte.
//! - [`tlv`]: TLVs, their iterator and a writer.
//! - [`message`]: the UDP payload (security suite, auxiliary security header, body, MIC).
//!
//! Contract (as in smoltcp `wire`): once a view's `check_len` (or `new_checked`) returned `Ok`,
//! none of its getters can panic. Reprs `emit` through `new_unchecked` into a buffer of exactly
//! `buffer_len()` bytes. All MLE integers are big-endian; the auxiliary security header keeps
//! 802.15.4's little-endian frame counter.

pub mod command;
pub mod message;
pub mod tlv;

use crate::{Error, Result};

fn array<const N: usize>(b: &[u8]) -> Result<[u8; N]> {
    b.get(..N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(Error::Truncated {
            needed: N,
            got: b.len(),
        })
}

/// Reads a big-endian `u16` from the start of `b`.
pub(crate) fn read_u16(b: &[u8]) -> Result<u16> {
    array(b).map(u16::from_be_bytes)
}

/// Reads a big-endian `u32` from the start of `b`.
pub(crate) fn read_u32(b: &[u8]) -> Result<u32> {
    array(b).map(u32::from_be_bytes)
}

/// Reads a big-endian `u64` from the start of `b`.
pub(crate) fn read_u64(b: &[u8]) -> Result<u64> {
    array(b).map(u64::from_be_bytes)
}
