//! Parse round trip of every RPL parser: control messages (first byte selects the parser,
//! second is the ICMPv6 code for messages), the RPL Hop-by-Hop option and the Source Routing
//! Header. For input that parses: buffer_len = bytes written, and parse(emit(x)) == x.
#![no_main]

use amimesh_rpl::wire::{HbhOption, HbhRepr, Message, MessageRepr, Options, Srh, SrhRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    match sel % 4 {
        0 => {
            let Some((&code, body)) = rest.split_first() else { return };
            let Ok(m) = Message::new_checked(code, body) else { return };
            let _ = (m.instance_id(), m.rank(), m.dodag_id(), m.sequence(), m.options());
            let Ok(r) = MessageRepr::parse(&m) else { return };
            let mut out = vec![0u8; r.buffer_len()];
            assert_eq!(r.emit(&mut out), Ok(out.len()));
            let again = MessageRepr::parse_body(r.code(), &out).expect("own output parses");
            assert_eq!(again, r);
        }
        1 => {
            let Ok(o) = Options::parse(rest) else { return };
            let mut out = vec![0u8; o.buffer_len()];
            assert_eq!(o.emit(&mut out), Ok(out.len()));
            assert_eq!(Options::parse(&out).expect("own output parses"), o);
        }
        2 => {
            let Ok(v) = HbhOption::new_checked(rest) else { return };
            let Ok(r) = HbhRepr::parse(&v) else { return };
            let mut out = [0u8; 6];
            assert_eq!(r.emit(&mut out), Ok(r.buffer_len()));
            assert_eq!(HbhRepr::parse(&HbhOption::new_checked(&out[..]).expect("ok")), Ok(r));
            let _ = HbhRepr::find_in_header(rest);
        }
        _ => {
            let Ok(s) = Srh::new_checked(rest) else { return };
            let dst = core::net::Ipv6Addr::LOCALHOST;
            for i in 0..=s.address_count().unwrap_or(0) {
                let _ = s.address(i, &dst);
            }
            let Ok(r) = SrhRepr::parse(&s) else { return };
            let mut out = vec![0u8; r.buffer_len()];
            if r.emit(&mut out).is_ok() {
                assert_eq!(SrhRepr::parse(&Srh::new_checked(&out[..]).expect("ok")), Ok(r));
            }
            let mut m = rest.to_vec();
            let mut d = dst;
            let _ = Srh::new_unchecked(&mut m[..]).process(&mut d);
        }
    }
});
