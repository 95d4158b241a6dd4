//! The crate's error type.

/// Everything that can go wrong in this crate.
///
/// Three kinds are kept apart: the peer sent something malformed (`Truncated`, `BadLength`,
/// `Malformed`, `BadAuth`, `BadMac`), the caller misused the API (`WrongState`, `NoSession`), or a
/// local limit was hit (`BufferTooSmall`, `TableFull`, `RateLimited`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than a field needs.
    #[error("truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// A length field disagrees with the buffer (RFC 5191 §6.2 Message Length, §6.3 AVP Length,
    /// RFC 3748 §4 Length).
    #[error("length field disagrees with the data")]
    BadLength,
    /// A field holds a value the spec forbids.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// The output buffer is too small.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// Bytes required.
        required: usize,
    },
    /// AUTH AVP missing or wrong (RFC 5191 §5.4).
    #[error("AUTH verification failed")]
    BadAuth,
    /// An EAP-PSK MAC or EAX tag did not verify (RFC 4764 §3).
    #[error("EAP-PSK MAC or tag verification failed")]
    BadMac,
    /// An algorithm this implementation does not support.
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(u32),
    /// The command is not valid in the current state.
    #[error("not valid in the current state")]
    WrongState,
    /// No session with that identifier.
    #[error("no such session")]
    NoSession,
    /// A bounded table or queue is full.
    #[error("table full")]
    TableFull,
    /// The new-session rate limit refused the request.
    #[error("rate limited")]
    RateLimited,
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
