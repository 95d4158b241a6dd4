//! PANA message codec: new_checked → parse → buffer_len → emit → parse round trip, plus the
//! EAP / EAP-PSK codecs on every EAP-Payload AVP found.
#![no_main]

use amimesh_pana::wire::{AvpCode, EapRepr, Message, MessageRepr, Packet, PskRepr, RelayRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::new_checked(data) else {
        return;
    };
    let Ok(r) = MessageRepr::parse(&m) else {
        return;
    };
    let mut out = vec![0xa5u8; r.buffer_len()];
    r.emit(&mut Message::new_unchecked(&mut out[..]));
    let again =
        MessageRepr::parse(&Message::new_checked(&out[..]).expect("emitted message checks"))
            .expect("emitted message parses");
    assert_eq!(again, r);
    if let Ok(pry) = RelayRepr::parse(&r) {
        let mut b = vec![0u8; pry.buffer_len()];
        assert_eq!(pry.emit(&mut b).expect("buffer_len bytes"), b.len());
        let m2 = Message::new_checked(&b[..]).expect("emitted PRY checks");
        assert_eq!(
            RelayRepr::parse(&MessageRepr::parse(&m2).unwrap()).unwrap(),
            pry
        );
    }
    for a in r.avps().flatten() {
        if a.code == AvpCode::EapPayload {
            if let Ok(p) = Packet::new_checked(a.value) {
                if let Ok(e) = EapRepr::parse(&p) {
                    let mut b = vec![0u8; e.buffer_len()];
                    e.emit_into(&mut b).expect("buffer_len bytes");
                    assert_eq!(
                        EapRepr::parse(&Packet::new_checked(&b[..]).unwrap()).unwrap(),
                        e
                    );
                    if let Ok(k) = PskRepr::parse(e.type_data) {
                        let mut b = vec![0u8; k.buffer_len()];
                        k.emit(&mut b).expect("buffer_len bytes");
                        assert_eq!(PskRepr::parse(&b).unwrap(), k);
                    }
                }
            }
        }
    }
});
