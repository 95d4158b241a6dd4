//! The 6LoWPAN Routing Header (RFC 8138) on the page-1 dispatch (RFC 8025 §3): the RPL
//! Packet Information 6LoRH (RPI-6LoRH, RFC 8138 §6.3), the Source Routing Header 6LoRH
//! (SRH-6LoRH, RFC 8138 §5.1) and the IP-in-IP 6LoRH (RFC 8138 §7).
//!
//! - Page switch (RFC 8025 §3): `1111 Page(4)`; [`PAGE_1_DISPATCH`] (`0xf1`) selects page 1,
//!   where `10xxxxxx` starts a 6LoRH (RFC 8138 §4) and LOWPAN_IPHC keeps its page-0 value.
//! - 6LoRH formats (RFC 8138 §4.2, §4.1): Critical `100 Size(5) Type(8)`, Elective
//!   `101 Length(5) Type(8)`.
//! - RPI-6LoRH (RFC 8138 §6.3, Critical, Type 5): `100 O R F I K`, Type = 5, then the
//!   RPLInstanceID (1 octet, absent when I = 1: the instance is 0), then the SenderRank
//!   (2 octets, or 1 octet when K = 1: the most significant octet, the least significant one
//!   being zero and elided). O, R and F are the flags of the RPL option (RFC 6553 §3).
//!   So the header takes 2 to 5 octets; all fields are big-endian.
//! - SRH-6LoRH (RFC 8138 §5.1, Critical, Types 0 to 4): `100 Size(5)`, Type, then
//!   Size + 1 compressed addresses of 1, 2, 4, 8 or 16 octets each (Type 0, 1, 2, 3, 4).
//!   A compressed address stands for its reference address with the trailing octets
//!   replaced by the ones carried ([`coalesce`]); the reference of the first hop is the
//!   root's address (the IPv6 source of a packet the root sends, RFC 8138 §5.4), and that of
//!   every later hop the hop before it, across consecutive SRH-6LoRH headers. So one header
//!   takes 3 to 514 octets.
//! - IP-in-IP 6LoRH (RFC 8138 §7, Elective, Type 6): `101 Length(5)`, Type = 6, the Hop
//!   Limit of the encapsulating IPv6 header, then its source, the Encapsulator Address, in
//!   Length − 1 octets: none when it is the DODAG root (whose address the receiver knows),
//!   else 1, 2, 4 or 8 trailing octets coalesced with the root's address ([`coalesce`]), or
//!   all 16. So the header takes 3 to 19 octets.
use crate::error::{Error, Result, need, room};
use core::fmt;
use core::net::Ipv6Addr;

/// Page switch to page 1 (RFC 8025 §3: `1111 xxxx` selects page `xxxx`).
pub const PAGE_1_DISPATCH: u8 = 0xf1;
/// The 3-bit class of a Critical 6LoRH (RFC 8138 §4.2), in the top bits of its first octet.
pub const CRITICAL_CLASS: u8 = 0b100;
/// The 3-bit class of an Elective 6LoRH (RFC 8138 §4.1).
pub const ELECTIVE_CLASS: u8 = 0b101;
/// 6LoRH Type of the RPI-6LoRH (RFC 8138 §6.3, §10.2).
pub const TYPE_RPI: u8 = 5;
/// Most octets of an RPI-6LoRH (I = 0, K = 0).
pub const RPI_MAX_LEN: usize = 5;
/// Highest 6LoRH Type of an SRH-6LoRH (RFC 8138 §5.1: Types 0 to 4).
pub const TYPE_SRH_MAX: u8 = 4;
/// Most addresses one SRH-6LoRH carries (the 5-bit Size field holds the count − 1).
pub const SRH_MAX_HOPS: usize = 32;
/// Most octets of one SRH-6LoRH (32 addresses of 16 octets).
pub const SRH_MAX_LEN: usize = 2 + SRH_MAX_HOPS * 16;

/// Octets of one compressed address in an SRH-6LoRH of Type `t` (RFC 8138 §5.1: 1, 2, 4, 8,
/// 16 for Types 0 to 4); `None` for any other Type.
pub const fn srh_addr_len(t: u8) -> Option<usize> {
    match t {
        0 => Some(1),
        1 => Some(2),
        2 => Some(4),
        3 => Some(8),
        4 => Some(16),
        _ => None,
    }
}

/// The smallest SRH-6LoRH Type whose compressed form of `addr` rebuilds it from
/// `reference` ([`coalesce`]): the octets `addr` shares with `reference` from the front are
/// elided, in the steps the Types allow (RFC 8138 §5.1).
pub fn srh_type_for(addr: &Ipv6Addr, reference: &Ipv6Addr) -> u8 {
    let (a, r) = (addr.octets(), reference.octets());
    let shared = a.iter().zip(r.iter()).take_while(|(x, y)| x == y).count();
    let mut t = 0u8;
    while let Some(len) = srh_addr_len(t) {
        if 16 - len <= shared {
            return t;
        }
        t += 1;
    }
    TYPE_SRH_MAX
}

/// The address a compressed SRH-6LoRH entry stands for: `reference` with its last
/// `compressed.len()` octets replaced by `compressed` (RFC 8138 §4.3.1). An entry longer than
/// 16 octets keeps its last 16.
pub fn coalesce(reference: &Ipv6Addr, compressed: &[u8]) -> Ipv6Addr {
    let mut a = reference.octets();
    let k = compressed.len().min(16);
    let from = compressed.len() - k;
    if let (Some(d), Some(s)) = (a.get_mut(16 - k..), compressed.get(from..)) {
        d.copy_from_slice(s);
    }
    Ipv6Addr::from(a)
}

/// The last `srh_addr_len(t)` octets of `addr` (its compressed form in an SRH-6LoRH of
/// Type `t`); empty for a Type above 4.
pub fn srh_compressed(addr: &Ipv6Addr, t: u8) -> ([u8; 16], usize) {
    let o = addr.octets();
    let len = srh_addr_len(t).unwrap_or(0);
    let mut out = [0u8; 16];
    if let (Some(d), Some(s)) = (out.get_mut(..len), o.get(16 - len..)) {
        d.copy_from_slice(s);
    }
    (out, len)
}

/// Flag bits of the first octet of an RPI-6LoRH (RFC 8138 §6.3).
pub mod flags {
    /// O: down (RFC 6553 §3).
    pub const O: u8 = 0x10;
    /// R: Rank-Error (RFC 6553 §3).
    pub const R: u8 = 0x08;
    /// F: Forwarding-Error (RFC 6553 §3).
    pub const F: u8 = 0x04;
    /// I: the RPLInstanceID is elided (it is 0).
    pub const I: u8 = 0x02;
    /// K: the SenderRank is one octet (the least significant octet is 0 and elided).
    pub const K: u8 = 0x01;
}

/// A view over an RPI-6LoRH (without the page switch before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rpi6LoRh<T: AsRef<[u8]>> {
    buffer: T,
}

