//! amimesh-sim's air log decoding arbitrary PSDUs (802.15.4 with the field network key, 6LoWPAN
//! with RFC 8138 page 1, IPv6 with its extension headers and source routes, then PANA, MLE or
//! RPL; fragments named after their first one): never panics, and every frame is recorded at
//! its full size.
//!
//! Under `cfg(fuzzing)` MIC checks pass, so secured frames reach the layers behind them.
#![no_main]

use amimesh_core::Instant;
use amimesh_sim::airlog::AirLog;
use amimesh_sim::device::network_key;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // With the field's mesh prefix as context 0, as the simulate example decodes.
    let mut log = AirLog::new(4, &network_key(), 1)
        .with_mesh_context("2001:db8:a::".parse().unwrap(), 64);
    // The input is several PSDUs, each prefixed by its length byte, so that MLE state carried
    // from frame to frame is reached too.
    let mut rest = data;
    let mut at = Instant::ZERO;
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        let (psdu, next) = tail.split_at(n);
        let f = log.classify(at, 1, psdu);
        assert_eq!(f.len, psdu.len());
        at += amimesh_core::Duration::from_millis(1);
        rest = next;
    }
});
