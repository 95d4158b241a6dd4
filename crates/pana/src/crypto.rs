//! PANA key derivation and message protection.
//!
//! - prf+ (RFC 7296 §2.13, used by RFC 5191 §5.3): `T1 = prf(K, S | 0x01)`,
//!   `Tn = prf(K, T(n-1) | S | n)`, output `T1 | T2 | …` truncated.
//! - `PANA_AUTH_KEY = prf+(MSK, "IETF PANA" | I_PAR | I_PAN | PaC_nonce | PAA_nonce | Key_ID)`
//!   (RFC 5191 §5.3), as long as the integrity algorithm's key (32 bytes for
//!   AUTH_HMAC_SHA2_256_128, 20 for AUTH_HMAC_SHA1_160).
//! - `PANA_PAC_ENCR_KEY` / `PANA_PAA_ENCR_KEY` (RFC 6786 §3): the same seed with the labels
//!   "IETF PANA PaC Encr" / "IETF PANA PAA Encr", 16 bytes for AES128_CTR.
//! - AUTH (RFC 5191 §5.4): the integrity algorithm over the whole message with the AUTH value
//!   zeroed, compared in constant time.
//! - AES128_CTR (RFC 6786 §6): counter block `0x02 | Key-Id | Session-Id | Seq | 00 00 01` for
//!   the first block (SP 800-38C Appendix A formatting with n = 12, q = 3).

use crate::error::{Error, Result};
use crate::wire::avp::{AvpCode, IntegrityAlgorithm, PrfAlgorithm};
use crate::wire::message::HEADER_LEN;
use aes::Aes128;
use aes::cipher::{KeyIvInit, StreamCipher};
use amimesh_core::{Key128, Secret};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Label of PANA_AUTH_KEY (RFC 5191 §5.3), 9 bytes, no NUL.
pub const LABEL_AUTH: &[u8] = b"IETF PANA";
/// Label of PANA_PAC_ENCR_KEY (RFC 6786 §3).
pub const LABEL_PAC_ENCR: &[u8] = b"IETF PANA PaC Encr";
/// Label of PANA_PAA_ENCR_KEY (RFC 6786 §3).
pub const LABEL_PAA_ENCR: &[u8] = b"IETF PANA PAA Encr";

const MAX_PRF_OUT: usize = 32;

fn prf(
    alg: PrfAlgorithm,
    key: &[u8],
    parts: &[&[u8]],
    out: &mut [u8; MAX_PRF_OUT],
) -> Result<usize> {
    match alg {
        PrfAlgorithm::HmacSha2_256 => {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
                .map_err(|_| Error::Malformed("HMAC key"))?;
            for p in parts {
                m.update(p);
            }
            out.copy_from_slice(&m.finalize().into_bytes());
            Ok(32)
        }
        PrfAlgorithm::HmacSha1 => {
            let mut m = <Hmac<Sha1> as Mac>::new_from_slice(key)
                .map_err(|_| Error::Malformed("HMAC key"))?;
            for p in parts {
                m.update(p);
            }
            if let Some(o) = out.get_mut(..20) {
                o.copy_from_slice(&m.finalize().into_bytes());
            }
            Ok(20)
        }
        PrfAlgorithm::Unknown(v) => Err(Error::UnsupportedAlgorithm(v)),
    }
}

/// prf+ (RFC 7296 §2.13): fills `out` from `key` and the seed given as concatenated `seed`
/// parts. At most 255 blocks.
pub fn prf_plus(alg: PrfAlgorithm, key: &[u8], seed: &[&[u8]], out: &mut [u8]) -> Result<()> {
    let mut t = [0u8; MAX_PRF_OUT];
    let mut t_len = 0usize;
    let mut filled = 0usize;
    let mut n: u8 = 1;
    while filled < out.len() {
        let prev = t;
        let nb = [n];
        let mut parts: heapless::Vec<&[u8], 12> = heapless::Vec::new();
        parts
            .push(prev.get(..t_len).unwrap_or(&[]))
            .map_err(|_| Error::Malformed("prf+ seed"))?;
        for s in seed {
            parts.push(s).map_err(|_| Error::Malformed("prf+ seed"))?;
        }
        parts.push(&nb).map_err(|_| Error::Malformed("prf+ seed"))?;
        t_len = prf(alg, key, &parts, &mut t)?;
        let take = t_len.min(out.len() - filled);
        if let (Some(dst), Some(src)) = (out.get_mut(filled..filled + take), t.get(..take)) {
            dst.copy_from_slice(src);
        }
        filled += take;
        n = n.checked_add(1).ok_or(Error::Malformed("prf+ too long"))?;
    }
    zeroize::Zeroize::zeroize(&mut t);
    Ok(())
}

