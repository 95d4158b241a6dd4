//! IPv6 extension headers as byte views (RFC 8200 §4): Hop-by-Hop Options (§4.3), Routing
//! (§4.4), Fragment (§4.5) and Destination Options (§4.6), plus the TLV options of §4.2.
//!
//! This module knows the layouts, not the meanings: RPL's Hop-by-Hop option (RFC 6553, type
//! 0x63 or 0x23 per RFC 9008 §11.1) is an [`Ipv6Option`] whose `data` the RPL crate decodes, and
//! RPL's source routing header (RFC 6554) is a [`RoutingHeader`] with routing type 3 whose
//! `data` the RPL crate decodes.

use super::IpProtocol;
use crate::error::{Error, Result, need, room};
use core::fmt;

/// Option type Pad1 (RFC 8200 §4.2).
pub const OPT_PAD1: u8 = 0;
/// Option type PadN (RFC 8200 §4.2).
pub const OPT_PADN: u8 = 1;

/// Is `proto` one of the extension headers that share the generic "next header, length in
/// 8-octet units" layout (Hop-by-Hop, Routing, Fragment, Destination Options, Mobility)?
pub fn is_ext_header(proto: IpProtocol) -> bool {
    matches!(
        proto,
        IpProtocol::HopByHop
            | IpProtocol::Ipv6Route
            | IpProtocol::Ipv6Frag
            | IpProtocol::Ipv6Opts
            | IpProtocol::Mobility
    )
}

/// A view of one extension header with the generic layout:
/// `next header(8) | hdr ext len(8) | data`, total `8 * (hdr ext len + 1)` bytes. The Fragment
/// header has a reserved byte instead of the length and is always 8 bytes; this view handles that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtHeader<T: AsRef<[u8]>> {
    buffer: T,
    kind: IpProtocol,
}

// Getters read bytes 0..header_len, guaranteed by `check_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> ExtHeader<T> {
    /// Wraps a header of the given kind without checking.
    pub const fn new_unchecked(buffer: T, kind: IpProtocol) -> Self {
        ExtHeader { buffer, kind }
    }
    /// Wraps and checks.
    pub fn new_checked(buffer: T, kind: IpProtocol) -> Result<Self> {
        let h = Self::new_unchecked(buffer, kind);
        h.check_len()?;
        Ok(h)
    }
    /// Ensures the whole header (as its length field says) is in the buffer.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 2)?;
        need(b, self.header_len())
    }
    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// The kind of header this view was created for.
    pub fn kind(&self) -> IpProtocol {
        self.kind
    }
    /// Next header.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[0])
    }
    /// Hdr Ext Len field (the reserved byte for a Fragment header).
    pub fn hdr_ext_len(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    /// Total header length in bytes.
    pub fn header_len(&self) -> usize {
        if self.kind == IpProtocol::Ipv6Frag {
            8
        } else {
            8 * (usize::from(self.hdr_ext_len()) + 1)
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> ExtHeader<&'a T> {
    /// The bytes after next header and length, up to the header's end.
    pub fn data(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        b.get(2..self.header_len().min(b.len())).unwrap_or(&[])
    }
    /// The whole header.
    pub fn bytes(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        b.get(..self.header_len().min(b.len())).unwrap_or(&[])
    }
    /// The options of a Hop-by-Hop or Destination Options header.
    pub fn options(&self) -> OptionsIter<'a> {
        OptionsIter::new(self.data())
    }
}

// Setters write bytes 0..2; callers size the buffer.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]> + AsMut<[u8]>> ExtHeader<T> {
    /// Sets next header.
    pub fn set_next_header(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[0] = p.into();
    }
    /// Sets Hdr Ext Len.
    pub fn set_hdr_ext_len(&mut self, l: u8) {
        self.buffer.as_mut()[1] = l;
    }
    /// The data bytes, mutably (to the end of the buffer).
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut().get_mut(2..).unwrap_or(&mut [])
    }
}

/// An extension header with the generic layout: next header and the data after the length byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeaderRepr<'a> {
    /// Which header.
    pub kind: IpProtocol,
    /// Next header.
    pub next_header: IpProtocol,
    /// Bytes after next header and length (a multiple of 8 minus 2; 6 for Fragment).
    pub data: &'a [u8],
}

