//! Link keys derived from a network key.
//!
//! The ZigBee-IP scheme (FACTS §4.2, as nanostack implements it and as Wireshark's
//! "ZigBee IP hash" key setting applies it): H = HMAC-SHA256(K, "ZigBeeIP"); the MLE key is
//! H[0..16) and the 802.15.4 MAC key is H[16..32). MAC frames then use key id mode 1 with the
//! key index delivered with the network key.
//!
//! The Thread scheme (Thread 1.x §7.1.4, FACTS §9.3) is provided too, because Wireshark and
//! OpenThread peers use it: H = HMAC-SHA256(K, key_sequence (4 bytes BE) ‖ "Thread").

use amimesh_core::Key128;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

/// The HMAC message of the ZigBee-IP derivation.
pub const ZIGBEE_IP_LABEL: &[u8; 8] = b"ZigBeeIP";

/// The label of the Thread derivation.
pub const THREAD_LABEL: &[u8; 6] = b"Thread";

fn hmac_sha256(key: &Key128, parts: &[&[u8]]) -> [u8; 32] {
    // HMAC pads a key shorter than the block with zeros (RFC 2104 §2), so a zero-padded
    // 64-byte block gives the same MAC and avoids a fallible constructor.
    let mut block = [0u8; 64];
    if let Some(dst) = block.get_mut(..16) {
        dst.copy_from_slice(key.expose());
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    block.zeroize();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn split(mut h: [u8; 32]) -> (Key128, Key128) {
    let mut a = [0u8; 16];
    let mut b = [0u8; 16];
    let (x, y) = h.split_at(16);
    a.copy_from_slice(x);
    b.copy_from_slice(y);
    h.zeroize();
    (Key128::new(a), Key128::new(b))
}

/// ZigBee-IP link keys from a network key: returns `(mle_key, mac_key)`.
pub fn derive_link_keys(network_key: &Key128) -> (Key128, Key128) {
    split(hmac_sha256(network_key, &[ZIGBEE_IP_LABEL]))
}

/// Thread link keys for `key_sequence`: returns `(mle_key, mac_key)`.
pub fn derive_thread_keys(network_key: &Key128, key_sequence: u32) -> (Key128, Key128) {
    split(hmac_sha256(
        network_key,
        &[&key_sequence.to_be_bytes(), THREAD_LABEL],
    ))
}

/// The Thread key index for a key sequence: `(key_sequence & 0x7f) + 1`.
pub const fn thread_key_index(key_sequence: u32) -> u8 {
    ((key_sequence & 0x7f) + 1) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Key128 {
        Key128::from_slice(&hex::decode(s).unwrap()).unwrap()
    }

    #[test]
    fn zigbee_ip_vectors() {
        // Computed with Python's hmac/hashlib (testdata/README.md), cross-checked by the
        // interop test, where Wireshark's "ZigBee IP hash" decrypts our frames.
        let (mle, mac) = derive_link_keys(&k("00112233445566778899aabbccddeeff"));
        assert_eq!(mle, k("2fc01db33be368118760587b0b2b0e78"));
        assert_eq!(mac, k("5ef6cbdc885225df0f4b049a39bacb1b"));
        let (mle, mac) = derive_link_keys(&k("000102030405060708090a0b0c0d0e0f"));
        assert_eq!(mle, k("3ed20bd1b30c2a52f78e8e7d6937445a"));
        assert_eq!(mac, k("82eecaa02c8f3c6d2ca3deee259f50f8"));
    }

    #[test]
    fn thread_vectors() {
        // OpenThread tests/scripts/thread-cert/test_crypto.py (FACTS §10).
        let nk = k("00112233445566778899aabbccddeeff");
        let v = [
            (
                0,
                "5445f4158fd75912175809f8b57a66a4",
                "de89c53af382b421e0fde5a9bae3bef0",
            ),
            (
                1,
                "8f4cd1a27d95c07d12db8974bd615c13",
                "9be0d1af7bd87350deabcdd07febb9d5",
            ),
            (
                2,
                "016e2ab8ec88879687a72e0a357ecf2a",
                "564109e9d2aad7f723ec3b96110eefa3",
            ),
        ];
        for (seq, mle, mac) in v {
            assert_eq!(derive_thread_keys(&nk, seq), (k(mle), k(mac)));
        }
        assert_eq!(thread_key_index(0), 1);
        assert_eq!(thread_key_index(0x80), 1);
    }
}
