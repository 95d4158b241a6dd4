//! The RPL Source Routing Header (RFC 6554 §3) as SRH-6LoRH (RFC 8138 §5.1) behind the
//! page-1 switch (RFC 8025 §3).
//!
//! An RFC 6554 packet on its way down names the hop it is addressed to in the IPv6
//! Destination Address and the hops still to visit, ending with the final destination, in
//! the Source Routing Header. RFC 8138 §5.2.2 carries the same route differently: the
//! LOWPAN_IPHC destination is the final destination, and the SRH-6LoRH headers list the
//! hops before it, starting with the one the frame is sent to (which consumes its own
//! entry). Each compressed hop is coalesced with the hop before it, the first with the
//! root's address: the IPv6 source, since the root sends these packets itself without an
//! IP-in-IP 6LoRH (RFC 8138 §5.4).
//!
//! Compression takes this form only when decompression rebuilds the packet bit for bit: every
//! address of the routing header is still to be visited (Segments Left = n; a router drops the
//! addresses it has visited before it forwards, as RFC 8138 does on the air), and CmprI,
//! CmprE and Pad are the values [`emit_srh`] picks (the longest prefix common to the
//! destination and every hop, as RFC 6554 §3 allows). The packet goes as SRH-6LoRH only when
//! that is shorter than the LOWPAN_NHC form (RFC 6282 §4.2).

use super::{ASIDE_LEN, Compressed, HOP_BY_HOP, Link, ROUTING, compress_6lorh, ipinip, sub};
use crate::error::{Error, Result, room};
use crate::wire::IpProtocol;
use crate::wire::ext::ExtHeader;
use crate::wire::ipv6;
use crate::wire::lorh::{
    CRITICAL_CLASS, SRH_MAX_HOPS, Srh6LoRh, Srh6LoRhRepr, TYPE_SRH_MAX, srh_addr_len,
    srh_compressed, srh_type_for,
};
use crate::wire::lowpan::DISPATCH_IPV6;
use core::net::Ipv6Addr;

/// Routing Type of the RPL Source Routing Header (RFC 6554 §3).
pub const ROUTING_TYPE_SRH: u8 = 3;
/// Most hops a source route may list to travel as SRH-6LoRH: the destination the packet is
/// addressed to plus the addresses of its routing header but the last (the final
/// destination, which goes in LOWPAN_IPHC). Longer routes keep the LOWPAN_NHC form.
pub const MAX_SRH_6LORH_HOPS: usize = SRH_MAX_HOPS;
/// Largest packet (after the routing header is taken out) compressed with SRH-6LoRH: the
/// largest datagram RFC 4944 fragmentation carries.
const PACKET_MAX: usize = 2048;
/// Room for the 6LoRH headers plus the rest of the compressed header.
const LORH_ASIDE_LEN: usize = 2 + MAX_SRH_6LORH_HOPS * 18 + ASIDE_LEN;

/// Leading octets `a` and `b` share, at most 15 (RFC 6554 §3: CmprI and CmprE are 4 bits).
fn shared(a: &Ipv6Addr, b: &Ipv6Addr) -> u8 {
    let n = a
        .octets()
        .iter()
        .zip(b.octets().iter())
        .take_while(|(x, y)| x == y)
        .count();
    n.min(15) as u8
}

/// CmprI, CmprE, Pad and the header length [`emit_srh`] uses for `addrs` behind the IPv6
/// destination `reference`: the elided prefix is common to the reference and every address,
/// since each becomes the destination in turn (RFC 6554 §3, §4.2), and CmprE ≤ CmprI.
fn srh_shape(reference: &Ipv6Addr, addrs: &[Ipv6Addr]) -> Option<(u8, u8, u8, usize)> {
    let (last, init) = addrs.split_last()?;
    let ci = init
        .iter()
        .map(|h| shared(h, reference))
        .min()
        .unwrap_or(15);
    let ce = shared(last, reference).min(ci);
    let raw = init.len() * (16 - usize::from(ci)) + 16 - usize::from(ce);
    let total = 8 + raw.div_ceil(8) * 8;
    Some((ci, ce, (total - 8 - raw) as u8, total))
}

/// Length of the routing header [`emit_srh`] writes.
pub fn srh_len(reference: &Ipv6Addr, addrs: &[Ipv6Addr]) -> Option<usize> {
    srh_shape(reference, addrs).map(|s| s.3)
}

