//! The ICMPv6 header (RFC 4443 §2.1): type, code, checksum; the message body is left to the
//! protocol that owns the type (RPL for 155, neighbour discovery, echo).
//!
//! # Fuzzing
//! Under `cfg(fuzzing)`, [`Packet::verify_checksum`] always succeeds.

use super::checksum;
use crate::error::{Error, Result, need, room};
use core::fmt;
use core::net::Ipv6Addr;

/// Header length (type, code, checksum).
pub const HEADER_LEN: usize = 4;
/// IP protocol number of ICMPv6.
pub const PROTOCOL: u8 = 58;

amimesh_core::enum_with_unknown! {
    /// ICMPv6 message types used in this stack (RFC 4443 §2.1, RFC 4861 §4, RFC 6550 §6).
    pub enum Icmpv6Type(u8) {
        /// Destination Unreachable.
        DstUnreachable = 1,
        /// Packet Too Big.
        PacketTooBig = 2,
        /// Time Exceeded.
        TimeExceeded = 3,
        /// Parameter Problem.
        ParamProblem = 4,
        /// Echo Request.
        EchoRequest = 128,
        /// Echo Reply.
        EchoReply = 129,
        /// Router Solicitation.
        RouterSolicit = 133,
        /// Router Advertisement.
        RouterAdvert = 134,
        /// Neighbor Solicitation.
        NeighborSolicit = 135,
        /// Neighbor Advertisement.
        NeighborAdvert = 136,
        /// RPL control message (RFC 6550 §6).
        Rpl = 155,
    }
}

/// A read/write view of an ICMPv6 message.
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
    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Ensures the 4-byte header is present.
    pub fn check_len(&self) -> Result<()> {
        need(self.buffer.as_ref(), HEADER_LEN)
    }
    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// Message type.
    pub fn msg_type(&self) -> Icmpv6Type {
        Icmpv6Type::from(self.buffer.as_ref()[0])
    }
    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }
    /// The checksum the message should carry.
    pub fn compute_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
        compute(src, dst, self.buffer.as_ref())
    }
    /// Verifies the checksum (always `true` under `cfg(fuzzing)`).
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        cfg!(fuzzing) || self.compute_checksum(src, dst) == self.checksum()
    }
}

/// The ICMPv6 checksum of `message` (its checksum field is ignored).
pub fn compute(src: &Ipv6Addr, dst: &Ipv6Addr, message: &[u8]) -> u16 {
    let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
    let cks_field = message.get(2..4).map(checksum::data).unwrap_or(0);
    !checksum::combine(&[
        checksum::pseudo_header(src, dst, PROTOCOL, len),
        checksum::data(message),
        !cks_field,
    ])
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The message body after the checksum.
    pub fn body(&self) -> &'a [u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }
}

// Setters write below `HEADER_LEN`; the caller sizes the buffer with `Icmpv6Repr::buffer_len`.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the type.
    pub fn set_msg_type(&mut self, t: Icmpv6Type) {
        self.buffer.as_mut()[0] = t.into();
    }
    /// Sets the code.
    pub fn set_msg_code(&mut self, c: u8) {
        self.buffer.as_mut()[1] = c;
    }
    /// Sets the checksum field.
    pub fn set_checksum(&mut self, c: u16) {
        self.buffer.as_mut()[2..4].copy_from_slice(&c.to_be_bytes());
    }
    /// Computes and writes the checksum.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let c = self.compute_checksum(src, dst);
        self.set_checksum(c);
    }
    /// The body, mutably.
    pub fn body_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(HEADER_LEN..)
            .unwrap_or(&mut [])
    }
}

/// An ICMPv6 message: type, code and the undecoded body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv6Repr<'a> {
    /// Message type.
    pub msg_type: Icmpv6Type,
    /// Code.
    pub code: u8,
    /// Body after the checksum.
    pub body: &'a [u8],
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses and verifies the checksum.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        p: &Packet<&'a T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<Self> {
        p.check_len()?;
        if !p.verify_checksum(src, dst) {
            return Err(Error::BadChecksum);
        }
        Ok(Icmpv6Repr {
            msg_type: p.msg_type(),
            code: p.msg_code(),
            body: p.body(),
        })
    }
    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body.len()
    }
    /// Writes the message with its checksum; returns the length.
    pub fn emit(&self, buf: &mut [u8], src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<usize> {
        let n = self.buffer_len();
        room(buf, n)?;
        let mut p = Packet::new_unchecked(buf.get_mut(..n).unwrap_or(&mut []));
        p.set_msg_type(self.msg_type);
        p.set_msg_code(self.code);
        p.set_checksum(0);
        p.body_mut().copy_from_slice(self.body);
        p.fill_checksum(src, dst);
        Ok(n)
    }
}

impl fmt::Display for Icmpv6Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ICMPv6 type={} code={} body={}B",
            u8::from(self.msg_type),
            self.code,
            self.body.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // OpenThread tests/unit/test_vector.c LL16 echo request (FACTS §10):
    // fe80::ff:fe00:0 -> fe80::ff:fe00:1000, checksum 0x639e.
    static MSG: [u8; 16] = [
        0x80, // type: echo request
        0x00, // code
        0x63, 0x9e, // checksum
        0x00, 0x00, 0x00, 0x00, // identifier, sequence
        0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, // "ABCDEFGH"
    ];
    fn src() -> Ipv6Addr {
        "fe80::ff:fe00:0".parse().unwrap()
    }
    fn dst() -> Ipv6Addr {
        "fe80::ff:fe00:1000".parse().unwrap()
    }
    fn repr() -> Icmpv6Repr<'static> {
        Icmpv6Repr {
            msg_type: Icmpv6Type::EchoRequest,
            code: 0,
            body: &MSG[4..],
        }
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&MSG[..]).unwrap();
        assert_eq!(p.msg_type(), Icmpv6Type::EchoRequest);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.checksum(), 0x639e);
        assert_eq!(p.body(), &MSG[4..]);
        assert!(p.verify_checksum(&src(), &dst()));
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 16];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(Icmpv6Type::EchoRequest);
        p.set_msg_code(0);
        p.body_mut().copy_from_slice(&MSG[4..]);
        p.fill_checksum(&src(), &dst());
        assert_eq!(buf, MSG);
    }

    #[test]
    fn parse() {
        let p = Packet::new_checked(&MSG[..]).unwrap();
        assert_eq!(Icmpv6Repr::parse(&p, &src(), &dst()).unwrap(), repr());
    }

    #[test]
    fn emit() {
        let mut buf = [0xa5u8; 16];
        assert_eq!(repr().emit(&mut buf, &src(), &dst()).unwrap(), 16);
        assert_eq!(buf, MSG);
    }

    #[test]
    fn errors() {
        assert_eq!(
            Packet::new_checked(&MSG[..3]).unwrap_err(),
            Error::Truncated { needed: 4, got: 3 }
        );
        let p = Packet::new_checked(&MSG[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&p, &dst(), &src()).map(|_| ()),
            Ok(()),
            "the pseudo-header sum is symmetric in src/dst"
        );
        let mut bad = MSG;
        bad[5] = 1;
        let p = Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&p, &src(), &dst()),
            Err(Error::BadChecksum)
        );
        assert_eq!(
            repr().emit(&mut [0u8; 15], &src(), &dst()),
            Err(Error::BufferTooSmall { required: 16 })
        );
    }
}
