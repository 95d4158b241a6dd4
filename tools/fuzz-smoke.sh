#!/usr/bin/env bash
# Builds every fuzz target and runs each for a short, bounded number of inputs from its seed
# corpus plus mutations. Long campaigns are run by hand: cargo +nightly fuzz run TARGET.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install -q cargo-fuzz --locked
runs=${FUZZ_RUNS:-20000}
for t in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$t"
  seeds="seeds/$t"; [ -d "$seeds" ] || seeds=""
  echo "fuzz $t ($runs runs)"
  cargo +nightly fuzz run "$t" "corpus/$t" $seeds -- -runs="$runs" -max_total_time=60 >/dev/null 2>"/tmp/fuzz-$t.log" \
    || { tail -40 "/tmp/fuzz-$t.log"; exit 1; }
done
