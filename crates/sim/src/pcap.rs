//! Captures of everything on air: a pcap writer for link type 283 (`IEEE802_15_4_TAP`).
//!
//! Each record is a TAP header (version 0, reserved 0, total header length, LE) with two
//! TLVs — FCS type (TLV 0: 1 = CRC-16, 2 = CRC-32) and channel (TLV 3: channel number u16,
//! channel page u8), each padded to 4 octets — followed by the MPDU and its FCS as the radio
//! sent it. The FCS is computed here: the 16-bit ITU-T CRC (CRC-16/KERMIT, reflected
//! polynomial 0x8408, initial value 0, sent low byte first; 802.15.4-2020 §7.2.11, FACTS §6.5),
//! or for 4-octet-FCS PHYs the 32-bit CRC of 802.15.4-2020 §7.2.11.2 (the ANSI X3.66 / IEEE
//! 802.3 CRC-32, sent low byte first). Timestamps are the start of each frame's SHR, in
//! microseconds of virtual time since the epoch.

use crate::Result;
use amimesh_core::Instant;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};
use std::io::Write;

/// Receives every frame put on air.
pub trait FrameSink {
    /// A frame went on air at `at`: the whole PSDU as sent, FCS included.
    fn frame(&mut self, at: Instant, channel: u8, page: u8, psdu: &[u8]);
    /// Flushes; reports the first error met since the sink was created.
    fn finish(&mut self) -> Result<()>;
}

pub use amimesh_mac::wire::fcs::{crc16 as crc16_kermit, crc32};

/// The FCS of `mpdu` as it goes on air: `fcs_len` octets (2: CRC-16/KERMIT, 4: CRC-32, both
/// least significant octet first; 802.15.4-2020 §7.2.10), or nothing for any other length.
fn fcs_of(mpdu: &[u8], fcs_len: u8) -> Option<([u8; 4], usize)> {
    match fcs_len {
        2 => {
            let [a, b] = crc16_kermit(mpdu).to_le_bytes();
            Some(([a, b, 0, 0], 2))
        }
        4 => Some((crc32(mpdu).to_le_bytes(), 4)),
        _ => None,
    }
}

/// Appends the FCS of `fcs_len` octets (2 or 4; anything else: none) to `mpdu`.
pub fn append_fcs(frame: &mut Vec<u8>, fcs_len: u8) {
    if let Some((fcs, n)) = fcs_of(frame, fcs_len) {
        frame.extend_from_slice(fcs.get(..n).unwrap_or_default());
    }
}

/// Does the PSDU end with the right FCS of `fcs_len` octets (2 or 4; anything else: no FCS,
/// always right)?
pub fn fcs_matches(psdu: &[u8], fcs_len: u8) -> bool {
    let n = usize::from(fcs_len);
    if n != 2 && n != 4 {
        return true;
    }
    let Some(split) = psdu.len().checked_sub(n) else {
        return false;
    };
    let (mpdu, fcs) = psdu.split_at(split);
    fcs_of(mpdu, fcs_len).is_some_and(|(want, k)| want.get(..k) == Some(fcs))
}

/// TAP TLV type: FCS type.
pub const TAP_TLV_FCS_TYPE: u16 = 0;
/// TAP TLV type: channel assignment.
pub const TAP_TLV_CHANNEL: u16 = 3;

/// The TAP header for one record.
pub fn tap_header(fcs_len: u8, channel: u8, page: u8) -> [u8; 20] {
    let fcs_type: u8 = match fcs_len {
        2 => 1,
        4 => 2,
        _ => 0,
    };
    let mut h = [0u8; 20];
    // version 0, reserved 0, header length 20
    h[2..4].copy_from_slice(&20u16.to_le_bytes());
    // TLV 0: FCS type, length 1, value, 3 padding octets
    h[4..6].copy_from_slice(&TAP_TLV_FCS_TYPE.to_le_bytes());
    h[6..8].copy_from_slice(&1u16.to_le_bytes());
    h[8] = fcs_type;
    // TLV 3: channel (u16) + page (u8), length 3, 1 padding octet
    h[12..14].copy_from_slice(&TAP_TLV_CHANNEL.to_le_bytes());
    h[14..16].copy_from_slice(&3u16.to_le_bytes());
    h[16..18].copy_from_slice(&u16::from(channel).to_le_bytes());
    h[18] = page;
    h
}

