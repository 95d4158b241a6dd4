//! Information Elements (802.15.4-2020 §7.4).
//!
//! - Header IEs (§7.4.2): 2-byte descriptor (LE) with Length in bits 0–6, Element ID in bits
//!   7–14 and Type = 0 in bit 15, then the content.
//! - Payload IEs (§7.4.3): Length in bits 0–10, Group ID in bits 11–14, Type = 1 in bit 15.
//! - Nested IEs inside the MLME payload IE (§7.4.4): short (Type 0: Length bits 0–7, Sub-ID
//!   bits 8–14) or long (Type 1: Length bits 0–10, Sub-ID bits 11–14).
//!
//! Every IE view has `new_checked`/`check_len`, a Repr with `parse`/`emit`/`buffer_len`, and
//! an iterator that yields IEs in order and stops after the first malformed one. IEs this crate
//! does not interpret keep their element or group id as `Unknown(id)` and their content bytes,
//! so they round-trip untouched.

use crate::error::{Error, Result, need};
use core::fmt;

amimesh_core::enum_with_unknown! {
    /// Header IE Element IDs (802.15.4-2020 Table 7-7), the ones with a name here.
    pub enum HeaderElementId(u8) {
        /// 0x00 Vendor Specific Header IE.
        VendorSpecific = 0x00,
        /// 0x1a LE CSL.
        Csl = 0x1a,
        /// 0x1b LE RIT.
        Rit = 0x1b,
        /// 0x1c DSME PAN descriptor.
        DsmePanDescriptor = 0x1c,
        /// 0x1d Rendezvous Time.
        RendezvousTime = 0x1d,
        /// 0x1e Time Correction (ACK/NACK).
        TimeCorrection = 0x1e,
        /// 0x1f Group ACK.
        GroupAck = 0x1f,
        /// 0x20 LLN information.
        LlnInfo = 0x20,
        /// 0x7e Header Termination 1: payload IEs follow.
        HeaderTermination1 = 0x7e,
        /// 0x7f Header Termination 2: the MAC payload follows (no payload IEs).
        HeaderTermination2 = 0x7f,
    }
}

amimesh_core::enum_with_unknown! {
    /// Payload IE Group IDs (802.15.4-2020 Table 7-15).
    pub enum PayloadGroupId(u8) {
        /// 0x0 ESDU.
        Esdu = 0x0,
        /// 0x1 MLME (nested IEs).
        Mlme = 0x1,
        /// 0x2 Vendor Specific Nested.
        VendorSpecific = 0x2,
        /// 0x3 Multiple-channel-use (MPX).
        Mpx = 0x3,
        /// 0x5 IETF.
        Ietf = 0x5,
        /// 0xf Payload Termination.
        Termination = 0xf,
    }
}

/// How the Header IE list of a frame ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderTermination {
    /// No termination IE: the header IEs run to the end of the frame (before the MIC).
    None,
    /// HT1: payload IEs follow.
    PayloadIes,
    /// HT2: the MAC payload follows directly.
    Payload,
}

/// A view of one Header IE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderIe<T: AsRef<[u8]>> {
    buffer: T,
}

// Indexing is guarded by `check_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> HeaderIe<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        HeaderIe { buffer }
    }
    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let ie = Self::new_unchecked(buffer);
        ie.check_len()?;
        Ok(ie)
    }
    /// Ensures the descriptor and the announced content are present and Type is 0.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 2)?;
        if self.descriptor() & 0x8000 != 0 {
            return Err(Error::Malformed("payload IE where a header IE is expected"));
        }
        need(b, 2 + self.content_len())
    }
    /// Returns the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// The raw descriptor.
    pub fn descriptor(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_le_bytes([b[0], b[1]])
    }
    /// Content length (0–127).
    pub fn content_len(&self) -> usize {
        usize::from(self.descriptor() & 0x7f)
    }
    /// Element ID.
    pub fn element_id(&self) -> HeaderElementId {
        HeaderElementId::from(((self.descriptor() >> 7) & 0xff) as u8)
    }
    /// Total length (descriptor + content).
    pub fn total_len(&self) -> usize {
        2 + self.content_len()
    }
}

