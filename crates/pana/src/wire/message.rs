//! The PANA message (RFC 5191 §6.2) and a builder for outgoing messages.
//!
//! ```text
//!  0                   1                   2                   3
//! +-------------------------------+-------------------------------+
//! |          Reserved             |        Message Length         |
//! +-------------------------------+-------------------------------+
//! |           Flags               |         Message Type          |
//! +-------------------------------+-------------------------------+
//! |                     Session Identifier                        |
//! +---------------------------------------------------------------+
//! |                      Sequence Number                          |
//! +---------------------------------------------------------------+
//! |  AVPs ...
//! ```

use super::avp::{Avp, AvpCode, AvpIter, AvpRepr};
use super::{be16, be32};
use crate::error::{Error, Result};
use core::fmt;

/// Length of the PANA header.
pub const HEADER_LEN: usize = 16;

amimesh_core::enum_with_unknown! {
    /// Message Type (RFC 5191 §7, RFC 6345 §4.1). The R flag tells request from answer.
    pub enum MessageType(u16) {
        /// PANA-Client-Initiation (request only).
        ClientInitiation = 1,
        /// PANA-Auth-Request / PANA-Auth-Answer.
        Auth = 2,
        /// PANA-Termination-Request / -Answer.
        Termination = 3,
        /// PANA-Notification-Request / -Answer.
        Notification = 4,
        /// PANA-Relay (RFC 6345).
        Relay = 5,
    }
}

impl MessageType {
    /// The abbreviation of this type with the given R flag ("PCI", "PAR", "PAN", …).
    pub fn abbreviation(self, request: bool) -> &'static str {
        match (self, request) {
            (MessageType::ClientInitiation, _) => "PCI",
            (MessageType::Auth, true) => "PAR",
            (MessageType::Auth, false) => "PAN",
            (MessageType::Termination, true) => "PTR",
            (MessageType::Termination, false) => "PTA",
            (MessageType::Notification, true) => "PNR",
            (MessageType::Notification, false) => "PNA",
            (MessageType::Relay, _) => "PRY",
            (MessageType::Unknown(_), _) => "unknown",
        }
    }
}

/// The 16-bit Flags field (RFC 5191 §6.2). Reserved bits are kept as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Flags(pub u16);

impl Flags {
    /// R: request.
    pub const REQUEST: Flags = Flags(0x8000);
    /// S: start of the authentication phase.
    pub const START: Flags = Flags(0x4000);
    /// C: completion of the (re-)authentication phase.
    pub const COMPLETE: Flags = Flags(0x2000);
    /// A: re-authentication (PNR/PNA).
    pub const REAUTH: Flags = Flags(0x1000);
    /// P: ping (PNR/PNA).
    pub const PING: Flags = Flags(0x0800);
    /// I: IP reconfiguration (PAR in the authentication phase).
    pub const IP_RECONFIG: Flags = Flags(0x0400);
    /// No flag.
    pub const NONE: Flags = Flags(0);

    /// `true` when every bit of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Union.
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    /// `true` for a request.
    pub const fn is_request(self) -> bool {
        self.contains(Flags::REQUEST)
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, c) in [
            (Flags::REQUEST, 'R'),
            (Flags::START, 'S'),
            (Flags::COMPLETE, 'C'),
            (Flags::REAUTH, 'A'),
            (Flags::PING, 'P'),
            (Flags::IP_RECONFIG, 'I'),
        ] {
            if self.contains(flag) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

mod field {
    use core::ops::Range;
    pub const LENGTH: Range<usize> = 2..4;
    pub const FLAGS: Range<usize> = 4..6;
    pub const TYPE: Range<usize> = 6..8;
    pub const SESSION_ID: Range<usize> = 8..12;
    pub const SEQ: Range<usize> = 12..16;
}

/// A view of one PANA message. The buffer must be exactly the message (Message Length equals
/// the buffer length, as for a UDP payload).
#[derive(Debug, Clone, Copy)]
pub struct Message<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Message { buffer }
    }

