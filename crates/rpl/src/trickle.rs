//! The Trickle algorithm (RFC 6206 §4.2), as a reusable sans-IO timer.
//!
//! Inputs are `now` and a caller-owned [`Rng`]; the timer never reads a clock. Drive it with
//! [`Trickle::poll_at`] (the next instant it needs attention) and [`Trickle::poll`], which
//! returns `true` when the caller should transmit (at time `t`, if fewer than `k` consistent
//! messages were heard in this interval).

use amimesh_core::{Duration, Instant, Rng};

/// Trickle state: I, t, c (RFC 6206 §4.1–4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trickle {
    i_min: Duration,
    i_max: Duration,
    k: u8,
    i: Duration,
    interval_start: Instant,
    t_at: Instant,
    interval_end: Instant,
    c: u16,
    fired: bool,
    running: bool,
}

impl Trickle {
    /// A stopped timer with Imin = 2^`imin_exp` ms, Imax = Imin·2^`doublings` and redundancy
    /// constant `k` (0 means "no suppression", as RPL implementations read it).
    pub fn new(imin_exp: u8, doublings: u8, k: u8) -> Self {
        let i_min = Duration::from_millis(1u64 << imin_exp.min(40));
        let i_max = i_min.saturating_mul(1u64 << doublings.min(40));
        Trickle {
            i_min,
            i_max,
            k,
            i: i_min,
            interval_start: Instant::ZERO,
            t_at: Instant::MAX,
            interval_end: Instant::MAX,
            c: 0,
            fired: false,
            running: false,
        }
    }
    /// Imin.
    pub fn i_min(&self) -> Duration {
        self.i_min
    }
    /// Imax.
    pub fn i_max(&self) -> Duration {
        self.i_max
    }
    /// The current interval length I.
    pub fn interval(&self) -> Duration {
        self.i
    }
    /// The consistency counter c.
    pub fn counter(&self) -> u16 {
        self.c
    }
    /// Is the timer running?
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Step 1: starts with I = Imin and begins an interval.
    pub fn start(&mut self, now: Instant, rng: &mut Rng) {
        self.running = true;
        self.i = self.i_min;
        self.begin_interval(now, rng);
    }

    /// Stops the timer.
    pub fn stop(&mut self) {
        self.running = false;
        self.t_at = Instant::MAX;
        self.interval_end = Instant::MAX;
    }

    /// Step 2: c = 0, t uniform in [I/2, I).
    fn begin_interval(&mut self, now: Instant, rng: &mut Rng) {
        self.c = 0;
        self.fired = false;
        self.interval_start = now;
        let i = self.i.total_micros();
        let half = i / 2;
        let t = rng.range(half, i.max(half + 1));
        self.t_at = now + Duration::from_micros(t);
        self.interval_end = now + self.i;
    }

    /// Step 3: a consistent transmission was heard.
    pub fn hear_consistent(&mut self) {
        self.c = self.c.saturating_add(1);
    }

    /// Step 6: an inconsistency (or external event). Resets to Imin unless already there.
    pub fn hear_inconsistent(&mut self, now: Instant, rng: &mut Rng) {
        if !self.running {
            self.start(now, rng);
            return;
        }
        if self.i > self.i_min {
            self.i = self.i_min;
            self.begin_interval(now, rng);
        }
    }

    /// The next instant at which [`poll`](Self::poll) has work, if running.
    pub fn poll_at(&self) -> Option<Instant> {
        if !self.running {
            return None;
        }
        Some(if self.fired {
            self.interval_end
        } else {
            self.t_at
        })
    }

    /// Advances to `now`. Returns `true` if the caller should transmit now (step 4). Handles
    /// interval ends (step 5) as they pass.
    pub fn poll(&mut self, now: Instant, rng: &mut Rng) -> bool {
        if !self.running {
            return false;
        }
        let mut send = false;
        // At most a bounded number of catch-up steps, so a far jump cannot loop for long.
        for _ in 0..64 {
            if !self.fired && now >= self.t_at {
                self.fired = true;
                if self.k == 0 || self.c < u16::from(self.k) {
                    send = true;
                }
            }
            if self.fired && now >= self.interval_end {
                let doubled = self.i.saturating_mul(2);
                self.i = if doubled > self.i_max {
                    self.i_max
                } else {
                    doubled
                };
                let start = self.interval_end;
                self.begin_interval(start, rng);
                if send {
                    break;
                }
                continue;
            }
            break;
        }
        send
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tr: &mut Trickle, rng: &mut Rng, until: Instant) -> alloc::vec::Vec<Instant> {
        let mut sent = alloc::vec::Vec::new();
        while let Some(at) = tr.poll_at() {
            if at > until {
                break;
            }
            if tr.poll(at, rng) {
                sent.push(at);
            }
        }
        sent
    }

    #[test]
    fn intervals_double_up_to_imax_and_t_is_in_second_half() {
        let mut rng = Rng::new(1);
        let mut tr = Trickle::new(3, 4, 0); // 8 ms .. 128 ms
        tr.start(Instant::ZERO, &mut rng);
        assert_eq!(tr.i_max(), Duration::from_millis(128));
        let sent = run(&mut tr, &mut rng, Instant::from_millis(1_000));
        // Interval starts: 0, 8, 24, 56, 120, 248, 376, ...
        let starts = [0i64, 8, 24, 56, 120, 248, 376, 504, 632, 760, 888];
        for (k, s) in sent.iter().enumerate() {
            let lo = starts[k];
            let len = starts[k + 1] - starts[k];
            let ms = s.total_micros() as f64 / 1000.0;
            assert!(
                ms >= lo as f64 + len as f64 / 2.0 && ms < (lo + len) as f64,
                "{k}: {ms}"
            );
        }
        assert!((10..=11).contains(&sent.len()), "{}", sent.len());
        assert_eq!(tr.interval(), Duration::from_millis(128));
    }

    #[test]
    fn suppression_and_reset() {
        let mut rng = Rng::new(2);
        let mut tr = Trickle::new(3, 4, 1);
        tr.start(Instant::ZERO, &mut rng);
        tr.hear_consistent();
        // First interval: c = 1 = k, so nothing is sent at t.
        let t = tr.poll_at().unwrap();
        assert!(!tr.poll(t, &mut rng));
        // Grow the interval, then an inconsistency resets it to Imin.
        let _ = run(&mut tr, &mut rng, Instant::from_millis(200));
        assert!(tr.interval() > tr.i_min());
        tr.hear_inconsistent(Instant::from_millis(200), &mut rng);
        assert_eq!(tr.interval(), tr.i_min());
        let at = tr.poll_at().unwrap();
        assert!(at >= Instant::from_millis(204) && at < Instant::from_millis(208));
        // At Imin, another inconsistency changes nothing.
        tr.hear_inconsistent(Instant::from_millis(201), &mut rng);
        assert_eq!(tr.poll_at(), Some(at));
        tr.stop();
        assert_eq!(tr.poll_at(), None);
    }
}