/// The inputs shared by every PANA key (RFC 5191 §5.3, RFC 6786 §3).
#[derive(Clone, Copy)]
pub struct KeyInputs<'a> {
    /// The EAP MSK.
    pub msk: &'a [u8],
    /// The initial PAR (S flag), as sent.
    pub i_par: &'a [u8],
    /// The initial PAN (S flag), as sent.
    pub i_pan: &'a [u8],
    /// Nonce AVP value from the PaC.
    pub pac_nonce: &'a [u8],
    /// Nonce AVP value from the PAA.
    pub paa_nonce: &'a [u8],
    /// Key-Id AVP value.
    pub key_id: u32,
}

impl core::fmt::Debug for KeyInputs<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyInputs")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The keys of one PANA security association.
#[derive(Clone, PartialEq, Eq)]
pub struct PanaKeys {
    integrity: IntegrityAlgorithm,
    auth: Secret<32>,
    auth_key_len: usize,
    pac_encr: Key128,
    paa_encr: Key128,
    key_id: u32,
}

impl core::fmt::Debug for PanaKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PanaKeys")
            .field("integrity", &self.integrity)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl PanaKeys {
    /// Derives PANA_AUTH_KEY and both encryption keys.
    pub fn derive(
        prf_alg: PrfAlgorithm,
        integrity: IntegrityAlgorithm,
        i: &KeyInputs<'_>,
    ) -> Result<Self> {
        let auth_key_len = integrity
            .key_len()
            .ok_or(Error::UnsupportedAlgorithm(integrity.into()))?;
        let kid = i.key_id.to_be_bytes();
        let mut buf = [0u8; 32];
        let derive = |label: &[u8], out: &mut [u8]| {
            prf_plus(
                prf_alg,
                i.msk,
                &[label, i.i_par, i.i_pan, i.pac_nonce, i.paa_nonce, &kid],
                out,
            )
        };
        derive(LABEL_AUTH, buf.get_mut(..auth_key_len).unwrap_or(&mut []))?;
        let auth = Secret::new(buf);
        let mut e = [0u8; 16];
        derive(LABEL_PAC_ENCR, &mut e)?;
        let pac_encr = Key128::new(e);
        derive(LABEL_PAA_ENCR, &mut e)?;
        let paa_encr = Key128::new(e);
        zeroize::Zeroize::zeroize(&mut buf);
        zeroize::Zeroize::zeroize(&mut e);
        Ok(PanaKeys {
            integrity,
            auth,
            auth_key_len,
            pac_encr,
            paa_encr,
            key_id: i.key_id,
        })
    }

    /// PANA_AUTH_KEY.
    pub fn auth_key(&self) -> &[u8] {
        self.auth.expose().get(..self.auth_key_len).unwrap_or(&[])
    }
    /// PANA_PAC_ENCR_KEY (PaC → PAA).
    pub fn pac_encr_key(&self) -> &Key128 {
        &self.pac_encr
    }
    /// PANA_PAA_ENCR_KEY (PAA → PaC).
    pub fn paa_encr_key(&self) -> &Key128 {
        &self.paa_encr
    }
    /// Key-Id these keys were derived with.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }
    /// The integrity algorithm.
    pub fn integrity(&self) -> IntegrityAlgorithm {
        self.integrity
    }
    /// AUTH value length.
    pub fn auth_len(&self) -> usize {
        self.integrity.auth_len().unwrap_or(0)
    }

    fn mac(&self, msg: &[u8], zero: core::ops::Range<usize>, out: &mut [u8; 32]) -> Result<usize> {
        let head = msg.get(..zero.start).ok_or(Error::BadAuth)?;
        let tail = msg.get(zero.end..).ok_or(Error::BadAuth)?;
        let zeros = [0u8; 32];
        let z = zeros.get(..zero.len()).ok_or(Error::BadAuth)?;
        match self.integrity {
            IntegrityAlgorithm::HmacSha2_256_128 => {
                let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.auth_key())
                    .map_err(|_| Error::BadAuth)?;
                m.update(head);
                m.update(z);
                m.update(tail);
                out.copy_from_slice(&m.finalize().into_bytes());
                Ok(16)
            }
            IntegrityAlgorithm::HmacSha1_160 => {
                let mut m = <Hmac<Sha1> as Mac>::new_from_slice(self.auth_key())
                    .map_err(|_| Error::BadAuth)?;
                m.update(head);
                m.update(z);
                m.update(tail);
                if let Some(o) = out.get_mut(..20) {
                    o.copy_from_slice(&m.finalize().into_bytes());
                }
                Ok(20)
            }
            IntegrityAlgorithm::Unknown(v) => Err(Error::UnsupportedAlgorithm(v)),
        }
    }

    /// Writes the AUTH value into `msg` at `value_offset` (the AVP must be the last one and
    /// the message complete).
    pub fn sign(&self, msg: &mut [u8], value_offset: usize) -> Result<()> {
        let range = value_offset..value_offset.saturating_add(self.auth_len());
        let mut out = [0u8; 32];
        let n = self.mac(msg, range.clone(), &mut out)?;
        msg.get_mut(range)
            .ok_or(Error::BadAuth)?
            .copy_from_slice(out.get(..n).unwrap_or(&[]));
        Ok(())
    }

    /// Checks the AUTH AVP of a complete, length-checked message in constant time. The AVP must
    /// be present and last (RFC 5191 §6.2: fixed position).
    ///
    /// # Fuzzing
    /// Under `cfg(fuzzing)` only the presence and size of AUTH are checked.
    pub fn verify(&self, msg: &[u8]) -> Result<()> {
        let range = auth_value_range(msg).ok_or(Error::BadAuth)?;
        if range.len() != self.auth_len() {
            return Err(Error::BadAuth);
        }
        if cfg!(fuzzing) {
            return Ok(());
        }
        let mut out = [0u8; 32];
        let n = self.mac(msg, range.clone(), &mut out)?;
        let got = msg.get(range).ok_or(Error::BadAuth)?;
        let want = out.get(..n).ok_or(Error::BadAuth)?;
        if bool::from(got.ct_eq(want)) {
            Ok(())
        } else {
            Err(Error::BadAuth)
        }
    }

    /// Encrypts or decrypts (the same operation) with PANA_PAA_ENCR_KEY or PANA_PAC_ENCR_KEY.
    pub fn crypt(&self, from_paa: bool, session_id: u32, seq: u32, data: &mut [u8]) {
        let key = if from_paa {
            &self.paa_encr
        } else {
            &self.pac_encr
        };
        aes128_ctr(key, self.key_id, session_id, seq, data);
    }
}

