//! The PANA-Relay message and its PaC-Information AVP (RFC 6345 §4.1, §5).
//!
//! ```text
//! PANA-Relay ::= < PANA-Header: 5 >          flags 0, Session Identifier 0, Sequence Number 0
//!                < PaC-Information >          AVP 10: PaC address (16 or 4 bytes) | UDP port (2)
//!                < Relayed-Message >          AVP 11: the whole inner PANA message
//!              * [ AVP ]
//! ```
//!
//! The PANA header and AVP layout are `amimesh-pana`'s ([`Message`], [`AvpRepr`]); this module
//! adds only what RFC 6345 defines on top of them. The view/Repr contract is the one stated in
//! `amimesh_pana::wire`: after `check_len` no getter panics, `parse` never panics on a checked
//! view, and `emit` cannot fail on a buffer of exactly `buffer_len()` bytes.
//!
//! This module needs no allocator.

use crate::error::{Error, Result};
use amimesh_pana::wire::avp::{Avp, AvpCode, AvpRepr};
use amimesh_pana::wire::message::{Flags, HEADER_LEN, Message, MessageRepr, MessageType};
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Length of a PaC-Information value carrying an IPv6 address (RFC 6345 §5.1).
pub const PAC_INFORMATION_IPV6_LEN: usize = 18;
/// Length of a PaC-Information value carrying an IPv4 address (RFC 6345 §5.1).
pub const PAC_INFORMATION_IPV4_LEN: usize = 6;
/// Bytes a PANA-Relay message adds around an inner message with an IPv6 PaC, before the
/// inner message's own padding: header (16), PaC-Information AVP (8 + 18 + 2 padding) and the
/// Relayed-Message AVP header (8).
pub const RELAY_OVERHEAD_IPV6: usize = HEADER_LEN + AVP_HEADER_LEN + 20 + AVP_HEADER_LEN;
/// Length of an IETF AVP header (RFC 5191 §6.3, no Vendor-Id).
const AVP_HEADER_LEN: usize = 8;

/// A view of a PaC-Information AVP value (RFC 6345 §5.1): the PaC's IP address followed by its
/// UDP port, both in network byte order.
#[derive(Debug, Clone, Copy)]
pub struct PacInformation<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> PacInformation<T> {
    /// Wraps a value without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        PacInformation { buffer }
    }

    /// Wraps a value and runs [`PacInformation::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = PacInformation::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The value must be exactly 18 (IPv6) or 6 (IPv4) bytes.
    pub fn check_len(&self) -> Result<()> {
        match self.buffer.as_ref().len() {
            PAC_INFORMATION_IPV6_LEN | PAC_INFORMATION_IPV4_LEN => Ok(()),
            n => Err(Error::BadPacInformation(n)),
        }
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// `true` for an IPv6 PaC.
    pub fn is_ipv6(&self) -> bool {
        self.buffer.as_ref().len() == PAC_INFORMATION_IPV6_LEN
    }

    /// The PaC address.
    pub fn addr(&self) -> IpAddr {
        let b = self.buffer.as_ref();
        if let Some(a) = b.first_chunk::<16>().filter(|_| self.is_ipv6()) {
            IpAddr::V6(Ipv6Addr::from(*a))
        } else if let Some(a) = b.first_chunk::<4>() {
            IpAddr::V4(Ipv4Addr::from(*a))
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        }
    }

    /// The PaC UDP port (the last two bytes).
    pub fn port(&self) -> u16 {
        self.buffer
            .as_ref()
            .last_chunk::<2>()
            .map_or(0, |p| u16::from_be_bytes(*p))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> PacInformation<T> {
    /// Writes the address; its family must match the buffer length.
    pub fn set_addr(&mut self, addr: IpAddr) {
        let b = self.buffer.as_mut();
        match addr {
            IpAddr::V6(a) => {
                if let Some(d) = b.first_chunk_mut::<16>() {
                    *d = a.octets();
                }
            }
            IpAddr::V4(a) => {
                if let Some(d) = b.first_chunk_mut::<4>() {
                    *d = a.octets();
                }
            }
        }
    }

    /// Writes the port.
    pub fn set_port(&mut self, port: u16) {
        if let Some(d) = self.buffer.as_mut().last_chunk_mut::<2>() {
            *d = port.to_be_bytes();
        }
    }
}

/// The PaC-Information value as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PacInformationRepr {
    /// The PaC's IP address.
    pub addr: IpAddr,
    /// The PaC's UDP port.
    pub port: u16,
}

impl PacInformationRepr {
    /// An IPv6 PaC.
    pub const fn v6(addr: Ipv6Addr, port: u16) -> Self {
        PacInformationRepr {
            addr: IpAddr::V6(addr),
            port,
        }
    }

    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &PacInformation<T>) -> Result<Self> {
        p.check_len()?;
        Ok(PacInformationRepr {
            addr: p.addr(),
            port: p.port(),
        })
    }

    /// 18 for IPv6, 6 for IPv4.
    pub const fn buffer_len(&self) -> usize {
        match self.addr {
            IpAddr::V6(_) => PAC_INFORMATION_IPV6_LEN,
            IpAddr::V4(_) => PAC_INFORMATION_IPV4_LEN,
        }
    }

    /// Writes the value into a buffer of exactly `buffer_len()` bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut PacInformation<T>) {
        p.set_addr(self.addr);
        p.set_port(self.port);
    }

    /// The value as bytes (at most 18).
    pub fn to_bytes(&self) -> heapless::Vec<u8, PAC_INFORMATION_IPV6_LEN> {
        let mut v = heapless::Vec::new();
        // Cannot fail: buffer_len() <= capacity.
        let _ = v.resize(self.buffer_len(), 0);
        self.emit(&mut PacInformation::new_unchecked(&mut v[..]));
        v
    }
}

