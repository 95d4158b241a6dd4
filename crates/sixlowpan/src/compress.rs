//! Whole-packet header compression (RFC 6282) and its exact inverse.
//!
//! [`compress_header`] turns the headers at the front of an IPv6 packet into LOWPAN_IPHC plus a
//! chain of LOWPAN_NHC headers (tunnelled IPv6, extension headers, UDP) and reports how many
//! bytes of the packet they stand for; the rest of the packet follows unchanged.
//! [`decompress_header`] rebuilds those headers. Together they satisfy: for every packet `p`,
//! decompressing the compressed form of `p` gives back `p` bit for bit. A packet that IPHC
//! cannot represent exactly (a payload length that disagrees with the packet, a version other
//! than 6) is sent with the uncompressed dispatch 0x41 (RFC 4944 §5.1) instead.
//!
//! Lengths are never carried (RFC 6282 §3.1.1 payload length, §4.3.3 UDP length): they come from
//! the frame or, for a first fragment, from the datagram size (RFC 4944 §5.3).

use crate::context::ContextTable;
use crate::error::{Error, Result, need, room};
use crate::wire::ext::{ExtHeader, OPT_PAD1, OPT_PADN, OptionsIter, is_ext_header};
use crate::wire::iphc::{HeaderFields, IphcRepr, SCRATCH_LEN, link_iid, split_addrs};
use crate::wire::ipv6::{self, Ipv6Repr};
use crate::wire::lorh::{
    CRITICAL_CLASS, ELECTIVE_CLASS, IpInIp6LoRh, IpInIp6LoRhRepr, PAGE_1_DISPATCH, RPI_MAX_LEN,
    Rpi6LoRh, Rpi6LoRhRepr, TYPE_IP_IN_IP, TYPE_RPI,
};
use crate::wire::lowpan::DISPATCH_IPV6;
use crate::wire::nhc::{
    EXT_DISPATCH, ExtHeaderId, ExtNhcPacket, ExtNhcRepr, NhcKind, UDP_DISPATCH, UdpNhcPacket,
    UdpNhcRepr,
};
use crate::wire::{IpProtocol, udp};
use amimesh_core::LinkAddr;
use core::net::Ipv6Addr;

pub mod ipinip;
pub mod srh;

/// Most NHC headers (extension headers, tunnelled IPv6 headers, UDP) in one chain.
pub const MAX_NHC: usize = 8;
/// Most IPv6 headers (outer plus tunnelled) in one chain.
pub const MAX_DEPTH: usize = 4;

/// Choices the compressor may not make on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CompressOptions {
    /// Elide the UDP checksum (RFC 6282 §4.3.2: only when the upper layer has another
    /// integrity check and allows it). Only done when the packet's checksum is correct, so the
    /// decompressor recomputes the same value.
    pub elide_udp_checksum: bool,
    /// At most this many NHC headers; later headers stay inline. The fragmenter lowers it
    /// when the compressed headers would not fit the first fragment.
    pub max_nhc: usize,
    /// Send a Hop-by-Hop header that holds only the RPL option (RFC 6553 §3, of the type
    /// [`ContextTable::rpi_option_type`]) as an RPI-6LoRH on page 1 (RFC 8138 §6.3,
    /// RFC 8025 §3) instead of LOWPAN_NHC EID 0, and an RPL Source Routing Header
    /// (RFC 6554 §3) as SRH-6LoRH (RFC 8138 §5.1) when that is shorter (see [`srh`]). Only
    /// when every receiver decompresses RFC 8138 (RFC 9035 §4: the root's "T" flag says so).
    pub rfc8138: bool,
}

impl Default for CompressOptions {
    fn default() -> Self {
        CompressOptions {
            elide_udp_checksum: false,
            max_nhc: MAX_NHC,
            rfc8138: false,
        }
    }
}

/// Result of [`compress_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compressed {
    /// Bytes written (dispatch, IPHC and NHC headers).
    pub header_len: usize,
    /// Bytes at the front of the packet they stand for; `packet[consumed..]` follows verbatim.
    pub consumed: usize,
}

/// A UDP checksum that was elided and must be computed once the whole datagram is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChecksumFixup {
    /// Offset of the UDP header in the decompressed packet.
    pub udp_offset: usize,
    /// Pseudo-header source (the enclosing IPv6 header's).
    pub src: Ipv6Addr,
    /// Pseudo-header destination.
    pub dst: Ipv6Addr,
}

impl ChecksumFixup {
    /// Writes the checksum into `packet` (the complete decompressed datagram).
    pub fn apply(&self, packet: &mut [u8]) -> Result<()> {
        let dgram = packet.get_mut(self.udp_offset..).ok_or(Error::BadLength)?;
        need(dgram, udp::HEADER_LEN)?;
        let c = udp::compute(&self.src, &self.dst, dgram);
        if let Some(f) = dgram.get_mut(6..8) {
            f.copy_from_slice(&c.to_be_bytes());
        }
        Ok(())
    }
}

/// Result of [`decompress_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decompressed {
    /// Compressed bytes read (from the dispatch on).
    pub consumed: usize,
    /// Uncompressed header bytes written.
    pub header_len: usize,
    /// The UDP checksum to fill in once the datagram is complete, if it was elided.
    pub checksum: Option<ChecksumFixup>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Ipv6 {
        off: usize,
    },
    Ext {
        off: usize,
        id: ExtHeaderId,
        total: usize,
        data_len: usize,
    },
    Udp {
        off: usize,
        elide: bool,
    },
}

impl Step {
    fn end(&self) -> usize {
        match *self {
            Step::Ipv6 { off } => off + ipv6::HEADER_LEN,
            Step::Ext { off, total, .. } => off + total,
            Step::Udp { off, .. } => off + udp::HEADER_LEN,
        }
    }
}

/// The padding a decompressor appends to `data_len` bytes of options-header data.
fn pad_bytes(data_len: usize, out: &mut [u8; 8]) -> usize {
    let p = (8 - (data_len + 2) % 8) % 8;
    *out = [0; 8];
    if p >= 2 {
        out[0] = OPT_PADN;
        out[1] = (p - 2) as u8;
    }
    p
}

/// How many data bytes of an extension header the compressor carries: a trailing Pad1/PadN is
/// dropped when the decompressor's own padding rebuilds exactly the same bytes (RFC 6282 §4.2).
fn ext_data_len(kind: IpProtocol, data: &[u8]) -> usize {
    if !matches!(kind, IpProtocol::HopByHop | IpProtocol::Ipv6Opts) {
        return data.len();
    }
    let mut last_start = None;
    let mut pos = 0;
    let mut last_kind = 0;
    for o in OptionsIter::new(data) {
        let Ok(o) = o else {
            return data.len();
        };
        last_start = Some(pos);
        last_kind = o.kind;
        pos += o.buffer_len();
    }
    let Some(start) = last_start else {
        return data.len();
    };
    if last_kind != OPT_PAD1 && last_kind != OPT_PADN {
        return data.len();
    }
    let mut pad = [0u8; 8];
    let p = pad_bytes(start, &mut pad);
    match (data.get(start..), pad.get(..p)) {
        (Some(tail), Some(want)) if tail == want => start,
        _ => data.len(),
    }
}

fn iid_of(a: &Ipv6Addr) -> Option<u64> {
    Some(u128::from(*a) as u64)
}

/// Protocol numbers the compressor dispatches on before converting to [`IpProtocol`]
/// (IANA "Assigned Internet Protocol Numbers"; RFC 6282 §4.2 lists the NHC-able ones).
const UDP: u8 = 17;
const IPV6_IN_IPV6: u8 = 41;
const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DEST_OPTS: u8 = 60;
const MOBILITY: u8 = 135;

/// The plan step for a UDP header at `packet[pos..]`, if NHC can carry it exactly: the length
/// field must match the rest of the packet (RFC 6282 §4.3.3 elides it), and the checksum is
/// elided only when allowed, non-zero, correct, and not behind a Routing header.
fn udp_step(
    packet: &[u8],
    pos: usize,
    src: u128,
    dst: u128,
    saw_routing: bool,
    opts: &CompressOptions,
) -> Option<Step> {
    let rest = sub(packet, pos);
    let u = udp::Packet::new_checked(rest).ok()?;
    if usize::from(u.len()) != rest.len() {
        return None;
    }
    let elide = opts.elide_udp_checksum
        && !saw_routing
        && u.checksum() != 0
        && udp::compute(&Ipv6Addr::from(src), &Ipv6Addr::from(dst), rest) == u.checksum();
    Some(Step::Udp { off: pos, elide })
}

