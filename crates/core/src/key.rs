//! Key material: zeroized on drop, compared in constant time, never printed.

use core::fmt;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// `N` bytes of secret material (keys, MSK, PSK).
///
/// - The bytes are overwritten with zeros when the value is dropped ([`ZeroizeOnDrop`]).
/// - `==` runs in constant time ([`ConstantTimeEq`]).
/// - `Debug` prints only the length, never the bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret<const N: usize> {
    bytes: [u8; N],
}

/// A 128-bit key (AES-128: network key, MAC and MLE link keys, PSK).
pub type Key128 = Secret<16>;

impl<const N: usize> Secret<N> {
    /// Wraps `bytes`. The caller should zeroize its own copy if it keeps one.
    pub const fn new(bytes: [u8; N]) -> Self {
        Secret { bytes }
    }

    /// Copies from a slice; `None` if the length is not `N`.
    pub fn from_slice(s: &[u8]) -> Option<Self> {
        let bytes: [u8; N] = s.try_into().ok()?;
        Some(Secret { bytes })
    }

    /// The secret bytes. Keep the borrow short and do not copy them into non-zeroizing storage.
    pub const fn expose(&self) -> &[u8; N] {
        &self.bytes
    }

    /// Length in bytes.
    pub const fn len(&self) -> usize {
        N
    }

    /// `true` when `N` is zero.
    pub const fn is_empty(&self) -> bool {
        N == 0
    }
}

impl<const N: usize> ConstantTimeEq for Secret<N> {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.bytes.ct_eq(&other.bytes)
    }
}

impl<const N: usize> PartialEq for Secret<N> {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}
impl<const N: usize> Eq for Secret<N> {}

impl<const N: usize> fmt::Debug for Secret<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret<{N}>(..)")
    }
}

impl<const N: usize> From<[u8; N]> for Secret<N> {
    fn from(bytes: [u8; N]) -> Self {
        Secret::new(bytes)
    }
}

#[cfg(feature = "defmt")]
impl<const N: usize> defmt::Format for Secret<N> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Secret<{=usize}>(..)", N)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn debug_never_shows_bytes() {
        let k = Key128::new([0xab; 16]);
        let s = format!("{k:?}");
        assert_eq!(s, "Secret<16>(..)");
        assert!(!s.contains("ab"));
    }

    #[test]
    fn equality_and_slices() {
        let a = Key128::new([1; 16]);
        let b = Key128::from_slice(&[1; 16]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Key128::new([2; 16]));
        assert!(Key128::from_slice(&[1; 15]).is_none());
        assert_eq!(a.len(), 16);
        assert_eq!(a.expose(), &[1; 16]);
    }

    #[test]
    fn zeroize_clears() {
        let mut k = Key128::new([9; 16]);
        k.zeroize();
        assert_eq!(k.expose(), &[0; 16]);
    }
}
