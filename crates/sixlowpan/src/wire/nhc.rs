//! LOWPAN_NHC (RFC 6282 §4): compressed next headers.
//!
//! - UDP (§4.3): `11110 C P(2)`; ports inline per P (00: 16+16 bits, 01: 16 + 8 bits of
//!   `0xf0xx`, 10: 8 bits of `0xf0xx` + 16, 11: 4+4 bits of `0xf0bx`), then the checksum unless
//!   C = 1. The length is always elided (§4.3.3).
//! - Extension headers (§4.2): `1110 EID(3) NH`; the next header byte when NH = 0, a length
//!   byte (octets of header data that follow), then the data. EID 7 is a tunnelled IPv6 header,
//!   directly followed by its own LOWPAN_IPHC (§4.2: no next-header or length byte).

use super::IpProtocol;
use crate::error::{Error, Result, need, room};
use core::fmt;

/// Dispatch bits of NHC UDP.
pub const UDP_DISPATCH: u8 = 0xf0;
/// Dispatch bits of NHC extension headers.
pub const EXT_DISPATCH: u8 = 0xe0;

/// The IPv6 extension header identifiers of RFC 6282 §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ExtHeaderId {
    /// 0: Hop-by-Hop Options.
    HopByHop,
    /// 1: Routing.
    Routing,
    /// 2: Fragment.
    Fragment,
    /// 3: Destination Options.
    DestinationOptions,
    /// 4: Mobility.
    Mobility,
    /// 7: IPv6 header (IP-in-IP).
    Ipv6,
}

impl ExtHeaderId {
    /// From the 3-bit EID; 5 and 6 are reserved.
    pub fn from_eid(eid: u8) -> Result<Self> {
        Ok(match eid & 7 {
            0 => ExtHeaderId::HopByHop,
            1 => ExtHeaderId::Routing,
            2 => ExtHeaderId::Fragment,
            3 => ExtHeaderId::DestinationOptions,
            4 => ExtHeaderId::Mobility,
            7 => ExtHeaderId::Ipv6,
            _ => return Err(Error::Reserved("NHC EID 5/6")),
        })
    }
    /// The 3-bit EID.
    pub fn eid(self) -> u8 {
        match self {
            ExtHeaderId::HopByHop => 0,
            ExtHeaderId::Routing => 1,
            ExtHeaderId::Fragment => 2,
            ExtHeaderId::DestinationOptions => 3,
            ExtHeaderId::Mobility => 4,
            ExtHeaderId::Ipv6 => 7,
        }
    }
    /// The IPv6 next-header value of the header.
    pub fn protocol(self) -> IpProtocol {
        match self {
            ExtHeaderId::HopByHop => IpProtocol::HopByHop,
            ExtHeaderId::Routing => IpProtocol::Ipv6Route,
            ExtHeaderId::Fragment => IpProtocol::Ipv6Frag,
            ExtHeaderId::DestinationOptions => IpProtocol::Ipv6Opts,
            ExtHeaderId::Mobility => IpProtocol::Mobility,
            ExtHeaderId::Ipv6 => IpProtocol::Ipv6,
        }
    }
    /// The identifier of an IPv6 next-header value, if it has one.
    pub fn from_protocol(p: IpProtocol) -> Option<Self> {
        Some(match p {
            IpProtocol::HopByHop => ExtHeaderId::HopByHop,
            IpProtocol::Ipv6Route => ExtHeaderId::Routing,
            IpProtocol::Ipv6Frag => ExtHeaderId::Fragment,
            IpProtocol::Ipv6Opts => ExtHeaderId::DestinationOptions,
            IpProtocol::Mobility => ExtHeaderId::Mobility,
            IpProtocol::Ipv6 => ExtHeaderId::Ipv6,
            _ => return None,
        })
    }
}

