//! RPL control messages (RFC 6550 §6): the body of ICMPv6 type 155 after the 4-byte ICMPv6
//! header, with the ICMPv6 code carried alongside.
//!
//! | code | message | base object |
//! |---|---|---|
//! | 0x00 | DIS (§6.2) | Flags(1) Reserved(1) |
//! | 0x01 | DIO (§6.3) | InstanceID Version Rank(2) `G 0 MOP(3) Prf(3)` DTSN Flags Reserved DODAGID(16) |
//! | 0x02 | DAO (§6.4) | InstanceID `K D flags(6)` Reserved DAOSequence (DODAGID if D) |
//! | 0x03 | DAO-ACK (§6.5) | InstanceID `D res(7)` DAOSequence Status (DODAGID if D) |
//! | 0x07 | DCO (RFC 9009 §4.3) | InstanceID `K D flags(6)` Status DCOSequence (DODAGID if D) |
//! | 0x08 | DCO-ACK (RFC 9009 §4.4) | InstanceID `D flags(7)` DCOSequence Status (DODAGID if D) |
//! | 0x8A | Consistency Check (§6.6) | security section, InstanceID `R flags` Nonce(2) DODAGID Counter(4) |
//! | 0x80–0x88 | secure variants (§6.1) | security section, then the base encrypted or followed by a MAC |
//!
//! Options follow the base object. The ICMPv6 checksum is the IPv6 layer's business.
//!
//! Secure messages other than CC are parsed into their security section plus the remaining
//! bytes (which may be encrypted and end with a MAC or signature whose length depends on the
//! algorithm), so they round-trip unchanged.

use core::fmt;
use core::net::Ipv6Addr;

use super::field::*;
use super::options::Options;
use crate::error::{Error, Result, need, room};

/// ICMPv6 type of RPL control messages (RFC 6550 §6).
pub const ICMPV6_TYPE_RPL: u8 = 155;

/// RPL control message codes (RFC 6550 §6, RFC 9009 §4.3–4.4).
pub mod code {
    /// DODAG Information Solicitation.
    pub const DIS: u8 = 0x00;
    /// DODAG Information Object.
    pub const DIO: u8 = 0x01;
    /// Destination Advertisement Object.
    pub const DAO: u8 = 0x02;
    /// DAO acknowledgement.
    pub const DAO_ACK: u8 = 0x03;
    /// Destination Cleanup Object (RFC 9009).
    pub const DCO: u8 = 0x07;
    /// DCO acknowledgement (RFC 9009).
    pub const DCO_ACK: u8 = 0x08;
    /// Flag bit marking a secure variant.
    pub const SECURE: u8 = 0x80;
    /// Consistency Check (always secure).
    pub const CC: u8 = 0x8a;
}

/// The name of an RPL code, as in RFC 6550 §6 / RFC 9009 (for traces and `dissect`).
pub fn code_name(c: u8) -> &'static str {
    match c {
        0x00 => "DIS",
        0x01 => "DIO",
        0x02 => "DAO",
        0x03 => "DAO-ACK",
        0x04 => "P2P-DRO",
        0x05 => "P2P-DRO-ACK",
        0x07 => "DCO",
        0x08 => "DCO-ACK",
        0x80 => "Secure DIS",
        0x81 => "Secure DIO",
        0x82 => "Secure DAO",
        0x83 => "Secure DAO-ACK",
        0x84 => "Secure P2P-DRO",
        0x85 => "Secure P2P-DRO-ACK",
        0x87 => "Secure DCO",
        0x88 => "Secure DCO-ACK",
        0x8a => "CC",
        _ => "Unknown",
    }
}

amimesh_core::enum_with_unknown! {
    /// Mode of Operation (RFC 6550 §6.3.1; 4 = P2P route discovery, RFC 6997).
    pub enum Mop(u8) {
        /// No downward routes maintained.
        NoDownward = 0,
        /// Non-storing mode.
        NonStoring = 1,
        /// Storing mode without multicast.
        StoringNoMulticast = 2,
        /// Storing mode with multicast.
        StoringMulticast = 3,
        /// P2P route discovery (RFC 6997).
        P2p = 4,
    }
}