impl fmt::Display for PacInformationRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
        }
    }
}

/// A PANA-Relay message as a value: the PaC it concerns and the inner message, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayRepr<'a> {
    /// PaC-Information (RFC 6345 §5.1).
    pub pac: PacInformationRepr,
    /// Relayed-Message (RFC 6345 §5.2): a complete PANA message, never itself a PANA-Relay.
    pub relayed: &'a [u8],
}

impl<'a> RelayRepr<'a> {
    /// Parses a checked PANA message as PANA-Relay (RFC 6345 §4.1, §5):
    /// - Message Type 5 with flags, Session Identifier and Sequence Number all 0;
    /// - exactly one PaC-Information and one Relayed-Message (other AVPs, which "SHOULD NOT"
    ///   appear, are ignored);
    /// - the Relayed-Message value is itself a well-formed PANA message that is not PANA-Relay.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(m: &Message<&'a T>) -> Result<Self> {
        let msg = MessageRepr::parse(m)?;
        if msg.message_type != MessageType::Relay {
            return Err(Error::Malformed("not a PANA-Relay message"));
        }
        if msg.flags != Flags::NONE || msg.session_id != 0 || msg.seq != 0 {
            return Err(Error::Malformed(
                "PANA-Relay with non-zero flags, session or sequence",
            ));
        }
        let mut pac = None;
        let mut relayed = None;
        for avp in msg.avps() {
            let avp = avp?;
            if avp.vendor_id.is_some() {
                continue;
            }
            match avp.code {
                AvpCode::PacInformation => {
                    if pac.is_some() {
                        return Err(Error::Malformed("two PaC-Information AVPs"));
                    }
                    pac = Some(PacInformationRepr::parse(&PacInformation::new_checked(
                        avp.value,
                    )?)?);
                }
                AvpCode::RelayedMessage => {
                    if relayed.is_some() {
                        return Err(Error::Malformed("two Relayed-Message AVPs"));
                    }
                    relayed = Some(avp.value);
                }
                _ => {}
            }
        }
        let pac = pac.ok_or(Error::Malformed("PaC-Information missing"))?;
        let relayed = relayed.ok_or(Error::Malformed("Relayed-Message missing"))?;
        check_inner(relayed)?;
        Ok(RelayRepr { pac, relayed })
    }

    /// Header, PaC-Information AVP and Relayed-Message AVP, each padded to 4 bytes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
            + AVP_HEADER_LEN
            + self.pac.buffer_len().next_multiple_of(4)
            + AVP_HEADER_LEN
            + self.relayed.len().next_multiple_of(4)
    }

    /// Writes the message into a buffer of at least `buffer_len()` bytes.
    ///
    /// # Panics
    /// If the buffer is shorter than `buffer_len()`. Use [`RelayRepr::emit_into`] for a checked
    /// write that also refuses a message longer than 65535 bytes.
    #[allow(clippy::indexing_slicing)] // documented precondition: buffer_len() bytes
    pub fn emit(&self, buf: &mut [u8]) {
        let len = self.buffer_len();
        let buf = &mut buf[..len];
        let mut m = Message::new_unchecked(&mut *buf);
        m.set_message_length(u16::try_from(len).unwrap_or(u16::MAX));
        m.set_flags(Flags::NONE);
        m.set_message_type(MessageType::Relay);
        m.set_session_id(0);
        m.set_seq(0);
        let pac = self.pac.to_bytes();
        let pac_avp = AvpRepr::new(AvpCode::PacInformation, &pac);
        let inner = AvpRepr::new(AvpCode::RelayedMessage, self.relayed);
        let (a, b) = buf[HEADER_LEN..].split_at_mut(pac_avp.buffer_len());
        pac_avp.emit(&mut Avp::new_unchecked(a));
        inner.emit(&mut Avp::new_unchecked(b));
    }

    /// Writes the message into `buf` and returns its length, or fails when `buf` is too small
    /// or the message would exceed the 16-bit Message Length (RFC 5191 §6.2).
    pub fn emit_into(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        if len > usize::from(u16::MAX) {
            return Err(Error::TooLong {
                len,
                max: usize::from(u16::MAX),
            });
        }
        let slot = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        self.emit(slot);
        Ok(len)
    }
}

