//! IEEE 802.15.4 wire formats: views and Reprs, no state, no allocation.
//!
//! Each structure has a view over a byte buffer (`Frame`, `HeaderIe`, `PayloadIe`,
//! [`AuxSecurityHeader`]) and a decoded `…Repr`. The contract:
//!
//! - `new_unchecked` wraps a buffer; `check_len` validates every length that the structure's
//!   own fields announce; `new_checked` does both. Once `check_len` has returned `Ok`, no
//!   getter panics, whatever the bytes.
//! - `Repr::parse` decodes a view (calling `check_len` itself); `Repr::buffer_len` is the exact
//!   encoded length; `Repr::emit` writes into a caller buffer and never reads it first, so emit
//!   does not use `new_checked`.
//! - Malformed input is an [`crate::Error`], never a panic.

pub mod beacon;
pub mod command;
pub mod fcs;
pub mod frame;
pub mod ie;

pub use crate::security::{AuxSecurityHeader, AuxSecurityHeaderRepr};
pub use beacon::{BeaconRepr, GtsDescriptor, SuperframeSpec};
pub use command::{CommandId, MacCommandRepr};
pub use fcs::{FcsType, PsduConfig};
pub use frame::{AddressingMode, Frame, FrameRepr, FrameType, FrameVersion, pan_ids_present};
pub use ie::{
    HeaderElementId, HeaderIe, HeaderIeIter, HeaderIeRepr, HeaderTermination, NestedIeIter,
    NestedIeRepr, PayloadGroupId, PayloadIe, PayloadIeIter, PayloadIeRepr,
};