impl Mop {
    /// Storing mode (with or without multicast)?
    pub fn is_storing(self) -> bool {
        matches!(self, Mop::StoringNoMulticast | Mop::StoringMulticast)
    }
}

/// DIO flag bits (RFC 6550 §6.3.1).
mod dio {
    pub const G: u8 = 0x80;
    pub const MOP_SHIFT: u8 = 3;
    pub const PRF: u8 = 0x07;
}
/// K flag (DAO, DCO).
const FLAG_K: u8 = 0x80;
/// D flag (DAO, DCO).
const FLAG_D_KD: u8 = 0x40;
/// D flag (DAO-ACK, DCO-ACK).
const FLAG_D_ACK: u8 = 0x80;

/// Base object lengths without the optional DODAGID.
mod base {
    pub const DIS: usize = 2;
    pub const DIO: usize = 24;
    pub const DAO: usize = 4;
    pub const DAO_ACK: usize = 4;
    pub const DCO: usize = 4;
    pub const DCO_ACK: usize = 4;
    pub const CC: usize = 24;
}

/// The security section of secure RPL messages (RFC 6550 §6.1).
///
/// `T|Reserved(7)` Algorithm `KIM(2)|Resvd(3)|LVL(3)` Flags Counter(4) Key Identifier.
/// Key Identifier length by KIM: 0 → Key Index(1); 1 → none; 2 → Key Source(8) Key Index(1);
/// 3 → Key Source(8) Key Index(1) when LVL is 1 or 3, else none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SecurityRepr {
    /// T: the counter is a timestamp.
    pub counter_is_time: bool,
    /// Algorithm (0 = CCM with AES-128, RSA with SHA-256).
    pub algorithm: u8,
    /// Key Identifier Mode (2 bits).
    pub kim: u8,
    /// Security Level (3 bits).
    pub lvl: u8,
    /// Flags byte (reserved).
    pub flags: u8,
    /// Counter.
    pub counter: u32,
    /// Key Source (KIM 2, or 3 with LVL 1/3).
    pub key_source: Option<[u8; 8]>,
    /// Key Index (KIM 0, 2, or 3 with LVL 1/3).
    pub key_index: Option<u8>,
}

impl SecurityRepr {
    fn key_id_len(kim: u8, lvl: u8) -> usize {
        match kim & 3 {
            0 => 1,
            1 => 0,
            2 => 9,
            _ if lvl == 1 || lvl == 3 => 9,
            _ => 0,
        }
    }
    /// Parses the section at the start of `b`; returns it and its length.
    pub fn parse(b: &[u8]) -> Result<(Self, usize)> {
        need(b, 8)?;
        let kim = u8_at(b, 2) >> 6;
        let lvl = u8_at(b, 2) & 0x07;
        let kl = Self::key_id_len(kim, lvl);
        need(b, 8 + kl)?;
        let (key_source, key_index) = match kl {
            1 => (None, Some(u8_at(b, 8))),
            9 => {
                let mut s = [0u8; 8];
                s.copy_from_slice(slice(b, 8, 16));
                (Some(s), Some(u8_at(b, 16)))
            }
            _ => (None, None),
        };
        Ok((
            SecurityRepr {
                counter_is_time: u8_at(b, 0) & 0x80 != 0,
                algorithm: u8_at(b, 1),
                kim,
                lvl,
                flags: u8_at(b, 3),
                counter: u32_at(b, 4),
                key_source,
                key_index,
            },
            8 + kl,
        ))
    }
    /// Bytes the section occupies.
    pub fn buffer_len(&self) -> usize {
        8 + Self::key_id_len(self.kim, self.lvl)
    }
    /// Writes the section at the start of `b`.
    pub fn emit(&self, b: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        room(b, n)?;
        set_u8(b, 0, if self.counter_is_time { 0x80 } else { 0 });
        set_u8(b, 1, self.algorithm);
        set_u8(b, 2, ((self.kim & 3) << 6) | (self.lvl & 7));
        set_u8(b, 3, self.flags);
        set_u32(b, 4, self.counter);
        match n - 8 {
            1 => set_u8(b, 8, self.key_index.unwrap_or(0)),
            9 => {
                set_bytes(b, 8, &self.key_source.unwrap_or([0; 8]));
                set_u8(b, 16, self.key_index.unwrap_or(0));
            }
            _ => {}
        }
        Ok(n)
    }
}