// `check_len` makes sure the buffer holds every octet the flags announce; the getters below
// index only within that length.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
impl<T: AsRef<[u8]>> Rpi6LoRh<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Rpi6LoRh { buffer }
    }

    /// Wraps a buffer and runs [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let v = Self::new_unchecked(buffer);
        v.check_len()?;
        Ok(v)
    }

    /// `Ok` when the buffer holds the two fixed octets and the inline fields the I and K
    /// flags announce; then no getter panics.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 2)?;
        need(b, Self::len_for(b[0]))
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn len_for(first: u8) -> usize {
        2 + usize::from(first & flags::I == 0) + if first & flags::K != 0 { 1 } else { 2 }
    }

    /// Octets of this 6LoRH, from its I and K flags.
    pub fn header_len(&self) -> usize {
        Self::len_for(self.buffer.as_ref()[0])
    }

    /// The 3-bit class: [`CRITICAL_CLASS`] for an RPI-6LoRH.
    pub fn class(&self) -> u8 {
        self.buffer.as_ref()[0] >> 5
    }

    /// The 6LoRH Type ([`TYPE_RPI`]).
    pub fn lorh_type(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// O (down).
    pub fn o_flag(&self) -> bool {
        self.buffer.as_ref()[0] & flags::O != 0
    }

    /// R (Rank-Error).
    pub fn r_flag(&self) -> bool {
        self.buffer.as_ref()[0] & flags::R != 0
    }

    /// F (Forwarding-Error).
    pub fn f_flag(&self) -> bool {
        self.buffer.as_ref()[0] & flags::F != 0
    }

    /// I: RPLInstanceID elided.
    pub fn i_flag(&self) -> bool {
        self.buffer.as_ref()[0] & flags::I != 0
    }

    /// K: SenderRank in one octet.
    pub fn k_flag(&self) -> bool {
        self.buffer.as_ref()[0] & flags::K != 0
    }

    /// The RPLInstanceID (0 when elided).
    pub fn instance_id(&self) -> u8 {
        if self.i_flag() {
            0
        } else {
            self.buffer.as_ref()[2]
        }
    }

    /// The SenderRank (its least significant octet is 0 when K = 1).
    pub fn sender_rank(&self) -> u16 {
        let b = self.buffer.as_ref();
        let at = if self.i_flag() { 2 } else { 3 };
        if self.k_flag() {
            u16::from(b[at]) << 8
        } else {
            u16::from_be_bytes([b[at], b[at + 1]])
        }
    }
}

// Setters write the octets the flags in the first octet announce; changing I or K voids the
// length check.
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]> + AsMut<[u8]>> Rpi6LoRh<T> {
    /// Writes the first octet: the Critical class and the five flags. Changing I or K
    /// changes the length and voids [`check_len`](Rpi6LoRh::check_len).
    pub fn set_class_and_flags(&mut self, class: u8, flag_bits: u8) {
        self.buffer.as_mut()[0] = (class << 5) | (flag_bits & 0x1f);
    }

    /// Writes the 6LoRH Type.
    pub fn set_lorh_type(&mut self, t: u8) {
        self.buffer.as_mut()[1] = t;
    }

    /// Writes the RPLInstanceID (only when I = 0).
    pub fn set_instance_id(&mut self, id: u8) {
        if !self.i_flag() {
            self.buffer.as_mut()[2] = id;
        }
    }

    /// Writes the SenderRank in the form K selects (with K = 1, its most significant octet).
    pub fn set_sender_rank(&mut self, rank: u16) {
        let at = if self.i_flag() { 2 } else { 3 };
        let [hi, lo] = rank.to_be_bytes();
        let k = self.k_flag();
        let b = self.buffer.as_mut();
        b[at] = hi;
        if !k {
            b[at + 1] = lo;
        }
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Rpi6LoRh<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Rpi6LoRhRepr::parse(self) {
            Ok(r) => write!(f, "{r}"),
            Err(e) => write!(f, "RPI-6LoRH ({e})"),
        }
    }
}

/// The RPL Packet Information an RPI-6LoRH carries (RFC 8138 §6.3, fields of RFC 6553 §3).
/// [`emit`](Self::emit) picks the shortest form: I when the instance is 0, K when the
/// SenderRank's least significant octet is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rpi6LoRhRepr {
    /// O: the packet travels down the DODAG.
    pub down: bool,
    /// R: Rank-Error.
    pub rank_error: bool,
    /// F: Forwarding-Error.
    pub forwarding_error: bool,
    /// RPLInstanceID.
    pub instance_id: u8,
    /// SenderRank.
    pub sender_rank: u16,
}

impl Rpi6LoRhRepr {
    /// Reads a checked view; any class but Critical or any Type but 5 is
    /// [`Error::Reserved`].
    pub fn parse<T: AsRef<[u8]>>(v: &Rpi6LoRh<T>) -> Result<Self> {
        v.check_len()?;
        if v.class() != CRITICAL_CLASS || v.lorh_type() != TYPE_RPI {
            return Err(Error::Reserved("6LoRH other than RPI-6LoRH"));
        }
        Ok(Rpi6LoRhRepr {
            down: v.o_flag(),
            rank_error: v.r_flag(),
            forwarding_error: v.f_flag(),
            instance_id: v.instance_id(),
            sender_rank: v.sender_rank(),
        })
    }

    /// Builds the Repr from the 4 data octets of an RPL option (RFC 6553 §3:
    /// `O R F 0 0 0 0 0 | RPLInstanceID | SenderRank`). `None` when a flag bit other than O, R
    /// and F is set, which the RPI-6LoRH cannot carry.
    pub fn from_option_data(d: [u8; 4]) -> Option<Self> {
        if d[0] & 0x1f != 0 {
            return None;
        }
        Some(Rpi6LoRhRepr {
            down: d[0] & 0x80 != 0,
            rank_error: d[0] & 0x40 != 0,
            forwarding_error: d[0] & 0x20 != 0,
            instance_id: d[1],
            sender_rank: u16::from_be_bytes([d[2], d[3]]),
        })
    }

    /// The 4 data octets of the RPL option this stands for (RFC 6553 §3).
    pub fn option_data(&self) -> [u8; 4] {
        let [hi, lo] = self.sender_rank.to_be_bytes();
        let f = (u8::from(self.down) << 7)
            | (u8::from(self.rank_error) << 6)
            | (u8::from(self.forwarding_error) << 5);
        [f, self.instance_id, hi, lo]
    }

    fn flag_bits(&self) -> u8 {
        let mut f = 0;
        if self.down {
            f |= flags::O;
        }
        if self.rank_error {
            f |= flags::R;
        }
        if self.forwarding_error {
            f |= flags::F;
        }
        if self.instance_id == 0 {
            f |= flags::I;
        }
        if self.sender_rank & 0xff == 0 {
            f |= flags::K;
        }
        f
    }

    /// Octets [`emit`](Self::emit) writes (2 to 5).
    pub fn buffer_len(&self) -> usize {
        Rpi6LoRh::<&[u8]>::len_for(self.flag_bits())
    }

    /// Writes the header into a buffer of at least [`buffer_len`](Self::buffer_len) octets.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, v: &mut Rpi6LoRh<T>) {
        v.set_class_and_flags(CRITICAL_CLASS, self.flag_bits());
        v.set_lorh_type(TYPE_RPI);
        v.set_instance_id(self.instance_id);
        v.set_sender_rank(self.sender_rank);
    }

    /// [`emit`](Self::emit) into a slice, checking its size first.
    pub fn emit_bytes(&self, out: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        room(out, n)?;
        self.emit(&mut Rpi6LoRh::new_unchecked(
            out.get_mut(..n).unwrap_or(&mut []),
        ));
        Ok(n)
    }
}

impl fmt::Display for Rpi6LoRhRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RPI-6LoRH O={} R={} F={} instance={} rank={}",
            u8::from(self.down),
            u8::from(self.rank_error),
            u8::from(self.forwarding_error),
            self.instance_id,
            self.sender_rank
        )
    }
}