/// Checks that `inner` is a well-formed PANA message (RFC 5191 §6.2, §6.3) and not itself a
/// PANA-Relay message (RFC 6345 §2 allows one PRE between PaC and PAA).
pub fn check_inner(inner: &[u8]) -> Result<MessageRepr<'_>> {
    let m = Message::new_checked(inner)?;
    let repr = MessageRepr::parse(&m)?;
    if repr.message_type == MessageType::Relay {
        return Err(Error::NestedRelay);
    }
    Ok(repr)
}

impl fmt::Display for RelayRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PANA PRY pac {} relayed ", self.pac)?;
        match check_inner(self.relayed) {
            Ok(inner) => write!(f, "{inner}"),
            Err(_) => write!(f, "{}B (malformed)", self.relayed.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_gens;
    use alloc::vec::Vec;
    use amimesh_pana::wire::message::MessageBuilder;
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

    fn pac() -> Ipv6Addr {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0212, 0x4b00, 0, 1)
    }

    #[test]
    fn fixture_file_matches() {
        assert_eq!(&include_bytes!("../testdata/pry_pci.bin")[..], &PRY_PCI[..]);
        assert_eq!(PCI, &PRY_PCI[52..]);
    }

    #[test]
    fn deconstruct() {
        let m = Message::new_checked(&PRY_PCI[..]).unwrap();
        assert_eq!(m.message_type(), MessageType::Relay);
        assert_eq!(m.flags(), Flags::NONE);
        assert_eq!((m.session_id(), m.seq()), (0, 0));
        let avps: Vec<_> = m.avps().map(|a| a.unwrap()).collect();
        assert_eq!(avps.len(), 2);
        let p = PacInformation::new_checked(avps[0].value).unwrap();
        assert!(p.is_ipv6());
        assert_eq!(p.addr(), IpAddr::V6(pac()));
        assert_eq!(p.port(), 716);
        assert_eq!(avps[1].code, AvpCode::RelayedMessage);
        assert_eq!(avps[1].value, PCI);
        let v4 = PacInformation::new_checked(&[192, 0, 2, 7, 0x12, 0x34][..]).unwrap();
        assert!(!v4.is_ipv6());
        assert_eq!(v4.addr(), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
        assert_eq!(v4.port(), 0x1234);
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 68];
        let mut b = MessageBuilder::new(&mut buf, MessageType::Relay, Flags::NONE, 0, 0).unwrap();
        let mut value = [0xa5u8; 18];
        let mut p = PacInformation::new_unchecked(&mut value[..]);
        p.set_addr(IpAddr::V6(pac()));
        p.set_port(716);
        b.push(&AvpRepr::new(AvpCode::PacInformation, &value))
            .unwrap();
        b.push(&AvpRepr::new(AvpCode::RelayedMessage, PCI)).unwrap();
        assert_eq!(b.finish(), 68);
        assert_eq!(buf, PRY_PCI);
    }

    #[test]
    fn parse() {
        let m = Message::new_checked(&PRY_PCI[..]).unwrap();
        let r = RelayRepr::parse(&m).unwrap();
        assert_eq!(
            r,
            RelayRepr {
                pac: PacInformationRepr::v6(pac(), 716),
                relayed: PCI,
            }
        );
    }

    #[test]
    fn emit() {
        let r = RelayRepr {
            pac: PacInformationRepr::v6(pac(), 716),
            relayed: PCI,
        };
        assert_eq!(r.buffer_len(), 68);
        let mut buf = [0xa5u8; 68];
        r.emit(&mut buf);
        assert_eq!(buf, PRY_PCI);
        let mut big = [0xa5u8; 80];
        assert_eq!(r.emit_into(&mut big), Ok(68));
        assert_eq!(&big[..68], &PRY_PCI[..]);
        assert_eq!(
            r.emit_into(&mut big[..67]),
            Err(Error::BufferTooSmall { required: 68 })
        );
        let v4 = PacInformationRepr {
            addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
            port: 716,
        };
        assert_eq!(&v4.to_bytes()[..], &[192, 0, 2, 7, 0x02, 0xcc]);
        assert_eq!(
            RelayRepr {
                pac: v4,
                relayed: PCI
            }
            .buffer_len(),
            16 + 8 + 8 + 8 + 16
        );
    }

    /// Rebuilds PRY_PCI with the header or AVPs changed.
    fn variant(f: impl FnOnce(&mut MessageBuilder<'_>)) -> Vec<u8> {
        let mut buf = alloc::vec![0u8; 256];
        let mut b = MessageBuilder::new(&mut buf, MessageType::Relay, Flags::NONE, 0, 0).unwrap();
        f(&mut b);
        let n = b.finish();
        buf.truncate(n);
        buf
    }

    fn parse_bytes(b: &[u8]) -> Result<RelayRepr<'_>> {
        RelayRepr::parse(&Message::new_checked(b)?)
    }

    #[test]
    fn errors() {
        let info = PacInformationRepr::v6(pac(), 716).to_bytes();
        let info_avp = AvpRepr::new(AvpCode::PacInformation, &info);
        let inner_avp = AvpRepr::new(AvpCode::RelayedMessage, PCI);
        // Every truncation point.
        for n in 0..68 {
            assert!(matches!(
                parse_bytes(&PRY_PCI[..n]),
                Err(Error::Pana(amimesh_pana::Error::Truncated { .. }))
            ));
        }
        for (bytes, want) in [
            (
                {
                    let mut b = PRY_PCI;
                    b[7] = 2;
                    b.to_vec()
                },
                Error::Malformed("not a PANA-Relay message"),
            ),
            (
                {
                    let mut b = PRY_PCI;
                    b[4] = 0x80;
                    b.to_vec()
                },
                Error::Malformed("PANA-Relay with non-zero flags, session or sequence"),
            ),
            (
                {
                    let mut b = PRY_PCI;
                    b[15] = 1;
                    b.to_vec()
                },
                Error::Malformed("PANA-Relay with non-zero flags, session or sequence"),
            ),
            (
                variant(|b| {
                    b.push(&inner_avp).unwrap();
                }),
                Error::Malformed("PaC-Information missing"),
            ),
            (
                variant(|b| {
                    b.push(&info_avp).unwrap();
                }),
                Error::Malformed("Relayed-Message missing"),
            ),
            (
                variant(|b| {
                    b.push(&info_avp).unwrap();
                    b.push(&info_avp).unwrap();
                    b.push(&inner_avp).unwrap();
                }),
                Error::Malformed("two PaC-Information AVPs"),
            ),
            (
                variant(|b| {
                    b.push(&info_avp).unwrap();
                    b.push(&inner_avp).unwrap();
                    b.push(&inner_avp).unwrap();
                }),
                Error::Malformed("two Relayed-Message AVPs"),
            ),
            (
                variant(|b| {
                    b.push(&AvpRepr::new(AvpCode::PacInformation, &info[..17]))
                        .unwrap();
                    b.push(&inner_avp).unwrap();
                }),
                Error::BadPacInformation(17),
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
            assert_eq!(parse_bytes(&bytes), Err(want), "{}", hex::encode(&bytes));
        }
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
        assert_eq!(parse_bytes(&extra).unwrap(), parse_bytes(&PRY_PCI).unwrap());
        // A relayed message too long for the 16-bit Message Length.
        let huge = alloc::vec![0u8; 65_500];
        let r = RelayRepr {
            pac: PacInformationRepr::v6(pac(), 716),
            relayed: &huge,
        };
        let mut out = alloc::vec![0u8; 70_000];
        assert!(matches!(r.emit_into(&mut out), Err(Error::TooLong { .. })));
        assert_eq!(
            PacInformation::new_checked(&[0u8; 0][..]).unwrap_err(),
            Error::BadPacInformation(0)
        );
    }

    #[test]
    fn display() {
        let r = parse_bytes(&PRY_PCI).unwrap();
        assert_eq!(
            alloc::format!("{r}"),
            "PANA PRY pac [fe80::212:4b00:0:1]:716 relayed PANA PCI[] sid 0x0 seq 0 avps 0B"
        );
    }

    proptest! {
        #[test]
        fn prop_round_trip((pac, inner) in (test_gens::pac_information(), test_gens::inner_message())) {
            let r = RelayRepr { pac, relayed: &inner };
            let mut buf = alloc::vec![0xa5u8; r.buffer_len()];
            r.emit(&mut buf);
            let back = parse_bytes(&buf).unwrap();
            prop_assert_eq!(back, r);
        }

        #[test]
        fn prop_buffer_len((pac, inner) in (test_gens::pac_information(), test_gens::inner_message())) {
            let r = RelayRepr { pac, relayed: &inner };
            let mut buf = alloc::vec![0xa5u8; r.buffer_len() + 16];
            let n = r.emit_into(&mut buf).unwrap();
            prop_assert_eq!(n, r.buffer_len());
            prop_assert_eq!(usize::from(Message::new_unchecked(&buf[..]).message_length()), n);
            prop_assert!(buf[n..].iter().all(|&b| b == 0xa5));
            let mut info = alloc::vec![0xa5u8; pac.buffer_len()];
            pac.emit(&mut PacInformation::new_unchecked(&mut info[..]));
            prop_assert_eq!(PacInformationRepr::parse(&PacInformation::new_checked(&info[..]).unwrap()).unwrap(), pac);
        }

        #[test]
        fn prop_no_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_bytes(&bytes);
            if let Ok(p) = PacInformation::new_checked(&bytes[..]) {
                // Every 6- or 18-byte value parses, and emitting it gives the same bytes back.
                let r = PacInformationRepr::parse(&p).unwrap();
                prop_assert_eq!(&r.to_bytes()[..], &bytes[..]);
            } else {
                prop_assert!(bytes.len() != 6 && bytes.len() != 18);
            }
        }

        #[test]
        fn prop_fixed_point(bytes in test_gens::relay_like_bytes()) {
            if let Ok(r1) = parse_bytes(&bytes) {
                let mut buf = alloc::vec![0u8; r1.buffer_len()];
                r1.emit(&mut buf);
                let r2 = parse_bytes(&buf).unwrap();
                prop_assert_eq!(r1, r2);
                let mut buf2 = alloc::vec![0u8; r2.buffer_len()];
                r2.emit(&mut buf2);
                prop_assert_eq!(buf, buf2);
            }
        }
    }
}