#[allow(clippy::indexing_slicing)]
impl<'a, T: AsRef<[u8]> + ?Sized> HeaderIe<&'a T> {
    /// The content bytes.
    pub fn content(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[2..2 + self.content_len()]
    }
}

/// A Header IE, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderIeRepr<'a> {
    /// Element ID.
    pub element_id: HeaderElementId,
    /// Content (at most 127 bytes).
    pub content: &'a [u8],
}

impl<'a> HeaderIeRepr<'a> {
    /// HT1: header IEs end, payload IEs follow.
    pub const HT1: HeaderIeRepr<'static> = HeaderIeRepr {
        element_id: HeaderElementId::HeaderTermination1,
        content: &[],
    };
    /// HT2: header IEs end, the payload follows.
    pub const HT2: HeaderIeRepr<'static> = HeaderIeRepr {
        element_id: HeaderElementId::HeaderTermination2,
        content: &[],
    };

    /// Decodes a checked IE.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(ie: &HeaderIe<&'a T>) -> Result<Self> {
        ie.check_len()?;
        Ok(HeaderIeRepr {
            element_id: ie.element_id(),
            content: ie.content(),
        })
    }
    /// Encoded length.
    pub fn buffer_len(&self) -> usize {
        2 + self.content.len()
    }
    /// Writes the IE at the start of `buf`; returns the bytes written.
    ///
    /// # Errors
    /// [`Error::Invalid`] for content over 127 bytes; [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.content.len() > 0x7f {
            return Err(Error::Invalid("header IE content over 127 bytes"));
        }
        let len = self.buffer_len();
        let out = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        let id = u16::from(u8::from(self.element_id));
        let d = (self.content.len() as u16) | (id << 7);
        let (head, content) = out.split_at_mut(2);
        head.copy_from_slice(&d.to_le_bytes());
        content.copy_from_slice(self.content);
        Ok(len)
    }
}

impl fmt::Display for HeaderIeRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HeaderIE id=0x{:02x} len={}",
            u8::from(self.element_id),
            self.content.len()
        )
    }
}

/// Iterates over a Header IE list; stops after the first malformed IE (yielding its error).
#[derive(Debug, Clone)]
pub struct HeaderIeIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> HeaderIeIter<'a> {
    /// Iterates over `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Self {
        HeaderIeIter {
            rest: bytes,
            failed: false,
        }
    }
}

impl<'a> Iterator for HeaderIeIter<'a> {
    type Item = Result<HeaderIeRepr<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let ie = HeaderIe::new_unchecked(self.rest);
        match HeaderIeRepr::parse(&ie) {
            Ok(r) => {
                self.rest = self.rest.get(ie.total_len()..).unwrap_or(&[]);
                Some(Ok(r))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Walks a Header IE list at the start of `bytes`: returns its length (termination included)
/// and how it ended.
pub fn header_ies_len(bytes: &[u8]) -> Result<(usize, HeaderTermination)> {
    let mut off = 0usize;
    while let Some(rest) = bytes.get(off..).filter(|r| !r.is_empty()) {
        let ie = HeaderIe::new_checked(rest)?;
        off = off.saturating_add(ie.total_len());
        match ie.element_id() {
            HeaderElementId::HeaderTermination1 => return Ok((off, HeaderTermination::PayloadIes)),
            HeaderElementId::HeaderTermination2 => return Ok((off, HeaderTermination::Payload)),
            _ => {}
        }
    }
    Ok((off, HeaderTermination::None))
}

/// A view of one Payload IE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadIe<T: AsRef<[u8]>> {
    buffer: T,
}

#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> PayloadIe<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        PayloadIe { buffer }
    }
    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let ie = Self::new_unchecked(buffer);
        ie.check_len()?;
        Ok(ie)
    }
    /// Ensures the descriptor and content are present and Type is 1.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 2)?;
        if self.descriptor() & 0x8000 == 0 {
            return Err(Error::Malformed("header IE where a payload IE is expected"));
        }
        need(b, 2 + self.content_len())
    }
    /// Returns the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// The raw descriptor.
    pub fn descriptor(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_le_bytes([b[0], b[1]])
    }
    /// Content length (0–2047).
    pub fn content_len(&self) -> usize {
        usize::from(self.descriptor() & 0x07ff)
    }
    /// Group ID.
    pub fn group_id(&self) -> PayloadGroupId {
        PayloadGroupId::from(((self.descriptor() >> 11) & 0x0f) as u8)
    }
    /// Total length.
    pub fn total_len(&self) -> usize {
        2 + self.content_len()
    }
}

