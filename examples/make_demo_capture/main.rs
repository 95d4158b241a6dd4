//! Writes the demo capture (see `capture.rs`) to `captures/demo.pcap`, or to the path given.
//!
//! ```text
//! cargo run --example make_demo_capture [-- OUT.pcap]
//! ```

mod capture;

fn main() -> std::io::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "captures/demo.pcap".into());
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, capture::demo_pcap())?;
    println!("wrote {out}");
    Ok(())
}
