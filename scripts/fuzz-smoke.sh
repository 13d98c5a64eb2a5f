#!/usr/bin/env bash
# A short bounded run of every fuzz target, sharing the time given (default 20 s in all):
# the Teltonika stream decoder, the MQTT payload parser, the Modbus frame and register map
# decoders, and the WebSocket request parser.
#   scripts/fuzz-smoke.sh [SECONDS]
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them, so no second toolchain is needed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"
targets=(stream_decoder mqtt_payload modbus_frame ws_message)
each=$(( seconds / ${#targets[@]} ))
[ "$each" -ge 1 ] || each=1
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
export CARGO_TARGET_DIR="${URBANSTREAM_FUZZ_TARGET_DIR:-/var/tmp/urbanstream-fuzz-target}"
# Build every target first, so that the time given is spent fuzzing.
RUSTC_BOOTSTRAP=1 cargo fuzz build 2>&1 | tail -n 3
for target in "${targets[@]}"; do
  echo "== fuzz $target (${each}s)"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- \
    -max_total_time="$each" -rss_limit_mb=1024 -print_final_stats=1 2>&1 | tail -n 6
done
