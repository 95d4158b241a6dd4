//! Wire formats: views over byte buffers and owned/borrowing representations.
//!
//! # Contract (as in smoltcp's `wire`)
//!
//! Every view (`Message`, `Avp`, `Packet`) wraps a buffer without copying it. `new_unchecked`
//! does nothing; `check_len` validates every length a getter reads (for [`Message`] this walks
//! the whole AVP area); `new_checked` does both. Once `check_len` has returned `Ok`, no getter
//! panics. A setter that changes a length field voids that guarantee, and its doc says so.
//!
//! Every `…Repr` has `parse` (semantic checks, never panics after `new_checked`), `buffer_len`
//! (the exact number of bytes `emit` writes) and `emit` (cannot fail on a buffer of exactly
//! `buffer_len` bytes; it writes through `new_unchecked`, so stale bytes in a reused buffer never
//! influence the result).
//!
//! This module needs no allocator.

pub mod avp;
pub mod eap;
pub mod eap_psk;
pub mod keywrap;
pub mod message;
pub mod relay;

pub use avp::{
    Avp, AvpCode, AvpIter, AvpRepr, EncryptionAlgorithm, IntegrityAlgorithm, PrfAlgorithm,
    ResultCode, TerminationCause,
};
pub use eap::{EapCode, EapRepr, EapType, Packet};
pub use eap_psk::{PskFlags, PskMessage, PskRepr, PskResult};
pub use keywrap::{NetworkKeyRepr, ZIGBEE_VENDOR_ID};
pub use message::{Flags, Message, MessageBuilder, MessageRepr, MessageType};
pub use relay::{PacInformation, RelayRepr};

/// Reads a big-endian `u16` at `off` (caller guarantees the range).
#[allow(clippy::indexing_slicing)] // callers pass offsets validated by `check_len`
pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

/// Reads a big-endian `u32` at `off` (caller guarantees the range).
#[allow(clippy::indexing_slicing)] // callers pass offsets validated by `check_len`
pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// `n` rounded up to a multiple of 4 (AVP padding, RFC 5191 §6.3), saturating.
pub(crate) const fn pad4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

#[cfg(test)]
mod properties {
    //! The four STYLE §6 properties for every Repr.
    use super::*;
    use crate::test_gens;
    use alloc::vec;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn message_round_trip(m in test_gens::message()) {
            let r = MessageRepr {
                message_type: m.message_type,
                flags: m.flags,
                session_id: m.session_id,
                seq: m.seq,
                avps: &m.avps,
            };
            let mut buf = vec![0xa5u8; r.buffer_len() + 3];
            r.emit(&mut Message::new_unchecked(&mut buf[..]));
            // (2) exactly buffer_len bytes written
            prop_assert_eq!(&buf[r.buffer_len()..], &[0xa5u8; 3][..]);
            // (1) parse gives the same repr back
            let v = Message::new_checked(&buf[..r.buffer_len()]).unwrap();
            prop_assert_eq!(MessageRepr::parse(&v).unwrap(), r);
        }

        #[test]
        fn message_arbitrary_bytes(mut b in proptest::collection::vec(any::<u8>(), 0..120), fix in any::<bool>()) {
            // Half of the inputs get a consistent Message Length so deeper code runs.
            if fix && b.len() >= 16 {
                let n = b.len() as u16;
                b[2..4].copy_from_slice(&n.to_be_bytes());
            }
            // (3) never panics; (4) parse→emit→parse is a fixed point
            if let Ok(v) = Message::new_checked(&b[..]) {
                let _ = (v.flags(), v.message_type(), v.session_id(), v.seq(), v.reserved());
                for a in v.avps() { let _ = a; }
                if let Ok(r) = MessageRepr::parse(&v) {
                    let mut out = vec![0u8; r.buffer_len()];
                    r.emit(&mut Message::new_unchecked(&mut out[..]));
                    let r2 = MessageRepr::parse(&Message::new_checked(&out[..]).unwrap()).unwrap();
                    prop_assert_eq!(r, r2);
                }
            }
        }

        #[test]
        fn avp_round_trip(a in test_gens::avp()) {
            let r = a.repr();
            let mut buf = vec![0xa5u8; r.buffer_len() + 2];
            r.emit(&mut Avp::new_unchecked(&mut buf[..]));
            prop_assert_eq!(&buf[r.buffer_len()..], &[0xa5u8; 2][..]);
            let mut it = AvpIter::new(&buf[..r.buffer_len()]);
            prop_assert_eq!(it.next().unwrap().unwrap(), r);
            prop_assert!(it.next().is_none());
        }

