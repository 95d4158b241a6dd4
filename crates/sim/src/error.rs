//! The simulator's error type.

use crate::NodeId;
use amimesh_core::Instant;

/// Everything that can go wrong when building or running a simulation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`Sim::drive_bounded`](crate::Sim::drive_bounded) did not reach quiescence in the allowed
    /// number of steps.
    #[error("livelock: still busy after {steps} steps (virtual time {at})")]
    Livelock {
        /// Steps taken.
        steps: u64,
        /// Virtual time when it gave up.
        at: Instant,
    },
    /// More than [`SimConfig::max_steps_per_instant`](crate::SimConfig::max_steps_per_instant)
    /// events happened without the virtual clock moving: some node keeps asking to be woken
    /// at the current instant.
    #[error("stuck: {steps} events at {at} without the clock advancing")]
    Stuck {
        /// Events processed at this instant.
        steps: u64,
        /// The instant.
        at: Instant,
    },
    /// A node id outside the simulation.
    #[error("no node {0}")]
    NoSuchNode(NodeId),
    /// A layout with no node, or a node count that does not match the layout.
    #[error("layout has {positions} positions for {nodes} nodes")]
    LayoutMismatch {
        /// Positions in the layout.
        positions: usize,
        /// Nodes given.
        nodes: usize,
    },
    /// No random layout with the requested properties was found.
    #[error("no connected layout reaching {min_hops} hops found in {attempts} attempts")]
    NoLayout {
        /// The hop count asked for.
        min_hops: u32,
        /// Layouts tried.
        attempts: u32,
    },
    /// A scenario parameter out of range.
    #[error("invalid scenario: {0}")]
    InvalidScenario(&'static str),
    /// The scenario file is not valid TOML for a [`Scenario`](crate::Scenario).
    #[error("scenario file: {0}")]
    Toml(#[from] toml::de::Error),
    /// Reading a scenario or writing an output failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The pcap writer failed.
    #[error("pcap: {0}")]
    Pcap(#[from] pcap_file::PcapError),
}

/// `Result` with the simulator's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
