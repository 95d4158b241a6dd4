//! Bounded, sans-IO reassembly of RFC 4944 §5.3 fragments.
//!
//! Buffers are keyed by (link source, link destination, datagram size, datagram tag) as
//! RFC 4944 §5.3 requires (with a mesh header, the caller passes the originator and final
//! addresses). A buffer lives at most [`ReassemblyConfig::timeout`] (60 s by default, the
//! RFC 4944 §5.3 reassembly timeout) from its first fragment.
//!
//! Limits: at most [`ReassemblyConfig::buffers`] datagrams at once and at most
//! [`ReassemblyConfig::max_bytes`] bytes of buffer space in total; a new datagram that does not
//! fit evicts the oldest ones — oldest by last activity, so a datagram whose fragments keep
//! arriving survives a flood of first fragments that never continue. Nothing a peer sends can
//! grow memory beyond these caps.
//!
//! Fragment handling:
//! - a fragment identical to one already received (same range, same bytes) is a duplicate and
//!   is ignored — this includes a repeated FRAG1;
//! - a fragment that overlaps received data with different bytes, or a FRAG1 whose headers
//!   differ, means the buffer cannot be trusted: it is discarded and reassembly starts again
//!   with the new fragment (the approach RFC 8200 §4.5 takes for overlapping IPv6 fragments);
//! - a lost fragment leaves the buffer incomplete until the timeout frees it.
//!
//! Every drop is counted in [`Stats`]. Time is the caller's `now`, assumed monotonic.

use crate::compress::{ChecksumFixup, decompress_header};
use crate::context::ContextTable;
use crate::wire::lorh::PAGE_1_DISPATCH;
use crate::wire::lowpan::{Dispatch, FragHeader, FragRepr, MAX_DATAGRAM_SIZE};
use alloc::vec;
use alloc::vec::Vec;
use amimesh_core::{Duration, Instant, LinkAddr};

/// Largest uncompressed header a FRAG1 may rebuild.
const MAX_HEADER: usize = 1024;

/// Reassembly limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Concurrent datagrams (default 4).
    pub buffers: usize,
    /// Lifetime of a buffer from its first fragment (default 60 s, RFC 4944 §5.3).
    pub timeout: Duration,
    /// Total bytes of all buffers (default 4 × 1280).
    pub max_bytes: usize,
    /// Largest datagram accepted (default 1280, the IPv6 minimum MTU; at most 2047).
    pub max_datagram: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            buffers: 4,
            timeout: Duration::from_secs(60),
            max_bytes: 4 * 1280,
            max_datagram: 1280,
        }
    }
}

/// Counters for every outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Fragments handed in.
    pub fragments: u64,
    /// Datagrams completed.
    pub datagrams: u64,
    /// Fragments that are not fragments, are truncated, or lie outside their datagram.
    pub malformed: u64,
    /// FRAG1 whose compressed headers could not be decompressed.
    pub decompress_failed: u64,
    /// Datagrams larger than the configured maximum.
    pub too_large: u64,
    /// Exact duplicates ignored.
    pub duplicates: u64,
    /// Buffers discarded because a fragment overlapped with different content.
    pub overlaps: u64,
    /// Buffers freed by the timeout.
    pub timeouts: u64,
    /// Buffers evicted to make room.
    pub evicted: u64,
}

/// A reassembled datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Link source (or mesh originator).
    pub src: LinkAddr,
    /// Link destination (or mesh final address).
    pub dst: LinkAddr,
    /// The IPv6 packet.
    pub packet: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    src: LinkAddr,
    dst: LinkAddr,
    size: u16,
    tag: u16,
}

#[derive(Debug, Clone)]
struct Buffer {
    key: Key,
    created: Instant,
    /// Value of the reassembler's activity counter when this buffer last took a fragment.
    touched: u64,
    data: Vec<u8>,
    /// One bit per 8-byte block received in full (or up to the datagram end).
    blocks: [u64; 4],
    /// Byte ranges received, to tell duplicates from overlaps.
    have: Vec<(u16, u16)>,
    fixup: Option<ChecksumFixup>,
}

