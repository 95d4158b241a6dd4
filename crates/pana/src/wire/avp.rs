//! PANA AVPs (RFC 5191 §6.3, §8; RFC 6345 §5; RFC 6786 §4–5) and their code points.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-------------------------------+-------------------------------+
//! |           AVP Code            |           AVP Flags (V)       |
//! +-------------------------------+-------------------------------+
//! |          AVP Length           |            Reserved           |
//! +-------------------------------+-------------------------------+
//! |                  Vendor-Id (only when V is set)               |
//! +---------------------------------------------------------------+
//! |    Value ... zero-padded to a multiple of 4 (padding not in    |
//! |    AVP Length)                                                 |
//! ```

use super::{be16, be32, pad4};
use crate::error::{Error, Result};
use core::fmt;

amimesh_core::enum_with_unknown! {
    /// AVP codes (RFC 5191 §8, RFC 6345 §5, RFC 6786 §4–5; IANA "PANA AVP Codes").
    pub enum AvpCode(u16) {
        /// AUTH (1): integrity check of the whole message, always last.
        Auth = 1,
        /// EAP-Payload (2): one EAP packet.
        EapPayload = 2,
        /// Integrity-Algorithm (3): IKEv2 transform type 3 id.
        IntegrityAlgorithm = 3,
        /// Key-Id (4): identifies the MSK in use.
        KeyId = 4,
        /// Nonce (5): 8–256 random bytes.
        Nonce = 5,
        /// PRF-Algorithm (6): IKEv2 transform type 2 id.
        PrfAlgorithm = 6,
        /// Result-Code (7).
        ResultCode = 7,
        /// Session-Lifetime (8): seconds.
        SessionLifetime = 8,
        /// Termination-Cause (9).
        TerminationCause = 9,
        /// PaC-Information (10, RFC 6345 §5.1): PaC address and port.
        PacInformation = 10,
        /// Relayed-Message (11, RFC 6345 §5.2): a whole inner PANA message.
        RelayedMessage = 11,
        /// Encryption-Encap (12, RFC 6786 §4): encrypted AVPs.
        EncryptionEncap = 12,
        /// Encryption-Algorithm (13, RFC 6786 §5).
        EncryptionAlgorithm = 13,
    }
}

amimesh_core::enum_with_unknown! {
    /// Result-Code values (RFC 5191 §8.7).
    pub enum ResultCode(u32) {
        /// PANA_SUCCESS.
        Success = 0,
        /// PANA_AUTHENTICATION_REJECTED.
        AuthenticationRejected = 1,
        /// PANA_AUTHORIZATION_REJECTED.
        AuthorizationRejected = 2,
    }
}

amimesh_core::enum_with_unknown! {
    /// Termination-Cause values (RFC 5191 §8.9, from the Diameter registry).
    pub enum TerminationCause(u32) {
        /// LOGOUT (PaC → PAA).
        Logout = 1,
        /// ADMINISTRATIVE (PAA → PaC).
        Administrative = 4,
        /// SESSION_TIMEOUT (PAA → PaC).
        SessionTimeout = 8,
    }
}

amimesh_core::enum_with_unknown! {
    /// PRF-Algorithm values (IKEv2 transform type 2; RFC 5191 §8.6).
    pub enum PrfAlgorithm(u32) {
        /// PRF_HMAC_SHA1 (mandatory to implement in PANA).
        HmacSha1 = 2,
        /// PRF_HMAC_SHA2_256.
        HmacSha2_256 = 5,
    }
}

amimesh_core::enum_with_unknown! {
    /// Integrity-Algorithm values (IKEv2 transform type 3; RFC 5191 §8.3).
    pub enum IntegrityAlgorithm(u32) {
        /// AUTH_HMAC_SHA1_160 (mandatory to implement in PANA): 20-byte key and MAC.
        HmacSha1_160 = 7,
        /// AUTH_HMAC_SHA2_256_128: 32-byte key, HMAC-SHA-256 truncated to 16 bytes.
        HmacSha2_256_128 = 12,
    }
}

amimesh_core::enum_with_unknown! {
    /// Encryption-Algorithm values (RFC 6786 §5).
    pub enum EncryptionAlgorithm(u32) {
        /// AES128_CTR.
        Aes128Ctr = 1,
    }
}

