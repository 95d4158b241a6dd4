//! The one error type of this crate.

/// Everything that can go wrong while parsing, emitting, securing or unsecuring a frame.
///
/// Three kinds are kept apart (STYLE §4): the peer sent something malformed or unauthentic
/// (`Truncated`, `Malformed`, `BadFcs`, `BadMic`, `Replay`, …, usually dropped and counted), the
/// caller misused the API (`Invalid`, `BufferTooSmall`, `NotSecured`), or a local limit or
/// missing configuration was hit (`NoKey`, `TableFull`, `CounterExhausted`, `NoExtendedSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before a field that its earlier fields announce.
    #[error("truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The output buffer is too small for what is to be written.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// Bytes required.
        required: usize,
    },
    /// The PSDU is longer than the configured maximum (aMaxPhyPacketSize or the SUN limit).
    #[error("PSDU of {len} bytes exceeds the maximum of {max}")]
    TooLong {
        /// PSDU length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The frame check sequence does not match (802.15.4-2020 §7.2.11).
    #[error("bad FCS")]
    BadFcs,
    /// The message integrity code does not verify (802.15.4-2020 §9.3.5).
    #[error("bad MIC")]
    BadMic,
    /// A frame type this crate does not decode (reserved, multipurpose, fragment, extended).
    #[error("unsupported frame type {0}")]
    UnsupportedFrameType(u8),
    /// Frame version 3 (reserved).
    #[error("unsupported frame version {0}")]
    UnsupportedVersion(u8),
    /// A field holds a value the standard reserves or forbids.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// The caller asked for something inconsistent (e.g. a Repr whose fields contradict).
    #[error("invalid: {0}")]
    Invalid(&'static str),
    /// Security processing was asked for on a frame whose Security Enabled bit is clear.
    #[error("frame is not secured")]
    NotSecured,
    /// No key matches the frame's key identifier (802.15.4-2020 §9.2.2 KeyDescriptor lookup).
    #[error("no key for this key identifier")]
    NoKey,
    /// The nonce needs the originator's extended address and it is not known.
    #[error("extended source address unknown")]
    NoExtendedSource,
    /// The frame counter is suppressed (TSCH ASN nonce), which this crate does not support.
    #[error("frame counter suppressed")]
    FrameCounterSuppressed,
    /// The frame counter is not above the last one accepted from this neighbour under this key.
    #[error("replayed frame counter {frame_counter}")]
    Replay {
        /// The rejected frame counter.
        frame_counter: u32,
    },
    /// The outgoing frame counter reached 0xffffffff (802.15.4-2020 §9.2.1 step d).
    #[error("frame counter exhausted")]
    CounterExhausted,
    /// A bounded table is full.
    #[error("table full")]
    TableFull,
}

/// The result type of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Checks that `buf` holds at least `needed` bytes.
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
