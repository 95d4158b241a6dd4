//! The Trickle algorithm (RFC 6206 §4.2), used to pace MLE Advertisements.
//!
//! Sans-IO like everything else: the caller passes `now` and the node's seeded [`Rng`]; the timer
//! says when it next wants to run ([`Trickle::poll_timeout`]) and whether to transmit
//! ([`Trickle::handle_timeout`]).

use amimesh_core::{Duration, Instant, Rng};

/// Trickle parameters (RFC 6206 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrickleConfig {
    /// Minimum interval Imin.
    pub imin: Duration,
    /// Maximum interval Imax (as a duration, not a number of doublings).
    pub imax: Duration,
    /// Redundancy constant k; 0 means "never suppress".
    pub k: u8,
}

impl TrickleConfig {
    /// OpenThread's advertisement bounds: 1 s .. 32 s (FACTS §9.6), k = 0 (never suppress:
    /// every neighbour learns our counters from our own advertisements).
    pub const ADVERTISEMENT: TrickleConfig = TrickleConfig {
        imin: Duration::from_secs(1),
        imax: Duration::from_secs(32),
        k: 0,
    };
}

/// One Trickle timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trickle {
    cfg: TrickleConfig,
    /// Current interval length I.
    i: Duration,
    /// Start of the current interval.
    start: Instant,
    /// The transmission point t within the interval.
    t: Instant,
    /// Consistent transmissions heard in this interval.
    c: u8,
    /// Has `t` passed in this interval?
    fired: bool,
}

impl Trickle {
    /// Starts the timer with I = Imin (RFC 6206 §4.2 step 1).
    pub fn new(cfg: TrickleConfig, now: Instant, rng: &mut Rng) -> Self {
        let imin = if cfg.imin == Duration::ZERO {
            Duration::from_micros(1)
        } else {
            cfg.imin
        };
        let cfg = TrickleConfig {
            imin,
            imax: cfg.imax.max(imin),
            k: cfg.k,
        };
        let mut tr = Trickle {
            cfg,
            i: cfg.imin,
            start: now,
            t: now,
            c: 0,
            fired: false,
        };
        tr.begin_interval(now, rng);
        tr
    }

    /// Step 2: c = 0, t uniform in [I/2, I).
    fn begin_interval(&mut self, now: Instant, rng: &mut Rng) {
        self.start = now;
        self.c = 0;
        self.fired = false;
        let half = self.i.total_micros() / 2;
        let offset = rng.range(half, self.i.total_micros().max(half.saturating_add(1)));
        self.t = now + Duration::from_micros(offset);
    }

    /// The current interval length I.
    pub fn interval(&self) -> Duration {
        self.i
    }

    /// When [`Trickle::handle_timeout`] next has work to do.
    pub fn poll_timeout(&self) -> Instant {
        if self.fired {
            self.start + self.i
        } else {
            self.t
        }
    }

    /// Runs the timer. Returns `true` when the caller should transmit now (step 4: t reached and
    /// c < k, or k = 0). Does nothing when called early.
    pub fn handle_timeout(&mut self, now: Instant, rng: &mut Rng) -> bool {
        let mut transmit = false;
        if !self.fired && now >= self.t {
            self.fired = true;
            transmit = self.cfg.k == 0 || self.c < self.cfg.k;
        }
        if self.fired && now >= self.start + self.i {
            // Step 5: double I up to Imax and start a new interval.
            self.i = self.i.saturating_mul(2).min(self.cfg.imax);
            self.begin_interval(now, rng);
        }
        transmit
    }

    /// Step 3: a consistent transmission was heard.
    pub fn hear_consistent(&mut self) {
        self.c = self.c.saturating_add(1);
    }

    /// Step 6: an inconsistency; if I > Imin, reset I to Imin and start a new interval.
    pub fn hear_inconsistent(&mut self, now: Instant, rng: &mut Rng) {
        if self.i > self.cfg.imin {
            self.i = self.cfg.imin;
            self.begin_interval(now, rng);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(k: u8) -> TrickleConfig {
        TrickleConfig {
            imin: Duration::from_secs(1),
            imax: Duration::from_secs(8),
            k,
        }
    }

    /// Runs the timer for `secs` seconds of virtual time; returns the transmission times.
    fn run(
        tr: &mut Trickle,
        rng: &mut Rng,
        until: Instant,
        mut hear: impl FnMut(&mut Trickle),
    ) -> std::vec::Vec<Instant> {
        let mut out = std::vec::Vec::new();
        loop {
            let at = tr.poll_timeout();
            if at > until {
                return out;
            }
            hear(tr);
            if tr.handle_timeout(at, rng) {
                out.push(at);
            }
        }
    }

    #[test]
    fn intervals_double_up_to_imax_and_t_is_in_second_half() {
        let mut rng = Rng::new(1);
        let mut tr = Trickle::new(cfg(0), Instant::ZERO, &mut rng);
        let tx = run(&mut tr, &mut rng, Instant::from_secs(40), |_| {});
        // Intervals 1, 2, 4, 8, 8, 8, 8 ... start at 0, 1, 3, 7, 15, 23, 31, 39.
        let starts = [0i64, 1, 3, 7, 15, 23, 31, 39];
        let lens = [1i64, 2, 4, 8, 8, 8, 8, 8];
        assert_eq!(tx.len(), 7, "{tx:?}");
        for (n, at) in tx.iter().enumerate() {
            let lo = Instant::from_micros(starts[n] * 1_000_000 + lens[n] * 500_000);
            let hi = Instant::from_secs(starts[n] + lens[n]);
            assert!(*at >= lo && *at < hi, "tx {n} at {at}");
        }
        assert_eq!(tr.interval(), Duration::from_secs(8));
    }

    #[test]
    fn suppression_with_k() {
        let mut rng = Rng::new(2);
        let mut tr = Trickle::new(cfg(1), Instant::ZERO, &mut rng);
        // Hearing one consistent message per interval suppresses every transmission.
        let tx = run(&mut tr, &mut rng, Instant::from_secs(30), |t| {
            t.hear_consistent()
        });
        assert!(tx.is_empty(), "{tx:?}");
        // Without hearing anything, it transmits.
        let tx = run(&mut tr, &mut rng, Instant::from_secs(60), |_| {});
        assert!(!tx.is_empty());
    }

    #[test]
    fn inconsistency_resets_to_imin() {
        let mut rng = Rng::new(3);
        let mut tr = Trickle::new(cfg(0), Instant::ZERO, &mut rng);
        run(&mut tr, &mut rng, Instant::from_secs(20), |_| {});
        assert_eq!(tr.interval(), Duration::from_secs(8));
        let now = Instant::from_secs(20);
        tr.hear_inconsistent(now, &mut rng);
        assert_eq!(tr.interval(), Duration::from_secs(1));
        let next = tr.poll_timeout();
        assert!(next >= Instant::from_micros(20_500_000) && next < Instant::from_secs(21));
        // At Imin an inconsistency changes nothing.
        tr.hear_inconsistent(Instant::from_micros(20_100_000), &mut rng);
        assert_eq!(tr.poll_timeout(), next);
    }

    #[test]
    fn early_call_does_nothing() {
        let mut rng = Rng::new(4);
        let mut tr = Trickle::new(cfg(0), Instant::ZERO, &mut rng);
        let before = tr.clone();
        assert!(!tr.handle_timeout(Instant::from_micros(1), &mut rng));
        assert_eq!(tr, before);
    }
}