impl IntegrityAlgorithm {
    /// Length of the AUTH AVP value, if supported.
    pub fn auth_len(self) -> Option<usize> {
        match self {
            IntegrityAlgorithm::HmacSha1_160 => Some(20),
            IntegrityAlgorithm::HmacSha2_256_128 => Some(16),
            IntegrityAlgorithm::Unknown(_) => None,
        }
    }
    /// Length of PANA_AUTH_KEY, if supported (the HMAC key length).
    pub fn key_len(self) -> Option<usize> {
        match self {
            IntegrityAlgorithm::HmacSha1_160 => Some(20),
            IntegrityAlgorithm::HmacSha2_256_128 => Some(32),
            IntegrityAlgorithm::Unknown(_) => None,
        }
    }
}

/// The V (vendor) flag of the AVP Flags field (RFC 5191 §6.3).
pub const FLAG_VENDOR: u16 = 0x8000;

mod field {
    use core::ops::Range;
    pub const CODE: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const VENDOR: Range<usize> = 8..12;
    pub const HEADER_LEN: usize = 8;
    pub const VENDOR_HEADER_LEN: usize = 12;
}

/// A view of one AVP. The buffer starts at the AVP Code; bytes after the value (padding, later
/// AVPs) are allowed.
#[derive(Debug, Clone, Copy)]
pub struct Avp<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Avp<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Avp { buffer }
    }

    /// Wraps a buffer and runs [`Avp::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let a = Avp::new_unchecked(buffer);
        a.check_len()?;
        Ok(a)
    }

    /// Checks that the header (with Vendor-Id when V is set) and the value fit.
    pub fn check_len(&self) -> Result<()> {
        let got = self.buffer.as_ref().len();
        if got < field::HEADER_LEN {
            return Err(Error::Truncated {
                needed: field::HEADER_LEN,
                got,
            });
        }
        let needed = self
            .value_offset()
            .saturating_add(usize::from(self.length()));
        if got < needed {
            return Err(Error::Truncated { needed, got });
        }
        Ok(())
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// AVP Code.
    pub fn code(&self) -> AvpCode {
        AvpCode::from(be16(self.buffer.as_ref(), field::CODE.start))
    }

    /// AVP Flags (raw).
    pub fn flags(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLAGS.start)
    }

    /// `true` when the V flag is set and a Vendor-Id is present.
    pub fn is_vendor(&self) -> bool {
        self.flags() & FLAG_VENDOR != 0
    }

    /// AVP Length: the length of the value only (RFC 5191 §6.3).
    pub fn length(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Vendor-Id, when V is set.
    pub fn vendor_id(&self) -> Option<u32> {
        self.is_vendor()
            .then(|| be32(self.buffer.as_ref(), field::VENDOR.start))
    }

    fn value_offset(&self) -> usize {
        if self.is_vendor() {
            field::VENDOR_HEADER_LEN
        } else {
            field::HEADER_LEN
        }
    }

    /// Offset of the value inside the buffer.
    pub fn value_start(&self) -> usize {
        self.value_offset()
    }

    /// Header + value + padding.
    pub fn padded_len(&self) -> usize {
        self.value_offset()
            .saturating_add(pad4(usize::from(self.length())))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Avp<&'a T> {
    /// The value (without padding).
    #[allow(clippy::indexing_slicing)] // range validated by `check_len`
    pub fn value(&self) -> &'a [u8] {
        let start = self.value_offset();
        &self.buffer.as_ref()[start..start + usize::from(self.length())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Avp<T> {
    /// Sets the AVP Code.
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_code(&mut self, code: AvpCode) {
        self.buffer.as_mut()[field::CODE].copy_from_slice(&u16::from(code).to_be_bytes());
    }
    /// Sets the AVP Flags. Changing V voids the `check_len` guarantee.
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_flags(&mut self, flags: u16) {
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&flags.to_be_bytes());
    }
    /// Sets AVP Length. Voids the `check_len` guarantee.
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_length(&mut self, len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
        self.buffer.as_mut()[6..8].fill(0);
    }
    /// Sets the Vendor-Id (V must be set).
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_vendor_id(&mut self, id: u32) {
        self.buffer.as_mut()[field::VENDOR].copy_from_slice(&id.to_be_bytes());
    }
    /// The value, mutably.
    #[allow(clippy::indexing_slicing)] // range validated by `check_len`
    pub fn value_mut(&mut self) -> &mut [u8] {
        let start = self.value_offset();
        let len = usize::from(self.length());
        &mut self.buffer.as_mut()[start..start + len]
    }
}

/// An AVP as a value: code, optional Vendor-Id and a borrowed value. Unknown codes and vendor
/// AVPs round-trip unchanged; reserved flag bits are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvpRepr<'a> {
    /// AVP Code.
    pub code: AvpCode,
    /// Vendor-Id; `Some` sets the V flag.
    pub vendor_id: Option<u32>,
    /// The value, without padding (at most 65535 bytes).
    pub value: &'a [u8],
}

impl<'a> AvpRepr<'a> {
    /// An IETF (non-vendor) AVP.
    pub const fn new(code: AvpCode, value: &'a [u8]) -> Self {
        AvpRepr {
            code,
            vendor_id: None,
            value,
        }
    }

    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(avp: &Avp<&'a T>) -> Result<Self> {
        Ok(AvpRepr {
            code: avp.code(),
            vendor_id: avp.vendor_id(),
            value: avp.value(),
        })
    }

    /// Bytes `emit` writes: header, Vendor-Id, value and padding.
    pub const fn buffer_len(&self) -> usize {
        let h = if self.vendor_id.is_some() {
            field::VENDOR_HEADER_LEN
        } else {
            field::HEADER_LEN
        };
        h + pad4(self.value.len())
    }

    /// Writes the AVP (with zero padding) into a buffer of at least `buffer_len()` bytes.
    ///
    /// # Panics
    /// If the buffer is shorter than `buffer_len()`.
    #[allow(clippy::indexing_slicing)] // documented precondition: buffer_len() bytes
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, avp: &mut Avp<T>) {
        let len = u16::try_from(self.value.len()).unwrap_or(u16::MAX);
        avp.set_code(self.code);
        avp.set_flags(if self.vendor_id.is_some() {
            FLAG_VENDOR
        } else {
            0
        });
        avp.set_length(len);
        if let Some(v) = self.vendor_id {
            avp.set_vendor_id(v);
        }
        let start = avp.value_offset();
        let buf = avp.buffer.as_mut();
        buf[start..start + self.value.len()].copy_from_slice(self.value);
        buf[start + self.value.len()..self.buffer_len()].fill(0);
    }

    /// The value as an Unsigned32 / Enumerated (RFC 5191 §8: exactly 4 bytes).
    pub fn value_u32(&self) -> Result<u32> {
        let b: [u8; 4] = self
            .value
            .try_into()
            .map_err(|_| Error::Malformed("Unsigned32 AVP is not 4 bytes"))?;
        Ok(u32::from_be_bytes(b))
    }
}