/// What an NHC byte announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NhcKind {
    /// Compressed UDP header.
    Udp,
    /// Compressed extension header (or, for [`ExtHeaderId::Ipv6`], a tunnelled IPHC header).
    Ext(ExtHeaderId),
}

impl NhcKind {
    /// Classifies an NHC byte.
    pub fn from_byte(b: u8) -> Result<Self> {
        if b & 0xf8 == UDP_DISPATCH {
            Ok(NhcKind::Udp)
        } else if b & 0xf0 == EXT_DISPATCH {
            Ok(NhcKind::Ext(ExtHeaderId::from_eid(b >> 1)?))
        } else {
            Err(Error::Reserved("unknown NHC"))
        }
    }
    /// The IPv6 next-header value this NHC stands for.
    pub fn protocol(self) -> IpProtocol {
        match self {
            NhcKind::Udp => IpProtocol::Udp,
            NhcKind::Ext(e) => e.protocol(),
        }
    }
}

fn ports_len(mode: u8) -> usize {
    match mode & 3 {
        0 => 4,
        3 => 1,
        _ => 3,
    }
}

/// A view of a compressed UDP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpNhcPacket<T: AsRef<[u8]>> {
    buffer: T,
}

// Getters read below `header_len()`, guaranteed by `check_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> UdpNhcPacket<T> {
    /// Wraps without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpNhcPacket { buffer }
    }
    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Ensures the dispatch is NHC UDP and the inline fields are present.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 1)?;
        if b[0] & 0xf8 != UDP_DISPATCH {
            return Err(Error::Reserved("unknown NHC"));
        }
        need(b, self.header_len())
    }
    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// C: checksum elided.
    pub fn checksum_elided(&self) -> bool {
        self.buffer.as_ref()[0] & 0x04 != 0
    }
    /// P: port encoding.
    pub fn ports_mode(&self) -> u8 {
        self.buffer.as_ref()[0] & 0x03
    }
    fn ports_len(&self) -> usize {
        [4, 3, 3, 1][usize::from(self.ports_mode())]
    }
    /// Header length.
    pub fn header_len(&self) -> usize {
        1 + self.ports_len() + if self.checksum_elided() { 0 } else { 2 }
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        let b = self.buffer.as_ref();
        match self.ports_mode() {
            0 | 1 => u16::from_be_bytes([b[1], b[2]]),
            2 => 0xf000 | u16::from(b[1]),
            _ => 0xf0b0 | u16::from(b[1] >> 4),
        }
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        let b = self.buffer.as_ref();
        match self.ports_mode() {
            0 => u16::from_be_bytes([b[3], b[4]]),
            1 => 0xf000 | u16::from(b[3]),
            2 => u16::from_be_bytes([b[2], b[3]]),
            _ => 0xf0b0 | u16::from(b[1] & 0x0f),
        }
    }
    /// Inline checksum, `None` when elided.
    pub fn checksum(&self) -> Option<u16> {
        if self.checksum_elided() {
            return None;
        }
        let b = self.buffer.as_ref();
        let o = 1 + self.ports_len();
        Some(u16::from_be_bytes([b[o], b[o + 1]]))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> UdpNhcPacket<&'a T> {
    /// The UDP payload.
    pub fn payload(&self) -> &'a [u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

/// A compressed UDP header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UdpNhcRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Checksum, `None` when elided (RFC 6282 §4.3.2: only when the upper layer allows it).
    pub checksum: Option<u16>,
}

