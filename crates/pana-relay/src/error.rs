//! The crate's error type.

/// Everything that can go wrong in this crate.
///
/// As in `amimesh-pana`, three kinds are kept apart: the peer sent something malformed
/// (`Pana`, `Malformed`, `NestedRelay`, `BadPacInformation`), the caller misused the API
/// (none yet), or a local limit was hit (`BufferTooSmall`, `TooLong`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The PANA message itself is malformed (header, lengths, AVP layout).
    #[error("PANA: {0}")]
    Pana(#[from] amimesh_pana::Error),
    /// A PANA-Relay rule of RFC 6345 is broken.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A PANA-Relay message inside a PANA-Relay message (RFC 6345 §2: one PRE at most).
    #[error("relayed message is itself a PANA-Relay message")]
    NestedRelay,
    /// PaC-Information is neither 18 (IPv6) nor 6 (IPv4) bytes (RFC 6345 §5.1).
    #[error("PaC-Information of {0} bytes")]
    BadPacInformation(usize),
    /// The output buffer is too small.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// Bytes required.
        required: usize,
    },
    /// The message does not fit the configured or wire limit.
    #[error("message too long: {len} bytes, at most {max}")]
    TooLong {
        /// Length of the message.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
