//! The MLE message: the payload of a UDP datagram to or from port 19788
//! (draft-ietf-6lo-mesh-link-establishment-00 §4; Thread; FACTS §9.1).
//!
//! ```text
//! suite 255 (unsecured): | 0xff | Command(1) | TLVs … |
//! suite 0 (secured):     | 0x00 | Aux Security Header (5..14) | encrypted Command ‖ TLVs | MIC |
//! ```
//!
//! The auxiliary security header is 802.15.4's (802.15.4-2020 §9.4, little-endian frame
//! counter), reused from `amimesh-mac`. [`Message`] is the zero-copy view; [`MessageRepr`] the
//! parsed form; [`BodyRepr`] the plaintext `Command ‖ TLVs` (what suite 255 carries in clear
//! and what suite 0 carries encrypted). Securing and unsecuring live in [`crate::security`].
//!
//! Once [`Message::check_len`] has returned `Ok`, no getter of [`Message`] can panic: it walks
//! the auxiliary security header and checks that the command byte and the MIC are present.

use super::command::Command;
use super::tlv::{TlvIter, TlvRepr, TlvType};
use crate::{Error, Result};
use amimesh_mac::security::{AuxSecurityHeader, AuxSecurityHeaderRepr, KeyIdMode, SecurityLevel};
use core::fmt;

amimesh_core::enum_with_unknown! {
    /// The MLE security suite byte (FACTS §9.1).
    pub enum SecuritySuite(u8) {
        /// 0: 802.15.4 security (auxiliary security header, CCM*, MIC).
        Ieee802154 = 0,
        /// 255: no security.
        None = 255,
    }
}

mod field {
    pub const SUITE: usize = 0;
    pub const AUX: usize = 1;
}

/// The UDP port of MLE (IANA).
pub const UDP_PORT: u16 = 19788;

/// A read/write view of an MLE message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<T: AsRef<[u8]>> {
    buffer: T,
}

#[allow(clippy::indexing_slicing)] // all offsets were checked by `check_len`
impl<T: AsRef<[u8]>> Message<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Message { buffer }
    }

    /// Wraps a buffer and runs [`Message::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let m = Self::new_unchecked(buffer);
        m.check_len()?;
        Ok(m)
    }

    /// Checks the suite byte and that every part is present: for suite 255 the command byte;
    /// for suite 0 the whole auxiliary security header, at least one (encrypted) body byte and
    /// the MIC that the security level announces.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        let need = |needed: usize| {
            if b.len() < needed {
                Err(Error::Truncated {
                    needed,
                    got: b.len(),
                })
            } else {
                Ok(())
            }
        };
        need(1)?;
        match SecuritySuite::from(b[field::SUITE]) {
            SecuritySuite::None => need(2),
            SecuritySuite::Ieee802154 => {
                need(2)?;
                let aux = AuxSecurityHeader::<&[u8]>::header_len_for(b[field::AUX]);
                let mic = SecurityLevel::from_bits(b[field::AUX]).mic_len();
                need(field::AUX + aux + 1 + mic)
            }
            SecuritySuite::Unknown(s) => Err(Error::UnknownSecuritySuite(s)),
        }
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The security suite.
    pub fn security_suite(&self) -> SecuritySuite {
        SecuritySuite::from(self.buffer.as_ref()[field::SUITE])
    }

    /// Is this a secured (suite 0) message?
    pub fn is_secured(&self) -> bool {
        self.security_suite() == SecuritySuite::Ieee802154
    }

    fn aux_len(&self) -> usize {
        if self.is_secured() {
            AuxSecurityHeader::<&[u8]>::header_len_for(self.buffer.as_ref()[field::AUX])
        } else {
            0
        }
    }

    fn mic_len(&self) -> usize {
        if self.is_secured() {
            SecurityLevel::from_bits(self.buffer.as_ref()[field::AUX]).mic_len()
        } else {
            0
        }
    }
}