    /// Wraps a buffer and runs [`Message::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let m = Message::new_unchecked(buffer);
        m.check_len()?;
        Ok(m)
    }

    /// Checks the header, that Message Length equals the buffer length (RFC 5191 §6.2), and
    /// that every AVP fits with its padding (§6.3).
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                got: b.len(),
            });
        }
        let len = usize::from(self.message_length());
        if len > b.len() {
            return Err(Error::Truncated {
                needed: len,
                got: b.len(),
            });
        }
        if len != b.len() {
            return Err(Error::BadLength);
        }
        AvpIter::validate(b.get(HEADER_LEN..).unwrap_or(&[]))
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Reserved field (sent as 0, ignored on receipt).
    pub fn reserved(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }
    /// Message Length.
    pub fn message_length(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }
    /// Flags.
    pub fn flags(&self) -> Flags {
        Flags(be16(self.buffer.as_ref(), field::FLAGS.start))
    }
    /// Message Type.
    pub fn message_type(&self) -> MessageType {
        MessageType::from(be16(self.buffer.as_ref(), field::TYPE.start))
    }
    /// Session Identifier.
    pub fn session_id(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SESSION_ID.start)
    }
    /// Sequence Number.
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ.start)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Message<&'a T> {
    /// The AVP area.
    pub fn avp_area(&self) -> &'a [u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }
    /// Iterates over the AVPs.
    pub fn avps(&self) -> AvpIter<'a> {
        AvpIter::new(self.avp_area())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Message<T> {
    /// Sets Reserved to 0 and Message Length. Voids the `check_len` guarantee.
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_message_length(&mut self, len: u16) {
        let b = self.buffer.as_mut();
        b[0..2].fill(0);
        b[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }
    /// Sets Flags.
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_flags(&mut self, flags: Flags) {
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&flags.0.to_be_bytes());
    }
    /// Sets Message Type.
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_message_type(&mut self, t: MessageType) {
        self.buffer.as_mut()[field::TYPE].copy_from_slice(&u16::from(t).to_be_bytes());
    }
    /// Sets Session Identifier.
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_session_id(&mut self, id: u32) {
        self.buffer.as_mut()[field::SESSION_ID].copy_from_slice(&id.to_be_bytes());
    }
    /// Sets Sequence Number.
    #[allow(clippy::indexing_slicing)] // header length is a precondition of every setter
    pub fn set_seq(&mut self, seq: u32) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&seq.to_be_bytes());
    }
}

/// A PANA message as a value. The AVP area is borrowed and has been validated by `parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRepr<'a> {
    /// Message Type.
    pub message_type: MessageType,
    /// Flags (reserved bits kept).
    pub flags: Flags,
    /// Session Identifier.
    pub session_id: u32,
    /// Sequence Number.
    pub seq: u32,
    /// The AVPs, as they appear on the wire (each padded to 4 bytes).
    pub avps: &'a [u8],
}

impl<'a> MessageRepr<'a> {
    /// Parses a checked message: the type must be 1–5 and the flags must follow RFC 5191 §6.2
    /// (S and C never together; PCI and PRY are not answers).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(m: &Message<&'a T>) -> Result<Self> {
        let message_type = m.message_type();
        let flags = m.flags();
        if let MessageType::Unknown(_) = message_type {
            return Err(Error::Malformed("unknown message type"));
        }
        if flags.contains(Flags::START.with(Flags::COMPLETE)) {
            return Err(Error::Malformed("S and C set together"));
        }
        let avps = m.avp_area();
        AvpIter::validate(avps)?;
        Ok(MessageRepr {
            message_type,
            flags,
            session_id: m.session_id(),
            seq: m.seq(),
            avps,
        })
    }

    /// Header plus AVP area.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.avps.len()
    }

    /// Writes the message into a buffer of at least `buffer_len()` bytes.
    ///
    /// # Panics
    /// If the buffer is shorter than `buffer_len()`.
    #[allow(clippy::indexing_slicing)] // documented precondition: buffer_len() bytes
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, m: &mut Message<T>) {
        m.set_message_length(u16::try_from(self.buffer_len()).unwrap_or(u16::MAX));
        m.set_flags(self.flags);
        m.set_message_type(self.message_type);
        m.set_session_id(self.session_id);
        m.set_seq(self.seq);
        m.buffer.as_mut()[HEADER_LEN..self.buffer_len()].copy_from_slice(self.avps);
    }

    /// The AVPs.
    pub fn avps(&self) -> AvpIter<'a> {
        AvpIter::new(self.avps)
    }

    /// The first IETF AVP with `code`.
    pub fn find(&self, code: AvpCode) -> Option<AvpRepr<'a>> {
        AvpIter::find(self.avps, code)
    }

    /// `true` for a request.
    pub const fn is_request(&self) -> bool {
        self.flags.is_request()
    }
}

