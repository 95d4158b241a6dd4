//! One MLE node with a fixed seed and key, fed a sequence of datagrams (from a few neighbours,
//! unicast or multicast), timeouts and commands. Crypto is replaced by an identity "cipher"
//! whose MIC always verifies, so the fuzzer writes plaintext MLE bodies directly and reaches the
//! state machine behind the MIC check.
#![no_main]

use amimesh_core::rand_core::{CryptoRng, Error as RandError, RngCore};
use amimesh_core::{Duration, ExtAddr, Instant, Key128, Rng};
use amimesh_mac::security::SecurityLevel;
use amimesh_mac::security::ccm_star::Nonce;
use amimesh_mle::security::{MleCrypto, MleKey, link_local};
use amimesh_mle::{Config, MleNode, RxMeta};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Debug)]
struct Identity;

impl MleCrypto for Identity {
    fn seal(&self, _: &MleKey, _: &Nonce, _: SecurityLevel, _: &[u8], _: &mut [u8], mic: &mut [u8]) -> amimesh_mle::Result<()> {
        mic.fill(0);
        Ok(())
    }
    fn open(&self, _: &MleKey, _: &Nonce, _: SecurityLevel, _: &[u8], _: &mut [u8], _: &[u8]) -> amimesh_mle::Result<()> {
        Ok(())
    }
}

struct Csprng(Rng);
impl RngCore for Csprng {
    fn next_u32(&mut self) -> u32 { self.0.u32() }
    fn next_u64(&mut self) -> u64 { self.0.u64() }
    fn fill_bytes(&mut self, d: &mut [u8]) { self.0.fill(d) }
    fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), RandError> { self.0.fill(d); Ok(()) }
}
impl CryptoRng for Csprng {}

#[derive(Debug, Arbitrary)]
enum Op {
    /// A datagram from neighbour `from % 4` (0: not link-local), multicast or unicast.
    Datagram { from: u8, multicast: bool, margin: u8, payload: Vec<u8> },
    /// Advance the clock by this many milliseconds and run the timers.
    Wait(u16),
    LinkRequest(Option<u8>),
    DataRequest(u8),
    UpdateRequest(u8),
    Update,
    Remove(u8),
    Rekey(u8),
}

fn peer(i: u8) -> ExtAddr {
    ExtAddr::from_u64(0x0200_0000_0000_0000 | u64::from(i % 4))
}

fuzz_target!(|ops: Vec<Op>| {
    let me = ExtAddr::from_u64(0x0200_0000_0000_00ff);
    let mut cfg = Config::new(me);
    cfg.seed = 7;
    cfg.max_neighbours = 3;
    cfg.max_link_requests = 2;
    cfg.max_accept_challenges = 2;
    cfg.tx_queue = 4;
    cfg.event_queue = 4;
    cfg.neighbour_timeout = Duration::from_secs(5);
    cfg.advertisement = Some(amimesh_mle::trickle::TrickleConfig::ADVERTISEMENT);
    cfg.link_on_advertisement = true;
    let mut node = MleNode::with_crypto(cfg, Identity);
    let mut rng = Csprng(Rng::new(1));
    let mut now = Instant::ZERO;
    node.set_key(now, MleKey::new(Key128::new([1; 16]), 1, 0));
    let mut buf = [0u8; 256];
    for op in ops.into_iter().take(64) {
        match op {
            Op::Datagram { from, multicast, margin, payload } => {
                let src = if from % 4 == 0 { "2001:db8::1".parse().unwrap() } else { link_local(peer(from)) };
                let dst = if multicast { "ff02::1".parse().unwrap() } else { node.link_local() };
                node.handle_datagram(now, src, dst, RxMeta { link_margin: margin }, &payload, &mut rng);
            }
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms));
                node.handle_timeout(now, &mut rng);
            }
            Op::LinkRequest(p) => {
                let _ = node.link_request(now, p.map(peer), &mut rng);
            }
            Op::DataRequest(p) => {
                let _ = node.data_request(now, peer(p), &[amimesh_mle::wire::tlv::TlvType::LinkLayerFrameCounter]);
            }
            Op::UpdateRequest(p) => {
                let _ = node.update_request(now, peer(p));
            }
            Op::Update => {
                let _ = node.send_update(now, None);
            }
            Op::Remove(p) => node.remove_neighbour(&peer(p)),
            Op::Rekey(i) => node.set_key(now, MleKey::new(Key128::new([i; 16]), i, u32::from(i))),
        }
        while let Some(t) = node.poll_transmit(now, &mut buf) {
            assert!(t.len <= buf.len());
        }
        while node.poll_event().is_some() {}
        if let Some(t) = node.poll_timeout() {
            assert!(t >= Instant::ZERO);
        }
        assert!(node.neighbours().count() <= 3);
    }
});
