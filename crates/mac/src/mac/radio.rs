//! The radio interface, as plain values.
//!
//! The MAC never drives a radio. It asks for radio operations through
//! [`Mac::poll_transmit`](super::Mac::poll_transmit), which returns a [`RadioOp`], and it is told
//! what happened through [`Mac::handle_tx_done`](super::Mac::handle_tx_done) (a [`TxResult`]) and
//! [`Mac::handle_frame`](super::Mac::handle_frame) (a PSDU with its [`RxMeta`]).
//!
//! Contract for the code that drives the radio:
//! - A [`RadioOp::Transmit`] asks: at instant `at`, on `channel`, perform CCA if `cca` is set
//!   (report [`TxResult::ChannelBusy`] if the channel is busy), then send the `len` bytes the MAC
//!   wrote into the caller's buffer, then come back to the listening state it was in. The MAC
//!   has at most one transmit outstanding; every transmit is answered by exactly one
//!   [`handle_tx_done`](super::Mac::handle_tx_done), at the end of the operation.
//! - By default the bytes are the MPDU without FCS: the radio appends the FCS on transmit and
//!   checks and strips it on receive. With [`RadioCaps::software_fcs`] the MAC appends the FCS
//!   (CRC-16, or CRC-32 on a PHY with a 4-octet FCS, 802.15.4-2020 §7.2.11) and expects
//!   received PSDUs to end with it.
//! - With [`RadioCaps::auto_ack`] the radio itself answers frames that request an ACK and waits
//!   for the ACK of its own frames, reporting [`TxResult::NoAck`]. Without it the MAC builds
//!   ACKs in software (sent `aTurnaroundTime` after the end of the received frame) and runs the
//!   `macAckWaitDuration` timer itself.
//! - [`RadioOp::Listen`] and [`RadioOp::Off`] set the idle state of the receiver.

use amimesh_core::{Instant, LinkAddr};

/// What the radio can do on its own.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RadioCaps {
    /// The radio sends immediate ACKs for received frames with the AR bit, and waits for the
    /// ACK of its own frames, reporting [`TxResult::NoAck`] when none arrives.
    pub auto_ack: bool,
    /// The radio neither appends nor checks the FCS: the MAC does (transmitted and received
    /// PSDUs include it).
    pub software_fcs: bool,
}

/// Why a frame is being transmitted.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    /// A data frame from the queue.
    Data,
    /// An immediate ACK built in software.
    Ack,
    /// A beacon (answer to a beacon request).
    Beacon,
    /// A beacon request (active scan).
    BeaconRequest,
}

/// A transmission the radio is asked to perform.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// When to start (CCA, if requested, starts here).
    pub at: Instant,
    /// Channel number.
    pub channel: u8,
    /// Perform CCA first and give up with [`TxResult::ChannelBusy`] if the medium is busy.
    pub cca: bool,
    /// Number of bytes written into the caller's buffer.
    pub len: usize,
    /// What the frame is.
    pub kind: TxKind,
    /// The frame requests an ACK (the radio waits for it when it has [`RadioCaps::auto_ack`]).
    pub ack_request: bool,
    /// The MAC sequence number of the frame.
    pub seq: u8,
    /// The link-layer destination.
    pub dst: LinkAddr,
}

/// One radio operation requested by the MAC.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadioOp {
    /// Perform a (CCA and) transmission; see [`Transmit`].
    Transmit(Transmit),
    /// Keep the receiver on, on this channel, when not transmitting.
    Listen {
        /// Channel number.
        channel: u8,
    },
    /// Switch the receiver off when not transmitting.
    Off,
}

/// The outcome of the outstanding [`RadioOp::Transmit`].
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxResult {
    /// The frame was sent (and, with [`RadioCaps::auto_ack`] and AR set, acknowledged).
    Ok {
        /// The frame-pending bit of the ACK (auto-ACK radios only; `false` otherwise).
        frame_pending: bool,
    },
    /// CCA found the channel busy; nothing was sent.
    ChannelBusy,
    /// Auto-ACK radios only: the frame was sent but no ACK arrived in `macAckWaitDuration`.
    NoAck,
}

/// Reception metadata delivered with a PSDU.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta {
    /// When the last symbol of the frame was received.
    pub at: Instant,
    /// Link quality indicator (802.15.4-2020 §10.2.6), 0–255.
    pub lqi: u8,
    /// Received signal strength in dBm.
    pub rssi: i8,
    /// The channel it was received on.
    pub channel: u8,
}
