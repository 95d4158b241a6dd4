//! The external oracles are required: a test that needs one fails when it is missing, it never
//! skips. Install them with `tools/setup-oracles.sh`.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Where `program` is found on `PATH`.
///
/// # Panics
///
/// When `program` is not on `PATH`: the message names the tool and how to install it.
pub fn require(program: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => p,
        None => panic!(
            "the interop oracle `{program}` is not installed (run tools/setup-oracles.sh); \
             interop tests fail rather than skip without it"
        ),
    }
}

/// Runs a command that must exist and succeed; returns its output.
///
/// # Panics
///
/// When the program is missing ([`require`]), cannot be started, or exits unsuccessfully (the
/// message carries its stderr).
pub fn run(cmd: &mut Command) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    require(&program);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run `{program}`: {e}"));
    assert!(
        out.status.success(),
        "`{program}` failed ({}): {}\ncommand: {cmd:?}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "is not installed")]
    fn a_missing_oracle_fails() {
        require("amimesh-no-such-oracle");
    }

    #[test]
    fn the_installed_oracles_are_found() {
        assert!(require("tshark").ends_with("tshark"));
        assert!(require("python3").ends_with("python3"));
    }

    #[test]
    #[should_panic(expected = "failed")]
    fn a_failing_oracle_fails() {
        run(Command::new("python3").args(["-c", "raise SystemExit(3)"]));
    }
}