/// Writes an RPL Source Routing Header (RFC 6554 §3) listing `addrs` (1 to 255 addresses,
/// the final destination last) behind the IPv6 destination `reference`, every address
/// still to be visited (Segments Left = n), compressed with the longest prefix common to
/// the reference and every address. Returns the length, or `None` when `addrs` is empty or
/// too long, or `out` too short.
pub fn emit_srh(
    next_header: u8,
    reference: &Ipv6Addr,
    addrs: &[Ipv6Addr],
    out: &mut [u8],
) -> Option<usize> {
    let (ci, ce, pad, total) = srh_shape(reference, addrs)?;
    let n = u8::try_from(addrs.len()).ok()?;
    let hdr_ext_len = u8::try_from(total / 8 - 1).ok()?;
    let o = out.get_mut(..total)?;
    o.fill(0);
    o.get_mut(..6)?.copy_from_slice(&[
        next_header,
        hdr_ext_len,
        ROUTING_TYPE_SRH,
        n,
        (ci << 4) | ce,
        pad << 4,
    ]);
    let mut at = 8;
    for (k, a) in addrs.iter().enumerate() {
        let c = usize::from(if k + 1 == addrs.len() { ce } else { ci });
        let tail = a.octets();
        let tail = tail.get(c..)?;
        o.get_mut(at..at + tail.len())?.copy_from_slice(tail);
        at += tail.len();
    }
    Some(total)
}

/// A Source Routing Header found in a packet, in the form SRH-6LoRH carries.
pub(super) struct SrhAt {
    /// Offset of the routing header.
    start: usize,
    /// Its length.
    len: usize,
    /// Offset of the Next Header field that names it (the IPv6 header's or the Hop-by-Hop
    /// header's).
    named_at: usize,
    /// Its Next Header.
    next_header: u8,
    /// The IPv6 destination, then every address of the routing header but the last.
    hops: [Ipv6Addr; MAX_SRH_6LORH_HOPS],
    /// How many of `hops` are used.
    count: usize,
    /// The last address: the final destination.
    last: Ipv6Addr,
}

/// The RPL Source Routing Header of `packet` if SRH-6LoRH can carry it exactly: it follows
/// the IPv6 header or a Hop-by-Hop header right after it, every address is still to be
/// visited, it lists at most [`MAX_SRH_6LORH_HOPS`] addresses, and its CmprI, CmprE and Pad
/// are the ones [`emit_srh`] picks.
pub(super) fn srh_of(packet: &[u8]) -> Option<SrhAt> {
    let h = packet.get(..ipv6::HEADER_LEN)?;
    let plen = usize::from(u16::from_be_bytes([*h.get(4)?, *h.get(5)?]));
    if h.first()? >> 4 != 6 || plen + ipv6::HEADER_LEN != packet.len() {
        return None;
    }
    let (start, named_at) = match *h.get(6)? {
        ROUTING => (ipv6::HEADER_LEN, 6),
        HOP_BY_HOP => {
            let hbh =
                ExtHeader::new_checked(sub(packet, ipv6::HEADER_LEN), IpProtocol::HopByHop).ok()?;
            if hbh.next_header() != IpProtocol::Ipv6Route {
                return None;
            }
            (ipv6::HEADER_LEN + hbh.header_len(), ipv6::HEADER_LEN)
        }
        _ => return None,
    };
    let &[next_header, hdr_ext_len, rtype, sl, cmpr, pad, ..] = packet.get(start..start + 8)?
    else {
        return None;
    };
    let len = (usize::from(hdr_ext_len) + 1) * 8;
    let body = packet.get(start..start + len)?;
    if rtype != ROUTING_TYPE_SRH {
        return None;
    }
    let (ci, ce, pad) = (
        usize::from(cmpr >> 4),
        usize::from(cmpr & 15),
        usize::from(pad >> 4),
    );
    // n = (L − 8 − Pad − (16 − CmprE)) / (16 − CmprI) + 1 (RFC 6554 §3).
    let rest = len.checked_sub(8 + pad + 16 - ce)?;
    let each = 16 - ci;
    if rest % each != 0 {
        return None;
    }
    let n = rest / each + 1;
    if usize::from(sl) != n || n > MAX_SRH_6LORH_HOPS {
        return None;
    }
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(h.get(24..40)?).ok()?);
    let mut addrs = [Ipv6Addr::UNSPECIFIED; MAX_SRH_6LORH_HOPS];
    let mut at = 8;
    for (k, slot) in addrs.iter_mut().take(n).enumerate() {
        let c = if k + 1 == n { ce } else { ci };
        let mut a = dst.octets();
        a.get_mut(c..)?.copy_from_slice(body.get(at..at + 16 - c)?);
        at += 16 - c;
        *slot = Ipv6Addr::from(a);
    }
    let addrs = addrs.get(..n)?;
    let mut canonical = [0u8; 8 + MAX_SRH_6LORH_HOPS * 16];
    let k = emit_srh(next_header, &dst, addrs, &mut canonical)?;
    if canonical.get(..k)? != body {
        return None;
    }
    let mut hops = [Ipv6Addr::UNSPECIFIED; MAX_SRH_6LORH_HOPS];
    *hops.first_mut()? = dst;
    hops.get_mut(1..n)?.copy_from_slice(addrs.get(..n - 1)?);
    Some(SrhAt {
        start,
        len,
        named_at,
        next_header,
        hops,
        count: n,
        last: *addrs.last()?,
    })
}

