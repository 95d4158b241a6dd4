//! The MAC frame (802.15.4-2020 §7.2): Frame Control, Sequence Number, addressing fields,
//! Auxiliary Security Header, Header IEs, then the frame's content (Payload IEs and MAC
//! payload, encrypted when secured) and the MIC. The FCS is not part of [`Frame`]: see
//! [`super::fcs::PsduConfig`].

use super::ie::{self, HeaderIeIter, HeaderTermination, PayloadIeIter};
use crate::error::{Error, Result, need};
use crate::security::{AuxSecurityHeader, AuxSecurityHeaderRepr, SecurityLevel};
use amimesh_core::{ExtAddr, LinkAddr, PanId, ShortAddr};
use core::fmt;

amimesh_core::enum_with_unknown! {
    /// Frame Type (802.15.4-2020 §7.2.2.2, Table 7-1).
    pub enum FrameType(u8) {
        /// 0 Beacon.
        Beacon = 0,
        /// 1 Data.
        Data = 1,
        /// 2 Acknowledgment.
        Ack = 2,
        /// 3 MAC command.
        MacCommand = 3,
        /// 5 Multipurpose (2015).
        Multipurpose = 5,
        /// 6 Fragment / Frak (2015).
        Fragment = 6,
        /// 7 Extended (2015).
        Extended = 7,
    }
}

impl FrameType {
    /// Wireshark's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            FrameType::Beacon => "Beacon",
            FrameType::Data => "Data",
            FrameType::Ack => "Ack",
            FrameType::MacCommand => "Command",
            FrameType::Multipurpose => "Multipurpose",
            FrameType::Fragment => "Fragment",
            FrameType::Extended => "Extended",
            FrameType::Unknown(_) => "Reserved",
        }
    }
}

amimesh_core::enum_with_unknown! {
    /// Frame Version (802.15.4-2020 §7.2.2.10).
    pub enum FrameVersion(u8) {
        /// 0: IEEE 802.15.4-2003.
        Ieee2003 = 0,
        /// 1: IEEE 802.15.4-2006 (and 2011).
        Ieee2006 = 1,
        /// 2: IEEE 802.15.4-2015 and later.
        Ieee2015 = 2,
    }
}

/// Addressing mode (802.15.4-2020 §7.2.2.9, Table 7-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AddressingMode {
    /// 0: no address (and no PAN id for it).
    Absent = 0,
    /// 1: reserved.
    Reserved = 1,
    /// 2: 16-bit short address.
    Short = 2,
    /// 3: 64-bit extended address.
    Extended = 3,
}

impl AddressingMode {
    /// From the low two bits.
    pub const fn from_bits(v: u8) -> Self {
        match v & 3 {
            0 => AddressingMode::Absent,
            1 => AddressingMode::Reserved,
            2 => AddressingMode::Short,
            _ => AddressingMode::Extended,
        }
    }
    /// Address length in bytes.
    pub const fn size(self) -> usize {
        match self {
            AddressingMode::Absent | AddressingMode::Reserved => 0,
            AddressingMode::Short => 2,
            AddressingMode::Extended => 8,
        }
    }
    /// The mode of an address.
    pub const fn of(addr: LinkAddr) -> Self {
        match addr {
            LinkAddr::Absent => AddressingMode::Absent,
            LinkAddr::Short(_) => AddressingMode::Short,
            LinkAddr::Extended(_) => AddressingMode::Extended,
        }
    }
}

/// Which PAN ids a frame carries, from its version, addressing modes and PAN ID Compression
/// bit: returns `(dst_pan_present, src_pan_present)`.
///
/// Versions 0 and 1 (802.15.4-2006 §7.2.1.1.5): the destination PAN id is present with a
/// destination address; the source PAN id with a source address unless PAN ID Compression is
/// set. Version 2: 802.15.4-2015 Table 7-2 (FACTS §6.2).
pub const fn pan_ids_present(
    version: FrameVersion,
    dst: AddressingMode,
    src: AddressingMode,
    pan_id_compression: bool,
) -> (bool, bool) {
    use AddressingMode::{Absent, Extended, Short};
    let dst_set = !matches!(dst, Absent);
    let src_set = !matches!(src, Absent);
    match version {
        FrameVersion::Ieee2015 => match (dst, src, pan_id_compression) {
            (Absent, Absent, pc) => (pc, false),
            (_, Absent, pc) => (!pc, false),
            (Absent, _, pc) => (false, !pc),
            (Extended, Extended, pc) => (!pc, false),
            (Short, _, pc) | (_, Short, pc) => (true, !pc),
            _ => (false, false),
        },
        _ => (dst_set, src_set && !pan_id_compression),
    }
}

const FRAME_TYPE_MASK: u16 = 0x0007;
const SECURITY_ENABLED: u16 = 1 << 3;
const FRAME_PENDING: u16 = 1 << 4;
const ACK_REQUEST: u16 = 1 << 5;
const PAN_ID_COMPRESSION: u16 = 1 << 6;
const SEQ_SUPPRESSION: u16 = 1 << 8;
const IE_PRESENT: u16 = 1 << 9;
const DST_MODE_SHIFT: u16 = 10;
const VERSION_SHIFT: u16 = 12;
const SRC_MODE_SHIFT: u16 = 14;

/// Offsets of the variable parts, computed once by `layout`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub(crate) dst_pan: Option<usize>,
    pub(crate) dst_addr: usize,
    pub(crate) src_pan: Option<usize>,
    pub(crate) src_addr: usize,
    pub(crate) aux: usize,
    pub(crate) aux_len: usize,
    pub(crate) header_ies_end: usize,
    termination: HeaderTermination,
    pub(crate) content_end: usize,
    mic_len: usize,
}

