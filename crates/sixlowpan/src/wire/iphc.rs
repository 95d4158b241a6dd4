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
    match (m, stateful, mode & 3) {
        (false, false, 0) => 16,
        (false, _, 1) => 8,
        (false, _, 2) => 2,
        (false, _, _) => 0,
        (true, false, 0) => 16,
        (true, false, 1) => 6,
        (true, false, 2) => 4,
        (true, false, _) => 1,
        (true, true, 0) => 6,
        (true, true, _) => 0,
    }
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
    #[inline(always)]
    fn of(c: &Context) -> Self {
        let (bits, mask) = crate::context::prefix_bits(c.prefix, c.prefix_len);
        Prefix { bits, mask }
    }
    /// RFC 6282 §3.1.1: context bits win, the rest come from `base`.
    #[inline(always)]
    fn apply(self, base: u128) -> u128 {
        self.bits | (base & !self.mask)
    }
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
    /// SAC / DAC.
    stateful: bool,
    /// SAM / DAM.
    mode: u8,
    /// Context id (meaningful when `stateful`).
    ctx: u8,
    /// Destination with M = 1.
    multicast: bool,
}

impl AddrEnc {
    const fn new(stateful: bool, mode: u8, ctx: u8, multicast: bool) -> Self {
        AddrEnc {
            stateful,
            mode,
            ctx,
            multicast,
        }
    }
    fn len(&self) -> usize {
        match (self.multicast, self.stateful, self.mode) {
            (true, true, _) => 6,
            (true, false, 3) => 1,
            (true, false, 2) => 4,
            (true, false, 1) => 6,
            (true, false, _) => 16,
            (false, true, 0) => 0,
            (false, _, m) => mode_len(m),
        }
    }
    fn needs_cid(&self) -> bool {
        self.stateful && self.ctx != 0
    }
    fn write(&self, o: &[u8; 16], w: &mut Writer<'_>) {
        match (self.multicast, self.stateful, self.mode) {
            (true, true, _) => w.put(&[o[1], o[2], o[12], o[13], o[14], o[15]]),
            (true, false, 3) => w.put(&[o[15]]),
            (true, false, 2) => w.put(&[o[1], o[13], o[14], o[15]]),
            (true, false, 1) => w.put(&[o[1], o[11], o[12], o[13], o[14], o[15]]),
            (true, false, _) => w.put(o),
            (false, true, 0) => {}
            (false, _, 0) => w.put(o),
            (false, _, 1) => w.put(o.get(8..).unwrap_or(&[])),
            (false, _, 2) => w.put(o.get(14..).unwrap_or(&[])),
            (false, _, _) => {}
        }
    }
}

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
fn best_unicast(
    addr: &Ipv6Addr,
    iid: Option<u64>,
    ctx: &ContextTable,
    is_src: bool,
) -> (AddrEnc, AddrEnc) {
    if is_src && addr.is_unspecified() {
        let e = AddrEnc::new(true, 0, 0, false);
        return (e, e);
    }
    let a = u128::from(*addr);
    let iid = iid_bits(iid);
    // (stateful, mode, ctx) of the best choice in each class; mode 0 = full inline.
    let ll = best_mode(a, LINK_LOCAL, iid);
    let mut no_cid = (false, ll, 0u8);
    if ll == 3 {
        // Fully elided and stateless: nothing is smaller.
        let e = AddrEnc::new(false, 3, 0, false);
        return (e, e);
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
fn best_multicast(addr: &Ipv6Addr, ctx: &ContextTable) -> (AddrEnc, AddrEnc) {
    let o = addr.octets();
    let zero = |r: core::ops::Range<usize>| o.get(r).is_some_and(|b| b.iter().all(|x| *x == 0));
    let stateless = if o[1] == 0x02 && zero(2..15) {
        Some(AddrEnc::new(false, 3, 0, true))
    } else if zero(2..13) {
        Some(AddrEnc::new(false, 2, 0, true))
    } else if zero(2..11) {
        Some(AddrEnc::new(false, 1, 0, true))
    } else {
        None
    };
    if let Some(e) = stateless.filter(|_| o[0] == 0xff) {
        return (e, e);
    }
    let full = AddrEnc::new(false, 0, 0, true);
    let inline = [o[1], o[2], o[12], o[13], o[14], o[15]];
    let mut no_cid = full;
    let mut any = full;
    for (id, c) in ctx.compressing() {
        if decode_multicast(Some(c), 0, &inline).ok() == Some(*addr) {
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
    multicast: bool,
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
            (true, _) => decode_unicast(Prefix::of(ctx.lookup(sci)?), sam, src_inline, src_iid)?,
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
                decode_unicast(Prefix::of(ctx.lookup(dci)?), dam, dst_inline, dst_iid)?
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

    fn encoding(&self, src_iid: Option<u64>, dst_iid: Option<u64>, ctx: &ContextTable) -> Encoding {
        let (s0, s1) = best_unicast(&self.src_addr, src_iid, ctx, true);
        let multicast = self.dst_addr.is_multicast();
        let (d0, d1) = if multicast {
            best_multicast(&self.dst_addr, ctx)
        } else {
            best_unicast(&self.dst_addr, dst_iid, ctx, false)
        };
        let cost0 = s0.len() + d0.len();
        let cid1 = s1.needs_cid() || d1.needs_cid();
        let cost1 = s1.len() + d1.len() + usize::from(cid1);
        if cost1 < cost0 {
            Encoding {
                src: s1,
                dst: d1,
                multicast,
                cid: cid1,
            }
        } else {
            Encoding {
                src: s0,
                dst: d0,
                multicast,
                cid: false,
            }
        }
    }

    fn tf(&self) -> u8 {
        let dscp = self.traffic_class >> 2;
        match (self.flow_label & 0xfffff, self.traffic_class, dscp) {
            (0, 0, _) => 3,
            (0, _, _) => 2,
            (_, _, 0) => 1,
            _ => 0,
        }
    }

    fn hlim(&self) -> u8 {
        match self.hop_limit {
            1 => 1,
            64 => 2,
            255 => 3,
            _ => 0,
        }
    }

    /// Length of the smallest encoding.
    pub fn buffer_len(
        &self,
        src_iid: Option<[u8; 8]>,
        dst_iid: Option<[u8; 8]>,
        ctx: &ContextTable,
    ) -> usize {
        let e = self.encoding(iid_u64(src_iid), iid_u64(dst_iid), ctx);
        2 + usize::from(e.cid)
            + tf_len(self.tf())
            + usize::from(self.next_header.is_some())
            + usize::from(self.hlim() == 0)
            + e.src.len()
            + e.dst.len()
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
        let e = self.encoding(src_iid, dst_iid, ctx);
        let tf = self.tf();
        let hlim = self.hlim();
        let n = 2
            + usize::from(e.cid)
            + tf_len(tf)
            + usize::from(self.next_header.is_some())
            + usize::from(hlim == 0)
            + e.src.len()
            + e.dst.len();
        room(buf, n)?;
        let mut w = Writer { buf, pos: 0 };
        w.put(&[
            DISPATCH | (tf << 3) | (u8::from(self.next_header.is_none()) << 2) | hlim,
            (u8::from(e.cid) << 7)
                | (u8::from(e.src.stateful) << 6)
                | (e.src.mode << 4)
                | (u8::from(e.multicast) << 3)
                | (u8::from(e.dst.stateful) << 2)
                | e.dst.mode,
        ]);
        if e.cid {
            let sci = if e.src.stateful { e.src.ctx } else { 0 };
            let dci = if e.dst.stateful { e.dst.ctx } else { 0 };
            w.put(&[(sci << 4) | dci]);
        }
        let ecn = self.traffic_class & 3;
        let dscp = self.traffic_class >> 2;
        let fl = (self.flow_label & 0xfffff).to_be_bytes();
        match tf {
            0 => w.put(&[(ecn << 6) | dscp, fl[1], fl[2], fl[3]]),
            1 => w.put(&[(ecn << 6) | fl[1], fl[2], fl[3]]),
            2 => w.put(&[(ecn << 6) | dscp]),
            _ => {}
        }
        if let Some(nh) = self.next_header {
            w.put(&[nh.into()]);
        }
        if hlim == 0 {
            w.put(&[self.hop_limit]);
        }
        e.src.write(&self.src_addr.octets(), &mut w);
        e.dst.write(&self.dst_addr.octets(), &mut w);
        Ok(n)
    }
}

struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(d) = self.buf.get_mut(self.pos..end) {
            d.copy_from_slice(bytes);
        }
        self.pos = end;
    }
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
    use amimesh_core::{ExtAddr, ShortAddr};

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
