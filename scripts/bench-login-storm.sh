#!/usr/bin/env bash
# Login storm: DEVICES trackers never seen before connect within one second
# (`register_unknown` on), send one record a second each in its own frame for DURATION; then the
# server restarts and the same devices, now registered, reconnect at once.
#   [DATABASE_URL=postgres://...|sqlite://...] scripts/bench-login-storm.sh DEVICES DURATION
# Prints one line per phase: logins, login p99/max, ACK p50/p99/max, errors, resends.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
devices="${1:-10000}"
duration="${2:-30s}"
release_bin
# The simulator may be another build than the server (a server of the previous main, say).
sim="${URBANSTREAM_SIM_BIN:-$bin}"
ulimit -n "$(ulimit -Hn)"

http=127.0.0.1:18080
tcp=127.0.0.1:15000
work="$(mktemp -d /tmp/urbanstream-storm-XXXXXX)"
db_url="${DATABASE_URL:-sqlite://$work/urbanstream.db}"
start_server() {
  URBANSTREAM__DATABASE__URL="$db_url" URBANSTREAM__HTTP__LISTEN=$http URBANSTREAM__TELTONIKA__LISTEN=$tcp \
    URBANSTREAM__MQTT__LISTEN=127.0.0.1:0 URBANSTREAM__TELTONIKA__REGISTER_UNKNOWN=true URBANSTREAM__LOG__FILTER=warn \
    "$bin" serve >>"$work/serve.log" 2>&1 &
  server=$!
  wait_healthy "http://$http"
}
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
summary() {
  python3 -c 'import json,sys
s = json.loads(sys.stdin.read().strip().splitlines()[-1])
print("%-28s logins %6d  login p99 %8.1f ms max %8.1f ms | ACK p50 %6.1f p99 %8.1f max %8.1f ms | %d records, %d resent, %d errors" % (
  sys.argv[1], s["logins"], s["login_p99_ms"], s["login_max_ms"], s["ack_p50_ms"], s["ack_p99_ms"], s["ack_max_ms"],
  s["acked"], s["resent"], s["errors"]))' "$1"
}
imei_base=$((354000000000000 + RANDOM * 100000))
for phase in "first contact" "after a restart"; do
  start_server
  "$sim" simulate teltonika --devices "$devices" --rate 1 --send-interval 1s --max-records-per-frame 1 \
    --imei-base "$imei_base" --duration "$duration" --target "$tcp" --json --quiet | summary "$phase"
  grep -E '^urbanstream_registry_registration_seconds_count' <(curl -fs "http://$http/metrics") || true
  kill $server; wait $server 2>/dev/null || true
done
