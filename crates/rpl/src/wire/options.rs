//! RPL control message options (RFC 6550 §6.7) and their iterator.
//!
//! Every option except Pad1 is `Type(1) | Option Length(1) | data`, where Option Length counts
//! the data bytes only (RFC 6550 §6.7.1). Pad1 is the single byte `0x00` (§6.7.2).
//!
//! [`RplOption`] is the zero-copy view of one option, [`OptionRepr`] its parsed form and
//! [`OptionsIter`] walks a run of options, stopping at the first malformed one. [`Options`] is
//! the option area of a message as a value: the raw (validated) bytes after a parse, or a list of
//! [`OptionRepr`] when building. Unknown option types keep their data and round-trip unchanged.

use core::fmt;
use core::net::Ipv6Addr;

use super::field::*;
use crate::error::{Error, Result, need, room};

amimesh_core::enum_with_unknown! {
    /// RPL control message option types (RFC 6550 §20.4, RFC 6997 for 0x0a).
    pub enum OptionType(u8) {
        /// Pad1 (§6.7.2).
        Pad1 = 0x00,
        /// PadN (§6.7.3).
        PadN = 0x01,
        /// DAG Metric Container (§6.7.4, RFC 6551).
        DagMetricContainer = 0x02,
        /// Route Information (§6.7.5).
        RouteInformation = 0x03,
        /// DODAG Configuration (§6.7.6).
        DodagConfiguration = 0x04,
        /// RPL Target (§6.7.7).
        RplTarget = 0x05,
        /// Transit Information (§6.7.8).
        TransitInformation = 0x06,
        /// Solicited Information (§6.7.9).
        SolicitedInformation = 0x07,
        /// Prefix Information (§6.7.10).
        PrefixInformation = 0x08,
        /// RPL Target Descriptor (§6.7.11).
        RplTargetDescriptor = 0x09,
    }
}

impl OptionType {
    /// The option's name as Wireshark and RFC 6550 print it.
    pub fn name(self) -> &'static str {
        match self {
            OptionType::Pad1 => "Pad1",
            OptionType::PadN => "PadN",
            OptionType::DagMetricContainer => "DAG Metric Container",
            OptionType::RouteInformation => "Route Information",
            OptionType::DodagConfiguration => "DODAG Configuration",
            OptionType::RplTarget => "RPL Target",
            OptionType::TransitInformation => "Transit Information",
            OptionType::SolicitedInformation => "Solicited Information",
            OptionType::PrefixInformation => "Prefix Information",
            OptionType::RplTargetDescriptor => "RPL Target Descriptor",
            OptionType::Unknown(_) => "Unknown",
        }
    }
}

/// Data lengths of the fixed-size options (RFC 6550 §6.7.6, §6.7.9–§6.7.11).
pub mod len {
    /// DODAG Configuration data length.
    pub const DODAG_CONFIGURATION: usize = 14;
    /// Solicited Information data length.
    pub const SOLICITED_INFORMATION: usize = 19;
    /// Prefix Information data length.
    pub const PREFIX_INFORMATION: usize = 30;
    /// RPL Target Descriptor data length.
    pub const RPL_TARGET_DESCRIPTOR: usize = 4;
    /// Transit Information data length without / with the Parent Address.
    pub const TRANSIT_SHORT: usize = 4;
    /// Transit Information data length with the Parent Address.
    pub const TRANSIT_LONG: usize = 20;
    /// Route Information: fixed part before the prefix.
    pub const ROUTE_INFORMATION_MIN: usize = 6;
    /// RPL Target: fixed part before the prefix.
    pub const RPL_TARGET_MIN: usize = 2;
}

