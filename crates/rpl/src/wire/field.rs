//! Panic-free byte access used by every view.
//!
//! Views call these after `check_len` has proven the ranges exist; an out-of-range read returns
//! zero and an out-of-range write is ignored, so even a misuse of `new_unchecked` cannot panic.

use core::net::Ipv6Addr;

pub(crate) fn u8_at(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}
pub(crate) fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([u8_at(b, off), u8_at(b, off.saturating_add(1))])
}
pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = off.checked_add(4).and_then(|e| b.get(off..e)) {
        a.copy_from_slice(s);
    }
    u32::from_be_bytes(a)
}
pub(crate) fn addr_at(b: &[u8], off: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    if let Some(s) = off.checked_add(16).and_then(|e| b.get(off..e)) {
        a.copy_from_slice(s);
    }
    Ipv6Addr::from(a)
}
pub(crate) fn slice(b: &[u8], start: usize, end: usize) -> &[u8] {
    b.get(start..end).unwrap_or(&[])
}
pub(crate) fn set_u8(b: &mut [u8], off: usize, v: u8) {
    if let Some(x) = b.get_mut(off) {
        *x = v;
    }
}
pub(crate) fn set_bytes(b: &mut [u8], off: usize, v: &[u8]) {
    if let Some(s) = off.checked_add(v.len()).and_then(|e| b.get_mut(off..e)) {
        s.copy_from_slice(v);
    }
}
pub(crate) fn set_u16(b: &mut [u8], off: usize, v: u16) {
    set_bytes(b, off, &v.to_be_bytes())
}
pub(crate) fn set_u32(b: &mut [u8], off: usize, v: u32) {
    set_bytes(b, off, &v.to_be_bytes())
}
pub(crate) fn set_addr(b: &mut [u8], off: usize, a: &Ipv6Addr) {
    set_bytes(b, off, &a.octets())
}
pub(crate) fn fill(b: &mut [u8], start: usize, end: usize, v: u8) {
    if let Some(s) = b.get_mut(start..end) {
        s.fill(v);
    }
}
/// Sets or clears `mask` in byte `off`.
pub(crate) fn set_flag(b: &mut [u8], off: usize, mask: u8, on: bool) {
    let cur = u8_at(b, off);
    set_u8(b, off, if on { cur | mask } else { cur & !mask });
}
/// An address from up to 16 prefix bytes, zero-padded.
pub(crate) fn addr_from_prefix(p: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    let n = p.len().min(16);
    if let (Some(d), Some(s)) = (a.get_mut(..n), p.get(..n)) {
        d.copy_from_slice(s);
    }
    Ipv6Addr::from(a)
}
