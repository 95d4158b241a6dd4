//! Protocol constants (RFC 6550 §17, RFC 6552 §6.3, RFC 6719 §5).

use core::net::Ipv6Addr;

/// All-RPL-nodes link-local multicast address, `ff02::1a` (RFC 6550 §20.19).
pub const ALL_RPL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x1a);
/// BASE_RANK (§17).
pub const BASE_RANK: u16 = 0;
/// INFINITE_RANK (§17).
pub const INFINITE_RANK: u16 = 0xffff;
/// RPL_DEFAULT_INSTANCE (§17).
pub const RPL_DEFAULT_INSTANCE: u8 = 0;
/// DEFAULT_PATH_CONTROL_SIZE (§17).
pub const DEFAULT_PATH_CONTROL_SIZE: u8 = 0;
/// DEFAULT_DIO_INTERVAL_MIN: Imin = 2^3 ms (§17).
pub const DEFAULT_DIO_INTERVAL_MIN: u8 = 3;
/// DEFAULT_DIO_INTERVAL_DOUBLINGS (§17).
pub const DEFAULT_DIO_INTERVAL_DOUBLINGS: u8 = 20;
/// DEFAULT_DIO_REDUNDANCY_CONSTANT (§17).
pub const DEFAULT_DIO_REDUNDANCY_CONSTANT: u8 = 10;
/// DEFAULT_MIN_HOP_RANK_INCREASE (§17).
pub const DEFAULT_MIN_HOP_RANK_INCREASE: u16 = 256;
/// DEFAULT_DAO_DELAY in milliseconds (§17).
pub const DEFAULT_DAO_DELAY_MS: u64 = 1_000;
/// Objective Code Point of OF0 (RFC 6552 §7).
pub const OCP_OF0: u16 = 0;
/// Objective Code Point of MRHOF (RFC 6719 §6).
pub const OCP_MRHOF: u16 = 1;
/// Path Lifetime meaning "infinite" (RFC 6550 §6.7.8; 0xff).
pub const INFINITE_LIFETIME: u8 = 0xff;
/// DAO-ACK status: unqualified acceptance (§6.5).
pub const DAO_ACK_ACCEPT: u8 = 0;
/// DAO-ACK status: rejected because the table is full (≥ 128 is a rejection, §6.5).
pub const DAO_ACK_REJECT_TABLE_FULL: u8 = 128;