/// A read/write view of an 802.15.4 MAC frame without its FCS.
///
/// [`Frame::check_len`] walks every variable part: addressing (by frame version and the PAN ID
/// Compression rules), the Auxiliary Security Header and the Header IE list, and checks that the
/// MIC fits. After it succeeds no getter panics. Payload IEs are walked only on demand
/// ([`Frame::payload_ies`]), because in a secured frame they are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

// Indexing in this impl is guarded by `check_len` (via `layout`).
#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Wraps and checks.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Checks every length the header announces; see the type doc.
    ///
    /// # Errors
    /// [`Error::Truncated`] at every truncation point, [`Error::UnsupportedFrameType`],
    /// [`Error::UnsupportedVersion`], [`Error::Malformed`] (reserved addressing mode,
    /// 2003-style security, frame-counter suppression before 2015, bad IE list).
    pub fn check_len(&self) -> Result<()> {
        self.layout().map(|_| ())
    }

    /// Returns the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The offsets `check_len` validates (crate-internal: the security code reads the
    /// header through them without building a [`FrameRepr`]).
    #[inline]
    pub(crate) fn layout(&self) -> Result<Layout> {
        let b = self.buffer.as_ref();
        need(b, 2)?;
        let fcf = self.frame_control();
        match self.frame_type() {
            FrameType::Beacon | FrameType::Data | FrameType::Ack | FrameType::MacCommand => {}
            other => return Err(Error::UnsupportedFrameType(u8::from(other))),
        }
        let version = self.frame_version();
        if let FrameVersion::Unknown(v) = version {
            return Err(Error::UnsupportedVersion(v));
        }
        let dst_mode = self.dst_addressing_mode();
        let src_mode = self.src_addressing_mode();
        if dst_mode == AddressingMode::Reserved || src_mode == AddressingMode::Reserved {
            return Err(Error::Malformed("reserved addressing mode"));
        }
        let mut off = if self.sequence_number_suppressed() {
            2
        } else {
            3
        };
        let (dpan, span) =
            pan_ids_present(version, dst_mode, src_mode, fcf & PAN_ID_COMPRESSION != 0);
        let dst_pan = dpan.then_some(off);
        off += if dpan { 2 } else { 0 };
        let dst_addr = off;
        off += dst_mode.size();
        let src_pan = span.then_some(off);
        off += if span { 2 } else { 0 };
        let src_addr = off;
        off += src_mode.size();
        need(b, off)?;
        let aux = off;
        let (aux_len, mic_len) = if self.security_enabled() {
            if version == FrameVersion::Ieee2003 {
                return Err(Error::Malformed("802.15.4-2003 security is not supported"));
            }
            let h = AuxSecurityHeader::new_checked(&b[aux..])?;
            if h.frame_counter_suppressed() && version != FrameVersion::Ieee2015 {
                return Err(Error::Malformed("frame counter suppression before 2015"));
            }
            (h.header_len(), h.security_level().mic_len())
        } else {
            (0, 0)
        };
        off += aux_len;
        let content_end =
            b.len()
                .checked_sub(mic_len)
                .filter(|e| *e >= off)
                .ok_or(Error::Truncated {
                    needed: off + mic_len,
                    got: b.len(),
                })?;
        let (header_ies_end, termination) = if self.ie_present() {
            let (n, t) = ie::header_ies_len(&b[off..content_end])?;
            (off + n, t)
        } else {
            (off, HeaderTermination::None)
        };
        Ok(Layout {
            dst_pan,
            dst_addr,
            src_pan,
            src_addr,
            aux,
            aux_len,
            header_ies_end,
            termination,
            content_end,
            mic_len,
        })
    }

    /// The Frame Control field.
    #[inline]
    pub fn frame_control(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_le_bytes([b[0], b[1]])
    }
    /// Frame Type.
    #[inline]
    pub fn frame_type(&self) -> FrameType {
        FrameType::from((self.frame_control() & FRAME_TYPE_MASK) as u8)
    }
    /// Security Enabled.
    #[inline]
    pub fn security_enabled(&self) -> bool {
        self.frame_control() & SECURITY_ENABLED != 0
    }
    /// Frame Pending.
    pub fn frame_pending(&self) -> bool {
        self.frame_control() & FRAME_PENDING != 0
    }
    /// AR (acknowledgment request).
    pub fn ack_request(&self) -> bool {
        self.frame_control() & ACK_REQUEST != 0
    }
    /// PAN ID Compression.
    pub fn pan_id_compression(&self) -> bool {
        self.frame_control() & PAN_ID_COMPRESSION != 0
    }
    /// Frame Version.
    #[inline]
    pub fn frame_version(&self) -> FrameVersion {
        FrameVersion::from(((self.frame_control() >> VERSION_SHIFT) & 3) as u8)
    }
    /// Sequence Number Suppression (honoured for frame version 2 only; reserved before).
    #[inline]
    pub fn sequence_number_suppressed(&self) -> bool {
        self.frame_version() == FrameVersion::Ieee2015
            && self.frame_control() & SEQ_SUPPRESSION != 0
    }
    /// IE Present (honoured for frame version 2 only).
    #[inline]
    pub fn ie_present(&self) -> bool {
        self.frame_version() == FrameVersion::Ieee2015 && self.frame_control() & IE_PRESENT != 0
    }
    /// Destination Addressing Mode.
    #[inline]
    pub fn dst_addressing_mode(&self) -> AddressingMode {
        AddressingMode::from_bits((self.frame_control() >> DST_MODE_SHIFT) as u8)
    }
    /// Source Addressing Mode.
    #[inline]
    pub fn src_addressing_mode(&self) -> AddressingMode {
        AddressingMode::from_bits((self.frame_control() >> SRC_MODE_SHIFT) as u8)
    }
    /// Sequence Number, unless suppressed.
    pub fn sequence_number(&self) -> Option<u8> {
        (!self.sequence_number_suppressed()).then(|| self.buffer.as_ref()[2])
    }

    #[inline]
    pub(crate) fn read_addr(&self, mode: AddressingMode, at: usize) -> LinkAddr {
        let b = self.buffer.as_ref();
        match mode {
            AddressingMode::Short => LinkAddr::Short(ShortAddr::from_le_bytes([b[at], b[at + 1]])),
            AddressingMode::Extended => {
                let mut e = [0u8; 8];
                e.copy_from_slice(&b[at..at + 8]);
                LinkAddr::Extended(ExtAddr::from_le_bytes(e))
            }
            _ => LinkAddr::Absent,
        }
    }
    #[inline]
    pub(crate) fn read_pan(&self, at: Option<usize>) -> Option<PanId> {
        let b = self.buffer.as_ref();
        at.map(|o| PanId::from_le_bytes([b[o], b[o + 1]]))
    }

    /// Destination PAN Identifier, if present.
    pub fn dst_pan_id(&self) -> Option<PanId> {
        self.layout().ok().and_then(|l| self.read_pan(l.dst_pan))
    }
    /// Destination Address.
    pub fn dst_addr(&self) -> LinkAddr {
        self.layout()
            .map(|l| self.read_addr(self.dst_addressing_mode(), l.dst_addr))
            .unwrap_or_default()
    }
    /// Source PAN Identifier, if present.
    pub fn src_pan_id(&self) -> Option<PanId> {
        self.layout().ok().and_then(|l| self.read_pan(l.src_pan))
    }
    /// Source Address.
    pub fn src_addr(&self) -> LinkAddr {
        self.layout()
            .map(|l| self.read_addr(self.src_addressing_mode(), l.src_addr))
            .unwrap_or_default()
    }
    /// Length of the MAC header up to and including the Auxiliary Security Header and the
    /// Header IEs: the part of the frame that is always in the clear.
    pub fn header_len(&self) -> usize {
        self.layout().map(|l| l.header_ies_end).unwrap_or(0)
    }
    /// How the Header IE list ended.
    pub fn header_termination(&self) -> HeaderTermination {
        self.layout()
            .map(|l| l.termination)
            .unwrap_or(HeaderTermination::None)
    }
    /// Length of the MIC (0 when unsecured).
    pub fn mic_len(&self) -> usize {
        self.layout().map(|l| l.mic_len).unwrap_or(0)
    }
}