/// The NHC encoding of a UDP header right behind the outer IPv6 header, if NHC can carry it
/// exactly (the same conditions as [`udp_step`], with the header read once).
#[inline(always)]
fn outer_udp(packet: &[u8], src: u128, dst: u128, opts: &CompressOptions) -> Option<(u64, usize)> {
    let rest = sub(packet, ipv6::HEADER_LEN);
    let &[s0, s1, d0, d1, l0, l1, c0, c1] = rest.first_chunk::<{ udp::HEADER_LEN }>()?;
    if usize::from(u16::from_be_bytes([l0, l1])) != rest.len() {
        return None;
    }
    let checksum = u16::from_be_bytes([c0, c1]);
    let elide = opts.elide_udp_checksum
        && checksum != 0
        && udp::compute(&Ipv6Addr::from(src), &Ipv6Addr::from(dst), rest) == checksum;
    let r = UdpNhcRepr {
        src_port: u16::from_be_bytes([s0, s1]),
        dst_port: u16::from_be_bytes([d0, d1]),
        checksum: if elide { None } else { Some(checksum) },
    };
    Some(r.encode())
}

/// The NHC form of the UDP header at `packet[off..]` (checked by the planner).
fn udp_nhc(packet: &[u8], off: usize, elide: bool) -> UdpNhcRepr {
    let u = udp::Packet::new_unchecked(sub(packet, off));
    UdpNhcRepr {
        src_port: u.src_port(),
        dst_port: u.dst_port(),
        checksum: if elide { None } else { Some(u.checksum()) },
    }
}

fn sub(buf: &[u8], from: usize) -> &[u8] {
    buf.get(from..).unwrap_or(&[])
}

fn sub_mut(buf: &mut [u8], from: usize) -> &mut [u8] {
    buf.get_mut(from..).unwrap_or(&mut [])
}

/// Compresses the headers of `packet` (a whole IPv6 datagram) into `out`; the caller sends
/// `out[..header_len]` followed by `packet[consumed..]`. Bytes of `out` past `header_len` may
/// be overwritten.
///
/// `ll_src`/`ll_dst` are the link-layer (or mesh originator/final) addresses the receiver will
/// see (RFC 6282 §3.2.2).
///
/// With [`CompressOptions::rfc8138`], a Hop-by-Hop header holding only the RPL option goes
/// as an RPI-6LoRH (RFC 8138 §6.3) and an RPL Source Routing Header as SRH-6LoRH
/// (RFC 8138 §5.1) when that is shorter (see [`srh`]).
#[inline]
pub fn compress_header(
    packet: &[u8],
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
    ctx: &ContextTable,
    opts: &CompressOptions,
    out: &mut [u8],
) -> Result<Compressed> {
    if !opts.rfc8138 {
        return compress_header_iphc(packet, ll_src, ll_dst, ctx, opts, out);
    }
    let link = Link {
        src: ll_src,
        dst: ll_dst,
        ctx,
        opts,
    };
    if let Some(s) = srh::srh_of(packet) {
        return srh::compress_best(&link, packet, &s, out);
    }
    compress_6lorh(&link, packet, 0, out)
}

/// What compression takes besides the packet and the output: the link-layer addresses the
/// receiver sees, the contexts and the options.
struct Link<'a> {
    src: LinkAddr,
    dst: LinkAddr,
    ctx: &'a ContextTable,
    opts: &'a CompressOptions,
}

impl Link<'_> {
    /// [`compress_header_iphc`] for this link.
    fn iphc(&self, packet: &[u8], out: &mut [u8]) -> Result<Compressed> {
        compress_header_iphc(packet, self.src, self.dst, self.ctx, self.opts, out)
    }
}

/// [`compress_header`] without the SRH-6LoRH search: the page-1 form (RFC 8025 §3) behind
/// `lorh` octets of SRH-6LoRH headers the caller wrote at `out[1..]` (none when 0), then an
/// RPI-6LoRH (RFC 8138 §6.3) when `opts.rfc8138` is set and the packet's Hop-by-Hop header
/// holds only the RPI, then LOWPAN_IPHC. The page switch goes in front when any 6LoRH does;
/// without one the header is plain LOWPAN_IPHC at `out[0]`. An IPv6-in-IPv6 packet whose
/// outer header an IP-in-IP 6LoRH stands for goes as RPI-6LoRH (the outer one), IP-in-IP
/// 6LoRH (RFC 8138 §7) and the inner packet's LOWPAN_IPHC (see [`ipinip`]); its SRH-6LoRH
/// then list the whole route, the outer destination last.
fn compress_6lorh(link: &Link, packet: &[u8], lorh: usize, out: &mut [u8]) -> Result<Compressed> {
    if link.opts.rfc8138 {
        if let Some(t) = ipinip::tunnel_of(packet, link.ctx, lorh > 0) {
            return ipinip::compress(link, packet, &t, lorh, out);
        }
    }
    // The IPHC goes after the SRH-6LoRH headers; an RPI-6LoRH goes before the IPHC and after
    // them, or after the page switch when there are none.
    let (at, lead) = if lorh == 0 { (0, 1) } else { (1 + lorh, 0) };
    let rpi = if link.opts.rfc8138 {
        rpi_of(packet, link.ctx)
    } else {
        None
    };
    if rpi.is_none() && lorh == 0 {
        return link.iphc(packet, out);
    }
    let inner = sub_mut(out, at);
    let (c, header_len) = match (rpi, link.iphc(packet, inner)) {
        (None, Ok(c)) => (c, None),
        (Some(rpi), Ok(c)) => (c, rpi_to_6lorh(link, packet, rpi, inner, c, lead)),
        // The NHC form is longer than the RPI-6LoRH form: build it aside.
        (Some(rpi), Err(Error::BufferTooSmall { .. })) => {
            compress_6lorh_aside(link, packet, rpi, lead, inner)?
        }
        (_, Err(e)) => return Err(e),
    };
    let header_len = match header_len {
        Some(l) => at + l,
        None if lorh > 0 => at + c.header_len,
        None => return Ok(c),
    };
    if let Some(b) = out.first_mut() {
        *b = PAGE_1_DISPATCH;
    }
    Ok(Compressed { header_len, ..c })
}

/// Compressed headers longer than this are not built aside for a small output buffer
/// (then [`compress_header`] asks for their NHC size).
const ASIDE_LEN: usize = 512;

/// [`compress_6lorh`] with an RPI when `out` is too small for the NHC form: the header and
/// the length [`rpi_to_6lorh`] gives it.
#[inline(never)]
fn compress_6lorh_aside(
    link: &Link,
    packet: &[u8],
    rpi: Rpi6LoRhRepr,
    lead: usize,
    out: &mut [u8],
) -> Result<(Compressed, Option<usize>)> {
    let mut aside = [0u8; ASIDE_LEN];
    let c = link.iphc(packet, &mut aside)?;
    let l = rpi_to_6lorh(link, packet, rpi, &mut aside, c, lead);
    let header_len = l.unwrap_or(c.header_len);
    room(out, header_len)?;
    // The page switch in front of an RPI-6LoRH is the caller's.
    let from = if l.is_some() { lead } else { 0 };
    if let (Some(d), Some(s)) = (out.get_mut(from..header_len), aside.get(from..header_len)) {
        d.copy_from_slice(s);
    }
    Ok((c, l))
}

/// [`compress_header`] without RFC 8138.
fn compress_header_iphc(
    packet: &[u8],
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
    ctx: &ContextTable,
    opts: &CompressOptions,
    out: &mut [u8],
) -> Result<Compressed> {
    let header = packet
        .get(..ipv6::HEADER_LEN)
        .and_then(|h| <&[u8; ipv6::HEADER_LEN]>::try_from(h).ok());
    let outer = match header {
        // Version 6, and a payload length that matches the packet (RFC 8200 §3).
        Some(h @ &[v, _, _, _, l0, l1, ..])
            if v >> 4 == 6
                && usize::from(u16::from_be_bytes([l0, l1])) + ipv6::HEADER_LEN == packet.len() =>
        {
            h
        }
        _ => {
            room(out, 1)?;
            if let Some(b) = out.get_mut(0) {
                *b = DISPATCH_IPV6;
            }
            return Ok(Compressed {
                header_len: 1,
                consumed: 0,
            });
        }
    };

    let [_, _, _, _, _, _, outer_next, ..] = *outer;
    let (outer_src, outer_dst) = split_addrs(outer);
    let limit = opts.max_nhc.min(MAX_NHC);

    // The common chains, without the planner: no NHC header, or a single UDP header.
    let fast = match outer_next {
        _ if limit == 0 => Some(None),
        UDP => Some(outer_udp(packet, outer_src, outer_dst, opts)),
        IPV6_IN_IPV6 | HOP_BY_HOP | ROUTING | FRAGMENT | DEST_OPTS | MOBILITY => None,
        _ => Some(None),
    };
    if let Some(udp) = fast {
        let fields = HeaderFields::from_ipv6(outer, udp.is_some());
        let (src_iid, dst_iid) = (link_iid(ll_src), link_iid(ll_dst));
        let consumed = ipv6::HEADER_LEN + if udp.is_some() { udp::HEADER_LEN } else { 0 };
        let write = |s: &mut [u8; SCRATCH_LEN]| {
            let mut w = fields.encode(s, src_iid, dst_iid, ctx);
            if let Some((v, n)) = udp {
                if let Some(d) = s.get_mut(w..w + 8) {
                    d.copy_from_slice(&v.to_be_bytes());
                }
                w += n;
            }
            w
        };
        // A buffer with room for the encoder's wide stores is written in place; a smaller one
        // gets the bytes through a scratch copy.
        let header_len = match out
            .get_mut(..SCRATCH_LEN)
            .and_then(|o| <&mut [u8; SCRATCH_LEN]>::try_from(o).ok())
        {
            Some(o) => write(o),
            None => {
                let mut scratch = [0u8; SCRATCH_LEN];
                let w = write(&mut scratch);
                room(out, w)?;
                if let (Some(d), Some(s)) = (out.get_mut(..w), scratch.get(..w)) {
                    d.copy_from_slice(s);
                }
                w
            }
        };
        return Ok(Compressed {
            header_len,
            consumed,
        });
    }

    compress_chain(packet, outer, ll_src, ll_dst, ctx, opts, out)
}

