//! After an MLE handshake, the device installs the neighbour's link-layer frame counter in the
//! MAC replay table (`amimesh_mac::security::counters::ReplayTable`): frames the neighbour sent
//! before the handshake (and any replay of a frame accepted after it) are rejected by the MAC.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

mod common;

use amimesh_core::{Duration, ExtAddr, Instant};
use amimesh_mac::Error as MacError;
use amimesh_mac::security::ccm_star::{self, CcmKey};
use amimesh_mac::security::counters::{NoPersistence, OutgoingCounter, ReplayTable};
use amimesh_mac::security::keys::derive_link_keys;
use amimesh_mac::security::{
    AuxSecurityHeader, AuxSecurityHeaderRepr, KeyIdentifier, SecurityLevel,
};
use amimesh_mle::Event;
use common::*;

const KEY_INDEX: u8 = 1;

/// A secured 802.15.4 data frame body: MHR (FCF, seq, PAN, dst short, src ext) ‖ aux header ‖
/// encrypted payload ‖ MIC-32, under the MAC half of the network key (802.15.4-2020 §9.3).
fn secured_frame(src: ExtAddr, fc: u32, payload: &[u8]) -> Vec<u8> {
    let (_mle, mac) = derive_link_keys(&network_key());
    let mut f = vec![0x49, 0xc8, 0x01, 0xcd, 0xab, 0xff, 0xff]; // data, security, PANc; dst short, src ext
    f.extend_from_slice(&src.to_le_bytes());
    let aux = AuxSecurityHeaderRepr {
        security_level: SecurityLevel::EncMic32,
        frame_counter: Some(fc),
        key_id: KeyIdentifier::Index(KEY_INDEX),
        asn_in_nonce: false,
    };
    let start = f.len();
    f.resize(start + aux.buffer_len(), 0);
    aux.emit(&mut AuxSecurityHeader::new_unchecked(&mut f[start..]))
        .unwrap();
    let hdr_len = f.len();
    let mut body = payload.to_vec();
    let nonce = ccm_star::nonce(src, fc, SecurityLevel::EncMic32);
    let mic = CcmKey::new(&mac)
        .seal(&nonce, SecurityLevel::EncMic32, &f[..hdr_len], &mut body)
        .unwrap();
    f.extend_from_slice(&body);
    f.extend_from_slice(mic.as_slice());
    f
}

/// The receive path of the MAC for such frames: replay check, MIC check, then accept.
fn mac_receive(
    table: &mut ReplayTable<u8, 8>,
    now: Instant,
    frame: &[u8],
) -> Result<Vec<u8>, MacError> {
    let src = ExtAddr::from_le_bytes(frame[7..15].try_into().unwrap());
    let aux = AuxSecurityHeader::new_checked(&frame[15..])?;
    let repr = AuxSecurityHeaderRepr::parse(&aux)?;
    let fc = repr.frame_counter.unwrap();
    let hdr_len = 15 + repr.buffer_len();
    table.check(now, KEY_INDEX, src, fc)?;
    let (_mle, mac) = derive_link_keys(&network_key());
    let mut body = frame[hdr_len..frame.len() - 4].to_vec();
    let nonce = ccm_star::nonce(src, fc, repr.security_level);
    CcmKey::new(&mac).open(
        &nonce,
        repr.security_level,
        &frame[..hdr_len],
        &mut body,
        &frame[frame.len() - 4..],
    )?;
    table.accept(now, KEY_INDEX, src, fc)?;
    Ok(body)
}

#[test]
fn replayed_mac_frame_is_rejected_after_the_handshake() {
    let mut net = Net::new(vec![config(0), config(1)], LinkModel::PERFECT, 11);
    // B's MAC sent frames before the handshake; an attacker recorded one of them.
    let mut b_counter = OutgoingCounter::new(64);
    let mut persist = NoPersistence;
    let mut recorded = Vec::new();
    for _ in 0..5 {
        let fc = b_counter.next(&mut persist).unwrap();
        recorded.push(secured_frame(ext(1), fc, b"reading"));
    }
    net.nodes[1].set_link_frame_counter(b_counter.peek());

    net.nodes[0]
        .link_request(net.now, Some(ext(1)), &mut net.csprng[0])
        .unwrap();
    net.drain_all();
    net.run_until(Instant::from_secs(5), 1000);

    // The device moves A's NeighbourLinked event into A's MAC replay table.
    let mut table: ReplayTable<u8, 8> = ReplayTable::new(Duration::from_secs(60));
    let linked = net
        .events
        .iter()
        .find_map(|(_, i, e)| match e {
            Event::NeighbourLinked {
                ext_addr,
                link_frame_counter,
                ..
            } if *i == 0 => Some((*ext_addr, *link_frame_counter)),
            _ => None,
        })
        .expect("A linked B");
    assert_eq!(linked, (ext(1), 5));
    // The next counter B will use is `link_frame_counter`: everything below it is old.
    table.set(KEY_INDEX, linked.0, linked.1 - 1).unwrap();

    // Every frame recorded before the handshake is rejected as a replay.
    for f in &recorded {
        assert!(matches!(
            mac_receive(&mut table, net.now, f),
            Err(MacError::Replay { .. })
        ));
    }
    // A new frame from B is accepted; replaying it is rejected.
    let fresh = secured_frame(ext(1), b_counter.next(&mut persist).unwrap(), b"reading 2");
    assert_eq!(
        mac_receive(&mut table, net.now, &fresh).unwrap(),
        b"reading 2"
    );
    assert!(matches!(
        mac_receive(&mut table, net.now, &fresh),
        Err(MacError::Replay { .. })
    ));
    // Counters 0..=3 are older than the baseline, 4 equals it, and the fresh frame's replay
    // equals the last accepted one.
    assert_eq!(table.stats().replays, 4);
    assert_eq!(table.stats().duplicates, 2);
    assert_eq!(table.stats().accepted, 1);
}
