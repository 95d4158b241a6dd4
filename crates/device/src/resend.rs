//! Sending a join frame again after the MAC gave up on it.
//!
//! The PANA messages between a joining meter (PaC) and its PRE cross one unsecured link
//! (RFC 6345 §2). When the MAC gives up on such a frame (no ACK after `macMaxFrameRetries`,
//! or a channel access failure, 802.15.4-2020 §6.7.4.3), the loss is otherwise repaired only
//! end to end: the PAA sends its request again after its retransmission timer (RFC 5191 §9,
//! 1 s and doubling), across every hop between it and the PRE, or the PaC waits for the next
//! request. The MAC's retries follow each other within a few backoff periods and so fail
//! together when the receiver is busy for longer (a PRE that relays many handshakes, or a
//! hidden neighbour's long frame). [`JoinResend`] keeps a copy of each single-frame join
//! message and hands it to the MAC again once or more, after a random 100–500 ms: a repair
//! over the one link that failed, sooner than the PAA's timer.
//!
//! Only unsecured link-local PANA is kept (so only join traffic, and only while it is one
//! frame); the table has a fixed capacity and the oldest copy goes when it is full.

use alloc::vec::Vec;
use amimesh_core::{Duration, Instant, LinkAddr};

/// Copies kept at once.
pub(crate) const CAPACITY: usize = 8;
/// The shortest and longest wait before a copy is sent again.
pub(crate) const DELAY_MIN: Duration = Duration::from_millis(100);
pub(crate) const DELAY_SPAN_MS: u32 = 400;

#[derive(Debug, Clone)]
struct Entry {
    /// The MAC handle of the frame's latest transmission.
    handle: u32,
    dst: LinkAddr,
    payload: Vec<u8>,
    /// Sends still allowed after a failure.
    left: u8,
    /// When to hand it to the MAC again (after a failure).
    due: Option<Instant>,
}

/// What to do after the MAC reported on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Not a kept frame, or kept no longer.
    Done,
    /// Scheduled to go again at this instant.
    Again(Instant),
}

/// The kept join frames of one device.
#[derive(Debug)]
pub(crate) struct JoinResend {
    /// At most [`CAPACITY`] entries.
    entries: Vec<Entry>,
    /// Copies handed to the MAC again.
    pub(crate) resent: u64,
}

impl JoinResend {
    pub(crate) fn new() -> Self {
        JoinResend {
            entries: Vec::with_capacity(CAPACITY),
            resent: 0,
        }
    }

    /// Keeps a copy of the frame just queued with `handle`, to be sent up to `times` more.
    pub(crate) fn keep(&mut self, handle: u32, dst: LinkAddr, payload: &[u8], times: u8) {
        if times == 0 {
            return;
        }
        if self.entries.len() >= CAPACITY && !self.entries.is_empty() {
            self.entries.remove(0);
        }
        self.entries.push(Entry {
            handle,
            dst,
            payload: payload.to_vec(),
            left: times,
            due: None,
        });
    }

    /// Is the frame with `handle` kept?
    pub(crate) fn holds(&self, handle: u32) -> bool {
        self.entries.iter().any(|e| e.handle == handle)
    }

    /// The MAC's outcome for `handle`: a success or the last allowed failure forgets the copy;
    /// another failure schedules it `jitter` (0–1) of the delay span after 100 ms.
    pub(crate) fn on_tx_done(
        &mut self,
        now: Instant,
        handle: u32,
        success: bool,
        jitter: u32,
    ) -> Outcome {
        let Some(i) = self.entries.iter().position(|e| e.handle == handle) else {
            return Outcome::Done;
        };
        let keep = !success && self.entries.get(i).is_some_and(|e| e.left > 0);
        if !keep {
            self.entries.remove(i);
            return Outcome::Done;
        }
        let at = now + DELAY_MIN + Duration::from_millis(u64::from(jitter % (DELAY_SPAN_MS + 1)));
        if let Some(e) = self.entries.get_mut(i) {
            e.due = Some(at);
        }
        Outcome::Again(at)
    }

