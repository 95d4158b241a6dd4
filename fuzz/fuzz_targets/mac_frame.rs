//! IEEE 802.15.4 frame parse round trip: `new_checked → parse → buffer_len → emit → parse`
//! must give the same Repr; beacons and MAC commands inside round-trip too.
#![no_main]

use amimesh_mac::wire::{BeaconRepr, Frame, FrameRepr, FrameType, MacCommandRepr, PsduConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The PSDU path (FCS checks pass under cfg(fuzzing)).
    let _ = PsduConfig::IEEE802154.check(data);
    let Ok(frame) = Frame::new_checked(data) else {
        return;
    };
    let _ = (frame.dst_addr(), frame.src_addr(), frame.mic(), frame.payload());
    let _ = frame.header_ies().count() + frame.payload_ies().count();
    let Ok(repr) = FrameRepr::parse(&frame) else {
        return;
    };
    let mut out = vec![0u8; repr.buffer_len()];
    let n = repr.emit_into(&mut out).expect("a parsed Repr emits");
    assert_eq!(n, repr.buffer_len());
    let again = FrameRepr::parse(&Frame::new_checked(&out[..]).expect("emitted frame checks"))
        .expect("emitted frame parses");
    assert_eq!(again, repr);
    if repr.security.is_none() {
        match repr.frame_type {
            FrameType::Beacon => {
                if let Ok(b) = BeaconRepr::parse(repr.payload()) {
                    let mut out = vec![0u8; b.buffer_len()];
                    b.emit(&mut out).expect("beacon emits");
                    assert_eq!(BeaconRepr::parse(&out).expect("beacon parses"), b);
                }
            }
            FrameType::MacCommand => {
                if let Ok(c) = MacCommandRepr::parse(repr.payload()) {
                    let mut out = vec![0u8; c.buffer_len()];
                    c.emit(&mut out).expect("command emits");
                    assert_eq!(MacCommandRepr::parse(&out).expect("command parses"), c);
                }
            }
            _ => {}
        }
    }
});
