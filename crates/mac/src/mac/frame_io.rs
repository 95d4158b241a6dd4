//! The MAC state machine's narrow interface to frames: what it emits and what it needs to know
//! about a received PSDU. Everything the state machine does with bytes goes through here.
//!
//! Frames are emitted as 802.15.4-2006 frames (frame version 1): the MAC header layout of
//! 802.15.4-2020 §7.2 (Figure 7-1), PAN ID Compression by the 2006 rule (FACTS §6.2), the
//! Auxiliary Security Header of [`crate::security`] and CCM* of
//! [`crate::security::ccm_star`] with a-data = MAC header (plus the command identifier for MAC
//! commands) (§9.3.4).

use core::ops::Range;

use amimesh_core::{ExtAddr, LinkAddr, PanId, ShortAddr};

use crate::error::{Error, Result};
use crate::security::ccm_star::{CcmKey, nonce};
use crate::security::{
    AuxSecurityHeader, AuxSecurityHeaderRepr, KeyIdMode, KeyIdentifier, SecurityLevel,
};

const FT_BEACON: u8 = 0;
const FT_DATA: u8 = 1;
const FT_ACK: u8 = 2;
const FT_COMMAND: u8 = 3;
const FCF_SECURITY: u16 = 0x0008;
const FCF_PENDING: u16 = 0x0010;
const FCF_AR: u16 = 0x0020;
const FCF_PAN_COMPRESSION: u16 = 0x0040;
const FCF_VERSION_2006: u16 = 0x1000;

/// Addressing fields of a MAC header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Addressing {
    pub dst_pan: Option<PanId>,
    pub dst: LinkAddr,
    pub src_pan: Option<PanId>,
    pub src: LinkAddr,
}

impl Addressing {
    pub const NONE: Addressing = Addressing {
        dst_pan: None,
        dst: LinkAddr::Absent,
        src_pan: None,
        src: LinkAddr::Absent,
    };
}

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body<'a> {
    Beacon {
        superframe_spec: u16,
        payload: &'a [u8],
    },
    Data(&'a [u8]),
    Ack,
    Command {
        id: u8,
        payload: &'a [u8],
    },
}

impl Body<'_> {
    pub fn len(&self) -> usize {
        match self {
            Body::Beacon { payload, .. } => 4 + payload.len(),
            Body::Data(p) => p.len(),
            Body::Ack => 0,
            Body::Command { payload, .. } => 1 + payload.len(),
        }
    }
    fn frame_type(&self) -> u8 {
        match self {
            Body::Beacon { .. } => FT_BEACON,
            Body::Data(_) => FT_DATA,
            Body::Ack => FT_ACK,
            Body::Command { .. } => FT_COMMAND,
        }
    }
}

/// A frame to emit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutFrame<'a> {
    pub seq: u8,
    pub ack_request: bool,
    pub frame_pending: bool,
    pub addr: Addressing,
    pub body: Body<'a>,
}

/// Security to apply to an outgoing frame (key id mode 1).
pub(crate) struct OutSecurity<'k> {
    pub level: SecurityLevel,
    pub key_index: u8,
    pub frame_counter: u32,
    pub src_ext: ExtAddr,
    pub key: &'k CcmKey,
}

/// What the MAC needs to know about a received frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFrame<'a> {
    pub seq: Option<u8>,
    pub ack_request: bool,
    pub addr: Addressing,
    /// `true` when the Security Enabled bit is set.
    pub secured: bool,
    /// Level, key index, frame counter (key id mode 1 with a frame counter only).
    pub security: Option<(SecurityLevel, u8, u32)>,
    /// For an unsecured frame, the decoded body; for a secured one, the body as it sits on the
    /// air (decode it again after [`unsecure`]).
    pub body: Body<'a>,
}

fn addr_len(a: &LinkAddr) -> usize {
    match a {
        LinkAddr::Absent => 0,
        LinkAddr::Short(_) => 2,
        LinkAddr::Extended(_) => 8,
    }
}

fn addr_mode(a: &LinkAddr) -> u16 {
    match a {
        LinkAddr::Absent => 0,
        LinkAddr::Short(_) => 2,
        LinkAddr::Extended(_) => 3,
    }
}

/// PAN ID Compression by the 2006 rule: both addresses present and PANs equal.
fn compress(a: &Addressing) -> bool {
    !matches!(a.dst, LinkAddr::Absent)
        && !matches!(a.src, LinkAddr::Absent)
        && a.dst_pan.is_some()
        && a.dst_pan == a.src_pan
}

fn mhr_len(a: &Addressing) -> usize {
    let mut n = 3 + addr_len(&a.dst) + addr_len(&a.src);
    if !matches!(a.dst, LinkAddr::Absent) {
        n += 2;
    }
    if !matches!(a.src, LinkAddr::Absent) && !compress(a) {
        n += 2;
    }
    n
}

/// Bytes a frame adds around its body (header, security header, MIC).
pub(crate) fn overhead(f: &OutFrame<'_>, level: SecurityLevel) -> usize {
    let sec = if level == SecurityLevel::None {
        0
    } else {
        6 + level.mic_len()
    };
    mhr_len(&f.addr) + sec
}

struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.pos + bytes.len();
        self.buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall { required: end })?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }
    fn addr(&mut self, a: &LinkAddr) -> Result<()> {
        match a {
            LinkAddr::Absent => Ok(()),
            LinkAddr::Short(s) => self.put(&s.to_le_bytes()),
            LinkAddr::Extended(e) => self.put(&e.to_le_bytes()),
        }
    }
}

/// Writes `f` into `buf` (without FCS) and returns its length.
pub(crate) fn emit(
    f: &OutFrame<'_>,
    sec: Option<OutSecurity<'_>>,
    buf: &mut [u8],
) -> Result<usize> {
    let a = &f.addr;
    if !matches!(a.dst, LinkAddr::Absent) && a.dst_pan.is_none() {
        return Err(Error::Invalid("destination address without PAN id"));
    }
    if !matches!(a.src, LinkAddr::Absent) && a.src_pan.is_none() && a.dst_pan.is_none() {
        return Err(Error::Invalid("source address without PAN id"));
    }
    let mut fcf =
        u16::from(f.body.frame_type()) | (addr_mode(&a.dst) << 10) | (addr_mode(&a.src) << 14);
    // Frame version 1 (2006) for data and beacons and anything secured; Beacon Requests and
    // ACKs as 2003 frames, which every receiver accepts.
    if matches!(f.body, Body::Data(_) | Body::Beacon { .. }) || sec.is_some() {
        fcf |= FCF_VERSION_2006;
    }
    if f.ack_request {
        fcf |= FCF_AR;
    }
    if f.frame_pending {
        fcf |= FCF_PENDING;
    }
    let comp = compress(a);
    if comp {
        fcf |= FCF_PAN_COMPRESSION;
    }
    if sec.is_some() {
        fcf |= FCF_SECURITY;
    }
    let mut w = Writer { buf, pos: 0 };
    w.put(&fcf.to_le_bytes())?;
    w.put(&[f.seq])?;
    if !matches!(a.dst, LinkAddr::Absent) {
        w.put(&a.dst_pan.unwrap_or(PanId::BROADCAST).to_le_bytes())?;
        w.addr(&a.dst)?;
    }
    if !matches!(a.src, LinkAddr::Absent) {
        if !comp {
            w.put(
                &a.src_pan
                    .or(a.dst_pan)
                    .unwrap_or(PanId::BROADCAST)
                    .to_le_bytes(),
            )?;
        }
        w.addr(&a.src)?;
    }
    if let Some(s) = &sec {
        let aux = AuxSecurityHeaderRepr {
            security_level: s.level,
            frame_counter: Some(s.frame_counter),
            key_id: KeyIdentifier::Index(s.key_index),
            asn_in_nonce: false,
        };
        let start = w.pos;
        let end = start + aux.buffer_len();
        let dst = w
            .buf
            .get_mut(start..end)
            .ok_or(Error::BufferTooSmall { required: end })?;
        aux.emit(&mut AuxSecurityHeader::new_unchecked(dst))?;
        w.pos = end;
    }
    let header_end = w.pos;
    match f.body {
        Body::Beacon {
            superframe_spec,
            payload,
        } => {
            w.put(&superframe_spec.to_le_bytes())?;
            w.put(&[0, 0])?; // GTS Specification: 0 descriptors; Pending Address: none
            w.put(payload)?;
        }
        Body::Data(p) => w.put(p)?,
        Body::Ack => {}
        Body::Command { id, payload } => {
            w.put(&[id])?;
            w.put(payload)?;
        }
    }
    let end = w.pos;
    if let Some(s) = sec {
        // a-data = MHR (with the auxiliary header), plus the command id for MAC commands.
        let aad_end = if matches!(f.body, Body::Command { .. }) && s.level.encrypts() {
            header_end + 1
        } else {
            header_end
        };
        let mic_len = s.level.mic_len();
        let total = end + mic_len;
        let all = w
            .buf
            .get_mut(..total)
            .ok_or(Error::BufferTooSmall { required: total })?;
        let (frame, mic_out) = all.split_at_mut(end);
        let (aad, msg) = frame.split_at_mut(aad_end);
        let n = nonce(s.src_ext, s.frame_counter, s.level);
        let mic = s.key.seal(&n, s.level, aad, msg)?;
        mic_out.copy_from_slice(mic.as_slice());
        return Ok(total);
    }
    Ok(end)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos + n;
        let s = self.buf.get(self.pos..end).ok_or(Error::Truncated {
            needed: end,
            got: self.buf.len(),
        })?;
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
        ]))
    }
    fn addr(&mut self, mode: u16) -> Result<LinkAddr> {
        Ok(match mode {
            0 => LinkAddr::Absent,
            2 => LinkAddr::Short(ShortAddr(self.u16()?)),
            3 => {
                let mut e = [0u8; 8];
                e.copy_from_slice(self.take(8)?);
                LinkAddr::Extended(ExtAddr::from_le_bytes(e))
            }
            _ => return Err(Error::Malformed("reserved addressing mode")),
        })
    }
}

