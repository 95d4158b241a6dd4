//! Securing and unsecuring whole MAC frames (802.15.4-2020 §9.2.1 outgoing, §9.2.5 incoming).
//!
//! CCM* inputs (§9.3.3, §9.3.5, FACTS §6.4):
//!
//! - nonce: the originator's extended address ‖ frame counter ‖ security level
//!   ([`ccm_star::nonce`]); a short or absent source address is mapped to the extended one by
//!   [`KeyLookup::ext_addr`] (the device table);
//! - levels 4–7: a-data = MAC header through the Auxiliary Security Header and Header IEs, plus,
//!   for frame versions 0/1, the open payload — the Command ID of a MAC command, the
//!   Superframe/GTS/Pending Address fields of a beacon; m = the rest of the content (Payload IEs
//!   and payload), encrypted in place; from frame version 2 the whole content is private;
//! - levels 1–3: a-data = header and the whole content, m empty;
//! - the MIC follows the content; the FCS (not handled here) covers the secured frame.

use super::ccm_star::{self, CcmKey};
use super::counters::ReplayTable;
use super::{AuxSecurityHeader, AuxSecurityHeaderRepr, KeyIdentifier};
use crate::error::{Error, Result};
use crate::wire::beacon::BeaconRepr;
use crate::wire::frame::{Frame, FrameRepr, FrameType, FrameVersion};
use amimesh_core::{ExtAddr, Instant, LinkAddr, PanId, ShortAddr};

/// What a key lookup sees (802.15.4-2020 §9.2.2: key identifier and, for key id mode 0, the
/// device addressing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLookupContext {
    /// Key Identifier of the frame.
    pub key_id: KeyIdentifier,
    /// Frame Type.
    pub frame_type: FrameType,
    /// Source PAN id (the destination PAN id when compressed away).
    pub src_pan_id: Option<PanId>,
    /// Source address.
    pub src_addr: LinkAddr,
    /// Destination PAN id.
    pub dst_pan_id: Option<PanId>,
    /// Destination address.
    pub dst_addr: LinkAddr,
}

/// The caller's key table and device table.
pub trait KeyLookup {
    /// Names a key for the replay table (e.g. its key index or a slot number).
    type KeyName: Copy + Eq;
    /// The key for a frame, with its name; `None` when no key matches.
    fn lookup(&self, ctx: &KeyLookupContext) -> Option<(Self::KeyName, &CcmKey)>;
    /// The extended address of a device known by a short address (or, for an absent source
    /// address, of the PAN coordinator), for the nonce.
    fn ext_addr(&self, pan_id: Option<PanId>, addr: LinkAddr) -> Option<ExtAddr> {
        let _ = pan_id;
        match addr {
            LinkAddr::Extended(e) => Some(e),
            _ => None,
        }
    }
}

/// A fixed-capacity [`KeyLookup`]: up to `K` keys, each for one key index or for any, and up to
/// `D` short→extended address mappings. Keys are named by their slot.
#[derive(Debug, Clone)]
pub struct KeyTable<const K: usize, const D: usize> {
    keys: [Option<(Option<u8>, CcmKey)>; K],
    devices: [Option<(ShortAddr, ExtAddr)>; D],
}

impl<const K: usize, const D: usize> Default for KeyTable<K, D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const K: usize, const D: usize> KeyTable<K, D> {
    /// An empty table.
    pub const fn new() -> Self {
        KeyTable {
            keys: [const { None }; K],
            devices: [None; D],
        }
    }
    /// Adds a key for `key_index` (`None`: any index and key id mode 0).
    ///
    /// # Errors
    /// [`Error::TableFull`].
    pub fn add_key(&mut self, key_index: Option<u8>, key: CcmKey) -> Result<usize> {
        let (i, slot) = self
            .keys
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.is_none())
            .ok_or(Error::TableFull)?;
        *slot = Some((key_index, key));
        Ok(i)
    }
    /// Removes the key in `slot`.
    pub fn remove_key(&mut self, slot: usize) {
        if let Some(s) = self.keys.get_mut(slot) {
            *s = None;
        }
    }
    /// Records (or updates) that `short` belongs to `ext`.
    ///
    /// # Errors
    /// [`Error::TableFull`].
    pub fn add_device(&mut self, short: ShortAddr, ext: ExtAddr) -> Result<()> {
        if let Some(d) = self.devices.iter_mut().flatten().find(|(s, _)| *s == short) {
            d.1 = ext;
            return Ok(());
        }
        let slot = self
            .devices
            .iter_mut()
            .find(|s| s.is_none())
            .ok_or(Error::TableFull)?;
        *slot = Some((short, ext));
        Ok(())
    }
}

