//! The RPL Source Routing Header (RFC 6554 §3): an IPv6 Routing header of type 3.
//!
//! `Next Header | Hdr Ext Len | Routing Type = 3 | Segments Left | CmprI(4) CmprE(4) |
//! Pad(4) Reserved(20) | Addresses[1..n]`. Addresses 1..n−1 carry `16 − CmprI` bytes, the last
//! `16 − CmprE`; the elided leading bytes equal those of the IPv6 Destination Address. `Pad`
//! zero bytes follow so the header is a multiple of 8 bytes. With `L = (HdrExtLen + 1)·8`,
//! `n = (L − 8 − Pad − (16 − CmprE)) / (16 − CmprI) + 1`.

use core::fmt;
use core::net::Ipv6Addr;

use super::field::*;
use crate::error::{Error, Result, need, room};

/// IPv6 Next Header value of a Routing header.
pub const IPV6_ROUTING: u8 = 43;
/// Routing Type of the RPL Source Route Header.
pub const ROUTING_TYPE_SRH: u8 = 3;

/// A view of a Source Routing Header.
#[derive(Debug, Clone)]
pub struct Srh<T: AsRef<[u8]>> {
    buffer: T,
}

fn count(total: usize, cmpr_i: u8, cmpr_e: u8, pad: u8) -> Option<usize> {
    let body = total.checked_sub(8)?.checked_sub(usize::from(pad))?;
    let last = 16usize.checked_sub(usize::from(cmpr_e))?;
    let each = 16usize.checked_sub(usize::from(cmpr_i))?;
    let rest = body.checked_sub(last)?;
    if each == 0 || rest % each != 0 {
        return None;
    }
    Some(rest / each + 1)
}