/// Writes the SRH-6LoRH headers for `hops` (the first coalesced with `root`) into `out`;
/// returns their length. The hops are split into the runs that make the headers shortest:
/// each run takes the smallest Type that covers all its hops (RFC 8138 §5.1).
fn emit_lorh(root: &Ipv6Addr, hops: &[Ipv6Addr], out: &mut [u8]) -> Option<usize> {
    let n = hops.len();
    if n == 0 || n > MAX_SRH_6LORH_HOPS {
        return None;
    }
    // The Type each hop needs against the hop before it.
    let mut need = [0u8; MAX_SRH_6LORH_HOPS];
    let mut prev = *root;
    for (slot, h) in need.iter_mut().zip(hops) {
        *slot = srh_type_for(h, &prev);
        prev = *h;
    }
    // Shortest split: best[i] = octets for hops[..i], from[i] = start of the last run.
    let mut best = [usize::MAX; MAX_SRH_6LORH_HOPS + 1];
    let mut from = [0usize; MAX_SRH_6LORH_HOPS + 1];
    *best.first_mut()? = 0;
    for i in 1..=n {
        let mut t = 0u8;
        for j in (0..i).rev() {
            t = t.max(*need.get(j)?);
            let cost = best.get(j)? + 2 + (i - j) * srh_addr_len(t)?;
            if cost < *best.get(i)? {
                *best.get_mut(i)? = cost;
                *from.get_mut(i)? = j;
            }
        }
    }
    let total = *best.get(n)?;
    let o = out.get_mut(..total)?;
    // Walk the runs back to front, writing each at its place.
    let mut i = n;
    let mut end = total;
    while i > 0 {
        let j = *from.get(i)?;
        let t = need.get(j..i)?.iter().copied().max()?;
        let l = srh_addr_len(t)?;
        let start = end - 2 - (i - j) * l;
        let v = o.get_mut(start..end)?;
        let mut s = Srh6LoRh::new_unchecked(v);
        s.set_class_and_size(CRITICAL_CLASS, (i - j - 1) as u8);
        s.set_lorh_type(t);
        for (k, h) in hops.get(j..i)?.iter().enumerate() {
            let (c, len) = srh_compressed(h, t);
            s.set_hop(k, c.get(..len)?);
        }
        end = start;
        i = j;
    }
    debug_assert!(end == 0);
    Some(total)
}

/// The SRH-6LoRH form of `packet` in `out`: the page switch, the SRH-6LoRH headers, then
/// what [`compress_6lorh`] makes of the packet without its routing header and with the
/// final destination as its IPv6 destination. `None` when that form cannot stand for the
/// whole packet (the headers before the routing header must all be compressed).
fn compress_srh(link: &Link, packet: &[u8], s: &SrhAt, out: &mut [u8]) -> Option<Compressed> {
    let vlen = packet.len().checked_sub(s.len)?;
    let mut v = [0u8; PACKET_MAX];
    let vp = v.get_mut(..vlen)?;
    vp.get_mut(..s.start)?
        .copy_from_slice(packet.get(..s.start)?);
    vp.get_mut(s.start..)?
        .copy_from_slice(packet.get(s.start + s.len..)?);
    vp.get_mut(24..40)?.copy_from_slice(&s.last.octets());
    let plen = u16::try_from(vlen - ipv6::HEADER_LEN).ok()?;
    vp.get_mut(4..6)?.copy_from_slice(&plen.to_be_bytes());
    *vp.get_mut(s.named_at)? = s.next_header;
    let root = Ipv6Addr::from(<[u8; 16]>::try_from(packet.get(8..24)?).ok()?);
    // Around a tunnelled packet the SRH-6LoRH list the final destination of the outer
    // header too (the IP-in-IP 6LoRH carries no destination, RFC 8138 §7).
    let mut all = [Ipv6Addr::UNSPECIFIED; MAX_SRH_6LORH_HOPS];
    let hops = if ipinip::encapsulates(vp) {
        ipinip::tunnel_of(vp, link.ctx, true)?;
        all.get_mut(..s.count)?
            .copy_from_slice(s.hops.get(..s.count)?);
        *all.get_mut(s.count)? = s.last;
        all.get(..s.count + 1)?
    } else {
        s.hops.get(..s.count)?
    };
    let l = emit_lorh(&root, hops, out.get_mut(1..)?)?;
    let c = compress_6lorh(link, vp, l, out).ok()?;
    if c.consumed < s.start || c.header_len <= 1 + l || out.get(1 + l) == Some(&DISPATCH_IPV6) {
        return None;
    }
    Some(Compressed {
        consumed: c.consumed + s.len,
        ..c
    })
}

