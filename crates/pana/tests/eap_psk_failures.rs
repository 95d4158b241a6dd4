//! Every failure path of the EAP-PSK peer and server (RFC 4764 §5, RFC 3748 §4).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amimesh_core::Key128;
use amimesh_pana::Error;
use amimesh_pana::eap_psk::{
    EapPskPeer, EapPskServer, Lookup, PeerOutput, ServerOutput, derive_ak_kdk, derive_session_keys,
    identity, mac_s, pchannel_seal,
};
use amimesh_pana::wire::{EapCode, EapRepr, EapType, PskRepr};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const PSK: [u8; 16] = [0x11; 16];

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(5)
}

fn allow(psk: [u8; 16]) -> impl FnMut(&[u8]) -> Lookup {
    move |_| Lookup::Allowed(Key128::new(psk))
}

/// Runs server and peer up to (and including) message 2; returns (server, peer, msg2, msg3 out).
fn to_msg2(peer_psk: [u8; 16]) -> (EapPskServer, EapPskPeer, Vec<u8>) {
    let mut s = EapPskServer::new(identity(b"server").unwrap());
    let mut p = EapPskPeer::new(identity(b"peer").unwrap(), &Key128::new(peer_psk));
    let mut r = rng();
    let mut a = [0u8; 256];
    let mut b = [0u8; 256];
    let n = s.start(10, &mut a).unwrap();
    let PeerOutput::Response(m) = p.handle(&a[..n], &mut r, &mut b) else {
        panic!()
    };
    let ServerOutput::Request(n) = s.handle(&b[..m], &mut allow(PSK), &mut r, &mut a) else {
        panic!()
    };
    let PeerOutput::Response(m) = p.handle(&a[..n], &mut r, &mut b) else {
        panic!()
    };
    (s, p, b[..m].to_vec())
}

#[test]
fn server_rejects_wrong_psk_unknown_identity_and_mismatched_id_p() {
    // MAC_P does not verify: EAP-Failure with the response's identifier.
    let (mut s, _p, m2) = to_msg2([0x22; 16]);
    let mut out = [0u8; 256];
    assert_eq!(
        s.handle(&m2, &mut allow(PSK), &mut rng(), &mut out),
        ServerOutput::Failure(4)
    );
    assert_eq!(&out[..4], &[4, m2[1], 0, 4]);

    // Unknown / revoked identity: failure right after the Identity response.
    let mut s = EapPskServer::new(identity(b"server").unwrap());
    s.start(1, &mut out).unwrap();
    let resp = [2u8, 1, 0, 9, 1, b'e', b'v', b'i', b'l'];
    let r = s.handle(&resp, &mut |_| Lookup::Refused, &mut rng(), &mut out);
    assert_eq!(r, ServerOutput::Failure(4));
    assert_eq!(s.peer_identity(), b"evil");

    // ID_P in message 2 differs from the Identity response.
    let (mut s, _p, m2) = to_msg2(PSK);
    let t = PskRepr::parse(&m2[5..]).unwrap();
    let PskRepr::Second {
        rand_s,
        rand_p,
        mac_p,
        ..
    } = t
    else {
        panic!()
    };
    let other = PskRepr::Second {
        rand_s,
        rand_p,
        mac_p,
        id_p: b"someone-else",
    };
    let mut td = [0u8; 128];
    let n = other.emit(&mut td).unwrap();
    let mut pkt = [0u8; 160];
    let n = EapRepr::with_type(EapCode::Response, m2[1], EapType::Psk, &td[..n])
        .emit_into(&mut pkt)
        .unwrap();
    assert_eq!(
        s.handle(&pkt[..n], &mut allow(PSK), &mut rng(), &mut out),
        ServerOutput::Failure(4)
    );
}

#[test]
fn server_discards_wrong_identifier_code_and_order() {
    let (mut s, _p, mut m2) = to_msg2(PSK);
    let mut out = [0u8; 256];
    m2[1] ^= 0x55;
    assert_eq!(
        s.handle(&m2, &mut allow(PSK), &mut rng(), &mut out),
        ServerOutput::Discard(Error::Malformed("EAP identifier mismatch"))
    );
    m2[1] ^= 0x55;
    m2[0] = 1; // a Request sent to the server
    assert_eq!(
        s.handle(&m2, &mut allow(PSK), &mut rng(), &mut out),
        ServerOutput::Discard(Error::Malformed("not a response"))
    );
    // Legacy Nak instead of EAP-PSK: failure.
    let mut s = EapPskServer::new(identity(b"server").unwrap());
    s.start(3, &mut out).unwrap();
    let r = s.handle(
        &[2, 3, 0, 10, 1, b'p', b'e', b'e', b'r', b'!'],
        &mut allow(PSK),
        &mut rng(),
        &mut out,
    );
    assert!(matches!(r, ServerOutput::Request(_)));
    let nak = [2u8, 4, 0, 6, 3, 4];
    assert_eq!(
        s.handle(&nak, &mut allow(PSK), &mut rng(), &mut out),
        ServerOutput::Failure(4)
    );
    assert_eq!(
        s.handle(&[1, 2], &mut allow(PSK), &mut rng(), &mut out),
        ServerOutput::Discard(Error::Truncated { needed: 4, got: 2 })
    );
}

