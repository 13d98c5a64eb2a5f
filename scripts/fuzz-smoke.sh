#!/usr/bin/env bash
# A short bounded run of the stream-decoder fuzz target (default 20 s).
#   scripts/fuzz-smoke.sh [SECONDS]
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them, so no second toolchain is needed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
export CARGO_TARGET_DIR="${URBANSTREAM_FUZZ_TARGET_DIR:-/var/tmp/urbanstream-fuzz-target}"
RUSTC_BOOTSTRAP=1 cargo fuzz run stream_decoder -- \
  -max_total_time="$seconds" -rss_limit_mb=1024 -print_final_stats=1 2>&1 | tail -n 15
