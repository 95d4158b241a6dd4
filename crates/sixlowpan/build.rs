//! Declares the `fuzzing` cfg that cargo-fuzz sets, so checksum bypasses compile without
//! warnings.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(fuzzing)");
}