/// A view over one SRH-6LoRH (RFC 8138 §5.1), without the page switch before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Srh6LoRh<T: AsRef<[u8]>> {
    buffer: T,
}

// `check_len` makes sure the Type is 0 to 4 and the buffer holds every address the Size
// announces; the getters below index only within that length.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
impl<T: AsRef<[u8]>> Srh6LoRh<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Srh6LoRh { buffer }
    }

    /// Wraps a buffer and runs [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let v = Self::new_unchecked(buffer);
        v.check_len()?;
        Ok(v)
    }

    /// `Ok` when the buffer holds the two fixed octets, the Type is 0 to 4 (else
    /// [`Error::Reserved`]: its address size is unknown) and the buffer holds Size + 1
    /// addresses of that size; then no getter panics.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 2)?;
        if srh_addr_len(b[1]).is_none() {
            return Err(Error::Reserved("6LoRH Type is not an SRH-6LoRH"));
        }
        need(b, self.header_len())
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The 3-bit class: [`CRITICAL_CLASS`] for an SRH-6LoRH.
    pub fn class(&self) -> u8 {
        self.buffer.as_ref()[0] >> 5
    }

    /// The Size field: the number of addresses − 1.
    pub fn size(&self) -> u8 {
        self.buffer.as_ref()[0] & 0x1f
    }

    /// The 6LoRH Type (0 to 4).
    pub fn lorh_type(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// Number of addresses (Size + 1).
    pub fn hop_count(&self) -> usize {
        usize::from(self.size()) + 1
    }

    /// Octets of each compressed address (1, 2, 4, 8 or 16).
    pub fn addr_len(&self) -> usize {
        srh_addr_len(self.lorh_type()).unwrap_or(16)
    }

    /// Octets of this 6LoRH.
    pub fn header_len(&self) -> usize {
        2 + self.hop_count() * self.addr_len()
    }

    /// Compressed address `i` (0-based); `None` past the last.
    pub fn hop(&self, i: usize) -> Option<&[u8]> {
        if i >= self.hop_count() {
            return None;
        }
        let l = self.addr_len();
        Some(&self.buffer.as_ref()[2 + i * l..2 + (i + 1) * l])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Srh6LoRh<&'a T> {
    /// All compressed addresses, back to back.
    pub fn hops(&self) -> &'a [u8] {
        let end = self.header_len();
        self.buffer.as_ref().get(2..end).unwrap_or(&[])
    }
}

// Setters write the octets the first two octets announce; changing Size or Type voids the
// length check.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
impl<T: AsRef<[u8]> + AsMut<[u8]>> Srh6LoRh<T> {
    /// Writes the first octet: the class and the Size (addresses − 1). Changing the Size
    /// changes the length and voids [`check_len`](Srh6LoRh::check_len).
    pub fn set_class_and_size(&mut self, class: u8, size: u8) {
        self.buffer.as_mut()[0] = (class << 5) | (size & 0x1f);
    }

    /// Writes the 6LoRH Type (voids the length check like the Size).
    pub fn set_lorh_type(&mut self, t: u8) {
        self.buffer.as_mut()[1] = t;
    }

    /// Writes compressed address `i` (0-based; `hop` must be [`addr_len`](Srh6LoRh::addr_len)
    /// octets long).
    pub fn set_hop(&mut self, i: usize, hop: &[u8]) {
        let l = self.addr_len();
        self.buffer.as_mut()[2 + i * l..2 + (i + 1) * l].copy_from_slice(hop);
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Srh6LoRh<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Srh6LoRhRepr::parse(&Srh6LoRh::new_unchecked(self.buffer.as_ref())) {
            Ok(r) => write!(f, "{r}"),
            Err(e) => write!(f, "SRH-6LoRH ({e})"),
        }
    }
}

/// One SRH-6LoRH (RFC 8138 §5.1): the Type (compressed address size) and the compressed
/// addresses, which stand for full addresses only together with their reference
/// ([`coalesce`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Srh6LoRhRepr<'a> {
    /// 6LoRH Type, 0 to 4 (addresses of 1, 2, 4, 8, 16 octets).
    pub lorh_type: u8,
    /// The compressed addresses back to back: 1 to 32 of [`srh_addr_len`]`(lorh_type)`
    /// octets each.
    pub hops: &'a [u8],
}

impl<'a> Srh6LoRhRepr<'a> {
    /// Reads a view; any class but Critical is [`Error::Reserved`], a Type above 4 too.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(v: &Srh6LoRh<&'a T>) -> Result<Self> {
        v.check_len()?;
        if v.class() != CRITICAL_CLASS {
            return Err(Error::Reserved("Elective 6LoRH with an SRH-6LoRH Type"));
        }
        Ok(Srh6LoRhRepr {
            lorh_type: v.lorh_type(),
            hops: v.hops(),
        })
    }

    /// Number of addresses; `None` unless the Type is 0 to 4 and `hops` holds 1 to 32 whole
    /// addresses of its size.
    pub fn hop_count(&self) -> Option<usize> {
        let l = srh_addr_len(self.lorh_type)?;
        let n = self.hops.len() / l;
        (self.hops.len() % l == 0 && (1..=SRH_MAX_HOPS).contains(&n)).then_some(n)
    }

    /// Octets [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        2 + self.hops.len()
    }

    /// Writes the header into a buffer of at least [`buffer_len`](Self::buffer_len) octets.
    /// A Repr whose [`hop_count`](Self::hop_count) is `None` writes a Size that does not
    /// match (use [`emit_bytes`](Self::emit_bytes), which refuses it).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, v: &mut Srh6LoRh<T>) {
        let size = self.hop_count().unwrap_or(1).saturating_sub(1);
        v.set_class_and_size(CRITICAL_CLASS, size as u8);
        v.set_lorh_type(self.lorh_type);
        if let Some(d) = v.buffer.as_mut().get_mut(2..2 + self.hops.len()) {
            d.copy_from_slice(self.hops);
        }
    }

    /// [`emit`](Self::emit) into a slice, checking the Repr ([`Error::BadLength`]) and the
    /// slice's size first.
    pub fn emit_bytes(&self, out: &mut [u8]) -> Result<usize> {
        self.hop_count().ok_or(Error::BadLength)?;
        let n = self.buffer_len();
        room(out, n)?;
        self.emit(&mut Srh6LoRh::new_unchecked(
            out.get_mut(..n).unwrap_or(&mut []),
        ));
        Ok(n)
    }

    /// The full addresses, each coalesced with the one before it and the first with
    /// `reference` (RFC 8138 §5.1); returns the last, the reference of a following
    /// SRH-6LoRH. `each` gets every address in order.
    pub fn expand(&self, reference: &Ipv6Addr, mut each: impl FnMut(Ipv6Addr)) -> Ipv6Addr {
        let l = srh_addr_len(self.lorh_type).unwrap_or(16);
        let mut r = *reference;
        for c in self.hops.chunks_exact(l) {
            r = coalesce(&r, c);
            each(r);
        }
        r
    }
}

impl fmt::Display for Srh6LoRhRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = srh_addr_len(self.lorh_type).unwrap_or(16);
        write!(f, "SRH-6LoRH type={} hops=[", self.lorh_type)?;
        for (i, c) in self.hops.chunks(l).enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            for b in c {
                write!(f, "{b:02x}")?;
            }
        }
        write!(f, "]")
    }
}

