//! Crate-private logging: `trace!`/`debug!` forward to `log` or `defmt` when one of those
//! features is on, and cost nothing otherwise.

#[cfg(all(feature = "log", feature = "defmt"))]
compile_error!("features `log` and `defmt` are mutually exclusive");

macro_rules! trace {
    ($($arg:tt)*) => {{
        #[cfg(feature = "log")]
        ::log::trace!($($arg)*);
        #[cfg(feature = "defmt")]
        ::defmt::trace!($($arg)*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        if false {
            let _ = ::core::format_args!($($arg)*);
        }
    }};
}

macro_rules! debug {
    ($($arg:tt)*) => {{
        #[cfg(feature = "log")]
        ::log::debug!($($arg)*);
        #[cfg(feature = "defmt")]
        ::defmt::debug!($($arg)*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        if false {
            let _ = ::core::format_args!($($arg)*);
        }
    }};
}

pub(crate) use {debug, trace};
