//! The beacon payload amimesh routers and the field relay advertise.
//!
//! It follows the ZigBee IP beacon payload, so that Wireshark (`zbip_beacon.*`) and ZigBee-IP
//! tools decode it, and adds two amimesh TLVs in the payload's TLV space.
//!
//! ```text
//!  octet 0      protocol id = 0x02 (ZigBee IP)
//!  octet 1      flags: 0x01 allow join, 0x02 router capacity, 0x04 host capacity,
//!               0x80 unsecured network (test networks); other bits reserved, kept as received
//!  octets 2–17  network id, 16 octets (ASCII, zero padded)
//!  octets 18–   TLVs, each: header octet (type = high nibble, length = low nibble, 0–15),
//!               then `length` value octets
//! ```
//!
//! TLV types:
//!
//! | type | length | meaning | owner |
//! |---|---|---|---|
//! | 0x0 | any | LFDI | ZigBee IP (kept untouched) |
//! | 0xE | 0 | PANA relay available: the sender runs a PANA Relay Element (RFC 6345) on UDP 716 | amimesh |
//! | 0xF | 3 | routing hint: RPL rank of the sender (2 octets, big-endian, RFC 6550 §3.5.1) and hop count to the DODAG root (1 octet; 0xFF unknown) | amimesh |
//! | others | any | kept untouched, re-emitted after the amimesh TLVs (at most [`MAX_OTHER_TLV_BYTES`] octets) | — |
//!
//! Sources: ZigBee IP layout as decoded by Wireshark's `packet-zbee-nwk.c`
//! (`dissect_zbip_beacon`), spec/FACTS.md §6.6.
//!
//! View contract (as in the rest of the crate): once [`BeaconPayload::check_len`] returns `Ok`,
//! no getter panics; `check_len` walks every TLV header.

use core::fmt;

use crate::error::{Error, Result};

/// The ZigBee IP protocol id (octet 0).
pub const PROTOCOL_ID_ZIGBEE_IP: u8 = 0x02;
/// Flag: the network accepts joining devices.
pub const FLAG_ALLOW_JOIN: u8 = 0x01;
/// Flag: the sender can accept more router children.
pub const FLAG_ROUTER_CAPACITY: u8 = 0x02;
/// Flag: the sender can accept more host children.
pub const FLAG_HOST_CAPACITY: u8 = 0x04;
/// Flag: the network runs without link-layer security (test networks only).
pub const FLAG_UNSECURED: u8 = 0x80;
/// Length of the fixed part (protocol id, flags, network id).
pub const HEADER_LEN: usize = 18;
/// TLV type of the ZigBee IP LFDI TLV.
pub const TLV_LFDI: u8 = 0x0;
/// TLV type "PANA relay available" (amimesh).
pub const TLV_PRE: u8 = 0xE;
/// TLV type "routing hint" (amimesh): rank (2, BE) and hop count (1).
pub const TLV_ROUTING_HINT: u8 = 0xF;
/// Length of the routing-hint TLV value.
pub const ROUTING_HINT_LEN: usize = 3;
/// Hop count value meaning "unknown".
pub const HOPS_UNKNOWN: u8 = 0xff;
/// The most octets of foreign TLVs (headers included) a [`BeaconPayloadRepr`] keeps.
pub const MAX_OTHER_TLV_BYTES: usize = 48;

mod field {
    use core::ops::Range;
    pub const PROTOCOL_ID: usize = 0;
    pub const FLAGS: usize = 1;
    pub const NETWORK_ID: Range<usize> = 2..18;
    pub const TLVS: usize = 18;
}

/// A read/write view of a beacon payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeaconPayload<T: AsRef<[u8]>> {
    buffer: T,
}

/// One TLV of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// Type (0–15).
    pub ty: u8,
    /// Value octets.
    pub value: &'a [u8],
    /// The whole TLV, header included.
    pub raw: &'a [u8],
}