/// [`super::compress_header`] with RFC 8138 for a packet with a Source Routing Header that
/// SRH-6LoRH can carry: the shorter of the SRH-6LoRH form and the LOWPAN_NHC form.
#[inline(never)]
pub(super) fn compress_best(
    link: &Link,
    packet: &[u8],
    s: &SrhAt,
    out: &mut [u8],
) -> Result<Compressed> {
    let total = |c: &Compressed| c.header_len + packet.len().saturating_sub(c.consumed);
    let mut nhc_buf = [0u8; ASIDE_LEN];
    let nhc = compress_6lorh(link, packet, 0, &mut nhc_buf);
    let mut lorh_buf = [0u8; LORH_ASIDE_LEN];
    let lorh = compress_srh(link, packet, s, &mut lorh_buf);
    let (from, c): (&[u8], Compressed) = match (nhc, lorh) {
        (Ok(n), Some(l)) if total(&l) < total(&n) => (&lorh_buf, l),
        (Err(_), Some(l)) => (&lorh_buf, l),
        (Ok(n), _) => (&nhc_buf, n),
        (Err(_), None) => return compress_6lorh(link, packet, 0, out),
    };
    room(out, c.header_len)?;
    if let (Some(d), Some(s)) = (out.get_mut(..c.header_len), from.get(..c.header_len)) {
        d.copy_from_slice(s);
    }
    Ok(c)
}

/// Whether a payload behind the page switch starts with an SRH-6LoRH.
pub(super) fn starts_with_srh(frame: &[u8]) -> bool {
    matches!((frame.get(1), frame.get(2)), (Some(b), Some(&t)) if b >> 5 == CRITICAL_CLASS && t <= TYPE_SRH_MAX)
}

/// The SRH-6LoRH headers that open a page-1 payload (RFC 8138 §5.1), in order.
pub(super) struct SrhLorhs {
    /// How many there are (back to back from the octet after the page switch).
    headers: usize,
    /// Where the header after them starts (1, right after the page switch, when there are
    /// none).
    pub(super) end: usize,
}

impl SrhLorhs {
    /// Reads the SRH-6LoRH headers after the page switch of `frame`: at most
    /// [`MAX_SRH_6LORH_HOPS`] hops over all of them.
    #[inline(always)]
    pub(super) fn read(frame: &[u8]) -> Result<Self> {
        let mut headers = 0usize;
        let mut count = 0usize;
        let mut at = 1usize;
        while starts_with_srh(sub(frame, at - 1)) {
            let v = Srh6LoRh::new_checked(sub(frame, at))?;
            count += v.hop_count();
            if count > MAX_SRH_6LORH_HOPS {
                return Err(Error::TooDeep);
            }
            headers += 1;
            at += v.header_len();
        }
        Ok(Self { headers, end: at })
    }

    /// Whether there are none.
    pub(super) fn is_empty(&self) -> bool {
        self.headers == 0
    }

    /// Expands every hop into `addrs`, in order: the first against `src`, each later one
    /// against the hop before it. Returns how many there are (more than `addrs` holds only
    /// for headers [`SrhLorhs::read`] did not check).
    fn expand(
        &self,
        frame: &[u8],
        src: Ipv6Addr,
        addrs: &mut [Ipv6Addr; MAX_SRH_6LORH_HOPS],
    ) -> Result<usize> {
        let mut k = 0usize;
        let mut reference = src;
        let mut at = 1usize;
        for _ in 0..self.headers {
            let v = Srh6LoRh::new_checked(sub(frame, at))?;
            at += v.header_len();
            let r = Srh6LoRhRepr::parse(&v)?;
            reference = r.expand(&reference, |a| {
                if let Some(slot) = addrs.get_mut(k) {
                    *slot = a;
                }
                k += 1;
            });
        }
        if k > addrs.len() {
            return Err(Error::TooDeep);
        }
        Ok(k)
    }