impl UdpNhcRepr {
    /// Parses.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &UdpNhcPacket<&T>) -> Result<Self> {
        p.check_len()?;
        Ok(UdpNhcRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            checksum: p.checksum(),
        })
    }
    fn ports_mode(&self) -> u8 {
        let s = self.src_port;
        let d = self.dst_port;
        if s & 0xfff0 == 0xf0b0 && d & 0xfff0 == 0xf0b0 {
            3
        } else if d & 0xff00 == 0xf000 {
            1
        } else if s & 0xff00 == 0xf000 {
            2
        } else {
            0
        }
    }
    /// Length of the smallest encoding.
    pub fn buffer_len(&self) -> usize {
        1 + ports_len(self.ports_mode()) + if self.checksum.is_some() { 2 } else { 0 }
    }
    /// The smallest encoding, left-aligned in a big-endian word, and its length (at most 7).
    #[inline(always)]
    pub(crate) fn encode(&self) -> (u64, usize) {
        let mode = self.ports_mode();
        let (s, d) = (u64::from(self.src_port), u64::from(self.dst_port));
        let (ports, len) = match mode {
            0 => ((s << 16) | d, 4),
            1 => ((s << 8) | (d & 0xff), 3),
            2 => (((s & 0xff) << 16) | d, 3),
            _ => (((s & 0x0f) << 4) | (d & 0x0f), 1),
        };
        let head = UDP_DISPATCH | (u8::from(self.checksum.is_none()) << 2) | mode;
        let mut v = (u64::from(head) << 56) | (ports << (56 - 8 * len));
        let mut n = 1 + len;
        if let Some(c) = self.checksum {
            v |= u64::from(c) << (40 - 8 * len);
            n += 2;
        }
        (v, n)
    }
    /// Writes the smallest encoding.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let (v, n) = self.encode();
        room(buf, n)?;
        if let (Some(d), Some(s)) = (buf.get_mut(..n), v.to_be_bytes().get(..n)) {
            d.copy_from_slice(s);
        }
        Ok(n)
    }
}

impl fmt::Display for UdpNhcRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NHC-UDP src={} dst={} cksum={:?}",
            self.src_port, self.dst_port, self.checksum
        )
    }
}

/// A view of a compressed extension header (not EID 7, which carries IPHC instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtNhcPacket<T: AsRef<[u8]>> {
    buffer: T,
}

// Getters read below `header_len()`, guaranteed by `check_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> ExtNhcPacket<T> {
    /// Wraps without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        ExtNhcPacket { buffer }
    }
    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Ensures the dispatch, EID, next-header and length bytes and the data are present.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 1)?;
        match NhcKind::from_byte(b[0])? {
            NhcKind::Ext(ExtHeaderId::Ipv6) => {
                return Err(Error::Reserved("EID 7 carries IPHC, not a length"));
            }
            NhcKind::Ext(_) => {}
            NhcKind::Udp => return Err(Error::Reserved("unknown NHC")),
        }
        need(b, self.length_offset() + 1)?;
        need(b, self.header_len())
    }
    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// The header identifier.
    pub fn header_id(&self) -> Result<ExtHeaderId> {
        ExtHeaderId::from_eid(self.buffer.as_ref()[0] >> 1)
    }
    /// NH: the next header is NHC-encoded.
    pub fn nh(&self) -> bool {
        self.buffer.as_ref()[0] & 1 != 0
    }
    fn length_offset(&self) -> usize {
        if self.nh() { 1 } else { 2 }
    }
    /// Inline next header, `None` when NHC-encoded.
    pub fn next_header(&self) -> Option<IpProtocol> {
        if self.nh() {
            None
        } else {
            Some(IpProtocol::from(self.buffer.as_ref()[1]))
        }
    }
    /// Length byte: octets of header data that follow.
    pub fn length(&self) -> u8 {
        self.buffer.as_ref()[self.length_offset()]
    }
    /// Header length including the data.
    pub fn header_len(&self) -> usize {
        self.length_offset() + 1 + usize::from(self.length())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> ExtNhcPacket<&'a T> {
    /// The header data (what follows next header and length in the uncompressed header,
    /// possibly without trailing padding).
    pub fn data(&self) -> &'a [u8] {
        self.buffer
            .as_ref()
            .get(self.length_offset() + 1..self.header_len())
            .unwrap_or(&[])
    }
    /// What follows the header.
    pub fn payload(&self) -> &'a [u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