impl<'a> ExtHeaderRepr<'a> {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(h: &ExtHeader<&'a T>) -> Result<Self> {
        h.check_len()?;
        if h.kind() == IpProtocol::Ipv6Frag && h.hdr_ext_len() != 0 {
            // The Fragment header's second byte is reserved (RFC 8200 §4.5); keep it zero so
            // the repr round-trips.
            return Err(Error::Reserved("fragment header reserved byte"));
        }
        Ok(ExtHeaderRepr {
            kind: h.kind(),
            next_header: h.next_header(),
            data: h.data(),
        })
    }
    /// Total length.
    pub fn buffer_len(&self) -> usize {
        self.data.len().saturating_add(2)
    }
    /// Writes the header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        if n % 8 != 0 || n > 2048 || (self.kind == IpProtocol::Ipv6Frag && n != 8) {
            return Err(Error::BadLength);
        }
        room(buf, n)?;
        let mut h = ExtHeader::new_unchecked(buf.get_mut(..n).unwrap_or(&mut []), self.kind);
        h.set_next_header(self.next_header);
        let l = if self.kind == IpProtocol::Ipv6Frag {
            0
        } else {
            u8::try_from(n / 8 - 1).map_err(|_| Error::BadLength)?
        };
        h.set_hdr_ext_len(l);
        h.data_mut().copy_from_slice(self.data);
        Ok(n)
    }
}

impl fmt::Display for ExtHeaderRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv6 ext {} nxt={} len={}",
            u8::from(self.kind),
            u8::from(self.next_header),
            self.buffer_len()
        )
    }
}

/// One option of a Hop-by-Hop or Destination Options header. Pad1 has `kind` 0 and no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Option<'a> {
    /// Option type (the two high bits say what to do when unknown, bit 5 whether it may change).
    pub kind: u8,
    /// Option data.
    pub data: &'a [u8],
}

impl Ipv6Option<'_> {
    /// Bytes on the wire.
    pub fn buffer_len(&self) -> usize {
        if self.kind == OPT_PAD1 {
            1
        } else {
            2 + self.data.len()
        }
    }
    /// Writes the option.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        room(buf, n)?;
        if let Some(b) = buf.get_mut(0) {
            *b = self.kind;
        }
        if self.kind != OPT_PAD1 {
            let l = u8::try_from(self.data.len()).map_err(|_| Error::BadLength)?;
            if let Some(b) = buf.get_mut(1) {
                *b = l;
            }
            if let Some(d) = buf.get_mut(2..n) {
                d.copy_from_slice(self.data);
            }
        }
        Ok(n)
    }
}

/// Iterator over the options of an options header. Yields `Err` once at the first malformed
/// option and then stops.
#[derive(Debug, Clone)]
pub struct OptionsIter<'a> {
    data: &'a [u8],
    failed: bool,
}

impl<'a> OptionsIter<'a> {
    /// Iterates over `data` (the bytes after next header and length).
    pub fn new(data: &'a [u8]) -> Self {
        OptionsIter {
            data,
            failed: false,
        }
    }
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<Ipv6Option<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let (&kind, rest) = self.data.split_first()?;
        if kind == OPT_PAD1 {
            self.data = rest;
            return Some(Ok(Ipv6Option { kind, data: &[] }));
        }
        let Some((&len, rest)) = rest.split_first() else {
            self.failed = true;
            return Some(Err(Error::Truncated { needed: 2, got: 1 }));
        };
        let len = usize::from(len);
        match (rest.get(..len), rest.get(len..)) {
            (Some(data), Some(tail)) => {
                self.data = tail;
                Some(Ok(Ipv6Option { kind, data }))
            }
            _ => {
                self.failed = true;
                Some(Err(Error::Truncated {
                    needed: len + 2,
                    got: rest.len() + 2,
                }))
            }
        }
    }
}

/// A view of a Routing header (RFC 8200 §4.4):
/// `next header | hdr ext len | routing type | segments left | type-specific data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingHeader<T: AsRef<[u8]>> {
    inner: ExtHeader<T>,
}

