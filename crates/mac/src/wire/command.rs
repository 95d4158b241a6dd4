//! MAC command frames (802.15.4-2020 §7.5): the Command ID and the content of the commands of
//! 802.15.4-2006 §7.3; other identifiers keep their content as bytes.

use crate::error::{Error, Result, need};
use amimesh_core::{PanId, ShortAddr};
use core::fmt;

amimesh_core::enum_with_unknown! {
    /// Command ID (802.15.4-2020 Table 7-49).
    pub enum CommandId(u8) {
        /// 0x01 Association Request.
        AssociationRequest = 0x01,
        /// 0x02 Association Response.
        AssociationResponse = 0x02,
        /// 0x03 Disassociation Notification.
        DisassociationNotification = 0x03,
        /// 0x04 Data Request.
        DataRequest = 0x04,
        /// 0x05 PAN ID Conflict Notification.
        PanIdConflictNotification = 0x05,
        /// 0x06 Orphan Notification.
        OrphanNotification = 0x06,
        /// 0x07 Beacon Request.
        BeaconRequest = 0x07,
        /// 0x08 Coordinator Realignment.
        CoordinatorRealignment = 0x08,
        /// 0x09 GTS Request.
        GtsRequest = 0x09,
    }
}

impl CommandId {
    /// The command's name as Wireshark prints it.
    pub fn name(self) -> &'static str {
        match self {
            CommandId::AssociationRequest => "Association Request",
            CommandId::AssociationResponse => "Association Response",
            CommandId::DisassociationNotification => "Disassociation Notification",
            CommandId::DataRequest => "Data Request",
            CommandId::PanIdConflictNotification => "PAN ID Conflict",
            CommandId::OrphanNotification => "Orphan Notification",
            CommandId::BeaconRequest => "Beacon Request",
            CommandId::CoordinatorRealignment => "Coordinator Realignment",
            CommandId::GtsRequest => "GTS Request",
            CommandId::Unknown(_) => "Unknown Command",
        }
    }
}

/// A MAC command (Command ID and content), decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacCommandRepr<'a> {
    /// Association Request with its Capability Information (§7.5.2).
    AssociationRequest {
        /// Capability Information bits (FACTS §6.6).
        capability: u8,
    },
    /// Association Response (§7.5.3).
    AssociationResponse {
        /// Short address assigned.
        short_addr: ShortAddr,
        /// Association Status (0 success, 1 PAN at capacity, 2 access denied).
        status: u8,
    },
    /// Disassociation Notification with its reason (§7.5.4).
    DisassociationNotification {
        /// Disassociation Reason.
        reason: u8,
    },
    /// Data Request (no content).
    DataRequest,
    /// PAN ID Conflict Notification (no content).
    PanIdConflictNotification,
    /// Orphan Notification (no content).
    OrphanNotification,
    /// Beacon Request (no content).
    BeaconRequest,
    /// Coordinator Realignment (§7.5.10).
    CoordinatorRealignment {
        /// PAN Identifier.
        pan_id: PanId,
        /// Coordinator Short Address.
        coord_short_addr: ShortAddr,
        /// Channel Number.
        channel: u8,
        /// Short Address.
        short_addr: ShortAddr,
        /// Channel Page (optional, 2006).
        channel_page: Option<u8>,
    },
    /// GTS Request with its GTS Characteristics.
    GtsRequest {
        /// GTS Characteristics.
        characteristics: u8,
    },
    /// Any other command, content kept as bytes.
    Other {
        /// Command ID.
        id: u8,
        /// Content.
        content: &'a [u8],
    },
}

impl<'a> MacCommandRepr<'a> {
    /// The Command ID.
    pub fn command_id(&self) -> CommandId {
        CommandId::from(match self {
            MacCommandRepr::AssociationRequest { .. } => 1,
            MacCommandRepr::AssociationResponse { .. } => 2,
            MacCommandRepr::DisassociationNotification { .. } => 3,
            MacCommandRepr::DataRequest => 4,
            MacCommandRepr::PanIdConflictNotification => 5,
            MacCommandRepr::OrphanNotification => 6,
            MacCommandRepr::BeaconRequest => 7,
            MacCommandRepr::CoordinatorRealignment { .. } => 8,
            MacCommandRepr::GtsRequest { .. } => 9,
            MacCommandRepr::Other { id, .. } => *id,
        })
    }

