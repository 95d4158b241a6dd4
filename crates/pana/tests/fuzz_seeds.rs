//! The fuzz seeds `testdata/fuzz_pac_session.bin` and `testdata/fuzz_paa_session.bin` are a
//! recorded session in the input format of the `pana_pac` / `pana_paa` fuzz targets, made with
//! the same configurations and random streams as those targets, so the fuzzer starts from
//! inputs that reach the open state. This test re-records the session and checks that the
//! committed files are exactly that (set `AMIMESH_PANA_WRITE_SEEDS=1` to rewrite them).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amimesh_core::{Instant, Key128};
use amimesh_pana::eap_psk::identity;
use amimesh_pana::{
    AgentConfig, AgentEvent, ClientConfig, ClientEvent, MemoryStore, PanaAgent, PanaClient,
};
use amimesh_testkit::rng::TestCsprng;
use core::net::Ipv6Addr;

fn record() -> (Vec<u8>, Vec<u8>) {
    let mut cfg = AgentConfig::new(identity(b"paa.example").unwrap());
    cfg.max_sessions = 8;
    cfg.max_queued = 16;
    cfg.max_events = 16;
    let mut store = MemoryStore::with_capacity(4);
    store
        .insert(b"meter@example", Key128::new([7; 16]))
        .unwrap();
    let mut paa = PanaAgent::new(cfg, store);
    paa.set_network_key(Key128::new([1; 16]), 1).unwrap();
    let mut pac = PanaClient::new(ClientConfig::new(
        identity(b"meter@example").unwrap(),
        Key128::new([7; 16]),
        Ipv6Addr::LOCALHOST,
    ));
    let mut paa_rng = TestCsprng::new(2);
    let mut pac_rng = TestCsprng::new(1);
    let now = Instant::ZERO;
    let src = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0);
    let (mut pac_ops, mut paa_ops) = (vec![2u8], Vec::new());
    pac.start(now).unwrap();
    let mut buf = [0u8; 1500];
    let mut authenticated = false;
    let mut pinged = false;
    let mut ended = false;
    for _ in 0..50 {
        while let Some(t) = pac.poll_transmit(now, &mut buf) {
            paa_ops.extend_from_slice(&[0, 0, 0x02, 0xcc]);
            paa_ops.extend_from_slice(&(t.len as u16).to_be_bytes());
            paa_ops.extend_from_slice(&buf[..t.len]);
            paa.handle_datagram(now, src, 716, &buf[..t.len], &mut paa_rng);
        }
        while let Some(t) = paa.poll_transmit(now, &mut buf) {
            pac_ops.push(0);
            pac_ops.extend_from_slice(&(t.len as u16).to_be_bytes());
            pac_ops.extend_from_slice(&buf[..t.len]);
            pac.handle_datagram(now, &buf[..t.len], &mut pac_rng);
        }
        while let Some(e) = pac.poll_event() {
            match e {
                ClientEvent::Authenticated { .. } => authenticated = true,
                ClientEvent::PingAnswered => pinged = true,
                ClientEvent::Terminated { .. } => ended = true,
                e => panic!("{e:?}"),
            }
        }
        while let Some(e) = paa.poll_event() {
            assert!(matches!(
                e,
                AgentEvent::Authenticated { .. } | AgentEvent::Terminated { .. }
            ));
        }
        if ended {
            break;
        }
        if pinged {
            pac_ops.push(5); // terminate
            pac.terminate(now).unwrap();
        } else if authenticated && pac.ping(now).is_ok() {
            pac_ops.push(3); // ping
        }
    }
    assert!(authenticated && pinged && ended);
    (pac_ops, paa_ops)
}

#[test]
fn fuzz_seeds_are_a_recorded_session() {
    let (pac, paa) = record();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    if std::env::var_os("AMIMESH_PANA_WRITE_SEEDS").is_some() {
        std::fs::write(dir.join("fuzz_pac_session.bin"), &pac).unwrap();
        std::fs::write(dir.join("fuzz_paa_session.bin"), &paa).unwrap();
    }
    assert_eq!(
        std::fs::read(dir.join("fuzz_pac_session.bin")).unwrap(),
        pac
    );
    assert_eq!(
        std::fs::read(dir.join("fuzz_paa_session.bin")).unwrap(),
        paa
    );
}
