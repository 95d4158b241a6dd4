//! IEEE 802.15.4 addressing (802.15.4-2020 §7.2.2) and IPv6 interface identifiers.
//!
//! Display follows Wireshark: short addresses as `0x1234`, extended addresses as
//! `00:12:4b:00:00:00:00:01` (most significant byte first), PAN ids as `0xabcd`.

use core::fmt;

/// A 16-bit PAN identifier. `0xffff` is the broadcast PAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct PanId(pub u16);

impl PanId {
    /// The broadcast PAN id, `0xffff`.
    pub const BROADCAST: PanId = PanId(0xffff);
    /// Little-endian wire bytes.
    pub const fn to_le_bytes(self) -> [u8; 2] {
        self.0.to_le_bytes()
    }
    /// From little-endian wire bytes.
    pub const fn from_le_bytes(b: [u8; 2]) -> Self {
        PanId(u16::from_le_bytes(b))
    }
}

impl fmt::Display for PanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04x}", self.0)
    }
}

/// A 16-bit short address. `0xffff` is broadcast, `0xfffe` means "no short address assigned".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ShortAddr(pub u16);

impl ShortAddr {
    /// Broadcast, `0xffff`.
    pub const BROADCAST: ShortAddr = ShortAddr(0xffff);
    /// "Associated but no short address" marker, `0xfffe`.
    pub const NONE: ShortAddr = ShortAddr(0xfffe);
    /// Is this the broadcast address?
    pub const fn is_broadcast(self) -> bool {
        self.0 == 0xffff
    }
    /// Little-endian wire bytes.
    pub const fn to_le_bytes(self) -> [u8; 2] {
        self.0.to_le_bytes()
    }
    /// From little-endian wire bytes.
    pub const fn from_le_bytes(b: [u8; 2]) -> Self {
        ShortAddr(u16::from_le_bytes(b))
    }
    /// IPv6 interface identifier `0000:00ff:fe00:XXXX` (RFC 4944 §6, RFC 6282 §3.2.2).
    pub const fn to_iid(self) -> [u8; 8] {
        let b = self.0.to_be_bytes();
        [0, 0, 0, 0xff, 0xfe, 0, b[0], b[1]]
    }
}

impl fmt::Display for ShortAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04x}", self.0)
    }
}

/// A 64-bit extended address (EUI-64), stored most significant byte first.
///
/// On the air it is sent least significant byte first (802.15.4 is little-endian): use
/// [`ExtAddr::from_le_bytes`] / [`ExtAddr::to_le_bytes`] at the wire boundary. The CCM* nonce
/// uses the big-endian form ([`ExtAddr::to_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ExtAddr(pub [u8; 8]);

impl ExtAddr {
    /// The broadcast extended address (all ones).
    pub const BROADCAST: ExtAddr = ExtAddr([0xff; 8]);
    /// From the EUI-64 as a number.
    pub const fn from_u64(v: u64) -> Self {
        ExtAddr(v.to_be_bytes())
    }
    /// The EUI-64 as a number.
    pub const fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }
    /// Most-significant-byte-first bytes (as printed, as used in the CCM* nonce).
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0
    }
    /// From the 8 bytes as they appear on the air (least significant first).
    pub const fn from_le_bytes(b: [u8; 8]) -> Self {
        ExtAddr::from_u64(u64::from_le_bytes(b))
    }
    /// The 8 bytes as they appear on the air (least significant first).
    pub const fn to_le_bytes(self) -> [u8; 8] {
        self.to_u64().to_le_bytes()
    }
    /// IPv6 interface identifier: the EUI-64 with the universal/local bit inverted
    /// (RFC 4944 §6, RFC 4291 Appendix A).
    pub const fn to_iid(self) -> [u8; 8] {
        let mut b = self.0;
        b[0] ^= 0x02;
        b
    }
    /// Inverse of [`ExtAddr::to_iid`].
    pub const fn from_iid(iid: [u8; 8]) -> Self {
        let mut b = iid;
        b[0] ^= 0x02;
        ExtAddr(b)
    }
}

impl fmt::Display for ExtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
        )
    }
}

/// A link-layer address: absent, short or extended (802.15.4 addressing modes 0, 2, 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum LinkAddr {
    /// No address (addressing mode 0).
    #[default]
    Absent,
    /// 16-bit short address (mode 2).
    Short(ShortAddr),
    /// 64-bit extended address (mode 3).
    Extended(ExtAddr),
}

impl LinkAddr {
    /// The IPv6 interface identifier derived from this address, if any.
    pub const fn to_iid(self) -> Option<[u8; 8]> {
        match self {
            LinkAddr::Absent => None,
            LinkAddr::Short(s) => Some(s.to_iid()),
            LinkAddr::Extended(e) => Some(e.to_iid()),
        }
    }
    /// Is this a broadcast address (short `0xffff`)?
    pub const fn is_broadcast(self) -> bool {
        matches!(self, LinkAddr::Short(s) if s.is_broadcast())
    }
}

impl fmt::Display for LinkAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkAddr::Absent => f.write_str("none"),
            LinkAddr::Short(s) => s.fmt(f),
            LinkAddr::Extended(e) => e.fmt(f),
        }
    }
}

impl From<ShortAddr> for LinkAddr {
    fn from(s: ShortAddr) -> Self {
        LinkAddr::Short(s)
    }
}
impl From<ExtAddr> for LinkAddr {
    fn from(e: ExtAddr) -> Self {
        LinkAddr::Extended(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn ext_addr_wire_order_and_display() {
        // 802.15.4 Annex C: EUI ac:de:48:00:00:00:00:01 is sent 01 00 00 00 00 48 de ac.
        let e = ExtAddr([0xac, 0xde, 0x48, 0, 0, 0, 0, 0x01]);
        assert_eq!(e.to_le_bytes(), [0x01, 0, 0, 0, 0, 0x48, 0xde, 0xac]);
        assert_eq!(ExtAddr::from_le_bytes(e.to_le_bytes()), e);
        assert_eq!(e.to_string(), "ac:de:48:00:00:00:00:01");
        assert_eq!(ExtAddr::from_u64(e.to_u64()), e);
    }

    #[test]
    fn iids() {
        // OpenThread test vector: MAC 14:6e:0a:00:00:00:00:01 -> fe80::166e:a00:0:1
        let e = ExtAddr([0x14, 0x6e, 0x0a, 0, 0, 0, 0, 1]);
        assert_eq!(e.to_iid(), [0x16, 0x6e, 0x0a, 0, 0, 0, 0, 1]);
        assert_eq!(ExtAddr::from_iid(e.to_iid()), e);
        assert_eq!(
            ShortAddr(0x1000).to_iid(),
            [0, 0, 0, 0xff, 0xfe, 0, 0x10, 0]
        );
        assert_eq!(LinkAddr::Absent.to_iid(), None);
        assert!(LinkAddr::Short(ShortAddr::BROADCAST).is_broadcast());
    }

    #[test]
    fn display_like_wireshark() {
        assert_eq!(ShortAddr(0x12).to_string(), "0x0012");
        assert_eq!(PanId(0xabcd).to_string(), "0xabcd");
        assert_eq!(LinkAddr::Absent.to_string(), "none");
    }
}
