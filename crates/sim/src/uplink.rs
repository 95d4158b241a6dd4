//! The uplink between the field relay and the servers: a sans-IO link model with latency,
//! jitter, random loss, an optional bit rate, a bounded queue per direction, and up/down state
//! under the caller's control.
//!
//! - The relay asks to open it ([`UplinkOutput::Open`](crate::UplinkOutput::Open)); after
//!   [`UplinkConfig::open_delay`] it is told `Up` if the link is available, else `Down`.
//! - [`Sim::set_uplink_available`](crate::Sim::set_uplink_available)`(false)` cuts it: an open
//!   uplink reports `Down` at once and every datagram in flight is dropped. The relay must open
//!   it again once the link is available.
//! - Each datagram is serialised at [`UplinkConfig::rate_bps`] behind the ones before it (0:
//!   no rate limit), then takes `latency + uniform(0..=jitter)`; jitter can reorder datagrams.
//!   At most [`UplinkConfig::queue_capacity`] datagrams are in flight per direction; more are
//!   dropped and counted, as are lost ones ([`UplinkConfig::loss`]) and those sent while down.

use amimesh_core::{Duration, Instant, Rng};

/// Uplink parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UplinkConfig {
    /// One-way latency.
    pub latency: Duration,
    /// Extra one-way delay, uniform in `0..=jitter`.
    pub jitter: Duration,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Datagrams in flight per direction.
    pub queue_capacity: usize,
    /// Bit rate per direction; 0 means unlimited.
    pub rate_bps: u64,
    /// Time to open the channel (handshake).
    pub open_delay: Duration,
    /// Whether the link can be opened at the start.
    pub available: bool,
}

impl Default for UplinkConfig {
    /// 40 ms latency, 5 ms jitter, no loss, 64 datagrams per direction, 1 Mb/s, 200 ms to open,
    /// available.
    fn default() -> Self {
        UplinkConfig {
            latency: Duration::from_millis(40),
            jitter: Duration::from_millis(5),
            loss: 0.0,
            queue_capacity: 64,
            rate_bps: 1_000_000,
            open_delay: Duration::from_millis(200),
            available: true,
        }
    }
}

/// Uplink counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UplinkStats {
    /// Open requests.
    pub opens: u64,
    /// Open requests answered `Down`.
    pub open_failures: u64,
    /// Times an open uplink was cut.
    pub cuts: u64,
    /// Datagrams accepted towards the servers.
    pub sent_up: u64,
    /// Datagrams accepted towards the relay.
    pub sent_down: u64,
    /// Datagrams delivered to the servers.
    pub delivered_up: u64,
    /// Datagrams delivered to the relay.
    pub delivered_down: u64,
    /// Dropped because the uplink was not up (when sent, or cut while in flight).
    pub dropped_not_up: u64,
    /// Dropped because the direction's queue was full.
    pub dropped_queue_full: u64,
    /// Lost at random.
    pub lost: u64,
}

/// Why a datagram was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UplinkDrop {
    /// The uplink is not up.
    NotUp,
    /// Too many datagrams in flight.
    QueueFull,
    /// Lost.
    Lost,
}

/// The uplink's state (owned by the engine).
#[derive(Debug, Clone)]
pub struct Uplink {
    cfg: UplinkConfig,
    rng: Rng,
    available: bool,
    opening: bool,
    up: bool,
    /// Bumped whenever the link goes down; deliveries from an older epoch are dropped.
    epoch: u64,
    in_flight: [usize; 2],
    next_free: [Instant; 2],
    stats: UplinkStats,
}

fn dir(up: bool) -> usize {
    usize::from(!up)
}

