//! Frame counters (802.15.4-2020 §9.2.1 step d, §9.2.5 step k, §9.5 FrameCounter).
//!
//! - [`OutgoingCounter`]: one per key. Values are reserved in blocks through a
//!   [`CounterPersistence`] hook *before* they are used, and [`OutgoingCounter::restore`] starts
//!   from the reserved limit, so a reboot never reuses a nonce. 0xffffffff is never sent.
//! - [`ReplayTable`]: the highest accepted counter per (key, neighbour) in a table of fixed
//!   capacity `N`. Replays and duplicates are rejected and counted; a key that was retired
//!   keeps its entries for a configurable switch window, then they are dropped and frames
//!   under it are refused.

use crate::error::{Error, Result};
use amimesh_core::{Duration, ExtAddr, Instant};

/// Where an [`OutgoingCounter`] stores its reservation (non-volatile memory of the caller).
pub trait CounterPersistence {
    /// Durably records that counter values below `limit` may have been used. Return `false`
    /// if the write failed; the counter then refuses to hand out values beyond the old limit.
    fn persist(&mut self, limit: u32) -> bool;
}

/// A persistence hook that stores nothing (tests, volatile devices that rekey on boot).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPersistence;

impl CounterPersistence for NoPersistence {
    fn persist(&mut self, _limit: u32) -> bool {
        true
    }
}

/// The outgoing frame counter of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutgoingCounter {
    next: u32,
    reserved: u32,
    block: u32,
}

impl OutgoingCounter {
    /// The largest value that may be sent (0xffffffff is reserved, §9.2.1 step d).
    pub const MAX: u32 = 0xffff_fffe;

    /// A fresh counter starting at 0 that reserves `block` values per persistence write
    /// (`block` of 0 is treated as 1).
    pub const fn new(block: u32) -> Self {
        OutgoingCounter {
            next: 0,
            reserved: 0,
            block: if block == 0 { 1 } else { block },
        }
    }

    /// Restores a counter from the last persisted `limit`: it continues at `limit`, skipping
    /// every value that might have been used before the reboot.
    pub const fn restore(limit: u32, block: u32) -> Self {
        OutgoingCounter {
            next: limit,
            reserved: limit,
            block: if block == 0 { 1 } else { block },
        }
    }

    /// The value the next frame will carry.
    pub const fn peek(&self) -> u32 {
        self.next
    }

    /// The current persisted limit.
    pub const fn reserved(&self) -> u32 {
        self.reserved
    }

    /// Takes the next value, persisting a new reservation first when needed.
    ///
    /// # Errors
    /// [`Error::CounterExhausted`] when 0xfffffffe has been used or the persistence hook
    /// failed (the key must be replaced).
    pub fn next(&mut self, persist: &mut impl CounterPersistence) -> Result<u32> {
        if self.next > Self::MAX {
            return Err(Error::CounterExhausted);
        }
        if self.next >= self.reserved {
            let limit = self.next.saturating_add(self.block);
            if !persist.persist(limit) {
                return Err(Error::CounterExhausted);
            }
            self.reserved = limit;
        }
        let v = self.next;
        self.next = self.next.saturating_add(1);
        if v == u32::MAX {
            return Err(Error::CounterExhausted);
        }
        Ok(v)
    }
}

/// Counts kept by a [`ReplayTable`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayStats {
    /// Frames accepted.
    pub accepted: u64,
    /// Frames whose counter equals the last accepted one (duplicates, e.g. retransmissions).
    pub duplicates: u64,
    /// Frames whose counter is below the last accepted one.
    pub replays: u64,
    /// New neighbours refused because the table was full.
    pub table_full: u64,
    /// Frames under a key whose switch window has ended.
    pub retired_key: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry<K> {
    key: K,
    neighbour: ExtAddr,
    last: u32,
}

/// Incoming frame counters per (key, neighbour), capacity `N`; `K` names a key (for example
/// its key index). Up to `R` retired keys are remembered.
#[derive(Debug, Clone)]
pub struct ReplayTable<K: Copy + Eq, const N: usize, const R: usize = 4> {
    entries: [Option<Entry<K>>; N],
    retired: [Option<(K, Instant)>; R],
    switch_window: Duration,
    stats: ReplayStats,
}

impl<K: Copy + Eq, const N: usize, const R: usize> ReplayTable<K, N, R> {
    /// An empty table; counters of a retired key live on for `switch_window`.
    pub const fn new(switch_window: Duration) -> Self {
        ReplayTable {
            entries: [None; N],
            retired: [None; R],
            switch_window,
            stats: ReplayStats {
                accepted: 0,
                duplicates: 0,
                replays: 0,
                table_full: 0,
                retired_key: 0,
            },
        }
    }

    /// The counters.
    pub const fn stats(&self) -> &ReplayStats {
        &self.stats
    }

    /// Number of (key, neighbour) entries.
    pub fn len(&self) -> usize {
        self.entries.iter().flatten().count()
    }