#[allow(clippy::indexing_slicing)]
impl<'a, T: AsRef<[u8]> + ?Sized> PayloadIe<&'a T> {
    /// The content bytes.
    pub fn content(&self) -> &'a [u8] {
        &self.buffer.as_ref()[2..2 + self.content_len()]
    }
}

/// A Payload IE, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadIeRepr<'a> {
    /// Group ID.
    pub group_id: PayloadGroupId,
    /// Content (at most 2047 bytes); for the MLME group, a list of nested IEs
    /// ([`NestedIeIter`]).
    pub content: &'a [u8],
}

impl<'a> PayloadIeRepr<'a> {
    /// The Payload Termination IE.
    pub const TERMINATION: PayloadIeRepr<'static> = PayloadIeRepr {
        group_id: PayloadGroupId::Termination,
        content: &[],
    };
    /// Decodes a checked IE.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(ie: &PayloadIe<&'a T>) -> Result<Self> {
        ie.check_len()?;
        Ok(PayloadIeRepr {
            group_id: ie.group_id(),
            content: ie.content(),
        })
    }
    /// Encoded length.
    pub fn buffer_len(&self) -> usize {
        2 + self.content.len()
    }
    /// Writes the IE at the start of `buf`; returns the bytes written.
    ///
    /// # Errors
    /// [`Error::Invalid`] for content over 2047 bytes or a group id over 15;
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.content.len() > 0x07ff {
            return Err(Error::Invalid("payload IE content over 2047 bytes"));
        }
        let g = u8::from(self.group_id);
        if g > 0x0f {
            return Err(Error::Invalid("payload IE group id over 15"));
        }
        let len = self.buffer_len();
        let out = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        let d = (self.content.len() as u16) | (u16::from(g) << 11) | 0x8000;
        let (head, content) = out.split_at_mut(2);
        head.copy_from_slice(&d.to_le_bytes());
        content.copy_from_slice(self.content);
        Ok(len)
    }
    /// The nested IEs of an MLME payload IE.
    pub fn nested(&self) -> NestedIeIter<'a> {
        NestedIeIter::new(self.content)
    }
}

impl fmt::Display for PayloadIeRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PayloadIE group=0x{:x} len={}",
            u8::from(self.group_id),
            self.content.len()
        )
    }
}

/// Iterates over a Payload IE list; stops after a termination IE or the first error.
#[derive(Debug, Clone)]
pub struct PayloadIeIter<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> PayloadIeIter<'a> {
    /// Iterates over `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Self {
        PayloadIeIter {
            rest: bytes,
            done: false,
        }
    }
}

