//! The scapy oracle (scapy 2.8.0 under `python3`). See TSHARK.md §2 for its known bugs.

use crate::oracle;
use std::path::Path;
use std::process::Command;

/// Runs `script` with `python3 -c` and returns what it printed.
///
/// # Panics
///
/// When python3 is missing or the script fails (e.g. scapy is not importable); the message
/// carries the script's stderr.
pub fn run(script: &str) -> String {
    stdout(Command::new("python3").arg("-c").arg(script))
}

/// Runs the Python file at `path` and returns what it printed.
///
/// # Panics
///
/// As [`run`].
pub fn run_file(path: impl AsRef<Path>) -> String {
    stdout(Command::new("python3").arg(path.as_ref()))
}

fn stdout(cmd: &mut Command) -> String {
    let out = oracle::run(cmd);
    String::from_utf8(out.stdout).expect("python prints UTF-8")
}

/// The non-empty lines of `stdout`, each parsed as JSON.
///
/// # Panics
///
/// When a line is not JSON.
pub fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scapy_is_importable_and_builds_a_udp_checksum() {
        let out = run(concat!(
            "from scapy.all import IPv6, UDP, raw\n",
            "print(raw(IPv6(src='2001:db8::1', dst='ff02::1', hlim=64)",
            "/UDP(sport=1000, dport=2000)/b'abc').hex())\n"
        ));
        let src = "2001:db8::1"
            .parse()
            .unwrap_or(std::net::Ipv6Addr::LOCALHOST);
        let dst = "ff02::1".parse().unwrap_or(std::net::Ipv6Addr::LOCALHOST);
        let ours = crate::ip::udp6(src, dst, 64, 1000, 2000, b"abc");
        assert_eq!(out.trim(), hex::encode(ours));
    }

    #[test]
    fn json_lines_parse() {
        let v = json_lines("{\"a\": 1}\n\n[2]\n");
        assert_eq!(v.len(), 2);
        assert_eq!(v[1][0], 2);
    }
}
