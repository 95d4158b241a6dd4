//! PANA-Relay codec round trip: new_checked → parse → buffer_len → emit → parse (RFC 6345 §4.1).
#![no_main]

use amimesh_pana::wire::Message;
use amimesh_pana_relay::{PacInformation, PacInformationRepr, RelayRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = PacInformation::new_checked(data) {
        let r = PacInformationRepr::parse(&p).unwrap();
        assert_eq!(&r.to_bytes()[..], data);
    }
    let Ok(m) = Message::new_checked(data) else {
        return;
    };
    let Ok(r) = RelayRepr::parse(&m) else {
        return;
    };
    let mut out = vec![0xa5u8; r.buffer_len()];
    assert_eq!(r.emit_into(&mut out), Ok(r.buffer_len()));
    let m2 = Message::new_checked(&out[..]).unwrap();
    let r2 = RelayRepr::parse(&m2).unwrap();
    assert_eq!(r, r2);
    let mut out2 = vec![0u8; r2.buffer_len()];
    r2.emit(&mut out2);
    assert_eq!(out, out2);
});
