//! The crate's error type.
//!
//! Three kinds are kept apart (STYLE §4): the peer sent something malformed or unauthentic
//! (`Truncated`, `BadLength`, `BadTlvLength`, `BadMic`, …; dropped and counted by [`MleNode`]),
//! the caller misused the API (`NoKey`), or a local limit was hit
//! (`BufferTooSmall`, `QueueFull`, `TableFull`).
//!
//! [`MleNode`]: crate::MleNode

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ends before a field that must be present.
    #[error("truncated: needed {needed} bytes, got {got}")]
    Truncated {
        /// Bytes needed to read the field.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// A TLV of a known type has a length its definition does not allow.
    #[error("TLV type {tlv_type} has invalid length {length}")]
    BadTlvLength {
        /// The TLV type.
        tlv_type: u8,
        /// The length field.
        length: u8,
    },
    /// The security suite byte is neither 0 (802.15.4 security) nor 255 (none).
    #[error("unknown MLE security suite {0}")]
    UnknownSecuritySuite(u8),
    /// The auxiliary security header uses a security level or key identifier mode that MLE
    /// cannot use (level 0, or key id mode 0 which has no key to select).
    #[error("unsupported security parameters: {0}")]
    UnsupportedSecurity(&'static str),
    /// The message integrity code did not verify.
    #[error("MIC did not verify")]
    BadMic,
    /// A structural rule was broken.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// The output buffer is too small.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// Bytes the operation needs.
        required: usize,
    },
    /// No key is installed for the requested key index (or none at all for sending).
    #[error("no key")]
    NoKey,
    /// A bounded queue is full.
    #[error("queue full")]
    QueueFull,
    /// A bounded table is full.
    #[error("table full")]
    TableFull,
    /// An error of the 802.15.4 security layer (auxiliary security header, CCM*).
    #[error("802.15.4 security: {0}")]
    Mac(#[from] amimesh_mac::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
