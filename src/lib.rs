//! amimesh: sans-IO protocol crates for smart-meter mesh networks and a portable field relay.
//!
//! This facade re-exports the workspace crates under short names. See the README for the crate
//! map and the two flows (work session, meter join) that the crates serve.
//!
//! # Embedding a crate
//!
//! The protocol crates are `#![no_std]`; the wire layer needs no allocator. Verifying and
//! decrypting a secured 802.15.4 frame in place (IEEE 802.15.4 Annex C.2.2, level 4) takes a
//! fixed-size key table and the frame buffer:
//!
//! ```
//! use amimesh::mac::security::frame::{KeyTable, unsecure_frame};
//! use amimesh::mac::security::CcmKey;
//! use amimesh::core::Key128;
//!
//! let key = Key128::new([
//!     0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
//!     0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
//! ]);
//! let mut keys: KeyTable<1, 0> = KeyTable::new();
//! keys.add_key(None, CcmKey::new(&key)).unwrap(); // any key index
//!
//! let mut frame = include_bytes!("../crates/mac/testdata/annex_c_2_2_data_enc.bin").to_vec();
//! let out = unsecure_frame(&mut frame, &keys).unwrap();
//! assert_eq!(&frame[out.header_len..out.len], b"abcd");
//! assert_eq!(out.security.frame_counter, Some(5));
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use amimesh_core as core;
pub use amimesh_device as device;
pub use amimesh_mac as mac;
pub use amimesh_mle as mle;
pub use amimesh_pana as pana;
pub use amimesh_pana_relay as pana_relay;
pub use amimesh_rpl as rpl;
/// The simulator (std only).
#[cfg(feature = "std")]
pub use amimesh_sim as sim;
pub use amimesh_sixlowpan as sixlowpan;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
