//! Wire formats: views over byte buffers and the `…Repr` values they parse into.
//!
//! Contract (as in every amimesh `wire` module): `new_unchecked` wraps a buffer; `check_len`
//! walks every variable-length part the getters read, and once it returns `Ok` no getter can
//! panic; `new_checked` does both. `Repr::parse` validates field values; `Repr::emit` writes
//! into a caller buffer of at least `buffer_len()` bytes and never calls `new_checked` (the
//! buffer is being built). Nothing here allocates.

pub mod checksum;
pub mod ext;
pub mod icmpv6;
pub mod iphc;
pub mod ipv6;
pub mod lorh;
pub mod lowpan;
pub mod nhc;
pub mod udp;

amimesh_core::enum_with_unknown! {
    /// IPv6 next-header values used here (IANA protocol numbers).
    pub enum IpProtocol(u8) {
        /// IPv6 Hop-by-Hop Options (RFC 8200 §4.3).
        HopByHop = 0,
        /// TCP.
        Tcp = 6,
        /// UDP.
        Udp = 17,
        /// IPv6 encapsulated in IPv6 (RFC 2473).
        Ipv6 = 41,
        /// Routing header (RFC 8200 §4.4).
        Ipv6Route = 43,
        /// Fragment header (RFC 8200 §4.5).
        Ipv6Frag = 44,
        /// ICMPv6.
        Icmpv6 = 58,
        /// No next header.
        NoNextHeader = 59,
        /// Destination Options (RFC 8200 §4.6).
        Ipv6Opts = 60,
        /// Mobility header (RFC 6275).
        Mobility = 135,
    }
}

impl core::fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", u8::from(*self))
    }
}
