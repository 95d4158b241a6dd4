//! The MAC driven by hand, one radio result at a time.

// Test harness code outside #[test] functions may fail loudly.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use amimesh_core::{Duration, ExtAddr, Instant, LinkAddr, PanId, ShortAddr};
use amimesh_mac::mac::{
    Config, DataRequest, Event, Mac, RadioCaps, RadioOp, RxMeta, Transmit, TxKind, TxResult,
    TxStatus,
};

fn cfg(auto_ack: bool) -> Config {
    let mut c = Config::new(ExtAddr::from_u64(0x0102_0304_0506_0708));
    c.pan_id = PanId(0xabcd);
    c.caps = RadioCaps {
        auto_ack,
        software_fcs: false,
    };
    c.seed = 5;
    c
}

/// Runs timers until the MAC asks for a transmission; returns it.
fn next_tx(mac: &mut Mac, now: &mut Instant, buf: &mut [u8]) -> Transmit {
    for _ in 0..100 {
        while let Some(op) = mac.poll_transmit(*now, buf) {
            if let RadioOp::Transmit(tx) = op {
                return tx;
            }
        }
        *now = mac.poll_timeout().expect("a timer is armed");
        mac.handle_timeout(*now);
    }
    panic!("no transmission");
}

/// Answers `n` CCAs in a row with a busy channel; returns the backoff before each.
fn busy_ccas(mac: &mut Mac, now: &mut Instant, buf: &mut [u8], n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let before = *now;
            let tx = next_tx(mac, now, buf);
            *now += Duration::from_micros(128);
            mac.handle_tx_done(*now, TxResult::ChannelBusy);
            tx.at - before
        })
        .collect()
}

fn events(mac: &mut Mac) -> Vec<Event> {
    std::iter::from_fn(|| mac.poll_event()).collect()
}

#[test]
fn auto_ack_radio_retries_on_no_ack_and_sends_no_software_acks() {
    let mut mac = Mac::new(cfg(true));
    let mut buf = [0u8; 127];
    let mut now = Instant::ZERO;
    assert_eq!(
        mac.poll_transmit(now, &mut buf),
        Some(RadioOp::Listen { channel: 11 })
    );
    let dst = LinkAddr::Short(ShortAddr(2));
    mac.send(now, DataRequest::new(9, dst, b"abc")).unwrap();
    let mut seqs = Vec::new();
    for attempt in 0..4 {
        let tx = next_tx(&mut mac, &mut now, &mut buf);
        assert!(tx.cca && tx.ack_request && tx.kind == TxKind::Data);
        assert_eq!(&buf[tx.len - 3..tx.len], b"abc");
        seqs.push(tx.seq);
        now += Duration::from_millis(2);
        mac.handle_tx_done(now, TxResult::NoAck);
        if attempt < 3 {
            assert!(events(&mut mac).is_empty());
        }
    }
    assert!(
        seqs.windows(2).all(|w| w[0] == w[1]),
        "retries keep the sequence number"
    );
    assert_eq!(
        events(&mut mac),
        vec![Event::TxDone {
            handle: 9,
            status: TxStatus::NoAck,
            transmissions: 4
        }]
    );
    // The next frame is acknowledged by the radio.
    mac.send(now, DataRequest::new(10, dst, b"d")).unwrap();
    let tx = next_tx(&mut mac, &mut now, &mut buf);
    assert_eq!(tx.seq, seqs[0].wrapping_add(1));
    mac.handle_tx_done(
        now,
        TxResult::Ok {
            frame_pending: false,
        },
    );
    assert_eq!(
        events(&mut mac),
        vec![Event::TxDone {
            handle: 10,
            status: TxStatus::Success,
            transmissions: 1
        }]
    );
    // An incoming frame requesting an ACK gets none from the MAC: the radio sends it.
    // Data, AR, PAN compression, dst short 0xffff? no: dst = our extended address.
    let mut f = vec![0x61, 0xcc, 0x42, 0xcd, 0xab];
    f.extend_from_slice(&ExtAddr::from_u64(0x0102_0304_0506_0708).to_le_bytes());
    f.extend_from_slice(&ExtAddr::from_u64(0x99).to_le_bytes());
    f.extend_from_slice(b"hi");
    let meta = RxMeta {
        at: now,
        lqi: 100,
        rssi: -70,
        channel: 11,
    };
    mac.handle_frame(now, meta, &f);
    assert_eq!(mac.poll_transmit(now, &mut buf), None);
    let ev = events(&mut mac);
    assert!(matches!(&ev[..], [Event::Received(r)] if r.payload == b"hi" && r.seq == 0x42));
    assert_eq!(mac.stats().acks_sent, 0);
}

#[test]
fn channel_access_failure_after_max_backoffs() {
    let mut mac = Mac::new(cfg(false));
    let mut buf = [0u8; 127];
    let mut now = Instant::ZERO;
    mac.send(
        now,
        DataRequest::new(1, LinkAddr::Short(ShortAddr(2)), b"x"),
    )
    .unwrap();
    let gaps = busy_ccas(&mut mac, &mut now, &mut buf, 5);
    assert_eq!(
        events(&mut mac),
        vec![Event::TxDone {
            handle: 1,
            status: TxStatus::ChannelAccessFailure,
            transmissions: 0
        }]
    );
    assert_eq!(mac.stats().tx_cca_busy, 5);
    assert_eq!(mac.stats().tx_channel_access_failure, 1);
    // Every backoff is a whole number of unit backoff periods (320 µs) within 2^BE - 1.
    for (i, g) in gaps.iter().enumerate() {
        let be = (3 + i as u32).min(5);
        assert_eq!(g.total_micros() % 320, 0);
        assert!(g.total_micros() <= 320 * ((1 << be) - 1), "{i}: {g}");
    }
}