// Getters read bytes 0..4, guaranteed by `check_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> RoutingHeader<T> {
    /// Wraps without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        RoutingHeader {
            inner: ExtHeader::new_unchecked(buffer, IpProtocol::Ipv6Route),
        }
    }
    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }
    /// Ensures the whole header is present (it is at least 8 bytes).
    pub fn check_len(&self) -> Result<()> {
        self.inner.check_len()
    }
    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
    /// Next header.
    pub fn next_header(&self) -> IpProtocol {
        self.inner.next_header()
    }
    /// Total length.
    pub fn header_len(&self) -> usize {
        self.inner.header_len()
    }
    /// Routing type (3 = RPL source route, RFC 6554).
    pub fn routing_type(&self) -> u8 {
        self.inner.buffer.as_ref()[2]
    }
    /// Segments left.
    pub fn segments_left(&self) -> u8 {
        self.inner.buffer.as_ref()[3]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> RoutingHeader<&'a T> {
    /// Type-specific data (after segments left).
    pub fn data(&self) -> &'a [u8] {
        self.inner.data().get(2..).unwrap_or(&[])
    }
}

// Setters write bytes 2..4; callers size the buffer.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]> + AsMut<[u8]>> RoutingHeader<T> {
    /// Sets the routing type.
    pub fn set_routing_type(&mut self, t: u8) {
        self.inner.buffer.as_mut()[2] = t;
    }
    /// Sets segments left.
    pub fn set_segments_left(&mut self, s: u8) {
        self.inner.buffer.as_mut()[3] = s;
    }
}

/// A view of a Fragment header (RFC 8200 §4.5): next header, reserved, offset (13 bits, in
/// 8-octet units), reserved (2 bits), M flag, identification (32 bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentHeader<T: AsRef<[u8]>> {
    buffer: T,
}

