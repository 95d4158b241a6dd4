//! LOWPAN_IPHC (RFC 6282 §3): the compressed IPv6 header.
//!
//! ```text
//!   0   1   2   3   4   5   6   7   8   9  10  11  12  13  14  15
//! | 0 | 1 | 1 |  TF   |NH | HLIM  |CID|SAC|  SAM  | M |DAC|  DAM  |
//! ```
//! followed by the inline fields in this order (§3.1.1, §3.2): the context byte (SCI|DCI, when
//! CID = 1), traffic class and flow label per TF, next header (NH = 0), hop limit (HLIM = 00),
//! source address, destination address.
//!
//! Address rebuilding (§3.1.1): bits covered by the context prefix (or by `fe80::/64` when
//! stateless) always win; the rest come from the inline bits, from `0000:00ff:fe00:XXXX` for
//! 16-bit modes, or from the encapsulating header's interface identifier for fully elided
//! modes (the link-layer address for the outer header, the outer IPv6 address for a tunnelled
//! one, §3.2.2). With SAC/DAC = 1 and CID = 0, context 0 applies.
//!
//! [`IphcRepr::emit`] picks the smallest encoding whose decompression gives back exactly the
//! same address; among equal sizes it prefers stateless modes and avoids the context byte.

use super::IpProtocol;
use crate::context::{Context, ContextTable};
use crate::error::{Error, Result, need, room};
use core::fmt;
use core::net::Ipv6Addr;

/// Dispatch bits of IPHC (`011xxxxx`).
pub const DISPATCH_MASK: u8 = 0xe0;
/// Dispatch value of IPHC.
pub const DISPATCH: u8 = 0x60;

/// Inline address size for SAC/DAC = 0 (and M = 0), per SAM/DAM.
const STATELESS_LEN: [usize; 4] = [16, 8, 2, 0];
/// Inline size for M = 1, DAC = 0, per DAM.
const MCAST_LEN: [usize; 4] = [16, 6, 4, 1];

/// Inline address length for (M, SAC/DAC, SAM/DAM); reserved combinations carry nothing.
fn inline_len(m: bool, stateful: bool, mode: u8) -> usize {
    code_len((u8::from(m) << 3) | (u8::from(stateful) << 2) | (mode & 3))
}

/// [`INLINE_LEN`] for a `M<<3 | AC<<2 | AM` code.
#[inline(always)]
fn code_len(code: u8) -> usize {
    INLINE_LEN
        .get(usize::from(code & 15))
        .map_or(0, |&l| l.into())
}

fn tf_len(tf: u8) -> usize {
    match tf & 3 {
        0 => 4,
        1 => 3,
        2 => 1,
        _ => 0,
    }
}

/// A view of an IPHC header (starting at the dispatch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IphcPacket<T: AsRef<[u8]>> {
    buffer: T,
}