impl Buffer {
    fn block_count(&self) -> usize {
        self.data.len().div_ceil(8)
    }
    fn complete(&self) -> bool {
        (0..self.block_count()).all(|i| {
            self.blocks
                .get(i / 64)
                .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
        })
    }
    fn mark(&mut self, start: usize, end: usize) {
        let first = start / 8;
        let last = if end >= self.data.len() {
            self.block_count()
        } else {
            end / 8
        };
        for i in first..last {
            if let Some(w) = self.blocks.get_mut(i / 64) {
                *w |= 1u64 << (i % 64);
            }
        }
    }
}

/// What a fragment does to a buffer.
enum Placement {
    New,
    Duplicate,
    Conflict,
}

/// The reassembler. Feed it with [`Reassembler::handle_fragment`]; call
/// [`Reassembler::handle_timeout`] when [`Reassembler::poll_timeout`] says so.
#[derive(Debug, Clone)]
pub struct Reassembler {
    cfg: ReassemblyConfig,
    buffers: Vec<Buffer>,
    used: usize,
    activity: u64,
    stats: Stats,
}

impl Reassembler {
    /// A reassembler with the given limits (`max_datagram` is clamped to 2047).
    pub fn new(cfg: ReassemblyConfig) -> Self {
        let cfg = ReassemblyConfig {
            max_datagram: cfg.max_datagram.min(MAX_DATAGRAM_SIZE),
            ..cfg
        };
        Reassembler {
            buffers: Vec::with_capacity(cfg.buffers),
            cfg,
            used: 0,
            activity: 0,
            stats: Stats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Datagrams being reassembled.
    pub fn in_progress(&self) -> usize {
        self.buffers.len()
    }

    /// Drops every partial datagram (for example when the keys that protected its fragments
    /// are wiped); returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.buffers.len();
        self.buffers.clear();
        self.used = 0;
        n
    }

    /// Bytes held in buffers (never above `max_bytes`).
    pub fn bytes_used(&self) -> usize {
        self.used
    }

    /// The earliest instant at which a buffer expires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.buffers
            .iter()
            .map(|b| b.created + self.cfg.timeout)
            .min()
    }

