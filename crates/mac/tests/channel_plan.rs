//! Receiver-directed channels (`mac::channels`) on the virtual medium: unicast on the
//! destination's home channel with the ACK there, broadcast on every channel, scans that find
//! each router on its own channel, and the collisions the plan removes.

// Test harness code outside #[test] functions may fail loudly.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

mod medium;

use amimesh_core::{Duration, LinkAddr, PanId, ShortAddr};
use amimesh_mac::mac::beacon_payload::{FLAG_ALLOW_JOIN, RoutingHint};
use amimesh_mac::mac::{
    BeaconPayloadRepr, ChannelPlan, Config, DataRequest, Error, Event, ScanDuration, ScanRequest,
    TxStatus,
};
use medium::{Link, Medium, send, to};

const PAN: PanId = PanId(0xabcd);
const PLAN: ChannelPlan = ChannelPlan::new(11, 4);

fn cfg(n: u64, plan: Option<ChannelPlan>) -> Config {
    let mut c = Medium::config(n);
    c.pan_id = PAN;
    c.channel_plan = plan;
    c
}

/// Node numbers `1..` whose home channels under `PLAN` are pairwise different, `k` of them.
fn distinct_homes(k: usize) -> Vec<u64> {
    let mut picked: Vec<(u64, u8)> = Vec::new();
    for n in 1..1000 {
        let home = PLAN.home(&Medium::config(n).ext_addr);
        if picked.iter().all(|(_, h)| *h != home) {
            picked.push((n, home));
        }
        if picked.len() == k {
            return picked.into_iter().map(|(n, _)| n).collect();
        }
    }
    panic!("no {k} distinct home channels");
}

#[test]
fn unicast_goes_on_the_receivers_home_channel_and_the_sender_waits_there_for_the_ack() {
    let ns = distinct_homes(3);
    let mut m = Medium::new(3);
    let [a, b, c] = [0, 1, 2].map(|i| m.add(cfg(ns[i], Some(PLAN))));
    m.full_mesh(Link::PERFECT);
    m.run_for(Duration::from_millis(1));
    let homes = [a, b, c].map(|i| m.nodes[i].mac.home_channel());
    assert_eq!(homes[1], PLAN.home(&m.ext(b)));
    // Idle receivers sit on their home channels.
    for (i, h) in [a, b, c].iter().zip(homes) {
        assert_eq!(m.nodes[*i].listen, Some(h));
    }
    for k in 0..3u32 {
        let dst = to(&m, b);
        send(&mut m, a, dst, k, &[k as u8; 5]);
    }
    m.run_for(Duration::from_secs(1));
    assert_eq!(m.received(b).len(), 3);
    assert!(
        m.tx_done(a)
            .iter()
            .all(|(_, s, n)| *s == TxStatus::Success && *n == 1)
    );
    // Every data frame went out on b's channel; c, on another channel, heard none of them.
    let on_b = format!("ch={}", homes[1]);
    let data: Vec<&String> = m.trace.iter().filter(|l| l.contains(" tx Data")).collect();
    assert_eq!(data.len(), 3, "{:#?}", m.trace);
    assert!(data.iter().all(|l| l.contains(&on_b)), "{data:#?}");
    assert_eq!(m.nodes[c].mac.stats().rx_frames, 0);
    // a moved to b's channel for each ACK wait and back home after it.
    assert_eq!(m.nodes[a].mac.stats().rx_channel_switches, 6);
    assert_eq!(m.nodes[a].listen, Some(homes[0]));
    assert_eq!(m.nodes[b].mac.stats().acks_sent, 3);
}

#[test]
fn broadcast_is_sent_once_per_channel_and_reaches_every_home_channel() {
    let ns = distinct_homes(4);
    let mut m = Medium::new(4);
    let ids: Vec<usize> = ns.iter().map(|n| m.add(cfg(*n, Some(PLAN)))).collect();
    m.full_mesh(Link::PERFECT);
    send(
        &mut m,
        ids[0],
        LinkAddr::Short(ShortAddr::BROADCAST),
        7,
        b"to all",
    );
    m.run_for(Duration::from_secs(1));
    for &i in &ids[1..] {
        assert_eq!(m.received(i), vec![b"to all".to_vec()], "node {i}");
    }
    let s = m.nodes[ids[0]].mac.stats();
    assert_eq!(s.tx_broadcast_copies, u64::from(PLAN.len()));
    assert_eq!(s.tx_transmissions, u64::from(PLAN.len()));
    // One confirm for the frame, after the last copy, counting every copy sent.
    assert_eq!(m.tx_done(ids[0]), vec![(7, TxStatus::Success, PLAN.len())]);
    // The copies walk the plan in order.
    let chans: Vec<String> = m
        .trace
        .iter()
        .filter(|l| l.contains(" tx Data"))
        .map(|l| l.rsplit("ch=").next().unwrap().to_string())
        .collect();
    let want: Vec<String> = PLAN.channels().map(|c| c.to_string()).collect();
    assert_eq!(chans, want);
}

