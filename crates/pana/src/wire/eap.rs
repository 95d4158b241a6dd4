//! EAP packets (RFC 3748 §4).
//!
//! ```text
//! +--------+------------+-----------------+--------+-------------
//! | Code   | Identifier | Length (2)      | Type   | Type-Data ...
//! +--------+------------+-----------------+--------+-------------
//! ```
//! Type and Type-Data are present in Requests and Responses only; Success and Failure are
//! exactly 4 bytes.

use super::be16;
use crate::error::{Error, Result};
use core::fmt;

amimesh_core::enum_with_unknown! {
    /// EAP Code (RFC 3748 §4).
    pub enum EapCode(u8) {
        /// Request.
        Request = 1,
        /// Response.
        Response = 2,
        /// Success.
        Success = 3,
        /// Failure.
        Failure = 4,
    }
}

amimesh_core::enum_with_unknown! {
    /// EAP method Type (RFC 3748 §5, IANA "Method Types").
    pub enum EapType(u8) {
        /// Identity.
        Identity = 1,
        /// Notification.
        Notification = 2,
        /// Legacy Nak (responses only).
        Nak = 3,
        /// EAP-PSK (RFC 4764).
        Psk = 47,
        /// Expanded Types.
        Expanded = 254,
    }
}

/// Length of the Code/Identifier/Length header.
pub const HEADER_LEN: usize = 4;

/// A view of one EAP packet. Bytes after Length are ignored (RFC 3748 §4: they are padding).
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }
    /// Wraps a buffer and runs [`Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Checks the header, that Length fits the buffer, and that a Request/Response has a Type.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                got: b.len(),
            });
        }
        let len = usize::from(self.length());
        if len < HEADER_LEN {
            return Err(Error::BadLength);
        }
        if len > b.len() {
            return Err(Error::Truncated {
                needed: len,
                got: b.len(),
            });
        }
        if self.has_type() && len < HEADER_LEN + 1 {
            return Err(Error::BadLength);
        }
        Ok(())
    }
    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// Code.
    #[allow(clippy::indexing_slicing)] // check_len: at least HEADER_LEN bytes
    pub fn code(&self) -> EapCode {
        EapCode::from(self.buffer.as_ref()[0])
    }
    /// Identifier.
    #[allow(clippy::indexing_slicing)] // check_len: at least HEADER_LEN bytes
    pub fn identifier(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    /// Length (whole packet).
    pub fn length(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
    fn has_type(&self) -> bool {
        matches!(self.code(), EapCode::Request | EapCode::Response)
    }
    /// Type (Request/Response only).
    pub fn eap_type(&self) -> Option<EapType> {
        if self.has_type() {
            self.buffer
                .as_ref()
                .get(HEADER_LEN)
                .map(|t| EapType::from(*t))
        } else {
            None
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Type-Data (Request/Response; empty otherwise).
    pub fn type_data(&self) -> &'a [u8] {
        if !self.has_type() {
            return &[];
        }
        self.buffer
            .as_ref()
            .get(HEADER_LEN + 1..usize::from(self.length()))
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets Code.
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_code(&mut self, c: EapCode) {
        self.buffer.as_mut()[0] = c.into();
    }
    /// Sets Identifier.
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_identifier(&mut self, id: u8) {
        self.buffer.as_mut()[1] = id;
    }
    /// Sets Length. Voids the `check_len` guarantee.
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_length(&mut self, len: u16) {
        self.buffer.as_mut()[2..4].copy_from_slice(&len.to_be_bytes());
    }
    /// Sets Type (needs 5 bytes).
    #[allow(clippy::indexing_slicing)] // precondition: 5 bytes
    pub fn set_eap_type(&mut self, t: EapType) {
        self.buffer.as_mut()[HEADER_LEN] = t.into();
    }
}

/// An EAP packet as a value. `eap_type` is `Some` exactly for Requests and Responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EapRepr<'a> {
    /// Code.
    pub code: EapCode,
    /// Identifier.
    pub identifier: u8,
    /// Type (Request/Response).
    pub eap_type: Option<EapType>,
    /// Type-Data (empty for Success/Failure).
    pub type_data: &'a [u8],
}

impl<'a> EapRepr<'a> {
    /// Parses a checked packet; unknown Codes and a Success/Failure longer than 4 bytes are
    /// rejected (RFC 3748 §4.2).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &Packet<&'a T>) -> Result<Self> {
        match p.code() {
            EapCode::Unknown(_) => Err(Error::Malformed("unknown EAP code")),
            EapCode::Success | EapCode::Failure if p.length() != 4 => Err(Error::BadLength),
            code => Ok(EapRepr {
                code,
                identifier: p.identifier(),
                eap_type: p.eap_type(),
                type_data: p.type_data(),
            }),
        }
    }

    /// A Request or Response.
    pub const fn with_type(
        code: EapCode,
        identifier: u8,
        eap_type: EapType,
        type_data: &'a [u8],
    ) -> Self {
        EapRepr {
            code,
            identifier,
            eap_type: Some(eap_type),
            type_data,
        }
    }

    /// A Success or Failure.
    pub const fn result(success: bool, identifier: u8) -> Self {
        EapRepr {
            code: if success {
                EapCode::Success
            } else {
                EapCode::Failure
            },
            identifier,
            eap_type: None,
            type_data: &[],
        }
    }

    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        match self.eap_type {
            Some(_) => HEADER_LEN + 1 + self.type_data.len(),
            None => HEADER_LEN,
        }
    }

    /// Writes the packet into a buffer of at least `buffer_len()` bytes.
    ///
    /// # Panics
    /// If the buffer is shorter than `buffer_len()`.
    #[allow(clippy::indexing_slicing)] // documented precondition: buffer_len() bytes
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_code(self.code);
        p.set_identifier(self.identifier);
        p.set_length(u16::try_from(self.buffer_len()).unwrap_or(u16::MAX));
        if let Some(t) = self.eap_type {
            p.set_eap_type(t);
            p.buffer.as_mut()[HEADER_LEN + 1..self.buffer_len()].copy_from_slice(self.type_data);
        }
    }

    /// Emits into `buf`, returning the length.
    pub fn emit_into(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let slot = buf
            .get_mut(..n)
            .ok_or(Error::BufferTooSmall { required: n })?;
        self.emit(&mut Packet::new_unchecked(slot));
        Ok(n)
    }
}

