//! Build guard: if any protocol crate pulls in `std` (directly or through a dependency with
//! default features), this static library stops linking as `#![no_std]`.
#![no_std]
#![forbid(unsafe_code)]

pub use amimesh_core;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