/// Writes frames to a pcap stream with link type 283.
pub struct PcapSink<W: Write> {
    writer: Option<PcapWriter<W>>,
    fcs_len: u8,
    error: Option<crate::Error>,
    frames: u64,
}

impl<W: Write> core::fmt::Debug for PcapSink<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PcapSink")
            .field("frames", &self.frames)
            .finish()
    }
}

impl<W: Write> PcapSink<W> {
    /// Writes the pcap file header (little-endian, µs timestamps, link type 283) to `w`.
    /// `fcs_len` is the PHY's FCS length (2 or 4).
    pub fn new(w: W, fcs_len: u8) -> Result<Self> {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: 65_535,
            datalink: DataLink::IEEE802_15_4_TAP,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::Little,
        };
        Ok(PcapSink {
            writer: Some(PcapWriter::with_header(w, header)?),
            fcs_len,
            error: None,
            frames: 0,
        })
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Writes one frame given as its MPDU (the FCS is computed and appended).
    pub fn write_frame(&mut self, at: Instant, channel: u8, page: u8, mpdu: &[u8]) -> Result<()> {
        let mut frame = mpdu.to_vec();
        append_fcs(&mut frame, self.fcs_len);
        self.write_psdu(at, channel, page, &frame)
    }

    /// Writes one frame given as its whole PSDU, FCS included (written as is, right or wrong).
    pub fn write_psdu(&mut self, at: Instant, channel: u8, page: u8, psdu: &[u8]) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let mut data = Vec::with_capacity(20 + psdu.len());
        data.extend_from_slice(&tap_header(self.fcs_len, channel, page));
        data.extend_from_slice(psdu);
        let micros = u64::try_from(at.total_micros()).unwrap_or(0);
        let ts = std::time::Duration::from_micros(micros);
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        w.write_packet(&PcapPacket::new(ts, len, &data))?;
        self.frames += 1;
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match self.writer.take() {
            Some(w) => {
                let mut w = w.into_writer();
                w.flush()?;
                Ok(w)
            }
            None => Err(crate::Error::InvalidScenario("pcap sink already finished")),
        }
    }
}

impl<W: Write> FrameSink for PcapSink<W> {
    fn frame(&mut self, at: Instant, channel: u8, page: u8, psdu: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.write_psdu(at, channel, page, psdu) {
            self.error = Some(e);
        }
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(w) = self.writer.take() {
            let mut w = w.into_writer();
            w.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcs_vectors() {
        // CRC-16/KERMIT check value and an OpenThread frame (FACTS §6.5, §10).
        assert_eq!(crc16_kermit(b"123456789"), 0x2189);
        let f = hex_frame("618813cefa001000007a333a8000639e000000004142434445464748");
        assert_eq!(crc16_kermit(&f).to_le_bytes(), [0x84, 0x5f]);
        // CRC-32 check value.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let mut g = f.clone();
        append_fcs(&mut g, 2);
        assert_eq!(&g[g.len() - 2..], &[0x84, 0x5f]);
        assert!(fcs_matches(&g, 2));
        g[3] ^= 0x40;
        assert!(!fcs_matches(&g, 2));
        let mut h = f.clone();
        append_fcs(&mut h, 4);
        assert!(fcs_matches(&h, 4));
        assert!(!fcs_matches(&h, 2));
        assert!(!fcs_matches(&[0x01], 2));
    }

    fn hex_frame(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn tap_header_layout() {
        let h = tap_header(2, 11, 0);
        assert_eq!(
            h,
            [0, 0, 20, 0, 0, 0, 1, 0, 1, 0, 0, 0, 3, 0, 3, 0, 11, 0, 0, 0]
        );
        assert_eq!(tap_header(4, 33, 9)[8], 2);
        assert_eq!(tap_header(4, 33, 9)[18], 9);
    }
}