    /// Decodes a command MAC payload (Command ID first).
    ///
    /// # Errors
    /// [`Error::Truncated`]; [`Error::Malformed`] when a known command has extra bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        need(bytes, 1)?;
        let (id, c) = bytes.split_at(1);
        let id = id.first().copied().unwrap_or(0);
        let exact = |n: usize| -> Result<()> {
            need(bytes, 1 + n)?;
            if c.len() != n {
                return Err(Error::Malformed("MAC command content length"));
            }
            Ok(())
        };
        let b = |i: usize| c.get(i).copied().unwrap_or(0);
        Ok(match CommandId::from(id) {
            CommandId::AssociationRequest => {
                exact(1)?;
                MacCommandRepr::AssociationRequest { capability: b(0) }
            }
            CommandId::AssociationResponse => {
                exact(3)?;
                MacCommandRepr::AssociationResponse {
                    short_addr: ShortAddr::from_le_bytes([b(0), b(1)]),
                    status: b(2),
                }
            }
            CommandId::DisassociationNotification => {
                exact(1)?;
                MacCommandRepr::DisassociationNotification { reason: b(0) }
            }
            CommandId::DataRequest => {
                exact(0)?;
                MacCommandRepr::DataRequest
            }
            CommandId::PanIdConflictNotification => {
                exact(0)?;
                MacCommandRepr::PanIdConflictNotification
            }
            CommandId::OrphanNotification => {
                exact(0)?;
                MacCommandRepr::OrphanNotification
            }
            CommandId::BeaconRequest => {
                exact(0)?;
                MacCommandRepr::BeaconRequest
            }
            CommandId::CoordinatorRealignment => {
                if c.len() != 8 {
                    exact(7)?;
                }
                MacCommandRepr::CoordinatorRealignment {
                    pan_id: PanId::from_le_bytes([b(0), b(1)]),
                    coord_short_addr: ShortAddr::from_le_bytes([b(2), b(3)]),
                    channel: b(4),
                    short_addr: ShortAddr::from_le_bytes([b(5), b(6)]),
                    channel_page: (c.len() == 8).then(|| b(7)),
                }
            }
            CommandId::GtsRequest => {
                exact(1)?;
                MacCommandRepr::GtsRequest {
                    characteristics: b(0),
                }
            }
            CommandId::Unknown(id) => MacCommandRepr::Other { id, content: c },
        })
    }

    /// Encoded length (Command ID included).
    pub fn buffer_len(&self) -> usize {
        1 + match self {
            MacCommandRepr::AssociationRequest { .. }
            | MacCommandRepr::DisassociationNotification { .. }
            | MacCommandRepr::GtsRequest { .. } => 1,
            MacCommandRepr::AssociationResponse { .. } => 3,
            MacCommandRepr::CoordinatorRealignment { channel_page, .. } => {
                7 + usize::from(channel_page.is_some())
            }
            MacCommandRepr::Other { content, .. } => content.len(),
            _ => 0,
        }
    }

    /// Writes the command; returns its length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`]; [`Error::Invalid`] for `Other` with a known id.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let out = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        if let MacCommandRepr::Other { id, .. } = self {
            if !matches!(CommandId::from(*id), CommandId::Unknown(_)) {
                return Err(Error::Invalid("Other command with a known command id"));
            }
        }
        let mut tmp = [0u8; 8];
        let content: &[u8] = match *self {
            MacCommandRepr::AssociationRequest { capability } => {
                tmp[0] = capability;
                &tmp[..1]
            }
            MacCommandRepr::AssociationResponse { short_addr, status } => {
                tmp[..2].copy_from_slice(&short_addr.to_le_bytes());
                tmp[2] = status;
                &tmp[..3]
            }
            MacCommandRepr::DisassociationNotification { reason } => {
                tmp[0] = reason;
                &tmp[..1]
            }
            MacCommandRepr::GtsRequest { characteristics } => {
                tmp[0] = characteristics;
                &tmp[..1]
            }
            MacCommandRepr::CoordinatorRealignment {
                pan_id,
                coord_short_addr,
                channel,
                short_addr,
                channel_page,
            } => {
                tmp[..2].copy_from_slice(&pan_id.to_le_bytes());
                tmp[2..4].copy_from_slice(&coord_short_addr.to_le_bytes());
                tmp[4] = channel;
                tmp[5..7].copy_from_slice(&short_addr.to_le_bytes());
                match channel_page {
                    Some(p) => {
                        tmp[7] = p;
                        &tmp[..8]
                    }
                    None => &tmp[..7],
                }
            }
            MacCommandRepr::Other { content, .. } => content,
            _ => &[],
        };
        let (id, rest) = out.split_at_mut(1);
        id.fill(u8::from(self.command_id()));
        rest.copy_from_slice(content);
        Ok(len)
    }
}

