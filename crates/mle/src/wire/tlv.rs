//! MLE TLVs: `Type(1) Length(1) Value(Length)`, all integers big-endian
//! (draft-ietf-6lo-mesh-link-establishment-00 §5; Thread; FACTS §9.5).
//!
//! [`Tlv`] is the zero-copy view of one TLV, [`TlvRepr`] its typed form and [`TlvIter`] walks a
//! TLV list, stopping after the first error. Fixed-size TLVs whose length is wrong are rejected
//! with [`Error::BadTlvLength`]; TLVs of a type this crate does not know are kept as
//! [`TlvRepr::Unknown`] so that a parse→emit round trip is lossless (MLE receivers ignore unknown
//! TLVs).
//!
//! Once [`Tlv::check_len`] has returned `Ok`, no getter of [`Tlv`] can panic.

use super::{read_u16, read_u32, read_u64};
use crate::{Error, Result};
use amimesh_core::{ExtAddr, PanId, ShortAddr};
use core::fmt;

amimesh_core::enum_with_unknown! {
    /// An MLE TLV type (FACTS §9.5; 0–8 from the IETF draft, 9 and up from Thread).
    pub enum TlvType(u8) {
        /// Source Address (2 or 8 bytes).
        SourceAddress = 0,
        /// Mode (1 byte of capability flags).
        Mode = 1,
        /// Timeout (4 bytes, seconds).
        Timeout = 2,
        /// Challenge (random bytes).
        Challenge = 3,
        /// Response (the echoed challenge).
        Response = 4,
        /// Link-layer Frame Counter (4 bytes).
        LinkLayerFrameCounter = 5,
        /// Link Quality (flags and neighbour records).
        LinkQuality = 6,
        /// Network Parameter (parameter id, delay, value).
        NetworkParameter = 7,
        /// MLE Frame Counter (4 bytes).
        MleFrameCounter = 8,
        /// Route64 (Thread).
        Route64 = 9,
        /// Address16 (Thread, 2 bytes).
        Address16 = 10,
        /// Leader Data (Thread, 8 bytes).
        LeaderData = 11,
        /// Network Data (Thread).
        NetworkData = 12,
        /// TLV Request (a list of TLV types).
        TlvRequest = 13,
        /// Scan Mask (Thread, 1 byte).
        ScanMask = 14,
        /// Connectivity (Thread).
        Connectivity = 15,
        /// Link Margin (1 byte, dB).
        LinkMargin = 16,
        /// Status (1 byte).
        Status = 17,
        /// Version (2 bytes).
        Version = 18,
        /// Address Registration (Thread).
        AddressRegistration = 19,
        /// Channel (Thread: page 1 byte, channel 2 bytes).
        Channel = 20,
        /// PAN ID (Thread, 2 bytes).
        PanId = 21,
        /// Active Timestamp (Thread, 8 bytes).
        ActiveTimestamp = 22,
        /// Pending Timestamp (Thread, 8 bytes).
        PendingTimestamp = 23,
        /// Active Operational Dataset (Thread).
        ActiveOperationalDataset = 24,
        /// Pending Operational Dataset (Thread).
        PendingOperationalDataset = 25,
        /// Thread Discovery (Thread).
        ThreadDiscovery = 26,
    }
}

mod field {
    pub const TYPE: usize = 0;
    pub const LENGTH: usize = 1;
    pub const VALUE: usize = 2;
}

/// Size of the TLV header (type and length).
pub const HEADER_LEN: usize = field::VALUE;

/// A read/write view of one TLV at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<T: AsRef<[u8]>> {
    buffer: T,
}

