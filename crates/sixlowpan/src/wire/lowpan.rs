//! RFC 4944 framing: the dispatch byte (§5.1), the mesh addressing header (§5.2), the
//! fragmentation headers (§5.3) and the broadcast header LOWPAN_BC0 (§11.1).
//!
//! Headers stack in the order mesh → broadcast → fragment → IPv6/IPHC (RFC 4944 §5).

use crate::error::{Error, Result, need, room};
use amimesh_core::{ExtAddr, LinkAddr, ShortAddr};
use core::fmt;

/// Dispatch of uncompressed IPv6 (RFC 4944 §5.1).
pub const DISPATCH_IPV6: u8 = 0x41;
/// Dispatch of LOWPAN_BC0 (RFC 4944 §5.1).
pub const DISPATCH_BC0: u8 = 0x50;
/// Largest datagram size the 11-bit field carries (RFC 4944 §5.3).
pub const MAX_DATAGRAM_SIZE: usize = 2047;
/// FRAG1 header length.
pub const FRAG1_LEN: usize = 4;
/// FRAGN header length.
pub const FRAGN_LEN: usize = 5;

/// What the first byte of a 6LoWPAN payload announces (RFC 4944 §5.1, RFC 6282 §2/§3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Dispatch {
    /// `00xxxxxx`: not a 6LoWPAN frame.
    Nalp,
    /// `01000001`: uncompressed IPv6 follows.
    Ipv6,
    /// `01010000`: broadcast header.
    Bc0,
    /// `011xxxxx`: LOWPAN_IPHC (RFC 6282 §3.1; includes 0x7f, which RFC 6282 §5 took from ESC).
    Iphc,
    /// `10xxxxxx`: mesh header.
    Mesh,
    /// `11000xxx`: first fragment.
    Frag1,
    /// `11100xxx`: subsequent fragment.
    FragN,
    /// Anything else (HC1, reserved, RFC 8025 pages, RFC 8931 RFRAG).
    Other(u8),
}

impl Dispatch {
    /// Classifies a dispatch byte.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0x00..=0x3f => Dispatch::Nalp,
            DISPATCH_IPV6 => Dispatch::Ipv6,
            DISPATCH_BC0 => Dispatch::Bc0,
            0x60..=0x7f => Dispatch::Iphc,
            0x80..=0xbf => Dispatch::Mesh,
            0xc0..=0xc7 => Dispatch::Frag1,
            0xe0..=0xe7 => Dispatch::FragN,
            other => Dispatch::Other(other),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fragmentation header

mod frag_field {
    pub const SIZE: core::ops::Range<usize> = 0..2;
    pub const TAG: core::ops::Range<usize> = 2..4;
    pub const OFFSET: usize = 4;
}

/// A view of a FRAG1 or FRAGN header (RFC 4944 §5.3):
/// `11000|size(11)|tag(16)` or `11100|size(11)|tag(16)|offset(8)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragHeader<T: AsRef<[u8]>> {
    buffer: T,
}

