#!/usr/bin/env bash
# Prints the protocol crates (the ones that must build as #![no_std]); the simulator and the
# test-support crate are std only.
cd "$(dirname "$0")/.."
for d in crates/*/; do
  name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$d/Cargo.toml" | head -1)
  case "$name" in amimesh-sim|amimesh-testkit) ;; *) echo "$name";; esac
done
