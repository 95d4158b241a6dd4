//! MLE security (Thread 1.x §4.x as Wireshark's `packet-mle.c` and OpenThread implement it;
//! FACTS §9.2).
//!
//! A secured MLE message (suite 0) is CCM* (802.15.4-2020 §9.3) with
//! - nonce = sender's extended address (MSB first) ‖ MLE frame counter (4 bytes, big-endian) ‖
//!   security level — the 802.15.4 nonce, built by `amimesh_mac::security::ccm_star::nonce`;
//! - a-data = IPv6 source (16) ‖ IPv6 destination (16) ‖ auxiliary security header as sent;
//! - m = `Command ‖ TLVs`, encrypted in place; the MIC follows.
//!   (Levels 1–3 authenticate m as part of the a-data and leave it in clear.)
//!
//! Keys: the MLE key is the first half of HMAC-SHA256(network key, "ZigBeeIP") (the ZigBee-IP
//! scheme, [`MleKey::from_network_key`]) or, for Thread peers, of
//! HMAC-SHA256(network key, key sequence ‖ "Thread") ([`MleKey::from_thread_network_key`]).
//! A key is selected by the key identifier of the auxiliary security header: key id mode 1 by
//! Key Index; key id mode 2 by Key Index and Key Source, which carries the key sequence
//! (4 bytes, big-endian) as Thread does. [`MleKeyLookup`] abstracts that choice.
//!
//! Wireshark 4.0 decrypts these messages when given the MLE key as a "No hash" key row with the
//! Key Index (both key id modes), or the network key as a "Thread hash" row for Thread-derived
//! keys. Its "ZigBee IP hash" row does not fit: it derives HMAC-SHA256(K, "ZigBeeIP") but uses
//! bytes 16..32 — the MAC half — for MLE too, so it only opens MLE secured with the MAC key
//! (`tests/interop_tshark.rs` pins this down).
//!
//! CCM* itself sits behind [`MleCrypto`] so that simulations and fuzzers can plug in a fake;
//! [`SoftCrypto`] is the real one (RustCrypto `aes` + `ccm` via `amimesh-mac`).

use crate::wire::message::{BodyRepr, Message, SecuritySuite, check_mle_aux};
use crate::{Error, Result};
use amimesh_core::{ExtAddr, Key128};
use amimesh_mac::security::ccm_star::{self, CcmKey, Nonce};
use amimesh_mac::security::keys;
use amimesh_mac::security::{
    AuxSecurityHeader, AuxSecurityHeaderRepr, KeyIdMode, KeyIdentifier, SecurityLevel,
};
use core::fmt;
use core::net::Ipv6Addr;

/// Longest a-data: two IPv6 addresses and the longest auxiliary security header (14 bytes).
pub const MAX_AAD_LEN: usize = 16 + 16 + 14;

/// An MLE key with the identifiers it is used under.
#[derive(Clone)]
pub struct MleKey {
    key: CcmKey,
    raw: Key128,
    /// Key Index (1..=255) carried in the auxiliary security header.
    pub key_index: u8,
    /// Key sequence, sent as the 4-byte Key Source in key id mode 2.
    pub key_sequence: u32,
}

impl fmt::Debug for MleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MleKey")
            .field("key_index", &self.key_index)
            .field("key_sequence", &self.key_sequence)
            .finish_non_exhaustive()
    }
}

impl MleKey {
    /// A raw MLE key (already derived).
    pub fn new(mle_key: Key128, key_index: u8, key_sequence: u32) -> Self {
        MleKey {
            key: CcmKey::new(&mle_key),
            raw: mle_key,
            key_index,
            key_sequence,
        }
    }

    /// The MLE key of the ZigBee-IP scheme: HMAC-SHA256(K, "ZigBeeIP")[0..16) (FACTS §4.2).
    pub fn from_network_key(network_key: &Key128, key_index: u8, key_sequence: u32) -> Self {
        let (mle, _mac) = keys::derive_link_keys(network_key);
        MleKey::new(mle, key_index, key_sequence)
    }

    /// The MLE key of the Thread scheme for `key_sequence`:
    /// HMAC-SHA256(K, key_sequence ‖ "Thread")[0..16), Key Index = (key_sequence & 0x7f) + 1
    /// (FACTS §9.3).
    pub fn from_thread_network_key(network_key: &Key128, key_sequence: u32) -> Self {
        let (mle, _mac) = keys::derive_thread_keys(network_key, key_sequence);
        MleKey::new(mle, keys::thread_key_index(key_sequence), key_sequence)
    }

