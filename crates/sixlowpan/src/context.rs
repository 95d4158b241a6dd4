//! Compression contexts (RFC 6282 §3.1.2, distributed by RFC 6775 §4.2 6LoWPAN Context
//! Options): up to 16 prefixes, indexed 0..=15, supplied by the caller.

use crate::error::{Error, Result};
use core::net::Ipv6Addr;

/// RPL option type of RFC 9008 §11.1 (the default of [`ContextTable::rpi_option_type`]).
pub const RPI_OPTION_TYPE_RFC9008: u8 = 0x23;

/// Number of context identifiers (4-bit SCI/DCI, RFC 6282 §3.1.2).
pub const MAX_CONTEXTS: usize = 16;

/// One context: a prefix and its length in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Context {
    /// The prefix (bits beyond `prefix_len` are ignored).
    pub prefix: Ipv6Addr,
    /// Prefix length in bits (0..=128).
    pub prefix_len: u8,
    /// May the compressor use it? (RFC 6775 §4.2 C flag: a context can be kept for
    /// decompression only.) The decompressor always may.
    pub compress: bool,
}

impl Context {
    /// A context valid for compression and decompression.
    pub const fn new(prefix: Ipv6Addr, prefix_len: u8) -> Self {
        Context {
            prefix,
            prefix_len,
            compress: true,
        }
    }
}

/// The contexts in use on a link. Context 0 is also the one that applies when SAC/DAC = 1 and
/// CID = 0 (RFC 6282 §3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextTable {
    entries: [Option<Context>; MAX_CONTEXTS],
    /// Bit `i` set when entry `i` may be used for compression.
    compress_mask: u16,
    /// Per entry: the prefix bits and the mask covering them, precomputed for the compressor.
    prefixes: [(u128, u128); MAX_CONTEXTS],
    /// The upper 64 bits of context 0 when it is a /64 usable for compression (the usual
    /// case, checked without 128-bit masks).
    context0_prefix64: Option<u64>,
    /// The RPL option type an RPI-6LoRH stands for (RFC 9008 §4.3).
    rpi_option_type: u8,
    /// The DODAG root's address, which an IP-in-IP 6LoRH may elide (RFC 8138 §7).
    root: Option<Ipv6Addr>,
}

impl Default for ContextTable {
    fn default() -> Self {
        Self::new()
    }
}

/// The first `len` bits of `prefix` and the mask that covers them.
pub(crate) fn prefix_bits(prefix: Ipv6Addr, len: u8) -> (u128, u128) {
    let mask = match len {
        0 => 0,
        l if l >= 128 => u128::MAX,
        l => u128::MAX << (128 - u32::from(l)),
    };
    (u128::from(prefix) & mask, mask)
}

impl ContextTable {
    /// An empty table (stateless compression only).
    pub const fn new() -> Self {
        ContextTable {
            entries: [None; MAX_CONTEXTS],
            compress_mask: 0,
            prefixes: [(0, 0); MAX_CONTEXTS],
            context0_prefix64: None,
            rpi_option_type: RPI_OPTION_TYPE_RFC9008,
            root: None,
        }
    }

    /// The address of the DODAG root (its DODAGID, RFC 6550 §6.3.1) that an IP-in-IP 6LoRH
    /// elides or compresses its Encapsulator Address against (RFC 8138 §7), learnt by the
    /// node from its DODAG. Without one, the compressor carries encapsulator addresses
    /// whole and the decompressor refuses elided ones ([`Error::NoLinkAddress`]).
    pub fn root(&self) -> Option<Ipv6Addr> {
        self.root
    }

    /// Sets [`root`](Self::root).
    pub fn set_root(&mut self, root: Option<Ipv6Addr>) {
        self.root = root;
    }

    /// The RPL option type (RFC 6553 §3) a decompressed RPI-6LoRH (RFC 8138 §6.3) becomes,
    /// and the only one the compressor turns into an RPI-6LoRH: 0x23 by default
    /// (RFC 9008 §11.1). RFC 9008 §4.3 has a decompressor use the type in force in its
    /// DODAG, 0x23 or 0x63, which the root announces (RFC 9008 §4.1.3), so it is state
    /// shared on the link like the contexts.
    pub fn rpi_option_type(&self) -> u8 {
        self.rpi_option_type
    }