/// A read/write view of one RPL option.
///
/// Once [`check_len`](Self::check_len) succeeds, no getter panics (none can anyway: every read
/// goes through bounds-checked helpers).
#[derive(Debug, Clone)]
pub struct RplOption<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> RplOption<T> {
    /// Wraps `buffer` without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        RplOption { buffer }
    }
    /// Wraps and checks `buffer`.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let o = Self::new_unchecked(buffer);
        o.check_len()?;
        Ok(o)
    }
    /// Ensures the type byte, the length byte (except for Pad1) and the data are present.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(b, 1)?;
        if u8_at(b, 0) == 0 {
            return Ok(());
        }
        need(b, 2)?;
        need(b, 2 + usize::from(u8_at(b, 1)))
    }
    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// Option Type.
    pub fn option_type(&self) -> OptionType {
        OptionType::from(u8_at(self.buffer.as_ref(), 0))
    }
    /// Option Length (data bytes); 0 for Pad1.
    pub fn data_len(&self) -> u8 {
        if self.option_type() == OptionType::Pad1 {
            0
        } else {
            u8_at(self.buffer.as_ref(), 1)
        }
    }
    /// Bytes the option occupies, type and length included.
    pub fn total_len(&self) -> usize {
        if self.option_type() == OptionType::Pad1 {
            1
        } else {
            2 + usize::from(self.data_len())
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> RplOption<&'a T> {
    /// The option data (empty for Pad1).
    pub fn data(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        if u8_at(b, 0) == 0 {
            &[]
        } else {
            slice(b, 2, 2 + usize::from(u8_at(b, 1)))
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> RplOption<T> {
    /// Sets the Option Type.
    pub fn set_option_type(&mut self, t: OptionType) {
        set_u8(self.buffer.as_mut(), 0, t.into())
    }
    /// Sets the Option Length.
    pub fn set_data_len(&mut self, l: u8) {
        set_u8(self.buffer.as_mut(), 1, l)
    }
    /// The option data, mutably (empty if the buffer is too short).
    pub fn data_mut(&mut self) -> &mut [u8] {
        let l = usize::from(u8_at(self.buffer.as_ref(), 1));
        self.buffer.as_mut().get_mut(2..2 + l).unwrap_or(&mut [])
    }
}

/// Transit Information flags (RFC 6550 §6.7.8; RFC 9009 §4.1 adds I).
pub mod transit_flags {
    /// External: the target is outside the RPL domain.
    pub const E: u8 = 0x80;
    /// Invalidate previous route (RFC 9009).
    pub const I: u8 = 0x40;
}

/// A parsed RPL option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionRepr<'a> {
    /// Pad1: one zero byte.
    Pad1,
    /// PadN with `n` zero data bytes (0..=255; §6.7.3 allows up to 5 but larger values parse).
    PadN(u8),
    /// DAG Metric Container: RFC 6551 metric objects, kept raw (see [`MetricObjects`]).
    DagMetricContainer(&'a [u8]),
    /// Route Information (§6.7.5).
    RouteInformation {
        /// Prefix length in bits.
        prefix_length: u8,
        /// Route preference (2 bits, RFC 4191 §2.1).
        preference: u8,
        /// Route lifetime in seconds (0xffffffff = infinity).
        route_lifetime: u32,
        /// The prefix bytes as carried (0..=16 bytes).
        prefix: &'a [u8],
    },
    /// DODAG Configuration (§6.7.6).
    DodagConfiguration(DodagConfiguration),
    /// RPL Target (§6.7.7).
    RplTarget {
        /// Flags byte (reserved in RFC 6550).
        flags: u8,
        /// Prefix length in bits.
        prefix_length: u8,
        /// Target prefix bytes as carried (0..=16 bytes).
        prefix: &'a [u8],
    },
    /// Transit Information (§6.7.8).
    TransitInformation(TransitInformation),
    /// Solicited Information (§6.7.9).
    SolicitedInformation {
        /// RPLInstanceID predicate value.
        instance_id: u8,
        /// V: the Version predicate is set.
        version_predicate: bool,
        /// I: the InstanceID predicate is set.
        instance_id_predicate: bool,
        /// D: the DODAGID predicate is set.
        dodag_id_predicate: bool,
        /// DODAGID predicate value.
        dodag_id: Ipv6Addr,
        /// Version predicate value.
        version: u8,
    },
    /// Prefix Information (§6.7.10).
    PrefixInformation {
        /// Prefix length in bits.
        prefix_length: u8,
        /// L: on-link.
        on_link: bool,
        /// A: usable for autonomous address configuration.
        autonomous: bool,
        /// R: the prefix field holds the sender's full address.
        router_address: bool,
        /// Valid lifetime in seconds.
        valid_lifetime: u32,
        /// Preferred lifetime in seconds.
        preferred_lifetime: u32,
        /// The prefix (or, with R, the router address).
        prefix: Ipv6Addr,
    },
    /// RPL Target Descriptor (§6.7.11).
    RplTargetDescriptor(u32),
    /// An option type this crate does not interpret.
    Unknown {
        /// Option Type.
        option_type: u8,
        /// Option data.
        data: &'a [u8],
    },
}

/// Flag bits of the DODAG Configuration option's first data octet (RFC 6550 §6.7.6).
pub mod dodag_config_flags {
    /// T: "Enable Compression per RFC 8138", bit 2 (RFC 9035 §3, §6).
    pub const T: u8 = 0x20;
}

/// The DODAG Configuration option's fields (RFC 6550 §6.7.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DodagConfiguration {
    /// T: the DODAG uses RFC 8138 compression (RFC 9035 §3; flag bit 2 of the option's
    /// flags field, RFC 9035 §6).
    pub rfc8138_compression: bool,
    /// A: authentication enabled.
    pub authentication: bool,
    /// Path Control Size (3 bits).
    pub path_control_size: u8,
    /// DIOIntervalDoublings.
    pub dio_interval_doublings: u8,
    /// DIOIntervalMin (Imin = 2^this ms).
    pub dio_interval_min: u8,
    /// DIORedundancyConstant (k).
    pub dio_redundancy_constant: u8,
    /// MaxRankIncrease.
    pub max_rank_increase: u16,
    /// MinHopRankIncrease.
    pub min_hop_rank_increase: u16,
    /// Objective Code Point.
    pub objective_code_point: u16,
    /// Default Lifetime (in Lifetime Units).
    pub default_lifetime: u8,
    /// Lifetime Unit in seconds.
    pub lifetime_unit: u16,
}

/// The Transit Information option's fields (RFC 6550 §6.7.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransitInformation {
    /// E: external target.
    pub external: bool,
    /// I: invalidate previous route (RFC 9009 §4.1).
    pub invalidate: bool,
    /// Path Control.
    pub path_control: u8,
    /// Path Sequence (lollipop).
    pub path_sequence: u8,
    /// Path Lifetime in Lifetime Units; 0 = No-Path, 0xff = infinite.
    pub path_lifetime: u8,
    /// Parent Address (present in non-storing mode).
    pub parent_address: Option<Ipv6Addr>,
}

impl<'a> OptionRepr<'a> {
    /// Parses a checked option view.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(o: &RplOption<&'a T>) -> Result<Self> {
        o.check_len()?;
        let d = o.data();
        let n = d.len();
        let exact = |want: usize| {
            if n == want {
                Ok(())
            } else {
                Err(Error::BadLength)
            }
        };
        Ok(match o.option_type() {
            OptionType::Pad1 => OptionRepr::Pad1,
            OptionType::PadN => OptionRepr::PadN(o.data_len()),
            OptionType::DagMetricContainer => OptionRepr::DagMetricContainer(d),
            OptionType::RouteInformation => {
                if !(len::ROUTE_INFORMATION_MIN..=len::ROUTE_INFORMATION_MIN + 16).contains(&n) {
                    return Err(Error::BadLength);
                }
                let prefix_length = u8_at(d, 0);
                if prefix_length > 128 {
                    return Err(Error::Malformed("route information prefix length > 128"));
                }
                OptionRepr::RouteInformation {
                    prefix_length,
                    preference: (u8_at(d, 1) >> 3) & 0x03,
                    route_lifetime: u32_at(d, 2),
                    prefix: slice(d, 6, n),
                }
            }
            OptionType::DodagConfiguration => {
                exact(len::DODAG_CONFIGURATION)?;
                OptionRepr::DodagConfiguration(DodagConfiguration {
                    rfc8138_compression: u8_at(d, 0) & dodag_config_flags::T != 0,
                    authentication: u8_at(d, 0) & 0x08 != 0,
                    path_control_size: u8_at(d, 0) & 0x07,
                    dio_interval_doublings: u8_at(d, 1),
                    dio_interval_min: u8_at(d, 2),
                    dio_redundancy_constant: u8_at(d, 3),
                    max_rank_increase: u16_at(d, 4),
                    min_hop_rank_increase: u16_at(d, 6),
                    objective_code_point: u16_at(d, 8),
                    default_lifetime: u8_at(d, 11),
                    lifetime_unit: u16_at(d, 12),
                })
            }
            OptionType::RplTarget => {
                if !(len::RPL_TARGET_MIN..=len::RPL_TARGET_MIN + 16).contains(&n) {
                    return Err(Error::BadLength);
                }
                let prefix_length = u8_at(d, 1);
                if prefix_length > 128 {
                    return Err(Error::Malformed("target prefix length > 128"));
                }
                OptionRepr::RplTarget {
                    flags: u8_at(d, 0),
                    prefix_length,
                    prefix: slice(d, 2, n),
                }
            }
            OptionType::TransitInformation => {
                let parent_address = match n {
                    len::TRANSIT_SHORT => None,
                    len::TRANSIT_LONG => Some(addr_at(d, 4)),
                    _ => return Err(Error::BadLength),
                };
                OptionRepr::TransitInformation(TransitInformation {
                    external: u8_at(d, 0) & transit_flags::E != 0,
                    invalidate: u8_at(d, 0) & transit_flags::I != 0,
                    path_control: u8_at(d, 1),
                    path_sequence: u8_at(d, 2),
                    path_lifetime: u8_at(d, 3),
                    parent_address,
                })
            }
            OptionType::SolicitedInformation => {
                exact(len::SOLICITED_INFORMATION)?;
                let f = u8_at(d, 1);
                OptionRepr::SolicitedInformation {
                    instance_id: u8_at(d, 0),
                    version_predicate: f & 0x80 != 0,
                    instance_id_predicate: f & 0x40 != 0,
                    dodag_id_predicate: f & 0x20 != 0,
                    dodag_id: addr_at(d, 2),
                    version: u8_at(d, 18),
                }
            }
            OptionType::PrefixInformation => {
                exact(len::PREFIX_INFORMATION)?;
                let prefix_length = u8_at(d, 0);
                if prefix_length > 128 {
                    return Err(Error::Malformed("prefix length > 128"));
                }
                let f = u8_at(d, 1);
                OptionRepr::PrefixInformation {
                    prefix_length,
                    on_link: f & 0x80 != 0,
                    autonomous: f & 0x40 != 0,
                    router_address: f & 0x20 != 0,
                    valid_lifetime: u32_at(d, 2),
                    preferred_lifetime: u32_at(d, 6),
                    prefix: addr_at(d, 14),
                }
            }
            OptionType::RplTargetDescriptor => {
                exact(len::RPL_TARGET_DESCRIPTOR)?;
                OptionRepr::RplTargetDescriptor(u32_at(d, 0))
            }
            OptionType::Unknown(t) => OptionRepr::Unknown {
                option_type: t,
                data: d,
            },
        })
    }

    /// The option type.
    pub fn option_type(&self) -> OptionType {
        match self {
            OptionRepr::Pad1 => OptionType::Pad1,
            OptionRepr::PadN(_) => OptionType::PadN,
            OptionRepr::DagMetricContainer(_) => OptionType::DagMetricContainer,
            OptionRepr::RouteInformation { .. } => OptionType::RouteInformation,
            OptionRepr::DodagConfiguration(_) => OptionType::DodagConfiguration,
            OptionRepr::RplTarget { .. } => OptionType::RplTarget,
            OptionRepr::TransitInformation(_) => OptionType::TransitInformation,
            OptionRepr::SolicitedInformation { .. } => OptionType::SolicitedInformation,
            OptionRepr::PrefixInformation { .. } => OptionType::PrefixInformation,
            OptionRepr::RplTargetDescriptor(_) => OptionType::RplTargetDescriptor,
            OptionRepr::Unknown { option_type, .. } => OptionType::from(*option_type),
        }
    }

    /// Data bytes (Option Length) this option emits; `None` for Pad1.
    fn data_len(&self) -> usize {
        match self {
            OptionRepr::Pad1 => 0,
            OptionRepr::PadN(n) => usize::from(*n),
            OptionRepr::DagMetricContainer(d) => d.len(),
            OptionRepr::RouteInformation { prefix, .. } => {
                len::ROUTE_INFORMATION_MIN + prefix.len().min(16)
            }
            OptionRepr::DodagConfiguration(_) => len::DODAG_CONFIGURATION,
            OptionRepr::RplTarget { prefix, .. } => len::RPL_TARGET_MIN + prefix.len().min(16),
            OptionRepr::TransitInformation(t) => {
                if t.parent_address.is_some() {
                    len::TRANSIT_LONG
                } else {
                    len::TRANSIT_SHORT
                }
            }
            OptionRepr::SolicitedInformation { .. } => len::SOLICITED_INFORMATION,
            OptionRepr::PrefixInformation { .. } => len::PREFIX_INFORMATION,
            OptionRepr::RplTargetDescriptor(_) => len::RPL_TARGET_DESCRIPTOR,
            OptionRepr::Unknown { data, .. } => data.len(),
        }
    }

    /// Bytes the option occupies on the wire.
    pub fn buffer_len(&self) -> usize {
        match self {
            OptionRepr::Pad1 => 1,
            _ => 2 + self.data_len(),
        }
    }

    /// Writes the option at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let total = self.buffer_len();
        room(buf, total)?;
        let dl = self.data_len();
        let dl8 = u8::try_from(dl).map_err(|_| Error::BadLength)?;
        let out = buf
            .get_mut(..total)
            .ok_or(Error::BufferTooSmall { required: total })?;
        let mut o = RplOption::new_unchecked(&mut *out);
        o.set_option_type(self.option_type());
        if matches!(self, OptionRepr::Pad1) {
            return Ok(1);
        }
        o.set_data_len(dl8);
        let d = o.data_mut();
        d.fill(0);
        match *self {
            OptionRepr::Pad1 | OptionRepr::PadN(_) => {}
            OptionRepr::DagMetricContainer(m) => set_bytes(d, 0, m),
            OptionRepr::RouteInformation {
                prefix_length,
                preference,
                route_lifetime,
                prefix,
            } => {
                set_u8(d, 0, prefix_length);
                set_u8(d, 1, (preference & 0x03) << 3);
                set_u32(d, 2, route_lifetime);
                set_bytes(d, 6, slice(prefix, 0, 16.min(prefix.len())));
            }
            OptionRepr::DodagConfiguration(c) => {
                set_u8(
                    d,
                    0,
                    (if c.rfc8138_compression {
                        dodag_config_flags::T
                    } else {
                        0
                    }) | (if c.authentication { 0x08 } else { 0 })
                        | (c.path_control_size & 0x07),
                );
                set_u8(d, 1, c.dio_interval_doublings);
                set_u8(d, 2, c.dio_interval_min);
                set_u8(d, 3, c.dio_redundancy_constant);
                set_u16(d, 4, c.max_rank_increase);
                set_u16(d, 6, c.min_hop_rank_increase);
                set_u16(d, 8, c.objective_code_point);
                set_u8(d, 11, c.default_lifetime);
                set_u16(d, 12, c.lifetime_unit);
            }
            OptionRepr::RplTarget {
                flags,
                prefix_length,
                prefix,
            } => {
                set_u8(d, 0, flags);
                set_u8(d, 1, prefix_length);
                set_bytes(d, 2, slice(prefix, 0, 16.min(prefix.len())));
            }
            OptionRepr::TransitInformation(t) => {
                set_flag(d, 0, transit_flags::E, t.external);
                set_flag(d, 0, transit_flags::I, t.invalidate);
                set_u8(d, 1, t.path_control);
                set_u8(d, 2, t.path_sequence);
                set_u8(d, 3, t.path_lifetime);
                if let Some(p) = t.parent_address {
                    set_addr(d, 4, &p);
                }
            }
            OptionRepr::SolicitedInformation {
                instance_id,
                version_predicate,
                instance_id_predicate,
                dodag_id_predicate,
                dodag_id,
                version,
            } => {
                set_u8(d, 0, instance_id);
                set_flag(d, 1, 0x80, version_predicate);
                set_flag(d, 1, 0x40, instance_id_predicate);
                set_flag(d, 1, 0x20, dodag_id_predicate);
                set_addr(d, 2, &dodag_id);
                set_u8(d, 18, version);
            }
            OptionRepr::PrefixInformation {
                prefix_length,
                on_link,
                autonomous,
                router_address,
                valid_lifetime,
                preferred_lifetime,
                prefix,
            } => {
                set_u8(d, 0, prefix_length);
                set_flag(d, 1, 0x80, on_link);
                set_flag(d, 1, 0x40, autonomous);
                set_flag(d, 1, 0x20, router_address);
                set_u32(d, 2, valid_lifetime);
                set_u32(d, 6, preferred_lifetime);
                set_addr(d, 14, &prefix);
            }
            OptionRepr::RplTargetDescriptor(v) => set_u32(d, 0, v),
            OptionRepr::Unknown { data, .. } => set_bytes(d, 0, data),
        }
        Ok(total)
    }

    /// The target address of an RPL Target option (prefix bytes zero-padded to 16).
    pub fn target_address(&self) -> Option<Ipv6Addr> {
        match self {
            OptionRepr::RplTarget { prefix, .. } => Some(addr_from_prefix(prefix)),
            _ => None,
        }
    }
}