#[allow(clippy::indexing_slicing)] // every index is within the length `check_len` verified
impl<T: AsRef<[u8]>> Tlv<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Tlv { buffer }
    }

    /// Wraps a buffer and checks that the header and the whole value are present.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let t = Self::new_unchecked(buffer);
        t.check_len()?;
        Ok(t)
    }

    /// Checks that the buffer holds the header and `length` value bytes.
    /// Bytes after the value are allowed (they belong to the next TLV).
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                got: b.len(),
            });
        }
        let needed = HEADER_LEN + usize::from(b[field::LENGTH]);
        if b.len() < needed {
            return Err(Error::Truncated {
                needed,
                got: b.len(),
            });
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The TLV type.
    pub fn tlv_type(&self) -> TlvType {
        TlvType::from(self.buffer.as_ref()[field::TYPE])
    }

    /// The length of the value in bytes.
    pub fn length(&self) -> u8 {
        self.buffer.as_ref()[field::LENGTH]
    }

    /// Header plus value: the number of bytes this TLV occupies.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + usize::from(self.length())
    }
}

#[allow(clippy::indexing_slicing)] // within the length `check_len` verified
impl<'a, T: AsRef<[u8]> + ?Sized> Tlv<&'a T> {
    /// The value bytes.
    pub fn value(&self) -> &'a [u8] {
        let len = usize::from(self.length());
        &self.buffer.as_ref()[field::VALUE..field::VALUE + len]
    }
}

#[allow(clippy::indexing_slicing)] // setters: the caller sized the buffer (see `TlvRepr::emit`)
impl<T: AsRef<[u8]> + AsMut<[u8]>> Tlv<T> {
    /// Sets the type.
    pub fn set_tlv_type(&mut self, t: TlvType) {
        self.buffer.as_mut()[field::TYPE] = t.into();
    }

    /// Sets the length. This voids an earlier `check_len`.
    pub fn set_length(&mut self, len: u8) {
        self.buffer.as_mut()[field::LENGTH] = len;
    }

    /// The value bytes, mutably (as long as the length field says).
    pub fn value_mut(&mut self) -> &mut [u8] {
        let len = usize::from(self.length());
        &mut self.buffer.as_mut()[field::VALUE..field::VALUE + len]
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Tlv<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.check_len().is_err() {
            return f.write_str("TLV (truncated)");
        }
        write!(f, "TLV {} len {}", u8::from(self.tlv_type()), self.length())
    }
}

/// Source Address TLV value: a short address (Thread RLOC16) or an extended address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceAddress {
    /// 16-bit short address (2 bytes, big-endian).
    Short(ShortAddr),
    /// EUI-64 (8 bytes, most significant first).
    Extended(ExtAddr),
}

/// Leader Data TLV value (Thread, 8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaderData {
    /// Partition ID.
    pub partition_id: u32,
    /// Weighting.
    pub weighting: u8,
    /// Network data version.
    pub data_version: u8,
    /// Stable network data version.
    pub stable_data_version: u8,
    /// Leader router ID.
    pub leader_router_id: u8,
}

