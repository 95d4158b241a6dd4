//! amimesh-sim's radio-level MAC header peek on arbitrary PSDUs: never panics, and what it
//! reports is consistent with the frame control field.
#![no_main]

use amimesh_sim::frame::{FRAME_TYPE_ACK, imm_ack, peek};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(p) = peek(data) {
        let fc = u16::from_le_bytes([data[0], data[1]]);
        assert_eq!(p.frame_type, (fc & 7) as u8);
        assert_eq!(p.ack_request, fc & 0x20 != 0);
        assert_eq!(p.frame_pending, fc & 0x10 != 0);
        if let Some(seq) = p.seq {
            assert_eq!(seq, data[2]);
            if p.frame_type == FRAME_TYPE_ACK && p.frame_version < 2 {
                let a = imm_ack(seq, p.frame_pending);
                let q = peek(&a).unwrap();
                assert_eq!((q.seq, q.frame_pending), (Some(seq), p.frame_pending));
            }
        }
    }
});