/// Iterator over the TLVs; stops at the first malformed one (after yielding its error once).
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let (&hdr, tail) = self.rest.split_first()?;
        let len = usize::from(hdr & 0x0f);
        match (tail.get(..len), self.rest.get(..len.saturating_add(1))) {
            (Some(value), Some(raw)) => {
                self.rest = tail.get(len..).unwrap_or(&[]);
                Some(Ok(Tlv {
                    ty: hdr >> 4,
                    value,
                    raw,
                }))
            }
            _ => {
                self.failed = true;
                Some(Err(Error::Truncated {
                    needed: len.saturating_add(1),
                    got: self.rest.len(),
                }))
            }
        }
    }
}

impl<T: AsRef<[u8]>> BeaconPayload<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        BeaconPayload { buffer }
    }

    /// Wraps a buffer and checks it ([`Self::check_len`]).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the fixed part is present and every TLV lies within the buffer.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                got: b.len(),
            });
        }
        for tlv in self.tlvs() {
            tlv?;
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Octet 0: protocol id.
    pub fn protocol_id(&self) -> u8 {
        self.buffer
            .as_ref()
            .get(field::PROTOCOL_ID)
            .copied()
            .unwrap_or(0)
    }

    /// Octet 1: flags.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref().get(field::FLAGS).copied().unwrap_or(0)
    }

    /// The network id (16 octets).
    pub fn network_id(&self) -> [u8; 16] {
        let mut id = [0u8; 16];
        if let Some(src) = self.buffer.as_ref().get(field::NETWORK_ID) {
            id.copy_from_slice(src);
        }
        id
    }

    /// The TLVs.
    pub fn tlvs(&self) -> TlvIter<'_> {
        TlvIter {
            rest: self.buffer.as_ref().get(field::TLVS..).unwrap_or(&[]),
            failed: false,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> BeaconPayload<T> {
    /// Sets the protocol id.
    pub fn set_protocol_id(&mut self, v: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::PROTOCOL_ID) {
            *b = v;
        }
    }
    /// Sets the flags.
    pub fn set_flags(&mut self, v: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::FLAGS) {
            *b = v;
        }
    }
    /// Sets the network id.
    pub fn set_network_id(&mut self, id: &[u8; 16]) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::NETWORK_ID) {
            b.copy_from_slice(id);
        }
    }
}

/// The routing hint: the sender's RPL rank and hop count.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoutingHint {
    /// RPL rank (RFC 6550 §3.5.1); 0xFFFF = infinite (not joined to a DODAG).
    pub rank: u16,
    /// Hops to the DODAG root, [`HOPS_UNKNOWN`] if unknown.
    pub hops: u8,
}

/// The parsed beacon payload.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeaconPayloadRepr {
    /// Flags octet, all bits as received.
    pub flags: u8,
    /// Network id.
    pub network_id: [u8; 16],
    /// The sender runs a PANA Relay Element.
    pub pre_available: bool,
    /// The sender's routing hint.
    pub routing_hint: Option<RoutingHint>,
    other: [u8; MAX_OTHER_TLV_BYTES],
    other_len: u8,
}

impl BeaconPayloadRepr {
    /// A payload with no foreign TLVs.
    pub const fn new(
        flags: u8,
        network_id: [u8; 16],
        pre_available: bool,
        routing_hint: Option<RoutingHint>,
    ) -> Self {
        BeaconPayloadRepr {
            flags,
            network_id,
            pre_available,
            routing_hint,
            other: [0; MAX_OTHER_TLV_BYTES],
            other_len: 0,
        }
    }

    /// Does the network accept joining devices?
    pub const fn allow_join(&self) -> bool {
        self.flags & FLAG_ALLOW_JOIN != 0
    }

    /// The foreign TLVs (headers included), as received.
    pub fn other_tlvs(&self) -> &[u8] {
        self.other.get(..usize::from(self.other_len)).unwrap_or(&[])
    }