impl fmt::Display for EapRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EAP {:?} id {}", self.code, self.identifier)?;
        if let Some(t) = self.eap_type {
            write!(f, " {t:?} {}B", self.type_data.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // EAP-Response/Identity "pac@example", identifier 0x6f: the first packet of the
    // hostapd/wpa_supplicant session in testdata/eap-psk-hostapd.json.
    static IDENTITY: [u8; 16] = [
        0x02, // Response
        0x6f, // Identifier
        0x00, 0x10, // Length 16
        0x01, // Identity
        b'p', b'a', b'c', b'@', b'e', b'x', b'a', b'm', b'p', b'l', b'e',
    ];
    // EAP-Success, identifier 0x71 (same session).
    static SUCCESS: [u8; 4] = [0x03, 0x71, 0x00, 0x04];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&IDENTITY[..]).unwrap();
        assert_eq!(p.code(), EapCode::Response);
        assert_eq!(p.identifier(), 0x6f);
        assert_eq!(p.length(), 16);
        assert_eq!(p.eap_type(), Some(EapType::Identity));
        assert_eq!(p.type_data(), b"pac@example");
        let s = Packet::new_checked(&SUCCESS[..]).unwrap();
        assert_eq!(s.eap_type(), None);
        assert_eq!(s.type_data(), b"");
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 16];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_code(EapCode::Response);
        p.set_identifier(0x6f);
        p.set_length(16);
        p.set_eap_type(EapType::Identity);
        buf[5..].copy_from_slice(b"pac@example");
        assert_eq!(buf, IDENTITY);
    }

    #[test]
    fn parse() {
        let p = Packet::new_checked(&IDENTITY[..]).unwrap();
        assert_eq!(
            EapRepr::parse(&p).unwrap(),
            EapRepr::with_type(EapCode::Response, 0x6f, EapType::Identity, b"pac@example")
        );
        let s = Packet::new_checked(&SUCCESS[..]).unwrap();
        assert_eq!(EapRepr::parse(&s).unwrap(), EapRepr::result(true, 0x71));
    }

    #[test]
    fn emit() {
        let mut buf = [0xa5u8; 16];
        let r = EapRepr::with_type(EapCode::Response, 0x6f, EapType::Identity, b"pac@example");
        assert_eq!(r.emit_into(&mut buf).unwrap(), 16);
        assert_eq!(buf, IDENTITY);
        let mut buf = [0xa5u8; 4];
        EapRepr::result(true, 0x71).emit_into(&mut buf).unwrap();
        assert_eq!(buf, SUCCESS);
        assert_eq!(
            r.emit_into(&mut [0u8; 15]).unwrap_err(),
            Error::BufferTooSmall { required: 16 }
        );
    }

    #[test]
    fn errors() {
        for n in 0..4 {
            assert_eq!(
                Packet::new_checked(&IDENTITY[..n]).unwrap_err(),
                Error::Truncated { needed: 4, got: n }
            );
        }
        assert_eq!(
            Packet::new_checked(&IDENTITY[..15]).unwrap_err(),
            Error::Truncated {
                needed: 16,
                got: 15
            }
        );
        assert_eq!(
            Packet::new_checked(&[1u8, 0, 0, 3][..]).unwrap_err(),
            Error::BadLength
        );
        assert_eq!(
            Packet::new_checked(&[1u8, 0, 0, 4][..]).unwrap_err(),
            Error::BadLength
        );
        let p = Packet::new_checked(&[9u8, 0, 0, 4][..]).unwrap();
        assert_eq!(
            EapRepr::parse(&p).unwrap_err(),
            Error::Malformed("unknown EAP code")
        );
        let p = Packet::new_checked(&[3u8, 0, 0, 5, 0][..]).unwrap();
        assert_eq!(EapRepr::parse(&p).unwrap_err(), Error::BadLength);
    }
}
