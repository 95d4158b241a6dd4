//! The crate's error type.

/// What went wrong while parsing, emitting or commanding.
///
/// Three kinds are kept apart: the peer sent something malformed (`Truncated`, `BadLength`,
/// `Malformed`, …), the caller misused the API (`NotJoined`, `WrongState`) and a local limit was
/// hit (`BufferTooSmall`, `TableFull`, `NoRoute`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before a field that must be there.
    #[error("truncated: needed {needed} bytes, got {got}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// A length field has a value the structure does not allow.
    #[error("bad length")]
    BadLength,
    /// A field holds a value the specification forbids.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// The ICMPv6 code is not an RPL message this crate knows how to parse.
    #[error("unsupported RPL code {0:#04x}")]
    UnsupportedCode(u8),
    /// The output buffer is too small.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// Bytes required.
        required: usize,
    },
    /// The node has not joined a DODAG yet.
    #[error("not joined")]
    NotJoined,
    /// The command is not valid in the node's current role or state.
    #[error("wrong state")]
    WrongState,
    /// A configured table is full.
    #[error("table full")]
    TableFull,
    /// No route to the destination.
    #[error("no route")]
    NoRoute,
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// `Err(Truncated)` unless `buf` holds at least `needed` bytes.
pub(crate) fn need(buf: &[u8], needed: usize) -> Result<()> {
    if buf.len() < needed {
        Err(Error::Truncated {
            needed,
            got: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// `Err(BufferTooSmall)` unless `buf` holds at least `required` bytes.
pub(crate) fn room(buf: &[u8], required: usize) -> Result<()> {
    if buf.len() < required {
        Err(Error::BufferTooSmall { required })
    } else {
        Ok(())
    }
}