impl fmt::Display for AvpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AVP {:?}", self.code)?;
        if let Some(v) = self.vendor_id {
            write!(f, " vendor {v:#x}")?;
        }
        write!(f, " len {}", self.value.len())
    }
}

/// Iterates over an AVP area. Each AVP must fit with its padding; the iterator yields the first
/// error once and then stops.
#[derive(Debug, Clone)]
pub struct AvpIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> AvpIter<'a> {
    /// Iterates over `area` (the bytes after the PANA header, or an Encryption-Encap plaintext).
    pub const fn new(area: &'a [u8]) -> Self {
        AvpIter {
            rest: area,
            failed: false,
        }
    }

    /// Checks the whole area without yielding anything.
    pub fn validate(area: &'a [u8]) -> Result<()> {
        for a in AvpIter::new(area) {
            a?;
        }
        Ok(())
    }

    /// The first AVP with `code` (and no vendor), ignoring malformed tails.
    pub fn find(area: &'a [u8], code: AvpCode) -> Option<AvpRepr<'a>> {
        AvpIter::new(area)
            .map_while(|r| r.ok())
            .find(|a| a.code == code && a.vendor_id.is_none())
    }
}

impl<'a> Iterator for AvpIter<'a> {
    type Item = Result<AvpRepr<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let step = Avp::new_checked(self.rest).and_then(|avp| {
            let padded = avp.padded_len();
            if padded > self.rest.len() {
                return Err(Error::Truncated {
                    needed: padded,
                    got: self.rest.len(),
                });
            }
            Ok((AvpRepr::parse(&avp)?, padded))
        });
        match step {
            Ok((repr, padded)) => {
                self.rest = self.rest.get(padded..).unwrap_or(&[]);
                Some(Ok(repr))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Result-Code AVP: code 7, flags 0, length 4, reserved 0, value 0 (PANA_SUCCESS).
    // Layout per RFC 5191 §6.3.
    static RESULT_CODE: [u8; 12] = [
        0x00, 0x07, // AVP Code 7
        0x00, 0x00, // flags
        0x00, 0x04, // AVP Length 4
        0x00, 0x00, // reserved
        0x00, 0x00, 0x00, 0x01, // value 1 = AUTHENTICATION_REJECTED
    ];

    // Vendor AVP with a 3-byte value and one pad byte: code 1, V, vendor 0x917C (ZigBee).
    static VENDOR: [u8; 16] = [
        0x00, 0x01, // code 1
        0x80, 0x00, // V flag
        0x00, 0x03, // length 3
        0x00, 0x00, // reserved
        0x00, 0x00, 0x91, 0x7c, // Vendor-Id
        0xaa, 0xbb, 0xcc, // value
        0x00, // padding
    ];

    #[test]
    fn deconstruct() {
        let a = Avp::new_checked(&RESULT_CODE[..]).unwrap();
        assert_eq!(a.code(), AvpCode::ResultCode);
        assert!(!a.is_vendor());
        assert_eq!(a.length(), 4);
        assert_eq!(a.value(), &[0, 0, 0, 1]);
        let v = Avp::new_checked(&VENDOR[..]).unwrap();
        assert_eq!(v.vendor_id(), Some(0x917c));
        assert_eq!(v.value(), &[0xaa, 0xbb, 0xcc]);
        assert_eq!(v.padded_len(), 16);
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 16];
        let mut a = Avp::new_unchecked(&mut buf[..]);
        a.set_code(AvpCode::Auth);
        a.set_flags(FLAG_VENDOR);
        a.set_length(3);
        a.set_vendor_id(0x917c);
        a.value_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc]);
        buf[15] = 0;
        assert_eq!(buf, VENDOR);
    }

    #[test]
    fn parse() {
        let a = Avp::new_checked(&RESULT_CODE[..]).unwrap();
        let r = AvpRepr::parse(&a).unwrap();
        assert_eq!(r, AvpRepr::new(AvpCode::ResultCode, &[0, 0, 0, 1]));
        assert_eq!(
            ResultCode::from(r.value_u32().unwrap()),
            ResultCode::AuthenticationRejected
        );
    }

    #[test]
    fn emit() {
        let r = AvpRepr {
            code: AvpCode::Auth,
            vendor_id: Some(0x917c),
            value: &[0xaa, 0xbb, 0xcc],
        };
        assert_eq!(r.buffer_len(), 16);
        let mut buf = [0xa5u8; 16];
        r.emit(&mut Avp::new_unchecked(&mut buf[..]));
        assert_eq!(buf, VENDOR);
    }

    #[test]
    fn truncation_errors() {
        for n in 0..8 {
            assert_eq!(
                Avp::new_checked(&RESULT_CODE[..n]).unwrap_err(),
                Error::Truncated { needed: 8, got: n }
            );
        }
        assert_eq!(
            Avp::new_checked(&RESULT_CODE[..11]).unwrap_err(),
            Error::Truncated {
                needed: 12,
                got: 11
            }
        );
        assert_eq!(
            Avp::new_checked(&VENDOR[..11]).unwrap_err(),
            Error::Truncated {
                needed: 15,
                got: 11
            }
        );
        // Missing padding is an error in an AVP area, and the iterator stops there.
        let mut area = [0u8; 28];
        area[..12].copy_from_slice(&RESULT_CODE);
        area[12..28].copy_from_slice(&VENDOR);
        let mut it = AvpIter::new(&area[..27]);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(
            it.next().unwrap().unwrap_err(),
            Error::Truncated {
                needed: 16,
                got: 15
            }
        );
        assert!(it.next().is_none());
        assert_eq!(AvpIter::new(&area).count(), 2);
        assert!(
            AvpRepr::new(AvpCode::ResultCode, &[0; 3])
                .value_u32()
                .is_err()
        );
    }

    #[test]
    fn code_points() {
        assert_eq!(u16::from(AvpCode::EncryptionEncap), 12);
        assert_eq!(u16::from(AvpCode::EncryptionAlgorithm), 13);
        assert_eq!(AvpCode::from(99u16), AvpCode::Unknown(99));
        assert_eq!(u32::from(TerminationCause::SessionTimeout), 8);
        assert_eq!(u32::from(ResultCode::AuthorizationRejected), 2);
        assert_eq!(u32::from(PrfAlgorithm::HmacSha2_256), 5);
        assert_eq!(u32::from(IntegrityAlgorithm::HmacSha2_256_128), 12);
        assert_eq!(IntegrityAlgorithm::HmacSha1_160.auth_len(), Some(20));
        assert_eq!(IntegrityAlgorithm::Unknown(3).key_len(), None);
    }
}
