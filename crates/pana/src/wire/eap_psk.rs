//! EAP-PSK messages (RFC 4764 §5), carried as the Type-Data of EAP Type 47.
//!
//! | msg | dir | T | body after the Flags byte |
//! |---|---|---|---|
//! | 1 | server → peer | 0 | RAND_S(16) ID_S |
//! | 2 | peer → server | 1 | RAND_S(16) RAND_P(16) MAC_P(16) ID_P |
//! | 3 | server → peer | 2 | RAND_S(16) MAC_S(16) PCHANNEL |
//! | 4 | peer → server | 3 | RAND_S(16) PCHANNEL |
//!
//! Flags: T in bits 7–6, bits 5–0 reserved (sent 0, ignored on receipt). PCHANNEL is
//! Nonce(4) ‖ Tag(16) ‖ EAX ciphertext (at least one byte: the result indication).

use crate::error::{Error, Result};

/// Length of RAND_S, RAND_P, MAC_P, MAC_S, tag.
pub const BLOCK: usize = 16;
/// Minimal PCHANNEL: nonce, tag and one encrypted byte (RFC 4764 §5.3).
pub const MIN_PCHANNEL: usize = 4 + BLOCK + 1;

/// The Flags byte (RFC 4764 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PskFlags(pub u8);

impl PskFlags {
    /// Message number T (0..=3 for messages 1..=4).
    pub const fn t(self) -> u8 {
        self.0 >> 6
    }
}

/// The result indication R in the protected channel (RFC 4764 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PskResult {
    /// CONT (1).
    Continue,
    /// DONE_SUCCESS (2).
    DoneSuccess,
    /// DONE_FAILURE (3).
    DoneFailure,
}

impl PskResult {
    /// The first plaintext byte carrying R with E clear.
    pub const fn to_byte(self) -> u8 {
        match self {
            PskResult::Continue => 0x40,
            PskResult::DoneSuccess => 0x80,
            PskResult::DoneFailure => 0xc0,
        }
    }
    /// R from the first plaintext byte (`None` for the reserved value 0).
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b >> 6 {
            1 => Some(PskResult::Continue),
            2 => Some(PskResult::DoneSuccess),
            3 => Some(PskResult::DoneFailure),
            _ => None,
        }
    }
}

mod field {
    use core::ops::Range;
    pub const FLAGS: usize = 0;
    pub const RAND_S: Range<usize> = 1..17;
    /// RAND_P (message 2) or MAC_S (message 3).
    pub const SECOND: Range<usize> = 17..33;
    /// MAC_P (message 2).
    pub const THIRD: Range<usize> = 33..49;
}