/// 6LoRH Type of the IP-in-IP 6LoRH (RFC 8138 §7, §10.3).
pub const TYPE_IP_IN_IP: u8 = 6;
/// Most octets of an IP-in-IP 6LoRH (a 16-octet Encapsulator Address).
pub const IP_IN_IP_MAX_LEN: usize = 3 + 16;

/// Whether an IP-in-IP 6LoRH may carry an Encapsulator Address of `n` octets (RFC 8138 §7:
/// Length 1 elides it, Lengths 2, 3, 5, 9 and 17 carry 1, 2, 4, 8 or 16 octets).
pub const fn ip_in_ip_addr_len_ok(n: usize) -> bool {
    matches!(n, 0 | 1 | 2 | 4 | 8 | 16)
}

/// The shortest Encapsulator Address an IP-in-IP 6LoRH can carry for `addr` (RFC 8138 §7):
/// nothing when it is the root's address `root`, its trailing octets when the rest is the
/// root's (coalesced as SRH-6LoRH addresses are, [`coalesce`]), all 16 octets when no root
/// address is known. Returns the octets and how many are used.
pub fn ip_in_ip_compressed(addr: &Ipv6Addr, root: Option<&Ipv6Addr>) -> ([u8; 16], usize) {
    match root {
        Some(r) if r == addr => ([0; 16], 0),
        Some(r) => srh_compressed(addr, srh_type_for(addr, r)),
        None => (addr.octets(), 16),
    }
}

/// A view over an IP-in-IP 6LoRH (RFC 8138 §7), without the page switch before it:
/// `101 Length(5)`, Type 6, the Hop Limit of the encapsulating IPv6 header, then Length − 1
/// octets of Encapsulator Address (the encapsulating header's source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInIp6LoRh<T: AsRef<[u8]>> {
    buffer: T,
}

// `check_len` makes sure the Length holds the Hop Limit at least and that the buffer holds
// every octet it announces; the getters below index only within that length.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
impl<T: AsRef<[u8]>> IpInIp6LoRh<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        IpInIp6LoRh { buffer }
    }

    /// Wraps a buffer and runs [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let v = Self::new_unchecked(buffer);
        v.check_len()?;
        Ok(v)
    }

    /// `Ok` when the buffer holds the two fixed octets, the Length is at least 1 (the Hop
    /// Limit; else [`Error::BadLength`]) and the buffer holds the Length octets after the
    /// Type; then no getter panics.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 2)?;
        if b[0] & 0x1f == 0 {
            return Err(Error::BadLength);
        }
        need(b, self.header_len())
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The 3-bit class: [`ELECTIVE_CLASS`] for an IP-in-IP 6LoRH.
    pub fn class(&self) -> u8 {
        self.buffer.as_ref()[0] >> 5
    }

    /// The Length field: octets after the Type (the Hop Limit and the Encapsulator Address).
    pub fn length(&self) -> u8 {
        self.buffer.as_ref()[0] & 0x1f
    }

    /// The 6LoRH Type ([`TYPE_IP_IN_IP`]).
    pub fn lorh_type(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The Hop Limit of the encapsulating IPv6 header.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[2]
    }

    /// Octets of this 6LoRH (2 + Length).
    pub fn header_len(&self) -> usize {
        2 + usize::from(self.length())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> IpInIp6LoRh<&'a T> {
    /// The Encapsulator Address as carried (Length − 1 octets; empty when elided).
    pub fn encapsulator(&self) -> &'a [u8] {
        let end = self.header_len();
        self.buffer.as_ref().get(3..end).unwrap_or(&[])
    }
}

// Setters write the octets the first octet announces; changing the Length voids the length
// check.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
impl<T: AsRef<[u8]> + AsMut<[u8]>> IpInIp6LoRh<T> {
    /// Writes the first octet: the class and the Length (voids
    /// [`check_len`](IpInIp6LoRh::check_len) when it changes).
    pub fn set_class_and_length(&mut self, class: u8, length: u8) {
        self.buffer.as_mut()[0] = (class << 5) | (length & 0x1f);
    }

    /// Writes the 6LoRH Type.
    pub fn set_lorh_type(&mut self, t: u8) {
        self.buffer.as_mut()[1] = t;
    }

    /// Writes the Hop Limit.
    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.buffer.as_mut()[2] = hop_limit;
    }

    /// Writes the Encapsulator Address (Length − 1 octets).
    pub fn set_encapsulator(&mut self, addr: &[u8]) {
        self.buffer.as_mut()[3..3 + addr.len()].copy_from_slice(addr);
    }
}

impl<T: AsRef<[u8]>> fmt::Display for IpInIp6LoRh<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match IpInIp6LoRhRepr::parse(&IpInIp6LoRh::new_unchecked(self.buffer.as_ref())) {
            Ok(r) => write!(f, "{r}"),
            Err(e) => write!(f, "IP-in-IP-6LoRH ({e})"),
        }
    }
}

/// The encapsulating IPv6 header an IP-in-IP 6LoRH stands for (RFC 8138 §7): its Hop Limit
/// and its source, the Encapsulator Address, compressed against the DODAG root's address
/// ([`encapsulator_addr`](Self::encapsulator_addr)). The rest of that header is implied:
/// version 6, Traffic Class and Flow Label 0, Next Header 41 (the inner packet follows, RFC
/// 2473 §3) unless the 6LoRH before it add extension headers, payload length from the
/// frame, destination from the SRH-6LoRH before it or from the inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IpInIp6LoRhRepr<'a> {
    /// Hop Limit of the encapsulating header.
    pub hop_limit: u8,
    /// The Encapsulator Address as carried: 0 (the root), 1, 2, 4, 8 or 16 octets.
    pub encapsulator: &'a [u8],
}

impl<'a> IpInIp6LoRhRepr<'a> {
    /// Reads a view; any class but Elective, any Type but 6, or an Encapsulator Address of
    /// a size other than 0, 1, 2, 4, 8 or 16 octets is [`Error::Reserved`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(v: &IpInIp6LoRh<&'a T>) -> Result<Self> {
        v.check_len()?;
        if v.class() != ELECTIVE_CLASS || v.lorh_type() != TYPE_IP_IN_IP {
            return Err(Error::Reserved("6LoRH other than IP-in-IP-6LoRH"));
        }
        let encapsulator = v.encapsulator();
        if !ip_in_ip_addr_len_ok(encapsulator.len()) {
            return Err(Error::Reserved(
                "IP-in-IP-6LoRH Length not 1, 2, 3, 5, 9 or 17",
            ));
        }
        Ok(IpInIp6LoRhRepr {
            hop_limit: v.hop_limit(),
            encapsulator,
        })
    }

    /// The Encapsulator Address: the 16 octets carried, or the root's address `root` with
    /// its trailing octets replaced by the ones carried (RFC 8138 §7; nothing carried: the
    /// root itself). `None` when some octets are elided and no root address is known.
    pub fn encapsulator_addr(&self, root: Option<&Ipv6Addr>) -> Option<Ipv6Addr> {
        match <[u8; 16]>::try_from(self.encapsulator) {
            Ok(a) => Some(Ipv6Addr::from(a)),
            Err(_) => root.map(|r| coalesce(r, self.encapsulator)),
        }
    }

    /// Octets [`emit`](Self::emit) writes (3 to 19).
    pub fn buffer_len(&self) -> usize {
        3 + self.encapsulator.len()
    }

    /// Writes the header into a buffer of at least [`buffer_len`](Self::buffer_len) octets.
    /// An Encapsulator Address longer than 16 octets writes a Length that does not match
    /// (use [`emit_bytes`](Self::emit_bytes), which refuses it).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, v: &mut IpInIp6LoRh<T>) {
        let len = self.encapsulator.len().min(30) as u8 + 1;
        v.set_class_and_length(ELECTIVE_CLASS, len);
        v.set_lorh_type(TYPE_IP_IN_IP);
        v.set_hop_limit(self.hop_limit);
        if let Some(d) = v.buffer.as_mut().get_mut(3..3 + self.encapsulator.len()) {
            d.copy_from_slice(self.encapsulator);
        }
    }

    /// [`emit`](Self::emit) into a slice, checking the Repr ([`Error::BadLength`] for an
    /// Encapsulator Address of another size than 0, 1, 2, 4, 8 or 16 octets) and the
    /// slice's size first.
    pub fn emit_bytes(&self, out: &mut [u8]) -> Result<usize> {
        if !ip_in_ip_addr_len_ok(self.encapsulator.len()) {
            return Err(Error::BadLength);
        }
        let n = self.buffer_len();
        room(out, n)?;
        self.emit(&mut IpInIp6LoRh::new_unchecked(
            out.get_mut(..n).unwrap_or(&mut []),
        ));
        Ok(n)
    }
}

