//! The MAC state machine's narrow interface to frames: what it emits and what it needs to know
//! about a received PSDU. Everything the state machine does with bytes goes through here, and
//! all of it is done by the crate's codecs ([`crate::wire`]) and frame security
//! ([`crate::security::frame`]).
//!
//! Frames are emitted as 802.15.4-2006 frames (frame version 1) with PAN ID Compression by the
//! 2006 rule (FACTS §6.2); Beacon Requests and immediate ACKs as 2003 frames (version 0), which
//! every receiver accepts. Received frames may be of any version the codec accepts (2003, 2006,
//! 2015 with IEs).

use amimesh_core::{ExtAddr, Instant, LinkAddr, PanId, ShortAddr};

use crate::error::{Error, Result};
use crate::security::ccm_star::CcmKey;
use crate::security::counters::ReplayTable;
use crate::security::frame::{KeyLookup, secure_frame, unsecure_frame_checked};
use crate::security::{AuxSecurityHeaderRepr, KeyIdMode, KeyIdentifier, SecurityLevel};
use crate::wire::beacon::{BeaconRepr, SuperframeSpec};
use crate::wire::command::MacCommandRepr;
use crate::wire::frame::{AddressingMode, Frame, FrameRepr, FrameType, FrameVersion};
use crate::wire::ie::{HeaderTermination, split_payload_ies};

/// Largest beacon or command content this module builds on the stack.
const MAX_SMALL_CONTENT: usize = 160;

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
    },
}

impl Body<'_> {
    /// Length of the MAC payload this body needs.
    pub fn len(&self) -> usize {
        match self {
            Body::Beacon { payload, .. } => 4 + payload.len(),
            Body::Data(p) => p.len(),
            Body::Ack => 0,
            Body::Command { .. } => 1,
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
    /// The decoded body (for a secured frame: `Data` of the ciphertext; decode it with
    /// [`unsecure`]).
    pub body: Body<'a>,
}

/// Bytes a frame adds around its body (header, security header, MIC).
pub(crate) fn overhead(f: &OutFrame<'_>, level: SecurityLevel) -> usize {
    let sec = if level == SecurityLevel::None {
        0
    } else {
        6 + level.mic_len()
    };
    let (dp, sp) = pan_ids(&f.addr);
    2 + 1
        + 2 * usize::from(dp.is_some())
        + 2 * usize::from(sp.is_some())
        + AddressingMode::of(f.addr.dst).size()
        + AddressingMode::of(f.addr.src).size()
        + sec
}

/// PAN ID Compression by the 2006 rule and the PAN ids then present.
fn pan_ids(a: &Addressing) -> (Option<PanId>, Option<PanId>) {
    let dst_pan = match a.dst {
        LinkAddr::Absent => None,
        _ => Some(a.dst_pan.unwrap_or(PanId::BROADCAST)),
    };
    let src_pan = match a.src {
        LinkAddr::Absent => None,
        _ => {
            let p = a.src_pan.or(a.dst_pan).unwrap_or(PanId::BROADCAST);
            if dst_pan == Some(p) { None } else { Some(p) }
        }
    };
    (dst_pan, src_pan)
}

/// Writes `f` into `buf` (without FCS), secures it, and returns its length.
pub(crate) fn emit(
    f: &OutFrame<'_>,
    sec: Option<OutSecurity<'_>>,
    buf: &mut [u8],
) -> Result<usize> {
    let mut small = [0u8; MAX_SMALL_CONTENT];
    let (frame_type, content): (FrameType, &[u8]) = match f.body {
        Body::Data(p) => (FrameType::Data, p),
        Body::Ack => (FrameType::Ack, &[]),
        Body::Beacon {
            superframe_spec,
            payload,
        } => {
            let b = BeaconRepr {
                superframe_spec: SuperframeSpec(superframe_spec),
                gts_permit: false,
                gts_directions: 0,
                gts: heapless::Vec::new(),
                pending_short: heapless::Vec::new(),
                pending_ext: heapless::Vec::new(),
                payload,
            };
            let n = b.emit(&mut small)?;
            (FrameType::Beacon, small.get(..n).unwrap_or(&[]))
        }
        Body::Command { id } => {
            let c = match id {
                7 => MacCommandRepr::BeaconRequest,
                _ => MacCommandRepr::Other { id, content: &[] },
            };
            let n = c.emit(&mut small)?;
            (FrameType::MacCommand, small.get(..n).unwrap_or(&[]))
        }
    };
    let frame_version = match (f.body, &sec) {
        (Body::Data(_) | Body::Beacon { .. }, _) | (_, Some(_)) => FrameVersion::Ieee2006,
        _ => FrameVersion::Ieee2003,
    };
    let (dst_pan_id, src_pan_id) = pan_ids(&f.addr);
    let repr = FrameRepr {
        frame_type,
        frame_version,
        security: sec.as_ref().map(|s| AuxSecurityHeaderRepr {
            security_level: s.level,
            frame_counter: Some(s.frame_counter),
            key_id: KeyIdentifier::Index(s.key_index),
            asn_in_nonce: false,
        }),
        frame_pending: f.frame_pending,
        ack_request: f.ack_request,
        pan_id_compression: !matches!(f.addr.dst, LinkAddr::Absent)
            && !matches!(f.addr.src, LinkAddr::Absent)
            && src_pan_id.is_none(),
        sequence_number: Some(f.seq),
        dst_pan_id,
        dst_addr: f.addr.dst,
        src_pan_id,
        src_addr: f.addr.src,
        header_ies: &[],
        content,
    };
    let len = repr.emit_into(buf)?;
    if let Some(s) = sec {
        let frame = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        secure_frame(frame, s.key, s.src_ext)?;
    }
    Ok(len)
}

fn body_of(frame_type: FrameType, payload: &[u8]) -> Result<Body<'_>> {
    Ok(match frame_type {
        FrameType::Beacon => {
            let b = BeaconRepr::parse(payload)?;
            Body::Beacon {
                superframe_spec: b.superframe_spec.0,
                payload: b.payload,
            }
        }
        FrameType::Data => Body::Data(payload),
        FrameType::Ack => Body::Ack,
        FrameType::MacCommand => Body::Command {
            id: u8::from(MacCommandRepr::parse(payload)?.command_id()),
        },
        other => return Err(Error::UnsupportedFrameType(u8::from(other))),
    })
}