/// [`compress_header`] for chains with extension headers or tunnelled IPv6 (`outer` is the
/// checked outer header).
#[inline(never)]
fn compress_chain(
    packet: &[u8],
    outer: &[u8; ipv6::HEADER_LEN],
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
    ctx: &ContextTable,
    opts: &CompressOptions,
    out: &mut [u8],
) -> Result<Compressed> {
    let [_, _, _, _, _, _, outer_next, ..] = *outer;
    let (outer_src, outer_dst) = split_addrs(outer);
    let limit = opts.max_nhc.min(MAX_NHC);
    // Plan: the longest chain of headers NHC can represent exactly.
    let mut plan = [Step::Ipv6 { off: 0 }; MAX_NHC];
    let mut n = 0;
    let mut pos = ipv6::HEADER_LEN;
    let mut proto = IpProtocol::from(outer_next);
    let (mut src, mut dst) = (outer_src, outer_dst);
    let mut depth = 1;
    let mut saw_routing = false;
    while n < limit {
        let rest = sub(packet, pos);
        let step = match proto {
            IpProtocol::Udp => {
                let Some(step) = udp_step(packet, pos, src, dst, saw_routing, opts) else {
                    break;
                };
                step
            }
            IpProtocol::Ipv6 => {
                let Ok(r) = ipv6::Packet::new_checked(rest).and_then(|p| Ipv6Repr::parse(&p))
                else {
                    break;
                };
                if depth >= MAX_DEPTH || usize::from(r.payload_len) + ipv6::HEADER_LEN != rest.len()
                {
                    break;
                }
                depth += 1;
                src = u128::from(r.src_addr);
                dst = u128::from(r.dst_addr);
                saw_routing = false;
                Step::Ipv6 { off: pos }
            }
            p if is_ext_header(p) => {
                let Ok(h) = ExtHeader::new_checked(rest, p) else {
                    break;
                };
                if p == IpProtocol::Ipv6Frag && h.hdr_ext_len() != 0 {
                    break;
                }
                let data_len = ext_data_len(p, h.data());
                if data_len > 255 {
                    break;
                }
                let Some(id) = ExtHeaderId::from_protocol(p) else {
                    break;
                };
                if p == IpProtocol::Ipv6Route {
                    saw_routing = true;
                }
                Step::Ext {
                    off: pos,
                    id,
                    total: h.header_len(),
                    data_len,
                }
            }
            _ => break,
        };
        if let Some(slot) = plan.get_mut(n) {
            *slot = step;
        }
        n += 1;
        pos = step.end();
        proto = match step {
            Step::Udp { .. } => break,
            Step::Ipv6 { off } => ipv6::Packet::new_unchecked(sub(packet, off)).next_header(),
            Step::Ext { off, id, .. } => {
                ExtHeader::new_unchecked(sub(packet, off), id.protocol()).next_header()
            }
        };
    }
    let plan = plan.get(..n).unwrap_or(&[]);

    // Emit. The outer IPHC header, and a UDP header right behind it (the common chain), are
    // built in a scratch buffer and copied out once.
    let mut scratch = [0u8; SCRATCH_LEN];
    let fields = HeaderFields::from_ipv6(outer, !plan.is_empty());
    let mut w = fields.encode(&mut scratch, link_iid(ll_src), link_iid(ll_dst), ctx);
    let mut rest_of_plan = plan;
    if let [Step::Udp { off, elide }] = *plan {
        let (v, n) = udp_nhc(packet, off, elide).encode();
        if let Some(d) = scratch.get_mut(w..w + 8) {
            d.copy_from_slice(&v.to_be_bytes());
        }
        w += n;
        rest_of_plan = &[];
    }
    room(out, w)?;
    if let (Some(d), Some(s)) = (out.get_mut(..w), scratch.get(..w)) {
        d.copy_from_slice(s);
    }
    let (mut src, mut dst) = (outer_src, outer_dst);
    for (i, step) in rest_of_plan.iter().enumerate() {
        let more = i + 1 < rest_of_plan.len();
        match *step {
            Step::Ipv6 { off } => {
                let p = ipv6::Packet::new_unchecked(sub(packet, off));
                let r = Ipv6Repr::parse(&p)?;
                room(sub(out, w), 1)?;
                if let Some(b) = out.get_mut(w) {
                    *b = 0xee; // 1110 EID=7 NH=0
                }
                w += 1;
                let inner = IphcRepr {
                    src_addr: r.src_addr,
                    dst_addr: r.dst_addr,
                    next_header: if more { None } else { Some(r.next_header) },
                    hop_limit: r.hop_limit,
                    traffic_class: r.traffic_class,
                    flow_label: r.flow_label,
                };
                w += inner.emit_iid(sub_mut(out, w), Some(src as u64), Some(dst as u64), ctx)?;
                src = u128::from(r.src_addr);
                dst = u128::from(r.dst_addr);
            }
            Step::Ext {
                off, id, data_len, ..
            } => {
                let h = ExtHeader::new_unchecked(sub(packet, off), id.protocol());
                let data = h.data().get(..data_len).unwrap_or(&[]);
                let r = ExtNhcRepr {
                    header_id: id,
                    next_header: if more { None } else { Some(h.next_header()) },
                    data,
                };
                w += r.emit(sub_mut(out, w))?;
            }
            Step::Udp { off, elide } => {
                w += udp_nhc(packet, off, elide).emit(sub_mut(out, w))?;
            }
        }
    }
    Ok(Compressed {
        header_len: w,
        consumed: plan.last().map_or(ipv6::HEADER_LEN, Step::end),
    })
}

/// Compresses a whole packet into `out` (headers, then the rest verbatim); returns the length.
pub fn compress(
    packet: &[u8],
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
    ctx: &ContextTable,
    opts: &CompressOptions,
    out: &mut [u8],
) -> Result<usize> {
    let c = compress_header(packet, ll_src, ll_dst, ctx, opts, out)?;
    let rest = sub(packet, c.consumed);
    let total = c.header_len + rest.len();
    room(out, total)?;
    if let Some(d) = out.get_mut(c.header_len..total) {
        d.copy_from_slice(rest);
    }
    Ok(total)
}

fn peek_nhc(frame: &[u8], at: usize) -> Result<IpProtocol> {
    let b = frame.get(at).ok_or(Error::Truncated {
        needed: at + 1,
        got: frame.len(),
    })?;
    Ok(NhcKind::from_byte(*b)?.protocol())
}

/// Rebuilds the headers of a 6LoWPAN payload that starts with the IPHC (or 0x41) dispatch.
///
/// `datagram_size` is the uncompressed size from a FRAG1 header; `None` means the frame
/// holds the whole datagram. The caller appends `frame[consumed..]` after `out[..header_len]`
/// and, once the datagram is complete, applies [`Decompressed::checksum`].
///
/// A payload that starts with the page-1 switch (RFC 8025 §3) holds SRH-6LoRH headers
/// (RFC 8138 §5.1), an RPI-6LoRH (RFC 8138 §6.3), or both in that order, and then
/// LOWPAN_IPHC. The RPI becomes a Hop-by-Hop header right after the IPv6 header, holding
/// the RPL option of type [`ContextTable::rpi_option_type`]; the SRH-6LoRH hops become an
/// RPL Source Routing Header after it (see [`srh`]). An IP-in-IP 6LoRH (RFC 8138 §7) after
/// them becomes an outer IPv6 header in front of the packet the LOWPAN_IPHC stands for, and
/// the RPI and routing header go into that outer header (see [`ipinip`]); an Encapsulator
/// Address elided against an unknown [`ContextTable::root`] is [`Error::NoLinkAddress`].
/// Any other 6LoRH is [`Error::Reserved`].
pub fn decompress_header(
    frame: &[u8],
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
    ctx: &ContextTable,
    datagram_size: Option<usize>,
    out: &mut [u8],
) -> Result<Decompressed> {
    need(frame, 1)?;
    if frame.first() == Some(&PAGE_1_DISPATCH) {
        return decompress_6lorh(frame, ll_src, ll_dst, ctx, datagram_size, out);
    }
    decompress_header_iphc(frame, ll_src, ll_dst, ctx, datagram_size, out)
}