/// A compressed extension header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtNhcRepr<'a> {
    /// Which header (never [`ExtHeaderId::Ipv6`]).
    pub header_id: ExtHeaderId,
    /// Inline next header, `None` when the next header is NHC-encoded.
    pub next_header: Option<IpProtocol>,
    /// Header data (at most 255 bytes).
    pub data: &'a [u8],
}

impl<'a> ExtNhcRepr<'a> {
    /// Parses.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &ExtNhcPacket<&'a T>) -> Result<Self> {
        p.check_len()?;
        Ok(ExtNhcRepr {
            header_id: p.header_id()?,
            next_header: p.next_header(),
            data: p.data(),
        })
    }
    /// Encoded length.
    pub fn buffer_len(&self) -> usize {
        2 + usize::from(self.next_header.is_some()) + self.data.len()
    }
    /// Writes the header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.header_id == ExtHeaderId::Ipv6 {
            return Err(Error::Reserved("EID 7 carries IPHC, not a length"));
        }
        let len = u8::try_from(self.data.len()).map_err(|_| Error::BadLength)?;
        let n = self.buffer_len();
        room(buf, n)?;
        let mut pos = 0;
        let mut put = |b: u8| {
            if let Some(x) = buf.get_mut(pos) {
                *x = b;
            }
            pos += 1;
        };
        put(EXT_DISPATCH | (self.header_id.eid() << 1) | u8::from(self.next_header.is_none()));
        if let Some(nh) = self.next_header {
            put(nh.into());
        }
        put(len);
        if let Some(d) = buf.get_mut(n - self.data.len()..n) {
            d.copy_from_slice(self.data);
        }
        Ok(n)
    }
}

