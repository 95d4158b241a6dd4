//! Beacon frame payload (802.15.4-2020 §7.3.1): Superframe Specification, GTS fields, Pending
//! Address fields, Beacon Payload.

use crate::error::{Error, Result, need};
use amimesh_core::{ExtAddr, ShortAddr};
use core::fmt;
use heapless::Vec;

/// Superframe Specification field (§7.3.1.2, Figure 7-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SuperframeSpec(pub u16);

impl SuperframeSpec {
    /// Builds the field.
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        beacon_order: u8,
        superframe_order: u8,
        final_cap_slot: u8,
        battery_life_extension: bool,
        pan_coordinator: bool,
        association_permit: bool,
    ) -> Self {
        SuperframeSpec(
            (beacon_order as u16 & 0xf)
                | ((superframe_order as u16 & 0xf) << 4)
                | ((final_cap_slot as u16 & 0xf) << 8)
                | ((battery_life_extension as u16) << 12)
                | ((pan_coordinator as u16) << 14)
                | ((association_permit as u16) << 15),
        )
    }
    /// Beacon Order (15 = non-beacon-enabled PAN).
    pub const fn beacon_order(self) -> u8 {
        (self.0 & 0xf) as u8
    }
    /// Superframe Order.
    pub const fn superframe_order(self) -> u8 {
        ((self.0 >> 4) & 0xf) as u8
    }
    /// Final CAP Slot.
    pub const fn final_cap_slot(self) -> u8 {
        ((self.0 >> 8) & 0xf) as u8
    }
    /// Battery Life Extension.
    pub const fn battery_life_extension(self) -> bool {
        self.0 & (1 << 12) != 0
    }
    /// PAN Coordinator.
    pub const fn pan_coordinator(self) -> bool {
        self.0 & (1 << 14) != 0
    }
    /// Association Permit.
    pub const fn association_permit(self) -> bool {
        self.0 & (1 << 15) != 0
    }
}

/// One GTS descriptor (§7.3.1.3.3): device short address, starting slot, length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GtsDescriptor {
    /// Device Short Address.
    pub short_addr: ShortAddr,
    /// GTS Starting Slot (4 bits).
    pub starting_slot: u8,
    /// GTS Length (4 bits).
    pub length: u8,
}

/// A beacon's MAC payload, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BeaconRepr<'a> {
    /// Superframe Specification.
    pub superframe_spec: SuperframeSpec,
    /// GTS Permit.
    pub gts_permit: bool,
    /// GTS Directions mask (bit i = descriptor i is receive-only); only sent with descriptors.
    pub gts_directions: u8,
    /// GTS descriptors (at most 7).
    pub gts: Vec<GtsDescriptor, 7>,
    /// Pending short addresses (at most 7).
    pub pending_short: Vec<ShortAddr, 7>,
    /// Pending extended addresses (at most 7).
    pub pending_ext: Vec<ExtAddr, 7>,
    /// Beacon Payload (e.g. the ZigBee IP beacon payload, FACTS §6.6).
    pub payload: &'a [u8],
}

impl<'a> BeaconRepr<'a> {
    /// Decodes a beacon MAC payload.
    ///
    /// # Errors
    /// [`Error::Truncated`] at every truncation point.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        need(bytes, 4)?;
        let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
        let superframe_spec = SuperframeSpec(u16::from_le_bytes([byte(0), byte(1)]));
        let gts_spec = byte(2);
        let gts_count = usize::from(gts_spec & 0x07);
        let mut off = 3;
        let mut gts = Vec::new();
        let mut gts_directions = 0;
        if gts_count > 0 {
            need(bytes, off + 1 + 3 * gts_count + 1)?;
            gts_directions = byte(off) & 0x7f;
            off += 1;
            for _ in 0..gts_count {
                let d = GtsDescriptor {
                    short_addr: ShortAddr::from_le_bytes([byte(off), byte(off + 1)]),
                    starting_slot: byte(off + 2) & 0x0f,
                    length: byte(off + 2) >> 4,
                };
                let _ = gts.push(d);
                off += 3;
            }
        }
        let pending_spec = byte(off);
        off += 1;
        let n_short = usize::from(pending_spec & 0x07);
        let n_ext = usize::from((pending_spec >> 4) & 0x07);
        need(bytes, off + 2 * n_short + 8 * n_ext)?;
        let mut pending_short = Vec::new();
        for _ in 0..n_short {
            let _ = pending_short.push(ShortAddr::from_le_bytes([byte(off), byte(off + 1)]));
            off += 2;
        }
        let mut pending_ext = Vec::new();
        for _ in 0..n_ext {
            let mut e = [0u8; 8];
            for (i, b) in e.iter_mut().enumerate() {
                *b = byte(off + i);
            }
            let _ = pending_ext.push(ExtAddr::from_le_bytes(e));
            off += 8;
        }
        Ok(BeaconRepr {
            superframe_spec,
            gts_permit: gts_spec & 0x80 != 0,
            gts_directions,
            gts,
            pending_short,
            pending_ext,
            payload: bytes.get(off..).unwrap_or(&[]),
        })
    }

    /// Length of the fields before the Beacon Payload (authenticated but not encrypted when
    /// the beacon is secured, §9.3.5).
    pub fn fields_len(&self) -> usize {
        let gts = if self.gts.is_empty() {
            0
        } else {
            1 + 3 * self.gts.len()
        };
        2 + 1 + gts + 1 + 2 * self.pending_short.len() + 8 * self.pending_ext.len()
    }

    /// Encoded length.
    pub fn buffer_len(&self) -> usize {
        self.fields_len() + self.payload.len()
    }

    /// Writes the beacon MAC payload; returns its length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let out = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        let mut off = 0usize;
        let mut put = |bytes: &[u8]| {
            if let Some(dst) = out.get_mut(off..off + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
            off += bytes.len();
        };
        put(&self.superframe_spec.0.to_le_bytes());
        put(&[self.gts.len() as u8 | if self.gts_permit { 0x80 } else { 0 }]);
        if !self.gts.is_empty() {
            put(&[self.gts_directions & 0x7f]);
            for d in &self.gts {
                put(&d.short_addr.to_le_bytes());
                put(&[(d.starting_slot & 0x0f) | (d.length << 4)]);
            }
        }
        put(&[self.pending_short.len() as u8 | ((self.pending_ext.len() as u8) << 4)]);
        for a in &self.pending_short {
            put(&a.to_le_bytes());
        }
        for e in &self.pending_ext {
            put(&e.to_le_bytes());
        }
        put(self.payload);
        Ok(len)
    }
}