/// Where the parts of a frame lie.
struct Layout {
    header_end: usize,
    sec: Option<AuxSecurityHeaderRepr>,
    frame_type: u8,
}

fn decode<'a>(psdu: &'a [u8]) -> Result<(InFrame<'a>, Layout)> {
    let mut r = Reader { buf: psdu, pos: 0 };
    let fcf = r.u16()?;
    let frame_type = (fcf & 0x07) as u8;
    let version = (fcf >> 12) & 0x03;
    if version > 1 {
        return Err(Error::UnsupportedVersion(version as u8));
    }
    if frame_type > FT_COMMAND {
        return Err(Error::UnsupportedFrameType(frame_type));
    }
    let seq = r.take(1)?.first().copied();
    let dst_mode = (fcf >> 10) & 0x03;
    let src_mode = (fcf >> 14) & 0x03;
    let comp = fcf & FCF_PAN_COMPRESSION != 0;
    let mut addr = Addressing::NONE;
    if dst_mode != 0 {
        addr.dst_pan = Some(PanId(r.u16()?));
        addr.dst = r.addr(dst_mode)?;
    }
    if src_mode != 0 {
        addr.src_pan = if comp {
            addr.dst_pan
        } else {
            Some(PanId(r.u16()?))
        };
        addr.src = r.addr(src_mode)?;
    }
    let secured = fcf & FCF_SECURITY != 0;
    let sec = if secured {
        let h = AuxSecurityHeader::new_checked(psdu.get(r.pos..).unwrap_or(&[]))?;
        let repr = AuxSecurityHeaderRepr::parse(&h)?;
        r.pos += repr.buffer_len();
        Some(repr)
    } else {
        None
    };
    let header_end = r.pos;
    let rest = psdu.get(header_end..).unwrap_or(&[]);
    let body = if secured {
        Body::Data(rest)
    } else {
        body_of(frame_type, rest)?
    };
    let security = sec.and_then(|s| match (s.key_id, s.frame_counter) {
        (KeyIdentifier::Index(i), Some(fc)) if s.key_id.mode() == KeyIdMode::Index => {
            Some((s.security_level, i, fc))
        }
        _ => None,
    });
    Ok((
        InFrame {
            seq,
            ack_request: fcf & FCF_AR != 0,
            addr,
            secured,
            security,
            body,
        },
        Layout {
            header_end,
            sec,
            frame_type,
        },
    ))
}

fn body_of(frame_type: u8, p: &[u8]) -> Result<Body<'_>> {
    Ok(match frame_type {
        FT_BEACON => {
            let mut r = Reader { buf: p, pos: 0 };
            let superframe_spec = r.u16()?;
            let gts = r.take(1)?.first().copied().unwrap_or(0);
            let gts_count = usize::from(gts & 0x07);
            if gts_count > 0 {
                r.take(1)?; // GTS directions
                r.take(3 * gts_count)?;
            }
            let pend = r.take(1)?.first().copied().unwrap_or(0);
            r.take(2 * usize::from(pend & 0x07) + 8 * usize::from((pend >> 4) & 0x07))?;
            Body::Beacon {
                superframe_spec,
                payload: p.get(r.pos..).unwrap_or(&[]),
            }
        }
        FT_DATA => Body::Data(p),
        FT_ACK => Body::Ack,
        _ => {
            let (&id, payload) = p
                .split_first()
                .ok_or(Error::Truncated { needed: 1, got: 0 })?;
            Body::Command { id, payload }
        }
    })
}

/// Parses a received PSDU (without FCS).
pub(crate) fn parse(psdu: &[u8]) -> Result<InFrame<'_>> {
    decode(psdu).map(|(f, _)| f)
}

/// Verifies and decrypts a secured frame in place; returns the range of the plaintext MAC
/// payload and the body it decodes to.
pub(crate) fn unsecure<'a>(
    psdu: &'a mut [u8],
    key: &CcmKey,
    src: ExtAddr,
) -> Result<(Range<usize>, Body<'a>)> {
    let (header_end, sec, frame_type) = {
        let (_, l) = decode(psdu)?;
        (l.header_end, l.sec.ok_or(Error::NotSecured)?, l.frame_type)
    };
    let fc = sec.frame_counter.ok_or(Error::FrameCounterSuppressed)?;
    let level = sec.security_level;
    let mic_len = level.mic_len();
    let end = psdu
        .len()
        .checked_sub(mic_len)
        .filter(|e| *e >= header_end)
        .ok_or(Error::Truncated {
            needed: header_end + mic_len,
            got: psdu.len(),
        })?;
    let aad_end = if frame_type == FT_COMMAND && level.encrypts() {
        (header_end + 1).min(end)
    } else {
        header_end
    };
    {
        let (frame, mic) = psdu.split_at_mut(end);
        let (aad, msg) = frame.split_at_mut(aad_end);
        key.open(&nonce(src, fc, level), level, aad, msg, mic)?;
    }
    let range = header_end..end;
    let plain: &'a [u8] = psdu;
    let body = body_of(frame_type, plain.get(range.clone()).unwrap_or(&[]))?;
    Ok((range, body))
}
