//! Network-key delivery in a ZigBee-IP vendor AVP (FACTS §4.2).
//!
//! The PAA delivers the network key inside an RFC 6786 Encryption-Encap AVP. The plaintext of
//! that AVP is one vendor AVP:
//!
//! ```text
//! AVP Code 1 | Flags V (0x8000) | AVP Length 18 | Reserved 0 | Vendor-Id 0x0000917C (ZigBee)
//! Value: network key (16) | key index (1) | counter (1)     + 2 zero pad bytes  = 32 bytes
//! ```
//!
//! The counter is the number of key deliveries to this PaC in this session, modulo 256.

use crate::error::{Error, Result};
use amimesh_core::Key128;

/// IANA enterprise number of the ZigBee Alliance.
pub const ZIGBEE_VENDOR_ID: u32 = 0x0000_917c;
/// Vendor AVP code of the key-delivery AVP.
pub const KEY_AVP_CODE: u16 = 1;
/// Value length: key, index, counter.
pub const VALUE_LEN: usize = 18;

/// The value of the key-delivery AVP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkKeyRepr {
    /// The 128-bit network key.
    pub key: Key128,
    /// Its key index (1..=255; 0 is not used).
    pub key_index: u8,
    /// Delivery counter.
    pub counter: u8,
}

impl NetworkKeyRepr {
    /// Parses the 18-byte value.
    pub fn parse(value: &[u8]) -> Result<Self> {
        if value.len() != VALUE_LEN {
            return Err(Error::BadLength);
        }
        let key = Key128::from_slice(value.get(..16).unwrap_or(&[])).ok_or(Error::BadLength)?;
        let key_index = value.get(16).copied().unwrap_or(0);
        if key_index == 0 {
            return Err(Error::Malformed("key index 0"));
        }
        Ok(NetworkKeyRepr {
            key,
            key_index,
            counter: value.get(17).copied().unwrap_or(0),
        })
    }

    /// Always [`VALUE_LEN`].
    pub const fn buffer_len(&self) -> usize {
        VALUE_LEN
    }

    /// Writes the 18-byte value (caller zeroizes the buffer afterwards).
    pub fn emit(&self, out: &mut [u8; VALUE_LEN]) {
        let (k, rest) = out.split_at_mut(16);
        k.copy_from_slice(self.key.expose());
        rest.copy_from_slice(&[self.key_index, self.counter]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let r = NetworkKeyRepr {
            key: Key128::new([0x11; 16]),
            key_index: 3,
            counter: 9,
        };
        let mut b = [0xa5u8; VALUE_LEN];
        r.emit(&mut b);
        assert_eq!(&b[..16], &[0x11; 16]);
        assert_eq!(&b[16..], &[3, 9]);
        assert_eq!(NetworkKeyRepr::parse(&b).unwrap(), r);
        assert_eq!(
            NetworkKeyRepr::parse(&b[..17]).unwrap_err(),
            Error::BadLength
        );
        b[16] = 0;
        assert_eq!(
            NetworkKeyRepr::parse(&b).unwrap_err(),
            Error::Malformed("key index 0")
        );
        assert!(!std::format!("{r:?}").contains("11, 17"));
    }
}
