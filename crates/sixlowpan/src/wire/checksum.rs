//! The Internet checksum (RFC 1071) and the IPv6 pseudo-header (RFC 8200 §8.1).

use core::net::Ipv6Addr;

/// One's-complement sum of `data` (big-endian 16-bit words, odd byte padded with zero),
/// folded to 16 bits but not inverted.
pub fn data(data: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        if let [a, b] = c {
            acc = acc.wrapping_add(u32::from(u16::from_be_bytes([*a, *b])));
        }
    }
    if let [a] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([*a, 0])));
    }
    fold(acc)
}

/// Adds two folded sums.
pub fn combine(sums: &[u16]) -> u16 {
    let mut acc: u32 = 0;
    for s in sums {
        acc = acc.wrapping_add(u32::from(*s));
    }
    fold(acc)
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff).wrapping_add(acc >> 16);
    }
    acc as u16
}

/// Sum of the IPv6 pseudo-header: source, destination, upper-layer length and next header
/// (RFC 8200 §8.1).
pub fn pseudo_header(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let len = length.to_be_bytes();
    combine(&[
        data(&src.octets()),
        data(&dst.octets()),
        data(&len),
        u16::from(next_header),
    ])
}

/// The checksum field value for an upper-layer packet whose checksum field is zero:
/// `!(pseudo-header + packet)`.
pub fn upper_layer(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, packet: &[u8]) -> u16 {
    let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
    !combine(&[pseudo_header(src, dst, next_header, len), data(packet)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        assert_eq!(
            data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
        assert_eq!(data(&[0xff]), 0xff00);
        assert_eq!(combine(&[0xffff, 0x0001]), 0x0001);
    }
}