impl<const K: usize, const D: usize> KeyLookup for KeyTable<K, D> {
    type KeyName = usize;
    fn lookup(&self, ctx: &KeyLookupContext) -> Option<(usize, &CcmKey)> {
        let want = ctx.key_id.index();
        self.keys.iter().enumerate().find_map(|(i, s)| match s {
            Some((idx, key)) if idx.is_none() || *idx == want => Some((i, key)),
            _ => None,
        })
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

/// Where the CCM* inputs lie in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecuredLayout {
    /// The auxiliary security header.
    pub security: AuxSecurityHeaderRepr,
    /// End of the clear header (through the Header IEs).
    pub header_len: usize,
    /// End of the a-data for levels 4–7 (header, Header IEs, open payload).
    pub open_end: usize,
    /// End of the content (start of the MIC).
    pub content_end: usize,
}

/// Finds the a-data/m split of a secured frame.
///
/// # Errors
/// [`Error::NotSecured`]; errors of [`Frame::check_len`]; [`Error::Truncated`] for a beacon or
/// command whose open payload is cut short.
pub fn secured_layout(frame: &[u8]) -> Result<SecuredLayout> {
    analyse(frame).map(|(_, l)| l)
}

/// The header fields the key lookup and the nonce need (802.15.4-2020 §9.2.2, §9.3.2.2).
#[derive(Clone, Copy)]
struct Addressing {
    frame_type: FrameType,
    dst_pan_id: Option<PanId>,
    dst_addr: LinkAddr,
    src_pan_id: Option<PanId>,
    src_addr: LinkAddr,
}

/// Walks the header once ([`Frame::check_len`]'s layout) and finds the a-data/m split, without
/// building a [`FrameRepr`]; errors are those of [`FrameRepr::parse`], then
/// [`Error::NotSecured`].
#[allow(clippy::indexing_slicing)] // offsets come from `layout`, which checked them
#[inline]
fn analyse(frame: &[u8]) -> Result<(Addressing, SecuredLayout)> {
    let f = Frame::new_unchecked(frame);
    let lay = f.layout()?;
    if lay.aux_len == 0 {
        // Unsecured: report what `FrameRepr::parse` reports (a bad Payload IE list) first.
        FrameRepr::parse(&f)?;
        return Err(Error::NotSecured);
    }
    let security = AuxSecurityHeaderRepr::parse(&AuxSecurityHeader::new_unchecked(
        &frame[lay.aux..lay.aux + lay.aux_len],
    ))?;
    let hdr = lay.header_ies_end;
    let content = &frame[hdr..lay.content_end];
    let frame_type = f.frame_type();
    // Before 2015 the Command ID of a MAC command and the Superframe/GTS/Pending Address
    // fields of a beacon are the open payload (802.15.4-2006 §7.6.3.4, Annex C.2.3). From 2015
    // the MAC payload (Payload IEs, Command ID, content) is private as a whole, which is also
    // how Wireshark 4.0 decrypts version-2 frames (checked in tests/interop_tshark.rs).
    let pre2015 = f.frame_version() != FrameVersion::Ieee2015;
    let open = match frame_type {
        FrameType::MacCommand if pre2015 => {
            if content.is_empty() {
                return Err(Error::Truncated {
                    needed: hdr + 1,
                    got: hdr,
                });
            }
            1
        }
        FrameType::Beacon if pre2015 => BeaconRepr::parse(content)?.fields_len(),
        _ => 0,
    };
    let a = Addressing {
        frame_type,
        dst_pan_id: f.read_pan(lay.dst_pan),
        dst_addr: f.read_addr(f.dst_addressing_mode(), lay.dst_addr),
        src_pan_id: f.read_pan(lay.src_pan),
        src_addr: f.read_addr(f.src_addressing_mode(), lay.src_addr),
    };
    let l = SecuredLayout {
        security,
        header_len: hdr,
        open_end: hdr + open,
        content_end: lay.content_end,
    };
    Ok((a, l))
}

fn nonce_source<L: KeyLookup + ?Sized>(r: &Addressing, lookup: &L) -> Result<ExtAddr> {
    match r.src_addr {
        LinkAddr::Extended(e) => Ok(e),
        src => lookup
            .ext_addr(r.src_pan_id.or(r.dst_pan_id), src)
            .ok_or(Error::NoExtendedSource),
    }
}

/// Secures in place a frame written by [`crate::wire::FrameRepr::emit`] (Security Enabled, MIC
/// area present): encrypts the private payload and writes the MIC (802.15.4-2020 §9.2.1
/// steps g–i). `src_ext` is this device's extended address.
///
/// # Errors
/// As [`secured_layout`]; [`Error::FrameCounterSuppressed`].
pub fn secure_frame(frame: &mut [u8], key: &CcmKey, src_ext: ExtAddr) -> Result<()> {
    let l = secured_layout(frame)?;
    let fc = l
        .security
        .frame_counter
        .ok_or(Error::FrameCounterSuppressed)?;
    let level = l.security.security_level;
    let nonce = ccm_star::nonce(src_ext, fc, level);
    let (head, rest) = frame.split_at_mut(l.content_end.min(frame.len()));
    let (aad, m) = if level.encrypts() {
        head.split_at_mut(l.open_end.min(head.len()))
    } else {
        head.split_at_mut(head.len())
    };
    let mic = key.seal(&nonce, level, aad, m)?;
    if let Some(dst) = rest.get_mut(..mic.len()) {
        dst.copy_from_slice(mic.as_slice());
    }
    Ok(())
}

/// The result of unsecuring a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsecured<K> {
    /// The key that verified the frame.
    pub key: K,
    /// The auxiliary security header.
    pub security: AuxSecurityHeaderRepr,
    /// The originator's extended address (used in the nonce).
    pub src_ext: ExtAddr,
    /// Length of the clear header (through the Header IEs).
    pub header_len: usize,
    /// Length of the frame without the MIC; `frame[header_len..len]` is the plaintext content
    /// (Payload IEs and payload).
    pub len: usize,
}