impl fmt::Display for OptionRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} len={}", self.option_type().name(), self.data_len())
    }
}

/// Iterates over a run of options, yielding each parsed option; stops after the first error.
#[derive(Debug, Clone)]
pub struct OptionsIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> OptionsIter<'a> {
    /// Iterates over the options in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        OptionsIter {
            rest: bytes,
            failed: false,
        }
    }
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<OptionRepr<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let rest = self.rest;
        let r = RplOption::new_checked(rest).and_then(|o| {
            let n = o.total_len();
            OptionRepr::parse(&o).map(|r| (r, n))
        });
        match r {
            Ok((repr, n)) => {
                self.rest = rest.get(n..).unwrap_or(&[]);
                Some(Ok(repr))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The option area of a message.
///
/// Parsing yields `Bytes` (already validated); building uses `List`. Equality compares the
/// parsed option sequences, so a built message equals its own parse.
#[derive(Debug, Clone, Copy)]
pub enum Options<'a> {
    /// Options as wire bytes.
    Bytes(&'a [u8]),
    /// Options as values.
    List(&'a [OptionRepr<'a>]),
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options::Bytes(&[])
    }
}

impl<'a> Options<'a> {
    /// No options.
    pub const EMPTY: Options<'static> = Options::Bytes(&[]);