#[test]
fn broadcast_copy_that_finds_its_channel_busy_does_not_stop_the_others() {
    // A sender that can never get a clear channel on any copy reports a channel access
    // failure once, after trying every channel.
    let ns = distinct_homes(2);
    let mut m = Medium::new(5);
    let a = m.add(cfg(ns[0], Some(PLAN)));
    let b = m.add(cfg(ns[1], Some(PLAN)));
    m.link(a, b, Link::PERFECT);
    m.nodes[a]
        .mac
        .send(
            m.now,
            DataRequest::new(1, LinkAddr::Short(ShortAddr::BROADCAST), b"x"),
        )
        .unwrap();
    // Drive a by hand: every CCA busy.
    let mut buf = [0u8; 127];
    let mut now = m.now;
    let mut channels = Vec::new();
    for _ in 0..200 {
        let mut tx = None;
        while let Some(op) = m.nodes[a].mac.poll_transmit(now, &mut buf) {
            if let amimesh_mac::mac::RadioOp::Transmit(t) = op {
                tx = Some(t);
            }
        }
        if let Some(t) = tx {
            if channels.last() != Some(&t.channel) {
                channels.push(t.channel);
            }
            now += Duration::from_micros(128);
            m.nodes[a]
                .mac
                .handle_tx_done(now, amimesh_mac::mac::TxResult::ChannelBusy);
            continue;
        }
        match m.nodes[a].mac.poll_timeout() {
            Some(t) => {
                now = t;
                m.nodes[a].mac.handle_timeout(now);
            }
            None => break,
        }
    }
    assert_eq!(channels, PLAN.channels().collect::<Vec<_>>());
    let done: Vec<Event> = std::iter::from_fn(|| m.nodes[a].mac.poll_event()).collect();
    assert!(
        matches!(
            done.as_slice(),
            [Event::TxDone {
                handle: 1,
                status: TxStatus::ChannelAccessFailure,
                ..
            }]
        ),
        "{done:?}"
    );
    assert_eq!(m.nodes[a].mac.stats().tx_broadcast_copies, 0);
}

#[test]
fn short_destination_is_refused_under_a_plan() {
    let mut m = Medium::new(6);
    let a = m.add(cfg(1, Some(PLAN)));
    let now = m.now;
    assert_eq!(
        m.nodes[a].mac.send(
            now,
            DataRequest::new(1, LinkAddr::Short(ShortAddr(2)), b"x")
        ),
        Err(Error::Invalid(
            "a channel plan needs an extended destination address"
        ))
    );
    assert_eq!(m.nodes[a].mac.queue_len(), 0);
}

#[test]
fn scan_over_the_plan_finds_each_router_on_its_home_channel() {
    let ns = distinct_homes(3);
    let mut m = Medium::new(7);
    let routers: Vec<usize> = ns[..2].iter().map(|n| m.add(cfg(*n, Some(PLAN)))).collect();
    for (k, &r) in routers.iter().enumerate() {
        m.nodes[r]
            .mac
            .set_beacon_payload(Some(BeaconPayloadRepr::new(
                FLAG_ALLOW_JOIN,
                [7; 16],
                true,
                Some(RoutingHint {
                    rank: 256 * (k as u16 + 1),
                    hops: 1,
                }),
            )));
    }
    let j = m.add(cfg(ns[2], Some(PLAN)));
    m.full_mesh(Link::PERFECT);
    let chans: Vec<u8> = PLAN.channels().collect();
    let now = m.now;
    m.nodes[j]
        .mac
        .start_scan(
            now,
            ScanRequest {
                channels: &chans,
                duration: ScanDuration::Fixed(Duration::from_millis(50)),
            },
        )
        .unwrap();
    m.drain(j);
    m.run_for(Duration::from_secs(1));
    let pans = m.nodes[j]
        .events
        .iter()
        .find_map(|(_, e)| match e {
            Event::ScanDone { pans } => Some(pans.clone()),
            _ => None,
        })
        .expect("scan finished");
    assert_eq!(pans.len(), 2, "{pans:#?}");
    for &r in &routers {
        let d = pans
            .iter()
            .find(|d| d.coord_addr == LinkAddr::Extended(m.ext(r)))
            .expect("router found");
        assert_eq!(d.channel, m.nodes[r].mac.home_channel());
    }
    // Back on its own channel after the scan.
    assert_eq!(m.nodes[j].listen, Some(m.nodes[j].mac.home_channel()));
}