        #[test]
        fn avp_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            for a in AvpIter::new(&b).flatten() {
                let mut out = vec![0u8; a.buffer_len()];
                a.emit(&mut Avp::new_unchecked(&mut out[..]));
                let again = AvpIter::new(&out).next().unwrap().unwrap();
                prop_assert_eq!(again, a);
            }
            if let Ok(v) = Avp::new_checked(&b[..]) {
                let _ = (v.code(), v.vendor_id(), v.value(), v.padded_len());
            }
        }

        #[test]
        fn eap_round_trip(e in test_gens::eap()) {
            let r = e.repr();
            let mut buf = vec![0xa5u8; r.buffer_len() + 2];
            prop_assert_eq!(r.emit_into(&mut buf).unwrap(), r.buffer_len());
            prop_assert_eq!(&buf[r.buffer_len()..], &[0xa5u8; 2][..]);
            let p = Packet::new_checked(&buf[..r.buffer_len()]).unwrap();
            prop_assert_eq!(EapRepr::parse(&p).unwrap(), r);
        }

        #[test]
        fn eap_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = Packet::new_checked(&b[..]) {
                if let Ok(r) = EapRepr::parse(&p) {
                    let mut out = vec![0u8; r.buffer_len()];
                    r.emit_into(&mut out).unwrap();
                    let r2 = EapRepr::parse(&Packet::new_checked(&out[..]).unwrap()).unwrap();
                    prop_assert_eq!(r, r2);
                }
            }
        }

        #[test]
        fn psk_round_trip(m in test_gens::psk()) {
            let r = m.repr();
            let mut buf = vec![0xa5u8; r.buffer_len() + 2];
            prop_assert_eq!(r.emit(&mut buf).unwrap(), r.buffer_len());
            prop_assert_eq!(&buf[r.buffer_len()..], &[0xa5u8; 2][..]);
            prop_assert_eq!(PskRepr::parse(&buf[..r.buffer_len()]).unwrap(), r);
        }

        #[test]
        fn psk_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..90)) {
            if let Ok(r) = PskRepr::parse(&b) {
                let mut out = vec![0u8; r.buffer_len()];
                r.emit(&mut out).unwrap();
                prop_assert_eq!(PskRepr::parse(&out).unwrap(), r);
            }
        }

        #[test]
        fn relay_round_trip(a in any::<[u8; 16]>(), port in any::<u16>(), inner in test_gens::message()) {
            let im = MessageRepr {
                message_type: inner.message_type,
                flags: inner.flags,
                session_id: inner.session_id,
                seq: inner.seq,
                avps: &inner.avps,
            };
            let mut ib = vec![0u8; im.buffer_len()];
            im.emit(&mut Message::new_unchecked(&mut ib[..]));
            let r = RelayRepr {
                pac: PacInformation { addr: core::net::Ipv6Addr::from(a), port },
                relayed: &ib,
            };
            let mut buf = vec![0xa5u8; r.buffer_len() + 2];
            prop_assert_eq!(r.emit(&mut buf).unwrap(), r.buffer_len());
            let m = Message::new_checked(&buf[..r.buffer_len()]).unwrap();
            let mr = MessageRepr::parse(&m).unwrap();
            prop_assert_eq!(RelayRepr::parse(&mr).unwrap(), r);
        }

        #[test]
        fn relay_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(m) = Message::new_checked(&b[..]) {
                if let Ok(mr) = MessageRepr::parse(&m) {
                    if let Ok(r) = RelayRepr::parse(&mr) {
                        let mut out = vec![0u8; r.buffer_len()];
                        r.emit(&mut out).unwrap();
                        let m2 = Message::new_checked(&out[..]).unwrap();
                        prop_assert_eq!(RelayRepr::parse(&MessageRepr::parse(&m2).unwrap()).unwrap(), r);
                    }
                }
            }
        }

        #[test]
        fn network_key_round_trip(k in any::<[u8; 16]>(), i in 1u8.., c in any::<u8>()) {
            let r = NetworkKeyRepr { key: amimesh_core::Key128::new(k), key_index: i, counter: c };
            let mut b = [0u8; keywrap::VALUE_LEN];
            r.emit(&mut b);
            prop_assert_eq!(r.buffer_len(), b.len());
            prop_assert_eq!(NetworkKeyRepr::parse(&b).unwrap(), r);
        }

        #[test]
        fn network_key_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..24)) {
            if let Ok(r) = NetworkKeyRepr::parse(&b) {
                let mut out = [0u8; keywrap::VALUE_LEN];
                r.emit(&mut out);
                prop_assert_eq!(NetworkKeyRepr::parse(&out).unwrap(), r);
            }
        }
    }
}