/// [`decompress_header`] after the page-1 check.
fn decompress_header_iphc(
    frame: &[u8],
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
    ctx: &ContextTable,
    datagram_size: Option<usize>,
    out: &mut [u8],
) -> Result<Decompressed> {
    need(frame, 1)?;
    if frame.first() == Some(&DISPATCH_IPV6) {
        return Ok(Decompressed {
            consumed: 1,
            header_len: 0,
            checksum: None,
        });
    }
    if let Some(d) = decompress_common(frame, ll_src, ll_dst, ctx, datagram_size, out) {
        return Ok(d);
    }
    decompress_chain(frame, ll_src, ll_dst, ctx, datagram_size, out)
}

/// [`decompress_header`] for any chain of IPHC and NHC headers (after the 0x41 check).
fn decompress_chain(
    frame: &[u8],
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
    ctx: &ContextTable,
    datagram_size: Option<usize>,
    out: &mut [u8],
) -> Result<Decompressed> {
    let mut r = 0usize;
    let mut w = 0usize;
    let mut ip_offsets = [0usize; MAX_DEPTH];
    let mut depth = 0usize;
    let mut udp_offset = None;
    let mut fixup = None;
    let mut nhc_count = 0usize;
    let mut iids = (link_iid(ll_src), link_iid(ll_dst));
    'headers: loop {
        let (repr, n) = IphcRepr::parse_bytes(sub(frame, r), iids.0, iids.1, ctx)?;
        r += n;
        let next = match repr.next_header {
            Some(nh) => nh,
            None => peek_nhc(frame, r)?,
        };
        if depth >= MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        if let Some(slot) = ip_offsets.get_mut(depth) {
            *slot = w;
        }
        depth += 1;
        let ip = Ipv6Repr {
            src_addr: repr.src_addr,
            dst_addr: repr.dst_addr,
            next_header: next,
            payload_len: 0,
            hop_limit: repr.hop_limit,
            traffic_class: repr.traffic_class,
            flow_label: repr.flow_label,
        };
        ip.emit(sub_mut(out, w))
            .map_err(|_| Error::BufferTooSmall {
                required: w + ipv6::HEADER_LEN,
            })?;
        w += ipv6::HEADER_LEN;
        let (src, dst) = (repr.src_addr, repr.dst_addr);
        iids = (iid_of(&src), iid_of(&dst));
        if repr.next_header.is_some() {
            break;
        }
        loop {
            nhc_count += 1;
            if nhc_count > MAX_NHC {
                return Err(Error::TooDeep);
            }
            let kind = NhcKind::from_byte(*frame.get(r).unwrap_or(&0))?;
            match kind {
                NhcKind::Udp => {
                    let p = UdpNhcPacket::new_checked(sub(frame, r))?;
                    let u = UdpNhcRepr::parse(&p)?;
                    r += p.header_len();
                    let o = sub_mut(out, w);
                    room(o, udp::HEADER_LEN)
                        .map_err(|_| Error::BufferTooSmall { required: w + 8 })?;
                    let mut v = udp::Packet::new_unchecked(o);
                    v.set_src_port(u.src_port);
                    v.set_dst_port(u.dst_port);
                    v.set_len(0);
                    v.set_checksum(u.checksum.unwrap_or(0));
                    udp_offset = Some(w);
                    if u.checksum.is_none() {
                        fixup = Some(ChecksumFixup {
                            udp_offset: w,
                            src,
                            dst,
                        });
                    }
                    w += udp::HEADER_LEN;
                    break 'headers;
                }
                NhcKind::Ext(ExtHeaderId::Ipv6) => {
                    r += 1;
                    continue 'headers;
                }
                NhcKind::Ext(id) => {
                    let p = ExtNhcPacket::new_checked(sub(frame, r))?;
                    let e = ExtNhcRepr::parse(&p)?;
                    r += p.header_len();
                    let next = match e.next_header {
                        Some(nh) => nh,
                        None => peek_nhc(frame, r)?,
                    };
                    let total = (e.data.len() + 2).div_ceil(8) * 8;
                    let o = sub_mut(out, w);
                    room(o, total).map_err(|_| Error::BufferTooSmall {
                        required: w + total,
                    })?;
                    let hdr_len = if id == ExtHeaderId::Fragment {
                        0
                    } else {
                        (total / 8 - 1) as u8
                    };
                    let mut pad = [0u8; 8];
                    let padn = pad_bytes(e.data.len(), &mut pad);
                    let options =
                        matches!(id, ExtHeaderId::HopByHop | ExtHeaderId::DestinationOptions);
                    if !options {
                        pad = [0; 8];
                    }
                    let mut pos = 0;
                    for chunk in [
                        &[u8::from(next), hdr_len][..],
                        e.data,
                        pad.get(..padn).unwrap_or(&[]),
                    ] {
                        if let Some(d) = o.get_mut(pos..pos + chunk.len()) {
                            d.copy_from_slice(chunk);
                        }
                        pos += chunk.len();
                    }
                    w += total;
                    if e.next_header.is_some() {
                        break 'headers;
                    }
                }
            }
        }
    }
    let total = match datagram_size {
        Some(s) => s,
        None => w + frame.len().saturating_sub(r),
    };
    if total < w {
        return Err(Error::BadLength);
    }
    for &o in ip_offsets.get(..depth).unwrap_or(&[]) {
        let len = total - o - ipv6::HEADER_LEN;
        let len = u16::try_from(len).map_err(|_| Error::BadLength)?;
        ipv6::Packet::new_unchecked(sub_mut(out, o)).set_payload_len(len);
    }
    if let Some(o) = udp_offset {
        let len = u16::try_from(total - o).map_err(|_| Error::BadLength)?;
        udp::Packet::new_unchecked(sub_mut(out, o)).set_len(len);
    }
    Ok(Decompressed {
        consumed: r,
        header_len: w,
        checksum: fixup,
    })
}

/// [`decompress_header`] for the common chains: one IPHC header with an inline next header,
/// or followed by NHC UDP. Writes the IPv6 (and UDP) header in one pass. `None` leaves the
/// frame to the general path (other chains, and every error, which that path reports).
#[inline(always)]
fn decompress_common(
    frame: &[u8],
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
    ctx: &ContextTable,
    datagram_size: Option<usize>,
    out: &mut [u8],
) -> Option<Decompressed> {
    let (repr, n) = IphcRepr::parse_bytes(frame, link_iid(ll_src), link_iid(ll_dst), ctx).ok()?;
    // The UDP header's fields (ports, checksum as sent) and the NHC length (RFC 6282 §4.3.3).
    let udp = match repr.next_header {
        Some(_) => None,
        None => {
            let b = frame.get(n..)?;
            let &h = b.first()?;
            if h & 0xf8 != UDP_DISPATCH {
                return None;
            }
            let at = |i: usize| b.get(i).copied();
            let (sport, dport, ports) = match h & 3 {
                0 => (
                    u16::from_be_bytes([at(1)?, at(2)?]),
                    u16::from_be_bytes([at(3)?, at(4)?]),
                    4,
                ),
                1 => (
                    u16::from_be_bytes([at(1)?, at(2)?]),
                    0xf000 | u16::from(at(3)?),
                    3,
                ),
                2 => (
                    0xf000 | u16::from(at(1)?),
                    u16::from_be_bytes([at(2)?, at(3)?]),
                    3,
                ),
                _ => {
                    let p = at(1)?;
                    (0xf0b0 | u16::from(p >> 4), 0xf0b0 | u16::from(p & 0x0f), 1)
                }
            };
            let checksum = if h & 0x04 != 0 {
                None
            } else {
                Some(u16::from_be_bytes([at(1 + ports)?, at(2 + ports)?]))
            };
            Some((
                sport,
                dport,
                checksum,
                1 + ports + 2 * usize::from(checksum.is_some()),
            ))
        }
    };
    let (header_len, consumed) = match udp {
        Some((.., k)) => (ipv6::HEADER_LEN + udp::HEADER_LEN, n + k),
        None => (ipv6::HEADER_LEN, n),
    };
    let total = match datagram_size {
        Some(s) => s,
        None => header_len + frame.len().saturating_sub(consumed),
    };
    if total < header_len {
        return None;
    }
    let payload_len = u16::try_from(total - ipv6::HEADER_LEN).ok()?;
    let o = out.get_mut(..header_len)?;
    let word0 = (6u32 << 28) | (u32::from(repr.traffic_class) << 20) | (repr.flow_label & 0xfffff);
    let next = repr.next_header.map_or(UDP, u8::from);
    let [p0, p1] = payload_len.to_be_bytes();
    let [w0, w1, w2, w3] = word0.to_be_bytes();
    let head = [w0, w1, w2, w3, p0, p1, next, repr.hop_limit];
    put(o, 0, &head);
    put(o, 8, &repr.src_addr.octets());
    put(o, 24, &repr.dst_addr.octets());
    let mut checksum_fixup = None;
    if let Some((sport, dport, checksum, _)) = udp {
        // Same value as `payload_len`: the UDP header starts right after the IPv6 header.
        let u = (u64::from(sport) << 48)
            | (u64::from(dport) << 32)
            | (u64::from(payload_len) << 16)
            | u64::from(checksum.unwrap_or(0));
        put(o, ipv6::HEADER_LEN, &u.to_be_bytes());
        if checksum.is_none() {
            checksum_fixup = Some(ChecksumFixup {
                udp_offset: ipv6::HEADER_LEN,
                src: repr.src_addr,
                dst: repr.dst_addr,
            });
        }
    }
    Some(Decompressed {
        consumed,
        header_len,
        checksum: checksum_fixup,
    })
}