    /// The expanded CCM* key.
    pub fn ccm_key(&self) -> &CcmKey {
        &self.key
    }

    /// The raw key bytes (for handing to an oracle such as Wireshark in tests).
    pub fn raw(&self) -> &Key128 {
        &self.raw
    }

    /// The key identifier this key is sent under in `mode` (1 or 2); `None` for modes 0 and 3.
    pub fn key_identifier(&self, mode: KeyIdMode) -> Option<KeyIdentifier> {
        match mode {
            KeyIdMode::Index => Some(KeyIdentifier::Index(self.key_index)),
            KeyIdMode::Source4Index => Some(KeyIdentifier::Source4 {
                source: self.key_sequence.to_be_bytes(),
                index: self.key_index,
            }),
            KeyIdMode::Implicit | KeyIdMode::Source8Index => None,
        }
    }

    /// Does this key serve `id`? Mode 1 compares the Key Index; mode 2 the Key Index and the
    /// Key Source (= key sequence, big-endian).
    pub fn matches(&self, id: &KeyIdentifier) -> bool {
        match *id {
            KeyIdentifier::Index(i) => i == self.key_index,
            KeyIdentifier::Source4 { source, index } => {
                index == self.key_index && u32::from_be_bytes(source) == self.key_sequence
            }
            KeyIdentifier::Implicit | KeyIdentifier::Source8 { .. } => false,
        }
    }
}

/// Finds the MLE key for a received key identifier.
pub trait MleKeyLookup {
    /// The key for `id`, if any.
    fn lookup(&self, id: &KeyIdentifier) -> Option<&MleKey>;
}

impl MleKeyLookup for [MleKey] {
    fn lookup(&self, id: &KeyIdentifier) -> Option<&MleKey> {
        self.iter().find(|k| k.matches(id))
    }
}

impl<const N: usize> MleKeyLookup for [MleKey; N] {
    fn lookup(&self, id: &KeyIdentifier) -> Option<&MleKey> {
        self.as_slice().lookup(id)
    }
}

/// CCM* as used by MLE. Implementations must behave like 802.15.4-2020 §9.3 for the real
/// protocol; tests and fuzzers may plug in something simpler.
pub trait MleCrypto {
    /// Secures `buf` in place, writing the MIC (exactly `level.mic_len()` bytes) into `mic`.
    fn seal(
        &self,
        key: &MleKey,
        nonce: &Nonce,
        level: SecurityLevel,
        aad: &[u8],
        buf: &mut [u8],
        mic: &mut [u8],
    ) -> Result<()>;

    /// Checks `mic` and unsecures `buf` in place; [`Error::BadMic`] if it does not verify.
    fn open(
        &self,
        key: &MleKey,
        nonce: &Nonce,
        level: SecurityLevel,
        aad: &[u8],
        buf: &mut [u8],
        mic: &[u8],
    ) -> Result<()>;
}

/// CCM* from `amimesh_mac::security::ccm_star` (RustCrypto `aes` and `ccm`).
///
/// # Fuzzing
/// Under `cfg(fuzzing)` a wrong MIC is accepted (the behaviour of `ccm_star`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoftCrypto;

impl MleCrypto for SoftCrypto {
    fn seal(
        &self,
        key: &MleKey,
        nonce: &Nonce,
        level: SecurityLevel,
        aad: &[u8],
        buf: &mut [u8],
        mic: &mut [u8],
    ) -> Result<()> {
        let m = key.key.seal(nonce, level, aad, buf)?;
        let out = mic
            .get_mut(..m.len())
            .ok_or(Error::BufferTooSmall { required: m.len() })?;
        out.copy_from_slice(m.as_slice());
        Ok(())
    }

    fn open(
        &self,
        key: &MleKey,
        nonce: &Nonce,
        level: SecurityLevel,
        aad: &[u8],
        buf: &mut [u8],
        mic: &[u8],
    ) -> Result<()> {
        key.key
            .open(nonce, level, aad, buf, mic)
            .map_err(|_| Error::BadMic)
    }
}

/// The MLE CCM* nonce: sender's extended address ‖ MLE frame counter (BE) ‖ level.
pub fn nonce(sender: ExtAddr, frame_counter: u32, level: SecurityLevel) -> Nonce {
    ccm_star::nonce(sender, frame_counter, level)
}