#[allow(clippy::indexing_slicing)]
impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The Auxiliary Security Header, if Security Enabled.
    pub fn aux_security_header(&self) -> Option<AuxSecurityHeader<&'a [u8]>> {
        let l = self.layout().ok()?;
        (l.aux_len > 0).then(|| {
            AuxSecurityHeader::new_unchecked(&self.buffer.as_ref()[l.aux..l.aux + l.aux_len])
        })
    }
    /// The Header IE bytes (termination IE included).
    pub fn header_ies_bytes(&self) -> &'a [u8] {
        match self.layout() {
            Ok(l) => &self.buffer.as_ref()[l.aux + l.aux_len..l.header_ies_end],
            Err(_) => &[],
        }
    }
    /// The Header IEs.
    pub fn header_ies(&self) -> HeaderIeIter<'a> {
        HeaderIeIter::new(self.header_ies_bytes())
    }
    /// Everything between the header (with Header IEs) and the MIC: Payload IEs and the MAC
    /// payload — ciphertext while the frame is encrypted.
    pub fn content(&self) -> &'a [u8] {
        match self.layout() {
            Ok(l) => &self.buffer.as_ref()[l.header_ies_end..l.content_end],
            Err(_) => &[],
        }
    }
    /// Splits [`Frame::content`] into (Payload IE bytes, MAC payload). Meaningful only for
    /// plaintext content.
    ///
    /// # Errors
    /// A malformed Payload IE list.
    pub fn split_content(&self) -> Result<(&'a [u8], &'a [u8])> {
        let c = self.content();
        if self.header_termination() == HeaderTermination::PayloadIes {
            ie::split_payload_ies(c)
        } else {
            Ok((&[], c))
        }
    }
    /// The Payload IEs (for plaintext content).
    pub fn payload_ies(&self) -> PayloadIeIter<'a> {
        PayloadIeIter::new(self.split_content().map(|(i, _)| i).unwrap_or(&[]))
    }
    /// The MAC payload after any Payload IEs (for plaintext content); for beacons it starts
    /// with the Superframe Specification, for MAC commands with the Command ID.
    pub fn payload(&self) -> &'a [u8] {
        self.split_content().map(|(_, p)| p).unwrap_or(&[])
    }
    /// The MIC.
    pub fn mic(&self) -> &'a [u8] {
        match self.layout() {
            Ok(l) => &self.buffer.as_ref()[l.content_end..],
            Err(_) => &[],
        }
    }
}