    /// The routing header the hops stand for, its addresses kept in `addrs`: the first hop
    /// is expanded against the root (the IPv6 source `src`), each later one against the
    /// hop before it; the first becomes the IPv6 destination, and the routing header lists
    /// the later hops and then the final destination `dst` (the LOWPAN_IPHC destination).
    pub(super) fn route<'a>(
        &self,
        frame: &[u8],
        src: Ipv6Addr,
        dst: Ipv6Addr,
        addrs: &'a mut [Ipv6Addr; MAX_SRH_6LORH_HOPS],
    ) -> Result<Route<'a>> {
        let k = self.expand(frame, src, addrs)?;
        let last = k.checked_sub(1).ok_or(Error::BadLength)?;
        let first = addrs[0];
        // The later hops move up one place (`k` ≤ the array's length: `expand`); the final
        // destination takes the last.
        addrs.copy_within(1..k, 0);
        if let Some(slot) = addrs.get_mut(last) {
            *slot = dst;
        }
        let addrs = addrs.get(..k).ok_or(Error::BadLength)?;
        let len = srh_len(&first, addrs).ok_or(Error::BadLength)?;
        Ok(Route { first, addrs, len })
    }

    /// The route of an encapsulating header (RFC 8138 §7): every hop, the first expanded
    /// against the encapsulator `src`, each later one against the hop before it. Returns the
    /// outer destination (the first hop) and the routing header that lists the later hops,
    /// the last of them the final destination; none when there is one hop.
    pub(super) fn tunnel_route<'a>(
        &self,
        frame: &[u8],
        src: Ipv6Addr,
        addrs: &'a mut [Ipv6Addr; MAX_SRH_6LORH_HOPS],
    ) -> Result<(Ipv6Addr, Option<Route<'a>>)> {
        let k = self.expand(frame, src, addrs)?;
        let hops = addrs.get(..k).ok_or(Error::BadLength)?;
        let (&first, rest) = hops.split_first().ok_or(Error::BadLength)?;
        if rest.is_empty() {
            return Ok((first, None));
        }
        let len = srh_len(&first, rest).ok_or(Error::BadLength)?;
        Ok((
            first,
            Some(Route {
                first,
                addrs: rest,
                len,
            }),
        ))
    }
}

/// The RPL Source Routing Header a run of SRH-6LoRH headers stands for.
pub(super) struct Route<'a> {
    /// The IPv6 destination: the first hop.
    first: Ipv6Addr,
    /// The addresses of the routing header, the final destination last.
    addrs: &'a [Ipv6Addr],
    /// Length of the routing header.
    pub(super) len: usize,
}

impl Route<'_> {
    /// Puts the routing header ([`emit_srh`]) into the decompressed headers `out[..end]`:
    /// after the IPv6 header, or after the Hop-by-Hop header, which must be among them, and
    /// makes the first hop the IPv6 destination. The payload length is the caller's.
    /// Returns the new end.
    pub(super) fn insert(&self, out: &mut [u8], end: usize) -> Result<usize> {
        let (p, named_at) = if out.get(6) == Some(&HOP_BY_HOP) {
            let l = out.get(ipv6::HEADER_LEN + 1).ok_or(Error::BadLength)?;
            (
                ipv6::HEADER_LEN + (usize::from(*l) + 1) * 8,
                ipv6::HEADER_LEN,
            )
        } else {
            (ipv6::HEADER_LEN, 6)
        };
        if p > end {
            return Err(Error::Reserved(
                "SRH-6LoRH before an inline Hop-by-Hop header",
            ));
        }
        room(out, end + self.len)?;
        out.copy_within(p..end, p + self.len);
        let next = out.get(named_at).copied().ok_or(Error::BadLength)?;
        if let Some(b) = out.get_mut(named_at) {
            *b = ROUTING;
        }
        emit_srh(next, &self.first, self.addrs, sub_out(out, p)).ok_or(Error::BadLength)?;
        if let Some(d) = out.get_mut(24..40) {
            d.copy_from_slice(&self.first.octets());
        }
        Ok(end + self.len)
    }
}

