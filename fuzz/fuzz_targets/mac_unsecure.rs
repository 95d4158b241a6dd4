//! Secured-frame processing with a fixed key: `unsecure_frame` on arbitrary frames, then the
//! plaintext parsed again. Under cfg(fuzzing) the MIC check passes, so the fuzzer reaches the
//! code behind it.
#![no_main]

use amimesh_core::{Duration, ExtAddr, Instant, Key128, ShortAddr};
use amimesh_mac::security::ccm_star::CcmKey;
use amimesh_mac::security::counters::ReplayTable;
use amimesh_mac::security::frame::{KeyTable, unsecure_frame_checked};
use amimesh_mac::wire::{Frame, FrameRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut keys: KeyTable<2, 1> = KeyTable::new();
    let key = CcmKey::new(&Key128::new([
        0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd,
        0xce, 0xcf,
    ]));
    let _ = keys.add_key(Some(1), key.clone());
    let _ = keys.add_key(None, key);
    let _ = keys.add_device(ShortAddr(1), ExtAddr([0xac, 0xde, 0x48, 0, 0, 0, 0, 1]));
    let mut replay: ReplayTable<usize, 4> = ReplayTable::new(Duration::from_secs(1));
    let mut buf = data.to_vec();
    if let Ok(u) = unsecure_frame_checked(Instant::ZERO, &mut buf, &keys, &mut replay) {
        assert!(u.header_len <= u.len && u.len <= buf.len());
        // The same frame again is a replay.
        let mut again = data.to_vec();
        assert!(unsecure_frame_checked(Instant::ZERO, &mut again, &keys, &mut replay).is_err());
        if let Ok(f) = Frame::new_checked(&buf[..]) {
            let _ = FrameRepr::parse(&f);
        }
    }
});