// Getters read bytes 0..8, guaranteed by `check_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> FragmentHeader<T> {
    /// Wraps without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        FragmentHeader { buffer }
    }
    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }
    /// Ensures the 8 bytes are present.
    pub fn check_len(&self) -> Result<()> {
        need(self.buffer.as_ref(), 8)
    }
    /// Next header.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[0])
    }
    /// Fragment offset in 8-octet units.
    pub fn frag_offset(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]]) >> 3
    }
    /// More fragments flag.
    pub fn more_frags(&self) -> bool {
        self.buffer.as_ref()[3] & 1 == 1
    }
    /// Identification.
    pub fn ident(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    // RPL Hop-by-Hop header as it appears uncompressed: next header UDP, length 0 (8 bytes),
    // RPL option 0x63 len 4 (O/R/F flags 0, instance 0x1e, rank 0x0300) — the data of the
    // smoltcp nhc.rs vector in FACTS §10, rebuilt as an uncompressed header.
    static HBH: [u8; 8] = [
        0x11, // next header UDP
        0x00, // hdr ext len: 8 bytes
        0x63, 0x04, // RPL option, 4 bytes
        0x00, 0x1e, 0x03, 0x00, // flags, instance 0x1e, sender rank 0x0300
    ];

    #[test]
    fn deconstruct() {
        let h = ExtHeader::new_checked(&HBH[..], IpProtocol::HopByHop).unwrap();
        assert_eq!(h.next_header(), IpProtocol::Udp);
        assert_eq!(h.header_len(), 8);
        let opts: Vec<_> = h.options().collect();
        assert_eq!(
            opts,
            vec![Ok(Ipv6Option {
                kind: 0x63,
                data: &[0x00, 0x1e, 0x03, 0x00]
            })]
        );
        assert_eq!(h.bytes(), &HBH);
        assert_eq!(h.kind(), IpProtocol::HopByHop);
        assert_eq!(h.hdr_ext_len(), 0);
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 8];
        let mut h = ExtHeader::new_unchecked(&mut buf[..], IpProtocol::HopByHop);
        h.set_next_header(IpProtocol::Udp);
        h.set_hdr_ext_len(0);
        Ipv6Option {
            kind: 0x63,
            data: &[0x00, 0x1e, 0x03, 0x00],
        }
        .emit(h.data_mut())
        .unwrap();
        assert_eq!(buf, HBH);
    }

    #[test]
    fn parse() {
        let h = ExtHeader::new_checked(&HBH[..], IpProtocol::HopByHop).unwrap();
        assert_eq!(
            ExtHeaderRepr::parse(&h).unwrap(),
            ExtHeaderRepr {
                kind: IpProtocol::HopByHop,
                next_header: IpProtocol::Udp,
                data: &HBH[2..]
            }
        );
    }

    #[test]
    fn emit() {
        let mut buf = [0xa5u8; 8];
        let r = ExtHeaderRepr {
            kind: IpProtocol::HopByHop,
            next_header: IpProtocol::Udp,
            data: &HBH[2..],
        };
        assert_eq!(r.emit(&mut buf).unwrap(), 8);
        assert_eq!(buf, HBH);
    }

    #[test]
    fn pad_options() {
        let data = [0x00, 0x01, 0x02, 0x00, 0x00, 0x63, 0x00];
        let kinds: Vec<_> = OptionsIter::new(&data)
            .map(|o| o.map(|o| (o.kind, o.data.len())))
            .collect();
        assert_eq!(kinds, vec![Ok((0, 0)), Ok((1, 2)), Ok((0x63, 0))]);
        let bad = [0x63, 0x05, 0x00];
        let mut it = OptionsIter::new(&bad);
        assert_eq!(it.next(), Some(Err(Error::Truncated { needed: 7, got: 3 })));
        assert_eq!(it.next(), None);
        let mut it = OptionsIter::new(&[0x63]);
        assert_eq!(it.next(), Some(Err(Error::Truncated { needed: 2, got: 1 })));
    }

    #[test]
    fn routing_and_fragment() {
        // SRH (routing type 3), 2 segments left, CmprI/CmprE 9/9, pad 3; one 7-byte address.
        let srh = [
            0x11, 0x01, 0x03, 0x02, 0x99, 0x30, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0,
            0, 0, 0,
        ];
        let r = RoutingHeader::new_checked(&srh[..]).unwrap();
        assert_eq!(r.routing_type(), 3);
        assert_eq!(r.segments_left(), 2);
        assert_eq!(r.header_len(), 16);
        assert_eq!(r.next_header(), IpProtocol::Udp);
        assert_eq!(&r.data()[..4], &[0x99, 0x30, 0, 0]);
        let mut buf = srh;
        let mut w = RoutingHeader::new_unchecked(&mut buf[..]);
        w.set_routing_type(4);
        w.set_segments_left(0);
        assert_eq!(&buf[2..4], &[4, 0]);
        assert_eq!(
            RoutingHeader::new_checked(&srh[..15]).unwrap_err(),
            Error::Truncated {
                needed: 16,
                got: 15
            }
        );

        let frag = [0x3a, 0x00, 0x00, 0x09, 0xde, 0xad, 0xbe, 0xef];
        let f = FragmentHeader::new_checked(&frag[..]).unwrap();
        assert_eq!(f.next_header(), IpProtocol::Icmpv6);
        assert_eq!(f.frag_offset(), 1);
        assert!(f.more_frags());
        assert_eq!(f.ident(), 0xdeadbeef);
        assert!(FragmentHeader::new_checked(&frag[..7]).is_err());
        let mut badfrag = frag;
        badfrag[1] = 1;
        let h = ExtHeader::new_checked(&badfrag[..], IpProtocol::Ipv6Frag).unwrap();
        assert_eq!(
            ExtHeaderRepr::parse(&h),
            Err(Error::Reserved("fragment header reserved byte"))
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            ExtHeader::new_checked(&HBH[..1], IpProtocol::HopByHop).unwrap_err(),
            Error::Truncated { needed: 2, got: 1 }
        );
        let r = ExtHeaderRepr {
            kind: IpProtocol::HopByHop,
            next_header: IpProtocol::Udp,
            data: &HBH[2..7],
        };
        assert_eq!(r.emit(&mut [0u8; 16]), Err(Error::BadLength));
    }
}
