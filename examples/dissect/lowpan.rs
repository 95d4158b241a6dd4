//! The `sixlowpan` layer of `dissect` (RFC 4944 / RFC 6282).

use crate::{LinkInfo, cli::Options};
use serde_json::{Map, Value};

/// Reassembly buffers carried across frames.
#[derive(Default)]
pub struct State {}

/// Decodes the 6LoWPAN dispatch and headers, adds `sixlowpan` to `obj`, and returns the whole
/// IPv6 packet (decompressed and, for fragments, reassembled) when one is complete.
pub fn dissect(
    _opts: &Options,
    _state: &mut State,
    _obj: &mut Map<String, Value>,
    _link: LinkInfo,
    _payload: &[u8],
) -> Option<Vec<u8>> {
    None
}
