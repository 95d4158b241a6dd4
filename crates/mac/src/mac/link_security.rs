//! Link-layer security as the MAC applies it: which frames are secured (a caller policy), the
//! MAC keys by key index, the outgoing frame counter and the incoming replay table.
//!
//! The cryptography and the counters are the crate's [`crate::security`] module; this module
//! only holds the state the MAC state machine keeps around them.
//!
//! Policy (DESIGN "Keys and counters"): data frames at level 5 (ENC-MIC-32) by default, key id
//! mode 1, key index = the network key's index; beacons and beacon requests always unsecured.
//! A send request may override the policy to send one frame unsecured (PANA to a neighbour
//! that has no key yet). Incoming frames are passed up as [`RxSecurity::Secured`] or
//! [`RxSecurity::Unsecured`]; the device layer decides what an unsecured frame may carry.

// The MAC state (below) needs `alloc`; the policy types do not.
#![cfg_attr(not(feature = "alloc"), allow(unused_imports))]

use amimesh_core::{Duration, ExtAddr, Instant, Key128};

use crate::security::SecurityLevel;
use crate::security::ccm_star::CcmKey;
use crate::security::counters::{CounterPersistence, OutgoingCounter, ReplayTable};

/// Number of MAC keys held at once (current, next, and retired keys in their switch window).
pub const MAX_KEYS: usize = 4;
/// Capacity of the replay table: (key, neighbour) pairs.
pub const REPLAY_CAPACITY: usize = 64;
/// Outgoing frame-counter values reserved per persistence write.
pub const COUNTER_BLOCK: u32 = 1024;

/// Which security level each kind of outgoing frame gets. Beacons and Beacon Requests are
/// always sent unsecured (they are what an unauthenticated node can hear and send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityPolicy {
    /// Level for unicast data frames.
    pub data: SecurityLevel,
    /// Level for broadcast data frames.
    pub broadcast: SecurityLevel,
}

impl SecurityPolicy {
    /// The level for a data frame to `dst`.
    pub fn data_level(&self, dst: &amimesh_core::LinkAddr) -> SecurityLevel {
        if dst.is_broadcast() || matches!(dst, amimesh_core::LinkAddr::Absent) {
            self.broadcast
        } else {
            self.data
        }
    }

    /// Nothing secured (before the network key is known).
    pub const UNSECURED: SecurityPolicy = SecurityPolicy {
        data: SecurityLevel::None,
        broadcast: SecurityLevel::None,
    };
    /// The amimesh profile: data (unicast and broadcast) at ENC-MIC-32.
    pub const PROFILE: SecurityPolicy = SecurityPolicy {
        data: SecurityLevel::EncMic32,
        broadcast: SecurityLevel::EncMic32,
    };
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        SecurityPolicy::UNSECURED
    }
}

/// Per-request security choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TxSecurity {
    /// As the [`SecurityPolicy`] says.
    #[default]
    Policy,
    /// Unsecured whatever the policy (e.g. PANA to an unauthenticated neighbour).
    Unsecured,
    /// This level.
    Level(SecurityLevel),
}

/// How an incoming frame was protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxSecurity {
    /// No security: the device layer must apply the rules for unauthenticated neighbours.
    Unsecured,
    /// Verified (and decrypted) with the MAC key of `key_index`; the counter passed the replay
    /// check.
    Secured {
        /// Security level of the frame.
        level: SecurityLevel,
        /// Key index (key id mode 1).
        key_index: u8,
        /// Frame counter.
        frame_counter: u32,
    },
}

/// Records the reservation the outgoing counter asks to persist, so the MAC can report it as an
/// event (the caller stores it; see [`super::Event::FrameCounterReserved`]).
#[cfg(feature = "alloc")]
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) limit: Option<u32>,
}

#[cfg(feature = "alloc")]
impl CounterPersistence for Recorder {
    fn persist(&mut self, limit: u32) -> bool {
        self.limit = Some(limit);
        true
    }
}

/// The security state of one MAC.
#[cfg(feature = "alloc")]
#[derive(Debug)]
pub(crate) struct LinkSecurity {
    pub(crate) keys: super::frame_io::KeyStore<MAX_KEYS>,
    pub(crate) tx_key: Option<u8>,
    pub(crate) counter: OutgoingCounter,
    pub(crate) replay: ReplayTable<u8, REPLAY_CAPACITY>,
    pub(crate) policy: SecurityPolicy,
}

#[cfg(feature = "alloc")]
impl LinkSecurity {
    pub(crate) fn new(counter_start: u32, switch_window: Duration) -> Self {
        LinkSecurity {
            keys: super::frame_io::KeyStore {
                slots: [const { None }; MAX_KEYS],
                devices: [None; super::frame_io::MAX_DEVICES],
            },
            tx_key: None,
            counter: OutgoingCounter::restore(counter_start, COUNTER_BLOCK),
            replay: ReplayTable::new(switch_window),
            policy: SecurityPolicy::UNSECURED,
        }
    }

    /// Installs (or replaces) the MAC key of `index`; returns `false` when all slots hold other
    /// keys.
    pub(crate) fn install(&mut self, index: u8, key: &Key128) -> bool {
        let ck = CcmKey::new(key);
        if let Some(slot) = self
            .keys
            .slots
            .iter_mut()
            .flatten()
            .find(|(i, _)| *i == index)
        {
            slot.1 = ck;
            return true;
        }
        match self.keys.slots.iter_mut().find(|s| s.is_none()) {
            Some(slot) => {
                *slot = Some((index, ck));
                true
            }
            None => false,
        }
    }

    pub(crate) fn remove(&mut self, index: u8) {
        for s in self.keys.slots.iter_mut() {
            if matches!(s, Some((i, _)) if *i == index) {
                *s = None;
            }
        }
        if self.tx_key == Some(index) {
            self.tx_key = None;
        }
    }

    pub(crate) fn key(&self, index: u8) -> Option<&CcmKey> {
        self.keys
            .slots
            .iter()
            .flatten()
            .find(|(i, _)| *i == index)
            .map(|(_, k)| k)
    }

    pub(crate) fn retire(&mut self, now: Instant, index: u8) {
        self.replay.retire_key(now, index);
    }

    pub(crate) fn set_neighbour_counter(
        &mut self,
        index: u8,
        neighbour: ExtAddr,
        last_seen: u32,
    ) -> bool {
        self.replay.set(index, neighbour, last_seen).is_ok()
    }
}