#[allow(clippy::indexing_slicing)]
impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the Frame Control field.
    pub fn set_frame_control(&mut self, fcf: u16) {
        self.buffer.as_mut()[0..2].copy_from_slice(&fcf.to_le_bytes());
    }
    /// Sets the Sequence Number (no effect when suppressed).
    pub fn set_sequence_number(&mut self, seq: u8) {
        if !self.sequence_number_suppressed() {
            self.buffer.as_mut()[2] = seq;
        }
    }
    /// Sets the Frame Pending bit.
    pub fn set_frame_pending(&mut self, v: bool) {
        let f = self.frame_control();
        self.set_frame_control(if v {
            f | FRAME_PENDING
        } else {
            f & !FRAME_PENDING
        });
    }
    /// Sets the Destination PAN id (no effect when the frame has none).
    pub fn set_dst_pan_id(&mut self, pan: PanId) {
        if let Ok(Some(o)) = self.layout().map(|l| l.dst_pan) {
            self.buffer.as_mut()[o..o + 2].copy_from_slice(&pan.to_le_bytes());
        }
    }
    /// Sets the Source PAN id (no effect when the frame has none).
    pub fn set_src_pan_id(&mut self, pan: PanId) {
        if let Ok(Some(o)) = self.layout().map(|l| l.src_pan) {
            self.buffer.as_mut()[o..o + 2].copy_from_slice(&pan.to_le_bytes());
        }
    }
    fn write_addr(&mut self, mode: AddressingMode, at: usize, addr: LinkAddr) {
        let b = self.buffer.as_mut();
        match (mode, addr) {
            (AddressingMode::Short, LinkAddr::Short(s)) => {
                b[at..at + 2].copy_from_slice(&s.to_le_bytes())
            }
            (AddressingMode::Extended, LinkAddr::Extended(e)) => {
                b[at..at + 8].copy_from_slice(&e.to_le_bytes())
            }
            _ => {}
        }
    }
    /// Sets the Destination Address (no effect unless it matches the addressing mode).
    pub fn set_dst_addr(&mut self, addr: LinkAddr) {
        if let Ok(l) = self.layout() {
            self.write_addr(self.dst_addressing_mode(), l.dst_addr, addr);
        }
    }
    /// Sets the Source Address (no effect unless it matches the addressing mode).
    pub fn set_src_addr(&mut self, addr: LinkAddr) {
        if let Ok(l) = self.layout() {
            self.write_addr(self.src_addressing_mode(), l.src_addr, addr);
        }
    }
    /// Mutable access to the content (Payload IEs and payload).
    pub fn content_mut(&mut self) -> &mut [u8] {
        match self.layout() {
            Ok(l) => &mut self.buffer.as_mut()[l.header_ies_end..l.content_end],
            Err(_) => &mut [],
        }
    }
    /// Mutable access to everything after the header: content and MIC (for in-place CCM*).
    pub fn content_and_mic_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }
}

impl<T: AsRef<[u8]>> fmt::Display for Frame<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match FrameRepr::parse(&Frame::new_unchecked(self.buffer.as_ref())) {
            Ok(r) => r.fmt(f),
            Err(e) => write!(f, "802.15.4 ({e})"),
        }
    }
}

/// An 802.15.4 MAC frame, decoded.
///
/// `header_ies` holds the Header IE list as sent (termination included) and `content` the
/// bytes between the header and the MIC (Payload IEs and MAC payload, possibly encrypted), so
/// IEs this crate does not interpret round-trip byte for byte. The MIC is not part of the
/// Repr: [`FrameRepr::emit`] zero-fills its `security_level().mic_len()` bytes and
/// [`crate::security::frame::secure_frame`] computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRepr<'a> {
    /// Frame Type.
    pub frame_type: FrameType,
    /// Frame Version.
    pub frame_version: FrameVersion,
    /// The Auxiliary Security Header (Security Enabled iff `Some`).
    pub security: Option<AuxSecurityHeaderRepr>,
    /// Frame Pending.
    pub frame_pending: bool,
    /// AR.
    pub ack_request: bool,
    /// PAN ID Compression.
    pub pan_id_compression: bool,
    /// Sequence Number; `None` = suppressed (version 2 only).
    pub sequence_number: Option<u8>,
    /// Destination PAN id (must match [`pan_ids_present`]).
    pub dst_pan_id: Option<PanId>,
    /// Destination address.
    pub dst_addr: LinkAddr,
    /// Source PAN id (must match [`pan_ids_present`]).
    pub src_pan_id: Option<PanId>,
    /// Source address.
    pub src_addr: LinkAddr,
    /// Header IE list as sent (version 2 only; non-empty sets IE Present).
    pub header_ies: &'a [u8],
    /// Payload IEs and MAC payload as sent (ciphertext for an encrypted frame).
    pub content: &'a [u8],
}