impl fmt::Display for ExtNhcRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NHC-EXT eid={} nxt={:?} len={}",
            self.header_id.eid(),
            self.next_header.map(u8::from),
            self.data.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // smoltcp nhc.rs RPL Hop-by-Hop vector (FACTS §10).
    static HBH: [u8; 9] = [
        0xe0, // 1110 EID=0 (HBH) NH=0
        0x3a, // next header ICMPv6
        0x06, // 6 bytes of data follow
        0x63, 0x04, 0x00, 0x1e, 0x03, 0x00, // RPL option: flags 0, instance 0x1e, rank 0x0300
    ];

    #[test]
    fn ext_deconstruct() {
        let p = ExtNhcPacket::new_checked(&HBH[..]).unwrap();
        assert_eq!(p.header_id(), Ok(ExtHeaderId::HopByHop));
        assert!(!p.nh());
        assert_eq!(p.next_header(), Some(IpProtocol::Icmpv6));
        assert_eq!(p.length(), 6);
        assert_eq!(p.data(), &HBH[3..]);
        assert_eq!(p.header_len(), 9);
        assert!(p.payload().is_empty());
    }

    #[test]
    fn ext_parse_emit() {
        let p = ExtNhcPacket::new_checked(&HBH[..]).unwrap();
        let r = ExtNhcRepr::parse(&p).unwrap();
        assert_eq!(
            r,
            ExtNhcRepr {
                header_id: ExtHeaderId::HopByHop,
                next_header: Some(IpProtocol::Icmpv6),
                data: &HBH[3..]
            }
        );
        let mut buf = [0xa5u8; 9];
        assert_eq!(r.emit(&mut buf).unwrap(), 9);
        assert_eq!(buf, HBH);
    }

    #[test]
    fn srh_vector() {
        // smoltcp nhc.rs SRH vector (FACTS §10): routing, NH=1, 0x1e bytes.
        let b = [
            0xe3, 0x1e, 0x03, 0x03, 0x99, 0x30, 0x00, 0x00, 0x05, 0x00, 0x05, 0x00, 0x05, 0x00,
            0x05, 0x06, 0x00, 0x06, 0x00, 0x06, 0x00, 0x06, 0x02, 0x00, 0x02, 0x00, 0x02, 0x00,
            0x02, 0x00, 0x00, 0x00,
        ];
        let p = ExtNhcPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_id(), Ok(ExtHeaderId::Routing));
        assert!(p.nh());
        assert_eq!(p.length(), 0x1e);
        assert_eq!(&p.data()[..4], &[0x03, 0x03, 0x99, 0x30]);
        assert!(p.payload().is_empty());
    }

    // UDP with 4-bit ports 0xf0b1 -> 0xf0b2 and an inline checksum.
    static UDP4: [u8; 4] = [
        0xf3, // 11110 C=0 P=11
        0x12, // src 0xf0b1, dst 0xf0b2
        0xab, 0xcd, // checksum
    ];

    #[test]
    fn udp_deconstruct_parse_emit() {
        let p = UdpNhcPacket::new_checked(&UDP4[..]).unwrap();
        assert_eq!(p.ports_mode(), 3);
        assert_eq!(p.src_port(), 0xf0b1);
        assert_eq!(p.dst_port(), 0xf0b2);
        assert_eq!(p.checksum(), Some(0xabcd));
        let r = UdpNhcRepr::parse(&p).unwrap();
        let mut buf = [0xa5u8; 4];
        assert_eq!(r.emit(&mut buf).unwrap(), 4);
        assert_eq!(buf, UDP4);
    }

    #[test]
    fn udp_port_forms() {
        for (src, dst, expect) in [
            (716u16, 716u16, &[0xf4u8, 0x02, 0xcc, 0x02, 0xcc][..]),
            (19788, 0xf012, &[0xf5, 0x4d, 0x4c, 0x12][..]),
            (0xf034, 19788, &[0xf6, 0x34, 0x4d, 0x4c][..]),
            (0xf0bf, 0xf0b0, &[0xf7, 0xf0][..]),
        ] {
            let r = UdpNhcRepr {
                src_port: src,
                dst_port: dst,
                checksum: None,
            };
            let mut buf = [0xa5u8; 8];
            let n = r.emit(&mut buf).unwrap();
            assert_eq!(&buf[..n], expect);
            let p = UdpNhcPacket::new_checked(&buf[..n]).unwrap();
            assert_eq!(UdpNhcRepr::parse(&p).unwrap(), r);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            UdpNhcPacket::new_checked(&UDP4[..3]).unwrap_err(),
            Error::Truncated { needed: 4, got: 3 }
        );
        assert_eq!(
            UdpNhcPacket::new_checked(&[0xe0u8][..]).unwrap_err(),
            Error::Reserved("unknown NHC")
        );
        assert_eq!(
            ExtNhcPacket::new_checked(&HBH[..8]).unwrap_err(),
            Error::Truncated { needed: 9, got: 8 }
        );
        assert_eq!(
            ExtNhcPacket::new_checked(&[0xeau8, 0][..]).unwrap_err(),
            Error::Reserved("NHC EID 5/6")
        );
        assert_eq!(
            ExtNhcPacket::new_checked(&[0xeeu8][..]).unwrap_err(),
            Error::Reserved("EID 7 carries IPHC, not a length")
        );
        assert_eq!(
            ExtNhcPacket::new_checked(&[0xf0u8][..]).unwrap_err(),
            Error::Reserved("unknown NHC")
        );
        assert_eq!(
            NhcKind::from_byte(0x00),
            Err(Error::Reserved("unknown NHC"))
        );
        let big = [0u8; 256];
        let r = ExtNhcRepr {
            header_id: ExtHeaderId::DestinationOptions,
            next_header: None,
            data: &big,
        };
        assert_eq!(r.emit(&mut [0u8; 300]), Err(Error::BadLength));
        assert_eq!(
            UdpNhcRepr {
                src_port: 1,
                dst_port: 2,
                checksum: None
            }
            .emit(&mut [0u8; 4]),
            Err(Error::BufferTooSmall { required: 5 })
        );
    }
}
