//! Build guard: if any protocol crate pulls in `std` (directly or through a dependency with
//! default features), this static library stops linking as `#![no_std]`.
#![no_std]
#![forbid(unsafe_code)]

pub use amimesh_core;
pub use amimesh_mac;
pub use amimesh_mle;
pub use amimesh_pana;
pub use amimesh_pana_relay;
pub use amimesh_rpl;
pub use amimesh_sixlowpan;

/// Touches code from every crate's wire layer so that it is really linked, not just named.
pub fn link_check(buf: &[u8]) -> usize {
    let mut n = 0;
    n += usize::from(amimesh_mac::wire::Frame::new_checked(buf).is_ok());
    n += usize::from(amimesh_sixlowpan::wire::ipv6::Packet::new_checked(buf).is_ok());
    n += usize::from(amimesh_pana::wire::Message::new_checked(buf).is_ok());
    n += usize::from(amimesh_mle::wire::message::Message::new_checked(buf).is_ok());
    n += usize::from(amimesh_rpl::wire::Message::new_checked(1, buf).is_ok());
    n
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
