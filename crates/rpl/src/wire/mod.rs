//! Wire formats: views over byte buffers and their parsed `…Repr` forms.
//!
//! Contract (as in smoltcp's `wire`): `new_unchecked` wraps a buffer, `check_len` proves every
//! range a getter reads is present, `new_checked` does both. After `check_len` returns `Ok`, no
//! getter panics; in fact none can panic at all, because every access is bounds-checked and
//! yields zero when out of range. `emit` never calls `new_checked`: it writes into a buffer the
//! caller sized with `buffer_len`, and fails with `BufferTooSmall` otherwise.
//!
//! Nothing here allocates; the module compiles with no features.

pub(crate) mod field;
pub mod hbh;
pub mod message;
pub mod options;
pub mod srh;
#[cfg(test)]
mod tests;

pub use hbh::{HbhOption, HbhRepr};
pub use message::{
    CcRepr, DaoAckRepr, DaoRepr, DcoAckRepr, DcoRepr, DioRepr, DisRepr, ICMPV6_TYPE_RPL, Message,
    MessageRepr, Mop, SecurityRepr, code, code_name,
};
pub use options::{
    DodagConfiguration, MetricObject, MetricObjects, OptionRepr, OptionType, Options, OptionsIter,
    RplOption, TransitInformation,
};
pub use srh::{Srh, SrhRepr};