// Getters read within `header_len()`, guaranteed by `check_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> FragHeader<T> {
    /// Wraps without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        FragHeader { buffer }
    }
    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }
    /// Ensures the dispatch is FRAG1/FRAGN and the header is complete.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 1)?;
        match Dispatch::from_byte(b[0]) {
            Dispatch::Frag1 => need(b, FRAG1_LEN),
            Dispatch::FragN => need(b, FRAGN_LEN),
            _ => Err(Error::UnknownDispatch(b[0])),
        }
    }
    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// `true` for FRAGN.
    pub fn is_subsequent(&self) -> bool {
        self.buffer.as_ref()[0] & 0xf8 == 0xe0
    }
    /// Datagram size (uncompressed IPv6 datagram, bytes).
    pub fn datagram_size(&self) -> u16 {
        let b = &self.buffer.as_ref()[frag_field::SIZE];
        u16::from_be_bytes([b[0], b[1]]) & 0x07ff
    }
    /// Datagram tag.
    pub fn datagram_tag(&self) -> u16 {
        let b = &self.buffer.as_ref()[frag_field::TAG];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// Datagram offset in 8-octet units (0 for FRAG1).
    pub fn datagram_offset(&self) -> u8 {
        if self.is_subsequent() {
            self.buffer.as_ref()[frag_field::OFFSET]
        } else {
            0
        }
    }
    /// Header length (4 or 5).
    pub fn header_len(&self) -> usize {
        if self.is_subsequent() {
            FRAGN_LEN
        } else {
            FRAG1_LEN
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> FragHeader<&'a T> {
    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

// Setters write within the header; callers size the buffer with `FragRepr::buffer_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]> + AsMut<[u8]>> FragHeader<T> {
    /// Writes the dispatch and size (`subsequent` picks FRAGN).
    pub fn set_dispatch_and_size(&mut self, subsequent: bool, size: u16) {
        let d: u16 = if subsequent { 0xe000 } else { 0xc000 };
        self.buffer.as_mut()[frag_field::SIZE]
            .copy_from_slice(&(d | (size & 0x07ff)).to_be_bytes());
    }
    /// Sets the tag.
    pub fn set_datagram_tag(&mut self, tag: u16) {
        self.buffer.as_mut()[frag_field::TAG].copy_from_slice(&tag.to_be_bytes());
    }
    /// Sets the offset (FRAGN only).
    pub fn set_datagram_offset(&mut self, off: u8) {
        self.buffer.as_mut()[frag_field::OFFSET] = off;
    }
}

/// A fragmentation header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FragRepr {
    /// First fragment.
    First {
        /// Uncompressed datagram size.
        size: u16,
        /// Tag.
        tag: u16,
    },
    /// Subsequent fragment.
    Subsequent {
        /// Uncompressed datagram size.
        size: u16,
        /// Tag.
        tag: u16,
        /// Offset in 8-octet units.
        offset: u8,
    },
}

impl FragRepr {
    /// Parses.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(f: &FragHeader<&T>) -> Result<Self> {
        f.check_len()?;
        Ok(if f.is_subsequent() {
            FragRepr::Subsequent {
                size: f.datagram_size(),
                tag: f.datagram_tag(),
                offset: f.datagram_offset(),
            }
        } else {
            FragRepr::First {
                size: f.datagram_size(),
                tag: f.datagram_tag(),
            }
        })
    }
    /// Header length.
    pub const fn buffer_len(&self) -> usize {
        match self {
            FragRepr::First { .. } => FRAG1_LEN,
            FragRepr::Subsequent { .. } => FRAGN_LEN,
        }
    }
    /// Datagram size.
    pub const fn size(&self) -> u16 {
        match *self {
            FragRepr::First { size, .. } | FragRepr::Subsequent { size, .. } => size,
        }
    }
    /// Datagram tag.
    pub const fn tag(&self) -> u16 {
        match *self {
            FragRepr::First { tag, .. } | FragRepr::Subsequent { tag, .. } => tag,
        }
    }
    /// Offset in bytes.
    pub const fn offset_bytes(&self) -> usize {
        match *self {
            FragRepr::First { .. } => 0,
            FragRepr::Subsequent { offset, .. } => offset as usize * 8,
        }
    }
    /// Writes the header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        room(buf, n)?;
        if usize::from(self.size()) > MAX_DATAGRAM_SIZE {
            return Err(Error::DatagramTooLarge(usize::from(self.size())));
        }
        let mut f = FragHeader::new_unchecked(buf);
        match *self {
            FragRepr::First { size, tag } => {
                f.set_dispatch_and_size(false, size);
                f.set_datagram_tag(tag);
            }
            FragRepr::Subsequent { size, tag, offset } => {
                f.set_dispatch_and_size(true, size);
                f.set_datagram_tag(tag);
                f.set_datagram_offset(offset);
            }
        }
        Ok(n)
    }
}

impl fmt::Display for FragRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FRAG size={} tag=0x{:04x} offset={}",
            self.size(),
            self.tag(),
            self.offset_bytes()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Mesh header