#[allow(clippy::indexing_slicing)] // all offsets were checked by `check_len`
impl<'a, T: AsRef<[u8]> + ?Sized> Message<&'a T> {
    /// The auxiliary security header bytes as received (empty for suite 255).
    pub fn aux_header(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::AUX..field::AUX + self.aux_len()]
    }

    /// The body: plaintext `Command ‖ TLVs` for suite 255, ciphertext for suite 0 (without the
    /// MIC).
    pub fn body(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[field::AUX + self.aux_len()..b.len() - self.mic_len()]
    }

    /// The MIC (empty for suite 255 and for levels without one).
    pub fn mic(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[b.len() - self.mic_len()..]
    }
}

#[allow(clippy::indexing_slicing)] // setters: the caller sized the buffer
impl<T: AsRef<[u8]> + AsMut<[u8]>> Message<T> {
    /// Sets the security suite byte. This voids an earlier `check_len`.
    pub fn set_security_suite(&mut self, s: SecuritySuite) {
        self.buffer.as_mut()[field::SUITE] = s.into();
    }

    /// The bytes after the suite byte, mutably.
    pub fn rest_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::AUX..]
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Message<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.check_len() {
            Err(e) => write!(f, "MLE ({e})"),
            Ok(()) if self.is_secured() => {
                write!(f, "MLE secured, {} bytes", self.buffer.as_ref().len())
            }
            Ok(()) => write!(
                f,
                "MLE unsecured, command {}",
                Command::from(self.buffer.as_ref().get(1).copied().unwrap_or(0))
            ),
        }
    }
}

/// A plaintext MLE body: the command and its TLV list (validated on parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyRepr<'a> {
    /// The command type.
    pub command: Command,
    /// The TLVs, encoded; every one of them parses (see [`BodyRepr::tlvs`]).
    pub tlvs: &'a [u8],
}

impl<'a> BodyRepr<'a> {
    /// Parses `Command ‖ TLVs`, checking every TLV.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let (&cmd, tlvs) = body
            .split_first()
            .ok_or(Error::Truncated { needed: 1, got: 0 })?;
        TlvIter::validate(tlvs)?;
        Ok(BodyRepr {
            command: Command::from(cmd),
            tlvs,
        })
    }

    /// The TLVs.
    pub fn tlvs(&self) -> TlvIter<'a> {
        TlvIter::new(self.tlvs)
    }

    /// The first TLV of type `t`.
    pub fn find(&self, t: TlvType) -> Option<TlvRepr<'a>> {
        TlvIter::find(self.tlvs, t)
    }

    /// `1 + tlvs.len()`.
    pub fn buffer_len(&self) -> usize {
        1usize.saturating_add(self.tlvs.len())
    }

    /// Writes `Command ‖ TLVs` into `buf`, returning the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let out = buf
            .get_mut(..n)
            .ok_or(Error::BufferTooSmall { required: n })?;
        let (c, rest) = out
            .split_first_mut()
            .ok_or(Error::BufferTooSmall { required: n })?;
        *c = self.command.into();
        rest.copy_from_slice(self.tlvs);
        Ok(n)
    }
}

impl fmt::Display for BodyRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MLE {}", self.command)?;
        for t in self.tlvs().map_while(|t| t.ok()) {
            write!(f, " [{t}]")?;
        }
        Ok(())
    }
}

/// A secured message as received: header fields parsed, body still encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecuredRepr<'a> {
    /// The auxiliary security header.
    pub aux: AuxSecurityHeaderRepr,
    /// The encrypted `Command ‖ TLVs`.
    pub ciphertext: &'a [u8],
    /// The MIC (as long as the security level says).
    pub mic: &'a [u8],
}