    /// Appends one foreign TLV (type 0–13, value ≤ 15 octets).
    pub fn push_other_tlv(&mut self, ty: u8, value: &[u8]) -> Result<()> {
        if ty > 0x0f || ty == TLV_PRE || ty == TLV_ROUTING_HINT {
            return Err(Error::Malformed("TLV type reserved or out of range"));
        }
        if value.len() > 15 {
            return Err(Error::Malformed("TLV value longer than 15 octets"));
        }
        let start = usize::from(self.other_len);
        let end = start + 1 + value.len();
        let dst = self
            .other
            .get_mut(start..end)
            .ok_or(Error::BufferTooSmall { required: end })?;
        if let Some((hdr, val)) = dst.split_first_mut() {
            *hdr = (ty << 4) | value.len() as u8;
            val.copy_from_slice(value);
        }
        self.other_len = end as u8;
        Ok(())
    }

    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &BeaconPayload<T>) -> Result<Self> {
        p.check_len()?;
        if p.protocol_id() != PROTOCOL_ID_ZIGBEE_IP {
            return Err(Error::Malformed(
                "beacon protocol id is not ZigBee IP (0x02)",
            ));
        }
        let mut r = BeaconPayloadRepr::new(p.flags(), p.network_id(), false, None);
        let mut seen_pre = false;
        for tlv in p.tlvs() {
            let tlv = tlv?;
            match tlv.ty {
                TLV_PRE => {
                    if seen_pre || !tlv.value.is_empty() {
                        return Err(Error::Malformed("PRE TLV repeated or not empty"));
                    }
                    seen_pre = true;
                    r.pre_available = true;
                }
                TLV_ROUTING_HINT => {
                    match (r.routing_hint, tlv.value) {
                        (None, &[r0, r1, hops]) => {
                            r.routing_hint = Some(RoutingHint {
                                rank: u16::from_be_bytes([r0, r1]),
                                hops,
                            })
                        }
                        _ => return Err(Error::Malformed("routing hint repeated or not 3 octets")),
                    };
                }
                _ => {
                    let start = usize::from(r.other_len);
                    let end = start + tlv.raw.len();
                    let dst = r
                        .other
                        .get_mut(start..end)
                        .ok_or(Error::Malformed("too many foreign TLV octets"))?;
                    dst.copy_from_slice(tlv.raw);
                    r.other_len = end as u8;
                }
            }
        }
        Ok(r)
    }

    /// Bytes [`Self::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + usize::from(self.pre_available)
            + if self.routing_hint.is_some() {
                1 + ROUTING_HINT_LEN
            } else {
                0
            }
            + usize::from(self.other_len)
    }

    /// Writes the payload into `buf` (at least [`Self::buffer_len`] octets) and returns the
    /// length written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let out = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        let mut p = BeaconPayload::new_unchecked(&mut *out);
        p.set_protocol_id(PROTOCOL_ID_ZIGBEE_IP);
        p.set_flags(self.flags);
        p.set_network_id(&self.network_id);
        let mut i = HEADER_LEN;
        let mut put = |bytes: &[u8]| {
            if let Some(d) = out.get_mut(i..i + bytes.len()) {
                d.copy_from_slice(bytes);
            }
            i += bytes.len();
        };
        if self.pre_available {
            put(&[TLV_PRE << 4]);
        }
        if let Some(h) = self.routing_hint {
            let [r0, r1] = h.rank.to_be_bytes();
            put(&[
                (TLV_ROUTING_HINT << 4) | ROUTING_HINT_LEN as u8,
                r0,
                r1,
                h.hops,
            ]);
        }
        put(self.other_tlvs());
        Ok(len)
    }
}

