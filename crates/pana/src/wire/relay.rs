//! PANA-Relay (RFC 6345 §4–5): the PaC-Information AVP and the PRY message body.
//!
//! ```text
//! PRY: header type 5, flags 0, Session Id 0, Seq 0
//!      PaC-Information (10): PaC IPv6 address (16) | UDP port (2)   (+2 pad)
//!      Relayed-Message (11): the whole inner PANA message
//! ```

use super::avp::{AvpCode, AvpRepr};
use super::message::{Flags, MessageBuilder, MessageRepr, MessageType};
use crate::error::{Error, Result};
use core::net::Ipv6Addr;

/// Length of an IPv6 PaC-Information value.
pub const PAC_INFORMATION_LEN: usize = 18;

/// The PaC-Information value (RFC 6345 §5.1). Only IPv6 is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacInformation {
    /// PaC address.
    pub addr: Ipv6Addr,
    /// PaC UDP port.
    pub port: u16,
}

impl PacInformation {
    /// Parses the 18-byte value.
    pub fn parse(v: &[u8]) -> Result<Self> {
        let b: &[u8; PAC_INFORMATION_LEN] = v.try_into().map_err(|_| Error::BadLength)?;
        let (a, p) = b.split_at(16);
        let addr: [u8; 16] = a.try_into().map_err(|_| Error::BadLength)?;
        let port: [u8; 2] = p.try_into().map_err(|_| Error::BadLength)?;
        Ok(PacInformation {
            addr: Ipv6Addr::from(addr),
            port: u16::from_be_bytes(port),
        })
    }
    /// Always [`PAC_INFORMATION_LEN`].
    pub const fn buffer_len(&self) -> usize {
        PAC_INFORMATION_LEN
    }
    /// The 18-byte value.
    pub fn to_bytes(&self) -> [u8; PAC_INFORMATION_LEN] {
        let mut b = [0u8; PAC_INFORMATION_LEN];
        let (a, p) = b.split_at_mut(16);
        a.copy_from_slice(&self.addr.octets());
        p.copy_from_slice(&self.port.to_be_bytes());
        b
    }
}

/// A PANA-Relay message as a value: whom it is for and what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayRepr<'a> {
    /// PaC-Information.
    pub pac: PacInformation,
    /// Relayed-Message: one complete PANA message.
    pub relayed: &'a [u8],
}

impl<'a> RelayRepr<'a> {
    /// Reads a parsed PRY: exactly one PaC-Information and one Relayed-Message
    /// (RFC 6345 §4.1; other AVPs are ignored).
    pub fn parse(m: &MessageRepr<'a>) -> Result<Self> {
        if m.message_type != MessageType::Relay {
            return Err(Error::Malformed("not a PANA-Relay message"));
        }
        let mut pac = None;
        let mut relayed = None;
        for a in m.avps() {
            let a = a?;
            if a.vendor_id.is_some() {
                continue;
            }
            let slot = match a.code {
                AvpCode::PacInformation => {
                    let p = PacInformation::parse(a.value)?;
                    pac.replace(p).is_some()
                }
                AvpCode::RelayedMessage => relayed.replace(a.value).is_some(),
                _ => false,
            };
            if slot {
                return Err(Error::Malformed("repeated PANA-Relay AVP"));
            }
        }
        Ok(RelayRepr {
            pac: pac.ok_or(Error::Malformed("PRY without PaC-Information"))?,
            relayed: relayed.ok_or(Error::Malformed("PRY without Relayed-Message"))?,
        })
    }

    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        super::message::HEADER_LEN + 8 + 20 + 8 + super::pad4(self.relayed.len())
    }

    /// Writes the PRY (flags, session and sequence 0) into `buf`, returning its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut b = MessageBuilder::new(buf, MessageType::Relay, Flags::NONE, 0, 0)?;
        b.push(&AvpRepr::new(AvpCode::PacInformation, &self.pac.to_bytes()))?;
        b.push(&AvpRepr::new(AvpCode::RelayedMessage, self.relayed))?;
        Ok(b.finish())
    }
}

impl core::fmt::Display for RelayRepr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "PRY for [{}]:{} ({}B relayed)",
            self.pac.addr,
            self.pac.port,
            self.relayed.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Message;

    // A PRY carrying a PCI from fe80::1 port 716 (RFC 6345 §4.1, §5.1-5.2).
    static PRY: [u8; 68] = [
        0x00, 0x00, 0x00, 0x44, // reserved, length 68
        0x00, 0x00, 0x00, 0x05, // flags 0, type 5
        0, 0, 0, 0, 0, 0, 0, 0, // session 0, seq 0
        0x00, 0x0a, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, // PaC-Information, length 18
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // fe80::1
        0x02, 0xcc, 0x00, 0x00, // port 716, padding
        0x00, 0x0b, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, // Relayed-Message, length 16
        0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, // inner PCI header
        0, 0, 0, 0, 0, 0, 0, 0,
    ];

    #[test]
    fn parse_and_emit() {
        let m = Message::new_checked(&PRY[..]).unwrap();
        let r = RelayRepr::parse(&MessageRepr::parse(&m).unwrap()).unwrap();
        assert_eq!(r.pac.addr, Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
        assert_eq!(r.pac.port, 716);
        assert_eq!(r.relayed, &PRY[52..]);
        assert_eq!(r.buffer_len(), 68);
        let mut out = [0xa5u8; 68];
        assert_eq!(r.emit(&mut out).unwrap(), 68);
        assert_eq!(out, PRY);
        assert_eq!(std::format!("{r}"), "PRY for [fe80::1]:716 (16B relayed)");
    }

    #[test]
    fn errors() {
        assert_eq!(
            PacInformation::parse(&[0; 17]).unwrap_err(),
            Error::BadLength
        );
        let mut no_relayed = PRY;
        no_relayed[17] = 0x0c;
        let m = Message::new_checked(&no_relayed[..]).unwrap();
        assert_eq!(
            RelayRepr::parse(&MessageRepr::parse(&m).unwrap()).unwrap_err(),
            Error::Malformed("PRY without PaC-Information")
        );
        let mut twice = PRY;
        twice[45] = 0x0a; // Relayed-Message becomes a second PaC-Information (16 bytes: bad)
        let m = Message::new_checked(&twice[..]).unwrap();
        assert_eq!(
            RelayRepr::parse(&MessageRepr::parse(&m).unwrap()).unwrap_err(),
            Error::BadLength
        );
        let r = RelayRepr {
            pac: PacInformation {
                addr: Ipv6Addr::LOCALHOST,
                port: 1,
            },
            relayed: &PRY[52..],
        };
        assert_eq!(
            r.emit(&mut [0u8; 40]).unwrap_err(),
            Error::BufferTooSmall { required: 44 }
        );
    }
}
