//! PANA (RFC 5191, RFC 5609) with EAP-PSK (RFC 4764) and network-key delivery (RFC 6786).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod crypto;
pub mod eap_psk;
pub mod error;
pub mod wire;

pub use error::{Error, Result};
pub mod client;
pub mod session;

pub use client::{
    ClientConfig, ClientEvent, ClientState, ClientStats, FailReason, PANA_PORT, PanaClient,
    Transmit,
};
pub use session::RtxParams;
#[cfg(feature = "alloc")]
pub mod agent;
#[cfg(feature = "alloc")]
pub use agent::{
    AgentConfig, AgentEvent, AgentStats, CloseReason, Credential, CredentialStatus,
    CredentialStore, MemoryStore, PanaAgent, SessionInfo, SessionState,
};
#[cfg(test)]
mod test_gens;
