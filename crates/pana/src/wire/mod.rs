//! Wire formats: views over byte buffers and owned/borrowing representations.
//!
//! # Contract (as in smoltcp's `wire`)
//!
//! Every view (`Message`, `Avp`, `Packet`) wraps a buffer without copying it. `new_unchecked`
//! does nothing; `check_len` validates every length a getter reads (for [`Message`] this walks
//! the whole AVP area); `new_checked` does both. Once `check_len` has returned `Ok`, no getter
//! panics. A setter that changes a length field voids that guarantee, and its doc says so.
//!
//! Every `…Repr` has `parse` (semantic checks, never panics after `new_checked`), `buffer_len`
//! (the exact number of bytes `emit` writes) and `emit` (cannot fail on a buffer of exactly
//! `buffer_len` bytes; it writes through `new_unchecked`, so stale bytes in a reused buffer never
//! influence the result).
//!
//! This module needs no allocator.

pub mod avp;
pub mod eap;
pub mod eap_psk;
pub mod keywrap;
pub mod message;

pub use avp::{
    Avp, AvpCode, AvpIter, AvpRepr, EncryptionAlgorithm, IntegrityAlgorithm, PrfAlgorithm,
    ResultCode, TerminationCause,
};
pub use eap::{EapCode, EapRepr, EapType, Packet};
pub use eap_psk::{PskFlags, PskRepr, PskResult};
pub use keywrap::{NetworkKeyRepr, ZIGBEE_VENDOR_ID};
pub use message::{Flags, Message, MessageBuilder, MessageRepr, MessageType};

/// Reads a big-endian `u16` at `off` (caller guarantees the range).
#[allow(clippy::indexing_slicing)] // callers pass offsets validated by `check_len`
pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

/// Reads a big-endian `u32` at `off` (caller guarantees the range).
#[allow(clippy::indexing_slicing)] // callers pass offsets validated by `check_len`
pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// `n` rounded up to a multiple of 4 (AVP padding, RFC 5191 §6.3), saturating.
pub(crate) const fn pad4(n: usize) -> usize {
    n.saturating_add(3) & !3
}