/// Verifies and decrypts a secured frame in place (802.15.4-2020 §9.2.5 steps a–j, without
/// the replay check: see [`unsecure_frame_checked`]).
///
/// # Errors
/// [`Error::NotSecured`], frame parse errors, [`Error::FrameCounterSuppressed`],
/// [`Error::NoExtendedSource`], [`Error::NoKey`], [`Error::BadMic`].
pub fn unsecure_frame<L: KeyLookup + ?Sized>(
    frame: &mut [u8],
    lookup: &L,
) -> Result<Unsecured<L::KeyName>> {
    let (name, key, security, src_ext, l) = prepare(frame, lookup)?;
    open_in_place(frame, key, name, security, src_ext, l)
}

type Prepared<'l, K> = (K, &'l CcmKey, AuxSecurityHeaderRepr, ExtAddr, SecuredLayout);

#[inline]
fn prepare<'l, L: KeyLookup + ?Sized>(
    frame: &[u8],
    lookup: &'l L,
) -> Result<Prepared<'l, L::KeyName>> {
    let (r, l) = analyse(frame)?;
    let security = l.security;
    match security.frame_counter {
        None => return Err(Error::FrameCounterSuppressed),
        // 802.15.4-2020 §9.2.5 step g: the maximum value is never valid.
        Some(u32::MAX) => return Err(Error::Malformed("frame counter 0xffffffff")),
        Some(_) => {}
    }
    let src_ext = nonce_source(&r, lookup)?;
    let ctx = KeyLookupContext {
        key_id: security.key_id,
        frame_type: r.frame_type,
        src_pan_id: r.src_pan_id.or(r.dst_pan_id),
        src_addr: r.src_addr,
        dst_pan_id: r.dst_pan_id,
        dst_addr: r.dst_addr,
    };
    let (name, key) = lookup.lookup(&ctx).ok_or(Error::NoKey)?;
    Ok((name, key, security, src_ext, l))
}

#[inline]
fn open_in_place<K>(
    frame: &mut [u8],
    key: &CcmKey,
    name: K,
    security: AuxSecurityHeaderRepr,
    src_ext: ExtAddr,
    l: SecuredLayout,
) -> Result<Unsecured<K>> {
    let level = security.security_level;
    let fc = security.frame_counter.unwrap_or(0);
    let nonce = ccm_star::nonce(src_ext, fc, level);
    let (head, mic) = frame.split_at_mut(l.content_end.min(frame.len()));
    let (aad, m) = if level.encrypts() {
        head.split_at_mut(l.open_end.min(head.len()))
    } else {
        head.split_at_mut(head.len())
    };
    key.open(&nonce, level, aad, m, mic)?;
    Ok(Unsecured {
        key: name,
        security,
        src_ext,
        header_len: l.header_len,
        len: l.content_end,
    })
}

