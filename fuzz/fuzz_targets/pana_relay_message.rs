//! The PRE's acceptance of PANA-Relay from the PAA (`parse_relay`: header rule of RFC 6345
//! §4.1, one PaC-Information and one Relayed-Message, inner message well-formed and not
//! PANA-Relay) and of messages to relay (`check_inner`): never a panic, and anything accepted
//! re-emits through amimesh-pana's codec to an accepted message with the same content.
#![no_main]

use amimesh_pana_relay::{check_inner, parse_relay};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(inner) = check_inner(data) {
        assert_eq!(inner.buffer_len(), data.len());
    }
    let Ok(r) = parse_relay(data) else {
        return;
    };
    assert!(check_inner(r.relayed).is_ok());
    let mut out = vec![0xa5u8; r.buffer_len()];
    assert_eq!(r.emit(&mut out), Ok(out.len()));
    assert_eq!(parse_relay(&out), Ok(r));
});
