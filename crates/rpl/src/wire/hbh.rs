//! The RPL Option carried in an IPv6 Hop-by-Hop Options header (RFC 6553 §3, RFC 9008 §11.1).
//!
//! `Type(1) Opt Data Len(1) | O R F flags(5) | RPLInstanceID(1) | SenderRank(2) | sub-TLVs`.
//! RFC 6553 assigned type 0x63 (act bits 01: discard if unknown); RFC 9008 re-assigned 0x23
//! (act bits 00: skip). Both are accepted; the emitter uses the type stored in the Repr.

use core::fmt;

use super::field::*;
use crate::error::{Error, Result, need, room};

/// RFC 6553 option type.
pub const OPTION_TYPE_RFC6553: u8 = 0x63;
/// RFC 9008 option type.
pub const OPTION_TYPE_RFC9008: u8 = 0x23;
/// IPv6 Next Header value of the Hop-by-Hop Options header.
pub const IPV6_HOP_BY_HOP: u8 = 0;

mod flag {
    pub const O: u8 = 0x80;
    pub const R: u8 = 0x40;
    pub const F: u8 = 0x20;
}

/// A view of the RPL option TLV (type, length, data).
#[derive(Debug, Clone)]
pub struct HbhOption<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> HbhOption<T> {
    /// Wraps without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        HbhOption { buffer }
    }
    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let o = Self::new_unchecked(buffer);
        o.check_len()?;
        Ok(o)
    }
    /// Ensures type, length and at least 4 data bytes (and all announced data) are present.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 2)?;
        let l = usize::from(u8_at(b, 1));
        if l < 4 {
            return Err(Error::BadLength);
        }
        need(b, 2 + l)
    }
    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// Option type (0x63 or 0x23).
    pub fn option_type(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 0)
    }
    /// Opt Data Len.
    pub fn data_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 1)
    }
    /// O: down.
    pub fn down(&self) -> bool {
        u8_at(self.buffer.as_ref(), 2) & flag::O != 0
    }
    /// R: rank error.
    pub fn rank_error(&self) -> bool {
        u8_at(self.buffer.as_ref(), 2) & flag::R != 0
    }
    /// F: forwarding error.
    pub fn forwarding_error(&self) -> bool {
        u8_at(self.buffer.as_ref(), 2) & flag::F != 0
    }
    /// RPLInstanceID.
    pub fn instance_id(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 3)
    }
    /// SenderRank.
    pub fn sender_rank(&self) -> u16 {
        u16_at(self.buffer.as_ref(), 4)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> HbhOption<T> {
    /// Sets the option type.
    pub fn set_option_type(&mut self, v: u8) {
        set_u8(self.buffer.as_mut(), 0, v)
    }
    /// Sets Opt Data Len.
    pub fn set_data_len(&mut self, v: u8) {
        set_u8(self.buffer.as_mut(), 1, v)
    }
    /// Sets O.
    pub fn set_down(&mut self, v: bool) {
        set_flag(self.buffer.as_mut(), 2, flag::O, v)
    }
    /// Sets R.
    pub fn set_rank_error(&mut self, v: bool) {
        set_flag(self.buffer.as_mut(), 2, flag::R, v)
    }
    /// Sets F.
    pub fn set_forwarding_error(&mut self, v: bool) {
        set_flag(self.buffer.as_mut(), 2, flag::F, v)
    }
    /// Sets RPLInstanceID.
    pub fn set_instance_id(&mut self, v: u8) {
        set_u8(self.buffer.as_mut(), 3, v)
    }
    /// Sets SenderRank.
    pub fn set_sender_rank(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), 4, v)
    }
}

/// The RPL option's values (RFC 6553 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HbhRepr {
    /// Option type to emit (0x63 or 0x23).
    pub option_type: u8,
    /// O: the packet travels down the DODAG.
    pub down: bool,
    /// R: a rank error was detected.
    pub rank_error: bool,
    /// F: a forwarding error was detected.
    pub forwarding_error: bool,
    /// RPLInstanceID.
    pub instance_id: u8,
    /// Rank of the sender.
    pub sender_rank: u16,
}

impl HbhRepr {
    /// Bytes of the option TLV.
    pub const LEN: usize = 6;

    /// Parses a checked view (sub-TLVs after the 4 data bytes are ignored).
    pub fn parse<T: AsRef<[u8]>>(o: &HbhOption<T>) -> Result<Self> {
        o.check_len()?;
        let t = o.option_type();
        if t != OPTION_TYPE_RFC6553 && t != OPTION_TYPE_RFC9008 {
            return Err(Error::Malformed("not an RPL option"));
        }
        Ok(HbhRepr {
            option_type: t,
            down: o.down(),
            rank_error: o.rank_error(),
            forwarding_error: o.forwarding_error(),
            instance_id: o.instance_id(),
            sender_rank: o.sender_rank(),
        })
    }
    /// Bytes the TLV occupies.
    pub const fn buffer_len(&self) -> usize {
        Self::LEN
    }
    /// Writes the option TLV (6 bytes).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        room(buf, Self::LEN)?;
        let mut o = HbhOption::new_unchecked(buf);
        o.set_option_type(self.option_type);
        o.set_data_len(4);
        set_u8(o.buffer, 2, 0);
        o.set_down(self.down);
        o.set_rank_error(self.rank_error);
        o.set_forwarding_error(self.forwarding_error);
        o.set_instance_id(self.instance_id);
        o.set_sender_rank(self.sender_rank);
        Ok(Self::LEN)
    }

    /// Writes a whole 8-byte Hop-by-Hop Options header holding only this option:
    /// `Next Header | Hdr Ext Len = 0 | option(6)` (RFC 8200 §4.3).
    pub fn emit_header(&self, next_header: u8, buf: &mut [u8]) -> Result<usize> {
        room(buf, 8)?;
        set_u8(buf, 0, next_header);
        set_u8(buf, 1, 0);
        let rest = buf.get_mut(2..).unwrap_or(&mut []);
        self.emit(rest)?;
        Ok(8)
    }

    /// Finds the RPL option in a Hop-by-Hop Options header (`hdr` starts at its Next Header
    /// byte). Returns `Ok(None)` if the header carries no RPL option.
    pub fn find_in_header(hdr: &[u8]) -> Result<Option<(Self, usize)>> {
        need(hdr, 2)?;
        let total = (usize::from(u8_at(hdr, 1)) + 1) * 8;
        need(hdr, total)?;
        let mut off = 2usize;
        while off < total {
            let t = u8_at(hdr, off);
            if t == 0 {
                off += 1;
                continue;
            }
            let l = usize::from(u8_at(hdr, off + 1));
            if off + 2 + l > total {
                return Err(Error::BadLength);
            }
            if t == OPTION_TYPE_RFC6553 || t == OPTION_TYPE_RFC9008 {
                let o = HbhOption::new_checked(slice(hdr, off, off + 2 + l))?;
                return Ok(Some((HbhRepr::parse(&o)?, off)));
            }
            off += 2 + l;
        }
        Ok(None)
    }
}

impl fmt::Display for HbhRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RPL-HBH {:#04x} O={} R={} F={} inst={} rank={}",
            self.option_type,
            u8::from(self.down),
            u8::from(self.rank_error),
            u8::from(self.forwarding_error),
            self.instance_id,
            self.sender_rank
        )
    }
}