impl fmt::Display for IpInIp6LoRhRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IP-in-IP-6LoRH hlim={} encapsulator=", self.hop_limit)?;
        if self.encapsulator.is_empty() {
            return write!(f, "root");
        }
        for b in self.encapsulator {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Every cut of the 6LoRH `full` fails `check` as truncated: short of the two octets that
/// give its length, then short of its whole length.
#[cfg(test)]
fn assert_truncations(full: &[u8], check: impl Fn(&[u8]) -> Result<()>) {
    for n in 0..full.len() {
        let needed = if n < 2 { 2 } else { full.len() };
        assert_eq!(
            check(&full[..n]),
            Err(Error::Truncated { needed, got: n }),
            "{n}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_gens::rpi_6lorh_repr;
    use proptest::prelude::*;

    // RFC 8138 §6.3 Figure 13 (least compressed form, I = 0, K = 0): O = 1, instance 0x1e,
    // SenderRank 0x0301.
    static FULL: [u8; 5] = [
        0x90, // 100 (Critical) | O=1 R=0 F=0 I=0 K=0
        0x05, // 6LoRH Type 5: RPI-6LoRH
        0x1e, // RPLInstanceID
        0x03, 0x01, // SenderRank
    ];
    // RFC 8138 §6.3, the most compressed form (I = 1, K = 1): instance 0, SenderRank 0x0200.
    static SHORT: [u8; 3] = [
        0x83, // 100 | O=0 R=0 F=0 I=1 K=1
        0x05, // Type 5
        0x02, // SenderRank, most significant octet
    ];

    fn full_repr() -> Rpi6LoRhRepr {
        Rpi6LoRhRepr {
            down: true,
            rank_error: false,
            forwarding_error: false,
            instance_id: 0x1e,
            sender_rank: 0x0301,
        }
    }

    fn short_repr() -> Rpi6LoRhRepr {
        Rpi6LoRhRepr {
            down: false,
            rank_error: false,
            forwarding_error: false,
            instance_id: 0,
            sender_rank: 0x0200,
        }
    }

    #[test]
    fn deconstruct() {
        let v = Rpi6LoRh::new_checked(&FULL[..]).unwrap();
        assert_eq!(v.class(), CRITICAL_CLASS);
        assert_eq!(v.lorh_type(), TYPE_RPI);
        assert!(v.o_flag() && !v.r_flag() && !v.f_flag() && !v.i_flag() && !v.k_flag());
        assert_eq!(v.instance_id(), 0x1e);
        assert_eq!(v.sender_rank(), 0x0301);
        assert_eq!(v.header_len(), 5);
        let v = Rpi6LoRh::new_checked(&SHORT[..]).unwrap();
        assert!(v.i_flag() && v.k_flag() && !v.o_flag());
        assert_eq!(
            (v.instance_id(), v.sender_rank(), v.header_len()),
            (0, 0x0200, 3)
        );
    }

    #[test]
    fn construct() {
        let mut b = [0xa5u8; 5];
        let mut v = Rpi6LoRh::new_unchecked(&mut b[..]);
        v.set_class_and_flags(CRITICAL_CLASS, flags::O);
        v.set_lorh_type(TYPE_RPI);
        v.set_instance_id(0x1e);
        v.set_sender_rank(0x0301);
        assert_eq!(b, FULL);
        let mut b = [0xa5u8; 3];
        let mut v = Rpi6LoRh::new_unchecked(&mut b[..]);
        v.set_class_and_flags(CRITICAL_CLASS, flags::I | flags::K);
        v.set_lorh_type(TYPE_RPI);
        v.set_instance_id(9); // elided: writes nothing
        v.set_sender_rank(0x0200);
        assert_eq!(b, SHORT);
    }

    #[test]
    fn parse() {
        let v = Rpi6LoRh::new_checked(&FULL[..]).unwrap();
        assert_eq!(Rpi6LoRhRepr::parse(&v).unwrap(), full_repr());
        let v = Rpi6LoRh::new_checked(&SHORT[..]).unwrap();
        assert_eq!(Rpi6LoRhRepr::parse(&v).unwrap(), short_repr());
        // I = 0 with instance 0 and K = 0 with a zero low octet parse to the same values.
        let long = [0x80, 0x05, 0x00, 0x02, 0x00];
        let v = Rpi6LoRh::new_checked(&long[..]).unwrap();
        assert_eq!(Rpi6LoRhRepr::parse(&v).unwrap(), short_repr());
    }

    #[test]
    fn emit() {
        let mut b = [0xa5u8; 5];
        assert_eq!(full_repr().emit_bytes(&mut b).unwrap(), 5);
        assert_eq!(b, FULL);
        let mut b = [0xa5u8; 3];
        assert_eq!(short_repr().emit_bytes(&mut b).unwrap(), 3);
        assert_eq!(b, SHORT);
        // I = 1, K = 0 (4 octets) and I = 0, K = 1 (4 octets).
        let mut r = short_repr();
        r.sender_rank = 0x0280;
        let mut b = [0xa5u8; 4];
        assert_eq!(r.emit_bytes(&mut b).unwrap(), 4);
        assert_eq!(b, [0x82, 0x05, 0x02, 0x80]);
        r.sender_rank = 0x0100;
        r.instance_id = 7;
        r.rank_error = true;
        r.forwarding_error = true;
        assert_eq!(r.emit_bytes(&mut b).unwrap(), 4);
        assert_eq!(b, [0x8d, 0x05, 0x07, 0x01]);
    }

    #[test]
    fn option_data_round_trip() {
        let r = full_repr();
        assert_eq!(r.option_data(), [0x80, 0x1e, 0x03, 0x01]);
        assert_eq!(Rpi6LoRhRepr::from_option_data(r.option_data()), Some(r));
        // A flag bit the RPI-6LoRH has no room for.
        assert_eq!(Rpi6LoRhRepr::from_option_data([0x81, 0, 0, 0]), None);
    }

    #[test]
    fn errors() {
        assert_truncations(&FULL, |b| Rpi6LoRh::new_checked(b).map(drop));
        // Elective class, and another Critical type (RH3-6LoRH, type 0).
        for b in [[0xa3, 0x05, 0x02], [0x83, 0x00, 0x02]] {
            let v = Rpi6LoRh::new_checked(&b[..]).unwrap();
            assert!(matches!(Rpi6LoRhRepr::parse(&v), Err(Error::Reserved(_))));
        }
        assert_eq!(
            short_repr().emit_bytes(&mut [0u8; 2]),
            Err(Error::BufferTooSmall { required: 3 })
        );
    }

    proptest! {
        #[test]
        fn emit_then_parse(r in rpi_6lorh_repr()) {
            let mut b = [0xa5u8; RPI_MAX_LEN];
            let n = r.emit_bytes(&mut b).unwrap();
            let v = Rpi6LoRh::new_checked(&b[..n]).unwrap();
            prop_assert_eq!(Rpi6LoRhRepr::parse(&v).unwrap(), r);
        }

        #[test]
        fn buffer_len_is_bytes_written(r in rpi_6lorh_repr()) {
            let mut b = [0xa5u8; RPI_MAX_LEN + 1];
            let n = r.emit_bytes(&mut b).unwrap();
            prop_assert_eq!(n, r.buffer_len());
            prop_assert_eq!(Rpi6LoRh::new_checked(&b[..]).unwrap().header_len(), n);
            prop_assert!(b[n..].iter().all(|&x| x == 0xa5));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..8)) {
            if let Ok(v) = Rpi6LoRh::new_checked(&b[..]) {
                let _ = Rpi6LoRhRepr::parse(&v);
                let _ = std::format!("{v}");
            }
        }

        #[test]
        fn parse_emit_parse_is_a_fixed_point(b in proptest::collection::vec(any::<u8>(), 2..6)) {
            let Ok(v) = Rpi6LoRh::new_checked(&b[..]) else { return Ok(()) };
            let Ok(r) = Rpi6LoRhRepr::parse(&v) else { return Ok(()) };
            let mut out = [0xa5u8; RPI_MAX_LEN];
            let n = r.emit_bytes(&mut out).unwrap();
            let v2 = Rpi6LoRh::new_checked(&out[..n]).unwrap();
            prop_assert_eq!(Rpi6LoRhRepr::parse(&v2).unwrap(), r);
            prop_assert!(n <= v.header_len());
        }
    }
}

#[cfg(test)]
mod srh_tests {
    use super::*;
    use crate::test_gens::srh_6lorh_parts;
    use proptest::prelude::*;

    // RFC 8138 §5.1 format, Type 1 (2-octet addresses), Size 1: two hops.
    static TWO_HOPS: [u8; 6] = [
        0x81, // 100 (Critical) | Size = 1: two addresses
        0x01, // 6LoRH Type 1: 2-octet compressed addresses
        0x00, 0x02, // hop 1: last two octets
        0x00, 0x03, // hop 2
    ];
    // Type 3 (8-octet addresses), Size 0: one hop, an interface identifier.
    static ONE_IID: [u8; 10] = [
        0x80, // 100 | Size = 0: one address
        0x03, // Type 3: 8-octet compressed addresses
        0x02, 0x12, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x07, // hop 1
    ];

    fn reference() -> Ipv6Addr {
        "2001:db8::212:4b00:0:1".parse().unwrap()
    }

    #[test]
    fn deconstruct() {
        let v = Srh6LoRh::new_checked(&TWO_HOPS[..]).unwrap();
        assert_eq!(
            (v.class(), v.size(), v.lorh_type(), v.hop_count()),
            (CRITICAL_CLASS, 1, 1, 2)
        );
        assert_eq!((v.addr_len(), v.header_len()), (2, 6));
        assert_eq!(v.hop(0), Some(&[0x00, 0x02][..]));
        assert_eq!(v.hop(1), Some(&[0x00, 0x03][..]));
        assert_eq!(v.hop(2), None);
        assert_eq!(v.hops(), &TWO_HOPS[2..]);
        let v = Srh6LoRh::new_checked(&ONE_IID[..]).unwrap();
        assert_eq!((v.size(), v.lorh_type(), v.header_len()), (0, 3, 10));
        assert_eq!(v.hop(0), Some(&ONE_IID[2..]));
    }

    #[test]
    fn construct() {
        let mut b = [0xa5u8; 6];
        let mut v = Srh6LoRh::new_unchecked(&mut b[..]);
        v.set_class_and_size(CRITICAL_CLASS, 1);
        v.set_lorh_type(1);
        v.set_hop(0, &[0x00, 0x02]);
        v.set_hop(1, &[0x00, 0x03]);
        assert_eq!(b, TWO_HOPS);
        let mut b = [0xa5u8; 10];
        let mut v = Srh6LoRh::new_unchecked(&mut b[..]);
        v.set_class_and_size(CRITICAL_CLASS, 0);
        v.set_lorh_type(3);
        v.set_hop(0, &ONE_IID[2..]);
        assert_eq!(b, ONE_IID);
    }

    #[test]
    fn parse() {
        let v = Srh6LoRh::new_checked(&TWO_HOPS[..]).unwrap();
        let r = Srh6LoRhRepr::parse(&v).unwrap();
        assert_eq!(
            r,
            Srh6LoRhRepr {
                lorh_type: 1,
                hops: &[0, 2, 0, 3]
            }
        );
        assert_eq!(r.hop_count(), Some(2));
        // Each hop is coalesced with the one before it, the first with the reference.
        let mut got = std::vec::Vec::new();
        let last = r.expand(&reference(), |a| got.push(a));
        let want: [Ipv6Addr; 2] = [
            "2001:db8::212:4b00:0:2".parse().unwrap(),
            "2001:db8::212:4b00:0:3".parse().unwrap(),
        ];
        assert_eq!(got, want);
        assert_eq!(last, want[1]);
        let v = Srh6LoRh::new_checked(&ONE_IID[..]).unwrap();
        let r = Srh6LoRhRepr::parse(&v).unwrap();
        assert_eq!(r.lorh_type, 3);
        assert_eq!(
            r.expand(&reference(), |_| {}),
            "2001:db8::212:4b00:0:7".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn emit() {
        let r = Srh6LoRhRepr {
            lorh_type: 1,
            hops: &TWO_HOPS[2..],
        };
        let mut b = [0xa5u8; 6];
        assert_eq!(r.emit_bytes(&mut b).unwrap(), 6);
        assert_eq!(b, TWO_HOPS);
        let r = Srh6LoRhRepr {
            lorh_type: 3,
            hops: &ONE_IID[2..],
        };
        let mut b = [0xa5u8; 10];
        assert_eq!(r.emit_bytes(&mut b).unwrap(), 10);
        assert_eq!(b, ONE_IID);
        // 32 one-octet hops: Size 31.
        let hops = [7u8; SRH_MAX_HOPS];
        let r = Srh6LoRhRepr {
            lorh_type: 0,
            hops: &hops,
        };
        let mut b = [0xa5u8; 2 + SRH_MAX_HOPS];
        assert_eq!(r.emit_bytes(&mut b).unwrap(), 34);
        assert_eq!(&b[..2], &[0x9f, 0x00]);
    }

    #[test]
    fn address_compression() {
        let r = reference();
        let t = |a: &str| srh_type_for(&a.parse().unwrap(), &r);
        assert_eq!(t("2001:db8::212:4b00:0:1"), 0); // identical: still one octet
        assert_eq!(t("2001:db8::212:4b00:0:9"), 0);
        assert_eq!(t("2001:db8::212:4b00:0:109"), 1);
        assert_eq!(t("2001:db8::212:4b00:1:9"), 2);
        assert_eq!(t("2001:db8::1:2:3:4"), 3);
        assert_eq!(t("2001:db8:1::1"), 4);
        assert_eq!(t("fe80::1"), 4);
        for s in ["2001:db8::212:4b00:0:109", "2001:db8::1:2:3:4", "fd00::1"] {
            let a: Ipv6Addr = s.parse().unwrap();
            let ty = srh_type_for(&a, &r);
            let (c, len) = srh_compressed(&a, ty);
            assert_eq!(Some(len), srh_addr_len(ty));
            assert_eq!(coalesce(&r, &c[..len]), a);
        }
        assert_eq!(srh_addr_len(5), None);
        assert_eq!(srh_compressed(&r, 9).1, 0);
    }

    #[test]
    fn errors() {
        for full in [&TWO_HOPS[..], &ONE_IID[..]] {
            assert_truncations(full, |b| Srh6LoRh::new_checked(b).map(drop));
        }
        // Size 31 with 16-octet addresses needs 514 octets.
        assert_eq!(
            Srh6LoRh::new_checked(&[0x9f, 0x04, 0, 0][..]).unwrap_err(),
            Error::Truncated {
                needed: SRH_MAX_LEN,
                got: 4
            }
        );
        // Types 5 and up are not SRH-6LoRH; the Elective class is not either.
        for t in [5u8, 6, 0xff] {
            assert!(matches!(
                Srh6LoRh::new_checked(&[0x80, t, 0, 0][..]),
                Err(Error::Reserved(_))
            ));
        }
        let v = Srh6LoRh::new_checked(&[0xa0, 0x00, 0x01][..]).unwrap();
        assert!(matches!(Srh6LoRhRepr::parse(&v), Err(Error::Reserved(_))));
        // Reprs that no Size can describe, and a short output buffer.
        let bad = [
            Srh6LoRhRepr {
                lorh_type: 1,
                hops: &[1, 2, 3],
            },
            Srh6LoRhRepr {
                lorh_type: 0,
                hops: &[],
            },
            Srh6LoRhRepr {
                lorh_type: 0,
                hops: &[0; 33],
            },
            Srh6LoRhRepr {
                lorh_type: 5,
                hops: &[0; 4],
            },
        ];
        for r in bad {
            assert_eq!(r.emit_bytes(&mut [0u8; 64]), Err(Error::BadLength), "{r:?}");
        }
        let r = Srh6LoRhRepr {
            lorh_type: 1,
            hops: &TWO_HOPS[2..],
        };
        assert_eq!(
            r.emit_bytes(&mut [0u8; 5]),
            Err(Error::BufferTooSmall { required: 6 })
        );
    }

    proptest! {
        #[test]
        fn emit_then_parse((t, hops) in srh_6lorh_parts()) {
            let r = Srh6LoRhRepr { lorh_type: t, hops: &hops };
            let mut b = [0xa5u8; SRH_MAX_LEN];
            let n = r.emit_bytes(&mut b).unwrap();
            let v = Srh6LoRh::new_checked(&b[..n]).unwrap();
            prop_assert_eq!(Srh6LoRhRepr::parse(&v).unwrap(), r);
        }

        #[test]
        fn buffer_len_is_bytes_written((t, hops) in srh_6lorh_parts()) {
            let r = Srh6LoRhRepr { lorh_type: t, hops: &hops };
            let mut b = [0xa5u8; SRH_MAX_LEN + 1];
            let n = r.emit_bytes(&mut b).unwrap();
            prop_assert_eq!(n, r.buffer_len());
            prop_assert_eq!(Srh6LoRh::new_checked(&b[..]).unwrap().header_len(), n);
            prop_assert!(b[n..].iter().all(|&x| x == 0xa5));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(v) = Srh6LoRh::new_checked(&b[..]) {
                if let Ok(r) = Srh6LoRhRepr::parse(&v) {
                    let _ = r.expand(&Ipv6Addr::UNSPECIFIED, |_| {});
                }
                let _ = std::format!("{v}");
            }
        }

        #[test]
        fn parse_emit_parse_is_a_fixed_point(
            head in prop_oneof![0x80u8..0xc0, any::<u8>()],
            t in prop_oneof![0u8..=4, any::<u8>()],
            rest in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let mut b = std::vec![head, t];
            b.extend_from_slice(&rest);
            let Ok(v) = Srh6LoRh::new_checked(&b[..]) else { return Ok(()) };
            let Ok(r) = Srh6LoRhRepr::parse(&v) else { return Ok(()) };
            let mut out = [0xa5u8; SRH_MAX_LEN];
            let n = r.emit_bytes(&mut out).unwrap();
            prop_assert_eq!(n, v.header_len());
            prop_assert_eq!(&out[..n], &b[..n]);
            let v2 = Srh6LoRh::new_checked(&out[..n]).unwrap();
            prop_assert_eq!(Srh6LoRhRepr::parse(&v2).unwrap(), r);
        }
    }
}

#[cfg(test)]
mod ip_in_ip_tests {
    use super::*;
    use crate::test_gens::ip_in_ip_6lorh_parts;
    use proptest::prelude::*;

    // RFC 8138 §7, Length 1: the Encapsulator Address is elided (the root); Hop Limit 64.
    static ROOT: [u8; 3] = [
        0xa1, // 101 (Elective) | Length = 1: the Hop Limit only
        0x06, // 6LoRH Type 6: IP-in-IP-6LoRH
        0x40, // Hop Limit 64
    ];
    // Length 9: the last 8 octets of the encapsulator (an interface identifier); Hop Limit 63.
    static IID: [u8; 11] = [
        0xa9, // 101 | Length = 9
        0x06, // Type 6
        0x3f, // Hop Limit 63
        0x02, 0x12, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x07, // Encapsulator Address, 8 octets
    ];
    // Length 17: the whole Encapsulator Address; Hop Limit 255.
    static FULL: [u8; 19] = [
        0xb1, // 101 | Length = 17
        0x06, // Type 6
        0xff, // Hop Limit 255
        0xfd, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, // fd00:1::9
    ];

    fn root() -> Ipv6Addr {
        "2001:db8:a::212:4b00:0:1".parse().unwrap()
    }

    #[test]
    fn deconstruct() {
        let v = IpInIp6LoRh::new_checked(&ROOT[..]).unwrap();
        assert_eq!(
            (v.class(), v.length(), v.lorh_type(), v.hop_limit()),
            (ELECTIVE_CLASS, 1, TYPE_IP_IN_IP, 64)
        );
        assert_eq!((v.header_len(), v.encapsulator()), (3, &[][..]));
        let v = IpInIp6LoRh::new_checked(&IID[..]).unwrap();
        assert_eq!((v.length(), v.hop_limit(), v.header_len()), (9, 63, 11));
        assert_eq!(v.encapsulator(), &IID[3..]);
        let v = IpInIp6LoRh::new_checked(&FULL[..]).unwrap();
        assert_eq!((v.length(), v.hop_limit(), v.header_len()), (17, 255, 19));
        assert_eq!(v.encapsulator(), &FULL[3..]);
    }

    #[test]
    fn construct() {
        let mut b = [0xa5u8; 3];
        let mut v = IpInIp6LoRh::new_unchecked(&mut b[..]);
        v.set_class_and_length(ELECTIVE_CLASS, 1);
        v.set_lorh_type(TYPE_IP_IN_IP);
        v.set_hop_limit(64);
        v.set_encapsulator(&[]);
        assert_eq!(b, ROOT);
        let mut b = [0xa5u8; 11];
        let mut v = IpInIp6LoRh::new_unchecked(&mut b[..]);
        v.set_class_and_length(ELECTIVE_CLASS, 9);
        v.set_lorh_type(TYPE_IP_IN_IP);
        v.set_hop_limit(63);
        v.set_encapsulator(&IID[3..]);
        assert_eq!(b, IID);
    }

    #[test]
    fn parse() {
        let v = IpInIp6LoRh::new_checked(&ROOT[..]).unwrap();
        let r = IpInIp6LoRhRepr::parse(&v).unwrap();
        assert_eq!(
            r,
            IpInIp6LoRhRepr {
                hop_limit: 64,
                encapsulator: &[]
            }
        );
        assert_eq!(r.encapsulator_addr(Some(&root())), Some(root()));
        assert_eq!(r.encapsulator_addr(None), None);
        let v = IpInIp6LoRh::new_checked(&IID[..]).unwrap();
        let r = IpInIp6LoRhRepr::parse(&v).unwrap();
        assert_eq!((r.hop_limit, r.encapsulator), (63, &IID[3..]));
        assert_eq!(
            r.encapsulator_addr(Some(&root())),
            Some("2001:db8:a::212:4b00:0:7".parse().unwrap())
        );
        let v = IpInIp6LoRh::new_checked(&FULL[..]).unwrap();
        let r = IpInIp6LoRhRepr::parse(&v).unwrap();
        let full: Ipv6Addr = "fd00:1::9".parse().unwrap();
        assert_eq!(r.encapsulator_addr(None), Some(full));
        assert_eq!(r.encapsulator_addr(Some(&root())), Some(full));
    }

    #[test]
    fn emit() {
        for (hop_limit, encapsulator, want) in [
            (64u8, &[][..], &ROOT[..]),
            (63, &IID[3..], &IID[..]),
            (255, &FULL[3..], &FULL[..]),
        ] {
            let r = IpInIp6LoRhRepr {
                hop_limit,
                encapsulator,
            };
            let mut b = [0xa5u8; IP_IN_IP_MAX_LEN];
            let n = r.emit_bytes(&mut b).unwrap();
            assert_eq!(&b[..n], want);
        }
    }

    #[test]
    fn encapsulator_compression() {
        let r = root();
        let c = |a: &str| {
            let (o, n) = ip_in_ip_compressed(&a.parse().unwrap(), Some(&r));
            o[..n].to_vec()
        };
        assert_eq!(c("2001:db8:a::212:4b00:0:1"), std::vec![]);
        assert_eq!(c("2001:db8:a::212:4b00:0:9"), std::vec![9]);
        assert_eq!(c("2001:db8:a::1:2:3:4"), std::vec![0, 1, 0, 2, 0, 3, 0, 4]);
        assert_eq!(c("fd00::1").len(), 16);
        let a: Ipv6Addr = "fd00::1".parse().unwrap();
        assert_eq!(ip_in_ip_compressed(&a, None), (a.octets(), 16));
        for s in ["2001:db8:a::212:4b00:0:9", "2001:db8:a::1:2:3:4", "fd00::1"] {
            let a: Ipv6Addr = s.parse().unwrap();
            let (o, n) = ip_in_ip_compressed(&a, Some(&r));
            let repr = IpInIp6LoRhRepr {
                hop_limit: 1,
                encapsulator: &o[..n],
            };
            assert_eq!(repr.encapsulator_addr(Some(&r)), Some(a));
        }
    }

    #[test]
    fn errors() {
        for full in [&ROOT[..], &IID[..], &FULL[..]] {
            assert_truncations(full, |b| IpInIp6LoRh::new_checked(b).map(drop));
        }
        // Length 0 leaves no room for the Hop Limit.
        assert_eq!(
            IpInIp6LoRh::new_checked(&[0xa0, 0x06][..]),
            Err(Error::BadLength)
        );
        // Critical class, another Type, and Lengths that carry no address size.
        for b in [
            &[0x81, 0x06, 0x40][..],
            &[0xa1, 0x05, 0x40][..],
            &[0xa4, 0x06, 0x40, 1, 2, 3][..],
            &[0xa7, 0x06, 0x40, 1, 2, 3, 4, 5, 6][..],
        ] {
            let v = IpInIp6LoRh::new_checked(b).unwrap();
            assert!(
                matches!(IpInIp6LoRhRepr::parse(&v), Err(Error::Reserved(_))),
                "{b:02x?}"
            );
        }
        let bad = IpInIp6LoRhRepr {
            hop_limit: 1,
            encapsulator: &[0; 3],
        };
        assert_eq!(bad.emit_bytes(&mut [0u8; 32]), Err(Error::BadLength));
        let r = IpInIp6LoRhRepr {
            hop_limit: 1,
            encapsulator: &[0; 8],
        };
        assert_eq!(
            r.emit_bytes(&mut [0u8; 10]),
            Err(Error::BufferTooSmall { required: 11 })
        );
    }

    proptest! {
        #[test]
        fn emit_then_parse((h, enc) in ip_in_ip_6lorh_parts()) {
            let r = IpInIp6LoRhRepr { hop_limit: h, encapsulator: &enc };
            let mut b = [0xa5u8; IP_IN_IP_MAX_LEN];
            let n = r.emit_bytes(&mut b).unwrap();
            let v = IpInIp6LoRh::new_checked(&b[..n]).unwrap();
            prop_assert_eq!(IpInIp6LoRhRepr::parse(&v).unwrap(), r);
        }

        #[test]
        fn buffer_len_is_bytes_written((h, enc) in ip_in_ip_6lorh_parts()) {
            let r = IpInIp6LoRhRepr { hop_limit: h, encapsulator: &enc };
            let mut b = [0xa5u8; IP_IN_IP_MAX_LEN + 1];
            let n = r.emit_bytes(&mut b).unwrap();
            prop_assert_eq!(n, r.buffer_len());
            prop_assert_eq!(IpInIp6LoRh::new_checked(&b[..]).unwrap().header_len(), n);
            prop_assert!(b[n..].iter().all(|&x| x == 0xa5));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(v) = IpInIp6LoRh::new_checked(&b[..]) {
                if let Ok(r) = IpInIp6LoRhRepr::parse(&v) {
                    let _ = r.encapsulator_addr(Some(&Ipv6Addr::UNSPECIFIED));
                    let _ = r.encapsulator_addr(None);
                }
                let _ = std::format!("{v}");
            }
        }

        #[test]
        fn parse_emit_parse_is_a_fixed_point(
            head in prop_oneof![0xa0u8..0xc0, any::<u8>()],
            t in prop_oneof![Just(TYPE_IP_IN_IP), any::<u8>()],
            rest in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut b = std::vec![head, t];
            b.extend_from_slice(&rest);
            let Ok(v) = IpInIp6LoRh::new_checked(&b[..]) else { return Ok(()) };
            let Ok(r) = IpInIp6LoRhRepr::parse(&v) else { return Ok(()) };
            let mut out = [0xa5u8; IP_IN_IP_MAX_LEN];
            let n = r.emit_bytes(&mut out).unwrap();
            prop_assert_eq!(&out[..n], &b[..n]);
            let v2 = IpInIp6LoRh::new_checked(&out[..n]).unwrap();
            prop_assert_eq!(IpInIp6LoRhRepr::parse(&v2).unwrap(), r);
        }
    }
}
