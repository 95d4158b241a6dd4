//! The `mac` layer of `dissect` (IEEE 802.15.4).

use crate::{FcsKind, LinkInfo, cli::Options};
use serde_json::{Map, Value};

/// Facts learnt from earlier frames.
#[derive(Default)]
pub struct State {}

/// Decodes the MAC frame, adds `mac` to `obj`, and returns the link facts and the (decrypted)
/// MAC payload for the next layer, or `None` when nothing more can be decoded.
pub fn dissect(
    _opts: &Options,
    _state: &mut State,
    obj: &mut Map<String, Value>,
    _psdu: &[u8],
    _fcs: FcsKind,
) -> Option<(LinkInfo, Vec<u8>)> {
    obj.insert("mac".into(), Value::Null);
    None
}
