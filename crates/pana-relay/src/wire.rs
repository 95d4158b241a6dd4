//! What the PRE accepts on the wire, on top of `amimesh-pana`'s codecs.
//!
//! The PANA-Relay codec itself ([`RelayRepr`], [`PacInformation`]; RFC 6345 §4.1, §5) lives in
//! `amimesh_pana::wire::relay` and is re-exported here. This module adds the checks a PRE makes
//! before it relays anything (structure only; it never looks inside protected AVPs):
//!
//! - [`check_inner`]: a message to relay is a well-formed PANA message (RFC 5191 §6.2, §6.3)
//!   and not itself PANA-Relay (RFC 6345 §2: at most one PRE between PaC and PAA);
//! - [`parse_relay`]: a datagram from the PAA is a well-formed PANA-Relay message whose header
//!   has flags, Session Identifier and Sequence Number 0 (RFC 6345 §4.1), with exactly one
//!   PaC-Information and one Relayed-Message, and whose Relayed-Message passes [`check_inner`].
//!
//! Nothing here allocates.

use crate::error::{Error, Result};
use amimesh_pana::wire::message::{Flags, Message, MessageRepr, MessageType};
pub use amimesh_pana::wire::relay::{PAC_INFORMATION_LEN, PacInformation, RelayRepr};

/// Bytes a PANA-Relay message adds around an inner message, before the inner message's own
/// padding: header (16), PaC-Information AVP (8 + 18 + 2 padding) and the Relayed-Message AVP
/// header (8).
pub const RELAY_OVERHEAD: usize = 16 + 8 + 20 + 8;

/// Checks that `inner` is a well-formed PANA message (RFC 5191 §6.2, §6.3) and not itself a
/// PANA-Relay message (RFC 6345 §2).
pub fn check_inner(inner: &[u8]) -> Result<MessageRepr<'_>> {
    let m = Message::new_checked(inner)?;
    let repr = MessageRepr::parse(&m)?;
    if repr.message_type == MessageType::Relay {
        return Err(Error::NestedRelay);
    }
    Ok(repr)
}

