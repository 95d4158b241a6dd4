//! The `mle` layer of `dissect` (UDP 19788).

use crate::{LinkInfo, cli::Options};
use serde_json::{Map, Value};

/// Decodes (and, with a key, decrypts) an MLE message, adding `mle` to `obj`.
/// `src`/`dst` are the IPv6 addresses (MLE authenticates them).
pub fn dissect(
    _opts: &Options,
    _obj: &mut Map<String, Value>,
    _link: LinkInfo,
    _src: std::net::Ipv6Addr,
    _dst: std::net::Ipv6Addr,
    _payload: &[u8],
) {
}