    /// Validates `bytes` as a run of well-formed options.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        for o in OptionsIter::new(bytes) {
            o?;
        }
        Ok(Options::Bytes(bytes))
    }

    /// Iterates over the options (each item is `Ok` for parsed or listed options).
    pub fn iter(&self) -> OptionsReprIter<'a> {
        match *self {
            Options::Bytes(b) => OptionsReprIter::Bytes(OptionsIter::new(b)),
            Options::List(l) => OptionsReprIter::List(l.iter()),
        }
    }

    /// Bytes the options occupy.
    pub fn buffer_len(&self) -> usize {
        match self {
            Options::Bytes(b) => b.len(),
            Options::List(l) => l.iter().map(OptionRepr::buffer_len).sum(),
        }
    }

    /// Writes the options at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        room(buf, self.buffer_len())?;
        match self {
            Options::Bytes(b) => {
                set_bytes(buf, 0, b);
                Ok(b.len())
            }
            Options::List(l) => {
                let mut off = 0usize;
                for o in l.iter() {
                    let rest = buf
                        .get_mut(off..)
                        .ok_or(Error::BufferTooSmall { required: off })?;
                    off = off.saturating_add(o.emit(rest)?);
                }
                Ok(off)
            }
        }
    }

    /// The first option of type `t`.
    pub fn find(&self, t: OptionType) -> Option<OptionRepr<'a>> {
        self.iter()
            .filter_map(|o| o.ok())
            .find(|o| o.option_type() == t)
    }

    /// Number of options.
    pub fn count(&self) -> usize {
        self.iter().count()
    }
}

