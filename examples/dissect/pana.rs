//! The `pana` and `eap` layers of `dissect` (UDP 716).

use serde_json::{Map, Value};

/// Decodes a PANA message (and EAP inside it), adding `pana` and `eap` to `obj`.
pub fn dissect(_obj: &mut Map<String, Value>, _payload: &[u8]) {}
