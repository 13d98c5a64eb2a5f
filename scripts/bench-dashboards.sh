#!/usr/bin/env bash
# Dashboards under a city's load: CLIENTS WebSocket clients (`simulate ws`: each signed in,
# subscribed to `fleet` in a viewport and to `alerts`) while DEVICES trackers send one record a
# second, against a release `serve` on embedded SQLite (or DATABASE_URL).
#   [DATABASE_URL=postgres://...] [VIEWPORT_M=300] [BATCH_MS=0] [STALLED=0] scripts/bench-dashboards.sh [CLIENTS] [DEVICES] [DURATION]
# (default 1000 10000 60s). Prints the clients' summary (pushes/s, receipt → push p50/p99, clients
# dropped, stalled clients cut off), the trackers' summary and the server's CPU and RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
clients="${1:-1000}"
devices="${2:-10000}"
duration="${3:-60s}"
release_bin
ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d /var/tmp/urbanstream-bench-dash.XXXXXX)
http=127.0.0.1:18086
tcp=127.0.0.1:15006
password=bench-admin-password
trap 'kill ${sim:-} ${server:-} 2>/dev/null || true; rm -rf "$dir"' EXIT
if [[ -n "${DATABASE_URL:-}" ]]; then
  export URBANSTREAM__DATABASE__URL="$DATABASE_URL"
fi
serve_sqlite "$dir" $http $tcp $password
token=$(login "http://$http" admin $password)
# First contact outside the measure.
"$bin" simulate teltonika --devices "$devices" --rate 1 --duration 3s --target $tcp --quiet --json >/dev/null
secs=$(python3 -c "import re,sys; m=re.fullmatch(r'(\d+)(s|m)', sys.argv[1]); print(int(m[1]) * (60 if m[2] == 'm' else 1))" "$duration")
"$bin" simulate teltonika --devices "$devices" --rate 1 --duration "$((secs + 10))s" --target $tcp \
  --quiet --json >"$dir/trackers.json" &
sim=$!
sleep 3
cpu_s() { awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
c0=$(cpu_s $server)
"$bin" simulate ws --clients "$clients" --url "ws://$http/ws" --token "$token" --duration "$duration" \
  --viewport-m "${VIEWPORT_M:-300}" --batch-ms "${BATCH_MS:-0}" --stalled "${STALLED:-0}" --json | tail -n 1
c1=$(cpu_s $server)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
wait $sim
tail -n 1 "$dir/trackers.json"
curl -fs "http://$http/metrics" | grep -E '^urbanstream_hub_(pushed|coalesced|dropped)_total|^urbanstream_ws_clients_cut_off_total' || true
echo "server: $(python3 -c "print(round(($c1 - $c0) / $secs, 2))") cores while the clients read, RSS ${rss} KiB"
