//! The `ipv6`, `udp` and `icmpv6` layers of `dissect`, and the hand-off to PANA (UDP 716),
//! MLE (UDP 19788) and RPL (ICMPv6 type 155).

use crate::{LinkInfo, cli::Options};
use serde_json::{Map, Value};

/// Decodes an uncompressed IPv6 packet and what it carries.
pub fn dissect(_opts: &Options, _obj: &mut Map<String, Value>, _link: LinkInfo, _packet: &[u8]) {}