    /// `true` when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The last accepted counter of `neighbour` under `key`.
    pub fn last(&self, key: K, neighbour: ExtAddr) -> Option<u32> {
        self.find(key, neighbour)
            .and_then(|i| self.entries.get(i).copied().flatten())
            .map(|e| e.last)
    }

    fn find(&self, key: K, neighbour: ExtAddr) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| matches!(e, Some(e) if e.key == key && e.neighbour == neighbour))
    }

    fn retired_expired(&self, now: Instant, key: K) -> bool {
        self.retired.iter().flatten().any(|(k, at)| {
            *k == key && now >= at.checked_add(self.switch_window).unwrap_or(Instant::MAX)
        })
    }

    /// Checks `frame_counter` without recording it (call before the MIC check, then
    /// [`ReplayTable::accept`] after it).
    ///
    /// # Errors
    /// [`Error::Replay`] for a duplicate or older counter; [`Error::NoKey`] for a key whose
    /// switch window has ended. Both are counted.
    pub fn check(
        &mut self,
        now: Instant,
        key: K,
        neighbour: ExtAddr,
        frame_counter: u32,
    ) -> Result<()> {
        if self.retired_expired(now, key) {
            self.stats.retired_key = self.stats.retired_key.saturating_add(1);
            return Err(Error::NoKey);
        }
        if let Some(last) = self.last(key, neighbour) {
            if frame_counter <= last {
                if frame_counter == last {
                    self.stats.duplicates = self.stats.duplicates.saturating_add(1);
                } else {
                    self.stats.replays = self.stats.replays.saturating_add(1);
                }
                return Err(Error::Replay { frame_counter });
            }
        }
        Ok(())
    }

    /// Checks and records `frame_counter` of an authentic frame.
    ///
    /// # Errors
    /// As [`ReplayTable::check`], plus [`Error::TableFull`] (counted) for a new neighbour when
    /// all `N` entries are taken.
    pub fn accept(
        &mut self,
        now: Instant,
        key: K,
        neighbour: ExtAddr,
        frame_counter: u32,
    ) -> Result<()> {
        self.check(now, key, neighbour, frame_counter)?;
        self.set(key, neighbour, frame_counter)?;
        self.stats.accepted = self.stats.accepted.saturating_add(1);
        Ok(())
    }

    /// Installs a baseline learnt out of band (MLE Link Accept): frames with a counter at or
    /// below `last_seen` are refused from now on.
    ///
    /// # Errors
    /// [`Error::TableFull`] (counted).
    pub fn set(&mut self, key: K, neighbour: ExtAddr, last_seen: u32) -> Result<()> {
        let e = Entry {
            key,
            neighbour,
            last: last_seen,
        };
        let slot = match self.find(key, neighbour) {
            Some(i) => self.entries.get_mut(i),
            None => self.entries.iter_mut().find(|e| e.is_none()),
        };
        match slot {
            Some(s) => {
                *s = Some(e);
                Ok(())
            }
            None => {
                self.stats.table_full = self.stats.table_full.saturating_add(1);
                Err(Error::TableFull)
            }
        }
    }

    /// Forgets every counter of `neighbour`.
    pub fn remove_neighbour(&mut self, neighbour: ExtAddr) {
        for e in self.entries.iter_mut() {
            if matches!(e, Some(x) if x.neighbour == neighbour) {
                *e = None;
            }
        }
    }

    /// Marks `key` as retired at `now` (a new key took over). Its counters stay valid for the
    /// switch window. When `R` keys are already retired, the oldest is forgotten at once.
    pub fn retire_key(&mut self, now: Instant, key: K) {
        if self.retired.iter().flatten().any(|(k, _)| *k == key) {
            return;
        }
        let slot = match self.retired.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                let oldest = self
                    .retired
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, r)| r.map(|(_, at)| at))
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                if let Some(Some((k, _))) = self.retired.get(oldest).copied() {
                    self.drop_key(k);
                }
                oldest
            }
        };
        if let Some(s) = self.retired.get_mut(slot) {
            *s = Some((key, now));
        }
    }

    fn drop_key(&mut self, key: K) {
        for e in self.entries.iter_mut() {
            if matches!(e, Some(x) if x.key == key) {
                *e = None;
            }
        }
    }

    /// Drops the counters of retired keys whose switch window has ended. Call it from the
    /// owner's timer handling; [`ReplayTable::check`] refuses such keys even before.
    pub fn expire(&mut self, now: Instant) {
        let window = self.switch_window;
        let mut done: [Option<K>; R] = [None; R];
        for (r, d) in self.retired.iter().zip(done.iter_mut()) {
            if let Some((k, at)) = r {
                if now >= at.checked_add(window).unwrap_or(Instant::MAX) {
                    *d = Some(*k);
                }
            }
        }
        for k in done.into_iter().flatten() {
            self.drop_key(k);
        }
    }

    /// When the next retired key's window ends, for the owner's `poll_timeout`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retired
            .iter()
            .flatten()
            .filter(|(k, _)| self.entries.iter().flatten().any(|e| e.key == *k))
            .filter_map(|(_, at)| at.checked_add(self.switch_window))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Flash {
        limit: Option<u32>,
        writes: u32,
        fail: bool,
    }
    impl CounterPersistence for Flash {
        fn persist(&mut self, limit: u32) -> bool {
            if self.fail {
                return false;
            }
            self.limit = Some(limit);
            self.writes += 1;
            true
        }
    }

    #[test]
    fn outgoing_reserves_and_jumps_ahead() {
        let mut flash = Flash {
            limit: None,
            writes: 0,
            fail: false,
        };
        let mut c = OutgoingCounter::new(100);
        let used: alloc::vec::Vec<u32> = (0..150).map(|_| c.next(&mut flash).unwrap()).collect();
        assert_eq!(used.first(), Some(&0));
        assert_eq!(used.last(), Some(&149));
        assert_eq!(flash.writes, 2);
        assert_eq!(flash.limit, Some(200));
        // Reboot: continue at the persisted limit, never below anything used.
        let mut r = OutgoingCounter::restore(flash.limit.unwrap(), 100);
        let v = r.next(&mut flash).unwrap();
        assert_eq!(v, 200);
        assert!(used.iter().all(|u| *u < v));
        assert_eq!(flash.limit, Some(300));
    }

    #[test]
    fn outgoing_exhaustion_and_failed_persist() {
        let mut c = OutgoingCounter::restore(OutgoingCounter::MAX, 10);
        assert_eq!(c.next(&mut NoPersistence), Ok(0xffff_fffe));
        assert_eq!(c.next(&mut NoPersistence), Err(Error::CounterExhausted));
        let mut flash = Flash {
            limit: None,
            writes: 0,
            fail: true,
        };
        let mut c = OutgoingCounter::new(0);
        assert_eq!(c.next(&mut flash), Err(Error::CounterExhausted));
        assert_eq!(c.peek(), 0);
    }

    const A: ExtAddr = ExtAddr([0, 0x12, 0x4b, 0, 0, 0, 0, 1]);
    const B: ExtAddr = ExtAddr([0, 0x12, 0x4b, 0, 0, 0, 0, 2]);
    const T0: Instant = Instant::ZERO;

    #[test]
    fn replays_and_duplicates_are_rejected_and_counted() {
        let mut t: ReplayTable<u8, 2> = ReplayTable::new(Duration::from_secs(10));
        t.accept(T0, 1, A, 5).unwrap();
        assert_eq!(
            t.accept(T0, 1, A, 5),
            Err(Error::Replay { frame_counter: 5 })
        );
        assert_eq!(
            t.accept(T0, 1, A, 4),
            Err(Error::Replay { frame_counter: 4 })
        );
        t.accept(T0, 1, A, 6).unwrap();
        // Another key or neighbour has its own counter.
        t.accept(T0, 2, A, 1).unwrap();
        assert_eq!(t.stats().duplicates, 1);
        assert_eq!(t.stats().replays, 1);
        assert_eq!(t.stats().accepted, 3);
        assert_eq!(t.last(1, A), Some(6));
        // Full: a third (key, neighbour) is refused and counted.
        assert_eq!(t.accept(T0, 1, B, 1), Err(Error::TableFull));
        assert_eq!(t.stats().table_full, 1);
        t.remove_neighbour(A);
        assert!(t.is_empty());
        t.accept(T0, 1, B, 1).unwrap();
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn retired_key_kept_for_switch_window() {
        let mut t: ReplayTable<u8, 4, 1> = ReplayTable::new(Duration::from_secs(10));
        t.set(1, A, 100).unwrap();
        let retired_at = T0 + Duration::from_secs(5);
        t.retire_key(retired_at, 1);
        assert_eq!(t.poll_timeout(), Some(retired_at + Duration::from_secs(10)));
        // Inside the window: still checked against the kept counter.
        let inside = retired_at + Duration::from_secs(9);
        assert_eq!(
            t.accept(inside, 1, A, 100),
            Err(Error::Replay { frame_counter: 100 })
        );
        t.accept(inside, 1, A, 101).unwrap();
        // After the window: the key is refused and its counters dropped.
        let after = retired_at + Duration::from_secs(10);
        assert_eq!(t.check(after, 1, A, 500), Err(Error::NoKey));
        assert_eq!(t.stats().retired_key, 1);
        t.expire(after);
        assert_eq!(t.last(1, A), None);
        assert_eq!(t.poll_timeout(), None);
        // Retiring a second key with R = 1 forgets the first one's entries at once.
        t.set(2, A, 7).unwrap();
        t.retire_key(after, 2);
        t.set(3, B, 1).unwrap();
        t.retire_key(after, 3);
        assert_eq!(t.last(2, A), None);
        assert_eq!(t.last(3, B), Some(1));
    }
}
