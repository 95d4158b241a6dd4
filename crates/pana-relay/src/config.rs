//! PRE configuration.

use crate::limiter::RateLimit;
use amimesh_core::Duration;
use core::net::Ipv6Addr;

/// The PANA UDP port (RFC 5191 §6.1), as `amimesh-pana` defines it.
pub use amimesh_pana::PANA_PORT;

/// PRE configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// The PAA's address (RFC 6345 §2: configured on the PRE).
    pub paa: Ipv6Addr,
    /// The PAA's port (716).
    pub paa_port: u16,
    /// The PRE's own PANA port: PaCs send to it and it is the source port of every datagram
    /// the PRE sends (716).
    pub local_port: u16,
    /// Per-neighbour limit on PaC messages relayed to the PAA.
    pub per_neighbour: RateLimit,
    /// Limit on all PaC messages relayed to the PAA together.
    pub total: RateLimit,
}

impl RelayConfig {
    /// Port 716 on both sides; per neighbour 10 messages back to back (a whole EAP-PSK
    /// authentication is about 6 PaC messages) then one every 500 ms; in total 50 back to back
    /// then 20 per second.
    pub const fn new(paa: Ipv6Addr) -> Self {
        RelayConfig {
            paa,
            paa_port: PANA_PORT,
            local_port: PANA_PORT,
            per_neighbour: RateLimit {
                burst: 10,
                interval: Duration::from_millis(500),
            },
            total: RateLimit {
                burst: 50,
                interval: Duration::from_millis(50),
            },
        }
    }
}