fn sub_out(buf: &mut [u8], from: usize) -> &mut [u8] {
    buf.get_mut(from..).unwrap_or(&mut [])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompressOptions;
    use crate::compress::{compress, decompress, decompress_header};
    use crate::context::Context;
    use crate::context::ContextTable;
    use crate::test_gens::{self, SrhForm, build_srh_packet};
    use crate::wire::lorh::{PAGE_1_DISPATCH, Rpi6LoRhRepr};
    use amimesh_core::ExtAddr;
    use amimesh_core::LinkAddr;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn node(x: u8) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0x0212, 0x4b00, 0, u16::from(x))
    }

    fn ll(x: u8) -> LinkAddr {
        LinkAddr::Extended(ExtAddr([0, 0x12, 0x4b, 0, 0, 0, 0, x]))
    }

    fn ctx() -> ContextTable {
        ContextTable::new()
            .with(0, Context::new(a("2001:db8::"), 64))
            .unwrap()
    }

    fn on() -> CompressOptions {
        CompressOptions {
            rfc8138: true,
            ..CompressOptions::default()
        }
    }

    /// The root (node 1) sends UDP to node 4 through nodes 2 and 3.
    fn down(rpi: Option<Rpi6LoRhRepr>) -> Vec<u8> {
        build_srh_packet(
            node(1),
            &[node(2), node(3), node(4)],
            rpi,
            17,
            b"hi",
            SrhForm::Canonical,
            64,
            0,
        )
    }

    /// RFC 6554 §4.2 at the router the packet is addressed to, then the visited address
    /// dropped (what the device does before it compresses with RFC 8138).
    fn forward(p: &[u8]) -> Vec<u8> {
        let s = srh_of(p).unwrap();
        let mut hops: Vec<Ipv6Addr> = s.hops[1..s.count].to_vec();
        hops.push(s.last);
        let (next, rest) = hops.split_first().unwrap();
        let mut out = p[..s.start].to_vec();
        out[24..40].copy_from_slice(&next.octets());
        if rest.is_empty() {
            out[s.named_at] = s.next_header;
        } else {
            let mut rh = [0u8; 600];
            let n = emit_srh(s.next_header, next, rest, &mut rh).unwrap();
            out.extend_from_slice(&rh[..n]);
        }
        out.extend_from_slice(&p[s.start + s.len..]);
        let plen = (out.len() - 40) as u16;
        out[4..6].copy_from_slice(&plen.to_be_bytes());
        out
    }

    #[test]
    fn canonical_routing_header() {
        // Node 2 addressed; nodes 3 and 4 listed: 15 octets shared, one carried each.
        let mut b = [0xa5u8; 48];
        let n = emit_srh(17, &node(2), &[node(3), node(4)], &mut b).unwrap();
        #[rustfmt::skip]
        let want = [
            17, 1, 3, 2,   // next header, Hdr Ext Len 1, Routing Type 3, Segments Left 2
            0xff, 0x60,    // CmprI 15 CmprE 15, Pad 6
            0, 0,          // reserved
            0x03, 0x04,    // the last octet of each address
            0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(&b[..n], &want[..]);
        assert_eq!(srh_len(&node(2), &[node(3), node(4)]), Some(16));
        // CmprE never exceeds CmprI; a far address is carried whole.
        let n = emit_srh(59, &node(2), &[a("fd00::1"), node(4)], &mut b).unwrap();
        assert_eq!((b[4], n), (0x00, 40));
        assert_eq!(emit_srh(59, &node(2), &[], &mut b), None);
        assert_eq!(
            emit_srh(17, &node(2), &[node(3), node(4)], &mut b[..15]),
            None
        );
    }

    #[test]
    fn srh_6lorh_byte_exact() {
        let p = down(None);
        let c = ctx();
        let mut out = [0xa5u8; 128];
        let n = compress(&p, ll(1), ll(2), &c, &on(), &mut out).unwrap();
        let ck = &p[p.len() - 4..p.len() - 2];
        #[rustfmt::skip]
        let want = [
            0xf1,                   // page 1 (RFC 8025 §3)
            0x81, 0x00, 0x02, 0x03, // SRH-6LoRH Size 1 Type 0: nodes 2 and 3, one octet each
            0x7e, 0x75,             // IPHC TF=11 NH=1 HLIM=64, SAC=1 SAM=11, DAC=1 DAM=01
            0x02, 0x12, 0x4b, 0, 0, 0, 0, 0x04, // final destination's IID (context 0)
            0xf2, 0xb1, 0x02, 0xd4, // NHC UDP: source 0xf0b1 in 8 bits, destination 0x02d4
            ck[0], ck[1],
            b'h', b'i',
        ];
        assert_eq!(&out[..n], &want[..]);
        assert_eq!(
            &out[..n],
            include_bytes!("../../testdata/rfc8138_srh_udp.lowpan.bin")
        );
        let mut back = [0u8; 128];
        let m = decompress(&out[..n], ll(1), ll(2), &c, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
        // The LOWPAN_NHC form (RFC 6282 §4.2): IPHC with node 2 from the link address, then
        // the routing header's 14 octets after its NHC octet and length (3 more in all).
        let n0 = compress(&p, ll(1), ll(2), &c, &CompressOptions::default(), &mut out).unwrap();
        assert_eq!(&out[..4], &[0x7e, 0x77, 0xe3, 0x0e]);
        assert_eq!(n0, n + 3);

        // With the RPL option: the RPI-6LoRH follows the SRH-6LoRH behind one page switch.
        let rpi = Rpi6LoRhRepr {
            down: true,
            rank_error: false,
            forwarding_error: false,
            instance_id: 0,
            sender_rank: 0x0100,
        };
        let p = down(Some(rpi));
        let n = compress(&p, ll(1), ll(2), &c, &on(), &mut out).unwrap();
        assert_eq!(
            &out[..10],
            &[0xf1, 0x81, 0x00, 0x02, 0x03, 0x93, 0x05, 0x01, 0x7e, 0x75]
        );
        assert_eq!(
            &out[..n],
            include_bytes!("../../testdata/rfc8138_srh_rpi_udp.lowpan.bin")
        );
        let m = decompress(&out[..n], ll(1), ll(2), &c, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
        let n0 = compress(&p, ll(1), ll(2), &c, &CompressOptions::default(), &mut out).unwrap();
        assert_eq!(n0, n + 8);
    }

    #[test]
    fn each_router_consumes_its_hop() {
        let c = ctx();
        let mut p = down(None);
        let mut out = [0u8; 128];
        let mut back = [0u8; 128];
        // Node 2 receives hops [2, 3]; node 3 receives [3]; node 4 no SRH at all.
        let expect: [&[u8]; 3] = [
            &[0xf1, 0x81, 0x00, 0x02, 0x03],
            &[0xf1, 0x80, 0x00, 0x03],
            &[],
        ];
        for (k, want) in expect.iter().enumerate() {
            let (from, to) = (ll(k as u8 + 1), ll(k as u8 + 2));
            let n = compress(&p, from, to, &c, &on(), &mut out).unwrap();
            if want.is_empty() {
                assert_ne!(out[0], PAGE_1_DISPATCH);
            } else {
                assert_eq!(&out[..want.len()], *want, "hop {k}");
            }
            let m = decompress(&out[..n], from, to, &c, &mut back).unwrap();
            assert_eq!(&back[..m], &p[..]);
            if k < 2 {
                p = forward(&back[..m]);
            }
        }
        // The final destination got the packet with its own address and no routing header.
        assert_eq!(&p[24..40], &node(4).octets());
        assert_eq!(p[6], 17);
    }

    #[test]
    fn types_follow_the_reference_chain() {
        let c = ctx();
        // Hops 2-octet, 1-octet, 8-octet against the hop before (the first against the root).
        let hops = [
            node(1),
            a("2001:db8::212:4b00:0:102"),
            a("2001:db8::212:4b00:0:103"),
            a("2001:db8::1:2:3:4"),
            node(9),
        ];
        let p = build_srh_packet(
            node(1),
            &hops[1..],
            None,
            59,
            &[],
            SrhForm::Canonical,
            255,
            0,
        );
        let mut out = [0u8; 128];
        let n = compress(&p, ll(1), ll(2), &c, &on(), &mut out).unwrap();
        // 2-octet hops, then one 8-octet hop: two headers are shorter than one of Type 3.
        #[rustfmt::skip]
        let want = [
            0xf1,
            0x81, 0x01, 0x01, 0x02, 0x01, 0x03,
            0x80, 0x03, 0, 1, 0, 2, 0, 3, 0, 4,
        ];
        assert_eq!(&out[..want.len()], &want[..]);
        assert_eq!(
            &out[..n],
            include_bytes!("../../testdata/rfc8138_srh_two_types.lowpan.bin")
        );
        let mut back = [0u8; 128];
        let m = decompress(&out[..n], ll(1), ll(2), &c, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
    }

    #[test]
    fn only_exact_forms_go_as_srh_6lorh() {
        let c = ctx();
        let hops = [node(2), node(3), node(4)];
        let mut out = [0u8; 256];
        let mut back = [0u8; 256];
        for form in [SrhForm::Uncompressed, SrhForm::Visited] {
            let p = build_srh_packet(node(1), &hops, None, 17, b"x", form, 64, 0);
            assert!(srh_of(&p).is_none(), "{form:?}");
            let n = compress(&p, ll(1), ll(2), &c, &on(), &mut out).unwrap();
            assert_ne!(out[0], PAGE_1_DISPATCH);
            let m = decompress(&out[..n], ll(1), ll(2), &c, &mut back).unwrap();
            assert_eq!(&back[..m], &p[..]);
        }
        // 33 addresses: one more than SRH-6LoRH takes here.
        let long: Vec<Ipv6Addr> = (2..=35).map(node).collect();
        let p = build_srh_packet(node(1), &long, None, 59, &[], SrhForm::Canonical, 64, 0);
        assert!(srh_of(&p).is_none());
        let p = build_srh_packet(
            node(1),
            &long[1..],
            None,
            59,
            &[],
            SrhForm::Canonical,
            64,
            0,
        );
        assert_eq!(srh_of(&p).map(|s| s.count), Some(32));
        // Where the NHC form is shorter (8 one-octet hops, no padding), it is kept.
        let eight: Vec<Ipv6Addr> = (2..=10).map(node).collect();
        let p = build_srh_packet(node(1), &eight, None, 59, &[], SrhForm::Canonical, 64, 0);
        let n = compress(&p, ll(1), ll(2), &c, &on(), &mut out).unwrap();
        let n0 = compress(
            &p,
            ll(1),
            ll(2),
            &c,
            &CompressOptions::default(),
            &mut out[128..],
        )
        .unwrap();
        assert_eq!(n, n0);
        assert_eq!(out[..n], out[128..128 + n0]);
    }

    #[test]
    fn fragments_count_the_rebuilt_routing_header() {
        let c = ctx();
        let p = down(None);
        let mut out = [0u8; 128];
        let h = crate::compress::compress_header(&p, ll(1), ll(2), &c, &on(), &mut out).unwrap();
        let mut back = [0u8; 128];
        let d = decompress_header(
            &out[..h.header_len],
            ll(1),
            ll(2),
            &c,
            Some(p.len()),
            &mut back,
        )
        .unwrap();
        assert_eq!(d.header_len, h.consumed);
        assert_eq!(&back[..d.header_len], &p[..h.consumed]);
        assert_eq!(
            decompress_header(&out[..h.header_len], ll(1), ll(2), &c, Some(15), &mut back),
            Err(Error::BadLength)
        );
    }

    #[test]
    fn errors() {
        let c = ctx();
        let mut out = [0u8; 256];
        let d = |f: &[u8], out: &mut [u8]| decompress(f, ll(1), ll(2), &c, out);
        // Truncated SRH-6LoRH; nothing after it; an RPI-6LoRH cut short.
        assert_eq!(
            d(&[0xf1, 0x81, 0x00, 0x02], &mut out),
            Err(Error::Truncated { needed: 4, got: 3 })
        );
        assert_eq!(
            d(&[0xf1, 0x80, 0x00, 0x02], &mut out),
            Err(Error::Truncated { needed: 6, got: 4 })
        );
        assert_eq!(
            d(&[0xf1, 0x80, 0x00, 0x02, 0x93, 0x05], &mut out),
            Err(Error::Truncated { needed: 3, got: 2 })
        );
        // Not IPHC after the 6LoRH; IPHC with an inline Hop-by-Hop next header.
        assert_eq!(
            d(&[0xf1, 0x80, 0x00, 0x02, 0x41, 0x00], &mut out),
            Err(Error::UnknownDispatch(0x41))
        );
        assert!(matches!(
            d(
                &[
                    0xf1, 0x80, 0x00, 0x02, 0x7a, 0x75, 0x00, 2, 0x12, 0x4b, 0, 0, 0, 0, 4
                ],
                &mut out
            ),
            Err(Error::Reserved(_))
        ));
        // More than 32 hops over two headers.
        let mut f = vec![0xf1, 0x9f, 0x00];
        f.extend_from_slice(&[5; 32]);
        f.extend_from_slice(&[0x80, 0x00, 6, 0x7a, 0x75]);
        assert_eq!(d(&f, &mut out), Err(Error::TooDeep));
        // Room for the decompressed headers but not the routing header.
        let p = down(None);
        let mut z = [0u8; 64];
        let n = compress(&p, ll(1), ll(2), &c, &on(), &mut z).unwrap();
        assert_eq!(
            d(&z[..n], &mut out[..50]),
            Err(Error::BufferTooSmall { required: 64 })
        );
        // Output too small for the compressed headers.
        assert!(matches!(
            compress(&p, ll(1), ll(2), &c, &on(), &mut out[..10]),
            Err(Error::BufferTooSmall { .. })
        ));
    }

    proptest! {
        #[test]
        fn srh_packets_round_trip_and_never_grow(
            p in test_gens::srh_packet(),
            src in prop_oneof![Just(ll(1)), test_gens::link_addr()],
            dst in prop_oneof![Just(ll(2)), test_gens::link_addr()],
            elide in any::<bool>(),
            max_nhc in prop_oneof![Just(crate::compress::MAX_NHC), 0usize..=3],
        ) {
            let c = ctx();
            let opts = CompressOptions { elide_udp_checksum: elide, max_nhc, rfc8138: true };
            let off = CompressOptions { rfc8138: false, ..opts };
            let mut out = vec![0u8; p.len() + 64];
            let n = compress(&p, src, dst, &c, &opts, &mut out).unwrap();
            let mut back = vec![0u8; p.len() + 64];
            let m = decompress(&out[..n], src, dst, &c, &mut back).unwrap();
            prop_assert_eq!(&back[..m], &p[..]);
            let mut out0 = vec![0u8; p.len() + 64];
            let n0 = compress(&p, src, dst, &c, &off, &mut out0).unwrap();
            prop_assert!(n <= n0, "{} > {}", n, n0);
            if srh_of(&p).is_some() && starts_with_srh(&out[..n]) {
                prop_assert!(n < n0);
            }
            // An exactly sized buffer gives the same bytes.
            let mut exact = vec![0xa5u8; n];
            prop_assert_eq!(compress(&p, src, dst, &c, &opts, &mut exact), Ok(n));
            prop_assert_eq!(&exact[..], &out[..n]);
        }

        #[test]
        fn srh_6lorh_frames_never_panic_and_are_fixed_points(
            parts in proptest::collection::vec(test_gens::srh_6lorh_parts(), 1..3),
            rpi in proptest::option::of(test_gens::rpi_6lorh_repr()),
            head in prop_oneof![Just(0x7eu8), Just(0x7a), Just(0x78), 0x60u8..0x80],
            rest in proptest::collection::vec(any::<u8>(), 0..60),
            src in test_gens::link_addr(),
            dst in test_gens::link_addr(),
            rfc8138 in any::<bool>(),
        ) {
            let mut f = test_gens::lorh_prefix(&parts, rpi);
            f.push(head);
            f.extend_from_slice(&rest);
            test_gens::decompress_is_fixed_point(&f, src, dst, &ctx(), rfc8138)?;
        }
    }
}