    /// Frees every buffer whose lifetime has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.cfg.timeout;
        let mut freed = 0;
        let mut bytes = 0;
        self.buffers.retain(|b| {
            let keep = now < b.created + timeout;
            if !keep {
                freed += 1;
                bytes += b.data.len();
            }
            keep
        });
        self.stats.timeouts += freed;
        self.used -= bytes;
    }

    fn remove(&mut self, i: usize) -> Option<Buffer> {
        if i < self.buffers.len() {
            let b = self.buffers.remove(i);
            self.used -= b.data.len();
            Some(b)
        } else {
            None
        }
    }

    fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .buffers
            .iter()
            .enumerate()
            .min_by_key(|(_, b)| b.touched)
            .map(|(i, _)| i);
        match oldest.and_then(|i| self.remove(i)) {
            Some(_) => {
                self.stats.evicted += 1;
                true
            }
            None => false,
        }
    }

    /// Handles one 6LoWPAN payload that starts with a FRAG1 or FRAGN header (mesh and
    /// broadcast headers already removed). Returns the datagram when this fragment completes
    /// it. Anything wrong is dropped and counted.
    pub fn handle_fragment(
        &mut self,
        now: Instant,
        src: LinkAddr,
        dst: LinkAddr,
        ctx: &ContextTable,
        frame: &[u8],
    ) -> Option<Datagram> {
        self.stats.fragments += 1;
        self.handle_timeout(now);
        let Ok(h) = FragHeader::new_checked(frame) else {
            self.stats.malformed += 1;
            return None;
        };
        let Ok(f) = FragRepr::parse(&h) else {
            self.stats.malformed += 1;
            return None;
        };
        let size = usize::from(f.size());
        if size > self.cfg.max_datagram || size > self.cfg.max_bytes {
            self.stats.too_large += 1;
            return None;
        }
        let key = Key {
            src,
            dst,
            size: f.size(),
            tag: f.tag(),
        };
        let payload = h.payload();

        // Rebuild what this fragment contributes, in uncompressed coordinates.
        let mut header = [0u8; MAX_HEADER];
        let (start, hdr_len, raw, fixup) = match f {
            FragRepr::First { .. } => {
                // IPHC, uncompressed IPv6, or page 1 with 6LoRH (RFC 8138 §6.3).
                if !matches!(
                    payload.first().map(|b| Dispatch::from_byte(*b)),
                    Some(Dispatch::Iphc | Dispatch::Ipv6 | Dispatch::Other(PAGE_1_DISPATCH))
                ) {
                    self.stats.malformed += 1;
                    return None;
                }
                match decompress_header(payload, src, dst, ctx, Some(size), &mut header) {
                    Ok(d) => (
                        0,
                        d.header_len,
                        payload.get(d.consumed..).unwrap_or(&[]),
                        d.checksum,
                    ),
                    Err(_) => {
                        self.stats.decompress_failed += 1;
                        return None;
                    }
                }
            }
            FragRepr::Subsequent { .. } => (f.offset_bytes(), 0, payload, None),
        };
        let end = start + hdr_len + raw.len();
        if end > size || end == start {
            self.stats.malformed += 1;
            return None;
        }
        let hdr = header.get(..hdr_len).unwrap_or(&[]);

        let idx = match self.buffers.iter().position(|b| b.key == key) {
            Some(i) => {
                let placement = self.buffers.get(i).map(|b| place(b, start, end, hdr, raw));
                match placement {
                    Some(Placement::Duplicate) => {
                        self.stats.duplicates += 1;
                        return None;
                    }
                    Some(Placement::Conflict) => {
                        self.stats.overlaps += 1;
                        self.remove(i);
                        self.open(now, key)?
                    }
                    _ => i,
                }
            }
            None => self.open(now, key)?,
        };
        self.activity += 1;
        let activity = self.activity;
        let b = self.buffers.get_mut(idx)?;
        b.touched = activity;
        if let Some(d) = b.data.get_mut(start..start + hdr_len) {
            d.copy_from_slice(hdr);
        }
        if let Some(d) = b.data.get_mut(start + hdr_len..end) {
            d.copy_from_slice(raw);
        }
        b.have.push((start as u16, end as u16));
        b.mark(start, end);
        if fixup.is_some() {
            b.fixup = fixup;
        }
        if !b.complete() {
            return None;
        }
        let mut b = self.remove(idx)?;
        if let Some(fx) = b.fixup {
            if fx.apply(&mut b.data).is_err() {
                self.stats.malformed += 1;
                return None;
            }
        }
        self.stats.datagrams += 1;
        Some(Datagram {
            src,
            dst,
            packet: b.data,
        })
    }

    /// Opens a buffer for `key`, evicting the oldest ones until it fits.
    fn open(&mut self, now: Instant, key: Key) -> Option<usize> {
        let size = usize::from(key.size);
        if self.cfg.buffers == 0 {
            self.stats.evicted += 1;
            return None;
        }
        while self.buffers.len() >= self.cfg.buffers || self.used + size > self.cfg.max_bytes {
            if !self.evict_oldest() {
                return None;
            }
        }
        self.used += size;
        self.buffers.push(Buffer {
            key,
            created: now,
            touched: self.activity,
            data: vec![0; size],
            blocks: [0; 4],
            have: Vec::with_capacity(4),
            fixup: None,
        });
        Some(self.buffers.len() - 1)
    }
}

/// Compares a new fragment with the data already in the buffer.
fn place(b: &Buffer, start: usize, end: usize, hdr: &[u8], raw: &[u8]) -> Placement {
    let mut overlaps = false;
    for &(s, e) in &b.have {
        let (s, e) = (usize::from(s), usize::from(e));
        if start < e && s < end {
            overlaps = true;
            if s != start || e != end {
                return Placement::Conflict;
            }
        }
    }
    if !overlaps {
        return Placement::New;
    }
    let same = b.data.get(start..start + hdr.len()) == Some(hdr)
        && b.data.get(start + hdr.len()..end) == Some(raw);
    if same {
        Placement::Duplicate
    } else {
        Placement::Conflict
    }
}
