//! UDP (RFC 768) over IPv6, with the pseudo-header checksum of RFC 8200 §8.1.
//!
//! # Fuzzing
//! Under `cfg(fuzzing)`, [`Packet::verify_checksum`] always succeeds.

use super::checksum;
use crate::error::{Error, Result, need, room};
use core::fmt;
use core::net::Ipv6Addr;

/// UDP header length.
pub const HEADER_LEN: usize = 8;
/// IP protocol number of UDP.
pub const PROTOCOL: u8 = 17;

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

/// A read/write view of a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

// Getters read below `HEADER_LEN`, guaranteed by `check_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }
    /// Wraps and checks the header and length field.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Ensures the header is present and the length field lies between 8 and the buffer length.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, HEADER_LEN)?;
        let l = usize::from(self.len());
        if l < HEADER_LEN || l > b.len() {
            return Err(Error::BadLength);
        }
        Ok(())
    }
    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT)
    }
    /// Length field (header + payload).
    pub fn len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }
    /// `true` when the length field is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    /// The checksum a sender would put in the checksum field (0 is sent as 0xffff).
    pub fn compute_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
        let b = self.buffer.as_ref();
        let n = usize::from(self.len()).min(b.len());
        compute(src, dst, b.get(..n).unwrap_or(&[]))
    }
    /// Verifies the checksum against the pseudo-header (always `true` under `cfg(fuzzing)`).
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        if cfg!(fuzzing) {
            return true;
        }
        self.checksum() != 0 && self.compute_checksum(src, dst) == self.checksum()
    }
}

/// The UDP checksum of `datagram` (header and payload; its checksum field is ignored).
pub fn compute(src: &Ipv6Addr, dst: &Ipv6Addr, datagram: &[u8]) -> u16 {
    let len = u32::try_from(datagram.len()).unwrap_or(u32::MAX);
    let cks_field = datagram
        .get(field::CHECKSUM)
        .map(checksum::data)
        .unwrap_or(0);
    // Remove the checksum field's own contribution: sum = all - field (one's complement).
    let sum = checksum::combine(&[
        checksum::pseudo_header(src, dst, PROTOCOL, len),
        checksum::data(datagram),
        !cks_field,
    ]);
    match !sum {
        0 => 0xffff,
        c => c,
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload (clamped to the length field).
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        let end = usize::from(self.len()).min(b.len());
        b.get(HEADER_LEN..end).unwrap_or(&[])
    }
}

// Setters write below `HEADER_LEN`; the caller sizes the buffer with `UdpRepr::buffer_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the length field.
    pub fn set_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }
    /// Computes and writes the checksum over the length-field bytes.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let c = self.compute_checksum(src, dst);
        self.set_checksum(c);
    }
    /// The payload, mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let b = self.buffer.as_mut();
        let n = b.len();
        b.get_mut(HEADER_LEN.min(n)..).unwrap_or(&mut [])
    }
}

/// The fields of a UDP header (length and checksum are derived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl UdpRepr {
    /// Parses and verifies the checksum.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        p: &Packet<&T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<Self> {
        p.check_len()?;
        if !p.verify_checksum(src, dst) {
            return Err(Error::BadChecksum);
        }
        Ok(UdpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
        })
    }
    /// Header length (8).
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }
    /// Header plus `payload_len`.
    pub const fn buffer_len(&self, payload_len: usize) -> usize {
        HEADER_LEN + payload_len
    }
    /// Writes header and payload into `buf` and fills in length and checksum; returns the
    /// number of bytes written.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        payload: &[u8],
    ) -> Result<usize> {
        let total = self.buffer_len(payload.len());
        let len = u16::try_from(total).map_err(|_| Error::BadLength)?;
        room(buf, total)?;
        let mut p = Packet::new_unchecked(buf.get_mut(..total).unwrap_or(&mut []));
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(len);
        p.set_checksum(0);
        p.payload_mut().copy_from_slice(payload);
        p.fill_checksum(src, dst);
        Ok(total)
    }
}

impl fmt::Display for UdpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UDP src={} dst={}", self.src_port, self.dst_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Ipv6Addr {
        "fe80::1".parse().unwrap()
    }
    fn dst() -> Ipv6Addr {
        "fe80::2".parse().unwrap()
    }
    // UDP 0xbf00 -> 0xbf01 from fe80::1 to fe80::2, payload "abcd"; the checksum 0xc008 was
    // computed independently (a Python RFC 1071 sum over pseudo-header and datagram).
    static DATAGRAM: [u8; 12] = [
        0xbf, 0x00, // src port
        0xbf, 0x01, // dst port
        0x00, 0x0c, // length 12
        0xc0, 0x08, // checksum
        0x61, 0x62, 0x63, 0x64, // "abcd"
    ];
    const REPR: UdpRepr = UdpRepr {
        src_port: 0xbf00,
        dst_port: 0xbf01,
    };

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&DATAGRAM[..]).unwrap();
        assert_eq!(p.src_port(), 0xbf00);
        assert_eq!(p.dst_port(), 0xbf01);
        assert_eq!(p.len(), 12);
        assert_eq!(p.checksum(), 0xc008);
        assert_eq!(p.payload(), b"abcd");
        assert!(p.verify_checksum(&src(), &dst()));
        assert!(!p.is_empty());
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 12];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(0xbf00);
        p.set_dst_port(0xbf01);
        p.set_len(12);
        p.set_checksum(0);
        p.payload_mut().copy_from_slice(b"abcd");
        p.fill_checksum(&src(), &dst());
        assert_eq!(buf, DATAGRAM);
    }

    #[test]
    fn parse() {
        let p = Packet::new_checked(&DATAGRAM[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p, &src(), &dst()).unwrap(), REPR);
    }

    #[test]
    fn emit() {
        let mut buf = [0xa5u8; 12];
        assert_eq!(REPR.emit(&mut buf, &src(), &dst(), b"abcd").unwrap(), 12);
        assert_eq!(buf, DATAGRAM);
        assert_eq!(REPR.header_len(), 8);
    }

    #[test]
    fn errors() {
        assert_eq!(
            Packet::new_checked(&DATAGRAM[..7]).unwrap_err(),
            Error::Truncated { needed: 8, got: 7 }
        );
        assert_eq!(
            Packet::new_checked(&DATAGRAM[..11]).unwrap_err(),
            Error::BadLength
        );
        let mut bad = DATAGRAM;
        bad[8] ^= 1;
        let p = Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p, &src(), &dst()), Err(Error::BadChecksum));
        assert_eq!(
            REPR.emit(&mut [0u8; 11], &src(), &dst(), b"abcd"),
            Err(Error::BufferTooSmall { required: 12 })
        );
    }
}