impl<'a> FrameRepr<'a> {
    /// Decodes a frame. For unsecured frames the Payload IE list is checked too.
    ///
    /// # Errors
    /// As [`Frame::check_len`], plus errors of the Payload IE list.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &Frame<&'a T>) -> Result<Self> {
        Self::parse_with_layout(frame).map(|(r, _)| r)
    }

    /// [`FrameRepr::parse`] plus (header length, content end): one walk over the header.
    #[allow(clippy::indexing_slicing)] // offsets come from `layout`, which checked them
    #[inline]
    pub(crate) fn parse_with_layout<T: AsRef<[u8]> + ?Sized>(
        frame: &Frame<&'a T>,
    ) -> Result<(Self, (usize, usize))> {
        let l = frame.layout()?;
        let b: &'a [u8] = frame.buffer.as_ref();
        let security = if l.aux_len > 0 {
            let h = AuxSecurityHeader::new_unchecked(&b[l.aux..l.aux + l.aux_len]);
            Some(AuxSecurityHeaderRepr::parse(&h)?)
        } else {
            None
        };
        let content = &b[l.header_ies_end..l.content_end];
        if security.is_none() && l.termination == HeaderTermination::PayloadIes {
            ie::split_payload_ies(content)?;
        }
        let fcf = frame.frame_control();
        let version = FrameVersion::from(((fcf >> VERSION_SHIFT) & 3) as u8);
        let seq_suppressed = version == FrameVersion::Ieee2015 && fcf & SEQ_SUPPRESSION != 0;
        let repr = FrameRepr {
            frame_type: FrameType::from((fcf & FRAME_TYPE_MASK) as u8),
            frame_version: version,
            security,
            frame_pending: fcf & FRAME_PENDING != 0,
            ack_request: fcf & ACK_REQUEST != 0,
            pan_id_compression: fcf & PAN_ID_COMPRESSION != 0,
            sequence_number: (!seq_suppressed).then(|| b[2]),
            dst_pan_id: frame.read_pan(l.dst_pan),
            dst_addr: frame.read_addr(
                AddressingMode::from_bits((fcf >> DST_MODE_SHIFT) as u8),
                l.dst_addr,
            ),
            src_pan_id: frame.read_pan(l.src_pan),
            src_addr: frame.read_addr(
                AddressingMode::from_bits((fcf >> SRC_MODE_SHIFT) as u8),
                l.src_addr,
            ),
            header_ies: &b[l.aux + l.aux_len..l.header_ies_end],
            content,
        };
        Ok((repr, (l.header_ies_end, l.content_end)))
    }

    /// The security level (None when unsecured).
    pub fn security_level(&self) -> SecurityLevel {
        self.security
            .map(|s| s.security_level)
            .unwrap_or(SecurityLevel::None)
    }

    /// How the Header IE list ends.
    pub fn header_termination(&self) -> HeaderTermination {
        ie::header_ies_len(self.header_ies)
            .map(|(_, t)| t)
            .unwrap_or(HeaderTermination::None)
    }

    /// Splits `content` into (Payload IE bytes, MAC payload); plaintext only.
    ///
    /// # Errors
    /// A malformed Payload IE list.
    pub fn split_content(&self) -> Result<(&'a [u8], &'a [u8])> {
        if self.header_termination() == HeaderTermination::PayloadIes {
            ie::split_payload_ies(self.content)
        } else {
            Ok((&[], self.content))
        }
    }

    /// The MAC payload after any Payload IEs (plaintext only; empty on a malformed list).
    pub fn payload(&self) -> &'a [u8] {
        self.split_content().map(|(_, p)| p).unwrap_or(&[])
    }

    /// The Header IEs.
    pub fn header_ies(&self) -> HeaderIeIter<'a> {
        HeaderIeIter::new(self.header_ies)
    }

    /// The Payload IEs (plaintext only).
    pub fn payload_ies(&self) -> PayloadIeIter<'a> {
        PayloadIeIter::new(self.split_content().map(|(i, _)| i).unwrap_or(&[]))
    }

    fn frame_control(&self) -> u16 {
        let mut f = u16::from(u8::from(self.frame_type)) & FRAME_TYPE_MASK;
        if self.security.is_some() {
            f |= SECURITY_ENABLED;
        }
        if self.frame_pending {
            f |= FRAME_PENDING;
        }
        if self.ack_request {
            f |= ACK_REQUEST;
        }
        if self.pan_id_compression {
            f |= PAN_ID_COMPRESSION;
        }
        if self.sequence_number.is_none() {
            f |= SEQ_SUPPRESSION;
        }
        if !self.header_ies.is_empty() {
            f |= IE_PRESENT;
        }
        f |= (u16::from(AddressingMode::of(self.dst_addr) as u8)) << DST_MODE_SHIFT;
        f |= (u16::from(u8::from(self.frame_version)) & 3) << VERSION_SHIFT;
        f |= (u16::from(AddressingMode::of(self.src_addr) as u8)) << SRC_MODE_SHIFT;
        f
    }

    fn header_len_without_ies(&self) -> usize {
        let seq = if self.sequence_number.is_some() { 1 } else { 0 };
        let pans =
            usize::from(self.dst_pan_id.is_some()) * 2 + usize::from(self.src_pan_id.is_some()) * 2;
        2 + seq
            + pans
            + AddressingMode::of(self.dst_addr).size()
            + AddressingMode::of(self.src_addr).size()
            + self.security.map(|s| s.buffer_len()).unwrap_or(0)
    }

    /// Length of the encoded frame, MIC included, FCS excluded.
    pub fn buffer_len(&self) -> usize {
        self.header_len_without_ies()
            + self.header_ies.len()
            + self.content.len()
            + self.security_level().mic_len()
    }

    /// Checks that the fields are consistent with one another and with the standard.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the inconsistency.
    pub fn validate(&self) -> Result<()> {
        match self.frame_type {
            FrameType::Beacon | FrameType::Data | FrameType::Ack | FrameType::MacCommand => {}
            _ => return Err(Error::Invalid("frame type not supported")),
        }
        let v2 = match self.frame_version {
            FrameVersion::Ieee2003 | FrameVersion::Ieee2006 => false,
            FrameVersion::Ieee2015 => true,
            FrameVersion::Unknown(_) => return Err(Error::Invalid("frame version")),
        };
        if !v2 && (self.sequence_number.is_none() || !self.header_ies.is_empty()) {
            return Err(Error::Invalid(
                "sequence suppression and IEs need frame version 2",
            ));
        }
        if let Some(s) = self.security {
            if self.frame_version == FrameVersion::Ieee2003 {
                return Err(Error::Invalid("security needs frame version 1 or 2"));
            }
            if s.frame_counter.is_none() && !v2 {
                return Err(Error::Invalid(
                    "frame counter suppression needs frame version 2",
                ));
            }
        }
        let (dp, sp) = pan_ids_present(
            self.frame_version,
            AddressingMode::of(self.dst_addr),
            AddressingMode::of(self.src_addr),
            self.pan_id_compression,
        );
        if dp != self.dst_pan_id.is_some() || sp != self.src_pan_id.is_some() {
            return Err(Error::Invalid(
                "PAN ids do not match the PAN ID Compression rules",
            ));
        }
        let (n, t) = ie::header_ies_len(self.header_ies)
            .map_err(|_| Error::Invalid("malformed header IE list"))?;
        if n != self.header_ies.len() {
            return Err(Error::Invalid("bytes after the header IE termination"));
        }
        if t == HeaderTermination::None && !self.header_ies.is_empty() && !self.content.is_empty() {
            return Err(Error::Invalid("content after header IEs needs HT1 or HT2"));
        }
        Ok(())
    }

    /// Writes the frame into `frame`'s buffer (at least [`FrameRepr::buffer_len`] bytes); the
    /// MIC bytes are zeroed.
    ///
    /// # Errors
    /// [`Error::Invalid`] (see [`FrameRepr::validate`]); [`Error::BufferTooSmall`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) -> Result<usize> {
        self.validate()?;
        let len = self.buffer_len();
        let buf = frame
            .buffer
            .as_mut()
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        let mut w = Writer { buf, off: 0 };
        w.put(&self.frame_control().to_le_bytes());
        if let Some(s) = self.sequence_number {
            w.put(&[s]);
        }
        if let Some(p) = self.dst_pan_id {
            w.put(&p.to_le_bytes());
        }
        w.addr(self.dst_addr);
        if let Some(p) = self.src_pan_id {
            w.put(&p.to_le_bytes());
        }
        w.addr(self.src_addr);
        if let Some(s) = self.security {
            let n = s.buffer_len();
            if let Some(dst) = w.buf.get_mut(w.off..w.off + n) {
                s.emit(&mut AuxSecurityHeader::new_unchecked(dst))?;
            }
            w.off += n;
        }
        w.put(self.header_ies);
        w.put(self.content);
        if let Some(mic) = w.buf.get_mut(w.off..) {
            mic.fill(0);
        }
        Ok(len)
    }

    /// Emits into the start of `buf`; returns the frame length.
    ///
    /// # Errors
    /// As [`FrameRepr::emit`].
    pub fn emit_into(&self, buf: &mut [u8]) -> Result<usize> {
        self.emit(&mut Frame::new_unchecked(buf))
    }
}

