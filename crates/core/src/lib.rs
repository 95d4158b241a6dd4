//! Shared foundations for the amimesh protocol crates.
//!
//! This crate holds no protocol logic. It provides the vocabulary every layer shares:
//!
//! - [`time`]: [`Instant`] and [`Duration`] in microseconds. Protocol crates never read a clock;
//!   the caller passes `now` into every input.
//! - [`rand`]: [`Rng`], a seeded, reproducible non-cryptographic PRNG for jitter, backoff, Trickle
//!   and initial sequence numbers. Cryptographic randomness comes from a caller-supplied
//!   [`rand_core::CryptoRng`] instead.
//! - [`addr`]: IEEE 802.15.4 addressing: [`ExtAddr`] (EUI-64), [`ShortAddr`], [`PanId`] and the
//!   [`LinkAddr`] union, with conversion to IPv6 interface identifiers (RFC 4944 §6, RFC 6282 §3.2.2).
//! - [`key`]: [`Key128`] and [`Secret`], key material that zeroizes on drop, compares in
//!   constant time and never prints its bytes.
//! - [`bounded`]: collections with a capacity fixed at construction; inserting into a full one
//!   returns an error instead of growing.
//! - [`enum_with_unknown!`]: code-point enums that keep unknown values so that a parse→emit round
//!   trip is lossless.
//!
//! `#![no_std]` always; the `alloc` feature enables [`bounded`].

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod addr;
#[cfg(any(test, feature = "alloc"))]
pub mod bounded;
pub mod key;
mod macros;
pub mod rand;
pub mod time;

pub use addr::{ExtAddr, LinkAddr, PanId, ShortAddr};
pub use key::{Key128, Secret};
pub use rand::Rng;
pub use time::{Duration, Instant};

/// Re-export of [`rand_core`], so that callers and protocol crates name the same trait versions.
pub use rand_core;
/// Re-export of [`subtle`].
pub use subtle;
/// Re-export of [`zeroize`].
pub use zeroize;
