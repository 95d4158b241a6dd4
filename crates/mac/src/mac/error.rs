//! Errors of the MAC state machine and of the beacon-payload codec.

/// What went wrong.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ends before a field it announces: `needed` bytes, `got` available.
    #[error("truncated: needed {needed} bytes, got {got}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// A beacon payload with a protocol id other than ZigBee IP's (0x02).
    #[error("unsupported beacon protocol id {0:#04x}")]
    UnsupportedProtocol(u8),
    /// A structurally invalid field.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// The output buffer is too small.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// Bytes required.
        required: usize,
    },
    /// Local limit: the transmit queue is full (the request was dropped and counted).
    #[error("transmit queue full")]
    QueueFull,
    /// Local limit: the payload does not fit in one frame on this PHY.
    #[error("payload of {len} bytes too large (at most {max})")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
        /// Largest payload that fits.
        max: usize,
    },
    /// Local limit: security is required but no transmit key is installed.
    #[error("no transmit key")]
    NoKey,
    /// Local limit: the outgoing frame counter is exhausted (or could not be persisted); the
    /// key must be replaced.
    #[error("frame counter exhausted")]
    CounterExhausted,
    /// API misuse: the command is not valid in the current state (e.g. a scan is running).
    #[error("not allowed in the current state")]
    WrongState,
    /// API misuse: an argument is out of range (e.g. an empty channel list).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
