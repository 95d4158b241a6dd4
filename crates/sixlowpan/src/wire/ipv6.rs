//! The IPv6 header (RFC 8200 §3).
//!
//! ```text
//! | version(4) | traffic class(8) | flow label(20) |
//! | payload length(16) | next header(8) | hop limit(8) |
//! | source address(128) | destination address(128) |
//! ```

use super::IpProtocol;
use crate::error::{Error, Result, need};
use core::fmt;
use core::net::Ipv6Addr;

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// A read/write view of an IPv6 packet (header and payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

// Getters index only below `HEADER_LEN`, which `check_len` guarantees; `payload` clamps.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }
    /// Wraps a buffer and checks that the fixed header is present.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Ensures the fixed header is present; after `Ok`, no getter panics.
    pub fn check_len(&self) -> Result<()> {
        need(self.buffer.as_ref(), HEADER_LEN)
    }
    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn word0(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    /// Version field (6).
    pub fn version(&self) -> u8 {
        (self.word0() >> 28) as u8
    }
    /// Traffic class (DSCP in the upper 6 bits, ECN in the lower 2).
    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }
    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }
    /// Payload length.
    pub fn payload_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::LENGTH];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// Next header.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::NXT_HDR])
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::SRC])
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::DST])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Everything after the fixed header, clamped to the payload length field.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        let end = HEADER_LEN.saturating_add(usize::from(self.payload_len()));
        b.get(HEADER_LEN..end.min(b.len())).unwrap_or(&[])
    }
}

// Setters index only below `HEADER_LEN`; callers size the buffer with `Ipv6Repr::buffer_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_word0(&mut self, v: u32) {
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the version field.
    pub fn set_version(&mut self, v: u8) {
        let w = (self.word0() & 0x0fff_ffff) | (u32::from(v & 0x0f) << 28);
        self.set_word0(w);
    }
    /// Sets the traffic class.
    pub fn set_traffic_class(&mut self, v: u8) {
        let w = (self.word0() & 0xf00f_ffff) | (u32::from(v) << 20);
        self.set_word0(w);
    }
    /// Sets the flow label (low 20 bits of `v`).
    pub fn set_flow_label(&mut self, v: u32) {
        let w = (self.word0() & 0xfff0_0000) | (v & 0x000f_ffff);
        self.set_word0(w);
    }
    /// Sets the payload length.
    pub fn set_payload_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the next header.
    pub fn set_next_header(&mut self, v: IpProtocol) {
        self.buffer.as_mut()[field::NXT_HDR] = v.into();
    }
    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }
    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }
    /// The payload, mutably (everything after the fixed header).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let b = self.buffer.as_mut();
        let n = b.len();
        b.get_mut(HEADER_LEN.min(n)..).unwrap_or(&mut [])
    }
}

pub(crate) fn addr(b: &[u8]) -> Ipv6Addr {
    <[u8; 16]>::try_from(b).map_or(Ipv6Addr::UNSPECIFIED, Ipv6Addr::from)
}

/// The fields of an IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Next header.
    pub next_header: IpProtocol,
    /// Payload length in bytes.
    pub payload_len: u16,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class (DSCP << 2 | ECN).
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Reads the header. The payload may be shorter than the payload length (a first fragment);
    /// callers that need it complete compare `payload_len` with the buffer.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &Packet<&T>) -> Result<Self> {
        p.check_len()?;
        if p.version() != 6 {
            return Err(Error::UnsupportedVersion(p.version()));
        }
        Ok(Ipv6Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: p.payload_len(),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        })
    }
    /// Header length (40).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }
    /// Writes the header into the first 40 bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let out = buf.get_mut(..HEADER_LEN).ok_or(Error::BufferTooSmall {
            required: HEADER_LEN,
        })?;
        let word0 =
            (6u32 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0x000f_ffff);
        let mut h = [0u8; HEADER_LEN];
        let (w, rest) = h.split_at_mut(4);
        w.copy_from_slice(&word0.to_be_bytes());
        let (l, rest) = rest.split_at_mut(2);
        l.copy_from_slice(&self.payload_len.to_be_bytes());
        let (nh, rest) = rest.split_at_mut(2);
        nh.copy_from_slice(&[self.next_header.into(), self.hop_limit]);
        let (sa, da) = rest.split_at_mut(16);
        sa.copy_from_slice(&self.src_addr.octets());
        da.copy_from_slice(&self.dst_addr.octets());
        out.copy_from_slice(&h);
        Ok(())
    }
}

impl fmt::Display for Ipv6Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPv6 src={} dst={} nxt={} len={} hlim={} tc=0x{:02x} flow=0x{:05x}",
            self.src_addr,
            self.dst_addr,
            u8::from(self.next_header),
            self.payload_len,
            self.hop_limit,
            self.traffic_class,
            self.flow_label
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // OpenThread tests/unit/test_vector.c, LL16 echo request, decompressed (FACTS §10).
    static PACKET: [u8; 56] = [
        0x60, 0x00, 0x00, 0x00, // version 6, tc 0, flow 0
        0x00, 0x10, // payload length 16
        0x3a, // next header ICMPv6
        0x40, // hop limit 64
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0, 0, // fe80::ff:fe00:0
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0x10, 0, // fe80::ff:fe00:1000
        0x80, 0x00, 0x63, 0x9e, 0, 0, 0, 0, // ICMPv6 echo request
        0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, // "ABCDEFGH"
    ];

    fn repr() -> Ipv6Repr {
        Ipv6Repr {
            src_addr: "fe80::ff:fe00:0".parse().unwrap(),
            dst_addr: "fe80::ff:fe00:1000".parse().unwrap(),
            next_header: IpProtocol::Icmpv6,
            payload_len: 16,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0);
        assert_eq!(p.flow_label(), 0);
        assert_eq!(p.payload_len(), 16);
        assert_eq!(p.next_header(), IpProtocol::Icmpv6);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr(), repr().src_addr);
        assert_eq!(p.dst_addr(), repr().dst_addr);
        assert_eq!(p.payload(), &PACKET[40..]);
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 56];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(6);
        p.set_traffic_class(0);
        p.set_flow_label(0);
        p.set_payload_len(16);
        p.set_next_header(IpProtocol::Icmpv6);
        p.set_hop_limit(64);
        p.set_src_addr(repr().src_addr);
        p.set_dst_addr(repr().dst_addr);
        p.payload_mut().copy_from_slice(&PACKET[40..]);
        assert_eq!(buf, PACKET);
    }

    #[test]
    fn tc_and_flow_fields_do_not_overlap() {
        let mut buf = [0u8; 40];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(6);
        p.set_traffic_class(0xb8);
        p.set_flow_label(0xfffff);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0xfffff);
        assert_eq!(p.version(), 6);
        assert_eq!(&buf[..4], &[0x6b, 0x8f, 0xff, 0xff]);
    }

    #[test]
    fn parse() {
        let p = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn emit() {
        let mut buf = [0xa5u8; 40];
        repr().emit(&mut buf).unwrap();
        assert_eq!(buf[..], PACKET[..40]);
        assert_eq!(repr().buffer_len(), 40);
    }

    #[test]
    fn errors() {
        assert_eq!(
            Packet::new_checked(&PACKET[..39]).unwrap_err(),
            Error::Truncated {
                needed: 40,
                got: 39
            }
        );
        let mut bad = PACKET;
        bad[0] = 0x40;
        let p = Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&p), Err(Error::UnsupportedVersion(4)));
        assert_eq!(
            repr().emit(&mut [0u8; 39]),
            Err(Error::BufferTooSmall { required: 40 })
        );
    }
}
