//! Just enough of the 802.15.4 MAC header for a radio: frame type, AR and frame-pending bits,
//! sequence number and destination (what auto-ACK and address filtering look at).
//!
//! Layout per 802.15.4-2020 §7.2.2 (frame control) and §7.2.2.6 / Table 7-2 (PAN ID
//! presence for frame version 2); see FACTS §6.1–6.2. The full codec lives in `amimesh-mac`.

use amimesh_core::{ExtAddr, LinkAddr, PanId, ShortAddr};

/// Frame type: beacon.
pub const FRAME_TYPE_BEACON: u8 = 0;
/// Frame type: data.
pub const FRAME_TYPE_DATA: u8 = 1;
/// Frame type: immediate acknowledgment.
pub const FRAME_TYPE_ACK: u8 = 2;
/// Frame type: MAC command.
pub const FRAME_TYPE_MAC_COMMAND: u8 = 3;

/// The header fields a radio looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MhrPeek {
    /// Frame type (bits 0–2 of the frame control field).
    pub frame_type: u8,
    /// Frame Pending bit.
    pub frame_pending: bool,
    /// AR (acknowledgment request) bit.
    pub ack_request: bool,
    /// Frame version (0 = 2003, 1 = 2006, 2 = 2015).
    pub frame_version: u8,
    /// Sequence number, unless suppressed.
    pub seq: Option<u8>,
    /// Destination PAN identifier, if present.
    pub dst_pan: Option<PanId>,
    /// Destination address.
    pub dst: LinkAddr,
}

/// Reads the frame control, sequence number and destination of an MPDU. `None` if it is too
/// short or uses a reserved addressing mode.
pub fn peek(mpdu: &[u8]) -> Option<MhrPeek> {
    let fc = u16::from_le_bytes([*mpdu.first()?, *mpdu.get(1)?]);
    let frame_type = (fc & 0x7) as u8;
    let frame_pending = fc & 0x10 != 0;
    let ack_request = fc & 0x20 != 0;
    let pan_id_compression = fc & 0x40 != 0;
    let seq_suppressed = fc & 0x100 != 0;
    let dst_mode = ((fc >> 10) & 0x3) as u8;
    let frame_version = ((fc >> 12) & 0x3) as u8;
    let src_mode = ((fc >> 14) & 0x3) as u8;
    if dst_mode == 1 || src_mode == 1 {
        return None;
    }
    let mut off = 2usize;
    let seq = if frame_version == 2 && seq_suppressed {
        None
    } else {
        let s = *mpdu.get(off)?;
        off += 1;
        Some(s)
    };
    let dst_pan_present = if frame_version == 2 {
        // Table 7-2: with a destination address the PAN is present unless both addresses are
        // extended with compression set, or only the destination is present with compression.
        match (dst_mode, src_mode, pan_id_compression) {
            (0, 0, pc) => pc,
            (0, _, _) => false,
            (3, 3, pc) => !pc,
            (_, 0, pc) => !pc,
            _ => true,
        }
    } else {
        dst_mode != 0
    };
    let dst_pan = if dst_pan_present {
        let p = PanId(u16::from_le_bytes([*mpdu.get(off)?, *mpdu.get(off + 1)?]));
        off += 2;
        Some(p)
    } else {
        None
    };
    let dst = match dst_mode {
        2 => LinkAddr::Short(ShortAddr(u16::from_le_bytes([
            *mpdu.get(off)?,
            *mpdu.get(off + 1)?,
        ]))),
        3 => {
            let b = mpdu.get(off..off + 8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            LinkAddr::Extended(ExtAddr::from_le_bytes(a))
        }
        _ => LinkAddr::Absent,
    };
    Some(MhrPeek {
        frame_type,
        frame_pending,
        ack_request,
        frame_version,
        seq,
        dst_pan,
        dst,
    })
}

/// An immediate ACK MPDU (without FCS): frame control (type ACK, frame version 0, the given
/// frame-pending bit) and the acknowledged sequence number (802.15.4-2020 §7.3.3).
pub fn imm_ack(seq: u8, frame_pending: bool) -> [u8; 3] {
    let fc0 = FRAME_TYPE_ACK | if frame_pending { 0x10 } else { 0 };
    [fc0, 0x00, seq]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peeks_a_2006_data_frame() {
        // OpenThread test vector (FACTS §7.5): data, AR, PAN compression, short/short.
        let f = [0x61, 0x88, 0x13, 0xce, 0xfa, 0x00, 0x10, 0x00, 0x00, 0x7a];
        let p = peek(&f).unwrap();
        assert_eq!(p.frame_type, FRAME_TYPE_DATA);
        assert!(p.ack_request);
        assert!(!p.frame_pending);
        assert_eq!(p.seq, Some(0x13));
        assert_eq!(p.dst_pan, Some(PanId(0xface)));
        assert_eq!(p.dst, LinkAddr::Short(ShortAddr(0x1000)));
        assert!(peek(&f[..4]).is_none());
    }

    #[test]
    fn peeks_extended_destination_and_ack() {
        let f = [
            0x61, 0xcc, 0x1d, 0xce, 0xfa, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x6e, 0x14,
        ];
        let p = peek(&f).unwrap();
        assert_eq!(
            p.dst,
            LinkAddr::Extended(ExtAddr([0x14, 0x6e, 0x0a, 0, 0, 0, 0, 0x03]))
        );
        let a = imm_ack(0x42, true);
        let p = peek(&a).unwrap();
        assert_eq!(p.frame_type, FRAME_TYPE_ACK);
        assert!(p.frame_pending);
        assert_eq!(p.seq, Some(0x42));
        assert_eq!(p.dst, LinkAddr::Absent);
    }

    #[test]
    fn version_2_pan_presence() {
        // 2015, ext/ext with PAN compression: no PAN at all.
        let mut f = vec![0x41, 0xec, 0x01];
        f.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let p = peek(&f).unwrap();
        assert_eq!(p.frame_version, 2);
        assert_eq!(p.dst_pan, None);
        assert_eq!(p.dst, LinkAddr::Extended(ExtAddr([8, 7, 6, 5, 4, 3, 2, 1])));
        // Reserved addressing mode.
        assert!(peek(&[0x01, 0x04, 0x00]).is_none());
    }

    proptest::proptest! {
        #[test]
        fn peek_never_panics_and_agrees_with_the_frame_control(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            if let Some(p) = peek(&data) {
                let fc = u16::from_le_bytes([data[0], data[1]]);
                proptest::prop_assert_eq!(p.frame_type, (fc & 7) as u8);
                proptest::prop_assert_eq!(p.ack_request, fc & 0x20 != 0);
            }
        }

        #[test]
        fn short_destinations_read_back(seq: u8, pan: u16, dst: u16, src: u16, ar: bool) {
            let fc: u16 = 0x0001 | if ar { 0x20 } else { 0 } | 0x40 | (2 << 10) | (1 << 12) | (2 << 14);
            let mut f = fc.to_le_bytes().to_vec();
            f.push(seq);
            f.extend_from_slice(&pan.to_le_bytes());
            f.extend_from_slice(&dst.to_le_bytes());
            f.extend_from_slice(&src.to_le_bytes());
            let p = peek(&f).unwrap();
            proptest::prop_assert_eq!(p.seq, Some(seq));
            proptest::prop_assert_eq!(p.dst_pan, Some(PanId(pan)));
            proptest::prop_assert_eq!(p.dst, LinkAddr::Short(ShortAddr(dst)));
            proptest::prop_assert_eq!(p.ack_request, ar);
        }
    }
}