// Getters read the two base bytes and the inline fields, all below `header_len()`, which
// `check_len` guarantees.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> IphcPacket<T> {
    /// Wraps without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        IphcPacket { buffer }
    }
    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Ensures the dispatch is IPHC and every inline field is present.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 2)?;
        if b[0] & DISPATCH_MASK != DISPATCH {
            return Err(Error::UnknownDispatch(b[0]));
        }
        need(b, self.header_len())
    }
    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn b0(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    fn b1(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    /// TF (traffic class / flow label encoding).
    pub fn tf(&self) -> u8 {
        (self.b0() >> 3) & 3
    }
    /// NH: 1 when the next header is NHC-encoded.
    pub fn nh(&self) -> bool {
        self.b0() & 0x04 != 0
    }
    /// HLIM encoding.
    pub fn hlim(&self) -> u8 {
        self.b0() & 3
    }
    /// CID: context byte present.
    pub fn cid(&self) -> bool {
        self.b1() & 0x80 != 0
    }
    /// SAC: stateful source.
    pub fn sac(&self) -> bool {
        self.b1() & 0x40 != 0
    }
    /// SAM.
    pub fn sam(&self) -> u8 {
        (self.b1() >> 4) & 3
    }
    /// M: multicast destination.
    pub fn m(&self) -> bool {
        self.b1() & 0x08 != 0
    }
    /// DAC: stateful destination.
    pub fn dac(&self) -> bool {
        self.b1() & 0x04 != 0
    }
    /// DAM.
    pub fn dam(&self) -> u8 {
        self.b1() & 3
    }
    /// Source context id (0 when CID = 0).
    pub fn sci(&self) -> u8 {
        if self.cid() {
            self.buffer.as_ref()[2] >> 4
        } else {
            0
        }
    }
    /// Destination context id (0 when CID = 0).
    pub fn dci(&self) -> u8 {
        if self.cid() {
            self.buffer.as_ref()[2] & 0x0f
        } else {
            0
        }
    }
    fn tf_offset(&self) -> usize {
        2 + usize::from(self.cid())
    }
    fn nh_offset(&self) -> usize {
        self.tf_offset() + tf_len(self.tf())
    }
    fn hlim_offset(&self) -> usize {
        self.nh_offset() + usize::from(!self.nh())
    }
    fn src_offset(&self) -> usize {
        self.hlim_offset() + usize::from(self.hlim() == 0)
    }
    /// Inline source address length.
    pub fn src_len(&self) -> usize {
        if self.sac() {
            [0, 8, 2, 0][usize::from(self.sam())]
        } else {
            STATELESS_LEN[usize::from(self.sam())]
        }
    }
    fn dst_offset(&self) -> usize {
        self.src_offset() + self.src_len()
    }
    /// Inline destination address length (0 for reserved modes).
    pub fn dst_len(&self) -> usize {
        let dam = usize::from(self.dam());
        match (self.m(), self.dac()) {
            (false, false) => STATELESS_LEN[dam],
            (false, true) => [0, 8, 2, 0][dam],
            (true, false) => MCAST_LEN[dam],
            (true, true) => [6, 0, 0, 0][dam],
        }
    }
    /// Length of the IPHC header with every inline field.
    pub fn header_len(&self) -> usize {
        self.dst_offset() + self.dst_len()
    }
    /// ECN bits (0 when elided).
    pub fn ecn(&self) -> u8 {
        match self.tf() {
            3 => 0,
            _ => self.buffer.as_ref()[self.tf_offset()] >> 6,
        }
    }
    /// DSCP (0 when elided).
    pub fn dscp(&self) -> u8 {
        match self.tf() {
            0 | 2 => self.buffer.as_ref()[self.tf_offset()] & 0x3f,
            _ => 0,
        }
    }
    /// Flow label (0 when elided).
    pub fn flow_label(&self) -> u32 {
        let b = self.buffer.as_ref();
        let o = self.tf_offset();
        match self.tf() {
            0 => u32::from_be_bytes([0, b[o + 1] & 0x0f, b[o + 2], b[o + 3]]),
            1 => u32::from_be_bytes([0, b[o] & 0x0f, b[o + 1], b[o + 2]]),
            _ => 0,
        }
    }
    /// Inline next header, `None` when NHC-encoded.
    pub fn next_header(&self) -> Option<IpProtocol> {
        if self.nh() {
            None
        } else {
            Some(IpProtocol::from(self.buffer.as_ref()[self.nh_offset()]))
        }
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        match self.hlim() {
            1 => 1,
            2 => 64,
            3 => 255,
            _ => self.buffer.as_ref()[self.hlim_offset()],
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> IphcPacket<&'a T> {
    /// Inline source address bytes.
    pub fn src_inline(&self) -> &'a [u8] {
        let o = self.src_offset();
        self.buffer
            .as_ref()
            .get(o..o + self.src_len())
            .unwrap_or(&[])
    }
    /// Inline destination address bytes.
    pub fn dst_inline(&self) -> &'a [u8] {
        let o = self.dst_offset();
        self.buffer
            .as_ref()
            .get(o..o + self.dst_len())
            .unwrap_or(&[])
    }
    /// Everything after the IPHC header (NHC headers or the payload).
    pub fn payload(&self) -> &'a [u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

/// A prefix as (bits, mask): the first `len` bits of `prefix`, and a mask covering them.
#[derive(Debug, Clone, Copy)]
struct Prefix {
    bits: u128,
    mask: u128,
}

impl Prefix {
    /// RFC 6282 §3.1.1: context bits win, the rest come from `base`.
    #[inline(always)]
    fn apply(self, base: u128) -> u128 {
        self.bits | (base & !self.mask)
    }
}

/// Context `id`'s prefix as precomputed by the table, or `Err(UnknownContext)`.
#[inline(always)]
fn ctx_prefix(ctx: &ContextTable, id: u8) -> Result<Prefix> {
    let (bits, mask) = ctx.prefix(id)?;
    Ok(Prefix { bits, mask })
}

/// `fe80::/64`, the stateless prefix (RFC 6282 §3.1.1, SAC/DAC = 0).
const LINK_LOCAL: Prefix = Prefix {
    bits: 0xfe80_u128 << 112,
    mask: u128::MAX << 64,
};
const LOW64: u128 = u64::MAX as u128;
/// `0000:00ff:fe00:0000`, the IID of a 16-bit address (RFC 6282 §3.2.2).
const SHORT_IID: u128 = 0x0000_00ff_fe00_0000;

#[inline(always)]
fn iid_bits(iid: Option<u64>) -> Option<u128> {
    iid.map(u128::from)
}

/// An interface identifier as a number.
pub(crate) fn iid_u64(iid: Option<[u8; 8]>) -> Option<u64> {
    iid.map(u64::from_be_bytes)
}

/// The interface identifier of a link-layer address (RFC 6282 §3.2.2, RFC 4944 §6), computed
/// arithmetically.
pub(crate) fn link_iid(a: amimesh_core::LinkAddr) -> Option<u64> {
    match a {
        amimesh_core::LinkAddr::Absent => None,
        amimesh_core::LinkAddr::Short(s) => Some(0x0000_00ff_fe00_0000 | u64::from(s.0)),
        amimesh_core::LinkAddr::Extended(e) => Some(e.to_u64() ^ (0x02 << 56)),
    }
}

/// The uncovered bits for SAM/DAM `mode` (1: 64 inline, 2: 16 inline, 3: from the encapsulating
/// header).
#[inline(always)]
fn unicast_base(mode: u8, inline: &[u8], iid: Option<u64>) -> Result<u128> {
    Ok(match mode {
        1 => {
            let mut b = [0u8; 8];
            for (d, s) in b.iter_mut().zip(inline) {
                *d = *s;
            }
            u128::from(u64::from_be_bytes(b))
        }
        2 => {
            let hi = u128::from(inline.first().copied().unwrap_or(0));
            let lo = u128::from(inline.get(1).copied().unwrap_or(0));
            SHORT_IID | (hi << 8) | lo
        }
        _ => iid_bits(iid).ok_or(Error::NoLinkAddress)?,
    })
}

/// Rebuilds a unicast address (RFC 6282 §3.1.1 SAM/DAM rules). `ctx` is [`LINK_LOCAL`] for
/// stateless modes. `inline` holds exactly the inline bytes of the mode.
#[inline(always)]
fn decode_unicast(ctx: Prefix, mode: u8, inline: &[u8], iid: Option<u64>) -> Result<Ipv6Addr> {
    if mode == 0 {
        let mut a = [0u8; 16];
        for (d, s) in a.iter_mut().zip(inline) {
            *d = *s;
        }
        return Ok(Ipv6Addr::from(a));
    }
    Ok(Ipv6Addr::from(ctx.apply(unicast_base(mode, inline, iid)?)))
}

/// Rebuilds a multicast address (RFC 6282 §3.1.1, M = 1).
fn decode_multicast(ctx: Option<&Context>, dam: u8, inline: &[u8]) -> Result<Ipv6Addr> {
    let mut a = [0u8; 16];
    let at = |i: usize| inline.get(i).copied().unwrap_or(0);
    match (ctx, dam) {
        (None, 0) => {
            for (d, s) in a.iter_mut().zip(inline) {
                *d = *s;
            }
        }
        (None, 1) => {
            a[0] = 0xff;
            a[1] = at(0);
            for (d, s) in a.iter_mut().skip(11).zip(inline.iter().skip(1).take(5)) {
                *d = *s;
            }
        }
        (None, 2) => {
            a[0] = 0xff;
            a[1] = at(0);
            for (d, s) in a.iter_mut().skip(13).zip(inline.iter().skip(1).take(3)) {
                *d = *s;
            }
        }
        (None, _) => {
            a[0] = 0xff;
            a[1] = 0x02;
            a[15] = at(0);
        }
        // ffXX:XXLL:PPPP:PPPP:PPPP:PPPP:XXXX:XXXX (RFC 3306 unicast-prefix-based).
        (Some(c), 0) => {
            a[0] = 0xff;
            a[1] = at(0);
            a[2] = at(1);
            a[3] = c.prefix_len.min(64);
            for (d, s) in a.iter_mut().skip(4).zip(c.prefix.octets().iter().take(8)) {
                *d = *s;
            }
            for (d, s) in a.iter_mut().skip(12).zip(inline.iter().skip(2).take(4)) {
                *d = *s;
            }
        }
        (Some(_), _) => return Err(Error::Reserved("multicast DAC=1 with DAM!=00")),
    }
    Ok(Ipv6Addr::from(a))
}

/// How one address is encoded; the inline bytes are taken from the address when emitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AddrEnc {
    /// The address bits of the base header, `M<<3 | AC<<2 | AM`: `M|DAC|DAM` for a
    /// destination, `SAC|SAM` for a source.
    code: u8,
    /// Context id (meaningful when stateful).
    ctx: u8,
    /// Inline length, [`INLINE_LEN`] of `code`.
    len: u8,
}

impl AddrEnc {
    #[inline(always)]
    fn new(stateful: bool, mode: u8, ctx: u8, multicast: bool) -> Self {
        let code = (u8::from(multicast) << 3) | (u8::from(stateful) << 2) | (mode & 3);
        AddrEnc {
            code,
            ctx,
            len: INLINE_LEN.get(usize::from(code)).copied().unwrap_or(0),
        }
    }
    /// SAC / DAC.
    #[inline(always)]
    fn stateful(&self) -> bool {
        self.code & 4 != 0
    }
    #[inline(always)]
    fn len(&self) -> usize {
        self.len.into()
    }
    #[inline(always)]
    fn needs_cid(&self) -> bool {
        self.stateful() && self.ctx != 0
    }
    /// The inline bytes of `a` in this encoding, left-aligned (RFC 6282 §3.1.1 M/DAM table);
    /// the first [`AddrEnc::len`] bytes of the result are the ones sent.
    #[inline(always)]
    fn inline_bits(&self, a: u128) -> u128 {
        let byte1 = (a >> 112) & 0xff;
        match self.code {
            // ffXX:XX.. prefix-based: bytes 1, 2 and 12..16.
            12..=15 => (((a >> 104) & 0xffff) << 112) | ((a & 0xffff_ffff) << 80),
            11 => (a & 0xff) << 120,
            10 => (byte1 << 120) | ((a & 0xff_ffff) << 96),
            9 => (byte1 << 120) | ((a & 0xff_ffff_ffff) << 80),
            8 => a,
            // Unicast: the last `len` bytes.
            _ => match self.len() {
                16 => a,
                8 => a << 64,
                2 => a << 112,
                _ => 0,
            },
        }
    }
}

/// Inline address length indexed by `M<<3 | AC<<2 | AM` (RFC 6282 §3.1.1 SAM/DAM tables);
/// reserved combinations carry nothing.
const INLINE_LEN: [u8; 16] = [16, 8, 2, 0, 0, 8, 2, 0, 16, 6, 4, 1, 6, 0, 0, 0];

/// The smallest mode (3, 2 or 1; 0 = none) in which `prefix` rebuilds `a` exactly.
#[inline(always)]
fn best_mode(a: u128, prefix: Prefix, iid: Option<u128>) -> u8 {
    if a & prefix.mask != prefix.bits {
        return 0;
    }
    let rest = a & !prefix.mask;
    if iid.is_some_and(|i| i & !prefix.mask == rest) {
        3
    } else if (SHORT_IID | (a & 0xffff)) & !prefix.mask == rest {
        2
    } else if a & LOW64 & !prefix.mask == rest {
        1
    } else {
        0
    }
}

/// Inline length of a unicast mode.
fn mode_len(mode: u8) -> usize {
    match mode {
        3 => 0,
        2 => 2,
        1 => 8,
        _ => 16,
    }
}

/// Best (no context byte, any) encodings of a unicast address.
#[inline(always)]
fn best_unicast(a: u128, iid: Option<u64>, ctx: &ContextTable, is_src: bool) -> (AddrEnc, AddrEnc) {
    if is_src && a == 0 {
        let e = AddrEnc::new(true, 0, 0, false);
        return (e, e);
    }
    // Stateless (fe80::/64) modes on 64-bit halves: the same answer as `best_mode` with
    // `LINK_LOCAL`, cheaper on the path every link-local address takes.
    let low = a as u64;
    let ll = if (a >> 64) as u64 != 0xfe80_0000_0000_0000 {
        0
    } else if iid == Some(low) {
        // Fully elided and stateless: nothing is smaller.
        let e = AddrEnc::new(false, 3, 0, false);
        return (e, e);
    } else if low & !0xffff == SHORT_IID as u64 {
        2
    } else {
        1
    };
    debug_assert_eq!(ll, best_mode(a, LINK_LOCAL, iid_bits(iid)));
    let iid = iid_bits(iid);
    // (stateful, mode, ctx) of the best choice in each class; mode 0 = full inline.
    let mut no_cid = (false, ll, 0u8);
    // Context 0 needs no context byte: when it elides the address fully, nothing is smaller
    // and the other contexts need not be searched. A /64 context 0 is checked on halves.
    if let Some(hi) = ctx.context0_prefix64() {
        if (a >> 64) as u64 == hi && iid == Some(u128::from(low)) {
            let e = AddrEnc::new(true, 3, 0, false);
            return (e, e);
        }
    } else if let Some((bits, mask)) = ctx.compressing_prefix(0) {
        if best_mode(a, Prefix { bits, mask }, iid) == 3 {
            let e = AddrEnc::new(true, 3, 0, false);
            return (e, e);
        }
    }
    let mut any = no_cid;
    let better = |m: u8, cur: u8| m != 0 && (cur == 0 || mode_len(m) < mode_len(cur));
    for (id, bits, mask) in ctx.compressing_prefixes() {
        let m = best_mode(a, Prefix { bits, mask }, iid);
        if id == 0 && better(m, no_cid.1) {
            no_cid = (true, m, 0);
        }
        if better(m, any.1) {
            any = (true, m, id);
        }
    }
    if mode_len(no_cid.1) <= mode_len(any.1) {
        any = no_cid;
    }
    (
        AddrEnc::new(no_cid.0, no_cid.1, no_cid.2, false),
        AddrEnc::new(any.0, any.1, any.2, false),
    )
}

/// Best (no context byte, any) encodings of a multicast address.
fn best_multicast(a: u128, ctx: &ContextTable) -> (AddrEnc, AddrEnc) {
    // Bytes 2..n of the address are zero when `a & zero_from_2(n) == 0`.
    const fn zero_from_2(n: u32) -> u128 {
        ((1u128 << ((n - 2) * 8)) - 1) << ((16 - n) * 8)
    }
    if a >> 120 == 0xff {
        let stateless = if (a >> 112) & 0xff == 0x02 && a & zero_from_2(15) == 0 {
            Some(3)
        } else if a & zero_from_2(13) == 0 {
            Some(2)
        } else if a & zero_from_2(11) == 0 {
            Some(1)
        } else {
            None
        };
        if let Some(m) = stateless {
            let e = AddrEnc::new(false, m, 0, true);
            return (e, e);
        }
    }
    let addr = Ipv6Addr::from(a);
    let o = addr.octets();
    let full = AddrEnc::new(false, 0, 0, true);
    let inline = [o[1], o[2], o[12], o[13], o[14], o[15]];
    let mut no_cid = full;
    let mut any = full;
    for (id, c) in ctx.compressing() {
        if decode_multicast(Some(c), 0, &inline).ok() == Some(addr) {
            let e = AddrEnc::new(true, 0, id, true);
            if id == 0 {
                no_cid = e;
                any = e;
                break;
            }
            if any.len() == 16 {
                any = e;
            }
        }
    }
    (no_cid, any)
}

/// The fields an IPHC header carries. Payload length is never carried (it comes from the
/// frame or the fragment header); `next_header` is `None` when the next header is
/// NHC-encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IphcRepr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Inline next header, or `None` for NHC.
    pub next_header: Option<IpProtocol>,
    /// Hop limit.
    pub hop_limit: u8,
    /// IPv6 traffic class (DSCP << 2 | ECN).
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

/// The chosen encoding of a whole header.
#[derive(Debug, Clone, Copy)]
struct Encoding {
    src: AddrEnc,
    dst: AddrEnc,
    cid: bool,
}

impl IphcRepr {
    /// Parses a checked view. `src_iid`/`dst_iid` are the interface identifiers of the
    /// encapsulating header (link-layer addresses, or the outer IPv6 addresses for a
    /// tunnelled header); `ctx` the contexts.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        p: &IphcPacket<&T>,
        src_iid: Option<[u8; 8]>,
        dst_iid: Option<[u8; 8]>,
        ctx: &ContextTable,
    ) -> Result<Self> {
        Self::parse_iid(p, iid_u64(src_iid), iid_u64(dst_iid), ctx)
    }

    /// [`IphcRepr::parse`] with the interface identifiers as numbers.
    pub(crate) fn parse_iid<T: AsRef<[u8]> + ?Sized>(
        p: &IphcPacket<&T>,
        src_iid: Option<u64>,
        dst_iid: Option<u64>,
        ctx: &ContextTable,
    ) -> Result<Self> {
        p.check_len()?;
        Self::parse_bytes(p.buffer.as_ref(), src_iid, dst_iid, ctx).map(|(r, _)| r)
    }

    /// Reads the header in one pass over `b` (the getters of [`IphcPacket`] recompute offsets
    /// field by field); returns the repr and the header length.
    pub(crate) fn parse_bytes(
        b: &[u8],
        src_iid: Option<u64>,
        dst_iid: Option<u64>,
        ctx: &ContextTable,
    ) -> Result<(Self, usize)> {
        let short = |needed: usize| Error::Truncated {
            needed,
            got: b.len(),
        };
        let (&b0, &b1) = match b {
            [b0, b1, ..] => (b0, b1),
            _ => return Err(short(2)),
        };
        if b0 & DISPATCH_MASK != DISPATCH {
            return Err(Error::UnknownDispatch(b0));
        }
        let (tf, nh, hlim) = ((b0 >> 3) & 3, b0 & 0x04 != 0, b0 & 3);
        let (cid, sac, sam) = (b1 & 0x80 != 0, b1 & 0x40 != 0, (b1 >> 4) & 3);
        let (m, dac, dam) = (b1 & 0x08 != 0, b1 & 0x04 != 0, b1 & 3);
        let mut i = 2usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = b.get(i..i + n).ok_or(short(i + n))?;
            i += n;
            Ok(s)
        };
        let (sci, dci) = if cid {
            let c = take(1)?.first().copied().unwrap_or(0);
            (c >> 4, c & 0x0f)
        } else {
            (0, 0)
        };
        let (traffic_class, flow_label) = match tf {
            0 => match take(4)? {
                [t, f0, f1, f2] => (
                    ((t & 0x3f) << 2) | (t >> 6),
                    u32::from_be_bytes([0, f0 & 0x0f, *f1, *f2]),
                ),
                _ => (0, 0),
            },
            1 => match take(3)? {
                [f0, f1, f2] => (f0 >> 6, u32::from_be_bytes([0, f0 & 0x0f, *f1, *f2])),
                _ => (0, 0),
            },
            2 => match take(1)? {
                [t] => (((t & 0x3f) << 2) | (t >> 6), 0),
                _ => (0, 0),
            },
            _ => (0, 0),
        };
        let next_header = if nh {
            None
        } else {
            Some(IpProtocol::from(take(1)?.first().copied().unwrap_or(0)))
        };
        let hop_limit = match hlim {
            1 => 1,
            2 => 64,
            3 => 255,
            _ => take(1)?.first().copied().unwrap_or(0),
        };
        let src_len = inline_len(false, sac, sam);
        let src_inline = take(src_len)?;
        let src_addr = match (sac, sam) {
            (true, 0) => Ipv6Addr::UNSPECIFIED,
            (true, _) => decode_unicast(ctx_prefix(ctx, sci)?, sam, src_inline, src_iid)?,
            (false, _) => decode_unicast(LINK_LOCAL, sam, src_inline, src_iid)?,
        };
        let dst_len = inline_len(m, dac, dam);
        let dst_inline = take(dst_len)?;
        let dst_addr = match (m, dac) {
            (false, false) => decode_unicast(LINK_LOCAL, dam, dst_inline, dst_iid)?,
            (false, true) => {
                if dam == 0 {
                    return Err(Error::Reserved("unicast DAC=1 DAM=00"));
                }
                decode_unicast(ctx_prefix(ctx, dci)?, dam, dst_inline, dst_iid)?
            }
            (true, false) => decode_multicast(None, dam, dst_inline)?,
            (true, true) => {
                if dam != 0 {
                    return Err(Error::Reserved("multicast DAC=1 with DAM!=00"));
                }
                decode_multicast(Some(ctx.lookup(dci)?), 0, dst_inline)?
            }
        };
        Ok((
            IphcRepr {
                src_addr,
                dst_addr,
                next_header,
                hop_limit,
                traffic_class,
                flow_label,
            },
            i,
        ))
    }

    fn fields(&self) -> HeaderFields {
        HeaderFields {
            src: u128::from(self.src_addr),
            dst: u128::from(self.dst_addr),
            next_header: self.next_header.map(u8::from),
            hop_limit: self.hop_limit,
            traffic_class: self.traffic_class,
            flow_label: self.flow_label,
        }
    }

    /// Length of the smallest encoding.
    pub fn buffer_len(
        &self,
        src_iid: Option<[u8; 8]>,
        dst_iid: Option<[u8; 8]>,
        ctx: &ContextTable,
    ) -> usize {
        self.fields().encode(
            &mut [0; SCRATCH_LEN],
            iid_u64(src_iid),
            iid_u64(dst_iid),
            ctx,
        )
    }

    /// Writes the smallest encoding; returns its length.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src_iid: Option<[u8; 8]>,
        dst_iid: Option<[u8; 8]>,
        ctx: &ContextTable,
    ) -> Result<usize> {
        self.emit_iid(buf, iid_u64(src_iid), iid_u64(dst_iid), ctx)
    }

    /// [`IphcRepr::emit`] with the interface identifiers as numbers.
    pub(crate) fn emit_iid(
        &self,
        buf: &mut [u8],
        src_iid: Option<u64>,
        dst_iid: Option<u64>,
        ctx: &ContextTable,
    ) -> Result<usize> {
        let mut s = [0u8; SCRATCH_LEN];
        let n = self.fields().encode(&mut s, src_iid, dst_iid, ctx);
        room(buf, n)?;
        if let (Some(d), Some(s)) = (buf.get_mut(..n), s.get(..n)) {
            d.copy_from_slice(s);
        }
        Ok(n)
    }
}

