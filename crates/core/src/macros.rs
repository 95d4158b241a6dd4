/// Defines a code-point enum with an `Unknown(raw)` variant and lossless conversions.
///
/// ```
/// amimesh_core::enum_with_unknown! {
///     /// Example code points.
///     pub enum Colour(u8) {
///         /// Red.
///         Red = 1,
///         /// Green.
///         Green = 2,
///     }
/// }
/// assert_eq!(Colour::from(2u8), Colour::Green);
/// assert_eq!(u8::from(Colour::Unknown(9)), 9);
/// assert_eq!(Colour::from(9u8), Colour::Unknown(9));
/// ```
///
/// `From<raw>` maps every value that names a known variant to that variant and everything else to
/// `Unknown`, so `Unknown(v)` is never constructed for a known `v` by parsing.
#[macro_export]
macro_rules! enum_with_unknown {
    (
        $( #[$enum_attr:meta] )*
        pub enum $name:ident($ty:ty) {
            $(
              $( #[$variant_attr:meta] )*
              $variant:ident = $value:expr
            ),+ $(,)?
        }
    ) => {
        #[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Clone, Copy)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        $( #[$enum_attr] )*
        pub enum $name {
            $(
              $( #[$variant_attr] )*
              $variant
            ),*,
            /// A value this implementation does not know; kept so it can be re-emitted.
            Unknown($ty)
        }

        impl ::core::convert::From<$ty> for $name {
            fn from(value: $ty) -> Self {
                match value {
                    $( value if value == $value => $name::$variant ),*,
                    other => $name::Unknown(other)
                }
            }
        }

        impl ::core::convert::From<$name> for $ty {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value ),*,
                    $name::Unknown(other) => other
                }
            }
        }
    }
}
