//! The beacon-payload codec: `new_checked → parse → buffer_len → emit`, and the emitted bytes
//! parse back to the same Repr.

#![no_main]

use amimesh_mac::mac::beacon_payload::{BeaconPayload, BeaconPayloadRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(view) = BeaconPayload::new_checked(data) else {
        return;
    };
    let _ = view.network_id();
    let _ = view.tlvs().count();
    let Ok(repr) = BeaconPayloadRepr::parse(&view) else {
        return;
    };
    let mut buf = [0u8; 128];
    let n = repr.emit(&mut buf).expect("a parsed payload fits 128 bytes");
    assert_eq!(n, repr.buffer_len());
    let again = BeaconPayloadRepr::parse(&BeaconPayload::new_checked(&buf[..n]).unwrap()).unwrap();
    assert_eq!(again, repr);
});