/// The byte range of the AUTH value in a length-checked message, if the AUTH AVP is the last
/// AVP. `None` if AUTH is absent, not last, or the AVP area is malformed.
pub fn auth_value_range(msg: &[u8]) -> Option<core::ops::Range<usize>> {
    let mut off = HEADER_LEN;
    let mut found = None;
    let area = msg.get(HEADER_LEN..)?;
    for a in crate::wire::AvpIter::new(area) {
        let a = a.ok()?;
        let hdr = if a.vendor_id.is_some() { 12 } else { 8 };
        if found.is_some() {
            return None; // AUTH not last
        }
        if a.code == AvpCode::Auth && a.vendor_id.is_none() {
            let start = off.checked_add(hdr)?;
            found = Some(start..start.checked_add(a.value.len())?);
        }
        off = off.checked_add(a.buffer_len())?;
    }
    found
}

/// The first counter block of RFC 6786 AES128_CTR (SP 800-38C Appendix A, n = 12, q = 3).
pub fn ctr_block(key_id: u32, session_id: u32, seq: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = 0x02;
    b[1..5].copy_from_slice(&key_id.to_be_bytes());
    b[5..9].copy_from_slice(&session_id.to_be_bytes());
    b[9..13].copy_from_slice(&seq.to_be_bytes());
    b[15] = 1;
    b
}

