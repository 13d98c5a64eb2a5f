#!/usr/bin/env bash
# Live-path benchmark: frame → WebSocket push latency. The simulator's trackers send to a
# release `serve` (embedded SQLite, ACK after commit) while its WebSocket client, subscribed
# to `fleet`, times each frame to its push.
#   scripts/bench-live.sh [DEVICES] [RATE] [DURATION]   (default 2000 10 20s)
# Prints the simulator's JSON summary (`ws_p50_ms`, `ws_p99_ms`, `ack_p99_ms`, …).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
devices="${1:-2000}"
rate="${2:-10}"
duration="${3:-20s}"
release_bin
ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d /tmp/urbanstream-bench-live.XXXXXX)
http=127.0.0.1:18082
tcp=127.0.0.1:15002
password="bench-admin-password"
trap 'kill ${server:-} 2>/dev/null || true; rm -rf "$dir"' EXIT
serve_sqlite "$dir" $http $tcp "$password"
token=$(login "http://$http" admin "$password")
# A short first run registers the devices, so the measured run is steady state.
"$bin" simulate teltonika --devices "$devices" --rate 1 --duration 3s --target $tcp --quiet --json >/dev/null
"$bin" simulate teltonika --devices "$devices" --rate "$rate" --duration "$duration" \
  --target $tcp --ws "ws://$http/ws?token=$token" --json --quiet | tail -n 1
