//! Proptest strategies (STYLE §6).

use alloc::vec::Vec;
use amimesh_pana::wire::avp::{AvpCode, AvpRepr};
use amimesh_pana::wire::message::{Flags, MessageBuilder, MessageType};
use amimesh_pana::wire::relay::{PacInformation, RelayRepr};
use core::net::Ipv6Addr;
use proptest::prelude::*;

/// Any PaC-Information value.
pub fn pac_information() -> impl Strategy<Value = PacInformation> {
    (any::<[u8; 16]>(), any::<u16>()).prop_map(|(a, port)| PacInformation {
        addr: Ipv6Addr::from(a),
        port,
    })
}

/// A link-local IPv6 address.
pub fn link_local() -> impl Strategy<Value = Ipv6Addr> {
    any::<u64>().prop_map(|iid| Ipv6Addr::from((0xfe80u128 << 112) | u128::from(iid)))
}

/// A well-formed PANA message of type 1–4 (never PANA-Relay) with up to 6 AVPs.
pub fn inner_message() -> impl Strategy<Value = Vec<u8>> {
    (
        1u16..=4,
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec(
            (
                1u16..=14,
                proptest::option::of(any::<u32>()),
                proptest::collection::vec(any::<u8>(), 0..40),
            ),
            0..6,
        ),
    )
        .prop_map(|(ty, flags, sid, seq, avps)| {
            // S and C are never set together (RFC 5191 §6.2).
            let flags = if flags & 0x6000 == 0x6000 {
                flags & !0x2000
            } else {
                flags
            };
            let mut buf = alloc::vec![0u8; 1024];
            let mut b =
                MessageBuilder::new(&mut buf, MessageType::from(ty), Flags(flags), sid, seq)
                    .unwrap_or_else(|_| unreachable!());
            for (code, vendor_id, value) in &avps {
                let _ = b.push(&AvpRepr {
                    code: AvpCode::from(*code),
                    vendor_id: *vendor_id,
                    value,
                });
            }
            let n = b.finish();
            buf.truncate(n);
            buf
        })
}

/// Bytes near a valid PANA-Relay message: a valid one with a few bytes overwritten, so that
/// some are accepted and some are not.
pub fn relay_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        pac_information(),
        inner_message(),
        proptest::collection::vec((any::<u16>(), any::<u8>()), 0..3),
    )
        .prop_map(|(pac, inner, edits)| {
            let r = RelayRepr {
                pac,
                relayed: &inner,
            };
            let mut buf = alloc::vec![0u8; r.buffer_len()];
            let _ = r.emit(&mut buf);
            let len = buf.len();
            for (at, v) in edits {
                if let Some(b) = buf.get_mut(usize::from(at) % len) {
                    *b = v;
                }
            }
            buf
        })
}