/// AES-128 in CTR mode with the RFC 6786 counter layout (encryption = decryption).
pub fn aes128_ctr(key: &Key128, key_id: u32, session_id: u32, seq: u32, data: &mut [u8]) {
    let iv = ctr_block(key_id, session_id, seq);
    let mut c = ctr::Ctr128BE::<Aes128>::new(key.expose().into(), (&iv).into());
    c.apply_keystream(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6786_first_counter_block() {
        let b = ctr_block(0x5566_7788, 0xaabb_ccdd, 0x1122_3344);
        assert_eq!(hex::encode(b), "0255667788aabbccdd11223344000001");
    }

    #[test]
    fn ctr_is_sp800_38a_ctr_from_that_block() {
        // Keystream block 1 = AES(key, Ctr_1); block 2 = AES(key, Ctr_1 + 1).
        use aes::cipher::{BlockEncrypt, KeyInit};
        let key = Key128::new([7; 16]);
        let mut data = [0u8; 20];
        aes128_ctr(&key, 1, 2, 3, &mut data);
        let aes = Aes128::new(key.expose().into());
        let mut b1 = ctr_block(1, 2, 3).into();
        aes.encrypt_block(&mut b1);
        let mut c2 = ctr_block(1, 2, 3);
        c2[15] = 2;
        let mut b2 = c2.into();
        aes.encrypt_block(&mut b2);
        assert_eq!(&data[..16], &b1[..]);
        assert_eq!(&data[16..], &b2[..4]);
    }

    #[test]
    fn prf_plus_first_block_is_hmac_of_seed_and_one() {
        // RFC 7296 §2.13: T1 = prf(K, S | 0x01); T2 = prf(K, T1 | S | 0x02).
        let key = [0x0b; 20];
        let mut out = [0u8; 40];
        prf_plus(PrfAlgorithm::HmacSha2_256, &key, &[b"ab", b"c"], &mut out).unwrap();
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        m.update(b"abc\x01");
        let t1 = m.finalize().into_bytes();
        assert_eq!(&out[..32], &t1[..]);
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        m.update(&t1);
        m.update(b"abc\x02");
        assert_eq!(&out[32..], &m.finalize().into_bytes()[..8]);
        let mut o1 = [0u8; 30];
        prf_plus(PrfAlgorithm::HmacSha1, &key, &[b"abc"], &mut o1).unwrap();
        let mut m = <Hmac<Sha1> as Mac>::new_from_slice(&key).unwrap();
        m.update(b"abc\x01");
        assert_eq!(&o1[..20], &m.finalize().into_bytes()[..]);
        assert_eq!(
            prf_plus(PrfAlgorithm::Unknown(9), &key, &[], &mut o1).unwrap_err(),
            Error::UnsupportedAlgorithm(9)
        );
    }

    #[test]
    fn auth_key_matches_rfc5191_formula() {
        let msk = [0x42u8; 64];
        let i = KeyInputs {
            msk: &msk,
            i_par: b"IPAR",
            i_pan: b"IPAN",
            pac_nonce: &[1; 16],
            paa_nonce: &[2; 16],
            key_id: 0x0102_0304,
        };
        let k = PanaKeys::derive(
            PrfAlgorithm::HmacSha2_256,
            IntegrityAlgorithm::HmacSha2_256_128,
            &i,
        )
        .unwrap();
        // One HMAC-SHA256 block over the label and the inputs, then 0x01.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&msk).unwrap();
        m.update(b"IETF PANAIPARIPAN");
        m.update(&[1; 16]);
        m.update(&[2; 16]);
        m.update(&[1, 2, 3, 4, 1]);
        assert_eq!(k.auth_key(), &m.finalize().into_bytes()[..]);
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&msk).unwrap();
        m.update(b"IETF PANA PAA EncrIPARIPAN");
        m.update(&[1; 16]);
        m.update(&[2; 16]);
        m.update(&[1, 2, 3, 4, 1]);
        assert_eq!(k.paa_encr_key().expose(), &m.finalize().into_bytes()[..16]);
        assert_ne!(k.pac_encr_key(), k.paa_encr_key());
        assert!(!std::format!("{k:?}").contains("auth:"));
        let s =
            PanaKeys::derive(PrfAlgorithm::HmacSha1, IntegrityAlgorithm::HmacSha1_160, &i).unwrap();
        assert_eq!(s.auth_key().len(), 20);
        assert_eq!(s.auth_len(), 20);
    }

    #[test]
    fn sign_verify_and_tamper() {
        use crate::wire::{AvpRepr, Flags, MessageBuilder, MessageType};
        let msk = [9u8; 64];
        let i = KeyInputs {
            msk: &msk,
            i_par: b"a",
            i_pan: b"b",
            pac_nonce: b"c",
            paa_nonce: b"d",
            key_id: 1,
        };
        for (p, g) in [
            (
                PrfAlgorithm::HmacSha2_256,
                IntegrityAlgorithm::HmacSha2_256_128,
            ),
            (PrfAlgorithm::HmacSha1, IntegrityAlgorithm::HmacSha1_160),
        ] {
            let k = PanaKeys::derive(p, g, &i).unwrap();
            let mut buf = [0u8; 64];
            let mut b = MessageBuilder::new(&mut buf, MessageType::Notification, Flags::PING, 5, 6)
                .unwrap();
            b.push_u32(AvpCode::KeyId, 1).unwrap();
            let off = b
                .push(&AvpRepr::new(AvpCode::Auth, &[0; 20][..k.auth_len()]))
                .unwrap();
            let n = b.finish();
            k.sign(&mut buf[..n], off).unwrap();
            assert!(buf[off..n].iter().any(|b| *b != 0));
            k.verify(&buf[..n]).unwrap();
            for pos in [0, 5, 17, off, n - 1] {
                let mut t = buf;
                t[pos] ^= 1;
                assert_eq!(k.verify(&t[..n]).unwrap_err(), Error::BadAuth, "byte {pos}");
            }
            // AUTH missing.
            assert_eq!(k.verify(&buf[..off - 8]).unwrap_err(), Error::BadAuth);
        }
    }
}