impl fmt::Display for MessageRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PANA {}[{}] sid {:#x} seq {} avps {}B",
            self.message_type.abbreviation(self.is_request()),
            self.flags,
            self.session_id,
            self.seq,
            self.avps.len()
        )
    }
}

/// Builds a message in a caller buffer, one AVP at a time.
#[derive(Debug)]
pub struct MessageBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> MessageBuilder<'b> {
    /// Starts a message: writes the header (length is fixed by [`MessageBuilder::finish`]).
    pub fn new(
        buf: &'b mut [u8],
        message_type: MessageType,
        flags: Flags,
        session_id: u32,
        seq: u32,
    ) -> Result<Self> {
        if buf.len() < HEADER_LEN {
            return Err(Error::BufferTooSmall {
                required: HEADER_LEN,
            });
        }
        let mut m = Message::new_unchecked(&mut *buf);
        m.set_message_length(HEADER_LEN as u16);
        m.set_flags(flags);
        m.set_message_type(message_type);
        m.set_session_id(session_id);
        m.set_seq(seq);
        Ok(MessageBuilder {
            buf,
            len: HEADER_LEN,
        })
    }

    /// Appends an AVP; returns the offset of its value in the message.
    pub fn push(&mut self, avp: &AvpRepr<'_>) -> Result<usize> {
        let end = self.len.saturating_add(avp.buffer_len());
        if end > usize::from(u16::MAX) || avp.value.len() > usize::from(u16::MAX) {
            return Err(Error::Malformed("message too long"));
        }
        let slot = self
            .buf
            .get_mut(self.len..end)
            .ok_or(Error::BufferTooSmall { required: end })?;
        let mut view = Avp::new_unchecked(slot);
        avp.emit(&mut view);
        let off = self.len.saturating_add(view.value_start());
        self.len = end;
        Ok(off)
    }

    /// Appends an Unsigned32 AVP.
    pub fn push_u32(&mut self, code: AvpCode, value: u32) -> Result<usize> {
        self.push(&AvpRepr::new(code, &value.to_be_bytes()))
    }

    /// Bytes written so far.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// `true` when only the header is written.
    pub const fn is_empty(&self) -> bool {
        self.len == HEADER_LEN
    }

    /// Sets Message Length and returns it.
    pub fn finish(self) -> usize {
        let mut m = Message::new_unchecked(&mut *self.buf);
        m.set_message_length(u16::try_from(self.len).unwrap_or(u16::MAX));
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A PAN[C] as sent at the end of authentication (RFC 5191 §4.1): session 0x01020304,
    // seq 0x11, Key-Id 0xdeadbeef, AUTH (16 bytes of 0x55). Layout per RFC 5191 §6.2/§6.3.
    static PAN_C: [u8; 52] = [
        0x00, 0x00, // reserved
        0x00, 0x34, // Message Length 52
        0x20, 0x00, // flags: C
        0x00, 0x02, // type 2 (PAN, R clear)
        0x01, 0x02, 0x03, 0x04, // Session Identifier
        0x00, 0x00, 0x00, 0x11, // Sequence Number
        0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, // Key-Id AVP header
        0xde, 0xad, 0xbe, 0xef, // Key-Id
        0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, // AUTH AVP header
        0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, // AUTH value
        0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
    ];

    #[test]
    fn deconstruct() {
        let m = Message::new_checked(&PAN_C[..]).unwrap();
        assert_eq!(m.message_length(), 52);
        assert_eq!(m.flags(), Flags::COMPLETE);
        assert_eq!(m.message_type(), MessageType::Auth);
        assert_eq!(m.session_id(), 0x0102_0304);
        assert_eq!(m.seq(), 0x11);
        let codes: heapless::Vec<AvpCode, 4> = m.avps().map(|a| a.unwrap().code).collect();
        assert_eq!(&codes[..], &[AvpCode::KeyId, AvpCode::Auth]);
    }

    #[test]
    fn construct() {
        let mut buf = [0xa5u8; 52];
        let mut m = Message::new_unchecked(&mut buf[..]);
        m.set_message_length(52);
        m.set_flags(Flags::COMPLETE);
        m.set_message_type(MessageType::Auth);
        m.set_session_id(0x0102_0304);
        m.set_seq(0x11);
        buf[16..].copy_from_slice(&PAN_C[16..]);
        assert_eq!(buf, PAN_C);
    }

    #[test]
    fn parse() {
        let m = Message::new_checked(&PAN_C[..]).unwrap();
        let r = MessageRepr::parse(&m).unwrap();
        assert_eq!(
            r,
            MessageRepr {
                message_type: MessageType::Auth,
                flags: Flags::COMPLETE,
                session_id: 0x0102_0304,
                seq: 0x11,
                avps: &PAN_C[16..],
            }
        );
        assert_eq!(
            r.find(AvpCode::KeyId).unwrap().value_u32().unwrap(),
            0xdead_beef
        );
    }

    #[test]
    fn emit() {
        let r = MessageRepr {
            message_type: MessageType::Auth,
            flags: Flags::COMPLETE,
            session_id: 0x0102_0304,
            seq: 0x11,
            avps: &PAN_C[16..],
        };
        let mut buf = [0xa5u8; 52];
        r.emit(&mut Message::new_unchecked(&mut buf[..]));
        assert_eq!(buf, PAN_C);
        // The builder produces the same bytes.
        let mut buf2 = [0xa5u8; 64];
        let mut b = MessageBuilder::new(
            &mut buf2,
            MessageType::Auth,
            Flags::COMPLETE,
            0x0102_0304,
            0x11,
        )
        .unwrap();
        b.push_u32(AvpCode::KeyId, 0xdead_beef).unwrap();
        let off = b.push(&AvpRepr::new(AvpCode::Auth, &[0x55; 16])).unwrap();
        assert_eq!(off, 36);
        assert_eq!(b.finish(), 52);
        assert_eq!(&buf2[..52], &PAN_C[..]);
    }

    #[test]
    fn errors() {
        for n in 0..16 {
            assert_eq!(
                Message::new_checked(&PAN_C[..n]).unwrap_err(),
                Error::Truncated { needed: 16, got: n }
            );
        }
        for n in 16..52 {
            assert_eq!(
                Message::new_checked(&PAN_C[..n]).unwrap_err(),
                Error::Truncated { needed: 52, got: n }
            );
        }
        let mut long = [0u8; 56];
        long[..52].copy_from_slice(&PAN_C);
        assert_eq!(
            Message::new_checked(&long[..]).unwrap_err(),
            Error::BadLength
        );
        // An AVP that overruns the message.
        let mut bad = PAN_C;
        bad[21] = 0x20;
        assert_eq!(
            Message::new_checked(&bad[..]).unwrap_err(),
            Error::Truncated {
                needed: 40,
                got: 36
            }
        );
        let mut sc = PAN_C;
        sc[4] = 0x60;
        let m = Message::new_checked(&sc[..]).unwrap();
        assert_eq!(
            MessageRepr::parse(&m).unwrap_err(),
            Error::Malformed("S and C set together")
        );
        let mut ty = PAN_C;
        ty[7] = 9;
        let m = Message::new_checked(&ty[..]).unwrap();
        assert_eq!(
            MessageRepr::parse(&m).unwrap_err(),
            Error::Malformed("unknown message type")
        );
        let mut small = [0u8; 20];
        let mut b = MessageBuilder::new(&mut small, MessageType::Auth, Flags::NONE, 0, 0).unwrap();
        assert_eq!(
            b.push_u32(AvpCode::KeyId, 1).unwrap_err(),
            Error::BufferTooSmall { required: 28 }
        );
        assert_eq!(
            MessageBuilder::new(&mut small[..4], MessageType::Auth, Flags::NONE, 0, 0).unwrap_err(),
            Error::BufferTooSmall { required: 16 }
        );
    }

    #[test]
    fn flags_display() {
        use core::fmt::Write;
        let mut s: heapless::String<8> = heapless::String::new();
        write!(s, "{}", Flags::REQUEST.with(Flags::START)).unwrap();
        assert_eq!(s.as_str(), "RS");
        assert_eq!(MessageType::Notification.abbreviation(true), "PNR");
    }
}