#[test]
fn server_rejects_bad_message_4() {
    let (mut s, mut p, m2) = to_msg2(PSK);
    let mut r = rng();
    let mut a = [0u8; 256];
    let mut b = [0u8; 256];
    let ServerOutput::Request(n) = s.handle(&m2, &mut allow(PSK), &mut r, &mut a) else {
        panic!()
    };
    let PeerOutput::Response(m) = p.handle(&a[..n], &mut r, &mut b) else {
        panic!()
    };
    let m4 = b[..m].to_vec();
    // A flipped tag bit: discarded (the genuine one may still come).
    let mut bad = m4.clone();
    bad[30] ^= 1;
    assert_eq!(
        s.handle(&bad, &mut allow(PSK), &mut r, &mut a),
        ServerOutput::Discard(Error::BadMac)
    );
    // The genuine one succeeds.
    assert_eq!(
        s.handle(&m4, &mut allow(PSK), &mut r, &mut a),
        ServerOutput::Success(4)
    );
}

#[test]
fn peer_discards_bad_mac_s_and_bad_tag_and_answers_done_failure() {
    let (_s, mut p, m2) = to_msg2(PSK);
    let PskRepr::Second { rand_s, rand_p, .. } = PskRepr::parse(&m2[5..]).unwrap() else {
        panic!()
    };
    let (ak, kdk) = derive_ak_kdk(&Key128::new(PSK));
    let keys = derive_session_keys(&kdk, &rand_p);
    // Builds message 3 with result byte `r`, nonce `n`, optionally a wrong MAC_S.
    let build = |r: u8, nonce: u32, good_mac: bool| -> Vec<u8> {
        let ms = if good_mac {
            mac_s(&ak, b"server", &rand_p)
        } else {
            [0u8; 16]
        };
        let mut pkt = vec![1u8, 12, 0, 59, 47, 0x80];
        pkt.extend_from_slice(&rand_s);
        pkt.extend_from_slice(&ms);
        pkt.extend_from_slice(&nonce.to_be_bytes());
        let mut data = [r];
        let tag = pchannel_seal(&keys.tek, nonce, &pkt[..22], &mut data).unwrap();
        pkt.extend_from_slice(&tag);
        pkt.extend_from_slice(&data);
        pkt
    };
    let mut r = rng();
    let mut out = [0u8; 256];
    assert_eq!(
        p.handle(&build(0x80, 0, false), &mut r, &mut out),
        PeerOutput::Discard(Error::BadMac)
    );
    let mut tampered = build(0x80, 0, true);
    tampered[40] ^= 1;
    assert_eq!(
        p.handle(&tampered, &mut r, &mut out),
        PeerOutput::Discard(Error::BadMac)
    );
    // Server says DONE_FAILURE: the peer answers DONE_FAILURE, then fails.
    let PeerOutput::Response(n) = p.handle(&build(0xc0, 0, true), &mut r, &mut out) else {
        panic!()
    };
    let PskRepr::Fourth { pchannel, .. } = PskRepr::parse(&out[5..n]).unwrap() else {
        panic!()
    };
    let mut data = [pchannel[20]];
    let tag: [u8; 16] = pchannel[4..20].try_into().unwrap();
    amimesh_pana::eap_psk::pchannel_open(&keys.tek, 1, &out[..22], &mut data, &tag).unwrap();
    assert_eq!(data[0], 0xc0);
    assert!(p.pending_keys().is_none());
    // Even an EAP-Success now is a failure: the method did not succeed.
    assert_eq!(
        p.handle(&[3, 12, 0, 4], &mut r, &mut out),
        PeerOutput::Failure
    );
    assert!(p.session_keys().is_none());
}

#[test]
fn peer_refuses_cont_and_extensions_and_reacts_to_failure() {
    for r_byte in [0x40u8, 0xa0] {
        let (_s, mut p, m2) = to_msg2(PSK);
        let PskRepr::Second { rand_s, rand_p, .. } = PskRepr::parse(&m2[5..]).unwrap() else {
            panic!()
        };
        let (ak, kdk) = derive_ak_kdk(&Key128::new(PSK));
        let keys = derive_session_keys(&kdk, &rand_p);
        let mut pkt = vec![1u8, 12, 0, 59, 47, 0x80];
        pkt.extend_from_slice(&rand_s);
        pkt.extend_from_slice(&mac_s(&ak, b"server", &rand_p));
        pkt.extend_from_slice(&0u32.to_be_bytes());
        let mut data = [r_byte];
        let tag = pchannel_seal(&keys.tek, 0, &pkt[..22], &mut data).unwrap();
        pkt.extend_from_slice(&tag);
        pkt.extend_from_slice(&data);
        let mut out = [0u8; 256];
        assert!(matches!(
            p.handle(&pkt, &mut rng(), &mut out),
            PeerOutput::Response(_)
        ));
        assert!(
            p.pending_keys().is_none(),
            "R byte {r_byte:#x} must not succeed"
        );
    }
    // EAP-Failure at any point.
    let (_s, mut p, _m2) = to_msg2(PSK);
    let mut out = [0u8; 64];
    assert_eq!(
        p.handle(&[4, 9, 0, 4], &mut rng(), &mut out),
        PeerOutput::Failure
    );
    // Another method is asked for: legacy Nak proposing EAP-PSK (47).
    let PeerOutput::Response(n) = p.handle(&[1, 12, 0, 6, 4, 0], &mut rng(), &mut out) else {
        panic!()
    };
    assert_eq!(&out[..n], &[2, 12, 0, 6, 3, 47]);
    // A message 3 before message 1: discarded.
    let mut p = EapPskPeer::new(identity(b"peer").unwrap(), &Key128::new(PSK));
    let mut m3 = vec![1u8, 11, 0, 59, 47, 0x80];
    m3.extend_from_slice(&[0; 53]);
    assert_eq!(
        p.handle(&m3, &mut rng(), &mut out),
        PeerOutput::Discard(Error::Malformed("EAP-PSK message out of order"))
    );
    // Responses are not for the peer.
    assert_eq!(
        p.handle(&[2, 1, 0, 5, 1], &mut rng(), &mut out),
        PeerOutput::Discard(Error::Malformed("not a request"))
    );
}