impl<'a> Iterator for PayloadIeIter<'a> {
    type Item = Result<PayloadIeRepr<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.done {
            return None;
        }
        let ie = PayloadIe::new_unchecked(self.rest);
        match PayloadIeRepr::parse(&ie) {
            Ok(r) => {
                self.rest = self.rest.get(ie.total_len()..).unwrap_or(&[]);
                self.done = r.group_id == PayloadGroupId::Termination;
                Some(Ok(r))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Splits a frame's content that starts with a Payload IE list into (IE bytes including any
/// termination, MAC payload).
pub fn split_payload_ies(bytes: &[u8]) -> Result<(&[u8], &[u8])> {
    let mut off = 0usize;
    while let Some(rest) = bytes.get(off..).filter(|r| !r.is_empty()) {
        let ie = PayloadIe::new_checked(rest)?;
        off = off.saturating_add(ie.total_len());
        if ie.group_id() == PayloadGroupId::Termination {
            break;
        }
    }
    Ok(bytes.split_at(off.min(bytes.len())))
}

impl<T: AsRef<[u8]>> fmt::Display for HeaderIe<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.check_len() {
            Ok(()) => write!(
                f,
                "HeaderIE id=0x{:02x} len={}",
                u8::from(self.element_id()),
                self.content_len()
            ),
            Err(e) => write!(f, "HeaderIE ({e})"),
        }
    }
}

impl<T: AsRef<[u8]>> fmt::Display for PayloadIe<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.check_len() {
            Ok(()) => write!(
                f,
                "PayloadIE group=0x{:x} len={}",
                u8::from(self.group_id()),
                self.content_len()
            ),
            Err(e) => write!(f, "PayloadIE ({e})"),
        }
    }
}

impl fmt::Display for NestedIeRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.long { "long" } else { "short" };
        write!(
            f,
            "NestedIE {kind} sub_id=0x{:02x} len={}",
            self.sub_id,
            self.content.len()
        )
    }
}

/// A nested IE (inside an MLME payload IE), decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NestedIeRepr<'a> {
    /// Long format (Type 1: 4-bit Sub-ID, up to 2047 bytes) or short (7-bit Sub-ID, up to 255).
    pub long: bool,
    /// Sub-ID.
    pub sub_id: u8,
    /// Content.
    pub content: &'a [u8],
}

impl<'a> NestedIeRepr<'a> {
    /// Decodes the nested IE at the start of `bytes`; returns it and its total length.
    pub fn parse(bytes: &'a [u8]) -> Result<(Self, usize)> {
        need(bytes, 2)?;
        let d = u16::from_le_bytes([
            bytes.first().copied().unwrap_or(0),
            bytes.get(1).copied().unwrap_or(0),
        ]);
        let long = d & 0x8000 != 0;
        let (len, sub_id) = if long {
            (usize::from(d & 0x07ff), ((d >> 11) & 0x0f) as u8)
        } else {
            (usize::from(d & 0x00ff), ((d >> 8) & 0x7f) as u8)
        };
        need(bytes, 2 + len)?;
        let content = bytes.get(2..2 + len).unwrap_or(&[]);
        Ok((
            NestedIeRepr {
                long,
                sub_id,
                content,
            },
            2 + len,
        ))
    }
    /// Encoded length.
    pub fn buffer_len(&self) -> usize {
        2 + self.content.len()
    }
    /// Writes the IE at the start of `buf`; returns the bytes written.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the Sub-ID or length does not fit the format;
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.content.len();
        let d = if self.long {
            if n > 0x07ff || self.sub_id > 0x0f {
                return Err(Error::Invalid("long nested IE out of range"));
            }
            0x8000 | (u16::from(self.sub_id) << 11) | n as u16
        } else {
            if n > 0xff || self.sub_id > 0x7f {
                return Err(Error::Invalid("short nested IE out of range"));
            }
            (u16::from(self.sub_id) << 8) | n as u16
        };
        let len = self.buffer_len();
        let out = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        let (head, content) = out.split_at_mut(2);
        head.copy_from_slice(&d.to_le_bytes());
        content.copy_from_slice(self.content);
        Ok(len)
    }
}