    /// Sets [`rpi_option_type`](Self::rpi_option_type).
    pub fn set_rpi_option_type(&mut self, option_type: u8) {
        self.rpi_option_type = option_type;
    }
    /// Installs context `id`.
    pub fn set(&mut self, id: u8, ctx: Context) -> Result<()> {
        if ctx.prefix_len > 128 {
            return Err(Error::BadLength);
        }
        let slot = self
            .entries
            .get_mut(usize::from(id))
            .ok_or(Error::UnknownContext(id))?;
        *slot = Some(ctx);
        if let Some(p) = self.prefixes.get_mut(usize::from(id)) {
            *p = prefix_bits(ctx.prefix, ctx.prefix_len);
        }
        let bit = 1u16 << (id & 15);
        if ctx.compress {
            self.compress_mask |= bit;
        } else {
            self.compress_mask &= !bit;
        }
        if id == 0 {
            self.context0_prefix64 = (ctx.compress && ctx.prefix_len == 64)
                .then(|| (u128::from(ctx.prefix) >> 64) as u64);
        }
        Ok(())
    }
    /// Builder form of [`ContextTable::set`].
    pub fn with(mut self, id: u8, ctx: Context) -> Result<Self> {
        self.set(id, ctx)?;
        Ok(self)
    }
    /// Removes context `id`.
    pub fn remove(&mut self, id: u8) {
        if let Some(slot) = self.entries.get_mut(usize::from(id)) {
            *slot = None;
            self.compress_mask &= !(1u16 << (id & 15));
            if id == 0 {
                self.context0_prefix64 = None;
            }
        }
    }
    /// Context `id`, if configured.
    pub fn get(&self, id: u8) -> Option<&Context> {
        self.entries.get(usize::from(id)).and_then(Option::as_ref)
    }
    /// Context `id` or `Err(UnknownContext)`.
    pub fn lookup(&self, id: u8) -> Result<&Context> {
        self.get(id).ok_or(Error::UnknownContext(id))
    }
    /// Context `id`'s `(prefix bits, mask)`, or `Err(UnknownContext)` if it is not configured.
    #[inline(always)]
    pub(crate) fn prefix(&self, id: u8) -> Result<(u128, u128)> {
        self.get(id).ok_or(Error::UnknownContext(id))?;
        self.prefixes
            .get(usize::from(id))
            .copied()
            .ok_or(Error::UnknownContext(id))
    }
    /// The upper 64 bits of context 0 if it is a /64 that may be used for compression.
    #[inline(always)]
    pub(crate) fn context0_prefix64(&self) -> Option<u64> {
        self.context0_prefix64
    }
    /// Context `id`'s `(prefix bits, mask)` if it may be used for compression.
    #[inline]
    pub(crate) fn compressing_prefix(&self, id: u8) -> Option<(u128, u128)> {
        if self.compress_mask & (1 << (id & 15)) == 0 {
            return None;
        }
        self.prefixes.get(usize::from(id)).copied()
    }
    /// Compression contexts as `(id, prefix bits, mask)`.
    pub(crate) fn compressing_prefixes(&self) -> impl Iterator<Item = (u8, u128, u128)> + '_ {
        let mut mask = self.compress_mask;
        core::iter::from_fn(move || {
            if mask == 0 {
                return None;
            }
            let i = mask.trailing_zeros() as u8;
            mask &= mask - 1;
            let (b, m) = self.prefixes.get(usize::from(i)).copied().unwrap_or((0, 0));
            Some((i, b, m))
        })
    }

    /// Iterates over configured contexts usable for compression, as `(id, context)`.
    pub fn compressing(&self) -> impl Iterator<Item = (u8, &Context)> {
        let mut mask = self.compress_mask;
        core::iter::from_fn(move || {
            while mask != 0 {
                let i = mask.trailing_zeros() as u8;
                mask &= mask - 1;
                if let Some(c) = self.get(i) {
                    return Some((i, c));
                }
            }
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn table() {
        let p: Ipv6Addr = "2001:db8::".parse().unwrap();
        let mut t = ContextTable::new().with(3, Context::new(p, 64)).unwrap();
        assert_eq!(t.get(3).unwrap().prefix, p);
        assert_eq!(t.lookup(2), Err(Error::UnknownContext(2)));
        assert_eq!(
            t.set(16, Context::new(p, 64)),
            Err(Error::UnknownContext(16))
        );
        assert_eq!(t.set(1, Context::new(p, 129)), Err(Error::BadLength));
        t.set(
            1,
            Context {
                compress: false,
                ..Context::new(p, 48)
            },
        )
        .unwrap();
        assert_eq!(t.compressing().map(|(i, _)| i).collect::<Vec<_>>(), vec![3]);
        t.remove(3);
        assert!(t.get(3).is_none());
    }
}
