//! Receiver-directed channel use: each node listens on a channel of its own.
//!
//! Without a plan every node of the PAN shares one channel, and a node that relays for many
//! others (the PAN coordinator and its first ring) contends for it with all of them. With a
//! [`ChannelPlan`] of `count` channels each node listens, when idle, on its *home channel*,
//! which is a function of its EUI-64 alone ([`ChannelPlan::home`]), so every neighbour knows it
//! without asking. Then:
//!
//! - a unicast frame is sent on the home channel of its destination (CSMA-CA, 802.15.4-2020
//!   §6.2.5.1, senses that channel), and the sender stays on that channel for the ACK;
//! - the receiver sends its immediate ACK on the channel it received on, its home channel;
//! - a broadcast frame is sent once on every channel of the plan in turn, each copy with its own
//!   CSMA-CA, so that every neighbour hears one copy whatever its home channel;
//! - an active scan (§6.3.1) visits every channel of the plan; a router answers a Beacon
//!   Request on its home channel, so a scan finds each neighbour on that neighbour's channel.
//!
//! A sender cannot sense a neighbour that is transmitting on another channel, so a frame may
//! reach a receiver that is away; the MAC then retries after a backoff drawn with
//! BE = `macMaxBE` rather than `macMinBE`, to let the receiver come back.
//!
//! Frames to different receivers near a busy node then go on different channels and no longer
//! defer to or collide with each other; only the frames to one receiver share its channel.
//! This is the fixed-channel unicast schedule of channel-hopping SUN networks (Wi-SUN FAN's
//! channel function 0) with the channel derived from the address instead of advertised; it
//! needs no time synchronisation. A plan of one channel is the single-channel PAN.
//!
//! The destination of a unicast frame must be an extended address under a plan (the home
//! channel of a short address is not known).

use amimesh_core::ExtAddr;

/// Most channels a plan holds: the most one active scan visits (`Mac`'s
/// `MAX_SCAN_CHANNELS`), so that a joining node finds every router of the plan in one scan.
pub const MAX_CHANNELS: u8 = 64;

/// A set of `count` consecutive channels starting at `first`, and the home channel of each
/// node in it. See the [module documentation](self).
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelPlan {
    /// The lowest channel number of the plan.
    pub first: u8,
    /// Number of channels: at least 1 and at most [`MAX_CHANNELS`] (so that one active scan
    /// visits them all); a plan reaching past channel 255 is cut there.
    pub count: u8,
}

impl ChannelPlan {
    /// `count` channels from `first`.
    pub const fn new(first: u8, count: u8) -> Self {
        ChannelPlan { first, count }
    }

    /// The number of channels actually in the plan: `count`, at least 1, at most 64 and
    /// not past channel 255.
    pub fn len(&self) -> u8 {
        let room = (u8::MAX - self.first).saturating_add(1);
        self.count.clamp(1, room.clamp(1, MAX_CHANNELS))
    }