/// Iterates over nested IEs; stops after the first error.
#[derive(Debug, Clone)]
pub struct NestedIeIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> NestedIeIter<'a> {
    /// Iterates over `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Self {
        NestedIeIter {
            rest: bytes,
            failed: false,
        }
    }
}

impl<'a> Iterator for NestedIeIter<'a> {
    type Item = Result<NestedIeRepr<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match NestedIeRepr::parse(self.rest) {
            Ok((r, n)) => {
                self.rest = self.rest.get(n..).unwrap_or(&[]);
                Some(Ok(r))
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
    use alloc::vec::Vec;

    // CSL header IE (id 0x1a, 4 bytes: phase 0x0010, period 0x0020), then HT1.
    static HEADER_IES: [u8; 8] = [0x04, 0x0d, 0x10, 0x00, 0x20, 0x00, 0x00, 0x3f];
    // MLME payload IE (group 1) holding one short nested IE (sub-id 0x1a, 1 byte 0x07), then
    // payload termination (group 0xf).
    static PAYLOAD_IES: [u8; 7] = [0x03, 0x88, 0x01, 0x1a, 0x07, 0x00, 0xf8];

    #[test]
    fn deconstruct() {
        let ie = HeaderIe::new_checked(&HEADER_IES[..]).unwrap();
        assert_eq!(ie.element_id(), HeaderElementId::Csl);
        assert_eq!(ie.content(), &[0x10, 0, 0x20, 0]);
        let ie = PayloadIe::new_checked(&PAYLOAD_IES[..]).unwrap();
        assert_eq!(ie.group_id(), PayloadGroupId::Mlme);
        assert_eq!(ie.content_len(), 3);
    }

    #[test]
    fn parse_lists() {
        let v: Vec<_> = HeaderIeIter::new(&HEADER_IES).map(|r| r.unwrap()).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1], HeaderIeRepr::HT1);
        assert_eq!(
            header_ies_len(&HEADER_IES).unwrap(),
            (8, HeaderTermination::PayloadIes)
        );
        let mut with_payload = PAYLOAD_IES.to_vec();
        with_payload.extend_from_slice(b"xy");
        let (ies, payload) = split_payload_ies(&with_payload).unwrap();
        assert_eq!(ies, &PAYLOAD_IES);
        assert_eq!(payload, b"xy");
        let p: Vec<_> = PayloadIeIter::new(ies).map(|r| r.unwrap()).collect();
        assert_eq!(p.len(), 2);
        let nested: Vec<_> = p[0].nested().map(|r| r.unwrap()).collect();
        assert_eq!(
            nested,
            [NestedIeRepr {
                long: false,
                sub_id: 0x1a,
                content: &[0x07]
            }]
        );
    }

    #[test]
    fn construct_and_emit() {
        let mut buf = [0xa5u8; 8];
        let n = HeaderIeRepr {
            element_id: HeaderElementId::Csl,
            content: &[0x10, 0, 0x20, 0],
        }
        .emit(&mut buf)
        .unwrap();
        HeaderIeRepr::HT1.emit(&mut buf[n..]).unwrap();
        assert_eq!(buf, HEADER_IES);

        let mut nested = [0u8; 3];
        NestedIeRepr {
            long: false,
            sub_id: 0x1a,
            content: &[0x07],
        }
        .emit(&mut nested)
        .unwrap();
        let mut buf = [0xa5u8; 7];
        let n = PayloadIeRepr {
            group_id: PayloadGroupId::Mlme,
            content: &nested,
        }
        .emit(&mut buf)
        .unwrap();
        PayloadIeRepr::TERMINATION.emit(&mut buf[n..]).unwrap();
        assert_eq!(buf, PAYLOAD_IES);
    }

