//! 6LoWPAN for amimesh: IPv6, UDP and ICMPv6 codecs, RFC 6282 header compression, RFC 4944
//! framing, fragmentation and bounded reassembly. Sans-IO: no clocks, no sockets, no
//! allocation in the wire and compression code.
//!
//! # Layers
//! - [`wire`]: views and reprs — [`wire::ipv6`] (RFC 8200 §3), [`wire::ext`] (extension
//!   headers and options, RFC 8200 §4), [`wire::udp`] (RFC 768 with the RFC 8200 §8.1
//!   pseudo-header), [`wire::icmpv6`] (RFC 4443 §2.1), [`wire::lowpan`] (RFC 4944 §5.1 dispatch,
//!   §5.2 mesh, §5.3 fragment, §11.1 BC0), [`wire::iphc`] (RFC 6282 §3), [`wire::nhc`]
//!   (RFC 6282 §4), [`wire::lorh`] (RFC 8138 §6.3 RPI-6LoRH, §5.1 SRH-6LoRH and §7
//!   IP-in-IP 6LoRH behind the RFC 8025 §3 page switch).
//! - [`compress`](mod@compress): whole-packet IPHC/NHC compression choosing the smallest encoding, and its
//!   exact inverse.
//! - [`frag`]: the [`Fragmenter`] (RFC 4944 §5.3) for a caller-given per-frame payload budget.
//! - [`reassembly`] (feature `alloc`): the bounded [`Reassembler`].
//!
//! # Checklist
//! - [x] Dispatch classification (RFC 4944 §5.1; 0x7f is IPHC per RFC 6282 §5)
//! - [x] Uncompressed IPv6 (0x41)
//! - [x] FRAG1 / FRAGN, datagram tags, reassembly keyed by (source, destination, size, tag),
//!   60 s timeout (RFC 4944 §5.3)
//! - [x] Mesh header with 16/64-bit originator and final address, deep hops-left byte
//!   (RFC 4944 §5.2)
//! - [x] LOWPAN_BC0 (RFC 4944 §11.1)
//! - [x] IPHC: every TF, NH, HLIM mode; CID with SCI/DCI; SAC/SAM and DAC/DAM unicast modes
//!   (stateless and stateful, including the unspecified address); multicast DAM 00/01/10/11 and
//!   the RFC 3306 stateful form; implicit context 0 with CID = 0 (RFC 6282 §3.1.1);
//!   addresses rebuilt from short or extended link addresses (§3.2.2)
//! - [x] NHC UDP, all four port forms, checksum elision only when the caller allows it
//!   (RFC 6282 §4.3)
//! - [x] NHC extension headers (Hop-by-Hop, Routing, Fragment, Destination Options, Mobility)
//!   with trailing-padding elision, and IPv6-in-IPv6 (RFC 6282 §4.2)
//! - [x] Compressed headers that do not fit the first fragment: the compressor keeps fewer
//!   headers compressed so the rest travel inline and may span fragments
//! - [ ] LOWPAN_HC1 (0x42, obsoleted by RFC 6282)
//! - [x] RFC 8138 RPI-6LoRH (§6.3) on page 1 (RFC 8025 §3 page switch 0xf1): a Hop-by-Hop
//!   header holding only the RPL option is sent as 3 to 5 octets (I and K elide instance 0
//!   and a zero rank low octet) when [`CompressOptions::rfc8138`] is set; always decompressed,
//!   into the option type of [`ContextTable::rpi_option_type`] (RFC 9008 §4.3)
//! - [x] RFC 8138 SRH-6LoRH (§5.1, Types 0 to 4) for an RPL Source Routing Header
//!   (RFC 6554 §3) with [`CompressOptions::rfc8138`]: the final destination goes in
//!   LOWPAN_IPHC and the hops before it, from the one the frame is sent to, as the shortest
//!   run of SRH-6LoRH headers (each hop coalesced with the one before it, the first with the
//!   root, the IPv6 source), before the RPI-6LoRH; used only when the routing header lists
//!   no visited address, has the CmprI/CmprE of [`compress::srh::emit_srh`], holds at most
//!   32 addresses and the result is shorter than LOWPAN_NHC
//! - [x] RFC 8138 IP-in-IP 6LoRH (§7) for IPv6-in-IPv6 (RFC 2473 §3) with
//!   [`CompressOptions::rfc8138`]: the outer header goes as its Hop Limit and source (elided
//!   when it is the DODAG root of [`ContextTable::root`], else coalesced with it, else whole),
//!   after the SRH-6LoRH (which then list the whole route, the outer destination last) and
//!   the RPI-6LoRH of its extension headers, followed by the inner packet's LOWPAN_IPHC;
//!   used when the outer header has Traffic Class and Flow Label 0 and at most the RPL option
//!   before the inner header (see [`compress::ipinip`])
//! - [ ] Other 6LoRH: BIER; other Elective 6LoRH are refused rather than skipped
//!   (RFC 8138 §4.1)
//! - [ ] RFC 8931 RFRAG
//! - [ ] RFC 7400 GHC
//!
//! # Guarantees
//! - Compress then decompress returns the original packet bit for bit, for every input
//!   (proptest `compress_then_decompress_is_identity`, fuzz target `sixlowpan_decompress`).
//!   Whatever IPHC cannot carry exactly — a payload length that disagrees with the packet,
//!   an incorrect UDP checksum when elision is allowed, a non-zero Fragment-header reserved
//!   byte — stays inline, or the packet goes out with dispatch 0x41.
//! - Each address takes the smallest mode whose decompression rebuilds it exactly, stateless
//!   first, context 0 (no context byte) before other contexts (RFC 6282 §3.1.1); ports take the
//!   smallest NHC form (§4.3.3); trailing Pad1/PadN is elided when the decompressor's padding
//!   rebuilds it (§4.2).
//! - No input panics; `decompress` stops after [`compress::MAX_DEPTH`] nested IPv6 headers and
//!   [`compress::MAX_NHC`] NHC headers ([`Error::TooDeep`]).
//! - The reassembler holds at most `buffers` datagrams and `max_bytes` bytes of datagram
//!   buffer (plus at most 4 bytes of bookkeeping per 8-byte block received).
//!
//! # Run loop (reassembly)
//! ```
//! # #[cfg(feature = "alloc")] {
//! use amimesh_core::{Instant, LinkAddr, ShortAddr};
//! use amimesh_sixlowpan::{ContextTable, Reassembler, ReassemblyConfig, Fragmenter,
//!                         CompressOptions};
//! let ctx = ContextTable::new();
//! let (a, b) = (LinkAddr::Short(ShortAddr(1)), LinkAddr::Short(ShortAddr(2)));
//! // A 300-byte IPv6/UDP datagram.
//! let mut packet = vec![0u8; 300];
//! packet[0] = 0x60;
//! packet[4..6].copy_from_slice(&260u16.to_be_bytes());
//! packet[6] = 59; // no next header
//! packet[7] = 64;
//!
//! let mut tx = Fragmenter::new(0x1234);
//! let mut rx = Reassembler::new(ReassemblyConfig::default());
//! let mut frames = tx.fragment(&packet, a, b, &ctx, &CompressOptions::default(), 96).unwrap();
//! let mut frame = [0u8; 127];
//! let now = Instant::from_secs(1);
//! let mut done = None;
//! while let Some(n) = frames.next_frame(&mut frame) {
//!     let n = n.unwrap();
//!     // ...the frame goes over the air; the receiver hands the 6LoWPAN payload in:
//!     if let Some(d) = rx.handle_fragment(now, a, b, &ctx, &frame[..n]) {
//!         done = Some(d);
//!     }
//!     // Between inputs, the receiver drives expiry from its timer.
//!     if let Some(t) = rx.poll_timeout() { if t <= now { rx.handle_timeout(now); } }
//! }
//! assert_eq!(done.unwrap().packet, packet);
//! # }
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod compress;
pub mod context;
pub mod error;
pub mod frag;
#[cfg(any(test, feature = "alloc"))]
pub mod reassembly;
pub mod wire;

#[cfg(test)]
mod props;
#[cfg(test)]
mod test_gens;

pub use compress::{
    ChecksumFixup, CompressOptions, Compressed, Decompressed, compress, compress_header,
    decompress, decompress_header,
};
pub use context::{Context, ContextTable};
pub use error::{Error, Result};
pub use frag::{Fragmenter, Fragments};
#[cfg(any(test, feature = "alloc"))]
pub use reassembly::{Datagram, Reassembler, ReassemblyConfig, Stats};