/// A view of EAP-PSK Type-Data. `check_len` validates the fixed part of the message that the
/// Flags byte announces and the minimum of its variable part.
#[derive(Debug, Clone, Copy)]
pub struct PskMessage<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> PskMessage<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        PskMessage { buffer }
    }
    /// Wraps a buffer and runs [`PskMessage::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let m = PskMessage::new_unchecked(buffer);
        m.check_len()?;
        Ok(m)
    }
    /// Checks Flags, RAND_S and, by T, the fixed fields, a non-empty identity or a PCHANNEL of
    /// at least 21 bytes.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        let got = b.len();
        // End offsets of the fields, in order; the first one beyond the buffer is reported.
        let ends: &[usize] = match b.first().map(|f| PskFlags(*f).t()) {
            None => &[1],
            Some(0) => &[17, 18],
            Some(1) => &[17, 33, 49, 50],
            Some(2) => &[17, 33, 33 + MIN_PCHANNEL],
            Some(_) => &[17, 17 + MIN_PCHANNEL],
        };
        match ends.iter().find(|e| **e > got) {
            Some(needed) => Err(Error::Truncated {
                needed: *needed,
                got,
            }),
            None => Ok(()),
        }
    }
    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// Flags.
    #[allow(clippy::indexing_slicing)] // check_len: at least 18 bytes
    pub fn flags(&self) -> PskFlags {
        PskFlags(self.buffer.as_ref()[field::FLAGS])
    }
    /// RAND_S.
    #[allow(clippy::indexing_slicing)] // check_len: at least 18 bytes
    pub fn rand_s(&self) -> &[u8] {
        &self.buffer.as_ref()[field::RAND_S]
    }
    /// RAND_P (message 2) or MAC_S (message 3); empty otherwise.
    pub fn second_block(&self) -> &[u8] {
        match self.flags().t() {
            1 | 2 => self.buffer.as_ref().get(field::SECOND).unwrap_or(&[]),
            _ => &[],
        }
    }
    /// MAC_P (message 2); empty otherwise.
    pub fn mac_p(&self) -> &[u8] {
        match self.flags().t() {
            1 => self.buffer.as_ref().get(field::THIRD).unwrap_or(&[]),
            _ => &[],
        }
    }
    /// The variable part: ID_S, ID_P or PCHANNEL.
    pub fn tail(&self) -> &[u8] {
        let at = match self.flags().t() {
            0 | 3 => 17,
            1 => 49,
            _ => 33,
        };
        self.buffer.as_ref().get(at..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> PskMessage<T> {
    /// Sets the Flags byte.
    #[allow(clippy::indexing_slicing)] // precondition: 17 bytes
    pub fn set_flags(&mut self, f: PskFlags) {
        self.buffer.as_mut()[field::FLAGS] = f.0;
    }
    /// Sets RAND_S.
    #[allow(clippy::indexing_slicing)] // precondition: 17 bytes
    pub fn set_rand_s(&mut self, v: &[u8; BLOCK]) {
        self.buffer.as_mut()[field::RAND_S].copy_from_slice(v);
    }
}

/// One EAP-PSK message as a value (the Type-Data after the EAP Type byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PskRepr<'a> {
    /// Message 1.
    First {
        /// RAND_S.
        rand_s: [u8; BLOCK],
        /// ID_S.
        id_s: &'a [u8],
    },
    /// Message 2.
    Second {
        /// RAND_S.
        rand_s: [u8; BLOCK],
        /// RAND_P.
        rand_p: [u8; BLOCK],
        /// MAC_P.
        mac_p: [u8; BLOCK],
        /// ID_P.
        id_p: &'a [u8],
    },
    /// Message 3.
    Third {
        /// RAND_S.
        rand_s: [u8; BLOCK],
        /// MAC_S.
        mac_s: [u8; BLOCK],
        /// PCHANNEL.
        pchannel: &'a [u8],
    },
    /// Message 4.
    Fourth {
        /// RAND_S.
        rand_s: [u8; BLOCK],
        /// PCHANNEL.
        pchannel: &'a [u8],
    },
}

fn block(b: &[u8], at: usize) -> Result<[u8; BLOCK]> {
    b.get(at..at + BLOCK)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::Truncated {
            needed: at + BLOCK,
            got: b.len(),
        })
}