impl Uplink {
    /// A closed uplink.
    pub fn new(cfg: UplinkConfig, rng: Rng) -> Self {
        Uplink {
            available: cfg.available,
            cfg,
            rng,
            opening: false,
            up: false,
            epoch: 0,
            in_flight: [0; 2],
            next_free: [Instant::ZERO; 2],
            stats: UplinkStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &UplinkConfig {
        &self.cfg
    }

    /// Counters.
    pub fn stats(&self) -> UplinkStats {
        self.stats
    }

    /// Is it open?
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Can it be opened?
    pub fn is_available(&self) -> bool {
        self.available
    }

    /// The current epoch (changes whenever the link goes down).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// An open request at `now`; returns when to answer it, or `None` if one is already
    /// pending or the link is up (the request is then ignored).
    pub fn request_open(&mut self, now: Instant) -> Option<Instant> {
        if self.opening || self.up {
            return None;
        }
        self.stats.opens += 1;
        self.opening = true;
        Some(now + self.cfg.open_delay)
    }

    /// The open delay has passed: returns whether the uplink is now up.
    pub fn complete_open(&mut self) -> bool {
        self.opening = false;
        if self.available {
            self.up = true;
        } else {
            self.stats.open_failures += 1;
        }
        self.up
    }

    /// The relay closed it.
    pub fn close(&mut self) {
        if self.up {
            self.go_down();
        }
    }

    fn go_down(&mut self) {
        self.up = false;
        self.epoch = self.epoch.wrapping_add(1);
        // In-flight datagrams are counted when their delivery finds the epoch changed.
    }

    /// Makes the link available or not; returns `true` if an open uplink was cut.
    pub fn set_available(&mut self, available: bool) -> bool {
        self.available = available;
        if !available && self.up {
            self.stats.cuts += 1;
            self.go_down();
            return true;
        }
        false
    }

    /// A datagram of `len` bytes enters the link at `now` (`up`: towards the servers). Returns
    /// the delivery instant, or why it was dropped.
    pub fn send(&mut self, now: Instant, up: bool, len: usize) -> Result<Instant, UplinkDrop> {
        if !self.up {
            self.stats.dropped_not_up += 1;
            return Err(UplinkDrop::NotUp);
        }
        let d = dir(up);
        let in_flight = self.in_flight.get(d).copied().unwrap_or(0);
        if in_flight >= self.cfg.queue_capacity {
            self.stats.dropped_queue_full += 1;
            return Err(UplinkDrop::QueueFull);
        }
        if self.rng.chance(self.cfg.loss) {
            self.stats.lost += 1;
            return Err(UplinkDrop::Lost);
        }
        let start = self.next_free.get(d).copied().unwrap_or(now).max(now);
        let bits = (len as u64).saturating_mul(8).saturating_mul(1_000_000);
        let ser = Duration::from_micros(bits.checked_div(self.cfg.rate_bps).unwrap_or(0));
        let departed = start + ser;
        if let Some(nf) = self.next_free.get_mut(d) {
            *nf = departed;
        }
        let jitter = self.rng.range_inclusive(0, self.cfg.jitter.total_micros());
        if let Some(f) = self.in_flight.get_mut(d) {
            *f += 1;
        }
        if up {
            self.stats.sent_up += 1;
        } else {
            self.stats.sent_down += 1;
        }
        Ok(departed + self.cfg.latency + Duration::from_micros(jitter))
    }

    /// A datagram sent in `epoch` reaches its end; returns whether it is delivered.
    pub fn arrive(&mut self, up: bool, epoch: u64) -> bool {
        if let Some(f) = self.in_flight.get_mut(dir(up)) {
            *f = f.saturating_sub(1);
        }
        if epoch != self.epoch || !self.up {
            self.stats.dropped_not_up += 1;
            return false;
        }
        if up {
            self.stats.delivered_up += 1;
        } else {
            self.stats.delivered_down += 1;
        }
        true
    }

    /// Datagrams in flight in one direction.
    pub fn in_flight(&self, up: bool) -> usize {
        self.in_flight.get(dir(up)).copied().unwrap_or(0)
    }
}