/// A mesh addressing header (RFC 4944 §5.2): `10 V F HopsLeft(4)`, an optional "deep hops
/// left" byte when HopsLeft is 0xF (as Wireshark's and OpenThread's decoders read it),
/// originator address (V=1 short, 0 extended), final address (F likewise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MeshRepr {
    /// Hops left (up to 254 with the deep-hops byte; 0..=14 fit the 4-bit field).
    pub hops_left: u8,
    /// Originator (short or extended).
    pub originator: LinkAddr,
    /// Final destination (short or extended).
    pub final_dest: LinkAddr,
}

fn link_len(a: LinkAddr) -> Result<usize> {
    match a {
        LinkAddr::Short(_) => Ok(2),
        LinkAddr::Extended(_) => Ok(8),
        LinkAddr::Absent => Err(Error::NoLinkAddress),
    }
}

fn read_link(b: &[u8], short: bool) -> Result<(LinkAddr, &[u8])> {
    if short {
        let (a, rest) = b.split_first_chunk::<2>().ok_or(Error::Truncated {
            needed: 2,
            got: b.len(),
        })?;
        Ok((LinkAddr::Short(ShortAddr(u16::from_be_bytes(*a))), rest))
    } else {
        let (a, rest) = b.split_first_chunk::<8>().ok_or(Error::Truncated {
            needed: 8,
            got: b.len(),
        })?;
        Ok((LinkAddr::Extended(ExtAddr(*a)), rest))
    }
}

fn write_link(a: LinkAddr, out: &mut [u8]) -> usize {
    match a {
        LinkAddr::Short(s) => {
            if let Some(o) = out.get_mut(..2) {
                o.copy_from_slice(&s.0.to_be_bytes());
            }
            2
        }
        LinkAddr::Extended(e) => {
            if let Some(o) = out.get_mut(..8) {
                o.copy_from_slice(&e.0);
            }
            8
        }
        LinkAddr::Absent => 0,
    }
}

impl MeshRepr {
    /// Parses a mesh header at the start of `buf`; returns it and the header length.
    /// Addresses are carried most significant byte first (RFC 4944 §5.2 uses the IEEE
    /// addresses in canonical order).
    pub fn parse(buf: &[u8]) -> Result<(Self, usize)> {
        let (&b0, mut rest) = buf
            .split_first()
            .ok_or(Error::Truncated { needed: 1, got: 0 })?;
        if b0 & 0xc0 != 0x80 {
            return Err(Error::UnknownDispatch(b0));
        }
        let mut hops_left = b0 & 0x0f;
        if hops_left == 0x0f {
            let (&deep, r) = rest
                .split_first()
                .ok_or(Error::Truncated { needed: 2, got: 1 })?;
            hops_left = deep;
            rest = r;
        }
        let (originator, rest) = read_link(rest, b0 & 0x20 != 0)?;
        let (final_dest, rest) = read_link(rest, b0 & 0x10 != 0)?;
        let len = buf.len() - rest.len();
        Ok((
            MeshRepr {
                hops_left,
                originator,
                final_dest,
            },
            len,
        ))
    }
    /// Header length.
    pub fn buffer_len(&self) -> usize {
        let deep = usize::from(self.hops_left >= 0x0f);
        1 + deep + link_len(self.originator).unwrap_or(0) + link_len(self.final_dest).unwrap_or(0)
    }
    /// Writes the header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        link_len(self.originator)?;
        link_len(self.final_dest)?;
        let n = self.buffer_len();
        room(buf, n)?;
        let v = u8::from(matches!(self.originator, LinkAddr::Short(_)));
        let f = u8::from(matches!(self.final_dest, LinkAddr::Short(_)));
        let mut pos = 1;
        let hops4 = if self.hops_left >= 0x0f {
            if let Some(b) = buf.get_mut(1) {
                *b = self.hops_left;
            }
            pos = 2;
            0x0f
        } else {
            self.hops_left
        };
        if let Some(b) = buf.get_mut(0) {
            *b = 0x80 | (v << 5) | (f << 4) | hops4;
        }
        pos += write_link(self.originator, buf.get_mut(pos..).unwrap_or(&mut []));
        write_link(self.final_dest, buf.get_mut(pos..).unwrap_or(&mut []));
        Ok(n)
    }
}

