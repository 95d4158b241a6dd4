//! The crate's error type.

/// Everything that can go wrong in this crate.
///
/// Every variant says how a peer's datagram was malformed; the PRE counts them in its stats
/// (local limits are counted there too, never returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The PANA message or its PANA-Relay AVPs are malformed (amimesh-pana's codec said so).
    #[error("PANA: {0}")]
    Pana(#[from] amimesh_pana::Error),
    /// A PANA-Relay header rule of RFC 6345 §4.1 is broken.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A PANA-Relay message where a plain PANA message must be (RFC 6345 §2: one PRE at most).
    #[error("relayed message is itself a PANA-Relay message")]
    NestedRelay,
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