    /// A plan always has at least one channel.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The channels of the plan, lowest first.
    pub fn channels(&self) -> impl Iterator<Item = u8> + '_ {
        let first = self.first;
        (0..self.len()).map(move |i| first.saturating_add(i))
    }

    /// Does the plan contain `channel`?
    pub fn contains(&self, channel: u8) -> bool {
        channel >= self.first && channel - self.first < self.len()
    }

    /// The home channel of the node with EUI-64 `addr`: the 64-bit value of the address
    /// (big-endian) mixed with the SplitMix64 finaliser, reduced modulo the plan's length. The
    /// mix spreads addresses that differ only in their low octets (one vendor's consecutive
    /// serial numbers) evenly over the channels.
    pub fn home(&self, addr: &ExtAddr) -> u8 {
        let mut z = u64::from_be_bytes(addr.0);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let n = u64::from(self.len());
        // `z % n < n ≤ 255`.
        self.first
            .saturating_add(u8::try_from(z % n).unwrap_or_default())
    }

    /// The channel after `channel` in the plan, wrapping to the first.
    pub fn next(&self, channel: u8) -> u8 {
        let i = channel.wrapping_sub(self.first);
        if i.saturating_add(1) >= self.len() {
            self.first
        } else {
            channel.saturating_add(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eui(i: u64) -> ExtAddr {
        ExtAddr((0x0012_4b00_0000_0000u64 + i).to_be_bytes())
    }

    #[test]
    fn home_is_in_the_plan_and_stable() {
        let p = ChannelPlan::new(24, 8);
        for i in 0..500 {
            let h = p.home(&eui(i));
            assert!(p.contains(h), "{h}");
            assert_eq!(h, p.home(&eui(i)));
        }
    }

    #[test]
    fn consecutive_addresses_spread_over_every_channel() {
        let p = ChannelPlan::new(1, 8);
        let mut per = [0u32; 8];
        for i in 0..8000 {
            per[usize::from(p.home(&eui(i)) - 1)] += 1;
        }
        // 1000 expected per channel; a mix that maps consecutive serials badly is far off.
        for (ch, n) in per.iter().enumerate() {
            assert!((880..=1120).contains(n), "channel {}: {n}", ch + 1);
        }
    }

    #[test]
    fn one_channel_plan_is_the_single_channel() {
        let p = ChannelPlan::new(11, 1);
        assert_eq!(p.home(&eui(7)), 11);
        assert_eq!(p.next(11), 11);
        assert_eq!(p.channels().collect::<alloc::vec::Vec<_>>(), [11]);
        // A count of zero is one channel.
        assert_eq!(ChannelPlan::new(5, 0).len(), 1);
    }

    #[test]
    fn next_walks_the_plan_and_wraps() {
        let p = ChannelPlan::new(11, 16);
        let walk: alloc::vec::Vec<u8> = core::iter::successors(Some(11u8), |c| Some(p.next(*c)))
            .take(17)
            .collect();
        assert_eq!(walk.first(), Some(&11));
        assert_eq!(walk.get(15), Some(&26));
        assert_eq!(walk.get(16), Some(&11));
        assert!(p.contains(26) && !p.contains(27) && !p.contains(10));
    }

    proptest::proptest! {
        #[test]
        fn every_address_has_a_home_in_any_plan(first: u8, count: u8, addr: [u8; 8]) {
            let p = ChannelPlan::new(first, count);
            let h = p.home(&ExtAddr(addr));
            proptest::prop_assert!(p.contains(h));
            proptest::prop_assert!(p.channels().any(|c| c == h));
        }

        #[test]
        fn next_visits_every_channel_once_per_cycle(first: u8, count: u8, start in 0u8..=255) {
            let p = ChannelPlan::new(first, count);
            let n = usize::from(p.len());
            let c0 = p.first.saturating_add(start % p.len());
            let mut seen = alloc::vec::Vec::new();
            let mut c = c0;
            for _ in 0..n {
                seen.push(c);
                c = p.next(c);
            }
            proptest::prop_assert_eq!(c, c0);
            seen.sort_unstable();
            proptest::prop_assert_eq!(seen, p.channels().collect::<alloc::vec::Vec<_>>());
        }
    }

    #[test]
    fn plan_longer_than_one_scan_is_cut_to_64() {
        let p = ChannelPlan::new(0, 200);
        assert_eq!(p.len(), 64);
        assert_eq!(p.channels().last(), Some(63));
        assert!(!p.contains(64));
    }

    #[test]
    fn plan_reaching_past_255_is_cut() {
        let p = ChannelPlan::new(250, 10);
        assert_eq!(p.len(), 6);
        assert_eq!(p.channels().last(), Some(255));
        assert_eq!(p.next(255), 250);
        for i in 0..100 {
            assert!(p.home(&eui(i)) >= 250);
        }
    }
}