#[test]
fn channel_access_retries_start_csma_over_before_the_failure_is_reported() {
    let mut c = cfg(false);
    c.channel_access_retries = 2;
    let mut mac = Mac::new(c);
    let mut buf = [0u8; 127];
    let mut now = Instant::ZERO;
    mac.send(
        now,
        DataRequest::new(1, LinkAddr::Short(ShortAddr(2)), b"x"),
    )
    .unwrap();
    // Three CSMA-CA attempts of five busy CCAs each; BE starts over at macMinBE each time.
    let mut gaps = Vec::new();
    for attempt in 0..3 {
        gaps.extend(busy_ccas(&mut mac, &mut now, &mut buf, 5));
        if attempt < 2 {
            assert!(events(&mut mac).is_empty(), "attempt {attempt}");
            assert_eq!(mac.stats().tx_access_retries, attempt + 1);
        }
    }
    assert_eq!(
        events(&mut mac),
        vec![Event::TxDone {
            handle: 1,
            status: TxStatus::ChannelAccessFailure,
            transmissions: 0
        }]
    );
    assert_eq!(mac.stats().tx_cca_busy, 15);
    assert_eq!(mac.stats().tx_channel_access_failure, 1);
    assert_eq!(mac.stats().tx_access_retries, 2);
    for (i, g) in gaps.iter().enumerate() {
        let be = (3 + (i % 5) as u32).min(5);
        assert!(g.total_micros() <= 320 * ((1 << be) - 1), "{i}: {g}");
    }
    // A frame that gets the channel on a restarted attempt is sent and succeeds.
    mac.send(
        now,
        DataRequest::new(2, LinkAddr::Short(ShortAddr(2)), b"y"),
    )
    .unwrap();
    let _ = busy_ccas(&mut mac, &mut now, &mut buf, 6);
    let _ = next_tx(&mut mac, &mut now, &mut buf);
    now += Duration::from_millis(1);
    mac.handle_tx_done(
        now,
        TxResult::Ok {
            frame_pending: false,
        },
    );
    assert!(events(&mut mac).is_empty(), "waiting for the ACK");
    assert_eq!(mac.stats().tx_access_retries, 3);
}

#[test]
fn radio_that_never_answers_times_out_and_spurious_results_are_counted() {
    let mut mac = Mac::new(cfg(false));
    let mut buf = [0u8; 127];
    let mut now = Instant::ZERO;
    mac.handle_tx_done(
        now,
        TxResult::Ok {
            frame_pending: false,
        },
    );
    assert_eq!(mac.stats().spurious_tx_done, 1);
    mac.send(
        now,
        DataRequest::new(3, LinkAddr::Short(ShortAddr(2)), b"x"),
    )
    .unwrap();
    let _tx = next_tx(&mut mac, &mut now, &mut buf);
    let deadline = mac.poll_timeout().unwrap();
    assert!(deadline > now);
    mac.handle_timeout(deadline - Duration::from_micros(1));
    assert!(events(&mut mac).is_empty(), "early timeout does nothing");
    mac.handle_timeout(deadline);
    assert_eq!(
        events(&mut mac),
        vec![Event::TxDone {
            handle: 3,
            status: TxStatus::RadioTimeout,
            transmissions: 0
        }]
    );
    assert_eq!(mac.stats().radio_timeouts, 1);
    assert_eq!(mac.poll_timeout(), None);
}

#[test]
fn idle_mac_has_no_deadline_and_rx_off_when_idle_turns_radio_off() {
    let mut c = cfg(false);
    c.rx_on_when_idle = false;
    let mut mac = Mac::new(c);
    let mut buf = [0u8; 127];
    assert_eq!(
        mac.poll_transmit(Instant::ZERO, &mut buf),
        Some(RadioOp::Off)
    );
    assert_eq!(mac.poll_transmit(Instant::ZERO, &mut buf), None);
    assert_eq!(mac.poll_timeout(), None);
}

#[test]
fn scan_with_receiver_off_when_idle_listens_only_while_scanning() {
    let mut c = cfg(false);
    c.rx_on_when_idle = false;
    let mut mac = Mac::new(c);
    let mut buf = [0u8; 127];
    let mut now = Instant::ZERO;
    assert_eq!(mac.poll_transmit(now, &mut buf), Some(RadioOp::Off));
    mac.start_scan(
        now,
        amimesh_mac::mac::ScanRequest {
            channels: &[20],
            duration: amimesh_mac::mac::ScanDuration::Fixed(Duration::from_millis(5)),
        },
    )
    .unwrap();
    assert_eq!(
        mac.poll_transmit(now, &mut buf),
        Some(RadioOp::Listen { channel: 20 })
    );
    let tx = next_tx(&mut mac, &mut now, &mut buf);
    assert_eq!(
        (tx.kind, tx.channel, tx.cca),
        (TxKind::BeaconRequest, 20, true)
    );
    mac.handle_tx_done(
        now,
        TxResult::Ok {
            frame_pending: false,
        },
    );
    assert_eq!(mac.poll_timeout(), Some(now + Duration::from_millis(5)));
    now += Duration::from_millis(5);
    mac.handle_timeout(now);
    assert_eq!(mac.poll_transmit(now, &mut buf), Some(RadioOp::Off));
    assert_eq!(events(&mut mac), vec![Event::ScanDone { pans: Vec::new() }]);
}