/// A parsed MLE message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageRepr<'a> {
    /// Suite 255: plaintext body.
    Unsecured(BodyRepr<'a>),
    /// Suite 0: auxiliary security header, ciphertext, MIC.
    Secured(SecuredRepr<'a>),
}

/// Checks that an auxiliary security header can secure MLE: a security level other than 0, a
/// frame counter (MLE replay protection needs it) and a key identifier mode that names a key.
pub fn check_mle_aux(aux: &AuxSecurityHeaderRepr) -> Result<()> {
    if aux.security_level == SecurityLevel::None {
        return Err(Error::UnsupportedSecurity("security level 0"));
    }
    if aux.frame_counter.is_none() {
        return Err(Error::UnsupportedSecurity("frame counter suppressed"));
    }
    if aux.key_id.mode() == KeyIdMode::Implicit {
        return Err(Error::UnsupportedSecurity("key id mode 0"));
    }
    if aux.asn_in_nonce {
        return Err(Error::UnsupportedSecurity("ASN in nonce"));
    }
    Ok(())
}

impl<'a> MessageRepr<'a> {
    /// Parses a checked message. A secured message must pass [`check_mle_aux`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(m: &Message<&'a T>) -> Result<Self> {
        match m.security_suite() {
            SecuritySuite::None => Ok(MessageRepr::Unsecured(BodyRepr::parse(m.body())?)),
            SecuritySuite::Ieee802154 => {
                let aux =
                    AuxSecurityHeaderRepr::parse(&AuxSecurityHeader::new_checked(m.aux_header())?)?;
                check_mle_aux(&aux)?;
                Ok(MessageRepr::Secured(SecuredRepr {
                    aux,
                    ciphertext: m.body(),
                    mic: m.mic(),
                }))
            }
            SecuritySuite::Unknown(s) => Err(Error::UnknownSecuritySuite(s)),
        }
    }

    /// Exactly the bytes [`MessageRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            MessageRepr::Unsecured(b) => 1usize.saturating_add(b.buffer_len()),
            MessageRepr::Secured(s) => 1usize
                .saturating_add(s.aux.buffer_len())
                .saturating_add(s.ciphertext.len())
                .saturating_add(s.mic.len()),
        }
    }

    /// Writes the message into `buf`, returning the bytes written. A secured Repr whose MIC
    /// length does not match its security level, or whose ciphertext is empty, is refused with
    /// [`Error::Malformed`] (it could not be parsed back).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let out = buf
            .get_mut(..n)
            .ok_or(Error::BufferTooSmall { required: n })?;
        let (suite, rest) = out
            .split_first_mut()
            .ok_or(Error::BufferTooSmall { required: n })?;
        match self {
            MessageRepr::Unsecured(b) => {
                *suite = SecuritySuite::None.into();
                b.emit(rest)?;
            }
            MessageRepr::Secured(s) => {
                if s.mic.len() != s.aux.security_level.mic_len() || s.ciphertext.is_empty() {
                    return Err(Error::Malformed("MIC length or empty body"));
                }
                *suite = SecuritySuite::Ieee802154.into();
                let (aux, rest) = rest.split_at_mut(s.aux.buffer_len());
                s.aux.emit(&mut AuxSecurityHeader::new_unchecked(aux))?;
                let (ct, mic) = rest.split_at_mut(s.ciphertext.len());
                ct.copy_from_slice(s.ciphertext);
                mic.copy_from_slice(s.mic);
            }
        }
        Ok(n)
    }
}