impl fmt::Display for BeaconRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Beacon BO={} SO={} assoc_permit={} gts={} pending={}+{} payload={}",
            self.superframe_spec.beacon_order(),
            self.superframe_spec.superframe_order(),
            self.superframe_spec.association_permit(),
            self.gts.len(),
            self.pending_short.len(),
            self.pending_ext.len(),
            self.payload.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 802.15.4 Annex C.2.1 beacon MAC payload: superframe 0xcf55 (BO 5, SO 5, final CAP 15,
    // PAN coordinator, association permit), no GTS, no pending addresses, payload 51 52 53 54.
    static ANNEX_C: [u8; 8] = [0x55, 0xcf, 0x00, 0x00, 0x51, 0x52, 0x53, 0x54];
    // GTS permit with one descriptor (0x1234, slot 9, length 2) and directions 0x01; pending
    // short 0xbeef and extended 00:12:4b:00:00:00:00:01; payload "zb".
    static FULL: [u8; 23] = [
        0xff, 0x8f, // superframe: BO 15, SO 15, CAP 15, association permit
        0x81, 0x01, // GTS spec (1 descriptor, permit), directions
        0x34, 0x12, 0x29, // descriptor
        0x11, // pending: 1 short, 1 extended
        0xef, 0xbe, 0x01, 0, 0, 0, 0, 0x4b, 0x12, 0x00, // addresses
        b'z', b'b', 0, 0, 0,
    ];

    fn full() -> BeaconRepr<'static> {
        BeaconRepr {
            superframe_spec: SuperframeSpec::new(15, 15, 15, false, false, true),
            gts_permit: true,
            gts_directions: 1,
            gts: Vec::from_slice(&[GtsDescriptor {
                short_addr: ShortAddr(0x1234),
                starting_slot: 9,
                length: 2,
            }])
            .unwrap(),
            pending_short: Vec::from_slice(&[ShortAddr(0xbeef)]).unwrap(),
            pending_ext: Vec::from_slice(&[ExtAddr([0, 0x12, 0x4b, 0, 0, 0, 0, 1])]).unwrap(),
            payload: &FULL[18..],
        }
    }

    #[test]
    fn annex_c_beacon() {
        let b = BeaconRepr::parse(&ANNEX_C).unwrap();
        let s = b.superframe_spec;
        assert_eq!(
            (s.beacon_order(), s.superframe_order(), s.final_cap_slot()),
            (5, 5, 15)
        );
        assert!(s.pan_coordinator() && s.association_permit() && !s.battery_life_extension());
        assert_eq!(s, SuperframeSpec::new(5, 5, 15, false, true, true));
        assert_eq!(b.payload, b"QRST");
        assert_eq!(b.fields_len(), 4);
    }

    #[test]
    fn parse_and_emit_full() {
        assert_eq!(BeaconRepr::parse(&FULL).unwrap(), full());
        let mut buf = [0xa5u8; 23];
        assert_eq!(full().emit(&mut buf).unwrap(), 23);
        assert_eq!(buf, FULL);
        assert_eq!(
            full().emit(&mut [0u8; 22]),
            Err(Error::BufferTooSmall { required: 23 })
        );
    }

    #[test]
    fn every_truncation_point() {
        for cut in 0..18 {
            assert!(
                matches!(
                    BeaconRepr::parse(&FULL[..cut]),
                    Err(Error::Truncated { .. })
                ),
                "cut {cut}"
            );
        }
    }
}