/// Octets of a Hop-by-Hop header holding only the RPL option (RFC 6553 §3: 2 header octets,
/// option type, option length 4, 4 data octets; no padding needed).
const RPI_HBH_LEN: usize = 8;

/// The RPI of `packet` if its first extension header is a Hop-by-Hop header holding exactly
/// one RPL option of the type `ctx` names, with only the flags an RPI-6LoRH carries.
fn rpi_of(packet: &[u8], ctx: &ContextTable) -> Option<Rpi6LoRhRepr> {
    let h = packet.get(..ipv6::HEADER_LEN + RPI_HBH_LEN)?;
    let (ip, hbh) = h.split_at(ipv6::HEADER_LEN);
    match (ip.get(6), hbh) {
        (Some(&HOP_BY_HOP), &[_, 0, t, 4, a, b, c, d]) if t == ctx.rpi_option_type() => {
            Rpi6LoRhRepr::from_option_data([a, b, c, d])
        }
        _ => None,
    }
}

/// Rewrites the IPHC + NHC header `out[..c.header_len]` of `packet`, whose RPI is `rpi`,
/// into RPI-6LoRH + IPHC (RFC 8138 §6.3, §3.2.1) at `out[lead..]` when the packet's Hop-by-Hop
/// header holds only the RPI and went out as LOWPAN_NHC EID 0 right after the IPHC;
/// `out[..lead]` is left for the caller (the page switch). The Hop-by-Hop header is then elided: the IPHC's next header
/// (inline, or the NHC that follows) is the one the Hop-by-Hop header named. Returns the
/// new header length from `out[0]`, `None` when nothing changes. The result is never longer.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
fn rpi_to_6lorh(
    link: &Link,
    packet: &[u8],
    rpi: Rpi6LoRhRepr,
    out: &mut [u8],
    c: Compressed,
    lead: usize,
) -> Option<usize> {
    let keep = c.header_len;
    if c.consumed < ipv6::HEADER_LEN + RPI_HBH_LEN || keep > out.len() {
        return None;
    }
    let hdr = &out[..keep];
    if hdr.first().is_none_or(|b| b & 0xe0 != 0x60) {
        return None;
    }
    let (_, n) =
        IphcRepr::parse_bytes(hdr, link_iid(link.src), link_iid(link.dst), link.ctx).ok()?;
    // `1110 000 N`, the next header when N = 0, length 6, the option (RFC 6282 §4.2).
    let &nhc = hdr.get(n)?;
    if nhc & 0xfe != EXT_DISPATCH {
        return None;
    }
    let k = usize::from(nhc & 1 == 0);
    let nh = if k == 1 {
        hdr.get(n + 1).copied()
    } else {
        None
    };
    if hdr.get(n + 1 + k) != Some(&6)
        || hdr.get(n + 2 + k..n + 8 + k) != packet.get(ipv6::HEADER_LEN + 2..ipv6::HEADER_LEN + 8)
    {
        return None;
    }
    let mut lorh = [0u8; RPI_MAX_LEN];
    let l = rpi.emit_bytes(&mut lorh).ok()?;
    // Where an inline next header goes in the IPHC (RFC 6282 §3.1.1: after the CID octet
    // and the traffic class / flow label fields).
    let tf_len = match (hdr[0] >> 3) & 3 {
        0 => 4,
        1 => 3,
        2 => 1,
        _ => 0,
    };
    let p = 2 + usize::from(hdr[1] & 0x80 != 0) + tf_len;
    let rest = n + 8 + k;
    let base = lead + l;
    // Move the headers after the Hop-by-Hop NHC left, then the IPHC right around the
    // inserted next-header octet (source and destination ranges never clobber data still
    // to be moved: base + n + k <= rest).
    out.copy_within(rest..keep, base + n + k);
    out.copy_within(p..n, base + p + k);
    out.copy_within(0..p, base);
    if let Some(nh) = nh {
        out[base + p] = nh;
        // NH = 0: the next header is inline.
        out[base] &= !0x04;
    }
    out[lead..base].copy_from_slice(&lorh[..l]);
    Some(keep - rest + base + n + k)
}

/// [`decompress_header`] for a payload that starts with the page-1 switch (RFC 8025 §3):
/// SRH-6LoRH headers (RFC 8138 §5.1), then an RPI-6LoRH (RFC 8138 §6.3), one of them at
/// least, then LOWPAN_IPHC (page 1 keeps its page-0 dispatch, RFC 9008 §4.3). The IPHC is
/// decompressed and the extension headers the 6LoRH stand for put in after the IPv6 header
/// by [`put_6lorh_headers`].
#[inline(never)]
fn decompress_6lorh(
    frame: &[u8],
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
    ctx: &ContextTable,
    datagram_size: Option<usize>,
    out: &mut [u8],
) -> Result<Decompressed> {
    let srh = srh::SrhLorhs::read(frame)?;
    let mut at = srh.end;
    let ip_in_ip_at = |at: usize| {
        frame.get(at).is_some_and(|b| b >> 5 == ELECTIVE_CLASS)
            && frame.get(at + 1) == Some(&TYPE_IP_IN_IP)
    };
    // Without SRH-6LoRH an RPI-6LoRH or an IP-in-IP 6LoRH must follow; after them either
    // may.
    let rpi = if srh.is_empty() {
        !ip_in_ip_at(at)
    } else {
        need(frame, at + 2)?;
        frame.get(at).is_some_and(|b| b >> 5 == CRITICAL_CLASS)
            && frame.get(at + 1) == Some(&TYPE_RPI)
    };
    let rpi = if rpi {
        let lorh = Rpi6LoRh::new_checked(sub(frame, at))?;
        at += lorh.header_len();
        Some(Rpi6LoRhRepr::parse(&lorh)?)
    } else {
        None
    };
    // The encapsulating header (RFC 8138 §7): its Hop Limit and source.
    let tunnel = if ip_in_ip_at(at) {
        let v = IpInIp6LoRh::new_checked(sub(frame, at))?;
        let r = IpInIp6LoRhRepr::parse(&v)?;
        at += v.header_len();
        let src = r
            .encapsulator_addr(ctx.root().as_ref())
            .ok_or(Error::NoLinkAddress)?;
        Some((r.hop_limit, src))
    } else {
        None
    };
    match frame.get(at) {
        None => {
            return Err(Error::Truncated {
                needed: at + 1,
                got: frame.len(),
            });
        }
        Some(b) if b & 0xe0 != 0x60 => return Err(Error::UnknownDispatch(*b)),
        Some(_) => {}
    }
    let mut addrs = [Ipv6Addr::UNSPECIFIED; srh::MAX_SRH_6LORH_HOPS];
    let (route, outer) = match tunnel {
        None if srh.is_empty() => (None, None),
        None => {
            let (iphc, _) =
                IphcRepr::parse_bytes(sub(frame, at), link_iid(ll_src), link_iid(ll_dst), ctx)?;
            (
                Some(srh.route(frame, iphc.src_addr, iphc.dst_addr, &mut addrs)?),
                None,
            )
        }
        // The SRH-6LoRH list the outer header's whole route from the encapsulator; without
        // them the outer destination is the inner one.
        Some((hop_limit, src)) => {
            let (dst, route) = if srh.is_empty() {
                let (iphc, _) =
                    IphcRepr::parse_bytes(sub(frame, at), link_iid(ll_src), link_iid(ll_dst), ctx)?;
                (iphc.dst_addr, None)
            } else {
                srh.tunnel_route(frame, src, &mut addrs)?
            };
            (
                route,
                Some(ipinip::Outer {
                    hop_limit,
                    src,
                    dst,
                }),
            )
        }
    };
    let added = outer.map_or(0, |_| ipv6::HEADER_LEN)
        + rpi.map_or(0, |_| RPI_HBH_LEN)
        + route.as_ref().map_or(0, |r| r.len);
    let inner_size = match datagram_size {
        Some(s) => Some(s.checked_sub(added).ok_or(Error::BadLength)?),
        None => None,
    };
    let d = decompress_header_iphc(sub(frame, at), ll_src, ll_dst, ctx, inner_size, out)?;
    let header_len = put_6lorh_headers(out, d.header_len, outer, rpi, route.as_ref(), ctx)?;
    Ok(Decompressed {
        consumed: at + d.consumed,
        header_len,
        checksum: d.checksum.map(|f| ChecksumFixup {
            udp_offset: f.udp_offset + added,
            ..f
        }),
    })
}

