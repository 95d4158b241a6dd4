//! The sans-IO IEEE 802.15.4 MAC state machine (802.15.4-2020 clause 6, non-beacon-enabled PAN).
//!
//! [`Mac`] implements:
//! - the data service (§6.7): a bounded transmit queue, data sequence numbers, immediate ACKs
//!   requested for unicast frames, ACK wait (`macAckWaitDuration`) and up to `macMaxFrameRetries`
//!   retransmissions (§6.7.4), unslotted CSMA-CA (§6.2.5.1, [`csma`]), duplicate rejection per
//!   neighbour by sequence number, and immediate ACKs built in software when the radio does not
//!   send them itself ([`RadioCaps::auto_ack`]);
//! - active scan (§6.3.1): a Beacon Request on each channel, beacons collected as
//!   [`PanDescriptor`]s, with a selection hook ([`scan::PanSelector`]);
//! - a rate-limited beacon responder for routers and the PAN coordinator, advertising the
//!   [`beacon_payload`] (ZigBee IP layout plus amimesh TLVs);
//! - link-layer security per a caller policy ([`SecurityPolicy`]), replay checks on input, and
//!   [`RxSecurity`] on every received frame;
//! - per-neighbour link statistics with ETX for RPL's MRHOF ([`link_stats`]);
//! - [`Stats`]: a counter for every reason a frame is dropped.
//!
//! The radio is driven through values ([`radio`]): timing comes from a [`PhyProfile`].
//!
//! # Supported
//!
//! - [x] PHY profiles: 2450 MHz O-QPSK (250 kb/s), 920 MHz SUN FSK (100 kb/s) ([`phy`])
//! - [x] unslotted CSMA-CA with `macMinBE`/`macMaxBE`/`macMaxCSMABackoffs` (§6.2.5.1)
//! - [x] immediate ACK request, `macAckWaitDuration`, `macMaxFrameRetries` (§6.7.4)
//! - [x] software immediate ACKs, or radios that ACK by themselves ([`RadioCaps::auto_ack`])
//! - [x] FCS in the radio or in software ([`RadioCaps::software_fcs`])
//! - [x] duplicate rejection by (source, sequence number), bounded per-neighbour table
//! - [x] reception filtering by PAN and address (§6.7.2)
//! - [x] active scan with Beacon Requests, `ScanDuration` or a fixed dwell (§6.3.1)
//! - [x] beacon responder for non-beacon-enabled PANs, rate-limited
//! - [x] ZigBee IP beacon payload with amimesh TLVs ([`beacon_payload`])
//! - [x] security per policy, key id mode 1, ENC-MIC-32 by default; replay table; frame-counter
//!   reservations reported as events (§9.2)
//! - [x] ETX per neighbour for MRHOF (RFC 6719) ([`link_stats`])
//! - [x] secured frames from a short source address, with a short→extended mapping given by
//!   the caller ([`Mac::add_device`]); the MAC itself sends data from its extended address
//! - [x] receiver-directed channels: a home channel per node, unicast on the destination's,
//!   broadcast on every channel of the plan ([`channels`])
//! - [ ] beacon-enabled PANs, slotted CSMA-CA, GTS, indirect transmission (frame pending)
//! - [ ] association / disassociation commands (the amimesh join uses PANA and MLE instead)
//! - [ ] energy-detect and passive scans
//! - [ ] TSCH, CSL, RIT (802.15.4-2015 MAC behaviours)
//!
//! # Run loop
//!
//! After **every** input (`handle_frame`, `handle_tx_done`, `handle_timeout`) or command (`send`,
//! `start_scan`, …) the caller drains [`Mac::poll_transmit`] until it returns `None`, then
//! [`Mac::poll_event`] until it returns `None`, and only then reads [`Mac::poll_timeout`] and
//! arms its timer. `now` must never go backwards.
//!
//! ```
//! use amimesh_core::{ExtAddr, Instant, LinkAddr, ShortAddr};
//! use amimesh_mac::mac::{Config, DataRequest, Event, Mac, RadioOp, TxResult, TxStatus};
//! use amimesh_mac::mac::RadioCaps;
//!
//! let mut cfg = Config::new(ExtAddr::from_u64(1));
//! cfg.caps = RadioCaps { auto_ack: true, software_fcs: false }; // the radio ACKs and checks FCS
//! let mut mac = Mac::new(cfg);
//! let mut buf = [0u8; 127];
//! let mut now = Instant::ZERO;
//! mac.send(now, DataRequest::new(7, LinkAddr::Short(ShortAddr(2)), b"hello"))?;
//! let mut delivered = false;
//! while !delivered {
//!     // 1. Drain the radio operations.
//!     while let Some(op) = mac.poll_transmit(now, &mut buf) {
//!         match op {
//!             // A real driver sends buf[..tx.len] at tx.at and reports later; this radio
//!             // reports success at once.
//!             RadioOp::Transmit(tx) => mac.handle_tx_done(tx.at, TxResult::Ok { frame_pending: false }),
//!             RadioOp::Listen { .. } | RadioOp::Off => { /* set the receiver */ }
//!         }
//!     }
//!     // 2. Drain the events.
//!     while let Some(ev) = mac.poll_event() {
//!         if let Event::TxDone { handle: 7, status, .. } = ev {
//!             assert_eq!(status, TxStatus::Success);
//!             delivered = true;
//!         }
//!     }
//!     // 3. Sleep until the next deadline (a CSMA backoff here), then fire the timers.
//!     if let Some(t) = mac.poll_timeout() {
//!         now = now.max(t);
//!         mac.handle_timeout(now);
//!     }
//! }
//! # Ok::<(), amimesh_mac::Error>(())
//! ```

pub mod beacon_payload;
pub mod channels;
pub mod csma;
#[cfg(feature = "alloc")]
mod frame_io;
pub mod link_security;
pub mod link_stats;
pub mod phy;
pub mod radio;
pub mod scan;
#[cfg(test)]
mod test_gens;

#[cfg(feature = "alloc")]
mod machine;

#[cfg(feature = "alloc")]
pub use machine::{
    Config, DataRequest, Event, MAX_SCAN_CHANNELS, Mac, RxFrame, ScanRequest, Stats, TxStatus,
};

pub use crate::error::{Error, Result};
pub use beacon_payload::{BeaconPayload, BeaconPayloadRepr, RoutingHint};
pub use channels::ChannelPlan;
pub use csma::CsmaParams;
pub use link_security::{RxSecurity, SecurityPolicy, TxSecurity};
pub use link_stats::LinkStats;
pub use phy::PhyProfile;
pub use radio::{RadioCaps, RadioOp, RxMeta, Transmit, TxKind, TxResult};
pub use scan::{DefaultSelector, PanDescriptor, PanSelector, ScanDuration, select_pan};
