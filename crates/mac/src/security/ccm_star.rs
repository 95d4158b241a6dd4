//! CCM* (802.15.4-2020 §9.3 and Annex B) for security levels 0–7.
//!
//! Built on RustCrypto: [`ccm`] over [`aes`] for the levels with a MIC, and [`ctr`] for level 4
//! (ENC, no MIC), whose keystream starts at counter block A1 exactly as CCM* with M = 0 does.
//!
//! The functions work on any a-data and message, not only MAC frames (MLE uses the same
//! construction with its own a-data):
//!
//! - levels 5–7: `aad` is authenticated, `buf` is encrypted in place, a 4/8/16-byte MIC returned;
//! - level 4: `buf` is encrypted in place, no MIC;
//! - levels 1–3: the authenticated data is `aad` followed by `buf` (802.15.4-2020 §9.3.3:
//!   a = header ‖ payload, m empty); `buf` is left as it is;
//! - level 0: nothing happens.
//!
//! The nonce (§9.3.2.2) is the originator's extended address (most significant byte first), the
//! frame counter (big-endian) and the security level: see [`nonce`]. Keep a [`CcmKey`] per key
//! rather than calling [`seal`]/[`open`] with a raw key: it holds the expanded AES key schedule.

use super::SecurityLevel;
use crate::error::{Error, Result};
use aes::Aes128Enc;
use aes::cipher::{BlockEncrypt, InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use amimesh_core::{ExtAddr, Key128};
use ccm::aead::AeadInPlace;
use ccm::aead::generic_array::GenericArray;
use ccm::consts::{U4, U8, U13, U16};
use core::fmt;
use subtle::ConstantTimeEq;

/// Length of the CCM* nonce (802.15.4-2020 §9.3.2.2).
pub const NONCE_LEN: usize = 13;

/// A CCM* nonce.
pub type Nonce = [u8; NONCE_LEN];

/// Builds the CCM* nonce: extended source address (MSB first) ‖ frame counter (big-endian) ‖
/// security level (802.15.4-2020 §9.3.2.2, Figure 9-16).
pub fn nonce(src: ExtAddr, frame_counter: u32, level: SecurityLevel) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    let (addr, rest) = n.split_at_mut(8);
    addr.copy_from_slice(&src.to_bytes());
    let (fc, lvl) = rest.split_at_mut(4);
    fc.copy_from_slice(&frame_counter.to_be_bytes());
    if let Some(l) = lvl.first_mut() {
        *l = level.bits();
    }
    n
}

/// A message integrity code of 0, 4, 8 or 16 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mic {
    bytes: [u8; 16],
    len: u8,
}

impl Mic {
    /// The empty MIC (levels 0 and 4).
    pub const EMPTY: Mic = Mic {
        bytes: [0; 16],
        len: 0,
    };

    fn from_slice(s: &[u8]) -> Mic {
        let mut m = Mic::EMPTY;
        let n = s.len().min(16);
        if let (Some(dst), Some(src)) = (m.bytes.get_mut(..n), s.get(..n)) {
            dst.copy_from_slice(src);
        }
        m.len = n as u8;
        m
    }

    /// The MIC bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// `true` for the empty MIC.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AsRef<[u8]> for Mic {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for Mic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mic(")?;
        for b in self.as_slice() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// An AES-128 key with its expanded key schedule, ready for CCM* at any level.
///
/// CCM* only runs the block cipher forwards (CBC-MAC and CTR), so only the encryption
/// schedule is kept ([`aes::Aes128Enc`]). The schedule is zeroized on drop (`aes` with its `zeroize` feature); `Debug` prints no
/// key material.
#[derive(Clone)]
pub struct CcmKey {
    aes: Aes128Enc,
}

impl fmt::Debug for CcmKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CcmKey(..)")
    }
}

type Ccm4<'a> = ccm::Ccm<&'a Aes128Enc, U4, U13>;
type Ccm8<'a> = ccm::Ccm<&'a Aes128Enc, U8, U13>;
type Ccm16<'a> = ccm::Ccm<&'a Aes128Enc, U16, U13>;
type Ctr<'a> = StreamCipherCoreWrapper<ctr::CtrCore<&'a Aes128Enc, ctr::flavors::Ctr32BE>>;

