//! Minimal IEEE 802.15.4 frames for test inputs, and the FCS.

use amimesh_core::LinkAddr;

/// A data frame header and `payload`, without FCS (802.15.4-2006 §7.2.1): frame type data,
/// no security, no frame pending, no ACK request, PAN ID compression, frame version 1,
/// addressing modes from the addresses (absent 0, short 2, extended 3), sequence number, the
/// destination PAN, then the addresses. All fields little-endian.
pub fn data_frame(seq: u8, pan: u16, dst: LinkAddr, src: LinkAddr, payload: &[u8]) -> Vec<u8> {
    let mode = |a: LinkAddr| match a {
        LinkAddr::Absent => 0u16,
        LinkAddr::Short(_) => 2,
        LinkAddr::Extended(_) => 3,
    };
    let fcf: u16 = 0x0001 | 0x0040 | (mode(dst) << 10) | (1 << 12) | (mode(src) << 14);
    let mut f = fcf.to_le_bytes().to_vec();
    f.push(seq);
    f.extend_from_slice(&pan.to_le_bytes());
    for a in [dst, src] {
        match a {
            LinkAddr::Short(s) => f.extend_from_slice(&s.to_le_bytes()),
            LinkAddr::Extended(e) => f.extend_from_slice(&e.to_le_bytes()),
            LinkAddr::Absent => {}
        }
    }
    f.extend_from_slice(payload);
    f
}

/// The 2-octet FCS (802.15.4-2020 §7.2.11): ITU-T CRC-16, reflected polynomial 0x8408,
/// initial value 0 (CRC-16/KERMIT), sent little-endian.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use amimesh_core::{ExtAddr, ShortAddr};

    #[test]
    fn kermit_check_value() {
        // The CRC-16/KERMIT check value over "123456789".
        assert_eq!(crc16(b"123456789"), 0x2189);
    }

    #[test]
    fn data_frame_layout() {
        let f = data_frame(
            7,
            0xabcd,
            LinkAddr::Short(ShortAddr(0xffff)),
            LinkAddr::Extended(ExtAddr([0, 0x12, 0x4b, 0, 0, 0, 0, 1])),
            &[0x41],
        );
        // FCF 0xd841: data, PAN ID compression, dst short, version 1, src extended.
        assert_eq!(
            f,
            [
                0x41, 0xd8, 7, 0xcd, 0xab, 0xff, 0xff, 1, 0, 0, 0, 0, 0x4b, 0x12, 0, 0x41
            ]
        );
    }
}
