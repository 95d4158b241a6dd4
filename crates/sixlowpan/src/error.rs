//! The crate's error type.

/// Everything that can go wrong while parsing, emitting, compressing or fragmenting.
///
/// Three kinds are kept apart: input that is malformed ([`Error::Truncated`], [`Error::BadLength`],
/// [`Error::BadChecksum`], [`Error::UnsupportedVersion`], [`Error::UnknownDispatch`],
/// [`Error::Reserved`]); input that needs state the caller did not supply
/// ([`Error::UnknownContext`], [`Error::NoLinkAddress`]); and local limits
/// ([`Error::BufferTooSmall`], [`Error::TooDeep`], [`Error::DatagramTooLarge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The input ends before a field that must be there.
    #[error("truncated: needed {needed} bytes, got {got}")]
    Truncated {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The output buffer is too small.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// Bytes the output needs.
        required: usize,
    },
    /// IP version other than 6.
    #[error("unsupported IP version {0}")]
    UnsupportedVersion(u8),
    /// A length field disagrees with the data around it.
    #[error("length field inconsistent with the data")]
    BadLength,
    /// A checksum does not verify.
    #[error("bad checksum")]
    BadChecksum,
    /// A 6LoWPAN dispatch value this crate does not handle (RFC 4944 §5.1).
    #[error("unknown or unsupported dispatch 0x{0:02x}")]
    UnknownDispatch(u8),
    /// A reserved encoding (RFC 6282 reserved address modes, NHC identifiers).
    #[error("reserved encoding: {0}")]
    Reserved(&'static str),
    /// Stateful compression refers to a context the caller did not configure.
    #[error("context {0} not configured")]
    UnknownContext(u8),
    /// An address is elided but no link-layer (or encapsulating) address is known to rebuild it.
    #[error("elided address without a link-layer address")]
    NoLinkAddress,
    /// More nested or chained headers than this crate processes.
    #[error("too many chained headers")]
    TooDeep,
    /// A datagram larger than RFC 4944 fragmentation can carry (2047 bytes) or than the
    /// reassembler accepts.
    #[error("datagram of {0} bytes too large")]
    DatagramTooLarge(usize),
}

/// The crate's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// `Err(Truncated)` unless `buf` has at least `needed` bytes.
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

/// `Err(BufferTooSmall)` unless `buf` has at least `required` bytes.
pub(crate) fn room(buf: &[u8], required: usize) -> Result<()> {
    if buf.len() < required {
        Err(Error::BufferTooSmall { required })
    } else {
        Ok(())
    }
}
