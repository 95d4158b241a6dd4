//! The 6LoWPAN Routing Header (RFC 8138) on the page-1 dispatch (RFC 8025 §3): the RPL
//! Packet Information 6LoRH (RPI-6LoRH, RFC 8138 §6.3).
//!
//! - Page switch (RFC 8025 §3): `1111 Page(4)`; [`PAGE_1_DISPATCH`] (`0xf1`) selects page 1,
//!   where `10xxxxxx` starts a 6LoRH (RFC 8138 §4) and LOWPAN_IPHC keeps its page-0 value.
//! - 6LoRH formats (RFC 8138 §5): Critical `100 Size(5) Type(8)`, Elective
//!   `101 Length(5) Type(8)`.
//! - RPI-6LoRH (RFC 8138 §6.3, Critical, Type 5): `100 O R F I K`, Type = 5, then the
//!   RPLInstanceID (1 octet, absent when I = 1: the instance is 0), then the SenderRank
//!   (2 octets, or 1 octet when K = 1: the most significant octet, the least significant one
//!   being zero and elided). O, R and F are the flags of the RPL option (RFC 6553 §3).
//!   So the header takes 2 to 5 octets; all fields are big-endian.

use crate::error::{Error, Result, need, room};
use core::fmt;

/// Page switch to page 1 (RFC 8025 §3: `1111 xxxx` selects page `xxxx`).
pub const PAGE_1_DISPATCH: u8 = 0xf1;
/// The 3-bit class of a Critical 6LoRH (RFC 8138 §5.1), in the top bits of its first octet.
pub const CRITICAL_CLASS: u8 = 0b100;
/// The 3-bit class of an Elective 6LoRH (RFC 8138 §5.2).
pub const ELECTIVE_CLASS: u8 = 0b101;
/// 6LoRH Type of the RPI-6LoRH (RFC 8138 §6.3, §10.2).
pub const TYPE_RPI: u8 = 5;
/// Most octets of an RPI-6LoRH (I = 0, K = 0).
pub const RPI_MAX_LEN: usize = 5;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_gens::rpi_6lorh_repr;
    use proptest::prelude::*;

    // RFC 8138 §6.3 Figure 10 (generic form, I = 0, K = 0): O = 1, instance 0x1e,
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
        for n in 0..2 {
            assert_eq!(
                Rpi6LoRh::new_checked(&FULL[..n]).unwrap_err(),
                Error::Truncated { needed: 2, got: n }
            );
        }
        for n in 2..5 {
            assert_eq!(
                Rpi6LoRh::new_checked(&FULL[..n]).unwrap_err(),
                Error::Truncated { needed: 5, got: n }
            );
        }
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
