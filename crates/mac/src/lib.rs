//! IEEE 802.15.4 frames and link-layer security for amimesh.
//!
//! `#![no_std]`, no allocation, no I/O: the [`wire`] module decodes and encodes frames in caller
//! buffers, and the [`security`] module secures and unsecures them with CCM*, derives link keys
//! from a network key and keeps frame counters. The sans-IO MAC state machine in [`mac`] (scan,
//! ACK/retry, CSMA-CA, beacon responder, link statistics; needs `alloc`) builds on these types.
//!
//! # Standards
//!
//! - IEEE 802.15.4-2020 §7.2 (general MAC frame format), §7.3 (beacon, data, ack, MAC command
//!   frames), §7.4 (information elements), §7.5 (MAC commands), 802.15.4-2015 Table 7-2 (PAN ID
//!   Compression) and 802.15.4-2006 §7.2.1.1.5 (the earlier rule), §7.2.10–11 (FCS).
//! - IEEE 802.15.4-2020 §9.2 (outgoing/incoming frame security procedures), §9.3 and Annex B
//!   (CCM*), §9.4 (auxiliary security header), Annex C (test vectors, all passing).
//! - ZigBee-IP network-key scheme as nanostack and Wireshark implement it (MLE and MAC keys from
//!   HMAC-SHA256(K, "ZigBeeIP")); Thread key derivation (Thread 1.x §7.1.4).
//!
//! # Checklist
//!
//! - [x] Frame types: beacon, data, acknowledgment (immediate and enhanced), MAC command
//! - [ ] Frame types: multipurpose, fragment, extended (rejected with `UnsupportedFrameType`)
//! - [x] Frame versions 0 (2003), 1 (2006/2011), 2 (2015+)
//! - [x] Addressing modes none/short/extended for source and destination; all PAN ID
//!   Compression combinations of the 2006 rule and the 2015 table
//! - [x] Sequence number suppression, IE Present
//! - [x] Header IEs (any element id; termination HT1/HT2), payload IEs (any group;
//!   termination), nested MLME IEs (short and long); unknown IEs round-trip byte for byte
//! - [x] Beacon: superframe specification, GTS specification/directions/descriptors, pending
//!   addresses, beacon payload
//! - [x] MAC commands 0x01–0x09 decoded; any other id kept as bytes
//! - [x] FCS: CRC-16 (ITU-T, 2 bytes) and CRC-32 (4 bytes, SUN PHYs); PSDU limit 127 by default,
//!   configurable up to 2047 ([`wire::PsduConfig`])
//! - [x] Auxiliary security header: levels 0–7, key id modes 0–3, frame counter suppression,
//!   ASN-in-nonce bit carried
//! - [x] CCM* at levels 1–7 (RustCrypto `ccm`/`ctr` over `aes`, cached key schedules), nonce and
//!   a-data per §9.3 (command id / beacon fields in the a-data before 2015)
//! - [x] Key lookup chosen by the caller ([`security::frame::KeyLookup`]); short→extended address
//!   mapping for the nonce
//! - [x] Outgoing frame counters with a persistence hook and jump-ahead on restore; incoming
//!   replay table per (key, neighbour), bounded, with a key switch window
//! - [ ] 802.15.4-2003 security (frame version 0 with Security Enabled is rejected)
//! - [ ] TSCH: ASN in the nonce, frame counter suppression for unsecuring
//!
//! # Example
//!
//! Build a level-5 data frame keyed from a network key, secure it, then receive it: check the
//! FCS, unsecure with a key table and a replay table, and read the plaintext.
//!
//! ```
//! use amimesh_core::{Duration, ExtAddr, Instant, Key128, LinkAddr, PanId, ShortAddr};
//! use amimesh_mac::security::ccm_star::CcmKey;
//! use amimesh_mac::security::counters::{NoPersistence, OutgoingCounter, ReplayTable};
//! use amimesh_mac::security::frame::{KeyTable, secure_frame, unsecure_frame_checked};
//! use amimesh_mac::security::keys::derive_link_keys;
//! use amimesh_mac::security::{AuxSecurityHeaderRepr, KeyIdentifier, SecurityLevel};
//! use amimesh_mac::wire::{FrameRepr, FrameType, FrameVersion, PsduConfig};
//! use amimesh_mac::Error;
//!
//! let network_key = Key128::new([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
//!                                0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
//! let (_mle_key, mac_key) = derive_link_keys(&network_key);
//! let key = CcmKey::new(&mac_key);
//! let me = ExtAddr([0x00, 0x12, 0x4b, 0, 0, 0, 0, 0x01]);
//!
//! // Sender: take a frame counter, emit, secure, append the FCS.
//! let mut counter = OutgoingCounter::new(1000);
//! let repr = FrameRepr {
//!     frame_type: FrameType::Data,
//!     frame_version: FrameVersion::Ieee2006,
//!     security: Some(AuxSecurityHeaderRepr {
//!         security_level: SecurityLevel::EncMic32,
//!         frame_counter: Some(counter.next(&mut NoPersistence)?),
//!         key_id: KeyIdentifier::Index(1),
//!         asn_in_nonce: false,
//!     }),
//!     frame_pending: false,
//!     ack_request: true,
//!     pan_id_compression: true,
//!     sequence_number: Some(1),
//!     dst_pan_id: Some(PanId(0xabcd)),
//!     dst_addr: LinkAddr::Short(ShortAddr(0x0000)),
//!     src_pan_id: None,
//!     src_addr: LinkAddr::Extended(me),
//!     header_ies: &[],
//!     content: b"hello",
//! };
//! let cfg = PsduConfig::IEEE802154;
//! let mut psdu = [0u8; 127];
//! let n = repr.emit_into(&mut psdu)?;
//! secure_frame(&mut psdu[..n], &key, me)?;
//! let n = cfg.append(&mut psdu, n)?;
//!
//! // Receiver: FCS, then unsecure with replay protection.
//! let mut keys: KeyTable<2, 8> = KeyTable::new();
//! keys.add_key(Some(1), key.clone())?;
//! let mut replay: ReplayTable<usize, 16> = ReplayTable::new(Duration::from_secs(60));
//! let mut frame = cfg.check(&psdu[..n])?.to_vec();
//! let u = unsecure_frame_checked(Instant::ZERO, &mut frame, &keys, &mut replay)?;
//! assert_eq!(&frame[u.header_len..u.len], b"hello");
//! assert_eq!(u.src_ext, me);
//!
//! // The same frame again is a replay.
//! let mut again = cfg.check(&psdu[..n])?.to_vec();
//! assert_eq!(
//!     unsecure_frame_checked(Instant::ZERO, &mut again, &keys, &mut replay),
//!     Err(Error::Replay { frame_counter: 0 })
//! );
//! # Ok::<(), Error>(())
//! ```
//!
//! # Features
//!
//! `alloc` (in `std`, the default) enables the [`mac::Mac`] state machine; the codecs and
//! security build with no features. `defmt` derives `defmt::Format` where noted.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "alloc"))]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod error;
pub mod mac;
pub mod security;
pub mod wire;

#[cfg(test)]
mod test_gens;

pub use error::{Error, Result};