impl<T: AsRef<[u8]>> Srh<T> {
    /// Wraps without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Srh { buffer }
    }
    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let s = Self::new_unchecked(buffer);
        s.check_len()?;
        Ok(s)
    }
    /// Ensures the header, its addresses and padding are present and consistent.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 8)?;
        need(b, self.header_len())?;
        if self.cmpr_i() > 15 || self.cmpr_e() > 15 {
            return Err(Error::Malformed("CmprI/CmprE"));
        }
        let n = self.address_count().ok_or(Error::BadLength)?;
        if usize::from(self.segments_left()) > n {
            return Err(Error::Malformed("Segments Left > n"));
        }
        Ok(())
    }
    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// Next Header.
    pub fn next_header(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 0)
    }
    /// Hdr Ext Len (8-byte units beyond the first 8).
    pub fn hdr_ext_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 1)
    }
    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        (usize::from(self.hdr_ext_len()) + 1) * 8
    }
    /// Routing Type (3).
    pub fn routing_type(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 2)
    }
    /// Segments Left.
    pub fn segments_left(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 3)
    }
    /// CmprI.
    pub fn cmpr_i(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 4) >> 4
    }
    /// CmprE.
    pub fn cmpr_e(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 4) & 0x0f
    }
    /// Pad.
    pub fn pad(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 5) >> 4
    }
    /// Number of addresses n, if the lengths are consistent.
    pub fn address_count(&self) -> Option<usize> {
        count(self.header_len(), self.cmpr_i(), self.cmpr_e(), self.pad())
    }
    /// Address `i` (1-based, as in RFC 6554) expanded with the prefix of `reference` (the IPv6
    /// Destination Address of the packet carrying the header).
    pub fn address(&self, i: usize, reference: &Ipv6Addr) -> Option<Ipv6Addr> {
        let n = self.address_count()?;
        if i == 0 || i > n {
            return None;
        }
        let each = 16 - usize::from(self.cmpr_i());
        let start = 8 + (i - 1) * each;
        let c = if i == n { self.cmpr_e() } else { self.cmpr_i() };
        let len = 16 - usize::from(c);
        let mut a = reference.octets();
        let src = self.buffer.as_ref().get(start..start + len)?;
        a.get_mut(usize::from(c)..)?.copy_from_slice(src);
        Some(Ipv6Addr::from(a))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Srh<&'a T> {
    /// The compressed address bytes (without padding).
    pub fn addresses(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        let end = self.header_len().saturating_sub(usize::from(self.pad()));
        slice(b, 8, end)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Srh<T> {
    /// Sets Next Header.
    pub fn set_next_header(&mut self, v: u8) {
        set_u8(self.buffer.as_mut(), 0, v)
    }
    /// Sets Hdr Ext Len.
    pub fn set_hdr_ext_len(&mut self, v: u8) {
        set_u8(self.buffer.as_mut(), 1, v)
    }
    /// Sets Routing Type.
    pub fn set_routing_type(&mut self, v: u8) {
        set_u8(self.buffer.as_mut(), 2, v)
    }
    /// Sets Segments Left.
    pub fn set_segments_left(&mut self, v: u8) {
        set_u8(self.buffer.as_mut(), 3, v)
    }
    /// Sets CmprI and CmprE.
    pub fn set_cmpr(&mut self, i: u8, e: u8) {
        set_u8(self.buffer.as_mut(), 4, ((i & 15) << 4) | (e & 15))
    }
    /// Sets Pad and zeroes Reserved.
    pub fn set_pad(&mut self, pad: u8) {
        let b = self.buffer.as_mut();
        set_u8(b, 5, (pad & 15) << 4);
        set_u8(b, 6, 0);
        set_u8(b, 7, 0);
    }

    /// RFC 6554 §4.2 processing at the router named by `dst`: decrements Segments Left and
    /// swaps `dst` with the next address. Returns `Ok(true)` if the packet must be forwarded to
    /// the new `dst`, `Ok(false)` if Segments Left was already 0 (the packet is for us).
    pub fn process(&mut self, dst: &mut Ipv6Addr) -> Result<bool> {
        self.check_len()?;
        let sl = self.segments_left();
        if sl == 0 {
            return Ok(false);
        }
        let n = self.address_count().ok_or(Error::BadLength)?;
        let i = n - usize::from(sl) + 1;
        let next = self.address(i, dst).ok_or(Error::BadLength)?;
        if next.is_multicast() || dst.is_multicast() {
            return Err(Error::Malformed("multicast in source route"));
        }
        let c = usize::from(if i == n { self.cmpr_e() } else { self.cmpr_i() });
        let each = 16 - usize::from(self.cmpr_i());
        let start = 8 + (i - 1) * each;
        let old = dst.octets();
        let old_tail = old.get(c..).unwrap_or(&[]);
        // The old destination must share the elided prefix with the new one to fit the slot.
        if old.get(..c) != next.octets().get(..c) {
            return Err(Error::Malformed("source route prefix mismatch"));
        }
        set_bytes(self.buffer.as_mut(), start, old_tail);
        self.set_segments_left(sl - 1);
        *dst = next;
        Ok(true)
    }
}

/// A Source Routing Header's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrhRepr<'a> {
    /// Next Header.
    pub next_header: u8,
    /// Segments Left.
    pub segments_left: u8,
    /// CmprI.
    pub cmpr_i: u8,
    /// CmprE.
    pub cmpr_e: u8,
    /// Pad.
    pub pad: u8,
    /// Compressed addresses, without padding.
    pub addresses: &'a [u8],
}

impl<'a> SrhRepr<'a> {
    /// Parses a checked view (the Routing Type must be 3).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(s: &Srh<&'a T>) -> Result<Self> {
        s.check_len()?;
        if s.routing_type() != ROUTING_TYPE_SRH {
            return Err(Error::Malformed("routing type is not 3"));
        }
        Ok(SrhRepr {
            next_header: s.next_header(),
            segments_left: s.segments_left(),
            cmpr_i: s.cmpr_i(),
            cmpr_e: s.cmpr_e(),
            pad: s.pad(),
            addresses: s.addresses(),
        })
    }
    /// Bytes the header occupies.
    pub fn buffer_len(&self) -> usize {
        8 + self.addresses.len() + usize::from(self.pad)
    }
    /// Writes the header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        if total % 8 != 0 || total > 2048 {
            return Err(Error::BadLength);
        }
        room(buf, total)?;
        let mut s = Srh::new_unchecked(&mut *buf);
        s.set_next_header(self.next_header);
        s.set_hdr_ext_len(u8::try_from(total / 8 - 1).map_err(|_| Error::BadLength)?);
        s.set_routing_type(ROUTING_TYPE_SRH);
        s.set_segments_left(self.segments_left);
        s.set_cmpr(self.cmpr_i, self.cmpr_e);
        s.set_pad(self.pad);
        set_bytes(buf, 8, self.addresses);
        fill(buf, 8 + self.addresses.len(), total, 0);
        Ok(total)
    }

    /// Length of the header that [`emit_route`](Self::emit_route) writes (the encoder is
    /// the one `amimesh_sixlowpan` rebuilds SRH-6LoRH routes with, so that a route the root
    /// sends and the one a meter decompresses are the same bytes).
    pub fn route_len(reference: &Ipv6Addr, hops: &[Ipv6Addr]) -> Option<usize> {
        amimesh_sixlowpan::compress::srh::srh_len(reference, hops)
    }

    /// Writes a compressed header for the hops after `reference` (the IPv6 Destination Address,
    /// i.e. the first hop): `hops` ends with the final destination. Segments Left = `hops.len()`.
    /// CmprI/CmprE are the longest prefix common to `reference` and every hop (RFC 6554 §3:
    /// the elided bytes equal the IPv6 Destination Address, which changes at every hop), so the
    /// header stays valid as [`Srh::process`] walks it.
    pub fn emit_route(
        next_header: u8,
        reference: &Ipv6Addr,
        hops: &[Ipv6Addr],
        buf: &mut [u8],
    ) -> Result<usize> {
        let n = hops.len();
        if n == 0 || n > 255 {
            return Err(Error::BadLength);
        }
        let total = Self::route_len(reference, hops).ok_or(Error::BadLength)?;
        if total > 2048 {
            return Err(Error::BadLength);
        }
        room(buf, total)?;
        amimesh_sixlowpan::compress::srh::emit_srh(next_header, reference, hops, buf)
            .ok_or(Error::BadLength)
    }
}

impl fmt::Display for SrhRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SRH sl={} cmprI={} cmprE={} pad={} addr_bytes={}",
            self.segments_left,
            self.cmpr_i,
            self.cmpr_e,
            self.pad,
            self.addresses.len()
        )
    }
}