impl fmt::Display for MeshRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MESH hops={} orig={} final={}",
            self.hops_left, self.originator, self.final_dest
        )
    }
}

/// The LOWPAN_BC0 broadcast header (RFC 4944 §11.1): dispatch 0x50 and a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Bc0Repr {
    /// Sequence number.
    pub seq: u8,
}

impl Bc0Repr {
    /// Header length.
    pub const LEN: usize = 2;
    /// Parses.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        match buf {
            [DISPATCH_BC0, seq, ..] => Ok(Bc0Repr { seq: *seq }),
            [DISPATCH_BC0] => Err(Error::Truncated { needed: 2, got: 1 }),
            [] => Err(Error::Truncated { needed: 2, got: 0 }),
            [d, ..] => Err(Error::UnknownDispatch(*d)),
        }
    }
    /// Header length.
    pub const fn buffer_len(&self) -> usize {
        Self::LEN
    }
    /// Writes the header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        match buf.get_mut(..2) {
            Some(b) => {
                b.copy_from_slice(&[DISPATCH_BC0, self.seq]);
                Ok(2)
            }
            None => Err(Error::BufferTooSmall { required: 2 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // smoltcp src/wire/sixlowpan/mod.rs vectors (FACTS §10).
    static FRAG1: [u8; 4] = [0xc0, 0xff, 0xab, 0xcd]; // FRAG1, size 0xff, tag 0xabcd
    static FRAGN: [u8; 5] = [0xe0, 0xff, 0xab, 0xcd, 0xcc]; // FRAGN, size 0xff, tag 0xabcd, off 0xcc

    #[test]
    fn deconstruct() {
        let f = FragHeader::new_checked(&FRAG1[..]).unwrap();
        assert!(!f.is_subsequent());
        assert_eq!(f.datagram_size(), 0xff);
        assert_eq!(f.datagram_tag(), 0xabcd);
        assert_eq!(f.datagram_offset(), 0);
        let f = FragHeader::new_checked(&FRAGN[..]).unwrap();
        assert!(f.is_subsequent());
        assert_eq!(f.datagram_offset(), 0xcc);
        assert_eq!(f.header_len(), 5);
        assert!(f.payload().is_empty());
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 5];
        let mut f = FragHeader::new_unchecked(&mut buf[..]);
        f.set_dispatch_and_size(true, 0xff);
        f.set_datagram_tag(0xabcd);
        f.set_datagram_offset(0xcc);
        assert_eq!(buf, FRAGN);
    }

    #[test]
    fn parse() {
        let f = FragHeader::new_checked(&FRAGN[..]).unwrap();
        let r = FragRepr::parse(&f).unwrap();
        assert_eq!(
            r,
            FragRepr::Subsequent {
                size: 0xff,
                tag: 0xabcd,
                offset: 0xcc
            }
        );
        assert_eq!(r.offset_bytes(), 0xcc * 8);
    }

    #[test]
    fn emit() {
        let mut buf = [0xa5u8; 4];
        FragRepr::First {
            size: 0xff,
            tag: 0xabcd,
        }
        .emit(&mut buf)
        .unwrap();
        assert_eq!(buf, FRAG1);
    }

    #[test]
    fn dispatch_classes() {
        assert_eq!(Dispatch::from_byte(0x00), Dispatch::Nalp);
        assert_eq!(Dispatch::from_byte(0x41), Dispatch::Ipv6);
        assert_eq!(Dispatch::from_byte(0x42), Dispatch::Other(0x42));
        assert_eq!(Dispatch::from_byte(0x50), Dispatch::Bc0);
        assert_eq!(Dispatch::from_byte(0x7a), Dispatch::Iphc);
        assert_eq!(Dispatch::from_byte(0x7f), Dispatch::Iphc);
        assert_eq!(Dispatch::from_byte(0x85), Dispatch::Mesh);
        assert_eq!(Dispatch::from_byte(0xc3), Dispatch::Frag1);
        assert_eq!(Dispatch::from_byte(0xe4), Dispatch::FragN);
        assert_eq!(Dispatch::from_byte(0xe8), Dispatch::Other(0xe8));
        assert_eq!(Dispatch::from_byte(0xf1), Dispatch::Other(0xf1));
    }

    #[test]
    fn mesh_forms() {
        // 16-bit originator and final, 5 hops left.
        let m = MeshRepr {
            hops_left: 5,
            originator: LinkAddr::Short(ShortAddr(0x1234)),
            final_dest: LinkAddr::Short(ShortAddr(0xabcd)),
        };
        let mut buf = [0xa5u8; 5];
        assert_eq!(m.emit(&mut buf).unwrap(), 5);
        assert_eq!(buf, [0xb5, 0x12, 0x34, 0xab, 0xcd]);
        assert_eq!(MeshRepr::parse(&buf).unwrap(), (m, 5));
        // 64-bit both, deep hops (0x20 hops left).
        let m = MeshRepr {
            hops_left: 0x20,
            originator: LinkAddr::Extended(ExtAddr([1, 2, 3, 4, 5, 6, 7, 8])),
            final_dest: LinkAddr::Extended(ExtAddr([9, 10, 11, 12, 13, 14, 15, 16])),
        };
        let mut buf = [0xa5u8; 18];
        assert_eq!(m.emit(&mut buf).unwrap(), 18);
        assert_eq!(&buf[..3], &[0x8f, 0x20, 1]);
        assert_eq!(MeshRepr::parse(&buf).unwrap(), (m, 18));
        // Errors.
        assert_eq!(
            MeshRepr::parse(&[]),
            Err(Error::Truncated { needed: 1, got: 0 })
        );
        assert_eq!(
            MeshRepr::parse(&[0x8f]),
            Err(Error::Truncated { needed: 2, got: 1 })
        );
        assert_eq!(
            MeshRepr::parse(&[0xb5, 0x12]),
            Err(Error::Truncated { needed: 2, got: 1 })
        );
        assert_eq!(MeshRepr::parse(&[0x41]), Err(Error::UnknownDispatch(0x41)));
        let bad = MeshRepr {
            hops_left: 1,
            originator: LinkAddr::Absent,
            final_dest: LinkAddr::Absent,
        };
        assert_eq!(bad.emit(&mut [0u8; 8]), Err(Error::NoLinkAddress));
    }

    #[test]
    fn bc0() {
        let mut buf = [0xa5u8; 2];
        Bc0Repr { seq: 7 }.emit(&mut buf).unwrap();
        assert_eq!(buf, [0x50, 7]);
        assert_eq!(Bc0Repr::parse(&buf), Ok(Bc0Repr { seq: 7 }));
        assert_eq!(
            Bc0Repr::parse(&[0x50]),
            Err(Error::Truncated { needed: 2, got: 1 })
        );
        assert_eq!(
            Bc0Repr::parse(&[0x51, 0]),
            Err(Error::UnknownDispatch(0x51))
        );
        assert_eq!(
            Bc0Repr { seq: 0 }.emit(&mut [0u8; 1]),
            Err(Error::BufferTooSmall { required: 2 })
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            FragHeader::new_checked(&FRAGN[..4]).unwrap_err(),
            Error::Truncated { needed: 5, got: 4 }
        );
        assert_eq!(
            FragHeader::new_checked(&[0x41u8][..]).unwrap_err(),
            Error::UnknownDispatch(0x41)
        );
        assert_eq!(
            FragRepr::First { size: 2048, tag: 0 }.emit(&mut [0u8; 4]),
            Err(Error::DatagramTooLarge(2048))
        );
        assert_eq!(
            FragRepr::First { size: 1, tag: 0 }.emit(&mut [0u8; 3]),
            Err(Error::BufferTooSmall { required: 4 })
        );
    }
}