/// A parsed TLV. Variable-length values borrow from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlvRepr<'a> {
    /// Source Address (0).
    SourceAddress(SourceAddress),
    /// Mode (1).
    Mode(u8),
    /// Timeout (2), seconds.
    Timeout(u32),
    /// Challenge (3).
    Challenge(&'a [u8]),
    /// Response (4).
    Response(&'a [u8]),
    /// Link-layer Frame Counter (5).
    LinkLayerFrameCounter(u32),
    /// Link Quality (6), raw value.
    LinkQuality(&'a [u8]),
    /// Network Parameter (7), raw value.
    NetworkParameter(&'a [u8]),
    /// MLE Frame Counter (8).
    MleFrameCounter(u32),
    /// Route64 (9), raw value.
    Route64(&'a [u8]),
    /// Address16 (10).
    Address16(ShortAddr),
    /// Leader Data (11).
    LeaderData(LeaderData),
    /// Network Data (12), raw value.
    NetworkData(&'a [u8]),
    /// TLV Request (13): the requested TLV types, one byte each.
    TlvRequest(&'a [u8]),
    /// Scan Mask (14).
    ScanMask(u8),
    /// Connectivity (15), raw value.
    Connectivity(&'a [u8]),
    /// Link Margin (16), dB.
    LinkMargin(u8),
    /// Status (17).
    Status(u8),
    /// Version (18).
    Version(u16),
    /// Address Registration (19), raw value.
    AddressRegistration(&'a [u8]),
    /// Channel (20).
    Channel {
        /// Channel page.
        page: u8,
        /// Channel number.
        channel: u16,
    },
    /// PAN ID (21), big-endian on the MLE wire.
    PanId(PanId),
    /// Active Timestamp (22), the raw 64-bit value.
    ActiveTimestamp(u64),
    /// Pending Timestamp (23), the raw 64-bit value.
    PendingTimestamp(u64),
    /// Active Operational Dataset (24), raw value.
    ActiveOperationalDataset(&'a [u8]),
    /// Pending Operational Dataset (25), raw value.
    PendingOperationalDataset(&'a [u8]),
    /// Thread Discovery (26), raw value.
    ThreadDiscovery(&'a [u8]),
    /// A TLV of a type this crate does not know, kept verbatim.
    Unknown {
        /// The type byte.
        tlv_type: u8,
        /// The value.
        value: &'a [u8],
    },
}

fn exact<const N: usize>(t: u8, v: &[u8]) -> Result<[u8; N]> {
    v.try_into().map_err(|_| Error::BadTlvLength {
        tlv_type: t,
        length: u8::try_from(v.len()).unwrap_or(u8::MAX),
    })
}

impl<'a> TlvRepr<'a> {
    /// Parses a checked TLV view.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(tlv: &Tlv<&'a T>) -> Result<Self> {
        let raw = u8::from(tlv.tlv_type());
        let v = tlv.value();
        Ok(match tlv.tlv_type() {
            TlvType::SourceAddress => match v.len() {
                2 => TlvRepr::SourceAddress(SourceAddress::Short(ShortAddr(read_u16(v)?))),
                8 => TlvRepr::SourceAddress(SourceAddress::Extended(ExtAddr(exact(raw, v)?))),
                _ => {
                    return Err(exact::<2>(raw, v)
                        .err()
                        .unwrap_or(Error::Malformed("source")));
                }
            },
            TlvType::Mode => TlvRepr::Mode(exact::<1>(raw, v)?[0]),
            TlvType::Timeout => TlvRepr::Timeout(u32::from_be_bytes(exact(raw, v)?)),
            TlvType::Challenge => TlvRepr::Challenge(v),
            TlvType::Response => TlvRepr::Response(v),
            TlvType::LinkLayerFrameCounter => {
                TlvRepr::LinkLayerFrameCounter(u32::from_be_bytes(exact(raw, v)?))
            }
            TlvType::LinkQuality => TlvRepr::LinkQuality(v),
            TlvType::NetworkParameter => TlvRepr::NetworkParameter(v),
            TlvType::MleFrameCounter => {
                TlvRepr::MleFrameCounter(u32::from_be_bytes(exact(raw, v)?))
            }
            TlvType::Route64 => TlvRepr::Route64(v),
            TlvType::Address16 => TlvRepr::Address16(ShortAddr(u16::from_be_bytes(exact(raw, v)?))),
            TlvType::LeaderData => {
                let b: [u8; 8] = exact(raw, v)?;
                TlvRepr::LeaderData(LeaderData {
                    partition_id: read_u32(&b)?,
                    weighting: b[4],
                    data_version: b[5],
                    stable_data_version: b[6],
                    leader_router_id: b[7],
                })
            }
            TlvType::NetworkData => TlvRepr::NetworkData(v),
            TlvType::TlvRequest => TlvRepr::TlvRequest(v),
            TlvType::ScanMask => TlvRepr::ScanMask(exact::<1>(raw, v)?[0]),
            TlvType::Connectivity => TlvRepr::Connectivity(v),
            TlvType::LinkMargin => TlvRepr::LinkMargin(exact::<1>(raw, v)?[0]),
            TlvType::Status => TlvRepr::Status(exact::<1>(raw, v)?[0]),
            TlvType::Version => TlvRepr::Version(u16::from_be_bytes(exact(raw, v)?)),
            TlvType::AddressRegistration => TlvRepr::AddressRegistration(v),
            TlvType::Channel => {
                let b: [u8; 3] = exact(raw, v)?;
                TlvRepr::Channel {
                    page: b[0],
                    channel: u16::from_be_bytes([b[1], b[2]]),
                }
            }
            TlvType::PanId => TlvRepr::PanId(PanId(u16::from_be_bytes(exact(raw, v)?))),
            TlvType::ActiveTimestamp => TlvRepr::ActiveTimestamp(read_u64(&exact::<8>(raw, v)?)?),
            TlvType::PendingTimestamp => TlvRepr::PendingTimestamp(read_u64(&exact::<8>(raw, v)?)?),
            TlvType::ActiveOperationalDataset => TlvRepr::ActiveOperationalDataset(v),
            TlvType::PendingOperationalDataset => TlvRepr::PendingOperationalDataset(v),
            TlvType::ThreadDiscovery => TlvRepr::ThreadDiscovery(v),
            TlvType::Unknown(t) => TlvRepr::Unknown {
                tlv_type: t,
                value: v,
            },
        })
    }

    /// The TLV type of this value.
    pub fn tlv_type(&self) -> TlvType {
        match self {
            TlvRepr::SourceAddress(_) => TlvType::SourceAddress,
            TlvRepr::Mode(_) => TlvType::Mode,
            TlvRepr::Timeout(_) => TlvType::Timeout,
            TlvRepr::Challenge(_) => TlvType::Challenge,
            TlvRepr::Response(_) => TlvType::Response,
            TlvRepr::LinkLayerFrameCounter(_) => TlvType::LinkLayerFrameCounter,
            TlvRepr::LinkQuality(_) => TlvType::LinkQuality,
            TlvRepr::NetworkParameter(_) => TlvType::NetworkParameter,
            TlvRepr::MleFrameCounter(_) => TlvType::MleFrameCounter,
            TlvRepr::Route64(_) => TlvType::Route64,
            TlvRepr::Address16(_) => TlvType::Address16,
            TlvRepr::LeaderData(_) => TlvType::LeaderData,
            TlvRepr::NetworkData(_) => TlvType::NetworkData,
            TlvRepr::TlvRequest(_) => TlvType::TlvRequest,
            TlvRepr::ScanMask(_) => TlvType::ScanMask,
            TlvRepr::Connectivity(_) => TlvType::Connectivity,
            TlvRepr::LinkMargin(_) => TlvType::LinkMargin,
            TlvRepr::Status(_) => TlvType::Status,
            TlvRepr::Version(_) => TlvType::Version,
            TlvRepr::AddressRegistration(_) => TlvType::AddressRegistration,
            TlvRepr::Channel { .. } => TlvType::Channel,
            TlvRepr::PanId(_) => TlvType::PanId,
            TlvRepr::ActiveTimestamp(_) => TlvType::ActiveTimestamp,
            TlvRepr::PendingTimestamp(_) => TlvType::PendingTimestamp,
            TlvRepr::ActiveOperationalDataset(_) => TlvType::ActiveOperationalDataset,
            TlvRepr::PendingOperationalDataset(_) => TlvType::PendingOperationalDataset,
            TlvRepr::ThreadDiscovery(_) => TlvType::ThreadDiscovery,
            TlvRepr::Unknown { tlv_type, .. } => TlvType::from(*tlv_type),
        }
    }

    /// The variable-length value, for the TLVs that carry one.
    fn raw_value(&self) -> Option<&'a [u8]> {
        match *self {
            TlvRepr::Challenge(v)
            | TlvRepr::Response(v)
            | TlvRepr::LinkQuality(v)
            | TlvRepr::NetworkParameter(v)
            | TlvRepr::Route64(v)
            | TlvRepr::NetworkData(v)
            | TlvRepr::TlvRequest(v)
            | TlvRepr::Connectivity(v)
            | TlvRepr::AddressRegistration(v)
            | TlvRepr::ActiveOperationalDataset(v)
            | TlvRepr::PendingOperationalDataset(v)
            | TlvRepr::ThreadDiscovery(v)
            | TlvRepr::Unknown { value: v, .. } => Some(v),
            _ => None,
        }
    }

    /// Length of the value in bytes.
    pub fn value_len(&self) -> usize {
        if let Some(v) = self.raw_value() {
            return v.len();
        }
        match self {
            TlvRepr::SourceAddress(SourceAddress::Short(_)) => 2,
            TlvRepr::SourceAddress(SourceAddress::Extended(_)) => 8,
            TlvRepr::Mode(_)
            | TlvRepr::ScanMask(_)
            | TlvRepr::LinkMargin(_)
            | TlvRepr::Status(_) => 1,
            TlvRepr::Address16(_) | TlvRepr::Version(_) | TlvRepr::PanId(_) => 2,
            TlvRepr::Channel { .. } => 3,
            TlvRepr::Timeout(_)
            | TlvRepr::LinkLayerFrameCounter(_)
            | TlvRepr::MleFrameCounter(_) => 4,
            _ => 8, // Leader Data, timestamps
        }
    }

    /// Header plus value: exactly the number of bytes [`TlvRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.value_len()
    }

    /// Checks that the value fits the one-byte length field.
    pub fn check(&self) -> Result<()> {
        if self.value_len() > usize::from(u8::MAX) {
            return Err(Error::Malformed("TLV value longer than 255 bytes"));
        }
        Ok(())
    }

    /// Writes the TLV into `tlv`, whose buffer must be at least [`TlvRepr::buffer_len`] long and
    /// whose value must fit in 255 bytes ([`TlvRepr::check`]).
    ///
    /// # Panics
    /// If the buffer is shorter than [`TlvRepr::buffer_len`] or the value is longer than 255 bytes.
    #[allow(clippy::indexing_slicing)] // documented panic: the caller sizes the buffer
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, tlv: &mut Tlv<T>) {
        tlv.set_tlv_type(self.tlv_type());
        tlv.set_length(u8::try_from(self.value_len()).unwrap_or(u8::MAX));
        let out = tlv.value_mut();
        if let Some(v) = self.raw_value() {
            out.copy_from_slice(v);
            return;
        }
        match *self {
            TlvRepr::SourceAddress(SourceAddress::Short(s)) => {
                out.copy_from_slice(&s.0.to_be_bytes())
            }
            TlvRepr::SourceAddress(SourceAddress::Extended(e)) => out.copy_from_slice(&e.0),
            TlvRepr::Mode(v)
            | TlvRepr::ScanMask(v)
            | TlvRepr::LinkMargin(v)
            | TlvRepr::Status(v) => out[0] = v,
            TlvRepr::Timeout(v)
            | TlvRepr::LinkLayerFrameCounter(v)
            | TlvRepr::MleFrameCounter(v) => out.copy_from_slice(&v.to_be_bytes()),
            TlvRepr::Address16(s) => out.copy_from_slice(&s.0.to_be_bytes()),
            TlvRepr::Version(v) => out.copy_from_slice(&v.to_be_bytes()),
            TlvRepr::PanId(p) => out.copy_from_slice(&p.0.to_be_bytes()),
            TlvRepr::LeaderData(l) => {
                out[..4].copy_from_slice(&l.partition_id.to_be_bytes());
                out[4] = l.weighting;
                out[5] = l.data_version;
                out[6] = l.stable_data_version;
                out[7] = l.leader_router_id;
            }
            TlvRepr::Channel { page, channel } => {
                out[0] = page;
                out[1..3].copy_from_slice(&channel.to_be_bytes());
            }
            TlvRepr::ActiveTimestamp(v) | TlvRepr::PendingTimestamp(v) => {
                out.copy_from_slice(&v.to_be_bytes())
            }
            _ => {}
        }
    }

    /// Emits into the start of `buf`, returning the bytes written, or
    /// [`Error::BufferTooSmall`] / [`Error::Malformed`] (value over 255 bytes).
    pub fn emit_into(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        let n = self.buffer_len();
        let out = buf
            .get_mut(..n)
            .ok_or(Error::BufferTooSmall { required: n })?;
        self.emit(&mut Tlv::new_unchecked(out));
        Ok(n)
    }
}

impl fmt::Display for TlvRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TLV {} len {}",
            u8::from(self.tlv_type()),
            self.value_len()
        )
    }
}

/// Iterates over a list of TLVs. Yields `Err` at most once, then stops.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> TlvIter<'a> {
    /// Iterates over the TLVs in `data`.
    pub const fn new(data: &'a [u8]) -> Self {
        TlvIter {
            rest: data,
            failed: false,
        }
    }

    /// Checks a whole TLV list: `Ok(count)` if every TLV parses.
    pub fn validate(data: &'a [u8]) -> Result<usize> {
        let mut n = 0usize;
        for t in TlvIter::new(data) {
            t?;
            n = n.saturating_add(1);
        }
        Ok(n)
    }

    /// Finds the first TLV of type `t` (ignores TLVs after a malformed one).
    pub fn find(data: &'a [u8], t: TlvType) -> Option<TlvRepr<'a>> {
        TlvIter::new(data)
            .map_while(|r| r.ok())
            .find(|r| r.tlv_type() == t)
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<TlvRepr<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let res = Tlv::new_checked(self.rest).and_then(|t| {
            let n = t.total_len();
            TlvRepr::parse(&t).map(|r| (r, n))
        });
        match res {
            Ok((r, n)) => {
                self.rest = self.rest.get(n..).unwrap_or(&[]);
                Some(Ok(r))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Appends TLVs to a caller-owned buffer.
#[derive(Debug)]
pub struct TlvWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> TlvWriter<'b> {
    /// Writes from the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        TlvWriter { buf, len: 0 }
    }

    /// Appends one TLV, or fails with [`Error::BufferTooSmall`] (the required size counts the
    /// TLVs already written).
    pub fn push(&mut self, tlv: &TlvRepr<'_>) -> Result<()> {
        let rest = self.buf.get_mut(self.len..).unwrap_or(&mut []);
        let n = tlv.emit_into(rest).map_err(|e| match e {
            Error::BufferTooSmall { required } => Error::BufferTooSmall {
                required: required.saturating_add(self.len),
            },
            e => e,
        })?;
        self.len = self.len.saturating_add(n);
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing written yet?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_gens;
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// Leader Data TLV from the Thread MLE encryption vector (OpenThread
    /// tests/scripts/thread-cert/test_crypto.py; FACTS §10), bytes 18..28 of the plaintext.
    static LEADER_DATA: [u8; 10] = [
        0x0b, // type 11, Leader Data
        0x08, // length 8
        0x65, 0x5e, 0x0f, 0x83, // partition id
        0x40, // weighting
        0xc7, // data version
        0x83, // stable data version
        0x31, // leader router id
    ];

    fn leader_repr() -> TlvRepr<'static> {
        TlvRepr::LeaderData(LeaderData {
            partition_id: 0x655e_0f83,
            weighting: 0x40,
            data_version: 0xc7,
            stable_data_version: 0x83,
            leader_router_id: 0x31,
        })
    }

    #[test]
    fn deconstruct() {
        let t = Tlv::new_checked(&LEADER_DATA[..]).unwrap();
        assert_eq!(t.tlv_type(), TlvType::LeaderData);
        assert_eq!(t.length(), 8);
        assert_eq!(t.total_len(), 10);
        assert_eq!(t.value(), &LEADER_DATA[2..]);
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 10];
        let mut t = Tlv::new_unchecked(&mut buf[..]);
        t.set_tlv_type(TlvType::LeaderData);
        t.set_length(8);
        t.value_mut().copy_from_slice(&LEADER_DATA[2..]);
        assert_eq!(buf, LEADER_DATA);
    }

    #[test]
    fn parse() {
        let t = Tlv::new_checked(&LEADER_DATA[..]).unwrap();
        assert_eq!(TlvRepr::parse(&t).unwrap(), leader_repr());
    }

    #[test]
    fn emit() {
        let r = leader_repr();
        assert_eq!(r.buffer_len(), 10);
        let mut buf = [0xa5u8; 10];
        r.emit(&mut Tlv::new_unchecked(&mut buf[..]));
        assert_eq!(buf, LEADER_DATA);
    }

    #[test]
    fn thread_advertisement_tlvs() {
        let plain = include_bytes!("../../testdata/thread_advertisement_plain.bin");
        let tlvs: Vec<_> = TlvIter::new(&plain[1..]).collect::<Result<_>>().unwrap();
        assert_eq!(
            tlvs,
            vec![
                TlvRepr::SourceAddress(SourceAddress::Short(ShortAddr(0))),
                TlvRepr::Route64(&plain[7..18]),
                leader_repr(),
            ]
        );
        // Emitting the parsed list gives the bytes back.
        let mut out = [0xa5u8; 27];
        let mut w = TlvWriter::new(&mut out);
        for t in &tlvs {
            w.push(t).unwrap();
        }
        assert_eq!(w.len(), 27);
        assert_eq!(&out[..], &plain[1..]);
    }

    #[test]
    fn fixed_size_values() {
        let cases: &[(&[u8], TlvRepr<'_>)] = &[
            (
                &[0, 8, 1, 2, 3, 4, 5, 6, 7, 8],
                TlvRepr::SourceAddress(SourceAddress::Extended(ExtAddr::from_u64(
                    0x0102_0304_0506_0708,
                ))),
            ),
            (&[1, 1, 0x0f], TlvRepr::Mode(0x0f)),
            (&[2, 4, 0, 0, 0x01, 0x2c], TlvRepr::Timeout(300)),
            (
                &[5, 4, 0, 4, 0, 0x15],
                TlvRepr::LinkLayerFrameCounter(262_165),
            ),
            (&[8, 4, 1, 2, 3, 4], TlvRepr::MleFrameCounter(0x0102_0304)),
            (&[10, 2, 0x04, 0x00], TlvRepr::Address16(ShortAddr(0x0400))),
            (&[14, 1, 0x80], TlvRepr::ScanMask(0x80)),
            (&[16, 1, 30], TlvRepr::LinkMargin(30)),
            (&[17, 1, 1], TlvRepr::Status(1)),
            (&[18, 2, 0, 2], TlvRepr::Version(2)),
            (
                &[20, 3, 0, 0, 11],
                TlvRepr::Channel {
                    page: 0,
                    channel: 11,
                },
            ),
            (&[21, 2, 0xfa, 0xce], TlvRepr::PanId(PanId(0xface))),
            (
                &[22, 8, 0, 0, 0, 0, 0, 1, 0, 0],
                TlvRepr::ActiveTimestamp(0x1_0000),
            ),
            (
                &[23, 8, 0, 0, 0, 0, 0, 2, 0, 0],
                TlvRepr::PendingTimestamp(0x2_0000),
            ),
            (&[13, 2, 5, 8], TlvRepr::TlvRequest(&[5, 8])),
            (
                &[200, 1, 9],
                TlvRepr::Unknown {
                    tlv_type: 200,
                    value: &[9],
                },
            ),
        ];
        for (bytes, repr) in cases {
            let t = Tlv::new_checked(*bytes).unwrap();
            assert_eq!(TlvRepr::parse(&t).unwrap(), *repr, "{bytes:02x?}");
            let mut out = vec![0xa5; bytes.len()];
            assert_eq!(repr.emit_into(&mut out).unwrap(), bytes.len());
            assert_eq!(&out[..], *bytes);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            Tlv::new_checked(&[3u8][..]).unwrap_err(),
            Error::Truncated { needed: 2, got: 1 }
        );
        assert_eq!(
            Tlv::new_checked(&[3u8, 4, 1, 2][..]).unwrap_err(),
            Error::Truncated { needed: 6, got: 4 }
        );
        for (t, len) in [
            (0u8, 3u8),
            (1, 2),
            (2, 3),
            (5, 5),
            (8, 0),
            (10, 1),
            (11, 7),
            (14, 0),
            (16, 2),
            (17, 0),
            (18, 1),
            (20, 2),
            (21, 3),
            (22, 7),
            (23, 9),
        ] {
            let mut b = vec![t, len];
            b.resize(2 + usize::from(len), 0);
            let v = Tlv::new_checked(&b[..]).unwrap();
            assert_eq!(
                TlvRepr::parse(&v).unwrap_err(),
                Error::BadTlvLength {
                    tlv_type: t,
                    length: len
                }
            );
        }
        // The writer reports the size needed in total.
        let mut small = [0u8; 5];
        let mut w = TlvWriter::new(&mut small);
        w.push(&TlvRepr::Mode(1)).unwrap();
        assert_eq!(
            w.push(&TlvRepr::Timeout(1)).unwrap_err(),
            Error::BufferTooSmall { required: 9 }
        );
        let long = [0u8; 256];
        assert_eq!(
            TlvRepr::Challenge(&long)
                .emit_into(&mut [0u8; 300])
                .unwrap_err(),
            Error::Malformed("TLV value longer than 255 bytes")
        );
    }

    #[test]
    fn iterator_stops_after_first_error() {
        let data = [1u8, 1, 0, 2, 1, 0, 1, 1, 0];
        let mut it = TlvIter::new(&data);
        assert_eq!(it.next(), Some(Ok(TlvRepr::Mode(0))));
        assert_eq!(
            it.next(),
            Some(Err(Error::BadTlvLength {
                tlv_type: 2,
                length: 1
            }))
        );
        assert_eq!(it.next(), None);
        assert!(TlvIter::validate(&data).is_err());
        assert_eq!(TlvIter::find(&data, TlvType::Mode), Some(TlvRepr::Mode(0)));
        assert_eq!(TlvIter::validate(&[]), Ok(0));
    }

    proptest! {
        #[test]
        fn prop_emit_parse_round_trip(o in test_gens::tlv()) {
            let r = o.repr();
            let mut buf = vec![0xa5; r.buffer_len()];
            prop_assert_eq!(r.emit_into(&mut buf).unwrap(), buf.len());
            let t = Tlv::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(t.total_len(), buf.len());
            prop_assert_eq!(TlvRepr::parse(&t).unwrap(), r);
        }

        #[test]
        fn prop_buffer_len_is_written_len(o in test_gens::tlv()) {
            let r = o.repr();
            let mut buf = vec![0u8; 300];
            prop_assert_eq!(r.emit_into(&mut buf).unwrap(), r.buffer_len());
        }

        #[test]
        fn prop_arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(t) = Tlv::new_checked(&data[..]) {
                let _ = TlvRepr::parse(&t);
            }
            for r in TlvIter::new(&data) {
                let _ = r;
            }
        }

        #[test]
        fn prop_parse_emit_parse_fixed_point(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(t) = Tlv::new_checked(&data[..]) {
                if let Ok(r) = TlvRepr::parse(&t) {
                    let mut buf = vec![0xa5; r.buffer_len()];
                    r.emit_into(&mut buf).unwrap();
                    prop_assert_eq!(&buf[..], &data[..t.total_len()]);
                    let t2 = Tlv::new_checked(&buf[..]).unwrap();
                    prop_assert_eq!(TlvRepr::parse(&t2).unwrap(), r);
                }
            }
        }
    }
}