/// Size of the scratch buffer [`HeaderFields::encode`] writes into: the longest IPHC header
/// (41 bytes) plus room for the 16-byte stores it makes, and for one NHC UDP header after it.
pub(crate) const SCRATCH_LEN: usize = 64;

/// The IPv6 header fields IPHC carries, as numbers: what the encoder works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderFields {
    pub(crate) src: u128,
    pub(crate) dst: u128,
    /// Inline next header, or `None` for NHC.
    pub(crate) next_header: Option<u8>,
    pub(crate) hop_limit: u8,
    pub(crate) traffic_class: u8,
    pub(crate) flow_label: u32,
}

/// Stores `v` big-endian at `s[pos..pos + 16]`; the caller keeps `pos + 16 <= SCRATCH_LEN`.
#[inline(always)]
fn put16(s: &mut [u8; SCRATCH_LEN], pos: usize, v: u128) {
    if let Some(d) = s.get_mut(pos..pos + 16) {
        d.copy_from_slice(&v.to_be_bytes());
    }
}

impl HeaderFields {
    /// The fields of a 40-byte IPv6 header (RFC 8200 §3); `nhc` selects NH = 1.
    #[inline(always)]
    pub(crate) fn from_ipv6(h: &[u8; 40], nhc: bool) -> Self {
        let [w0, w1, w2, w3, _, _, nh, hop_limit, ..] = *h;
        let word0 = u32::from_be_bytes([w0, w1, w2, w3]);
        let (src, dst) = split_addrs(h);
        HeaderFields {
            src,
            dst,
            next_header: if nhc { None } else { Some(nh) },
            hop_limit,
            traffic_class: (word0 >> 20) as u8,
            flow_label: word0 & 0x000f_ffff,
        }
    }