    /// The copies due at `now`: `(destination, payload)`; each is marked sent, its handle to be
    /// set with [`JoinResend::sent`].
    pub(crate) fn take_due(&mut self, now: Instant) -> Option<(usize, LinkAddr, Vec<u8>)> {
        let i = self
            .entries
            .iter()
            .position(|e| e.due.is_some_and(|d| d <= now))?;
        let e = self.entries.get_mut(i)?;
        e.due = None;
        e.left = e.left.saturating_sub(1);
        Some((i, e.dst, e.payload.clone()))
    }

    /// The copy at `index` (from [`JoinResend::take_due`]) went to the MAC as `handle`, or was
    /// refused (`None`: forgotten).
    pub(crate) fn sent(&mut self, index: usize, handle: Option<u32>) {
        match handle {
            Some(h) => {
                if let Some(e) = self.entries.get_mut(index) {
                    e.handle = h;
                }
                self.resent = self.resent.saturating_add(1);
            }
            None if index < self.entries.len() => {
                self.entries.remove(index);
            }
            None => {}
        }
    }

    /// The earliest instant a copy is due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.entries.iter().filter_map(|e| e.due).min()
    }

    /// Forgets every copy.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amimesh_core::ExtAddr;

    fn pre() -> LinkAddr {
        LinkAddr::Extended(ExtAddr::from_u64(9))
    }

    #[test]
    fn a_failed_frame_goes_again_after_the_delay_and_a_success_forgets_it() {
        let mut r = JoinResend::new();
        let t0 = Instant::from_secs(10);
        r.keep(1, pre(), b"PAN[S]", 2);
        assert_eq!(r.poll_timeout(), None);
        assert_eq!(
            r.on_tx_done(t0, 1, false, 150),
            Outcome::Again(t0 + Duration::from_millis(250))
        );
        assert_eq!(r.take_due(t0 + Duration::from_millis(249)), None);
        let (i, dst, p) = r.take_due(t0 + Duration::from_millis(250)).unwrap();
        assert_eq!((dst, p.as_slice()), (pre(), &b"PAN[S]"[..]));
        r.sent(i, Some(2));
        assert_eq!(r.resent, 1);
        // The old handle no longer matches; the new one succeeds and the copy is gone.
        assert_eq!(r.on_tx_done(t0, 1, false, 0), Outcome::Done);
        assert_eq!(r.on_tx_done(t0, 2, true, 0), Outcome::Done);
        assert_eq!(r.on_tx_done(t0, 2, false, 0), Outcome::Done);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn sends_stop_after_the_allowed_number() {
        let mut r = JoinResend::new();
        let mut now = Instant::from_secs(1);
        r.keep(7, pre(), b"x", 2);
        let mut handle = 7;
        let mut again = 0;
        while let Outcome::Again(at) = r.on_tx_done(now, handle, false, 400) {
            assert!(at <= now + Duration::from_millis(500));
            now = at;
            let (i, _, _) = r.take_due(now).unwrap();
            handle += 1;
            r.sent(i, Some(handle));
            again += 1;
        }
        assert_eq!(again, 2);
        assert_eq!(r.resent, 2);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn the_table_is_bounded_and_zero_sends_keep_nothing() {
        let mut r = JoinResend::new();
        r.keep(1, pre(), b"none", 0);
        assert_eq!(r.on_tx_done(Instant::ZERO, 1, false, 0), Outcome::Done);
        for h in 0..(CAPACITY as u32 + 5) {
            r.keep(100 + h, pre(), &[0; 200], 1);
        }
        assert_eq!(r.entries.len(), CAPACITY);
        // The oldest were dropped.
        assert_eq!(r.on_tx_done(Instant::ZERO, 100, false, 0), Outcome::Done);
        assert!(matches!(
            r.on_tx_done(Instant::ZERO, 104 + CAPACITY as u32, false, 0),
            Outcome::Again(_)
        ));
        r.clear();
        assert_eq!(r.poll_timeout(), None);
    }
}