impl PartialEq for Options<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}
impl Eq for Options<'_> {}

/// Iterator returned by [`Options::iter`].
#[derive(Debug, Clone)]
pub enum OptionsReprIter<'a> {
    /// Over wire bytes.
    Bytes(OptionsIter<'a>),
    /// Over a list.
    List(core::slice::Iter<'a, OptionRepr<'a>>),
}

impl<'a> Iterator for OptionsReprIter<'a> {
    type Item = Result<OptionRepr<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            OptionsReprIter::Bytes(i) => i.next(),
            OptionsReprIter::List(i) => i.next().map(|o| Ok(*o)),
        }
    }
}

/// One RFC 6551 metric/constraint object inside a DAG Metric Container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricObject<'a> {
    /// Routing-MC-Type (1 NSA, 2 Node Energy, 3 Hop Count, …, 7 ETX).
    pub mc_type: u8,
    /// The 16 flag bits `Res(5) P C O R A(3) Prec(4)`.
    pub flags: u16,
    /// The object body.
    pub body: &'a [u8],
}

/// RFC 6551 §2.1 metric object types.
pub mod metric_type {
    /// Hop Count object.
    pub const HOP_COUNT: u8 = 3;
    /// ETX object (value is ETX × 128, 16 bits).
    pub const ETX: u8 = 7;
}

/// Iterates over the metric objects of a DAG Metric Container (RFC 6551 §2.1):
/// `Type(1) Flags(2) Length(1) body`; stops at the first truncated object.
#[derive(Debug, Clone)]
pub struct MetricObjects<'a> {
    rest: &'a [u8],
}

impl<'a> MetricObjects<'a> {
    /// Iterates over the objects in a DAG Metric Container's data.
    pub fn new(data: &'a [u8]) -> Self {
        MetricObjects { rest: data }
    }
}

impl<'a> Iterator for MetricObjects<'a> {
    type Item = Result<MetricObject<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.rest;
        if let Err(e) = need(r, 4) {
            self.rest = &[];
            return Some(Err(e));
        }
        let l = usize::from(u8_at(r, 3));
        if let Err(e) = need(r, 4 + l) {
            self.rest = &[];
            return Some(Err(e));
        }
        self.rest = r.get(4 + l..).unwrap_or(&[]);
        Some(Ok(MetricObject {
            mc_type: u8_at(r, 0),
            flags: u16_at(r, 1),
            body: slice(r, 4, 4 + l),
        }))
    }
}
