//! The sans-IO IEEE 802.15.4 MAC state machine.

pub mod beacon_payload;
pub mod csma;
pub mod error;
pub mod link_stats;
pub mod phy;
pub mod radio;
#[cfg(test)]
mod test_gens;