/// A view of an RPL control message body (after the ICMPv6 type/code/checksum).
///
/// Getters read the base object of the message named by `code`; for secure codes they read
/// after the security section. Once [`check_len`](Self::check_len) succeeds the base object and
/// the security section are present, and no getter can panic.
#[derive(Debug, Clone)]
pub struct Message<T: AsRef<[u8]>> {
    code: u8,
    buffer: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    /// Wraps `buffer` (the body) of a message with ICMPv6 code `code`, without checks.
    pub const fn new_unchecked(code: u8, buffer: T) -> Self {
        Message { code, buffer }
    }
    /// Wraps and checks.
    pub fn new_checked(code: u8, buffer: T) -> Result<Self> {
        let m = Self::new_unchecked(code, buffer);
        m.check_len()?;
        Ok(m)
    }
    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// The ICMPv6 code.
    pub fn code(&self) -> u8 {
        self.code
    }
    /// `true` for the secure variants (code bit 0x80), CC included.
    pub fn is_secure(&self) -> bool {
        self.code & code::SECURE != 0
    }
    /// Length of the security section (0 for non-secure codes; 0 if it is truncated).
    pub fn security_len(&self) -> usize {
        if !self.is_secure() {
            return 0;
        }
        SecurityRepr::parse(self.buffer.as_ref()).map_or(0, |(_, n)| n)
    }
    fn base_kind(&self) -> u8 {
        if self.code == code::CC {
            code::CC
        } else {
            self.code & !code::SECURE
        }
    }
    /// Length of the base object without the optional DODAGID, if the code is known.
    fn base_fixed_len(&self) -> Option<usize> {
        Some(match self.base_kind() {
            code::DIS => base::DIS,
            code::DIO => base::DIO,
            code::DAO => base::DAO,
            code::DAO_ACK => base::DAO_ACK,
            code::DCO => base::DCO,
            code::DCO_ACK => base::DCO_ACK,
            code::CC => base::CC,
            _ => return None,
        })
    }
    /// `true` if the D flag says a DODAGID follows (DAO, DAO-ACK, DCO, DCO-ACK).
    pub fn dodag_id_present(&self) -> bool {
        let f = self.flags_byte();
        match self.base_kind() {
            code::DAO | code::DCO => f & FLAG_D_KD != 0,
            code::DAO_ACK | code::DCO_ACK => f & FLAG_D_ACK != 0,
            _ => false,
        }
    }
    /// Length of the base object (DODAGID included when present); 0 for unknown codes.
    pub fn base_len(&self) -> usize {
        let f = self.base_fixed_len().unwrap_or(0);
        if self.dodag_id_present() { f + 16 } else { f }
    }
    /// Checks that the security section (secure codes) and the base object are present.
    /// Unknown codes only need an empty body. Secure codes other than CC are not checked past
    /// the security section (the rest may be encrypted).
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if self.is_secure() {
            let (_, n) = SecurityRepr::parse(b)?;
            if self.code != code::CC {
                return Ok(());
            }
            return need(b, n + base::CC);
        }
        if let Some(f) = self.base_fixed_len() {
            need(b, f)?;
            need(b, self.base_len())?;
        }
        Ok(())
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    fn at(&self) -> usize {
        self.security_len()
    }
    /// RPLInstanceID (every message but DIS).
    pub fn instance_id(&self) -> u8 {
        u8_at(self.b(), self.at())
    }
    /// The flags byte: DIS byte 0; DAO/DAO-ACK/DCO/DCO-ACK/CC byte 1; DIO byte 6.
    pub fn flags_byte(&self) -> u8 {
        let off = match self.base_kind() {
            code::DIS => 0,
            code::DIO => 6,
            _ => 1,
        };
        u8_at(self.b(), self.at() + off)
    }
    /// DIO Version Number.
    pub fn version(&self) -> u8 {
        u8_at(self.b(), self.at() + 1)
    }
    /// DIO Rank.
    pub fn rank(&self) -> u16 {
        u16_at(self.b(), self.at() + 2)
    }
    /// DIO G flag.
    pub fn grounded(&self) -> bool {
        u8_at(self.b(), self.at() + 4) & dio::G != 0
    }
    /// DIO Mode of Operation.
    pub fn mop(&self) -> Mop {
        Mop::from((u8_at(self.b(), self.at() + 4) >> dio::MOP_SHIFT) & 0x07)
    }
    /// DIO DODAG Preference.
    pub fn dodag_preference(&self) -> u8 {
        u8_at(self.b(), self.at() + 4) & dio::PRF
    }
    /// DIO DTSN.
    pub fn dtsn(&self) -> u8 {
        u8_at(self.b(), self.at() + 5)
    }
    /// K flag (DAO, DCO).
    pub fn expect_ack(&self) -> bool {
        self.flags_byte() & FLAG_K != 0
    }
    /// DAO Sequence (DAO byte 3, DAO-ACK byte 2), DCO Sequence (DCO byte 3, DCO-ACK byte 2).
    pub fn sequence(&self) -> u8 {
        let off = match self.base_kind() {
            code::DAO | code::DCO => 3,
            _ => 2,
        };
        u8_at(self.b(), self.at() + off)
    }
    /// Status (DAO-ACK byte 3, DCO byte 2, DCO-ACK byte 3).
    pub fn status(&self) -> u8 {
        let off = if self.base_kind() == code::DCO { 2 } else { 3 };
        u8_at(self.b(), self.at() + off)
    }
    /// DODAGID: DIO byte 8; DAO/DAO-ACK/DCO/DCO-ACK after the fixed part when D is set;
    /// CC byte 4. `None` when absent.
    pub fn dodag_id(&self) -> Option<Ipv6Addr> {
        let a = self.at();
        match self.base_kind() {
            code::DIO => Some(addr_at(self.b(), a + 8)),
            code::CC => Some(addr_at(self.b(), a + 4)),
            code::DAO | code::DAO_ACK | code::DCO | code::DCO_ACK if self.dodag_id_present() => {
                Some(addr_at(self.b(), a + 4))
            }
            _ => None,
        }
    }
    /// CC Nonce.
    pub fn cc_nonce(&self) -> u16 {
        u16_at(self.b(), self.at() + 2)
    }
    /// CC Destination Counter.
    pub fn cc_destination_counter(&self) -> u32 {
        u32_at(self.b(), self.at() + 20)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Message<&'a T> {
    /// The bytes after the base object (the options; for secure non-CC codes, everything after
    /// the security section).
    pub fn options(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        let start = if self.is_secure() && self.code != code::CC {
            self.security_len()
        } else {
            self.security_len() + self.base_len()
        };
        b.get(start..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Message<T> {
    fn bm(&mut self) -> (&mut [u8], usize) {
        let a = self.security_len();
        (self.buffer.as_mut(), a)
    }
    /// Sets the RPLInstanceID.
    pub fn set_instance_id(&mut self, v: u8) {
        let (b, a) = self.bm();
        set_u8(b, a, v)
    }
    /// Sets the flags byte (see [`flags_byte`](Message::flags_byte)).
    pub fn set_flags_byte(&mut self, v: u8) {
        let off = match self.base_kind() {
            code::DIS => 0,
            code::DIO => 6,
            _ => 1,
        };
        let (b, a) = self.bm();
        set_u8(b, a + off, v)
    }
    /// Sets the DIO Version.
    pub fn set_version(&mut self, v: u8) {
        let (b, a) = self.bm();
        set_u8(b, a + 1, v)
    }
    /// Sets the DIO Rank.
    pub fn set_rank(&mut self, v: u16) {
        let (b, a) = self.bm();
        set_u16(b, a + 2, v)
    }
    /// Sets the DIO `G|0|MOP|Prf` byte.
    pub fn set_dio_mode(&mut self, grounded: bool, mop: Mop, prf: u8) {
        let (b, a) = self.bm();
        let m: u8 = mop.into();
        set_u8(
            b,
            a + 4,
            (if grounded { dio::G } else { 0 }) | ((m & 7) << dio::MOP_SHIFT) | (prf & dio::PRF),
        )
    }
    /// Sets the DIO DTSN.
    pub fn set_dtsn(&mut self, v: u8) {
        let (b, a) = self.bm();
        set_u8(b, a + 5, v)
    }
    /// Sets the sequence (see [`sequence`](Message::sequence)).
    pub fn set_sequence(&mut self, v: u8) {
        let off = match self.base_kind() {
            code::DAO | code::DCO => 3,
            _ => 2,
        };
        let (b, a) = self.bm();
        set_u8(b, a + off, v)
    }
    /// Sets the status (see [`status`](Message::status)).
    pub fn set_status(&mut self, v: u8) {
        let off = if self.base_kind() == code::DCO { 2 } else { 3 };
        let (b, a) = self.bm();
        set_u8(b, a + off, v)
    }
    /// Writes a DODAGID at its position (the D flag must already say it is present).
    pub fn set_dodag_id(&mut self, id: &Ipv6Addr) {
        let off = if self.base_kind() == code::DIO { 8 } else { 4 };
        let (b, a) = self.bm();
        set_addr(b, a + off, id)
    }
    /// Zeroes the reserved byte(s) of the base object.
    pub fn clear_reserved(&mut self) {
        let kind = self.base_kind();
        let (b, a) = self.bm();
        match kind {
            code::DIS => set_u8(b, a + 1, 0),
            code::DIO => set_u8(b, a + 7, 0),
            code::DAO => set_u8(b, a + 2, 0),
            _ => {}
        }
    }
}

/// DIS base object (RFC 6550 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisRepr<'a> {
    /// Flags (reserved).
    pub flags: u8,
    /// Options (Solicited Information, padding).
    pub options: Options<'a>,
}

/// DIO base object (RFC 6550 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DioRepr<'a> {
    /// RPLInstanceID.
    pub instance_id: u8,
    /// Version Number (lollipop).
    pub version: u8,
    /// Rank.
    pub rank: u16,
    /// G: grounded.
    pub grounded: bool,
    /// Mode of Operation.
    pub mop: Mop,
    /// DODAG Preference (3 bits).
    pub dodag_preference: u8,
    /// DTSN (lollipop).
    pub dtsn: u8,
    /// Flags (reserved).
    pub flags: u8,
    /// DODAGID.
    pub dodag_id: Ipv6Addr,
    /// Options.
    pub options: Options<'a>,
}

/// DAO base object (RFC 6550 §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaoRepr<'a> {
    /// RPLInstanceID.
    pub instance_id: u8,
    /// K: a DAO-ACK is requested.
    pub expect_ack: bool,
    /// The 6 other flag bits (reserved).
    pub flags: u8,
    /// DAOSequence (lollipop).
    pub sequence: u8,
    /// DODAGID, when D is set (required for local instances).
    pub dodag_id: Option<Ipv6Addr>,
    /// Options (RPL Target, Transit Information, Target Descriptor, …).
    pub options: Options<'a>,
}

/// DAO-ACK base object (RFC 6550 §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaoAckRepr<'a> {
    /// RPLInstanceID.
    pub instance_id: u8,
    /// DAOSequence being acknowledged.
    pub sequence: u8,
    /// Status: 0 accept, 1–127 accept with caveat, ≥128 reject.
    pub status: u8,
    /// DODAGID, when D is set.
    pub dodag_id: Option<Ipv6Addr>,
    /// Options.
    pub options: Options<'a>,
}

