//! Reassembler fed arbitrary fragment sequences: it never panics and never holds more than
//! its configured buffers and bytes.
//!
//! Input: records of `[control, length, bytes…]`; the control byte picks the link source
//! (4 peers) and how far the clock advances.
#![no_main]

use amimesh_core::{Duration, Instant, LinkAddr, ShortAddr};
use amimesh_sixlowpan::{ContextTable, Reassembler, ReassemblyConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = ReassemblyConfig {
        buffers: 3,
        max_bytes: 2500,
        max_datagram: 1280,
        timeout: Duration::from_secs(60),
    };
    let mut r = Reassembler::new(cfg);
    let ctx = ContextTable::new();
    let mut now = Instant::ZERO;
    let mut rest = data;
    while let [ctl, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (frame, next) = tail.split_at(n);
        rest = next;
        now += Duration::from_secs(u64::from(ctl >> 4) * 5);
        let src = LinkAddr::Short(ShortAddr(u16::from(ctl & 3)));
        if let Some(d) = r.handle_fragment(now, src, LinkAddr::Short(ShortAddr(9)), &ctx, frame) {
            assert!(d.packet.len() <= cfg.max_datagram);
        }
        assert!(r.bytes_used() <= cfg.max_bytes);
        assert!(r.in_progress() <= cfg.buffers);
        if r.poll_timeout().is_some_and(|t| t <= now) {
            r.handle_timeout(now);
        }
    }
});