impl fmt::Display for MacCommandRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.command_id();
        write!(f, "MAC command 0x{:02x} {}", u8::from(id), id.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors() {
        // (bytes, expected)
        let cases: [(&[u8], MacCommandRepr<'static>); 9] = [
            // Annex C.2.3 association request content: capability 0xce.
            (
                &[0x01, 0xce],
                MacCommandRepr::AssociationRequest { capability: 0xce },
            ),
            (
                &[0x02, 0x34, 0x12, 0x00],
                MacCommandRepr::AssociationResponse {
                    short_addr: ShortAddr(0x1234),
                    status: 0,
                },
            ),
            (
                &[0x03, 0x02],
                MacCommandRepr::DisassociationNotification { reason: 2 },
            ),
            (&[0x04], MacCommandRepr::DataRequest),
            (&[0x05], MacCommandRepr::PanIdConflictNotification),
            (&[0x06], MacCommandRepr::OrphanNotification),
            (&[0x07], MacCommandRepr::BeaconRequest),
            (
                &[0x08, 0xcd, 0xab, 0x00, 0x00, 0x0f, 0x01, 0x00, 0x00],
                MacCommandRepr::CoordinatorRealignment {
                    pan_id: PanId(0xabcd),
                    coord_short_addr: ShortAddr(0),
                    channel: 15,
                    short_addr: ShortAddr(1),
                    channel_page: Some(0),
                },
            ),
            (
                &[0x42, 1, 2],
                MacCommandRepr::Other {
                    id: 0x42,
                    content: &[1, 2],
                },
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(MacCommandRepr::parse(bytes).unwrap(), want);
            assert_eq!(want.buffer_len(), bytes.len());
            let mut buf = [0xa5u8; 16];
            assert_eq!(want.emit(&mut buf).unwrap(), bytes.len());
            assert_eq!(&buf[..bytes.len()], bytes);
        }
        let gts = MacCommandRepr::GtsRequest {
            characteristics: 0x21,
        };
        let mut buf = [0u8; 2];
        gts.emit(&mut buf).unwrap();
        assert_eq!(MacCommandRepr::parse(&buf).unwrap(), gts);
        let realign7 = [0x08, 0xcd, 0xab, 0x00, 0x00, 0x0f, 0x01, 0x00];
        assert!(matches!(
            MacCommandRepr::parse(&realign7).unwrap(),
            MacCommandRepr::CoordinatorRealignment {
                channel_page: None,
                ..
            }
        ));
    }

    #[test]
    fn errors() {
        assert_eq!(
            MacCommandRepr::parse(&[]),
            Err(Error::Truncated { needed: 1, got: 0 })
        );
        assert_eq!(
            MacCommandRepr::parse(&[0x02, 0x34]),
            Err(Error::Truncated { needed: 4, got: 2 })
        );
        assert_eq!(
            MacCommandRepr::parse(&[0x07, 0x00]),
            Err(Error::Malformed("MAC command content length"))
        );
        assert_eq!(
            MacCommandRepr::Other {
                id: 7,
                content: &[]
            }
            .emit(&mut [0u8; 1]),
            Err(Error::Invalid("Other command with a known command id"))
        );
        assert_eq!(
            MacCommandRepr::BeaconRequest.emit(&mut []),
            Err(Error::BufferTooSmall { required: 1 })
        );
    }
}