/// Counter block A_i (802.15.4-2020 Annex B.4.2): flags 0x01 (L = 2) ‖ nonce ‖ i (16 bits).
fn counter_block(nonce: &Nonce, i: u16) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0x01;
    a[1..14].copy_from_slice(nonce);
    a[14..16].copy_from_slice(&i.to_be_bytes());
    a
}

impl CcmKey {
    /// Expands `key`.
    pub fn new(key: &Key128) -> Self {
        CcmKey {
            aes: Aes128Enc::new(GenericArray::from_slice(key.expose())),
        }
    }

    /// Secures `buf` in place and returns the MIC (see the module doc for what each level does).
    ///
    /// # Errors
    /// [`Error::Invalid`] if the message is longer than CCM* with L = 2 allows (65535 bytes).
    pub fn seal(
        &self,
        nonce: &Nonce,
        level: SecurityLevel,
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<Mic> {
        let n = GenericArray::from_slice(nonce);
        let too_long = |_| Error::Invalid("message too long for CCM* (L = 2)");
        match level {
            SecurityLevel::None => Ok(Mic::EMPTY),
            SecurityLevel::Enc => {
                self.ctr_from_a1(nonce, buf);
                Ok(Mic::EMPTY)
            }
            SecurityLevel::EncMic32 => Ccm4::from(&self.aes)
                .encrypt_in_place_detached(n, aad, buf)
                .map(|t| Mic::from_slice(&t))
                .map_err(too_long),
            SecurityLevel::EncMic64 => Ccm8::from(&self.aes)
                .encrypt_in_place_detached(n, aad, buf)
                .map(|t| Mic::from_slice(&t))
                .map_err(too_long),
            SecurityLevel::EncMic128 => Ccm16::from(&self.aes)
                .encrypt_in_place_detached(n, aad, buf)
                .map(|t| Mic::from_slice(&t))
                .map_err(too_long),
            SecurityLevel::Mic32 | SecurityLevel::Mic64 | SecurityLevel::Mic128 => {
                self.mic_only(nonce, level, aad, buf)
            }
        }
    }

    /// Checks the MIC of `buf` and decrypts it in place (see the module doc). The MIC comparison
    /// runs in constant time.
    ///
    /// # Errors
    /// [`Error::BadMic`] if `mic` has the wrong length for `level` or does not verify; the
    /// contents of `buf` are then unspecified (the `ccm` crate zeroes them).
    ///
    /// # Fuzzing
    /// Under `cfg(fuzzing)` a wrong MIC is accepted, so fuzzers reach the code behind it.
    #[inline]
    pub fn open(
        &self,
        nonce: &Nonce,
        level: SecurityLevel,
        aad: &[u8],
        buf: &mut [u8],
        mic: &[u8],
    ) -> Result<()> {
        if mic.len() != level.mic_len() {
            return Err(Error::BadMic);
        }
        let n = GenericArray::from_slice(nonce);
        let ok = match level {
            SecurityLevel::None => true,
            SecurityLevel::Enc => {
                self.ctr_from_a1(nonce, buf);
                true
            }
            SecurityLevel::EncMic32 | SecurityLevel::EncMic64 | SecurityLevel::EncMic128
                if cfg!(fuzzing) =>
            {
                self.ctr_from_a1(nonce, buf);
                true
            }
            SecurityLevel::EncMic32 => Ccm4::from(&self.aes)
                .decrypt_in_place_detached(n, aad, buf, GenericArray::from_slice(mic))
                .is_ok(),
            SecurityLevel::EncMic64 => Ccm8::from(&self.aes)
                .decrypt_in_place_detached(n, aad, buf, GenericArray::from_slice(mic))
                .is_ok(),
            SecurityLevel::EncMic128 => Ccm16::from(&self.aes)
                .decrypt_in_place_detached(n, aad, buf, GenericArray::from_slice(mic))
                .is_ok(),
            SecurityLevel::Mic32 | SecurityLevel::Mic64 | SecurityLevel::Mic128 => {
                let expected = self.mic_only(nonce, level, aad, buf)?;
                bool::from(expected.as_slice().ct_eq(mic)) || cfg!(fuzzing)
            }
        };
        if ok { Ok(()) } else { Err(Error::BadMic) }
    }

    /// CTR keystream from A1 (level 4, and payload decryption under `cfg(fuzzing)`).
    fn ctr_from_a1(&self, nonce: &Nonce, buf: &mut [u8]) {
        let a1 = counter_block(nonce, 1);
        let mut c = Ctr::from_core(ctr::CtrCore::inner_iv_init(
            &self.aes,
            GenericArray::from_slice(&a1),
        ));
        c.apply_keystream(buf);
    }

    /// MIC for levels 1–3: a = `aad` ‖ `buf`, m empty.
    fn mic_only(&self, nonce: &Nonce, level: SecurityLevel, aad: &[u8], buf: &[u8]) -> Result<Mic> {
        // Contiguous a-data goes through the `ccm` crate; a split one through the same
        // CBC-MAC written out below (checked against `ccm` in the tests).
        let single = if buf.is_empty() {
            Some(aad)
        } else if aad.is_empty() {
            Some(buf)
        } else {
            None
        };
        let n = GenericArray::from_slice(nonce);
        let too_long = |_| Error::Invalid("message too long for CCM* (L = 2)");
        match (single, level) {
            (Some(a), SecurityLevel::Mic32) => Ccm4::from(&self.aes)
                .encrypt_in_place_detached(n, a, &mut [])
                .map(|t| Mic::from_slice(&t))
                .map_err(too_long),
            (Some(a), SecurityLevel::Mic64) => Ccm8::from(&self.aes)
                .encrypt_in_place_detached(n, a, &mut [])
                .map(|t| Mic::from_slice(&t))
                .map_err(too_long),
            (Some(a), _) => Ccm16::from(&self.aes)
                .encrypt_in_place_detached(n, a, &mut [])
                .map(|t| Mic::from_slice(&t))
                .map_err(too_long),
            (None, _) => Ok(self.mic_two_parts(nonce, level.mic_len(), aad, buf)),
        }
    }

    /// CBC-MAC over B0 ‖ L(a) ‖ a (a = `a1` ‖ `a2`, zero-padded), m empty, encrypted with A0
    /// (802.15.4-2020 Annex B.4.1).
    fn mic_two_parts(&self, nonce: &Nonce, m: usize, a1: &[u8], a2: &[u8]) -> Mic {
        let m_tick = (m.saturating_sub(2) / 2) as u8;
        let mut b0 = [0u8; 16];
        b0[0] = 0x40 | (m_tick << 3) | 0x01;
        b0[1..14].copy_from_slice(nonce);
        let mut mac = CbcMac {
            aes: &self.aes,
            x: GenericArray::from(b0),
            pos: 16,
        };
        let alen = a1.len().saturating_add(a2.len());
        match u16::try_from(alen) {
            Ok(l) if l < 0xff00 => mac.update(&l.to_be_bytes()),
            _ => {
                mac.update(&[0xff, 0xfe]);
                mac.update(&(alen as u32).to_be_bytes());
            }
        }
        mac.update(a1);
        mac.update(a2);
        let t = mac.finish();
        let mut s0 = GenericArray::from(counter_block(nonce, 0));
        self.aes.encrypt_block(&mut s0);
        let mut out = [0u8; 16];
        for ((o, t), s) in out.iter_mut().zip(t.iter()).zip(s0.iter()) {
            *o = t ^ s;
        }
        Mic::from_slice(out.get(..m).unwrap_or(&[]))
    }
}

/// Byte-wise CBC-MAC state: `x` is the running block, `pos` bytes of the next block are XORed
/// in (16 = "encrypt before the next byte").
struct CbcMac<'a> {
    aes: &'a Aes128Enc,
    x: GenericArray<u8, U16>,
    pos: usize,
}

