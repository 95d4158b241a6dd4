//! The MAC state machine of one node (fixed seed and key) fed an arbitrary sequence of received
//! PSDUs, radio results, timeouts and commands. Asserts that nothing panics, that time-based
//! outputs stay consistent, and that the transmit queue and event queue stay within capacity.
//!
//! Under `cfg(fuzzing)` MIC checks pass, so secured frames reach the code behind them.

#![no_main]

use amimesh_core::{Duration, ExtAddr, Instant, Key128, LinkAddr, PanId, ShortAddr};
use amimesh_mac::mac::beacon_payload::RoutingHint;
use amimesh_mac::mac::{
    BeaconPayloadRepr, ChannelPlan, Config, DataRequest, Mac, RadioCaps, RadioOp, RxMeta, ScanDuration,
    ScanRequest, SecurityPolicy, TxKind, TxResult,
};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    Frame { psdu: Vec<u8>, lqi: u8 },
    TxOk { pending: bool },
    TxBusy,
    TxNoAck,
    Advance { micros: u16 },
    Timeout,
    Send { dst: u8, len: u8, unsecured: bool },
    Scan { channels: u8, exp: u8 },
    Beacon { on: bool },
    Counter { ext: u8, fc: u32 },
}

fuzz_target!(|data: (bool, bool, u8, Vec<Input>)| {
    let (auto_ack, software_fcs, plan, inputs) = data;
    // 0: one channel; otherwise a receiver-directed plan of 1–16 channels from 11.
    let plan = (plan != 0).then(|| ChannelPlan::new(11, plan % 16 + 1));
    let mut cfg = Config::new(ExtAddr::from_u64(0x0012_4b00_0000_0001));
    cfg.pan_id = PanId(0xabcd);
    cfg.short_addr = Some(ShortAddr(1));
    cfg.caps = RadioCaps { auto_ack, software_fcs };
    cfg.seed = 7;
    cfg.tx_queue_capacity = 4;
    cfg.event_capacity = 8;
    cfg.neighbour_capacity = 4;
    cfg.max_scan_results = 4;
    // Channel access failures start CSMA-CA over twice (the device default is none).
    cfg.channel_access_retries = 2;
    cfg.channel_plan = plan;
    let mut mac = Mac::new(cfg);
    mac.install_key(1, &Key128::from([0x11; 16]));
    let _ = mac.set_tx_key(1);
    mac.set_security_policy(SecurityPolicy::PROFILE);
    let mut now = Instant::ZERO;
    let mut buf = [0u8; 127];
    for input in inputs.into_iter().take(256) {
        match input {
            Input::Frame { psdu, lqi } => {
                let meta = RxMeta { at: now, lqi, rssi: -60, channel: 11 + lqi % 4 };
                mac.handle_frame(now, meta, &psdu);
            }
            Input::TxOk { pending } => mac.handle_tx_done(now, TxResult::Ok { frame_pending: pending }),
            Input::TxBusy => mac.handle_tx_done(now, TxResult::ChannelBusy),
            Input::TxNoAck => mac.handle_tx_done(now, TxResult::NoAck),
            Input::Advance { micros } => now += Duration::from_micros(u64::from(micros)),
            Input::Timeout => {
                if let Some(t) = mac.poll_timeout() {
                    if t > now {
                        now = t;
                    }
                }
                mac.handle_timeout(now);
            }
            Input::Send { dst, len, unsecured } => {
                let payload = [0x5au8; 255];
                let mut req = DataRequest::new(
                    u32::from(dst),
                    match dst % 3 {
                        0 => LinkAddr::Short(ShortAddr::BROADCAST),
                        1 => LinkAddr::Short(ShortAddr(u16::from(dst))),
                        _ => LinkAddr::Extended(ExtAddr::from_u64(u64::from(dst))),
                    },
                    &payload[..usize::from(len)],
                );
                if unsecured {
                    req.security = amimesh_mac::mac::TxSecurity::Unsecured;
                }
                let _ = mac.send(now, req);
            }
            Input::Scan { channels, exp } => {
                let list = [11u8, 12, 13, 14, 15, 16, 17, 18];
                let n = usize::from(channels % 9);
                let _ = mac.start_scan(
                    now,
                    ScanRequest {
                        channels: &list[..n],
                        duration: ScanDuration::Exponent(exp % 4),
                    },
                );
            }
            Input::Beacon { on } => mac.set_beacon_payload(on.then(|| {
                BeaconPayloadRepr::new(1, [0; 16], true, Some(RoutingHint { rank: 256, hops: 1 }))
            })),
            Input::Counter { ext, fc } => {
                let _ = mac.set_neighbour_frame_counter(1, ExtAddr::from_u64(u64::from(ext)), fc);
            }
        }
        // Drain as the run loop requires.
        while let Some(op) = mac.poll_transmit(now, &mut buf) {
            match op {
                RadioOp::Transmit(tx) => {
                    assert!(tx.len <= buf.len());
                    assert!(tx.at >= now);
                    // Under a plan data frames and beacons stay on the plan's channels (ACKs
                    // answer on the channel a frame came in on; scans visit their own list).
                    if let Some(p) = plan {
                        if matches!(tx.kind, TxKind::Data | TxKind::Beacon) {
                            assert!(p.contains(tx.channel), "{tx:?}");
                        }
                    }
                }
                RadioOp::Listen { .. } | RadioOp::Off => {}
            }
        }
        let mut n = 0;
        while mac.poll_event().is_some() {
            n += 1;
        }
        assert!(n <= 8);
        assert!(mac.queue_len() <= 4);
        if let Some(t) = mac.poll_timeout() {
            // A deadline in the past is fine (fires at once); it must not be absurdly far.
            assert!(t <= now + Duration::from_secs(10));
        }
    }
});