/// The MLE a-data: IPv6 source ‖ IPv6 destination ‖ auxiliary security header bytes.
/// Returns the buffer and the used length.
pub fn aad(src: Ipv6Addr, dst: Ipv6Addr, aux: &[u8]) -> Result<([u8; MAX_AAD_LEN], usize)> {
    let mut a = [0u8; MAX_AAD_LEN];
    let n = 32usize.saturating_add(aux.len());
    let out = a.get_mut(..n).ok_or(Error::UnsupportedSecurity(
        "auxiliary security header too long",
    ))?;
    let (addrs, h) = out.split_at_mut(32);
    let (s, d) = addrs.split_at_mut(16);
    s.copy_from_slice(&src.octets());
    d.copy_from_slice(&dst.octets());
    h.copy_from_slice(aux);
    Ok((a, n))
}

/// The sender's extended address as MLE derives it: the interface identifier of its IPv6
/// link-local source address with the U/L bit flipped back (RFC 4944 §6; FACTS §9.2).
/// `None` if `src` is not link-local (`fe80::/64`).
pub fn sender_ext_addr(src: Ipv6Addr) -> Option<ExtAddr> {
    let o = src.octets();
    if o.get(..8)? != [0xfe, 0x80, 0, 0, 0, 0, 0, 0] {
        return None;
    }
    let iid: [u8; 8] = o.get(8..16)?.try_into().ok()?;
    Some(ExtAddr::from_iid(iid))
}

/// The link-local address `fe80::/64` + IID of `ext`.
pub fn link_local(ext: ExtAddr) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..].copy_from_slice(&ext.to_iid());
    Ipv6Addr::from(o)
}

/// Builds a secured MLE message into `out`: suite 0, `aux` (which must carry a frame counter
/// and a key id mode 1 or 2), the encrypted `body` and the MIC. Returns the bytes written.
#[allow(clippy::too_many_arguments)]
pub fn seal_message<C: MleCrypto + ?Sized>(
    crypto: &C,
    key: &MleKey,
    sender: ExtAddr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    aux: &AuxSecurityHeaderRepr,
    body: &BodyRepr<'_>,
    out: &mut [u8],
) -> Result<usize> {
    check_mle_aux(aux)?;
    let fc = aux
        .frame_counter
        .ok_or(Error::UnsupportedSecurity("frame counter suppressed"))?;
    let level = aux.security_level;
    let aux_len = aux.buffer_len();
    let body_len = body.buffer_len();
    let mic_len = level.mic_len();
    let total = 1usize
        .saturating_add(aux_len)
        .saturating_add(body_len)
        .saturating_add(mic_len);
    let out = out
        .get_mut(..total)
        .ok_or(Error::BufferTooSmall { required: total })?;
    let (suite, rest) = out
        .split_first_mut()
        .ok_or(Error::BufferTooSmall { required: total })?;
    *suite = SecuritySuite::Ieee802154.into();
    let (aux_buf, rest) = rest
        .split_at_mut_checked(aux_len)
        .ok_or(Error::BufferTooSmall { required: total })?;
    aux.emit(&mut AuxSecurityHeader::new_unchecked(&mut *aux_buf))?;
    let (a, alen) = aad(src, dst, aux_buf)?;
    let (payload, mic) = rest
        .split_at_mut_checked(body_len)
        .ok_or(Error::BufferTooSmall { required: total })?;
    body.emit(payload)?;
    let n = nonce(sender, fc, level);
    crypto.seal(key, &n, level, a.get(..alen).unwrap_or(&[]), payload, mic)?;
    Ok(total)
}

