//! The fragmenter (RFC 4944 §5.3).
//!
//! Given a datagram and the payload budget of one frame (the MAC payload left after the MAC
//! header, auxiliary security header and MIC, and after any mesh or broadcast header the
//! caller adds), it produces either one unfragmented frame or a FRAG1 and FRAGNs. Offsets and
//! `datagram_size` count uncompressed bytes. Every fragment but the last covers a multiple of
//! 8 bytes of the uncompressed datagram.
//!
//! The compressed headers must sit in FRAG1, since a receiver cannot decompress them
//! otherwise. When the fully compressed header chain does not fit (a deep source route, many
//! options), the fragmenter compresses fewer NHC headers: the rest of the chain travels
//! uncompressed and, being byte-for-byte the datagram, may continue in the next fragments.
//! At worst it falls back to the uncompressed dispatch 0x41, which fits any budget of 13 bytes
//! or more.

use crate::compress::{CompressOptions, compress_header};
use crate::context::ContextTable;
use crate::error::{Error, Result, room};
use crate::wire::lowpan::{FRAG1_LEN, FRAGN_LEN, FragRepr, MAX_DATAGRAM_SIZE};
use amimesh_core::LinkAddr;

/// Size of the scratch buffer used to size compressed headers.
const SCRATCH: usize = 512;

/// Hands out datagram tags; one per node and link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragmenter {
    next_tag: u16,
}

impl Fragmenter {
    /// Starts tagging at `initial_tag` (draw it from the node's seeded `Rng`).
    pub const fn new(initial_tag: u16) -> Self {
        Fragmenter {
            next_tag: initial_tag,
        }
    }

    /// The tag the next fragmented datagram will carry.
    pub const fn next_tag(&self) -> u16 {
        self.next_tag
    }

    /// Plans the frames of `packet` for frames carrying at most `budget` bytes of 6LoWPAN
    /// payload. Takes a tag only when the datagram is fragmented.
    pub fn fragment<'p>(
        &mut self,
        packet: &'p [u8],
        ll_src: LinkAddr,
        ll_dst: LinkAddr,
        ctx: &ContextTable,
        opts: &CompressOptions,
        budget: usize,
    ) -> Result<Fragments<'p>> {
        let mut scratch = [0u8; SCRATCH];
        let base = Fragments {
            packet,
            ll_src,
            ll_dst,
            ctx: *ctx,
            opts: *opts,
            budget,
            tag: 0,
            first_end: 0,
            frag_cap: 0,
            state: State::Single,
        };
        if let Ok(c) = compress_header(packet, ll_src, ll_dst, ctx, opts, &mut scratch) {
            if c.header_len + packet.len().saturating_sub(c.consumed) <= budget {
                return Ok(base);
            }
        }
        if packet.len() > MAX_DATAGRAM_SIZE {
            return Err(Error::DatagramTooLarge(packet.len()));
        }
        let frag_cap = budget.saturating_sub(FRAGN_LEN) / 8 * 8;
        if frag_cap == 0 {
            return Err(Error::BufferTooSmall {
                required: FRAGN_LEN + 8,
            });
        }
        let mut level = opts.max_nhc.min(crate::compress::MAX_NHC);
        loop {
            let o = CompressOptions {
                max_nhc: level,
                ..*opts
            };
            if let Ok(c) = compress_header(packet, ll_src, ll_dst, ctx, &o, &mut scratch) {
                let room_left = budget.saturating_sub(FRAG1_LEN + c.header_len);
                let end = (c.consumed + room_left) / 8 * 8;
                if budget >= FRAG1_LEN + c.header_len && end >= c.consumed && end > 0 {
                    let tag = self.next_tag;
                    self.next_tag = self.next_tag.wrapping_add(1);
                    return Ok(Fragments {
                        opts: o,
                        tag,
                        first_end: end.min(packet.len()),
                        frag_cap,
                        state: State::First,
                        ..base
                    });
                }
            }
            if level == 0 {
                break;
            }
            level -= 1;
        }
        // Uncompressed dispatch: one byte of header, every byte 1:1.
        let end = budget.saturating_sub(FRAG1_LEN + 1) / 8 * 8;
        if end == 0 {
            return Err(Error::BufferTooSmall {
                required: FRAG1_LEN + 1 + 8,
            });
        }
        let tag = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1);
        Ok(Fragments {
            tag,
            first_end: end.min(packet.len()),
            frag_cap,
            state: State::FirstUncompressed,
            ..base
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Single,
    First,
    FirstUncompressed,
    Next(usize),
    Done,
}

/// The frames of one datagram; call [`Fragments::next_frame`] until it returns `None`.
#[derive(Debug, Clone)]
pub struct Fragments<'p> {
    packet: &'p [u8],
    ll_src: LinkAddr,
    ll_dst: LinkAddr,
    ctx: ContextTable,
    opts: CompressOptions,
    budget: usize,
    tag: u16,
    first_end: usize,
    frag_cap: usize,
    state: State,
}

