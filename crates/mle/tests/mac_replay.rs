//! After an MLE handshake, the device installs the neighbour's link-layer frame counter in the
//! MAC replay table: frames the neighbour sent before the handshake (and any replay of a frame
//! accepted after it) are rejected by the MAC (`amimesh_mac::security::frame::
//! unsecure_frame_checked` with its `ReplayTable`).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod common;

use amimesh_core::{Duration, ExtAddr, Instant, LinkAddr, PanId, ShortAddr};
use amimesh_mac::Error as MacError;
use amimesh_mac::security::ccm_star::CcmKey;
use amimesh_mac::security::counters::{NoPersistence, OutgoingCounter, ReplayTable};
use amimesh_mac::security::frame::{KeyTable, secure_frame, unsecure_frame_checked};
use amimesh_mac::security::keys::derive_link_keys;
use amimesh_mac::security::{AuxSecurityHeaderRepr, KeyIdentifier, SecurityLevel};
use amimesh_mac::wire::frame::{FrameRepr, FrameType, FrameVersion};
use amimesh_mle::Event;
use common::*;

const KEY_INDEX: u8 = 1;

fn mac_key() -> CcmKey {
    CcmKey::new(&derive_link_keys(&network_key()).1)
}

/// A data frame from `src` secured at level 5, key id mode 1, under the MAC half of the
/// network key (the ZigBee-IP scheme), with frame counter `fc`.
fn secured_frame(src: ExtAddr, fc: u32, payload: &[u8]) -> Vec<u8> {
    let repr = FrameRepr {
        frame_type: FrameType::Data,
        frame_version: FrameVersion::Ieee2006,
        security: Some(AuxSecurityHeaderRepr {
            security_level: SecurityLevel::EncMic32,
            frame_counter: Some(fc),
            key_id: KeyIdentifier::Index(KEY_INDEX),
            asn_in_nonce: false,
        }),
        frame_pending: false,
        ack_request: false,
        pan_id_compression: true,
        sequence_number: Some(fc as u8),
        dst_pan_id: Some(PanId(0xabcd)),
        dst_addr: LinkAddr::Short(ShortAddr(0xffff)),
        src_pan_id: None,
        src_addr: LinkAddr::Extended(src),
        header_ies: &[],
        content: payload,
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit_into(&mut buf).unwrap();
    secure_frame(&mut buf, &mac_key(), src).unwrap();
    buf
}

#[test]
fn replayed_mac_frame_is_rejected_after_the_handshake() {
    let mut net = Net::new(vec![config(0), config(1)], LinkModel::PERFECT, 11);
    // B's MAC sent frames before the handshake; an attacker recorded them.
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

    // A's MAC: the key table holds the MAC key for index 1; the device moves A's
    // NeighbourLinked event into the replay table.
    let mut keys: KeyTable<2, 2> = KeyTable::new();
    let slot = keys.add_key(Some(KEY_INDEX), mac_key()).unwrap();
    let mut replay: ReplayTable<usize, 8> = ReplayTable::new(Duration::from_secs(60));
    let (peer, llfc) = net
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
    assert_eq!((peer, llfc), (ext(1), 5));
    // `link_frame_counter` is the next counter B will use: everything below it is old.
    replay.set(slot, peer, llfc - 1).unwrap();

    let now = net.now;
    let mut receive = |frame: &[u8]| {
        let mut f = frame.to_vec();
        unsecure_frame_checked(now, &mut f, &keys, &mut replay)
            .map(|u| f[u.header_len..u.len].to_vec())
    };
    // Every frame recorded before the handshake is rejected as a replay.
    for f in &recorded {
        assert!(matches!(receive(f), Err(MacError::Replay { .. })));
    }
    // A new frame from B is accepted; replaying it is rejected.
    let fresh = secured_frame(ext(1), b_counter.next(&mut persist).unwrap(), b"reading 2");
    assert_eq!(receive(&fresh).unwrap(), b"reading 2");
    assert!(matches!(receive(&fresh), Err(MacError::Replay { .. })));
    // Counters 0..=3 are older than the baseline, 4 equals it, and the fresh frame's replay
    // equals the last accepted one.
    assert_eq!(replay.stats().replays, 4);
    assert_eq!(replay.stats().duplicates, 2);
    assert_eq!(replay.stats().accepted, 1);
}
