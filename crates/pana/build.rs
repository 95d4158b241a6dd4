fn main() {
    // cargo-fuzz builds with `--cfg fuzzing`; declare it so the cfg is checked.
    println!("cargo::rustc-check-cfg=cfg(fuzzing)");
}