/// Puts the headers of the 6LoRH into the decompressed headers `out[..end]`: the
/// encapsulating IPv6 header of an IP-in-IP 6LoRH in front ([`ipinip::Outer::insert`]),
/// then the RPI as a Hop-by-Hop header right after the (outer) IPv6 header, holding the RPL
/// option of type [`ContextTable::rpi_option_type`] (RFC 6553 §3), then the routing header
/// ([`srh::Route::insert`]); the payload length grows by both. Returns the new end.
#[inline(always)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
fn put_6lorh_headers(
    out: &mut [u8],
    end: usize,
    outer: Option<ipinip::Outer>,
    rpi: Option<Rpi6LoRhRepr>,
    route: Option<&srh::Route<'_>>,
    ctx: &ContextTable,
) -> Result<usize> {
    let mut end = end;
    if end < ipv6::HEADER_LEN {
        return Err(Error::BadLength);
    }
    if let Some(o) = outer {
        end = o.insert(out, end)?;
    }
    let mut payload_len = u16::from_be_bytes([out[4], out[5]]);
    if let Some(rpi) = rpi {
        room(out, end + RPI_HBH_LEN)?;
        payload_len = payload_len
            .checked_add(RPI_HBH_LEN as u16)
            .ok_or(Error::BadLength)?;
        out.copy_within(ipv6::HEADER_LEN..end, ipv6::HEADER_LEN + RPI_HBH_LEN);
        let [a, b, c, e] = rpi.option_data();
        let next = out[6];
        out[ipv6::HEADER_LEN..ipv6::HEADER_LEN + RPI_HBH_LEN].copy_from_slice(&[
            next,
            0,
            ctx.rpi_option_type(),
            4,
            a,
            b,
            c,
            e,
        ]);
        out[6] = HOP_BY_HOP;
        end += RPI_HBH_LEN;
    }
    if let Some(route) = route {
        end = route.insert(out, end)?;
        payload_len =
            u16::try_from(usize::from(payload_len) + route.len).map_err(|_| Error::BadLength)?;
    }
    out[4..6].copy_from_slice(&payload_len.to_be_bytes());
    Ok(end)
}

/// Copies `v` to `o[at..]` (a fixed-size store; `o` is checked to be long enough).
#[inline(always)]
fn put<const N: usize>(o: &mut [u8], at: usize, v: &[u8; N]) {
    if let Some(d) = o.get_mut(at..at + N) {
        d.copy_from_slice(v);
    }
}