impl Fragments<'_> {
    /// `true` when the datagram is sent in fragments.
    pub fn is_fragmented(&self) -> bool {
        self.state != State::Single
    }
    /// The datagram tag (meaningful when fragmented).
    pub fn tag(&self) -> u16 {
        self.tag
    }

    /// Writes the next frame's 6LoWPAN payload into `out` (at most the budget); returns its
    /// length, or `None` when every frame has been produced.
    pub fn next_frame(&mut self, out: &mut [u8]) -> Option<Result<usize>> {
        let r = match self.state {
            State::Done => return None,
            State::Single => self.single(out),
            State::First => self.first(out, false),
            State::FirstUncompressed => self.first(out, true),
            State::Next(off) => self.subsequent(out, off),
        };
        if r.is_err() {
            self.state = State::Done;
        }
        Some(r)
    }

    fn size(&self) -> u16 {
        self.packet.len() as u16
    }

    fn single(&mut self, out: &mut [u8]) -> Result<usize> {
        self.state = State::Done;
        crate::compress::compress(
            self.packet,
            self.ll_src,
            self.ll_dst,
            &self.ctx,
            &self.opts,
            out,
        )
    }

    fn first(&mut self, out: &mut [u8], uncompressed: bool) -> Result<usize> {
        let mut w = FragRepr::First {
            size: self.size(),
            tag: self.tag,
        }
        .emit(out)?;
        let consumed = if uncompressed {
            room(out, w + 1)?;
            if let Some(b) = out.get_mut(w) {
                *b = crate::wire::lowpan::DISPATCH_IPV6;
            }
            w += 1;
            0
        } else {
            let c = compress_header(
                self.packet,
                self.ll_src,
                self.ll_dst,
                &self.ctx,
                &self.opts,
                out.get_mut(w..).unwrap_or(&mut []),
            )?;
            w += c.header_len;
            c.consumed
        };
        let raw = self.packet.get(consumed..self.first_end).unwrap_or(&[]);
        room(out, w + raw.len())?;
        if let Some(d) = out.get_mut(w..w + raw.len()) {
            d.copy_from_slice(raw);
        }
        self.state = if self.first_end >= self.packet.len() {
            State::Done
        } else {
            State::Next(self.first_end)
        };
        Ok(w + raw.len())
    }

    fn subsequent(&mut self, out: &mut [u8], off: usize) -> Result<usize> {
        let end = (off + self.frag_cap).min(self.packet.len());
        let w = FragRepr::Subsequent {
            size: self.size(),
            tag: self.tag,
            offset: (off / 8) as u8,
        }
        .emit(out)?;
        let raw = self.packet.get(off..end).unwrap_or(&[]);
        room(out, w + raw.len())?;
        if let Some(d) = out.get_mut(w..w + raw.len()) {
            d.copy_from_slice(raw);
        }
        self.state = if end >= self.packet.len() {
            State::Done
        } else {
            State::Next(end)
        };
        debug_assert!(w + raw.len() <= self.budget);
        Ok(w + raw.len())
    }
}