/// DCO base object (RFC 9009 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DcoRepr<'a> {
    /// RPLInstanceID.
    pub instance_id: u8,
    /// K: a DCO-ACK is requested.
    pub expect_ack: bool,
    /// Status (`U|A|value`, RFC 9010).
    pub status: u8,
    /// DCOSequence.
    pub sequence: u8,
    /// DODAGID, when D is set.
    pub dodag_id: Option<Ipv6Addr>,
    /// Options (RPL Target, Transit Information).
    pub options: Options<'a>,
}

/// DCO-ACK base object (RFC 9009 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DcoAckRepr<'a> {
    /// RPLInstanceID.
    pub instance_id: u8,
    /// DCOSequence being acknowledged.
    pub sequence: u8,
    /// Status.
    pub status: u8,
    /// DODAGID, when D is set.
    pub dodag_id: Option<Ipv6Addr>,
    /// Options.
    pub options: Options<'a>,
}

/// Consistency Check (RFC 6550 §6.6), always secure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcRepr<'a> {
    /// Security section.
    pub security: SecurityRepr,
    /// RPLInstanceID.
    pub instance_id: u8,
    /// R: this is a response.
    pub is_response: bool,
    /// CC Nonce.
    pub nonce: u16,
    /// DODAGID.
    pub dodag_id: Ipv6Addr,
    /// Destination Counter.
    pub destination_counter: u32,
    /// Options and the trailing MAC/signature, kept raw.
    pub rest: &'a [u8],
}