/// Parses a datagram as a PANA-Relay message the PRE may unwrap (see the module doc).
pub fn parse_relay(data: &[u8]) -> Result<RelayRepr<'_>> {
    let m = Message::new_checked(data)?;
    let msg = MessageRepr::parse(&m)?;
    if msg.message_type != MessageType::Relay {
        return Err(Error::Malformed("not a PANA-Relay message"));
    }
    if msg.flags != Flags::NONE || msg.session_id != 0 || msg.seq != 0 {
        return Err(Error::Malformed(
            "PANA-Relay with non-zero flags, session or sequence",
        ));
    }
    let relay = RelayRepr::parse(&msg)?;
    check_inner(relay.relayed)?;
    Ok(relay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_gens;
    use alloc::vec::Vec;
    use amimesh_pana::wire::avp::{AvpCode, AvpRepr};
    use amimesh_pana::wire::message::MessageBuilder;
    use core::net::Ipv6Addr;
    use proptest::prelude::*;

    // PANA-Relay carrying a PCI (testdata/pry_pci.bin; RFC 6345 §4.1, §5; RFC 5191 §6.2).
    static PRY_PCI: [u8; 68] = [
        0x00, 0x00, // reserved
        0x00, 0x44, // Message Length 68
        0x00, 0x00, // flags: none (RFC 6345 §4.1)
        0x00, 0x05, // type 5 PANA-Relay
        0x00, 0x00, 0x00, 0x00, // Session Identifier 0
        0x00, 0x00, 0x00, 0x00, // Sequence Number 0
        0x00, 0x0a, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, // PaC-Information, length 18
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fe80::
        0x02, 0x12, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x01, //   212:4b00:0:1
        0x02, 0xcc, 0x00, 0x00, // port 716, 2 padding bytes
        0x00, 0x0b, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, // Relayed-Message, length 16
        0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, // PCI: length 16, flags 0, type 1
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   session 0, seq 0
    ];
    static PCI: &[u8] = include_bytes!("../testdata/pci.bin");

    fn pac() -> PacInformation {
        PacInformation {
            addr: Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0212, 0x4b00, 0, 1),
            port: 716,
        }
    }

    #[test]
    fn fixture_files_match() {
        assert_eq!(&include_bytes!("../testdata/pry_pci.bin")[..], &PRY_PCI[..]);
        assert_eq!(PCI, &PRY_PCI[52..]);
        // amimesh-pana's codec builds the fixture byte for byte.
        let mut out = [0xa5u8; 68];
        let r = RelayRepr {
            pac: pac(),
            relayed: PCI,
        };
        assert_eq!(r.emit(&mut out), Ok(68));
        assert_eq!(out, PRY_PCI);
        assert_eq!(RELAY_OVERHEAD + PCI.len(), 68);
    }

    #[test]
    fn accepts_the_fixture() {
        assert_eq!(
            parse_relay(&PRY_PCI),
            Ok(RelayRepr {
                pac: pac(),
                relayed: PCI
            })
        );
        assert_eq!(
            check_inner(PCI).map(|r| r.message_type),
            Ok(MessageType::ClientInitiation)
        );
    }

    /// A PANA-Relay message with the given AVPs.
    fn variant(f: impl FnOnce(&mut MessageBuilder<'_>)) -> Vec<u8> {
        let mut buf = alloc::vec![0u8; 256];
        let mut b = MessageBuilder::new(&mut buf, MessageType::Relay, Flags::NONE, 0, 0).unwrap();
        f(&mut b);
        let n = b.finish();
        buf.truncate(n);
        buf
    }

    #[test]
    fn refusals() {
        let info = pac().to_bytes();
        let info_avp = AvpRepr::new(AvpCode::PacInformation, &info);
        let inner_avp = AvpRepr::new(AvpCode::RelayedMessage, PCI);
        for n in 0..68 {
            assert!(matches!(
                parse_relay(&PRY_PCI[..n]),
                Err(Error::Pana(amimesh_pana::Error::Truncated { .. }))
            ));
        }
        let with = |at: usize, v: u8| {
            let mut b = PRY_PCI;
            b[at] = v;
            b.to_vec()
        };
        let non_zero = Error::Malformed("PANA-Relay with non-zero flags, session or sequence");
        for (bytes, want) in [
            (with(7, 2), Error::Malformed("not a PANA-Relay message")),
            (with(4, 0x80), non_zero),
            (with(11, 1), non_zero),
            (with(15, 1), non_zero),
            (
                variant(|b| {
                    b.push(&inner_avp).unwrap();
                }),
                Error::Pana(amimesh_pana::Error::Malformed(
                    "PRY without PaC-Information",
                )),
            ),
            (
                variant(|b| {
                    b.push(&info_avp).unwrap();
                    b.push(&inner_avp).unwrap();
                    b.push(&inner_avp).unwrap();
                }),
                Error::Pana(amimesh_pana::Error::Malformed("repeated PANA-Relay AVP")),
            ),
            (
                variant(|b| {
                    b.push(&AvpRepr::new(AvpCode::PacInformation, &info[..6]))
                        .unwrap();
                    b.push(&inner_avp).unwrap();
                }),
                Error::Pana(amimesh_pana::Error::BadLength),
            ),
            (
                variant(|b| {
                    b.push(&info_avp).unwrap();
                    b.push(&AvpRepr::new(AvpCode::RelayedMessage, &PRY_PCI))
                        .unwrap();
                }),
                Error::NestedRelay,
            ),
            (
                variant(|b| {
                    b.push(&info_avp).unwrap();
                    b.push(&AvpRepr::new(AvpCode::RelayedMessage, &PCI[..15]))
                        .unwrap();
                }),
                Error::Pana(amimesh_pana::Error::Truncated {
                    needed: 16,
                    got: 15,
                }),
            ),
        ] {
            assert_eq!(parse_relay(&bytes), Err(want), "{}", hex::encode(&bytes));
        }
        assert_eq!(check_inner(&PRY_PCI), Err(Error::NestedRelay));
        assert!(matches!(check_inner(&[0; 3]), Err(Error::Pana(_))));
        // Unknown and vendor AVPs are ignored.
        let extra = variant(|b| {
            b.push(&AvpRepr::new(AvpCode::Unknown(99), &[1, 2, 3]))
                .unwrap();
            b.push(&AvpRepr {
                code: AvpCode::PacInformation,
                vendor_id: Some(0x917c),
                value: &[0; 3],
            })
            .unwrap();
            b.push(&info_avp).unwrap();
            b.push(&inner_avp).unwrap();
        });
        assert_eq!(parse_relay(&extra), parse_relay(&PRY_PCI));
    }

    proptest! {
        /// Whatever amimesh-pana's codec emits around a valid inner message is accepted, and
        /// gives back the same PaC and inner bytes.
        #[test]
        fn prop_accepts_emitted((pac, inner) in (test_gens::pac_information(), test_gens::inner_message())) {
            let r = RelayRepr { pac, relayed: &inner };
            let mut buf = alloc::vec![0xa5u8; r.buffer_len()];
            prop_assert_eq!(r.emit(&mut buf), Ok(buf.len()));
            prop_assert_eq!(parse_relay(&buf), Ok(r));
        }

        /// Arbitrary and nearly valid bytes never panic; anything accepted re-emits to an
        /// accepted message with the same content (a fixed point).
        #[test]
        fn prop_no_panic_and_fixed_point(bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            test_gens::relay_like_bytes(),
        ]) {
            let _ = check_inner(&bytes);
            if let Ok(r1) = parse_relay(&bytes) {
                let mut buf = alloc::vec![0u8; r1.buffer_len()];
                r1.emit(&mut buf).unwrap();
                prop_assert_eq!(parse_relay(&buf), Ok(r1));
            }
        }
    }
}