/// Parses a received PSDU (without FCS).
pub(crate) fn parse(psdu: &[u8]) -> Result<InFrame<'_>> {
    let frame = Frame::new_checked(psdu)?;
    let r = FrameRepr::parse(&frame)?;
    let addr = Addressing {
        dst_pan: r.dst_pan_id,
        dst: r.dst_addr,
        src_pan: r.src_pan_id.or(if matches!(r.src_addr, LinkAddr::Absent) {
            None
        } else {
            r.dst_pan_id
        }),
        src: r.src_addr,
    };
    let security = r.security.and_then(|s| match (s.key_id, s.frame_counter) {
        (KeyIdentifier::Index(i), Some(fc)) if s.key_id.mode() == KeyIdMode::Index => {
            Some((s.security_level, i, fc))
        }
        _ => None,
    });
    let body = if r.security.is_some() {
        Body::Data(r.content)
    } else {
        body_of(r.frame_type, r.payload())?
    };
    Ok(InFrame {
        seq: r.sequence_number,
        ack_request: r.ack_request,
        addr,
        secured: r.security.is_some(),
        security,
        body,
    })
}

/// The MAC keys, by key index (key id mode 1), as a [`KeyLookup`] for frame security.
#[derive(Debug)]
pub(crate) struct KeyStore<const K: usize> {
    pub slots: [Option<(u8, CcmKey)>; K],
    /// Short → extended address of neighbours, for the nonce of frames sent from a short
    /// address (802.15.4-2020 §9.2.4, DeviceDescriptor).
    pub devices: [Option<(ShortAddr, ExtAddr)>; MAX_DEVICES],
}

/// Short → extended address mappings kept for secured reception.
pub(crate) const MAX_DEVICES: usize = 16;

impl<const K: usize> KeyStore<K> {
    /// Adds or updates a mapping; when full, the oldest entry is replaced.
    pub fn add_device(&mut self, short: ShortAddr, ext: ExtAddr) {
        if let Some(slot) = self
            .devices
            .iter_mut()
            .find(|d| matches!(d, Some((s, _)) if *s == short))
        {
            *slot = Some((short, ext));
            return;
        }
        // Shift out the oldest (index 0) when full; insertion order is kept.
        if self.devices.iter().all(Option::is_some) {
            self.devices.rotate_left(1);
            if let Some(last) = self.devices.last_mut() {
                *last = None;
            }
        }
        if let Some(slot) = self.devices.iter_mut().find(|d| d.is_none()) {
            *slot = Some((short, ext));
        }
    }
}

impl<const K: usize> KeyLookup for KeyStore<K> {
    type KeyName = u8;
    fn lookup(&self, ctx: &crate::security::frame::KeyLookupContext) -> Option<(u8, &CcmKey)> {
        if ctx.key_id.mode() != KeyIdMode::Index {
            return None;
        }
        let want = ctx.key_id.index()?;
        self.slots
            .iter()
            .flatten()
            .find(|(i, _)| *i == want)
            .map(|(i, k)| (*i, k))
    }

    fn ext_addr(&self, _pan_id: Option<PanId>, addr: LinkAddr) -> Option<ExtAddr> {
        match addr {
            LinkAddr::Extended(e) => Some(e),
            LinkAddr::Short(s) => self
                .devices
                .iter()
                .flatten()
                .find(|(d, _)| *d == s)
                .map(|(_, e)| *e),
            LinkAddr::Absent => None,
        }
    }
}

/// Verifies, replay-checks and decrypts a secured frame in place (802.15.4-2020 §9.2.5);
/// returns the key index and the decoded body.
pub(crate) fn unsecure<'a, const K: usize, const N: usize, const R: usize>(
    now: Instant,
    psdu: &'a mut [u8],
    keys: &KeyStore<K>,
    replay: &mut ReplayTable<u8, N, R>,
) -> Result<(u8, Body<'a>)> {
    let u = unsecure_frame_checked(now, psdu, keys, replay)?;
    let plain: &'a [u8] = psdu;
    // Decryption leaves the header (and so the frame's layout) as it was.
    let f = Frame::new_checked(plain)?;
    let content = plain.get(u.header_len..u.len).unwrap_or(&[]);
    // Payload IEs (2015 frames) precede the payload inside the decrypted content.
    let payload = if f.header_termination() == HeaderTermination::PayloadIes {
        split_payload_ies(content)?.1
    } else {
        content
    };
    Ok((u.key, body_of(f.frame_type(), payload)?))
}