/// Decompresses a whole (unfragmented) 6LoWPAN payload into `out`; returns the packet length.
/// Elided UDP checksums are computed.
pub fn decompress(
    frame: &[u8],
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
    ctx: &ContextTable,
    out: &mut [u8],
) -> Result<usize> {
    let d = decompress_header(frame, ll_src, ll_dst, ctx, None, out)?;
    let rest = sub(frame, d.consumed);
    let total = d.header_len + rest.len();
    room(out, total)?;
    if let Some(o) = out.get_mut(d.header_len..total) {
        o.copy_from_slice(rest);
    }
    if let Some(f) = d.checksum {
        f.apply(out.get_mut(..total).unwrap_or(&mut []))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;
    use crate::test_gens;
    use amimesh_core::{ExtAddr, ShortAddr};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn short(s: u16) -> LinkAddr {
        LinkAddr::Short(ShortAddr(s))
    }

    // OpenThread tests/unit/test_vector.c (FACTS §10): MAC payload of the LL16 echo request.
    const LL16_FRAME: &str = "7a333a8000639e000000004142434445464748";
    const LL16_PACKET: &str = "6000000000103a40fe80000000000000000000fffe000000fe80000000000000000000fffe0010008000639e000000004142434445464748";

    #[test]
    fn openthread_ll16_both_ways() {
        let frame = hex::decode(LL16_FRAME).unwrap();
        let packet = hex::decode(LL16_PACKET).unwrap();
        let ctx = ContextTable::new();
        let mut out = [0xa5u8; 128];
        let n = decompress(&frame, short(0), short(0x1000), &ctx, &mut out).unwrap();
        assert_eq!(&out[..n], &packet[..]);
        let n = compress(
            &packet,
            short(0),
            short(0x1000),
            &ctx,
            &CompressOptions::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..n], &frame[..]);
    }

    #[test]
    fn openthread_ll64() {
        // MAC header `61 cc 1d ce fa 03 00 00 00 00 0a 6e 14 01 00 00 00 00 0a 6e 14`:
        // dst 14:6e:0a:00:00:00:00:03, src 14:6e:0a:00:00:00:00:01 (little-endian on air).
        let src = LinkAddr::Extended(ExtAddr::from_le_bytes([1, 0, 0, 0, 0, 0x0a, 0x6e, 0x14]));
        let dst = LinkAddr::Extended(ExtAddr::from_le_bytes([3, 0, 0, 0, 0, 0x0a, 0x6e, 0x14]));
        let frame = hex::decode("7a333a800030be000000004142434445464748").unwrap();
        let mut out = [0u8; 128];
        let n = decompress(&frame, src, dst, &ContextTable::new(), &mut out).unwrap();
        let p = crate::wire::ipv6::Packet::new_checked(&out[..n]).unwrap();
        assert_eq!(
            p.src_addr(),
            "fe80::166e:a00:0:1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            p.dst_addr(),
            "fe80::166e:a00:0:3".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(p.hop_limit(), 64);
        let icmp = crate::wire::icmpv6::Packet::new_checked(p.payload()).unwrap();
        assert!(icmp.verify_checksum(&p.src_addr(), &p.dst_addr()));
    }

    fn udp_packet(src: &str, dst: &str, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let s: Ipv6Addr = src.parse().unwrap();
        let d: Ipv6Addr = dst.parse().unwrap();
        let mut p = vec![0u8; 48 + payload.len()];
        Ipv6Repr {
            src_addr: s,
            dst_addr: d,
            next_header: IpProtocol::Udp,
            payload_len: (8 + payload.len()) as u16,
            hop_limit: 255,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut p)
        .unwrap();
        udp::UdpRepr {
            src_port: sport,
            dst_port: dport,
        }
        .emit(&mut p[40..], &s, &d, payload)
        .unwrap();
        p
    }

    #[test]
    fn udp_checksum_elided_only_when_allowed() {
        let p = udp_packet("fe80::ff:fe00:1", "fe80::ff:fe00:2", 0xf0b1, 0xf0b2, b"hi");
        let ctx = ContextTable::new();
        let mut out = [0u8; 128];
        let n = compress(
            &p,
            short(1),
            short(2),
            &ctx,
            &CompressOptions::default(),
            &mut out,
        )
        .unwrap();
        // 7f 33 | f3 12 | cksum(2) | "hi"
        assert_eq!(n, 2 + 2 + 2 + 2);
        assert_eq!(out[0], 0x7f);
        let opts = CompressOptions {
            elide_udp_checksum: true,
            ..Default::default()
        };
        let n = compress(&p, short(1), short(2), &ctx, &opts, &mut out).unwrap();
        assert_eq!(&out[..n], &[0x7f, 0x33, 0xf7, 0x12, b'h', b'i']);
        let mut back = [0u8; 128];
        let m = decompress(&out[..n], short(1), short(2), &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
        // A wrong checksum is never elided.
        let mut bad = p.clone();
        bad[47] ^= 1;
        let n = compress(&bad, short(1), short(2), &ctx, &opts, &mut out).unwrap();
        assert_eq!(out[2], 0xf3);
        let m = decompress(&out[..n], short(1), short(2), &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &bad[..]);
    }

    #[test]
    fn implicit_context_zero_and_cid() {
        let ctx = ContextTable::new()
            .with(0, Context::new("fd00:1::".parse().unwrap(), 64))
            .unwrap()
            .with(5, Context::new("2001:db8::".parse().unwrap(), 64))
            .unwrap();
        let p = udp_packet("fd00:1::ff:fe00:1", "2001:db8::ff:fe00:2", 1000, 2000, b"x");
        let mut out = [0u8; 128];
        let n = compress(
            &p,
            short(1),
            short(2),
            &ctx,
            &CompressOptions::default(),
            &mut out,
        )
        .unwrap();
        // CID=1, SAC=1 SAM=11, DAC=1 DAM=11, context byte SCI=0 DCI=5.
        assert_eq!(&out[..3], &[0x7f, 0xf7, 0x05]);
        let mut back = [0u8; 128];
        let m = decompress(&out[..n], short(1), short(2), &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
        // Both in context 0: no context byte.
        let p = udp_packet("fd00:1::ff:fe00:1", "fd00:1::ff:fe00:2", 1000, 2000, b"x");
        compress(
            &p,
            short(1),
            short(2),
            &ctx,
            &CompressOptions::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..2], &[0x7f, 0x77]);
    }

    #[test]
    fn fast_path_protocol_numbers() {
        for (raw, p) in [
            (UDP, IpProtocol::Udp),
            (IPV6_IN_IPV6, IpProtocol::Ipv6),
            (HOP_BY_HOP, IpProtocol::HopByHop),
            (ROUTING, IpProtocol::Ipv6Route),
            (FRAGMENT, IpProtocol::Ipv6Frag),
            (DEST_OPTS, IpProtocol::Ipv6Opts),
            (MOBILITY, IpProtocol::Mobility),
        ] {
            assert_eq!(IpProtocol::from(raw), p);
        }
        // Every extension header (and only those, with IPv6 and UDP) leaves the fast path.
        for raw in 0..=255u8 {
            let p = IpProtocol::from(raw);
            let planned = matches!(
                raw,
                UDP | IPV6_IN_IPV6 | HOP_BY_HOP | ROUTING | FRAGMENT | DEST_OPTS | MOBILITY
            );
            assert_eq!(
                planned,
                is_ext_header(p) || p == IpProtocol::Udp || p == IpProtocol::Ipv6,
                "{raw}"
            );
        }
    }

    #[test]
    fn errors() {
        let ctx = ContextTable::new();
        let mut out = [0u8; 128];
        assert_eq!(
            decompress_header(&[], short(1), short(2), &ctx, None, &mut out),
            Err(Error::Truncated { needed: 1, got: 0 })
        );
        // IPHC with NH=1 but nothing after it.
        assert_eq!(
            decompress(&[0x7e, 0x33], short(1), short(2), &ctx, &mut out),
            Err(Error::Truncated { needed: 3, got: 2 })
        );
        // NH=1 followed by a reserved NHC.
        assert_eq!(
            decompress(&[0x7e, 0x33, 0x00], short(1), short(2), &ctx, &mut out),
            Err(Error::Reserved("unknown NHC"))
        );
        // Datagram size smaller than the headers.
        assert_eq!(
            decompress_header(
                &[0x7a, 0x33, 0x3a],
                short(1),
                short(2),
                &ctx,
                Some(10),
                &mut out
            ),
            Err(Error::BadLength)
        );
        // Output too small.
        assert_eq!(
            decompress(
                &[0x7a, 0x33, 0x3a],
                short(1),
                short(2),
                &ctx,
                &mut [0u8; 20]
            ),
            Err(Error::BufferTooSmall { required: 40 })
        );
        // Tunnel nesting beyond MAX_DEPTH.
        let mut deep = vec![0x7e, 0x33];
        for _ in 0..MAX_DEPTH {
            deep.extend_from_slice(&[0xee, 0x7e, 0x33]);
        }
        deep.push(0xf0);
        assert_eq!(
            decompress(&deep, short(1), short(2), &ctx, &mut [0u8; 512]),
            Err(Error::TooDeep)
        );
        // NHC chain longer than MAX_NHC.
        let mut long = vec![0x7e, 0x33];
        for _ in 0..=MAX_NHC {
            long.extend_from_slice(&[0xe1, 0x00]);
        }
        assert_eq!(
            decompress(&long, short(1), short(2), &ctx, &mut [0u8; 512]),
            Err(Error::TooDeep)
        );
        assert_eq!(
            compress(
                &[0u8; 4],
                short(1),
                short(2),
                &ctx,
                &CompressOptions::default(),
                &mut []
            ),
            Err(Error::BufferTooSmall { required: 1 })
        );
    }

    #[test]
    fn uncompressible_packets_use_dispatch_0x41() {
        let mut p = udp_packet("fe80::1", "fe80::2", 1, 2, b"abc");
        p[5] = 99; // payload length lies
        let ctx = ContextTable::new();
        let mut out = [0u8; 128];
        let n = compress(
            &p,
            short(1),
            short(2),
            &ctx,
            &CompressOptions::default(),
            &mut out,
        )
        .unwrap();
        assert_eq!(out[0], 0x41);
        assert_eq!(&out[1..n], &p[..]);
        let mut back = [0u8; 128];
        let m = decompress(&out[..n], short(1), short(2), &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
    }

    /// `fe80::ff:fe00:1` → `fe80::ff:fe00:2`, hop limit 64, a Hop-by-Hop header with the
    /// RPL option `opt` (type, O/R/F, instance, rank), then `next` and `body`.
    fn rpi_packet(opt: [u8; 6], next: u8, body: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&u16::try_from(8 + body.len()).unwrap().to_be_bytes());
        p.extend_from_slice(&[0, 64]);
        p.extend_from_slice(&"fe80::ff:fe00:1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"fe80::ff:fe00:2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[next, 0]);
        p.extend_from_slice(&opt);
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn rpi_6lorh_byte_exact() {
        let ctx = ContextTable::new();
        let on = CompressOptions {
            rfc8138: true,
            ..Default::default()
        };
        // ICMPv6 (inline next header) behind the RPI: instance 0, rank 0x0200 (K and I).
        let p = rpi_packet(
            [0x23, 4, 0x00, 0x00, 0x02, 0x00],
            58,
            &[0x80, 0, 0xaa, 0xbb],
        );
        let mut out = [0xa5u8; 64];
        let n = compress(&p, short(1), short(2), &ctx, &on, &mut out).unwrap();
        #[rustfmt::skip]
        let want = [
            0xf1,             // page 1 (RFC 8025 §3)
            0x83, 0x05, 0x02, // RPI-6LoRH: Critical, I=1 K=1, type 5, rank 0x02(00)
            0x7a, 0x33,       // IPHC TF=11 NH=0 HLIM=10 SAM=11 DAM=11
            0x3a,             // next header inline: ICMPv6 (the Hop-by-Hop header's)
            0x80, 0x00, 0xaa, 0xbb,
        ];
        assert_eq!(&out[..n], &want[..]);
        let mut back = [0u8; 128];
        let m = decompress(&out[..n], short(1), short(2), &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
        // Without the switch: LOWPAN_NHC EID 0 with next header inline (RFC 6282 §4.2).
        let n0 = compress(&p, short(1), short(2), &ctx, &Default::default(), &mut out).unwrap();
        assert_eq!(&out[..5], &[0x7e, 0x33, 0xe0, 0x3a, 0x06]);
        assert_eq!(n0, n + 4);

        // UDP (NHC) behind the RPI: O=1, instance 0x1e, rank 0x0301.
        let udp = [0xf0, 0xb1, 0xf0, 0xb2, 0, 10, 0x12, 0x34, 0xde, 0xad];
        let p = rpi_packet([0x23, 4, 0x80, 0x1e, 0x03, 0x01], 17, &udp);
        let n = compress(&p, short(1), short(2), &ctx, &on, &mut out).unwrap();
        #[rustfmt::skip]
        let want = [
            0xf1,
            0x90, 0x05, 0x1e, 0x03, 0x01, // Critical, O=1 I=0 K=0, type 5, instance, rank
            0x7e, 0x33,                   // IPHC NH=1
            0xf3, 0x12, 0x12, 0x34,       // NHC UDP ports 0xf0b1/0xf0b2, checksum
            0xde, 0xad,
        ];
        assert_eq!(&out[..n], &want[..]);
        let m = decompress(&out[..n], short(1), short(2), &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
    }

    #[test]
    fn rpi_6lorh_only_for_the_configured_option_type() {
        let mut ctx = ContextTable::new();
        let on = CompressOptions {
            rfc8138: true,
            ..Default::default()
        };
        let p = rpi_packet([0x63, 4, 0x00, 0x00, 0x02, 0x00], 59, &[]);
        let mut out = [0u8; 64];
        let n = compress(&p, short(1), short(2), &ctx, &on, &mut out).unwrap();
        assert_ne!(out[0], PAGE_1_DISPATCH);
        let mut back = [0u8; 128];
        let m = decompress(&out[..n], short(1), short(2), &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
        // A DODAG that uses 0x63 (RFC 9008 §4.1.3).
        ctx.set_rpi_option_type(0x63);
        let n = compress(&p, short(1), short(2), &ctx, &on, &mut out).unwrap();
        assert_eq!(&out[..4], &[PAGE_1_DISPATCH, 0x83, 0x05, 0x02]);
        let m = decompress(&out[..n], short(1), short(2), &ctx, &mut back).unwrap();
        assert_eq!(&back[..m], &p[..]);
        // A flag bit outside O/R/F, or a second option: stays NHC.
        ctx.set_rpi_option_type(0x23);
        for p in [
            rpi_packet([0x23, 4, 0x10, 0x00, 0x02, 0x00], 59, &[]),
            rpi_packet([0x01, 4, 0x00, 0x00, 0x02, 0x00], 59, &[]),
        ] {
            let n = compress(&p, short(1), short(2), &ctx, &on, &mut out).unwrap();
            assert_ne!(out[0], PAGE_1_DISPATCH);
            let m = decompress(&out[..n], short(1), short(2), &ctx, &mut back).unwrap();
            assert_eq!(&back[..m], &p[..]);
        }
    }

    #[test]
    fn rpi_6lorh_errors() {
        let ctx = ContextTable::new();
        let mut out = [0u8; 128];
        let d = |f: &[u8], out: &mut [u8]| decompress(f, short(1), short(2), &ctx, out);
        assert_eq!(
            d(&[0xf1, 0x83], &mut out),
            Err(Error::Truncated { needed: 2, got: 1 })
        );
        assert_eq!(
            d(&[0xf1, 0x83, 0x05, 0x02], &mut out),
            Err(Error::Truncated { needed: 5, got: 4 })
        );
        // Anything but IPHC after the 6LoRH; another 6LoRH type.
        assert_eq!(
            d(&[0xf1, 0x83, 0x05, 0x02, 0x41], &mut out),
            Err(Error::UnknownDispatch(0x41))
        );
        assert!(matches!(
            d(&[0xf1, 0xa3, 0x07, 0x02, 0x7a, 0x33, 0x3b], &mut out),
            Err(Error::Reserved(_))
        ));
        // Room for the IPv6 header but not the Hop-by-Hop header.
        assert_eq!(
            d(&[0xf1, 0x83, 0x05, 0x02, 0x7a, 0x33, 0x3b], &mut out[..44]),
            Err(Error::BufferTooSmall { required: 48 })
        );
        // A first fragment whose datagram cannot hold the Hop-by-Hop header.
        assert_eq!(
            decompress_header(
                &[0xf1, 0x83, 0x05, 0x02, 0x7a, 0x33, 0x3b],
                short(1),
                short(2),
                &ctx,
                Some(7),
                &mut out
            ),
            Err(Error::BadLength)
        );
    }

    proptest! {
        #[test]
        fn compress_then_decompress_is_identity(
            packet in prop_oneof![
                test_gens::packet().boxed(),
                test_gens::rpi_packet().boxed(),
                test_gens::srh_packet(),
                test_gens::tunnel_packet(),
            ],
            src in test_gens::link_addr(),
            dst in test_gens::link_addr(),
            ctx in test_gens::contexts(),
            elide in any::<bool>(),
            max_nhc in 0usize..=MAX_NHC,
            rfc8138 in any::<bool>(),
            rpi_type in prop_oneof![Just(0x23u8), Just(0x63)],
            root_known in any::<bool>(),
        ) {
            let mut ctx = ctx;
            ctx.set_rpi_option_type(rpi_type);
            if root_known && packet.len() >= 24 {
                ctx.set_root(Some(Ipv6Addr::from(<[u8; 16]>::try_from(&packet[8..24]).unwrap())));
            }
            let opts = CompressOptions { elide_udp_checksum: elide, max_nhc, rfc8138 };
            let mut out = vec![0u8; packet.len() + 64];
            let n = compress(&packet, src, dst, &ctx, &opts, &mut out).unwrap();
            let c = compress_header(&packet, src, dst, &ctx, &opts, &mut vec![0u8; 600]).unwrap();
            prop_assert_eq!(n, c.header_len + packet.len() - c.consumed);
            let mut back = vec![0u8; packet.len() + 64];
            let m = decompress(&out[..n], src, dst, &ctx, &mut back).unwrap();
            prop_assert_eq!(&back[..m], &packet[..]);
            // An exactly sized buffer (written through the scratch copy when it is small)
            // gets the same bytes; one byte less is refused.
            let mut exact = vec![0xa5u8; n];
            prop_assert_eq!(compress(&packet, src, dst, &ctx, &opts, &mut exact), Ok(n));
            prop_assert_eq!(&exact[..], &out[..n]);
            let short = compress(&packet, src, dst, &ctx, &opts, &mut exact[..n - 1]);
            prop_assert!(matches!(short, Err(Error::BufferTooSmall { .. })), "{:?}", short);
        }

        #[test]
        fn rpi_goes_as_6lorh_and_is_shorter(
            packet in test_gens::rpi_packet(),
            src in test_gens::link_addr(),
            dst in test_gens::link_addr(),
        ) {
            let ctx = ContextTable::new();
            let on = CompressOptions { rfc8138: true, ..CompressOptions::default() };
            let mut a = vec![0u8; packet.len() + 64];
            let mut b = vec![0u8; packet.len() + 64];
            let n = compress(&packet, src, dst, &ctx, &CompressOptions::default(), &mut a).unwrap();
            let m = compress(&packet, src, dst, &ctx, &on, &mut b).unwrap();
            if rpi_of(&packet, &ctx).is_some() && a[0] != DISPATCH_IPV6 {
                prop_assert_eq!(b[0], PAGE_1_DISPATCH);
                prop_assert!(m + 2 <= n, "{} vs {}", m, n);
            } else {
                prop_assert_eq!(&a[..n], &b[..m]);
            }
            let mut back = vec![0u8; packet.len() + 64];
            let k = decompress(&b[..m], src, dst, &ctx, &mut back).unwrap();
            prop_assert_eq!(&back[..k], &packet[..]);
        }

        #[test]
        fn common_chain_path_matches_the_general_path(
            frame in proptest::collection::vec(any::<u8>(), 0..48),
            b0 in prop_oneof![Just(0x78u8), Just(0x7c), Just(0x7e), Just(0x7a), 0x60u8..0x80],
            b1 in any::<u8>(),
            nhc in prop_oneof![0xf0u8..0xf8, any::<u8>()],
            src in test_gens::link_addr(),
            dst in test_gens::link_addr(),
            ctx in test_gens::contexts(),
            size in proptest::option::of(0usize..200),
            out_len in prop_oneof![Just(256usize), 0usize..64],
        ) {
            // IPHC base bytes, then an NHC-UDP-looking byte at a random place in the rest.
            let mut f = vec![b0, b1];
            f.extend_from_slice(&frame);
            if let Some(slot) = f.get_mut(2 + frame.len() / 3) {
                *slot = nhc;
            }
            let mut a = vec![0xa5u8; out_len];
            if let Some(d) = decompress_common(&f, src, dst, &ctx, size, &mut a) {
                let mut b = vec![0xa5u8; out_len];
                prop_assert_eq!(decompress_chain(&f, src, dst, &ctx, size, &mut b), Ok(d));
                prop_assert_eq!(a, b);
            }
        }

        #[test]
        fn decompress_never_panics_and_is_a_fixed_point(
            frame in proptest::collection::vec(any::<u8>(), 0..80),
            head in prop_oneof![Just(0x7eu8), Just(0x7a), Just(0x60), Just(0x7f), any::<u8>()],
            lorh in prop_oneof![Just(None), test_gens::rpi_6lorh_repr().prop_map(Some)],
            src in test_gens::link_addr(),
            dst in test_gens::link_addr(),
            ctx in test_gens::contexts(),
            rfc8138 in any::<bool>(),
        ) {
            let mut f = test_gens::lorh_prefix(&[], lorh);
            f.push(head);
            f.extend_from_slice(&frame);
            test_gens::decompress_is_fixed_point(&f, src, dst, &ctx, rfc8138)?;
        }
    }
}