/// Checks and decrypts a secured message. The plaintext `Command ‖ TLVs` is written to `out`
/// and returned together with the parsed auxiliary security header and the key that opened it.
///
/// Errors: [`Error::NoKey`] (no key for the key identifier), [`Error::BadMic`], the parse
/// errors of the auxiliary security header, and [`Error::BufferTooSmall`].
#[allow(clippy::too_many_arguments)]
pub fn open_message<'o, 'k, C: MleCrypto + ?Sized, K: MleKeyLookup + ?Sized>(
    crypto: &C,
    keys: &'k K,
    sender: ExtAddr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    msg: &Message<&[u8]>,
    out: &'o mut [u8],
) -> Result<(AuxSecurityHeaderRepr, &'k MleKey, BodyRepr<'o>)> {
    if !msg.is_secured() {
        return Err(Error::UnsupportedSecurity("message is not secured"));
    }
    let aux = AuxSecurityHeaderRepr::parse(&AuxSecurityHeader::new_checked(msg.aux_header())?)?;
    check_mle_aux(&aux)?;
    let fc = aux
        .frame_counter
        .ok_or(Error::UnsupportedSecurity("frame counter suppressed"))?;
    let key = keys.lookup(&aux.key_id).ok_or(Error::NoKey)?;
    let body = msg.body();
    let plain = out.get_mut(..body.len()).ok_or(Error::BufferTooSmall {
        required: body.len(),
    })?;
    plain.copy_from_slice(body);
    let (a, alen) = aad(src, dst, msg.aux_header())?;
    let n = nonce(sender, fc, aux.security_level);
    crypto.open(
        key,
        &n,
        aux.security_level,
        a.get(..alen).unwrap_or(&[]),
        plain,
        msg.mic(),
    )?;
    let body = BodyRepr::parse(plain)?;
    Ok((aux, key, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::command::Command;
    use std::format;
    use std::vec;
    use std::vec::Vec;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn key16(s: &str) -> Key128 {
        Key128::from_slice(&h(s)).unwrap()
    }

    /// OpenThread tests/scripts/thread-cert/test_crypto.py (FACTS §10): the seq-0 MLE key of
    /// network key 00112233445566778899aabbccddeeff.
    fn thread_key() -> MleKey {
        MleKey::new(key16("5445f4158fd75912175809f8b57a66a4"), 1, 0)
    }

    fn thread_sender() -> ExtAddr {
        ExtAddr::from_u64(0x0035_cc94_d77a_07e8)
    }

    fn thread_src() -> Ipv6Addr {
        "fe80::235:cc94:d77a:7e8".parse().unwrap()
    }

    fn ff02_2() -> Ipv6Addr {
        "ff02::2".parse().unwrap()
    }

    fn thread_aux() -> AuxSecurityHeaderRepr {
        AuxSecurityHeaderRepr {
            security_level: SecurityLevel::EncMic32,
            frame_counter: Some(262_165),
            key_id: KeyIdentifier::Source4 {
                source: [0; 4],
                index: 1,
            },
            asn_in_nonce: false,
        }
    }

    static PLAIN: &[u8] = include_bytes!("../testdata/thread_advertisement_plain.bin");
    static SECURED: &[u8] = include_bytes!("../testdata/thread_advertisement.bin");

    #[test]
    fn thread_key_derivation() {
        let nk = key16("00112233445566778899aabbccddeeff");
        let k = MleKey::from_thread_network_key(&nk, 0);
        assert_eq!(k.raw(), thread_key().raw());
        assert_eq!(k.key_index, 1);
        let k2 = MleKey::from_thread_network_key(&nk, 2);
        assert_eq!(k2.raw(), &key16("016e2ab8ec88879687a72e0a357ecf2a"));
        assert_eq!(k2.key_index, 3);
    }

    #[test]
    fn zigbee_ip_key_is_first_half_of_hmac() {
        // HMAC-SHA256(K, "ZigBeeIP") computed by the mac crate; the MLE key is its first half.
        let nk = key16("00112233445566778899aabbccddeeff");
        let (mle, mac) = keys::derive_link_keys(&nk);
        let k = MleKey::from_network_key(&nk, 7, 0);
        assert_eq!(k.raw(), &mle);
        assert_ne!(k.raw(), &mac);
        assert_eq!(k.key_index, 7);
    }

    #[test]
    fn thread_vector_seal() {
        assert_eq!(sender_ext_addr(thread_src()), Some(thread_sender()));
        assert_eq!(link_local(thread_sender()), thread_src());
        let body = BodyRepr::parse(PLAIN).unwrap();
        assert_eq!(body.command, Command::Advertisement);
        let mut out = vec![0xa5u8; 64];
        let n = seal_message(
            &SoftCrypto,
            &thread_key(),
            thread_sender(),
            thread_src(),
            ff02_2(),
            &thread_aux(),
            &body,
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..n], SECURED);
        assert_eq!(
            &out[11..n],
            &h("9a5a9a5bba259c5e58a27e7574ef79bc4fa3f9aea834f6f237219360e1b5a253")[..]
        );
    }

    #[test]
    fn thread_vector_open() {
        let msg = Message::new_checked(SECURED).unwrap();
        let keys = [thread_key()];
        let mut out = [0u8; 64];
        let (aux, key, body) = open_message(
            &SoftCrypto,
            &keys,
            thread_sender(),
            thread_src(),
            ff02_2(),
            &msg,
            &mut out,
        )
        .unwrap();
        assert_eq!(aux, thread_aux());
        assert_eq!(key.key_index, 1);
        assert_eq!(body, BodyRepr::parse(PLAIN).unwrap());
    }

    #[test]
    fn open_errors() {
        let keys = [thread_key()];
        let mut out = [0u8; 64];
        let open = |bytes: &[u8], keys: &[MleKey], src: Ipv6Addr, out: &mut [u8]| {
            let msg = Message::new_checked(bytes).unwrap();
            open_message(&SoftCrypto, keys, thread_sender(), src, ff02_2(), &msg, out)
                .map(|(a, _, b)| (a, b.command))
        };
        // A flipped MIC bit, ciphertext bit or a-data (source address) byte.
        let mut bad = SECURED.to_vec();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(
            open(&bad, &keys, thread_src(), &mut out),
            Err(Error::BadMic)
        );
        let mut bad = SECURED.to_vec();
        bad[20] ^= 0x80;
        assert_eq!(
            open(&bad, &keys, thread_src(), &mut out),
            Err(Error::BadMic)
        );
        assert_eq!(
            open(SECURED, &keys, "fe80::1".parse().unwrap(), &mut out),
            Err(Error::BadMic)
        );
        // No key for the index, or for the key source (key sequence) in mode 2.
        let other_index = [MleKey::new(thread_key().raw().clone(), 2, 0)];
        assert_eq!(
            open(SECURED, &other_index, thread_src(), &mut out),
            Err(Error::NoKey)
        );
        let other_seq = [MleKey::new(thread_key().raw().clone(), 1, 5)];
        assert_eq!(
            open(SECURED, &other_seq, thread_src(), &mut out),
            Err(Error::NoKey)
        );
        // Output buffer too small.
        assert_eq!(
            open(SECURED, &keys, thread_src(), &mut [0u8; 4]),
            Err(Error::BufferTooSmall { required: 28 })
        );
        // Not secured.
        assert_eq!(
            open(&[0xff, 0], &keys, thread_src(), &mut out),
            Err(Error::UnsupportedSecurity("message is not secured"))
        );
        // Sealing refuses headers MLE cannot use and short buffers.
        let body = BodyRepr::parse(PLAIN).unwrap();
        let mut aux = thread_aux();
        aux.frame_counter = None;
        let seal = |aux: &AuxSecurityHeaderRepr, out: &mut [u8]| {
            seal_message(
                &SoftCrypto,
                &keys[0],
                thread_sender(),
                thread_src(),
                ff02_2(),
                aux,
                &body,
                out,
            )
        };
        assert_eq!(
            seal(&aux, &mut out),
            Err(Error::UnsupportedSecurity("frame counter suppressed"))
        );
        assert_eq!(
            seal(&thread_aux(), &mut [0u8; 10]),
            Err(Error::BufferTooSmall { required: 43 })
        );
        assert_eq!(sender_ext_addr("2001:db8::1".parse().unwrap()), None);
        // CCM* with L = 2 cannot secure more than 65535 bytes: the error comes from the MAC
        // crate's CCM*.
        let big = vec![0u8; 70_000];
        let body = BodyRepr {
            command: Command::Update,
            tlvs: &big,
        };
        let mut out = vec![0u8; 70_100];
        assert!(matches!(
            seal_message(
                &SoftCrypto,
                &keys[0],
                thread_sender(),
                thread_src(),
                ff02_2(),
                &thread_aux(),
                &body,
                &mut out
            ),
            Err(Error::Mac(_))
        ));
    }

    #[test]
    fn every_level_and_both_key_id_modes_round_trip() {
        let key = MleKey::new(key16("000102030405060708090a0b0c0d0e0f"), 3, 0x0102_0304);
        let body = BodyRepr::parse(PLAIN).unwrap();
        for level in SecurityLevel::ALL.into_iter().skip(1) {
            for mode in [KeyIdMode::Index, KeyIdMode::Source4Index] {
                let aux = AuxSecurityHeaderRepr {
                    security_level: level,
                    frame_counter: Some(77),
                    key_id: key.key_identifier(mode).unwrap(),
                    asn_in_nonce: false,
                };
                let mut out = [0u8; 80];
                let n = seal_message(
                    &SoftCrypto,
                    &key,
                    thread_sender(),
                    thread_src(),
                    ff02_2(),
                    &aux,
                    &body,
                    &mut out,
                )
                .unwrap();
                assert_eq!(n, 1 + aux.buffer_len() + PLAIN.len() + level.mic_len());
                let ct = &out[1 + aux.buffer_len()..n - level.mic_len()];
                // Encrypting levels hide the body; MIC-only levels leave it in clear.
                assert_eq!(ct == PLAIN, !level.encrypts(), "{level:?}");
                let msg = Message::new_checked(&out[..n]).unwrap();
                let keys = [key.clone()];
                let mut plain = [0u8; 80];
                let (a, _, b) = open_message(
                    &SoftCrypto,
                    &keys,
                    thread_sender(),
                    thread_src(),
                    ff02_2(),
                    &msg,
                    &mut plain,
                )
                .unwrap();
                assert_eq!(a, aux);
                assert_eq!(b, body);
                // With a MIC, tampering is detected.
                if level.mic_len() > 0 {
                    let mut bad = out[..n].to_vec();
                    bad[n - 1] ^= 1;
                    let msg = Message::new_checked(&bad[..]).unwrap();
                    assert_eq!(
                        open_message(
                            &SoftCrypto,
                            &keys,
                            thread_sender(),
                            thread_src(),
                            ff02_2(),
                            &msg,
                            &mut plain
                        )
                        .map(|_| ()),
                        Err(Error::BadMic)
                    );
                }
            }
        }
        assert_eq!(key.key_identifier(KeyIdMode::Implicit), None);
        assert!(format!("{key:?}").contains("key_index: 3"));
        assert!(!format!("{key:?}").contains("0102"));
    }
}

#[cfg(test)]
mod handshake_vectors {
    use super::*;
    use crate::wire::command::Command;
    use crate::wire::tlv::TlvType;

    fn open(bytes: &[u8], src: u64, dst: u64) -> (Command, u32, usize) {
        let nk = Key128::new([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ]);
        let keys = [MleKey::from_network_key(&nk, 1, 0)];
        let s = ExtAddr::from_u64(0x0212_4b00_0000_0000 | src);
        let d = ExtAddr::from_u64(0x0212_4b00_0000_0000 | dst);
        let msg = Message::new_checked(bytes).unwrap();
        let mut out = [0u8; 128];
        let (aux, _, body) = open_message(
            &SoftCrypto,
            &keys,
            s,
            link_local(s),
            link_local(d),
            &msg,
            &mut out,
        )
        .unwrap();
        (
            body.command,
            aux.frame_counter.unwrap(),
            body.tlvs().count(),
        )
    }

    /// The handshake captured in `testdata/` (see its README) still opens and decodes.
    #[test]
    fn captured_handshake_opens() {
        let lr = include_bytes!("../testdata/link_request.bin");
        let laar = include_bytes!("../testdata/link_accept_and_request.bin");
        let la = include_bytes!("../testdata/link_accept.bin");
        assert_eq!(open(lr, 1, 2), (Command::LinkRequest, 0, 4));
        assert_eq!(open(laar, 2, 1), (Command::LinkAcceptAndRequest, 0, 7));
        assert_eq!(open(la, 1, 2), (Command::LinkAccept, 1, 5));
        // The Link Accept and Request echoes the Link Request's challenge.
        let mut a = [0u8; 128];
        let mut b = [0u8; 128];
        let nk = Key128::new([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ]);
        let keys = [MleKey::from_network_key(&nk, 1, 0)];
        let e1 = ExtAddr::from_u64(0x0212_4b00_0000_0001);
        let e2 = ExtAddr::from_u64(0x0212_4b00_0000_0002);
        let m = Message::new_checked(&lr[..]).unwrap();
        let (_, _, req) = open_message(
            &SoftCrypto,
            &keys,
            e1,
            link_local(e1),
            link_local(e2),
            &m,
            &mut a,
        )
        .unwrap();
        let m = Message::new_checked(&laar[..]).unwrap();
        let (_, _, acc) = open_message(
            &SoftCrypto,
            &keys,
            e2,
            link_local(e2),
            link_local(e1),
            &m,
            &mut b,
        )
        .unwrap();
        let Some(crate::wire::tlv::TlvRepr::Challenge(c)) = req.find(TlvType::Challenge) else {
            panic!()
        };
        let Some(crate::wire::tlv::TlvRepr::Response(r)) = acc.find(TlvType::Response) else {
            panic!()
        };
        assert_eq!(c, r);
    }
}