impl fmt::Display for MessageRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageRepr::Unsecured(b) => write!(f, "{b} (unsecured)"),
            MessageRepr::Secured(s) => {
                write!(f, "MLE secured {} body {} bytes", s.aux, s.ciphertext.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_gens;
    use amimesh_mac::security::KeyIdentifier;
    use proptest::prelude::*;
    use std::vec;

    /// The secured Thread Advertisement of OpenThread's MLE encryption vector
    /// (tests/scripts/thread-cert/test_crypto.py; FACTS §10).
    static THREAD_ADV: &[u8] = include_bytes!("../../testdata/thread_advertisement.bin");

    /// An unsecured Link Request built by hand (field per line).
    static LINK_REQUEST: [u8; 18] = [
        0xff, // suite 255: no security
        0x00, // command 0: Link Request
        0x03, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, // Challenge TLV, 8 bytes
        0x12, 0x02, 0x00, 0x01, // Version TLV: 1
        0x0d, 0x00, // TLV Request, empty
    ];

    fn thread_aux() -> AuxSecurityHeaderRepr {
        AuxSecurityHeaderRepr {
            security_level: SecurityLevel::EncMic32,
            frame_counter: Some(262_165),
            key_id: KeyIdentifier::Source4 {
                source: [0, 0, 0, 0],
                index: 1,
            },
            asn_in_nonce: false,
        }
    }

    #[test]
    fn deconstruct() {
        let m = Message::new_checked(THREAD_ADV).unwrap();
        assert_eq!(m.security_suite(), SecuritySuite::Ieee802154);
        assert!(m.is_secured());
        assert_eq!(m.aux_header(), &THREAD_ADV[1..11]);
        assert_eq!(m.body(), &THREAD_ADV[11..39]);
        assert_eq!(m.mic(), &[0xe1, 0xb5, 0xa2, 0x53]);

        let m = Message::new_checked(&LINK_REQUEST[..]).unwrap();
        assert_eq!(m.security_suite(), SecuritySuite::None);
        assert_eq!(m.aux_header(), &[] as &[u8]);
        assert_eq!(m.body(), &LINK_REQUEST[1..]);
        assert_eq!(m.mic(), &[] as &[u8]);
    }

    #[test]
    fn construct() {
        let mut buf = vec![0xa5u8; LINK_REQUEST.len()];
        let mut m = Message::new_unchecked(&mut buf[..]);
        m.set_security_suite(SecuritySuite::None);
        m.rest_mut().copy_from_slice(&LINK_REQUEST[1..]);
        assert_eq!(&buf[..], &LINK_REQUEST[..]);
    }

    #[test]
    fn parse() {
        let m = Message::new_checked(THREAD_ADV).unwrap();
        assert_eq!(
            MessageRepr::parse(&m).unwrap(),
            MessageRepr::Secured(SecuredRepr {
                aux: thread_aux(),
                ciphertext: &THREAD_ADV[11..39],
                mic: &THREAD_ADV[39..],
            })
        );
        let m = Message::new_checked(&LINK_REQUEST[..]).unwrap();
        let r = MessageRepr::parse(&m).unwrap();
        let MessageRepr::Unsecured(body) = r else {
            panic!("{r:?}")
        };
        assert_eq!(body.command, Command::LinkRequest);
        assert_eq!(
            body.find(TlvType::Challenge),
            Some(TlvRepr::Challenge(&[1, 2, 3, 4, 5, 6, 7, 8]))
        );
        assert_eq!(body.find(TlvType::Version), Some(TlvRepr::Version(1)));
        assert_eq!(body.tlvs().count(), 3);
    }

    #[test]
    fn emit() {
        let r = MessageRepr::Secured(SecuredRepr {
            aux: thread_aux(),
            ciphertext: &THREAD_ADV[11..39],
            mic: &THREAD_ADV[39..],
        });
        assert_eq!(r.buffer_len(), THREAD_ADV.len());
        let mut buf = vec![0xa5u8; THREAD_ADV.len()];
        assert_eq!(r.emit(&mut buf).unwrap(), THREAD_ADV.len());
        assert_eq!(&buf[..], THREAD_ADV);

        let r = MessageRepr::Unsecured(BodyRepr {
            command: Command::LinkRequest,
            tlvs: &LINK_REQUEST[2..],
        });
        let mut buf = vec![0xa5u8; LINK_REQUEST.len()];
        assert_eq!(r.emit(&mut buf).unwrap(), LINK_REQUEST.len());
        assert_eq!(&buf[..], &LINK_REQUEST[..]);
    }

    #[test]
    fn errors() {
        let trunc = |b: &[u8]| Message::new_checked(b).unwrap_err();
        assert_eq!(trunc(&[]), Error::Truncated { needed: 1, got: 0 });
        assert_eq!(trunc(&[0xff]), Error::Truncated { needed: 2, got: 1 });
        assert_eq!(trunc(&[0x00]), Error::Truncated { needed: 2, got: 1 });
        // Every truncation point of the Thread message.
        for n in 2..16 {
            assert_eq!(
                trunc(&THREAD_ADV[..n]),
                Error::Truncated {
                    needed: 1 + 10 + 1 + 4,
                    got: n
                },
                "{n}"
            );
        }
        assert_eq!(trunc(&[0x01, 0x00]), Error::UnknownSecuritySuite(1));
        // Security parameters MLE cannot use.
        for (ctrl, why) in [
            (0x08u8, "security level 0"),
            (0x2d, "frame counter suppressed"),
            (0x05, "key id mode 0"),
            (0x4d, "ASN in nonce"),
        ] {
            let mut b = vec![0x00, ctrl, 0, 0, 0, 0, 1, 0xaa, 0, 0, 0, 0];
            b.truncate(
                1 + AuxSecurityHeader::<&[u8]>::header_len_for(ctrl)
                    + 1
                    + SecurityLevel::from_bits(ctrl).mic_len(),
            );
            let m = Message::new_checked(&b[..]).unwrap();
            assert_eq!(
                MessageRepr::parse(&m).unwrap_err(),
                Error::UnsupportedSecurity(why)
            );
        }
        // A bad TLV in an unsecured body.
        let m = Message::new_checked(&[0xffu8, 0, 1, 2, 0, 0][..]).unwrap();
        assert_eq!(
            MessageRepr::parse(&m).unwrap_err(),
            Error::BadTlvLength {
                tlv_type: 1,
                length: 2
            }
        );
        assert_eq!(
            BodyRepr::parse(&[]).unwrap_err(),
            Error::Truncated { needed: 1, got: 0 }
        );
        // Emit: short buffers and inconsistent secured Reprs.
        let r = MessageRepr::Unsecured(BodyRepr {
            command: Command::LinkRequest,
            tlvs: &[],
        });
        assert_eq!(
            r.emit(&mut [0u8; 1]).unwrap_err(),
            Error::BufferTooSmall { required: 2 }
        );
        let bad = MessageRepr::Secured(SecuredRepr {
            aux: thread_aux(),
            ciphertext: &[1],
            mic: &[1, 2],
        });
        assert_eq!(
            bad.emit(&mut [0u8; 64]).unwrap_err(),
            Error::Malformed("MIC length or empty body")
        );
    }

    proptest! {
        #[test]
        fn prop_emit_parse_round_trip(o in test_gens::message()) {
            let r = o.repr();
            let mut buf = vec![0xa5; r.buffer_len()];
            r.emit(&mut buf).unwrap();
            let m = Message::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(MessageRepr::parse(&m).unwrap(), r);
        }

        #[test]
        fn prop_buffer_len_is_written_len(o in test_gens::message()) {
            let r = o.repr();
            let mut buf = vec![0u8; 512];
            prop_assert_eq!(r.emit(&mut buf).unwrap(), r.buffer_len());
        }

        #[test]
        fn prop_arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(m) = Message::new_checked(&data[..]) {
                let _ = (m.aux_header(), m.body(), m.mic());
                let _ = MessageRepr::parse(&m);
            }
        }

        #[test]
        fn prop_parse_emit_parse_fixed_point(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(m) = Message::new_checked(&data[..]) {
                if let Ok(r) = MessageRepr::parse(&m) {
                    let mut buf = vec![0xa5; r.buffer_len()];
                    r.emit(&mut buf).unwrap();
                    let r2 = MessageRepr::parse(&Message::new_checked(&buf[..]).unwrap()).unwrap();
                    prop_assert_eq!(r2, r);
                }
            }
        }
    }
}