impl<'a> PskRepr<'a> {
    /// Parses Type-Data. Identities must be non-empty and PCHANNEL at least 21 bytes.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let m = PskMessage::new_checked(data)?;
        let rand_s = block(data, 1)?;
        let tail = m.tail();
        let tail: &'a [u8] = data.get(data.len() - tail.len()..).unwrap_or(&[]);
        Ok(match m.flags().t() {
            0 => PskRepr::First { rand_s, id_s: tail },
            1 => PskRepr::Second {
                rand_s,
                rand_p: block(data, 17)?,
                mac_p: block(data, 33)?,
                id_p: tail,
            },
            2 => PskRepr::Third {
                rand_s,
                mac_s: block(data, 17)?,
                pchannel: tail,
            },
            _ => PskRepr::Fourth {
                rand_s,
                pchannel: tail,
            },
        })
    }

    /// The Flags byte this message carries (reserved bits 0).
    pub const fn flags(&self) -> PskFlags {
        PskFlags(match self {
            PskRepr::First { .. } => 0x00,
            PskRepr::Second { .. } => 0x40,
            PskRepr::Third { .. } => 0x80,
            PskRepr::Fourth { .. } => 0xc0,
        })
    }

    /// RAND_S (present in every message).
    pub const fn rand_s(&self) -> &[u8; BLOCK] {
        match self {
            PskRepr::First { rand_s, .. }
            | PskRepr::Second { rand_s, .. }
            | PskRepr::Third { rand_s, .. }
            | PskRepr::Fourth { rand_s, .. } => rand_s,
        }
    }

    /// Bytes `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        1 + BLOCK
            + match self {
                PskRepr::First { id_s, .. } => id_s.len(),
                PskRepr::Second { id_p, .. } => 2 * BLOCK + id_p.len(),
                PskRepr::Third { pchannel, .. } => BLOCK + pchannel.len(),
                PskRepr::Fourth { pchannel, .. } => pchannel.len(),
            }
    }

    /// Writes Type-Data into `buf`, returning the length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let out = buf
            .get_mut(..n)
            .ok_or(Error::BufferTooSmall { required: n })?;
        let mut w = Writer { out, at: 0 };
        w.put(&[self.flags().0]);
        w.put(self.rand_s());
        match self {
            PskRepr::First { id_s, .. } => w.put(id_s),
            PskRepr::Second {
                rand_p,
                mac_p,
                id_p,
                ..
            } => {
                w.put(rand_p);
                w.put(mac_p);
                w.put(id_p);
            }
            PskRepr::Third {
                mac_s, pchannel, ..
            } => {
                w.put(mac_s);
                w.put(pchannel);
            }
            PskRepr::Fourth { pchannel, .. } => w.put(pchannel),
        }
        Ok(n)
    }
}

impl core::fmt::Display for PskRepr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (n, tail) = match self {
            PskRepr::First { id_s, .. } => (1, id_s.len()),
            PskRepr::Second { id_p, .. } => (2, id_p.len()),
            PskRepr::Third { pchannel, .. } => (3, pchannel.len()),
            PskRepr::Fourth { pchannel, .. } => (4, pchannel.len()),
        };
        write!(f, "EAP-PSK message {n} ({tail}B variable part)")
    }
}

