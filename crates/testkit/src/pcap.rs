//! Classic pcap files (microsecond timestamps, little-endian, snaplen 65535) written with
//! `pcap-file`, and IEEE 802.15.4 TAP records.
//!
//! Link types (tcpdump.org LINKTYPE registry; TSHARK.md §1): [`LINKTYPE_IPV6`] 229,
//! [`LINKTYPE_IEEE802_15_4_WITHFCS`] 195 (2-octet FCS expected), [`LINKTYPE_IEEE802_15_4_NOFCS`]
//! 230, [`LINKTYPE_IEEE802_15_4_TAP`] 283 (a TAP header of TLVs says which FCS follows).

use crate::temp::TempFile;
use amimesh_core::Instant;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness};
use std::time::Duration;

/// LINKTYPE_IPV6: raw IPv6 packets.
pub const LINKTYPE_IPV6: u32 = 229;
/// LINKTYPE_IEEE802_15_4_WITHFCS: an 802.15.4 PSDU ending in a 2-octet FCS.
pub const LINKTYPE_IEEE802_15_4_WITHFCS: u32 = 195;
/// LINKTYPE_IEEE802_15_4_NOFCS: an 802.15.4 frame without FCS.
pub const LINKTYPE_IEEE802_15_4_NOFCS: u32 = 230;
/// LINKTYPE_IEEE802_15_4_TAP: a TAP header ([`tap_record`]) followed by the PSDU.
pub const LINKTYPE_IEEE802_15_4_TAP: u32 = 283;

/// The pcap file holding `records` (timestamp, bytes) with link type `linktype`.
///
/// # Panics
///
/// When a record is longer than the snaplen (65535).
pub fn to_bytes<B: AsRef<[u8]>>(linktype: u32, records: &[(Duration, B)]) -> Vec<u8> {
    let header = PcapHeader {
        datalink: DataLink::from(linktype),
        endianness: Endianness::Little,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).expect("in-memory pcap header");
    for (ts, data) in records {
        let data = data.as_ref();
        let len = u32::try_from(data.len()).expect("record length fits u32");
        w.write_packet(&PcapPacket::new(*ts, len, data))
            .expect("record fits the snaplen");
    }
    w.into_writer()
}

/// A capture timestamp (time since the epoch of the capture) for a virtual-clock instant.
///
/// # Panics
///
/// When `at` is before `Instant::ZERO`.
pub fn timestamp(at: Instant) -> Duration {
    let us = u64::try_from(at.total_micros()).expect("capture time is not negative");
    Duration::from_micros(us)
}

/// `frames` as records one millisecond apart, starting at 0.
pub fn records<B: AsRef<[u8]>>(frames: &[B]) -> Vec<(Duration, &[u8])> {
    frames
        .iter()
        .zip(0u64..)
        .map(|(f, i)| (Duration::from_millis(i), f.as_ref()))
        .collect()
}

/// Writes `frames` (one millisecond apart) as a pcap with link type `linktype` to a unique
/// temp file named after `name`; the file goes away when the returned guard is dropped.
pub fn write<B: AsRef<[u8]>>(name: &str, linktype: u32, frames: &[B]) -> TempFile {
    write_timed(name, linktype, &records(frames))
}

/// As [`write()`], with a timestamp per record.
pub fn write_timed<B: AsRef<[u8]>>(
    name: &str,
    linktype: u32,
    records: &[(Duration, B)],
) -> TempFile {
    TempFile::with_bytes(name, "pcap", &to_bytes(linktype, records))
}

/// The FCS announced in a TAP record's FCS-type TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapFcs {
    /// No FCS follows the frame.
    None = 0,
    /// A 2-octet ITU-T CRC-16.
    Crc16 = 1,
    /// A 4-octet CRC-32.
    Crc32 = 2,
}

/// A LINKTYPE_IEEE802_15_4_TAP record: the TAP header (version 0, reserved 0, header length,
/// LE16), the FCS-type TLV (type 0), the channel TLV (type 3: channel LE16, page u8, padded to
/// 4 octets) when `channel` is `Some((channel, page))`, then `psdu` as given (it must already
/// end in the FCS `fcs` announces).
pub fn tap_record(psdu: &[u8], fcs: TapFcs, channel: Option<(u16, u8)>) -> Vec<u8> {
    let mut tlvs = Vec::new();
    // TLV 0: FCS type, 1 octet padded to 4.
    tlvs.extend_from_slice(&[0, 0, 1, 0, fcs as u8, 0, 0, 0]);
    if let Some((ch, page)) = channel {
        let c = ch.to_le_bytes();
        tlvs.extend_from_slice(&[3, 0, 3, 0, c[0], c[1], page, 0]);
    }
    let hdr_len = u16::try_from(4 + tlvs.len()).expect("TAP header fits u16");
    let mut rec = vec![0u8, 0];
    rec.extend_from_slice(&hdr_len.to_le_bytes());
    rec.extend_from_slice(&tlvs);
    rec.extend_from_slice(psdu);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_layout_is_classic_pcap() {
        let b = to_bytes(
            LINKTYPE_IPV6,
            &[(Duration::from_micros(1_000_002), [1u8, 2, 3])],
        );
        assert_eq!(b[..4], 0xa1b2_c3d4u32.to_le_bytes());
        assert_eq!(b[20..24], 229u32.to_le_bytes());
        // Record: seconds, microseconds, captured and original length, data.
        assert_eq!(b[24..28], 1u32.to_le_bytes());
        assert_eq!(b[28..32], 2u32.to_le_bytes());
        assert_eq!(b[32..36], 3u32.to_le_bytes());
        assert_eq!(b[36..40], 3u32.to_le_bytes());
        assert_eq!(b[40..], [1, 2, 3]);
    }

    #[test]
    fn timestamps_from_instants() {
        assert_eq!(timestamp(Instant::from_secs(2)), Duration::from_secs(2));
    }

    #[test]
    fn tap_header_lengths() {
        let r = tap_record(&[9, 9], TapFcs::Crc16, Some((11, 0)));
        assert_eq!(
            r,
            [
                0, 0, 20, 0, 0, 0, 1, 0, 1, 0, 0, 0, 3, 0, 3, 0, 11, 0, 0, 0, 9, 9
            ]
        );
        let r = tap_record(&[], TapFcs::Crc32, None);
        assert_eq!(r, [0, 0, 12, 0, 0, 0, 1, 0, 2, 0, 0, 0]);
    }
}
