#!/usr/bin/env bash
# Ingest benchmark: `simulate` against `serve` on this machine.
#   [DATABASE_URL=postgres://...|sqlite://...] scripts/bench-ingest.sh DEVICES RATE DURATION
# Prints the simulator's JSON summary and the server's resident memory per connected device.
# Records are acknowledged after their database commit (default: a fresh SQLite file).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
devices="${1:-1000}"
rate="${2:-10}"
duration="${3:-30s}"
release_bin
ulimit -n "$(ulimit -Hn)"

http=127.0.0.1:18080
tcp=127.0.0.1:15000
db_url="${DATABASE_URL:-sqlite:///tmp/urbanstream-bench-$$/urbanstream.db}"
URBANSTREAM__DATABASE__URL="$db_url" URBANSTREAM__HTTP__LISTEN=$http URBANSTREAM__TELTONIKA__LISTEN=$tcp URBANSTREAM__MQTT__LISTEN=127.0.0.1:0 \
  URBANSTREAM__TELTONIKA__REGISTER_UNKNOWN=true URBANSTREAM__LOG__FILTER=warn \
  "$bin" serve >/tmp/urbanstream-bench-serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
wait_healthy "http://$http"
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
idle=$(rss_kb)

"$bin" simulate teltonika --devices "$devices" --rate "$rate" --duration "$duration" \
  --target "$tcp" --json --quiet > /tmp/urbanstream-bench-sim.json &
sim=$!
# Sample the server's memory while every device is connected.
peak=$idle
while kill -0 $sim 2>/dev/null; do
  now=$(rss_kb)
  (( now > peak )) && peak=$now
  sleep 0.5
done
wait $sim
tail -n 1 /tmp/urbanstream-bench-sim.json
curl -fs "http://$http/metrics" | grep -E '^urbanstream_db_(rows_written_total|flush_failures_total|rejected_total)|^urbanstream_db_batch_rows_(sum|count)|^urbanstream_db_flush_seconds_(sum|count)' || true
echo "server RSS: idle ${idle} KiB, peak ${peak} KiB, $(( (peak - idle) * 1024 / devices )) bytes per device"