/// Hidden terminals A → B and C → D, where B also hears C: on one channel C's frames destroy
/// A's at B; with B and D on different home channels they do not meet.
fn hidden_pair(plan: Option<ChannelPlan>) -> (u64, usize) {
    let ns = distinct_homes(4);
    let mut m = Medium::new(8);
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| m.add(cfg(ns[i], plan)));
    m.link(a, b, Link::PERFECT);
    m.link(c, d, Link::PERFECT);
    m.link(c, b, Link::PERFECT);
    for k in 0..20u32 {
        let (tb, td) = (to(&m, b), to(&m, d));
        send(&mut m, a, tb, k, &[1; 60]);
        send(&mut m, c, td, k, &[3; 60]);
        m.run_for(Duration::from_millis(300));
    }
    let ok = m
        .tx_done(a)
        .iter()
        .filter(|t| t.1 == TxStatus::Success && t.2 == 1)
        .count();
    (m.collisions, ok)
}

#[test]
fn different_home_channels_remove_hidden_terminal_collisions() {
    let (coll_one, first_try_one) = hidden_pair(None);
    let (coll_plan, first_try_plan) = hidden_pair(Some(PLAN));
    assert!(coll_one > 0, "one channel: hidden terminals collide");
    assert_eq!(coll_plan, 0);
    assert_eq!(first_try_plan, 20);
    assert!(first_try_one < 20, "{first_try_one}");
}

/// The backoffs before each retry of unanswered unicast frames, in unit backoff periods.
fn retry_backoffs(plan: Option<ChannelPlan>) -> Vec<u64> {
    use amimesh_mac::mac::{Mac, RadioOp, TxResult};
    let mut mac = Mac::new(cfg(1, plan));
    let unit = mac.config().phy.unit_backoff_period().total_micros();
    let dst = LinkAddr::Extended(Medium::config(2).ext_addr);
    let mut buf = [0u8; 2047];
    let mut now = amimesh_core::Instant::ZERO;
    let mut waits = Vec::new();
    for h in 0..10 {
        mac.send(now, DataRequest::new(h, dst, b"anyone?")).unwrap();
        let mut ack_deadline: Option<amimesh_core::Instant> = None;
        for _ in 0..100 {
            match mac.poll_transmit(now, &mut buf) {
                Some(RadioOp::Transmit(t)) => {
                    if let Some(d) = ack_deadline.take() {
                        waits.push((t.at - d).total_micros() / unit);
                    }
                    now = t.at + Duration::from_millis(10);
                    mac.handle_tx_done(
                        now,
                        TxResult::Ok {
                            frame_pending: false,
                        },
                    );
                    ack_deadline = mac.poll_timeout();
                }
                Some(_) => {}
                None => match mac.poll_timeout() {
                    Some(t) => {
                        now = now.max(t);
                        mac.handle_timeout(now);
                    }
                    None => break,
                },
            }
        }
    }
    waits
}

#[test]
fn retry_after_a_missing_ack_waits_the_widest_backoff_under_a_plan() {
    // macMinBE 3: at most 7 unit periods; macMaxBE 5: at most 31.
    let single = retry_backoffs(None);
    let planned = retry_backoffs(Some(PLAN));
    assert_eq!(single.len(), 30);
    assert_eq!(planned.len(), 30);
    assert!(single.iter().all(|w| *w <= 7), "{single:?}");
    assert!(planned.iter().all(|w| *w <= 31), "{planned:?}");
    assert!(
        planned.iter().filter(|w| **w > 7).count() >= 15,
        "{planned:?}"
    );
}