impl CbcMac<'_> {
    fn update(&mut self, data: &[u8]) {
        for &b in data {
            if self.pos == 16 {
                self.aes.encrypt_block(&mut self.x);
                self.pos = 0;
            }
            if let Some(x) = self.x.get_mut(self.pos) {
                *x ^= b;
            }
            self.pos += 1;
        }
    }
    fn finish(mut self) -> GenericArray<u8, U16> {
        self.aes.encrypt_block(&mut self.x);
        self.x
    }
}

/// [`CcmKey::seal`] with a raw key (expands the key schedule on every call).
pub fn seal(
    key: &Key128,
    nonce: &Nonce,
    level: SecurityLevel,
    aad: &[u8],
    buf: &mut [u8],
) -> Result<Mic> {
    CcmKey::new(key).seal(nonce, level, aad, buf)
}

/// [`CcmKey::open`] with a raw key (expands the key schedule on every call).
pub fn open(
    key: &Key128,
    nonce: &Nonce,
    level: SecurityLevel,
    aad: &[u8],
    buf: &mut [u8],
    mic: &[u8],
) -> Result<()> {
    CcmKey::new(key).open(nonce, level, aad, buf, mic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }
    fn annex_c_key() -> Key128 {
        Key128::from_slice(&h("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf")).unwrap()
    }
    const SRC: ExtAddr = ExtAddr([0xac, 0xde, 0x48, 0, 0, 0, 0, 0x01]);

    #[test]
    fn nonce_layout() {
        // 802.15.4 Annex C.2.1 (FACTS §10).
        assert_eq!(
            nonce(SRC, 5, SecurityLevel::Mic64).to_vec(),
            h("acde4800000000010000000502")
        );
    }

    // Annex C.2.1: beacon, level 2 (MIC-64), a = header + beacon payload, m empty.
    #[test]
    fn annex_c_2_1_beacon_mic64() {
        let a = h("08d0842143010000000048deac020500000055cf000051525354");
        let n = nonce(SRC, 5, SecurityLevel::Mic64);
        let mic = seal(&annex_c_key(), &n, SecurityLevel::Mic64, &a, &mut []).unwrap();
        assert_eq!(mic.as_slice(), h("223bc1ec841ab553"));
        // The same a-data split into header and payload gives the same MIC.
        let (hdr, pl) = a.split_at(18);
        let mut pl = pl.to_vec();
        let mic2 = seal(&annex_c_key(), &n, SecurityLevel::Mic64, hdr, &mut pl).unwrap();
        assert_eq!(mic2, mic);
        open(
            &annex_c_key(),
            &n,
            SecurityLevel::Mic64,
            hdr,
            &mut pl,
            mic.as_slice(),
        )
        .unwrap();
        let mut bad = mic.as_slice().to_vec();
        bad[0] ^= 1;
        assert_eq!(
            open(&annex_c_key(), &n, SecurityLevel::Mic64, hdr, &mut pl, &bad),
            Err(Error::BadMic)
        );
    }

    // Annex C.2.2: data, level 4 (ENC), no MIC.
    #[test]
    fn annex_c_2_2_data_enc() {
        let a = h("69dc842143020000000048deac010000000048deac0405000000");
        let n = nonce(SRC, 5, SecurityLevel::Enc);
        let mut m = h("61626364");
        let mic = seal(&annex_c_key(), &n, SecurityLevel::Enc, &a, &mut m).unwrap();
        assert!(mic.is_empty());
        assert_eq!(m, h("d43e022b"));
        open(&annex_c_key(), &n, SecurityLevel::Enc, &a, &mut m, &[]).unwrap();
        assert_eq!(m, h("61626364"));
    }

    // Annex C.2.3: MAC command (association request), level 6 (ENC-MIC-64); a includes the
    // command identifier.
    #[test]
    fn annex_c_2_3_command_enc_mic64() {
        let a = h("2bdc842143020000000048deacffff010000000048deac060500000001");
        let n = nonce(SRC, 5, SecurityLevel::EncMic64);
        let mut m = h("ce");
        let mic = seal(&annex_c_key(), &n, SecurityLevel::EncMic64, &a, &mut m).unwrap();
        assert_eq!(m, h("d8"));
        assert_eq!(mic.as_slice(), h("4fde529061f9c6f1"));
        let k = CcmKey::new(&annex_c_key());
        k.open(&n, SecurityLevel::EncMic64, &a, &mut m, mic.as_slice())
            .unwrap();
        assert_eq!(m, h("ce"));
        let mut m = h("d8");
        assert_eq!(
            k.open(
                &n,
                SecurityLevel::EncMic64,
                &a,
                &mut m,
                &mic.as_slice()[..4]
            ),
            Err(Error::BadMic)
        );
    }

    // Outside MAC frames: Thread MLE (FACTS §9.2, §10; OpenThread test_crypto.py). Key = MLE
    // key of key sequence 0, a = IPv6 source ‖ destination ‖ auxiliary security header.
    #[test]
    fn thread_mle_vector() {
        let key = Key128::from_slice(&h("5445f4158fd75912175809f8b57a66a4")).unwrap();
        let mut a = h("fe800000000000000235cc94d77a07e8"); // fe80::235:cc94:d77a:7e8
        a.extend(h("ff020000000000000000000000000002")); // ff02::2
        a.extend(h("15150004000000000001")); // level 5, key id mode 2, FC 262165
        let src = ExtAddr([0x00, 0x35, 0xcc, 0x94, 0xd7, 0x7a, 0x07, 0xe8]);
        let n = nonce(src, 262_165, SecurityLevel::EncMic32);
        let mut m = h("0400020000090b8f800000000000400001f10b08655e0f8340c78331");
        let mic = seal(&key, &n, SecurityLevel::EncMic32, &a, &mut m).unwrap();
        assert_eq!(
            m,
            h("9a5a9a5bba259c5e58a27e7574ef79bc4fa3f9aea834f6f237219360")
        );
        assert_eq!(mic.as_slice(), h("e1b5a253"));
        open(
            &key,
            &n,
            SecurityLevel::EncMic32,
            &a,
            &mut m,
            mic.as_slice(),
        )
        .unwrap();
        assert_eq!(
            m,
            h("0400020000090b8f800000000000400001f10b08655e0f8340c78331")
        );
    }

    #[test]
    fn two_part_mic_matches_ccm_crate() {
        let k = CcmKey::new(&annex_c_key());
        let n = nonce(SRC, 77, SecurityLevel::Mic128);
        let data: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
        for level in [
            SecurityLevel::Mic32,
            SecurityLevel::Mic64,
            SecurityLevel::Mic128,
        ] {
            let whole = k.seal(&n, level, &data, &mut []).unwrap();
            for split in [1, 15, 16, 17, 200, 299] {
                let (a, b) = data.split_at(split);
                let mut b = b.to_vec();
                assert_eq!(
                    k.seal(&n, level, a, &mut b).unwrap(),
                    whole,
                    "split {split}"
                );
            }
        }
    }

    #[test]
    fn level_none_does_nothing() {
        let mut m = h("0102");
        let mic = seal(&annex_c_key(), &[0; 13], SecurityLevel::None, &[], &mut m).unwrap();
        assert!(mic.is_empty());
        assert_eq!(m, h("0102"));
        open(
            &annex_c_key(),
            &[0; 13],
            SecurityLevel::None,
            &[],
            &mut m,
            &[],
        )
        .unwrap();
    }

    #[test]
    fn too_long_is_an_error() {
        let k = CcmKey::new(&annex_c_key());
        let mut big = alloc::vec![0u8; 65536];
        assert_eq!(
            k.seal(&[0; 13], SecurityLevel::EncMic32, &[], &mut big),
            Err(Error::Invalid("message too long for CCM* (L = 2)"))
        );
    }

    #[test]
    fn debug_hides_key() {
        let s = alloc::format!("{:?}", CcmKey::new(&annex_c_key()));
        assert_eq!(s, "CcmKey(..)");
    }
}
