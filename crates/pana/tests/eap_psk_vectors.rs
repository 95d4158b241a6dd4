//! EAP-PSK against a session recorded from hostapd (server) and wpa_supplicant (peer):
//! `testdata/eap-psk-hostapd.json`. Our peer and our server, given the recorded PSK, identities
//! and RANDs, must produce every key and every EAP packet byte for byte.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amimesh_core::Key128;
use amimesh_pana::eap_psk::{
    EapPskPeer, EapPskServer, Lookup, PeerOutput, ServerOutput, derive_ak_kdk, derive_session_keys,
    identity, mac_p, mac_s,
};
use rand_core::{CryptoRng, RngCore};
use serde_json::Value;

/// Hands out pre-recorded bytes (the RANDs of the recording).
struct Replay(Vec<u8>);
impl RngCore for Replay {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_be_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_be_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(self.0.len() >= dest.len(), "replay exhausted");
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for Replay {}

fn vector() -> Value {
    serde_json::from_str(include_str!("../testdata/eap-psk-hostapd.json")).unwrap()
}
fn hx(v: &Value, k: &str) -> Vec<u8> {
    hex::decode(v[k].as_str().unwrap()).unwrap()
}
fn b16(v: &[u8]) -> [u8; 16] {
    v.try_into().unwrap()
}
fn packets(v: &Value) -> Vec<Vec<u8>> {
    v["eap_packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| hex::decode(p["hex"].as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn hostapd_keys_and_macs() {
    let v = vector();
    let psk = Key128::new(b16(&hx(&v, "psk")));
    let (ak, kdk) = derive_ak_kdk(&psk);
    assert_eq!(ak.expose()[..], hx(&v, "ak")[..]);
    assert_eq!(kdk.expose()[..], hx(&v, "kdk")[..]);
    let rand_p = b16(&hx(&v, "rand_p"));
    let rand_s = b16(&hx(&v, "rand_s"));
    let k = derive_session_keys(&kdk, &rand_p);
    assert_eq!(k.tek.expose()[..], hx(&v, "tek")[..]);
    assert_eq!(k.msk.expose()[..], hx(&v, "msk")[..]);
    assert_eq!(k.emsk.expose()[..], hx(&v, "emsk")[..]);
    let id_p = v["id_p"].as_str().unwrap().as_bytes();
    let id_s = v["id_s"].as_str().unwrap().as_bytes();
    assert_eq!(
        mac_p(&ak, id_p, id_s, &rand_s, &rand_p)[..],
        hx(&v, "mac_p")[..]
    );
    assert_eq!(mac_s(&ak, id_s, &rand_p)[..], hx(&v, "mac_s")[..]);
}

#[test]
fn hostapd_server_side_byte_for_byte() {
    let v = vector();
    let p = packets(&v);
    let psk = Key128::new(b16(&hx(&v, "psk")));
    let id_s = identity(v["id_s"].as_str().unwrap().as_bytes()).unwrap();
    let mut server = EapPskServer::new(id_s);
    let mut out = [0u8; 256];
    // The recorded Identity response answers identifier 0x6f.
    let n = server.start(0x6f, &mut out).unwrap();
    assert_eq!(&out[..n], &[0x01, 0x6f, 0x00, 0x05, 0x01]);
    let mut rng = Replay(hx(&v, "rand_s"));
    let mut looked_up = Vec::new();
    let mut lookup = |id: &[u8]| {
        looked_up.push(id.to_vec());
        Lookup::Allowed(psk.clone())
    };
    let r = server.handle(&p[0], &mut lookup, &mut rng, &mut out);
    assert_eq!(r, ServerOutput::Request(p[1].len()));
    assert_eq!(hex::encode(&out[..p[1].len()]), hex::encode(&p[1]));
    let r = server.handle(&p[2], &mut lookup, &mut rng, &mut out);
    assert_eq!(r, ServerOutput::Request(p[3].len()));
    assert_eq!(hex::encode(&out[..p[3].len()]), hex::encode(&p[3]));
    let r = server.handle(&p[4], &mut lookup, &mut rng, &mut out);
    assert_eq!(r, ServerOutput::Success(4));
    assert_eq!(&out[..4], &p[5][..]);
    assert_eq!(
        server.session_keys().unwrap().msk.expose()[..],
        hx(&v, "msk")[..]
    );
    assert_eq!(looked_up, vec![b"pac@example".to_vec()]);
}

#[test]
fn hostapd_peer_side_byte_for_byte() {
    let v = vector();
    let p = packets(&v);
    let psk = Key128::new(b16(&hx(&v, "psk")));
    let mut peer = EapPskPeer::new(identity(b"pac@example").unwrap(), &psk);
    let mut rng = Replay(hx(&v, "rand_p"));
    let mut out = [0u8; 256];
    let r = peer.handle(&[0x01, 0x6f, 0x00, 0x05, 0x01], &mut rng, &mut out);
    assert_eq!(r, PeerOutput::Response(p[0].len()));
    assert_eq!(&out[..p[0].len()], &p[0][..]);
    for (req, resp) in [(1, 2), (3, 4)] {
        let r = peer.handle(&p[req], &mut rng, &mut out);
        assert_eq!(r, PeerOutput::Response(p[resp].len()));
        assert_eq!(hex::encode(&out[..p[resp].len()]), hex::encode(&p[resp]));
    }
    // A retransmitted message 3 gets the same message 4 (RFC 3748 §4.1).
    let r = peer.handle(&p[3], &mut rng, &mut out);
    assert_eq!(r, PeerOutput::Response(p[4].len()));
    assert_eq!(&out[..p[4].len()], &p[4][..]);
    assert_eq!(peer.handle(&p[5], &mut rng, &mut out), PeerOutput::Success);
    let k = peer.session_keys().unwrap();
    assert_eq!(k.msk.expose()[..], hx(&v, "msk")[..]);
    assert_eq!(k.emsk.expose()[..], hx(&v, "emsk")[..]);
    assert!(!format!("{peer:?}").contains("480a6d"));
    assert_eq!(format!("{k:?}"), "PskSessionKeys(..)");
}

#[test]
fn facts_section_10_local_vectors() {
    let psk = Key128::new(core::array::from_fn(|i| i as u8));
    let (ak, kdk) = derive_ak_kdk(&psk);
    assert_eq!(hex::encode(ak.expose()), "18b62d2c84c5e4571afc41a29db71f4d");
    assert_eq!(
        hex::encode(kdk.expose()),
        "97b704350085028363924612565b9b0d"
    );
    let rand_p: [u8; 16] = core::array::from_fn(|i| 0x10 + i as u8);
    let rand_s: [u8; 16] = core::array::from_fn(|i| 0x20 + i as u8);
    let k = derive_session_keys(&kdk, &rand_p);
    assert_eq!(
        hex::encode(k.tek.expose()),
        "4a60ff36b8435790bfc64569b677d613"
    );
    assert!(hex::encode(k.msk.expose()).starts_with("3d57fffaa740360b2b43888b4ce41fa5"));
    assert!(hex::encode(k.emsk.expose()).starts_with("6ece6f68c11f4478a3727a47b40e2a44"));
    assert_eq!(
        hex::encode(mac_p(&ak, b"peer", b"server", &rand_s, &rand_p)),
        "7e7c7262afc5394550b7dceb1b8395fd"
    );
    assert_eq!(
        hex::encode(mac_s(&ak, b"server", &rand_p)),
        "3d4dbe136cb2551847891b00a7dcebd3"
    );
}

#[test]
fn aes_cmac_and_eax_public_vectors() {
    // hostapd tests/test-aes.c (FACTS §10): CMAC is what MAC_S uses with ID_S = message.
    let key = Key128::new(b16(
        &hex::decode("2b7e151628aed2a6abf7158809cf4f3c").unwrap()
    ));
    // MAC_S(AK, ID_S, RAND_P) = CMAC(AK, ID_S ‖ RAND_P): an empty ID_S and the 16-byte
    // vector message as RAND_P give CMAC(key, msg) exactly.
    let tail = b16(&hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap());
    assert_eq!(
        hex::encode(mac_s(&key, b"", &tail)),
        "070a16b46b4d4144f79bdd9dd04a287c"
    );
    // EAX: key, nonce 16 bytes, header, msg f7fb → 19dd, tag.
    use aes::Aes128;
    use eax::aead::{AeadInPlace, KeyInit};
    let k = hex::decode("91945d3f4dcbee0bf45ef52255f095a4").unwrap();
    let nonce = hex::decode("becaf043b0a23d843194ba972c66debd").unwrap();
    let mut data = hex::decode("f7fb").unwrap();
    let c = eax::Eax::<Aes128>::new_from_slice(&k).unwrap();
    let tag = c
        .encrypt_in_place_detached(
            nonce.as_slice().into(),
            &hex::decode("fa3bfd4806eb53fa").unwrap(),
            &mut data,
        )
        .unwrap();
    assert_eq!(hex::encode(&data), "19dd");
    assert_eq!(hex::encode(tag), "5c4c9331049d0bdab0277408f67967e5");
}
