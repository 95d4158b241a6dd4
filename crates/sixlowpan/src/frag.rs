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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reassembly::{Reassembler, ReassemblyConfig};
    use crate::wire::lowpan::{Dispatch, FragHeader};
    use amimesh_core::{Instant, ShortAddr};
    use std::vec;
    use std::vec::Vec;

    fn s(a: u16) -> LinkAddr {
        LinkAddr::Short(ShortAddr(a))
    }

    fn packet(next: u8, payload_len: usize, ext: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, next, 64];
        p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0, 1]);
        p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0, 2]);
        p.extend_from_slice(ext);
        p.extend((0..payload_len).map(|i| i as u8));
        let l = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&l.to_be_bytes());
        p
    }

    fn frames(f: &mut Fragmenter, p: &[u8], budget: usize) -> (bool, Vec<Vec<u8>>) {
        let mut it = f
            .fragment(
                p,
                s(1),
                s(2),
                &ContextTable::new(),
                &CompressOptions::default(),
                budget,
            )
            .unwrap();
        let fragmented = it.is_fragmented();
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        while let Some(n) = it.next_frame(&mut buf) {
            let n = n.unwrap();
            assert!(n <= budget, "frame of {n} bytes over budget {budget}");
            out.push(buf[..n].to_vec());
        }
        assert!(it.next_frame(&mut buf).is_none());
        (fragmented, out)
    }

    fn reassemble(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut done = None;
        for f in frames {
            if let Some(d) = r.handle_fragment(Instant::ZERO, s(1), s(2), &ContextTable::new(), f) {
                done = Some(d.packet);
            }
        }
        done.unwrap()
    }

    #[test]
    fn small_datagram_is_one_frame_without_tag() {
        let mut f = Fragmenter::new(10);
        let p = packet(59, 20, &[]);
        let (fragmented, out) = frames(&mut f, &p, 100);
        assert!(!fragmented);
        assert_eq!(out.len(), 1);
        assert_eq!(Dispatch::from_byte(out[0][0]), Dispatch::Iphc);
        assert_eq!(f.next_tag(), 10);
    }

    #[test]
    fn offsets_are_aligned_and_tags_advance() {
        let mut f = Fragmenter::new(0xffff);
        let p = packet(59, 700, &[]);
        let (fragmented, out) = frames(&mut f, &p, 77);
        assert!(fragmented);
        assert_eq!(f.next_tag(), 0);
        let mut covered = 0;
        for (i, fr) in out.iter().enumerate() {
            let h = FragHeader::new_checked(&fr[..]).unwrap();
            assert_eq!(h.datagram_tag(), 0xffff);
            assert_eq!(usize::from(h.datagram_size()), p.len());
            assert_eq!(h.is_subsequent(), i > 0);
            if i > 0 {
                assert_eq!(usize::from(h.datagram_offset()) * 8, covered);
                covered += h.payload().len();
            } else {
                // IPHC header (2 + 1 next header) stands for the 40-byte IPv6 header.
                covered = 40 + h.payload().len() - 3;
            }
            if i + 1 < out.len() {
                assert_eq!(covered % 8, 0);
            }
        }
        assert_eq!(covered, p.len());
        assert_eq!(reassemble(&out), p);
    }

    #[test]
    fn deep_source_route_stays_usable() {
        // A 264-byte routing header (16 full addresses) then UDP: far more than one frame.
        let mut srh = vec![17, 32, 3, 16, 0, 0, 0, 0];
        for i in 0..16u8 {
            srh.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i]);
        }
        let mut udp = vec![0x16, 0x33, 0x16, 0x33, 0, 0, 0xab, 0xcd];
        udp.extend_from_slice(&[7u8; 30]);
        let l = (udp.len() as u16).to_be_bytes();
        udp[4..6].copy_from_slice(&l);
        srh.extend_from_slice(&udp);
        let p = packet(43, 0, &srh);
        let mut f = Fragmenter::new(1);
        for budget in [40usize, 60, 90, 120] {
            let (fragmented, out) = frames(&mut f, &p, budget);
            assert!(fragmented);
            assert_eq!(reassemble(&out), p, "budget {budget}");
        }
    }

    #[test]
    fn rpi_6lorh_in_the_first_fragment() {
        // Hop-by-Hop with the RPL option (0x23, instance 0, rank 0x0100), then 300 octets.
        let p = packet(0, 300, &[59, 0, 0x23, 4, 0, 0, 1, 0]);
        let on = CompressOptions {
            rfc8138: true,
            ..CompressOptions::default()
        };
        for budget in [40usize, 77, 100] {
            let mut f = Fragmenter::new(3);
            let mut it = f
                .fragment(&p, s(1), s(2), &ContextTable::new(), &on, budget)
                .unwrap();
            let mut out = Vec::new();
            let mut buf = [0u8; 256];
            while let Some(n) = it.next_frame(&mut buf) {
                out.push(buf[..n.unwrap()].to_vec());
            }
            // FRAG1 (4 octets), page 1, RPI-6LoRH (I and K: 3 octets), IPHC.
            assert_eq!(&out[0][4..8], &[0xf1, 0x83, 0x05, 0x01]);
            assert_eq!(reassemble(&out), p, "budget {budget}");
        }
    }

    proptest::proptest! {
        #[test]
        fn source_routes_fragment_and_reassemble_with_rfc8138(
            p in crate::test_gens::srh_packet(),
            budget in 30usize..130,
            rfc8138 in proptest::prelude::any::<bool>(),
        ) {
            // SRH-6LoRH (RFC 8138 §5.1) in a first fragment: the datagram size and offsets
            // count the routing header the receiver rebuilds.
            let opts = CompressOptions { rfc8138, ..CompressOptions::default() };
            let mut f = Fragmenter::new(7);
            let mut it = f.fragment(&p, s(1), s(2), &ContextTable::new(), &opts, budget).unwrap();
            let fragmented = it.is_fragmented();
            let mut out = Vec::new();
            let mut buf = [0u8; 256];
            while let Some(n) = it.next_frame(&mut buf) {
                let n = n.unwrap();
                proptest::prop_assert!(n <= budget);
                out.push(buf[..n].to_vec());
            }
            let back = if fragmented {
                reassemble(&out)
            } else {
                let mut b = vec![0u8; p.len()];
                let n = crate::compress::decompress(&out[0], s(1), s(2), &ContextTable::new(), &mut b)
                    .unwrap();
                b[..n].to_vec()
            };
            proptest::prop_assert_eq!(back, p);
        }
    }

    #[test]
    fn errors() {
        let mut f = Fragmenter::new(1);
        let p = packet(59, 300, &[]);
        let ctx = ContextTable::new();
        let o = CompressOptions::default();
        assert_eq!(
            f.fragment(&p, s(1), s(2), &ctx, &o, 12).unwrap_err(),
            Error::BufferTooSmall { required: 13 }
        );
        let big = packet(59, 2100, &[]);
        assert_eq!(
            f.fragment(&big, s(1), s(2), &ctx, &o, 100).unwrap_err(),
            Error::DatagramTooLarge(2140)
        );
        // Budget that fits FRAGN but where even 0x41 cannot start a FRAG1 never happens:
        // FRAG1 needs 4 + 1 + 8 and FRAGN 5 + 8.
        assert_eq!(f.next_tag(), 1);
        // Output buffer too small for the planned frame.
        let mut it = f.fragment(&p, s(1), s(2), &ctx, &o, 100).unwrap();
        assert_eq!(
            it.next_frame(&mut [0u8; 3]).unwrap(),
            Err(Error::BufferTooSmall { required: 4 })
        );
        assert!(it.next_frame(&mut [0u8; 128]).is_none());
    }
}