struct Writer<'b> {
    out: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, b: &[u8]) {
        let end = self.at.saturating_add(b.len());
        if let Some(s) = self.out.get_mut(self.at..end) {
            s.copy_from_slice(b);
        }
        self.at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // EAP-PSK message 1 Type-Data from the hostapd session (eap-psk-hostapd.json, packet 2,
    // after the 5-byte EAP header): flags 0x00, RAND_S, ID_S "paa.example".
    const MSG1: &str = "00f40b6e3c1bc1864a774acfc1b2ecfdcc7061612e6578616d706c65";
    // Message 3 Type-Data (packet 4): flags 0x80, RAND_S, MAC_S, PCHANNEL (N=0, tag, 0xe6).
    const MSG3: &str = "80f40b6e3c1bc1864a774acfc1b2ecfdcc5145533eedb57bb9bfcf0146c20ed79b0000000068620827916cdebe8c7a528e89334e99e6";

    // Message 2 Type-Data (packet 3 of the same session): flags 0x40, RAND_S, RAND_P, MAC_P,
    // ID_P "pac@example".
    const MSG2: &str = "40f40b6e3c1bc1864a774acfc1b2ecfdcc7f28e6d6f19e3f0d564ff636511e1e347262659a379b534b03c5275c02c1c65f706163406578616d706c65";

    fn h(s: &str) -> std::vec::Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn parse_and_emit_vectors() {
        for v in [MSG1, MSG2, MSG3] {
            let b = h(v);
            let r = PskRepr::parse(&b).unwrap();
            assert_eq!(r.buffer_len(), b.len());
            let mut out = std::vec![0xa5u8; b.len()];
            r.emit(&mut out).unwrap();
            assert_eq!(out, b);
        }
        let b = h(MSG1);
        match PskRepr::parse(&b).unwrap() {
            PskRepr::First { rand_s, id_s } => {
                assert_eq!(rand_s[..], h("f40b6e3c1bc1864a774acfc1b2ecfdcc")[..]);
                assert_eq!(id_s, b"paa.example");
            }
            other => panic!("{other:?}"),
        }
        let b = h(MSG3);
        let r = PskRepr::parse(&b).unwrap();
        assert_eq!(r.flags().t(), 2);
        assert_eq!(std::format!("{r}"), "EAP-PSK message 3 (21B variable part)");
        match r {
            PskRepr::Third {
                mac_s, pchannel, ..
            } => {
                assert_eq!(mac_s[..], h("5145533eedb57bb9bfcf0146c20ed79b")[..]);
                assert_eq!(pchannel.len(), 21);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deconstruct() {
        let b = h(MSG3);
        let m = PskMessage::new_checked(&b[..]).unwrap();
        assert_eq!(m.flags().t(), 2);
        assert_eq!(m.rand_s(), &h("f40b6e3c1bc1864a774acfc1b2ecfdcc")[..]);
        assert_eq!(m.second_block(), &h("5145533eedb57bb9bfcf0146c20ed79b")[..]);
        assert_eq!(m.mac_p(), b"");
        assert_eq!(m.tail().len(), 21);
        let b1 = h(MSG1);
        let m1 = PskMessage::new_checked(&b1[..]).unwrap();
        assert_eq!(m1.tail(), b"paa.example");
    }

    #[test]
    fn construct() {
        let want = h(MSG1);
        let mut b = std::vec![0xa5u8; want.len()];
        let mut m = PskMessage::new_unchecked(&mut b[..]);
        m.set_flags(PskFlags(0));
        m.set_rand_s(&want[1..17].try_into().unwrap());
        b[17..].copy_from_slice(b"paa.example");
        assert_eq!(b, want);
    }

    #[test]
    fn view_errors() {
        for v in [MSG1, MSG2, MSG3] {
            let b = h(v);
            for n in 0..b.len() {
                let v = PskMessage::new_checked(&b[..n]).err();
                let r = PskRepr::parse(&b[..n]).err();
                assert_eq!(v, r, "{n}");
            }
            assert!(PskMessage::new_checked(&b[..]).is_ok());
        }
        let b = h(MSG2);
        let m = PskMessage::new_checked(&b[..]).unwrap();
        assert_eq!(m.mac_p(), &h("7262659a379b534b03c5275c02c1c65f")[..]);
        assert_eq!(m.tail(), b"pac@example");
    }

    #[test]
    fn errors() {
        assert_eq!(
            PskRepr::parse(&[]).unwrap_err(),
            Error::Truncated { needed: 1, got: 0 }
        );
        let b = h(MSG1);
        assert_eq!(
            PskRepr::parse(&b[..10]).unwrap_err(),
            Error::Truncated {
                needed: 17,
                got: 10
            }
        );
        assert_eq!(
            PskRepr::parse(&b[..17]).unwrap_err(),
            Error::Truncated {
                needed: 18,
                got: 17
            }
        );
        let m3 = h(MSG3);
        assert_eq!(
            PskRepr::parse(&m3[..53]).unwrap_err(),
            Error::Truncated {
                needed: 54,
                got: 53
            }
        );
        let mut m2 = std::vec![0x40u8; 49];
        assert_eq!(
            PskRepr::parse(&m2).unwrap_err(),
            Error::Truncated {
                needed: 50,
                got: 49
            }
        );
        m2.truncate(40);
        assert_eq!(
            PskRepr::parse(&m2).unwrap_err(),
            Error::Truncated {
                needed: 49,
                got: 40
            }
        );
        let r = PskRepr::parse(&b).unwrap();
        assert_eq!(
            r.emit(&mut [0u8; 5]).unwrap_err(),
            Error::BufferTooSmall { required: 28 }
        );
        assert_eq!(PskResult::from_byte(0x00), None);
        assert_eq!(PskResult::from_byte(0xa0), Some(PskResult::DoneSuccess));
    }
}