impl fmt::Display for BeaconPayloadRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ZBIP beacon flags={:#04x} join={} pre={}",
            self.flags,
            self.allow_join(),
            self.pre_available
        )?;
        if let Some(h) = self.routing_hint {
            write!(f, " rank={} hops={}", h.rank, h.hops)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our own fixture (format above; `testdata/beacon_payload_amimesh.bin`): allow join +
    /// router capacity, network id "amimesh-demo", PRE TLV, routing hint rank 256 hops 1, an
    /// LFDI TLV of 2 octets and an empty one.
    static PAYLOAD: [u8; 27] = [
        0x02, // protocol id: ZigBee IP
        0x03, // flags: allow join | router capacity
        b'a', b'm', b'i', b'm', b'e', b's', b'h', b'-', b'd', b'e', b'm', b'o', 0, 0, 0,
        0,    // network id
        0xe0, // TLV type 0xE (PRE), length 0
        0xf3, 0x01, 0x00, 0x01, // TLV type 0xF, length 3: rank 0x0100, hops 1
        0x02, 0xab, 0xcd, // TLV type 0 (LFDI), length 2: 0xab 0xcd
        0x00, // TLV type 0 (LFDI), length 0
    ];

    fn repr() -> BeaconPayloadRepr {
        let mut id = [0u8; 16];
        id[..12].copy_from_slice(b"amimesh-demo");
        let mut r =
            BeaconPayloadRepr::new(0x03, id, true, Some(RoutingHint { rank: 256, hops: 1 }));
        r.push_other_tlv(0, &[0xab, 0xcd]).unwrap();
        r.push_other_tlv(0, &[]).unwrap();
        r
    }

    #[test]
    fn fixture_file_matches() {
        assert_eq!(
            &PAYLOAD[..],
            include_bytes!("../../testdata/beacon_payload_amimesh.bin")
        );
    }

    #[test]
    fn deconstruct() {
        let p = BeaconPayload::new_checked(&PAYLOAD[..]).unwrap();
        assert_eq!(p.protocol_id(), 2);
        assert_eq!(p.flags(), 0x03);
        assert_eq!(&p.network_id()[..12], b"amimesh-demo");
        let tlvs: std::vec::Vec<_> = p.tlvs().map(|t| t.unwrap()).collect();
        assert_eq!(tlvs.len(), 4);
        assert_eq!((tlvs[0].ty, tlvs[0].value), (0xe, &[][..]));
        assert_eq!((tlvs[1].ty, tlvs[1].value), (0xf, &[1, 0, 1][..]));
        assert_eq!((tlvs[2].ty, tlvs[2].raw), (0, &[0x02, 0xab, 0xcd][..]));
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 27];
        let mut p = BeaconPayload::new_unchecked(&mut buf[..]);
        p.set_protocol_id(2);
        p.set_flags(0x03);
        let mut id = [0u8; 16];
        id[..12].copy_from_slice(b"amimesh-demo");
        p.set_network_id(&id);
        buf[18..].copy_from_slice(&PAYLOAD[18..]);
        assert_eq!(buf, PAYLOAD);
    }

    #[test]
    fn parse() {
        let p = BeaconPayload::new_checked(&PAYLOAD[..]).unwrap();
        let r = BeaconPayloadRepr::parse(&p).unwrap();
        assert_eq!(r, repr());
        assert!(r.allow_join());
        assert_eq!(r.other_tlvs(), &[0x02, 0xab, 0xcd, 0x00]);
    }

    #[test]
    fn emit() {
        let r = repr();
        assert_eq!(r.buffer_len(), PAYLOAD.len());
        let mut buf = [0xa5u8; 40];
        let n = r.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &PAYLOAD[..]);
        assert_eq!(buf[n], 0xa5);
        assert_eq!(
            r.emit(&mut [0u8; 20]),
            Err(Error::BufferTooSmall { required: 27 })
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            BeaconPayload::new_checked(&PAYLOAD[..17]).unwrap_err(),
            Error::Truncated {
                needed: 18,
                got: 17
            }
        );
        // Every truncation inside the routing-hint TLV.
        for cut in 20..23 {
            assert!(matches!(
                BeaconPayload::new_checked(&PAYLOAD[..cut]),
                Err(Error::Truncated { needed: 4, .. })
            ));
        }
        let mut other = PAYLOAD;
        other[0] = 0x01;
        let p = BeaconPayload::new_checked(&other[..]).unwrap();
        assert_eq!(
            BeaconPayloadRepr::parse(&p),
            Err(Error::Malformed(
                "beacon protocol id is not ZigBee IP (0x02)"
            ))
        );
        let mut dup = [0u8; 20];
        dup[..18].copy_from_slice(&PAYLOAD[..18]);
        dup[18] = 0xe0;
        dup[19] = 0xe0;
        assert!(matches!(
            BeaconPayloadRepr::parse(&BeaconPayload::new_unchecked(&dup[..])),
            Err(Error::Malformed(_))
        ));
        let mut bad_hint = PAYLOAD;
        bad_hint[19] = 0xf2; // length 2: the rest becomes misaligned TLVs, hint invalid
        assert!(BeaconPayloadRepr::parse(&BeaconPayload::new_unchecked(&bad_hint[..22])).is_err());
        // Too many foreign TLV octets.
        let mut big = [0u8; 18 + 64];
        big[..18].copy_from_slice(&PAYLOAD[..18]);
        for c in big[18..].chunks_mut(16) {
            c[0] = 0x1f;
        }
        assert_eq!(
            BeaconPayloadRepr::parse(&BeaconPayload::new_unchecked(&big[..])),
            Err(Error::Malformed("too many foreign TLV octets"))
        );
        let mut r = repr();
        assert!(r.push_other_tlv(TLV_PRE, &[]).is_err());
        assert!(r.push_other_tlv(1, &[0; 16]).is_err());
        for _ in 0..10 {
            let _ = r.push_other_tlv(1, &[0; 15]);
        }
        assert_eq!(
            r.push_other_tlv(1, &[0; 15]),
            Err(Error::BufferTooSmall { required: 52 })
        );
    }

    #[test]
    fn display() {
        use alloc::string::ToString;
        assert_eq!(
            repr().to_string(),
            "ZBIP beacon flags=0x03 join=true pre=true rank=256 hops=1"
        );
    }

    mod props {
        use super::super::*;
        use crate::mac::test_gens;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn emit_parse_round_trip(r in test_gens::beacon_payload()) {
                let mut buf = [0u8; 128];
                let n = r.emit(&mut buf).unwrap();
                let p = BeaconPayload::new_checked(&buf[..n]).unwrap();
                prop_assert_eq!(BeaconPayloadRepr::parse(&p).unwrap(), r);
            }

            #[test]
            fn buffer_len_is_exact(r in test_gens::beacon_payload()) {
                let mut buf = [0xa5u8; 128];
                prop_assert_eq!(r.emit(&mut buf).unwrap(), r.buffer_len());
            }

            #[test]
            fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
                if let Ok(p) = BeaconPayload::new_checked(&b[..]) {
                    let _ = p.network_id();
                    let _ = p.tlvs().count();
                    let _ = BeaconPayloadRepr::parse(&p);
                }
            }

            #[test]
            fn parse_emit_parse_is_fixed_point(
                mut b in proptest::collection::vec(any::<u8>(), 18..60),
            ) {
                b[0] = PROTOCOL_ID_ZIGBEE_IP;
                let p = BeaconPayload::new_unchecked(&b[..]);
                if let Ok(r1) = BeaconPayloadRepr::parse(&p) {
                    let mut buf = [0u8; 128];
                    let n = r1.emit(&mut buf).unwrap();
                    let r2 = BeaconPayloadRepr::parse(&BeaconPayload::new_unchecked(&buf[..n])).unwrap();
                    prop_assert_eq!(r1, r2);
                }
            }
        }
    }
}
