//! Test support shared by the amimesh test suites (dev-dependency only, never shipped).
//!
//! The interop tests prove that other implementations read what our crates write and that we
//! read what they write. This crate holds the scaffolding those tests share:
//!
//! - [`oracle`]: the external tools (tshark, python3 with scapy) are required, never optional:
//!   a missing oracle fails the test with a message saying how to install it.
//! - [`temp`]: unique paths in the temp dir and files that remove themselves.
//! - [`pcap`]: classic pcap files for a given link type (229 raw IPv6, 195/230 802.15.4 with
//!   or without FCS, 283 802.15.4 TAP) and TAP records.
//! - [`tshark`]: a [`Tshark`](tshark::Tshark) command builder (preferences, key rows,
//!   decode-as, disabled dissectors) returning per-frame field [`Row`](tshark::Row)s or the
//!   JSON packet list, plus helpers to read values from tshark's output.
//! - [`scapy`]: runs a Python snippet or script that uses scapy and returns its stdout.
//! - [`ip`]: IPv6 headers, UDP datagrams and ICMPv6 messages with their checksums
//!   (RFC 8200 §8.1 pseudo-header, RFC 768, RFC 4443 §2.3) to feed test inputs.
//! - [`wpan`]: minimal IEEE 802.15.4 data frames and the CRC-16 FCS (802.15.4-2020 §7.2.11).
//! - [`rng`]: a seeded stand-in for the caller's CSPRNG, so protocol runs are repeatable.
//!
//! Builders here are written independently of the protocol crates, so a bug in a crate's own
//! emitter cannot cancel out in its tests.
//!
//! # Panics
//!
//! Every helper fails the calling test by panicking (a missing tool, a tool that exits with
//! an error, output that does not parse); that is the purpose of the crate.
//!
//! # Example
//!
//! ```no_run
//! use amimesh_testkit::{ip, pcap, tshark::Tshark};
//!
//! let src = "fe80::1".parse().unwrap();
//! let dst = "fe80::2".parse().unwrap();
//! let packet = ip::udp6(src, dst, 255, 716, 716, b"payload");
//! let file = pcap::write("example", pcap::LINKTYPE_IPV6, &[packet]);
//! let rows = Tshark::read(&file)
//!     .pref("udp.check_checksum", "TRUE")
//!     .fields(&["udp.srcport", "udp.checksum.status"]);
//! assert_eq!(rows[0].col("udp.checksum.status"), "1");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Test support: failing the calling test with a message is the intended behaviour.
#![allow(clippy::panic, clippy::expect_used)]

pub mod ip;
pub mod oracle;
pub mod pcap;
pub mod rng;
pub mod scapy;
pub mod temp;
pub mod tshark;
pub mod wpan;