/// A parsed RPL control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRepr<'a> {
    /// DIS.
    Dis(DisRepr<'a>),
    /// DIO.
    Dio(DioRepr<'a>),
    /// DAO.
    Dao(DaoRepr<'a>),
    /// DAO-ACK.
    DaoAck(DaoAckRepr<'a>),
    /// DCO (RFC 9009).
    Dco(DcoRepr<'a>),
    /// DCO-ACK (RFC 9009).
    DcoAck(DcoAckRepr<'a>),
    /// Consistency Check.
    ConsistencyCheck(CcRepr<'a>),
    /// A secure DIS/DIO/DAO/DAO-ACK/DCO/DCO-ACK (or P2P) message: its security section and the
    /// rest, unverified.
    Secure {
        /// ICMPv6 code (0x80..=0x88).
        code: u8,
        /// Security section.
        security: SecurityRepr,
        /// Everything after the security section.
        body: &'a [u8],
    },
    /// A code this crate does not interpret (e.g. P2P-RPL DRO), kept raw.
    Unknown {
        /// ICMPv6 code.
        code: u8,
        /// Body.
        body: &'a [u8],
    },
}

impl<'a> MessageRepr<'a> {
    /// Parses a body with its ICMPv6 code.
    pub fn parse_body(code: u8, body: &'a [u8]) -> Result<Self> {
        Self::parse(&Message::new_checked(code, body)?)
    }

    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(m: &Message<&'a T>) -> Result<Self> {
        m.check_len()?;
        let c = m.code();
        if c == code::CC {
            let (security, _) = SecurityRepr::parse(m.buffer.as_ref())?;
            return Ok(MessageRepr::ConsistencyCheck(CcRepr {
                security,
                instance_id: m.instance_id(),
                is_response: m.flags_byte() & 0x80 != 0,
                nonce: m.cc_nonce(),
                dodag_id: m.dodag_id().unwrap_or(Ipv6Addr::UNSPECIFIED),
                destination_counter: m.cc_destination_counter(),
                rest: m.options(),
            }));
        }
        if m.is_secure() {
            let (security, _) = SecurityRepr::parse(m.buffer.as_ref())?;
            return Ok(MessageRepr::Secure {
                code: c,
                security,
                body: m.options(),
            });
        }
        let opts = || Options::parse(m.options());
        Ok(match c {
            code::DIS => MessageRepr::Dis(DisRepr {
                flags: m.flags_byte(),
                options: opts()?,
            }),
            code::DIO => MessageRepr::Dio(DioRepr {
                instance_id: m.instance_id(),
                version: m.version(),
                rank: m.rank(),
                grounded: m.grounded(),
                mop: m.mop(),
                dodag_preference: m.dodag_preference(),
                dtsn: m.dtsn(),
                flags: m.flags_byte(),
                dodag_id: m.dodag_id().unwrap_or(Ipv6Addr::UNSPECIFIED),
                options: opts()?,
            }),
            code::DAO => MessageRepr::Dao(DaoRepr {
                instance_id: m.instance_id(),
                expect_ack: m.expect_ack(),
                flags: m.flags_byte() & 0x3f,
                sequence: m.sequence(),
                dodag_id: m.dodag_id(),
                options: opts()?,
            }),
            code::DAO_ACK => MessageRepr::DaoAck(DaoAckRepr {
                instance_id: m.instance_id(),
                sequence: m.sequence(),
                status: m.status(),
                dodag_id: m.dodag_id(),
                options: opts()?,
            }),
            code::DCO => MessageRepr::Dco(DcoRepr {
                instance_id: m.instance_id(),
                expect_ack: m.expect_ack(),
                status: m.status(),
                sequence: m.sequence(),
                dodag_id: m.dodag_id(),
                options: opts()?,
            }),
            code::DCO_ACK => MessageRepr::DcoAck(DcoAckRepr {
                instance_id: m.instance_id(),
                sequence: m.sequence(),
                status: m.status(),
                dodag_id: m.dodag_id(),
                options: opts()?,
            }),
            other => MessageRepr::Unknown {
                code: other,
                body: m.buffer.as_ref(),
            },
        })
    }

    /// The ICMPv6 code to send this message with.
    pub fn code(&self) -> u8 {
        match self {
            MessageRepr::Dis(_) => code::DIS,
            MessageRepr::Dio(_) => code::DIO,
            MessageRepr::Dao(_) => code::DAO,
            MessageRepr::DaoAck(_) => code::DAO_ACK,
            MessageRepr::Dco(_) => code::DCO,
            MessageRepr::DcoAck(_) => code::DCO_ACK,
            MessageRepr::ConsistencyCheck(_) => code::CC,
            MessageRepr::Secure { code, .. } | MessageRepr::Unknown { code, .. } => *code,
        }
    }

    fn options(&self) -> Options<'a> {
        match self {
            MessageRepr::Dis(r) => r.options,
            MessageRepr::Dio(r) => r.options,
            MessageRepr::Dao(r) => r.options,
            MessageRepr::DaoAck(r) => r.options,
            MessageRepr::Dco(r) => r.options,
            MessageRepr::DcoAck(r) => r.options,
            _ => Options::EMPTY,
        }
    }

    /// The message's options (empty for CC, secure and unknown messages).
    pub fn option_list(&self) -> Options<'a> {
        self.options()
    }

    /// Bytes the body occupies.
    pub fn buffer_len(&self) -> usize {
        let d = |o: &Option<Ipv6Addr>| if o.is_some() { 16 } else { 0 };
        let opts = self.options().buffer_len();
        match self {
            MessageRepr::Dis(_) => base::DIS + opts,
            MessageRepr::Dio(_) => base::DIO + opts,
            MessageRepr::Dao(r) => base::DAO + d(&r.dodag_id) + opts,
            MessageRepr::DaoAck(r) => base::DAO_ACK + d(&r.dodag_id) + opts,
            MessageRepr::Dco(r) => base::DCO + d(&r.dodag_id) + opts,
            MessageRepr::DcoAck(r) => base::DCO_ACK + d(&r.dodag_id) + opts,
            MessageRepr::ConsistencyCheck(r) => r.security.buffer_len() + base::CC + r.rest.len(),
            MessageRepr::Secure { security, body, .. } => security.buffer_len() + body.len(),
            MessageRepr::Unknown { body, .. } => body.len(),
        }
    }

    /// Writes the body into `buf`; returns the bytes written. Send it with [`code`](Self::code).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        room(buf, total)?;
        let buf = buf
            .get_mut(..total)
            .ok_or(Error::BufferTooSmall { required: total })?;
        match self {
            MessageRepr::Secure { security, body, .. } => {
                let n = security.emit(buf)?;
                set_bytes(buf, n, body);
                return Ok(total);
            }
            MessageRepr::Unknown { body, .. } => {
                set_bytes(buf, 0, body);
                return Ok(total);
            }
            MessageRepr::ConsistencyCheck(r) => {
                let n = r.security.emit(buf)?;
                fill(buf, n, n + base::CC, 0);
                let mut m = Message::new_unchecked(code::CC, &mut *buf);
                m.set_instance_id(r.instance_id);
                m.set_flags_byte(if r.is_response { 0x80 } else { 0 });
                let (b, a) = m.bm();
                set_u16(b, a + 2, r.nonce);
                set_addr(b, a + 4, &r.dodag_id);
                set_u32(b, a + 20, r.destination_counter);
                set_bytes(buf, n + base::CC, r.rest);
                return Ok(total);
            }
            _ => {}
        }
        let c = self.code();
        let opts = self.options();
        let olen = opts.buffer_len();
        let base_len = total - olen;
        fill(buf, 0, base_len, 0);
        let mut m = Message::new_unchecked(c, &mut *buf);
        match self {
            MessageRepr::Dis(r) => m.set_flags_byte(r.flags),
            MessageRepr::Dio(r) => {
                m.set_instance_id(r.instance_id);
                m.set_version(r.version);
                m.set_rank(r.rank);
                m.set_dio_mode(r.grounded, r.mop, r.dodag_preference);
                m.set_dtsn(r.dtsn);
                m.set_flags_byte(r.flags);
                m.set_dodag_id(&r.dodag_id);
            }
            MessageRepr::Dao(r) => {
                m.set_instance_id(r.instance_id);
                m.set_flags_byte(
                    (if r.expect_ack { FLAG_K } else { 0 })
                        | (if r.dodag_id.is_some() { FLAG_D_KD } else { 0 })
                        | (r.flags & 0x3f),
                );
                m.set_sequence(r.sequence);
                if let Some(id) = r.dodag_id {
                    m.set_dodag_id(&id);
                }
            }
            MessageRepr::DaoAck(r) => {
                m.set_instance_id(r.instance_id);
                m.set_flags_byte(if r.dodag_id.is_some() { FLAG_D_ACK } else { 0 });
                m.set_sequence(r.sequence);
                m.set_status(r.status);
                if let Some(id) = r.dodag_id {
                    m.set_dodag_id(&id);
                }
            }
            MessageRepr::Dco(r) => {
                m.set_instance_id(r.instance_id);
                m.set_flags_byte(
                    (if r.expect_ack { FLAG_K } else { 0 })
                        | (if r.dodag_id.is_some() { FLAG_D_KD } else { 0 }),
                );
                m.set_status(r.status);
                m.set_sequence(r.sequence);
                if let Some(id) = r.dodag_id {
                    m.set_dodag_id(&id);
                }
            }
            MessageRepr::DcoAck(r) => {
                m.set_instance_id(r.instance_id);
                m.set_flags_byte(if r.dodag_id.is_some() { FLAG_D_ACK } else { 0 });
                m.set_sequence(r.sequence);
                m.set_status(r.status);
                if let Some(id) = r.dodag_id {
                    m.set_dodag_id(&id);
                }
            }
            _ => {}
        }
        let rest = buf.get_mut(base_len..).unwrap_or(&mut []);
        opts.emit(rest)?;
        Ok(total)
    }
}

impl fmt::Display for MessageRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageRepr::Dio(d) => write!(
                f,
                "DIO inst={} ver={} rank={} dodag={} dtsn={} opts={}",
                d.instance_id,
                d.version,
                d.rank,
                d.dodag_id,
                d.dtsn,
                d.options.count()
            ),
            MessageRepr::Dao(d) => write!(
                f,
                "DAO inst={} seq={} k={} opts={}",
                d.instance_id,
                d.sequence,
                d.expect_ack,
                d.options.count()
            ),
            MessageRepr::DaoAck(d) => {
                write!(
                    f,
                    "DAO-ACK inst={} seq={} status={}",
                    d.instance_id, d.sequence, d.status
                )
            }
            other => write!(f, "{}", code_name(other.code())),
        }
    }
}