    /// The best (no context byte, any) encoding pair for both addresses (RFC 6282 §3.1.1).
    #[inline(always)]
    fn encoding(&self, src_iid: Option<u64>, dst_iid: Option<u64>, ctx: &ContextTable) -> Encoding {
        let (s0, s1) = best_unicast(self.src, src_iid, ctx, true);
        let multicast = self.dst >> 120 == 0xff;
        let (d0, d1) = if multicast {
            best_multicast(self.dst, ctx)
        } else {
            best_unicast(self.dst, dst_iid, ctx, false)
        };
        let cost0 = s0.len() + d0.len();
        let cid1 = s1.needs_cid() || d1.needs_cid();
        let cost1 = s1.len() + d1.len() + usize::from(cid1);
        if cost1 < cost0 {
            Encoding {
                src: s1,
                dst: d1,
                cid: cid1,
            }
        } else {
            Encoding {
                src: s0,
                dst: d0,
                cid: false,
            }
        }
    }

    /// Writes the smallest IPHC encoding at the start of `s`; returns its length (at most 41).
    pub(crate) fn encode(
        &self,
        s: &mut [u8; SCRATCH_LEN],
        src_iid: Option<u64>,
        dst_iid: Option<u64>,
        ctx: &ContextTable,
    ) -> usize {
        let e = self.encoding(src_iid, dst_iid, ctx);
        let ecn = u32::from(self.traffic_class & 3);
        let dscp = u32::from(self.traffic_class >> 2);
        let fl = self.flow_label & 0xfffff;
        let (tf, tf_bits, tf_len) = match (fl, dscp | ecn, dscp) {
            (0, 0, _) => (3, 0, 0),
            (0, _, _) => (2, (ecn << 6) | dscp, 1),
            (_, _, 0) => (1, (ecn << 22) | fl, 3),
            _ => (0, (ecn << 30) | (dscp << 24) | fl, 4),
        };
        let hlim = match self.hop_limit {
            1 => 1,
            64 => 2,
            255 => 3,
            _ => 0,
        };
        let b0 = DISPATCH | (tf << 3) | (u8::from(self.next_header.is_none()) << 2) | hlim;
        let b1 = (u8::from(e.cid) << 7) | (e.src.code << 4) | e.dst.code;
        // Base header and the short inline fields: context byte, TF fields (at most 4 bytes,
        // written as one left-aligned word), next header, hop limit.
        let mut pos = 2usize;
        let mut put = |s: &mut [u8; SCRATCH_LEN], v: u32, len: usize| {
            if let Some(d) = s.get_mut(pos..pos + 4) {
                d.copy_from_slice(&v.to_be_bytes());
            }
            pos += len;
        };
        if let Some(d) = s.get_mut(..2) {
            d.copy_from_slice(&[b0, b1]);
        }
        if e.cid {
            let sci = if e.src.stateful() { e.src.ctx } else { 0 };
            let dci = if e.dst.stateful() { e.dst.ctx } else { 0 };
            put(s, u32::from((sci << 4) | (dci & 0x0f)) << 24, 1);
        }
        if tf_len > 0 {
            put(s, tf_bits << (32 - 8 * tf_len), tf_len);
        }
        if let Some(nh) = self.next_header {
            put(s, u32::from(nh) << 24, 1);
        }
        if hlim == 0 {
            put(s, u32::from(self.hop_limit) << 24, 1);
        }
        put16(s, pos, e.src.inline_bits(self.src));
        pos += e.src.len();
        put16(s, pos, e.dst.inline_bits(self.dst));
        pos + e.dst.len()
    }
}

