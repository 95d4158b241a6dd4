//! Errors of the device layer: the crate errors it passes on, and its own.

/// Result with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The MAC refused a command.
    #[error("mac: {0}")]
    Mac(#[from] amimesh_mac::mac::Error),
    /// PANA refused a command.
    #[error("pana: {0}")]
    Pana(#[from] amimesh_pana::Error),
    /// MLE refused a command.
    #[error("mle: {0}")]
    Mle(#[from] amimesh_mle::Error),
    /// RPL refused a command.
    #[error("rpl: {0}")]
    Rpl(#[from] amimesh_rpl::Error),
    /// The command does not fit the current phase.
    #[error("wrong state")]
    WrongState,
    /// An identity that EAP-PSK cannot carry.
    #[error("bad identity")]
    BadIdentity,
}