    #[test]
    fn display() {
        use alloc::format;
        assert_eq!(
            format!("{}", HeaderIe::new_unchecked(&HEADER_IES[..])),
            "HeaderIE id=0x1a len=4"
        );
        assert_eq!(
            format!("{}", PayloadIe::new_unchecked(&PAYLOAD_IES[..])),
            "PayloadIE group=0x1 len=3"
        );
        assert_eq!(
            format!("{}", HeaderIe::new_unchecked(&[0u8][..])),
            "HeaderIE (truncated: 2 bytes needed, 1 present)"
        );
        let n = NestedIeRepr {
            long: false,
            sub_id: 0x1a,
            content: &[7],
        };
        assert_eq!(format!("{n}"), "NestedIE short sub_id=0x1a len=1");
    }

    #[test]
    fn unknown_ids_round_trip() {
        let ie = HeaderIeRepr {
            element_id: HeaderElementId::Unknown(0x42),
            content: &[1, 2, 3],
        };
        let mut buf = [0u8; 5];
        ie.emit(&mut buf).unwrap();
        let back = HeaderIeRepr::parse(&HeaderIe::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(back, ie);
        let pie = PayloadIeRepr {
            group_id: PayloadGroupId::Unknown(0x9),
            content: &[4],
        };
        let mut buf = [0u8; 3];
        pie.emit(&mut buf).unwrap();
        assert_eq!(
            PayloadIeRepr::parse(&PayloadIe::new_checked(&buf[..]).unwrap()).unwrap(),
            pie
        );
        let long = NestedIeRepr {
            long: true,
            sub_id: 0x9,
            content: &[1, 2],
        };
        let mut buf = [0u8; 4];
        long.emit(&mut buf).unwrap();
        assert_eq!(NestedIeRepr::parse(&buf).unwrap(), (long, 4));
    }

    #[test]
    fn errors() {
        for cut in 0..HEADER_IES.len() - 2 {
            assert!(matches!(
                HeaderIe::new_checked(&HEADER_IES[..cut]),
                Err(Error::Truncated { .. })
            ));
        }
        for cut in 0..5 {
            assert!(matches!(
                PayloadIe::new_checked(&PAYLOAD_IES[..cut]),
                Err(Error::Truncated { .. })
            ));
            assert!(matches!(
                NestedIeRepr::parse(&PAYLOAD_IES[2..2 + cut.min(2)]),
                Err(Error::Truncated { .. })
            ));
        }
        assert_eq!(
            HeaderIe::new_checked(&PAYLOAD_IES[..]).err(),
            Some(Error::Malformed("payload IE where a header IE is expected"))
        );
        assert_eq!(
            PayloadIe::new_checked(&HEADER_IES[..]).err(),
            Some(Error::Malformed("header IE where a payload IE is expected"))
        );
        let mut it = HeaderIeIter::new(&[0x05, 0x0d, 0x01]);
        assert!(matches!(it.next(), Some(Err(Error::Truncated { .. }))));
        assert!(it.next().is_none());
        let big = [0u8; 128];
        assert_eq!(
            HeaderIeRepr {
                element_id: HeaderElementId::Csl,
                content: &big
            }
            .emit(&mut [0u8; 200]),
            Err(Error::Invalid("header IE content over 127 bytes"))
        );
        assert_eq!(
            HeaderIeRepr::HT2.emit(&mut [0u8; 1]),
            Err(Error::BufferTooSmall { required: 2 })
        );
        assert_eq!(
            NestedIeRepr {
                long: false,
                sub_id: 0x80,
                content: &[]
            }
            .emit(&mut [0u8; 2]),
            Err(Error::Invalid("short nested IE out of range"))
        );
        assert_eq!(
            NestedIeRepr {
                long: true,
                sub_id: 0x10,
                content: &[]
            }
            .emit(&mut [0u8; 2]),
            Err(Error::Invalid("long nested IE out of range"))
        );
        assert_eq!(
            PayloadIeRepr {
                group_id: PayloadGroupId::Unknown(0x10),
                content: &[]
            }
            .emit(&mut [0u8; 2]),
            Err(Error::Invalid("payload IE group id over 15"))
        );
    }
}