/// Source and destination address of an IPv6 header as numbers.
#[inline(always)]
pub(crate) fn split_addrs(h: &[u8; 40]) -> (u128, u128) {
    let at = |i: usize| {
        h.get(i..i + 16)
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .map_or(0, u128::from_be_bytes)
    };
    (at(8), at(24))
}

impl fmt::Display for IphcRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IPHC src={} dst={} nxt={:?} hlim={} tc=0x{:02x} flow=0x{:05x}",
            self.src_addr,
            self.dst_addr,
            self.next_header.map(u8::from),
            self.hop_limit,
            self.traffic_class,
            self.flow_label
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_gens;
    use amimesh_core::{ExtAddr, ShortAddr};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// Every legal encoding of `r`'s addresses, by brute force over the second base byte and
    /// the context byte (the inline address bytes of a mode are the address's own); asserts
    /// none that decodes back to `r` is shorter than `n`, ours.
    fn assert_smallest(
        r: &IphcRepr,
        ours: &[u8],
        si: Option<u64>,
        di: Option<u64>,
        ctx: &ContextTable,
    ) -> Result<(), TestCaseError> {
        let p = IphcPacket::new_checked(ours).unwrap();
        let n = ours.len();
        let middle = &ours[2 + usize::from(p.cid())..n - p.src_len() - p.dst_len()];
        // Only contexts valid for compression may be chosen (RFC 6775 §4.2, C flag).
        let ids: Vec<u8> = ctx.compressing().map(|(i, _)| i).collect();
        let (src, dst) = (u128::from(r.src_addr), u128::from(r.dst_addr));
        for b1 in 0..=255u8 {
            let ctx_bytes: Vec<Option<u8>> = if b1 & 0x80 != 0 {
                ids.iter()
                    .flat_map(|s| ids.iter().map(move |d| Some((s << 4) | d)))
                    .collect()
            } else {
                vec![None]
            };
            // Without a context byte, a stateful source (SAC=1 other than the unspecified
            // address) or destination (DAC=1) uses context 0, which must be valid too.
            let uses_ctx0 =
                b1 & 0x80 == 0 && ((b1 & 0x40 != 0 && b1 & 0x30 != 0) || b1 & 0x04 != 0);
            if uses_ctx0 && !ids.contains(&0) {
                continue;
            }
            for c in ctx_bytes {
                let se = AddrEnc::new(b1 & 0x40 != 0, (b1 >> 4) & 3, 0, false);
                let de = AddrEnc::new(b1 & 0x04 != 0, b1 & 3, 0, b1 & 0x08 != 0);
                let mut cand = vec![ours[0], b1];
                cand.extend(c);
                cand.extend_from_slice(middle);
                cand.extend_from_slice(&se.inline_bits(src).to_be_bytes()[..se.len()]);
                cand.extend_from_slice(&de.inline_bits(dst).to_be_bytes()[..de.len()]);
                if let Ok((back, len)) = IphcRepr::parse_bytes(&cand, si, di, ctx) {
                    if back == *r && len == cand.len() {
                        prop_assert!(len >= n, "{:02x?} shorter than ours {:02x?}", cand, ours);
                    }
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// RFC 6282 §3.1.1: the encoder's choice is never longer than any legal encoding.
        #[test]
        fn encoding_is_smallest(
            src in test_gens::ipv6_addr(),
            dst in test_gens::ipv6_addr(),
            s in test_gens::link_addr(),
            d in test_gens::link_addr(),
            // Rebuild an address from its link address under fe80::/64 or 2001:db8::/64.
            from_link in (0u8..3, 0u8..3),
            ctx in test_gens::contexts(),
            nh in proptest::option::of(test_gens::ip_protocol()),
        ) {
            let (si, di) = (link_iid(s), link_iid(d));
            let derive = |a: Ipv6Addr, how: u8, iid: Option<u64>| match (how, iid) {
                (1, Some(i)) => Ipv6Addr::from((0xfe80u128 << 112) | u128::from(i)),
                (2, Some(i)) => Ipv6Addr::from((0x2001_0db8u128 << 96) | u128::from(i)),
                _ => a,
            };
            let r = IphcRepr {
                src_addr: derive(src, from_link.0, si),
                dst_addr: derive(dst, from_link.1, di),
                next_header: nh,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            };
            let mut buf = [0u8; 64];
            let n = r.emit_iid(&mut buf, si, di, &ctx).unwrap();
            assert_smallest(&r, &buf[..n], si, di, &ctx)?;
        }
    }

    fn ll16(s: u16) -> Option<[u8; 8]> {
        Some(ShortAddr(s).to_iid())
    }

    // OpenThread tests/unit/test_vector.c LL16 echo (FACTS §10): `7a 33 3a`.
    static LL16: [u8; 3] = [
        0x7a, // 011 TF=11 NH=0 HLIM=10 (64)
        0x33, // CID=0 SAC=0 SAM=11 M=0 DAC=0 DAM=11
        0x3a, // next header ICMPv6
    ];

    fn ll16_repr() -> IphcRepr {
        IphcRepr {
            src_addr: "fe80::ff:fe00:0".parse().unwrap(),
            dst_addr: "fe80::ff:fe00:1000".parse().unwrap(),
            next_header: Some(IpProtocol::Icmpv6),
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
    }

    #[test]
    fn deconstruct() {
        let p = IphcPacket::new_checked(&LL16[..]).unwrap();
        assert_eq!(p.tf(), 3);
        assert!(!p.nh());
        assert_eq!(p.hlim(), 2);
        assert!(!p.cid());
        assert!(!p.sac());
        assert_eq!(p.sam(), 3);
        assert!(!p.m());
        assert!(!p.dac());
        assert_eq!(p.dam(), 3);
        assert_eq!(p.next_header(), Some(IpProtocol::Icmpv6));
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.header_len(), 3);
        assert!(p.payload().is_empty());
    }

    #[test]
    fn construct_and_emit() {
        let mut buf = [0xa5u8; 3];
        let n = ll16_repr()
            .emit(&mut buf, ll16(0x0000), ll16(0x1000), &ContextTable::new())
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(buf, LL16);
    }

    #[test]
    fn parse() {
        let p = IphcPacket::new_checked(&LL16[..]).unwrap();
        let r = IphcRepr::parse(&p, ll16(0), ll16(0x1000), &ContextTable::new()).unwrap();
        assert_eq!(r, ll16_repr());
    }

    #[test]
    fn smoltcp_context_vector() {
        // smoltcp iphc.rs `7e f7 00` (FACTS §10): TF=11 NH=1 HLIM=10, CID=1 SAC=1 SAM=11,
        // M=0 DAC=1 DAM=11, context byte 00.
        let b = [0x7e, 0xf7, 0x00];
        let p = IphcPacket::new_checked(&b[..]).unwrap();
        assert!(p.cid() && p.sac() && p.dac() && p.nh());
        assert_eq!((p.sci(), p.dci()), (0, 0));
        let ctx = ContextTable::new()
            .with(0, Context::new("2001:db8::".parse().unwrap(), 64))
            .unwrap();
        let src = ExtAddr([0, 0x12, 0x4b, 0, 0, 0, 0, 1]);
        let r = IphcRepr::parse(&p, Some(src.to_iid()), ll16(0x0002), &ctx).unwrap();
        assert_eq!(
            r.src_addr,
            "2001:db8::212:4b00:0:1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            r.dst_addr,
            "2001:db8::ff:fe00:2".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(r.next_header, None);
        // Our encoder drops the needless context byte (implicit context 0, RFC 6282 §3.1.1).
        let mut out = [0u8; 2];
        assert_eq!(
            r.emit(&mut out, Some(src.to_iid()), ll16(2), &ctx).unwrap(),
            2
        );
        assert_eq!(out, [0x7e, 0x77]);
    }

    #[test]
    fn ll64_multicast_vector() {
        // OpenThread LL64 -> ff02::1: `7a 3b 3a 01` (FACTS §7.5).
        let b = [0x7a, 0x3b, 0x3a, 0x01];
        let p = IphcPacket::new_checked(&b[..]).unwrap();
        let src = ExtAddr([0x14, 0x6e, 0x0a, 0, 0, 0, 0, 1]);
        let r = IphcRepr::parse(&p, Some(src.to_iid()), None, &ContextTable::new()).unwrap();
        assert_eq!(
            r.src_addr,
            "fe80::166e:a00:0:1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(r.dst_addr, "ff02::1".parse::<Ipv6Addr>().unwrap());
        let mut out = [0xa5u8; 4];
        r.emit(&mut out, Some(src.to_iid()), None, &ContextTable::new())
            .unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn traffic_class_rotation() {
        // TC 0xb8 = DSCP 46 (EF), ECN 0 -> inline byte ECN|DSCP = 0x2e (RFC 6282 §3.1.1).
        let r = IphcRepr {
            traffic_class: 0xb9,
            flow_label: 0,
            ..ll16_repr()
        };
        let mut out = [0u8; 8];
        let n = r
            .emit(&mut out, ll16(0), ll16(0x1000), &ContextTable::new())
            .unwrap();
        assert_eq!(&out[..n], &[0x72, 0x33, 0x6e, 0x3a]);
        let p = IphcPacket::new_checked(&out[..n]).unwrap();
        assert_eq!((p.ecn(), p.dscp()), (1, 0x2e));
        let back = IphcRepr::parse(&p, ll16(0), ll16(0x1000), &ContextTable::new()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn errors() {
        assert_eq!(
            IphcPacket::new_checked(&LL16[..1]).unwrap_err(),
            Error::Truncated { needed: 2, got: 1 }
        );
        assert_eq!(
            IphcPacket::new_checked(&LL16[..2]).unwrap_err(),
            Error::Truncated { needed: 3, got: 2 }
        );
        assert_eq!(
            IphcPacket::new_checked(&[0x41u8, 0][..]).unwrap_err(),
            Error::UnknownDispatch(0x41)
        );
        let none = ContextTable::new();
        // Elided source with no link address.
        let p = IphcPacket::new_checked(&LL16[..]).unwrap();
        assert_eq!(
            IphcRepr::parse(&p, None, ll16(0), &none),
            Err(Error::NoLinkAddress)
        );
        // Stateful source without context 0.
        let b = [0x7b, 0x73, 0x3a];
        let p = IphcPacket::new_checked(&b[..]).unwrap();
        assert_eq!(
            IphcRepr::parse(&p, ll16(0), ll16(0), &none),
            Err(Error::UnknownContext(0))
        );
        // Unicast DAC=1 DAM=00 is reserved.
        let b = [0x7b, 0x34, 0x3a];
        let p = IphcPacket::new_checked(&b[..]).unwrap();
        assert_eq!(
            IphcRepr::parse(&p, ll16(0), ll16(0), &none),
            Err(Error::Reserved("unicast DAC=1 DAM=00"))
        );
        // Multicast DAC=1 DAM=01 is reserved.
        let b = [0x7b, 0x3d, 0x3a];
        let p = IphcPacket::new_checked(&b[..]).unwrap();
        assert_eq!(
            IphcRepr::parse(&p, ll16(0), ll16(0), &none),
            Err(Error::Reserved("multicast DAC=1 with DAM!=00"))
        );
        assert_eq!(
            ll16_repr().emit(&mut [0u8; 2], ll16(0), ll16(0x1000), &none),
            Err(Error::BufferTooSmall { required: 3 })
        );
    }
}