struct Writer<'b> {
    buf: &'b mut [u8],
    off: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.off..self.off + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.off += bytes.len();
    }
    fn addr(&mut self, a: LinkAddr) {
        match a {
            LinkAddr::Absent => {}
            LinkAddr::Short(s) => self.put(&s.to_le_bytes()),
            LinkAddr::Extended(e) => self.put(&e.to_le_bytes()),
        }
    }
}

impl fmt::Display for FrameRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "802.15.4 {}", self.frame_type.name())?;
        if let Some(s) = self.sequence_number {
            write!(f, " seq={s}")?;
        }
        if let Some(p) = self.dst_pan_id {
            write!(f, " dst_pan={p}")?;
        }
        if self.dst_addr != LinkAddr::Absent {
            write!(f, " dst={}", self.dst_addr)?;
        }
        if let Some(p) = self.src_pan_id {
            write!(f, " src_pan={p}")?;
        }
        if self.src_addr != LinkAddr::Absent {
            write!(f, " src={}", self.src_addr)?;
        }
        if let Some(s) = self.security {
            write!(f, " {s}")?;
        }
        write!(f, " len={}", self.content.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::{KeyIdentifier, SecurityLevel};
    use crate::wire::ie::{HeaderElementId, HeaderIeRepr, PayloadGroupId};
    use alloc::vec;
    use alloc::vec::Vec;

    static ANNEX_C_BEACON: &[u8] = include_bytes!("../../testdata/annex_c_2_1_beacon_mic64.bin");
    static ANNEX_C_DATA: &[u8] = include_bytes!("../../testdata/annex_c_2_2_data_enc.bin");
    static ANNEX_C_CMD: &[u8] = include_bytes!("../../testdata/annex_c_2_3_cmd_enc_mic64.bin");
    static OT_LL16_FCS: &[u8] = include_bytes!("../../testdata/openthread_ll16_echo_fcs.bin");
    static IE2015: &[u8] = include_bytes!("../../testdata/ie2015_data.bin");

    const A1: ExtAddr = ExtAddr([0xac, 0xde, 0x48, 0, 0, 0, 0, 1]);
    const A2: ExtAddr = ExtAddr([0xac, 0xde, 0x48, 0, 0, 0, 0, 2]);

    fn ot_frame() -> &'static [u8] {
        &OT_LL16_FCS[..OT_LL16_FCS.len() - 2]
    }

    fn ot_repr() -> FrameRepr<'static> {
        FrameRepr {
            frame_type: FrameType::Data,
            frame_version: FrameVersion::Ieee2003,
            security: None,
            frame_pending: false,
            ack_request: true,
            pan_id_compression: true,
            sequence_number: Some(0x13),
            dst_pan_id: Some(PanId(0xface)),
            dst_addr: LinkAddr::Short(ShortAddr(0x1000)),
            src_pan_id: None,
            src_addr: LinkAddr::Short(ShortAddr(0x0000)),
            header_ies: &[],
            content: &ot_frame()[9..],
        }
    }

    fn annex_c_data_repr() -> FrameRepr<'static> {
        FrameRepr {
            frame_type: FrameType::Data,
            frame_version: FrameVersion::Ieee2006,
            security: Some(AuxSecurityHeaderRepr {
                security_level: SecurityLevel::Enc,
                frame_counter: Some(5),
                key_id: KeyIdentifier::Implicit,
                asn_in_nonce: false,
            }),
            frame_pending: false,
            ack_request: true,
            pan_id_compression: true,
            sequence_number: Some(0x84),
            dst_pan_id: Some(PanId(0x4321)),
            dst_addr: LinkAddr::Extended(A2),
            src_pan_id: None,
            src_addr: LinkAddr::Extended(A1),
            header_ies: &[],
            content: &ANNEX_C_DATA[26..],
        }
    }

    fn ie2015_repr() -> FrameRepr<'static> {
        FrameRepr {
            frame_type: FrameType::Data,
            frame_version: FrameVersion::Ieee2015,
            security: None,
            frame_pending: false,
            ack_request: false,
            pan_id_compression: true,
            sequence_number: None,
            dst_pan_id: Some(PanId(0xabcd)),
            dst_addr: LinkAddr::Short(ShortAddr(1)),
            src_pan_id: None,
            src_addr: LinkAddr::Extended(ExtAddr([0, 0x12, 0x4b, 0, 0, 0, 0, 2])),
            header_ies: &IE2015[14..22],
            content: &IE2015[22..],
        }
    }

    #[test]
    fn deconstruct() {
        let f = Frame::new_checked(ot_frame()).unwrap();
        assert_eq!(f.frame_type(), FrameType::Data);
        assert!(f.ack_request() && f.pan_id_compression() && !f.security_enabled());
        assert_eq!(f.frame_version(), FrameVersion::Ieee2003);
        assert_eq!(f.sequence_number(), Some(0x13));
        assert_eq!(f.dst_pan_id(), Some(PanId(0xface)));
        assert_eq!(f.dst_addr(), LinkAddr::Short(ShortAddr(0x1000)));
        assert_eq!(f.src_pan_id(), None);
        assert_eq!(f.src_addr(), LinkAddr::Short(ShortAddr(0)));
        assert_eq!(f.payload()[..2], [0x7a, 0x33]);
        assert_eq!(f.header_len(), 9);
        assert!(f.mic().is_empty());

        let f = Frame::new_checked(ANNEX_C_CMD).unwrap();
        assert_eq!(f.frame_type(), FrameType::MacCommand);
        assert_eq!(f.src_pan_id(), Some(PanId(0xffff)));
        assert_eq!(f.src_addr(), LinkAddr::Extended(A1));
        let aux = f.aux_security_header().unwrap();
        assert_eq!(aux.security_level(), SecurityLevel::EncMic64);
        assert_eq!(f.mic().len(), 8);
        assert_eq!(f.content(), &[0x01, 0xd8]);

        let f = Frame::new_checked(IE2015).unwrap();
        assert_eq!(f.sequence_number(), None);
        assert!(f.ie_present());
        let hies: Vec<_> = f.header_ies().map(|r| r.unwrap()).collect();
        assert_eq!(hies[0].element_id, HeaderElementId::Csl);
        assert_eq!(hies[1], HeaderIeRepr::HT1);
        let pies: Vec<_> = f.payload_ies().map(|r| r.unwrap()).collect();
        assert_eq!(pies[0].group_id, PayloadGroupId::Mlme);
        assert_eq!(pies[1].group_id, PayloadGroupId::Termination);
        assert_eq!(f.payload(), b"\0hi");
    }

    #[test]
    fn construct() {
        let mut buf = vec![0xa5u8; ot_frame().len()];
        let mut f = Frame::new_unchecked(&mut buf[..]);
        f.set_frame_control(0x8861);
        f.set_sequence_number(0x13);
        f.set_dst_pan_id(PanId(0xface));
        f.set_dst_addr(LinkAddr::Short(ShortAddr(0x1000)));
        f.set_src_addr(LinkAddr::Short(ShortAddr(0)));
        f.set_src_pan_id(PanId(0x9999)); // absent: ignored
        f.content_mut().copy_from_slice(&ot_frame()[9..]);
        assert_eq!(buf, ot_frame());
    }

    #[test]
    fn parse() {
        let p = |b| FrameRepr::parse(&Frame::new_unchecked(b)).unwrap();
        assert_eq!(p(ot_frame()), ot_repr());
        assert_eq!(p(ANNEX_C_DATA), annex_c_data_repr());
        assert_eq!(p(IE2015), ie2015_repr());
        let beacon = p(ANNEX_C_BEACON);
        assert_eq!(beacon.frame_type, FrameType::Beacon);
        assert_eq!(beacon.dst_addr, LinkAddr::Absent);
        assert_eq!(beacon.src_pan_id, Some(PanId(0x4321)));
        assert_eq!(
            beacon.security.unwrap().security_level,
            SecurityLevel::Mic64
        );
        assert_eq!(beacon.content, &ANNEX_C_BEACON[18..26]);
    }

    #[test]
    fn emit() {
        for (repr, bytes) in [
            (ot_repr(), ot_frame()),
            (annex_c_data_repr(), ANNEX_C_DATA),
            (ie2015_repr(), IE2015),
        ] {
            assert_eq!(repr.buffer_len(), bytes.len());
            let mut buf = vec![0xa5u8; bytes.len()];
            assert_eq!(repr.emit_into(&mut buf).unwrap(), bytes.len());
            assert_eq!(buf, bytes);
        }
        // The MIC area is zeroed.
        let r = FrameRepr::parse(&Frame::new_unchecked(ANNEX_C_CMD)).unwrap();
        let mut buf = vec![0xa5u8; r.buffer_len()];
        r.emit_into(&mut buf).unwrap();
        assert_eq!(buf[..30], ANNEX_C_CMD[..30]);
        assert_eq!(buf[30..], [0u8; 8]);
        assert_eq!(
            ot_repr().emit_into(&mut [0u8; 10]),
            Err(Error::BufferTooSmall {
                required: ot_frame().len()
            })
        );
    }

    #[test]
    fn imm_ack_2006() {
        let ack = [0x02, 0x00, 0x42];
        let r = FrameRepr::parse(&Frame::new_checked(&ack[..]).unwrap()).unwrap();
        assert_eq!(r.frame_type, FrameType::Ack);
        assert_eq!(r.sequence_number, Some(0x42));
        assert_eq!(
            (r.dst_addr, r.src_addr),
            (LinkAddr::Absent, LinkAddr::Absent)
        );
        let mut buf = [0u8; 3];
        r.emit_into(&mut buf).unwrap();
        assert_eq!(buf, ack);
    }

    #[test]
    fn pan_id_table_2015() {
        use AddressingMode::*;
        let v2 = FrameVersion::Ieee2015;
        // FACTS §6.2, 802.15.4-2015 Table 7-2: (dst, src, PC) -> (dst PAN, src PAN).
        let rows = [
            (Absent, Absent, false, (false, false)),
            (Absent, Absent, true, (true, false)),
            (Short, Absent, false, (true, false)),
            (Extended, Absent, true, (false, false)),
            (Absent, Short, false, (false, true)),
            (Absent, Extended, true, (false, false)),
            (Extended, Extended, false, (true, false)),
            (Extended, Extended, true, (false, false)),
            (Short, Short, false, (true, true)),
            (Short, Extended, false, (true, true)),
            (Extended, Short, false, (true, true)),
            (Short, Short, true, (true, false)),
            (Short, Extended, true, (true, false)),
            (Extended, Short, true, (true, false)),
        ];
        for (d, s, pc, want) in rows {
            assert_eq!(pan_ids_present(v2, d, s, pc), want, "{d:?} {s:?} {pc}");
        }
        // 2006 rule.
        let v1 = FrameVersion::Ieee2006;
        assert_eq!(pan_ids_present(v1, Extended, Extended, false), (true, true));
        assert_eq!(pan_ids_present(v1, Extended, Extended, true), (true, false));
        assert_eq!(pan_ids_present(v1, Absent, Short, false), (false, true));
    }

    #[test]
    fn every_truncation_point() {
        // A cut on an IE boundary leaves a shorter but valid IE list.
        let ie_boundaries: &[usize] = &[14, 20];
        for fixture in [
            ot_frame(),
            ANNEX_C_DATA,
            ANNEX_C_CMD,
            ANNEX_C_BEACON,
            IE2015,
        ] {
            let f = Frame::new_unchecked(fixture);
            let hdr = f.header_len();
            for cut in 0..hdr + f.mic_len() {
                if fixture == IE2015 && ie_boundaries.contains(&cut) {
                    assert!(Frame::new_checked(&fixture[..cut]).is_ok());
                    continue;
                }
                let r = Frame::new_checked(&fixture[..cut]);
                assert!(
                    matches!(r, Err(Error::Truncated { .. })),
                    "cut {cut} of {:02x?}: {r:?}",
                    fixture
                );
            }
        }
    }

    #[test]
    fn malformed_headers() {
        // Frame type 5 (multipurpose) and 4 (reserved).
        assert_eq!(
            Frame::new_checked(&[0x05, 0x00, 0x00][..]).err(),
            Some(Error::UnsupportedFrameType(5))
        );
        assert_eq!(
            Frame::new_checked(&[0x04, 0x00, 0x00][..]).err(),
            Some(Error::UnsupportedFrameType(4))
        );
        // Version 3.
        assert_eq!(
            Frame::new_checked(&[0x01, 0x30, 0x00][..]).err(),
            Some(Error::UnsupportedVersion(3))
        );
        // Reserved destination addressing mode 1.
        assert_eq!(
            Frame::new_checked(&[0x01, 0x04, 0x00, 0, 0][..]).err(),
            Some(Error::Malformed("reserved addressing mode"))
        );
        // 2003 frame with security.
        assert_eq!(
            Frame::new_checked(&[0x09, 0x00, 0x00, 0x05, 0, 0, 0, 0][..]).err(),
            Some(Error::Malformed("802.15.4-2003 security is not supported"))
        );
        // 2006 frame with frame counter suppression.
        assert_eq!(
            Frame::new_checked(&[0x09, 0x10, 0x00, 0x2d, 0x01][..]).err(),
            Some(Error::Malformed("frame counter suppression before 2015"))
        );
        // 2015 frame whose header IE list holds a payload IE descriptor.
        assert_eq!(
            Frame::new_checked(&[0x01, 0x22, 0x00, 0x00, 0x88][..]).err(),
            Some(Error::Malformed("payload IE where a header IE is expected"))
        );
        // Unsecured 2015 frame with HT1 and a broken payload IE list: the view is fine, the
        // Repr is not.
        let bad = [0x01, 0x22, 0x00, 0x00, 0x3f, 0x05, 0x88];
        let f = Frame::new_checked(&bad[..]).unwrap();
        assert!(matches!(FrameRepr::parse(&f), Err(Error::Truncated { .. })));
        assert_eq!(f.payload(), &[] as &[u8]);
    }

    #[test]
    fn validate_rejects_inconsistent_reprs() {
        let mut r = ot_repr();
        r.src_pan_id = Some(PanId(1));
        assert_eq!(
            r.validate(),
            Err(Error::Invalid(
                "PAN ids do not match the PAN ID Compression rules"
            ))
        );
        let mut r = ot_repr();
        r.sequence_number = None;
        assert_eq!(
            r.validate(),
            Err(Error::Invalid(
                "sequence suppression and IEs need frame version 2"
            ))
        );
        let mut r = ot_repr();
        r.security = annex_c_data_repr().security;
        assert_eq!(
            r.validate(),
            Err(Error::Invalid("security needs frame version 1 or 2"))
        );
        let mut r = annex_c_data_repr();
        r.security.as_mut().unwrap().frame_counter = None;
        assert_eq!(
            r.validate(),
            Err(Error::Invalid(
                "frame counter suppression needs frame version 2"
            ))
        );
        let mut r = ie2015_repr();
        r.header_ies = &IE2015[14..20];
        assert_eq!(
            r.validate(),
            Err(Error::Invalid("content after header IEs needs HT1 or HT2"))
        );
        r.header_ies = &IE2015[14..21];
        assert_eq!(
            r.validate(),
            Err(Error::Invalid("malformed header IE list"))
        );
        let mut r = ie2015_repr();
        r.header_ies = &IE2015[14..24];
        assert_eq!(
            r.validate(),
            Err(Error::Invalid("bytes after the header IE termination"))
        );
        let mut r = ot_repr();
        r.frame_type = FrameType::Multipurpose;
        assert_eq!(
            r.validate(),
            Err(Error::Invalid("frame type not supported"))
        );
        let mut r = ot_repr();
        r.frame_version = FrameVersion::Unknown(3);
        assert_eq!(r.validate(), Err(Error::Invalid("frame version")));
    }

    #[test]
    fn display() {
        let s = alloc::format!("{}", Frame::new_unchecked(ot_frame()));
        assert_eq!(
            s,
            "802.15.4 Data seq=19 dst_pan=0xface dst=0x1000 src=0x0000 len=19"
        );
    }
}