/// [`unsecure_frame`] plus the replay check of §9.2.5 step k: a counter at or below the last
/// accepted one from this originator under this key is refused (and counted) before any
/// decryption; the counter is recorded after the MIC verifies.
///
/// # Errors
/// As [`unsecure_frame`], plus [`Error::Replay`], [`Error::TableFull`] and [`Error::NoKey`]
/// (key past its switch window) from the table.
pub fn unsecure_frame_checked<L, const N: usize, const R: usize>(
    now: Instant,
    frame: &mut [u8],
    lookup: &L,
    replay: &mut ReplayTable<L::KeyName, N, R>,
) -> Result<Unsecured<L::KeyName>>
where
    L: KeyLookup + ?Sized,
{
    let (name, key, security, src_ext, l) = prepare(frame, lookup)?;
    let fc = security.frame_counter.unwrap_or(0);
    replay.check(now, name, src_ext, fc)?;
    let u = open_in_place(frame, key, name, security, src_ext, l)?;
    replay.accept(now, name, src_ext, fc)?;
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::SecurityLevel;
    use crate::security::counters::ReplayTable;
    use crate::wire::frame::FrameRepr;
    use alloc::vec::Vec;
    use amimesh_core::{Duration, Key128};

    static ANNEX_C_BEACON: &[u8] = include_bytes!("../../testdata/annex_c_2_1_beacon_mic64.bin");
    static ANNEX_C_DATA: &[u8] = include_bytes!("../../testdata/annex_c_2_2_data_enc.bin");
    static ANNEX_C_CMD: &[u8] = include_bytes!("../../testdata/annex_c_2_3_cmd_enc_mic64.bin");
    const SRC: ExtAddr = ExtAddr([0xac, 0xde, 0x48, 0, 0, 0, 0, 1]);

    fn key() -> CcmKey {
        CcmKey::new(&Key128::new([
            0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd,
            0xce, 0xcf,
        ]))
    }
    fn table() -> KeyTable<2, 2> {
        let mut t = KeyTable::new();
        t.add_key(None, key()).unwrap();
        t
    }

    /// (fixture, plaintext content)
    fn cases() -> [(&'static [u8], Vec<u8>); 3] {
        [
            (ANNEX_C_BEACON, ANNEX_C_BEACON[18..26].to_vec()),
            (ANNEX_C_DATA, b"abcd".to_vec()),
            (ANNEX_C_CMD, alloc::vec![0x01, 0xce]),
        ]
    }

    #[test]
    fn annex_c_frames_secure_byte_for_byte() {
        for (fixture, plain) in cases() {
            let mut r = FrameRepr::parse(&Frame::new_checked(fixture).unwrap()).unwrap();
            r.content = &plain;
            let mut buf = alloc::vec![0xa5u8; r.buffer_len()];
            r.emit_into(&mut buf).unwrap();
            secure_frame(&mut buf, &key(), SRC).unwrap();
            assert_eq!(buf, fixture);
        }
    }

    #[test]
    fn annex_c_frames_unsecure() {
        for (fixture, plain) in cases() {
            let mut buf = fixture.to_vec();
            let u = unsecure_frame(&mut buf, &table()).unwrap();
            assert_eq!(u.key, 0);
            assert_eq!(u.src_ext, SRC);
            assert_eq!(u.security.frame_counter, Some(5));
            assert_eq!(&buf[u.header_len..u.len], &plain[..]);
        }
    }

    #[test]
    fn short_source_uses_device_table() {
        // Data frame, 2006, PAN 0xabcd compressed, short 0x0002 -> short 0x0001, level 5, key
        // id mode 1 index 3.
        let repr = FrameRepr {
            frame_type: FrameType::Data,
            frame_version: FrameVersion::Ieee2006,
            security: Some(AuxSecurityHeaderRepr {
                security_level: SecurityLevel::EncMic32,
                frame_counter: Some(77),
                key_id: KeyIdentifier::Index(3),
                asn_in_nonce: false,
            }),
            frame_pending: false,
            ack_request: false,
            pan_id_compression: true,
            sequence_number: Some(1),
            dst_pan_id: Some(PanId(0xabcd)),
            dst_addr: LinkAddr::Short(ShortAddr(1)),
            src_pan_id: None,
            src_addr: LinkAddr::Short(ShortAddr(2)),
            header_ies: &[],
            content: b"hello",
        };
        let mut buf = alloc::vec![0u8; repr.buffer_len()];
        repr.emit_into(&mut buf).unwrap();
        secure_frame(&mut buf, &key(), SRC).unwrap();
        assert_ne!(&buf[15..20], b"hello");

        let mut t: KeyTable<2, 2> = KeyTable::new();
        t.add_key(Some(4), key()).unwrap();
        let idx3 = t.add_key(Some(3), key()).unwrap();
        let mut copy = buf.clone();
        assert_eq!(unsecure_frame(&mut copy, &t), Err(Error::NoExtendedSource));
        t.add_device(ShortAddr(2), ExtAddr([9; 8])).unwrap();
        t.add_device(ShortAddr(2), SRC).unwrap(); // update
        t.add_device(ShortAddr(3), SRC).unwrap();
        assert_eq!(t.add_device(ShortAddr(4), SRC), Err(Error::TableFull));
        let mut replay: ReplayTable<usize, 4> = ReplayTable::new(Duration::from_secs(1));
        let now = Instant::ZERO;
        let mut copy = buf.clone();
        let u = unsecure_frame_checked(now, &mut copy, &t, &mut replay).unwrap();
        assert_eq!(u.key, idx3);
        assert_eq!(&copy[15..20], b"hello");
        // The same frame again is a duplicate, refused before decryption.
        let mut copy = buf.clone();
        assert_eq!(
            unsecure_frame_checked(now, &mut copy, &t, &mut replay),
            Err(Error::Replay { frame_counter: 77 })
        );
        assert_eq!(replay.stats().duplicates, 1);
        // A flipped ciphertext bit fails the MIC and is not recorded.
        let mut copy = buf.clone();
        copy[16] ^= 0x40;
        let mut fresh: ReplayTable<usize, 4> = ReplayTable::new(Duration::from_secs(1));
        assert_eq!(
            unsecure_frame_checked(now, &mut copy, &t, &mut fresh),
            Err(Error::BadMic)
        );
        assert_eq!(fresh.last(idx3, SRC), None);
        // No key for index 3.
        t.remove_key(idx3);
        let mut copy = buf.clone();
        assert_eq!(unsecure_frame(&mut copy, &t), Err(Error::NoKey));
        assert_eq!(t.add_key(Some(5), key()), Ok(idx3));
        assert_eq!(t.add_key(Some(6), key()), Err(Error::TableFull));
    }

    #[test]
    fn refusals() {
        // Unsecured frame.
        let mut plain = [0x41, 0x88, 0x01, 0xcd, 0xab, 0x01, 0x00, 0x02, 0x00];
        assert_eq!(unsecure_frame(&mut plain, &table()), Err(Error::NotSecured));
        assert_eq!(
            secure_frame(&mut plain, &key(), SRC),
            Err(Error::NotSecured)
        );
        // 2015 data frame, frame counter suppressed (sec ctl 0x2d: level 5, kim 1), ext src.
        let mut fcs = Vec::from([0x49u8, 0xe8, 0x01, 0xcd, 0xab, 0x01, 0x00]);
        fcs.extend_from_slice(&SRC.to_le_bytes());
        fcs.extend_from_slice(&[0x2d, 0x01, 0xaa, 0, 0, 0, 0]);
        assert_eq!(
            unsecure_frame(&mut fcs, &table()),
            Err(Error::FrameCounterSuppressed)
        );
        assert_eq!(
            secure_frame(&mut fcs, &key(), SRC),
            Err(Error::FrameCounterSuppressed)
        );
        // A secured command frame with no command id.
        let mut cmd = ANNEX_C_CMD[..28].to_vec();
        cmd.extend_from_slice(&[0u8; 8]);
        assert!(matches!(secured_layout(&cmd), Err(Error::Truncated { .. })));
        // Frame counter 0xffffffff is refused before any key is tried.
        let mut max = ANNEX_C_DATA.to_vec();
        max[22..26].copy_from_slice(&[0xff; 4]);
        assert_eq!(
            unsecure_frame(&mut max, &table()),
            Err(Error::Malformed("frame counter 0xffffffff"))
        );
        // Wrong key: bad MIC.
        let mut buf = ANNEX_C_CMD.to_vec();
        let mut t: KeyTable<1, 0> = KeyTable::new();
        t.add_key(None, CcmKey::new(&Key128::new([7; 16]))).unwrap();
        assert_eq!(unsecure_frame(&mut buf, &t), Err(Error::BadMic));
    }
}
