#!/usr/bin/env bash
# Edge ingest benchmark: `simulate edge` (real MQTT nodes) against `serve` and its embedded
# broker on this machine. Every PUBACK follows the commit of its message's rows.
#   [DATABASE_URL=postgres://...|sqlite://...] scripts/bench-edge.sh NODES RATE DETECTIONS DURATION
# RATE: detection messages per second per node; DETECTIONS: detections per message.
# Prints the simulator's JSON summary (published, acknowledged, stored, detections/s,
# publish → PUBACK and publish → WebSocket push percentiles) and the server's resident
# memory per connected node.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
nodes="${1:-1000}"
rate="${2:-5}"
per="${3:-10}"
duration="${4:-30s}"
release_bin
ulimit -n "$(ulimit -Hn)"

dir=$(mktemp -d /var/tmp/urbanstream-bench-edge.XXXXXX)
http=127.0.0.1:18080
mqtt=127.0.0.1:18830
db_url="${DATABASE_URL:-sqlite://$dir/urbanstream.db}"
password=bench-admin-password
export_unlimited
URBANSTREAM__DATABASE__URL="$db_url" URBANSTREAM__HTTP__LISTEN=$http URBANSTREAM__TELTONIKA__LISTEN=127.0.0.1:0 \
  URBANSTREAM__MQTT__LISTEN=$mqtt URBANSTREAM__EDGE__REGISTER_UNKNOWN=true URBANSTREAM__EDGE__AUTHENTICATE=false \
  URBANSTREAM__LOG__FILTER=warn URBANSTREAM__AUTH__BOOTSTRAP_ADMIN_PASSWORD=$password \
  "$bin" serve >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
wait_healthy "http://$http"
token=$(login "http://$http" admin $password)
# Warm-up: every node registered (first contact) and connected once, outside the measure.
"$bin" simulate edge --nodes "$nodes" --rate 0.5 --detections 1 --duration 3s --broker "$mqtt" \
  --drop-one-in 0 --quiet >/dev/null 2>&1
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
idle=$(rss_kb)
sim_cpu=
# WS=0: no WebSocket subscriber (a throughput run); otherwise one client on `detections`
# times publish → push.
ws=()
[[ "${WS:-1}" != 0 ]] && ws=(--ws "ws://$http/ws?token=$token")
cpu_s() { awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
"$bin" simulate edge --nodes "$nodes" --rate "$rate" --detections "$per" --duration "$duration" \
  --broker "$mqtt" --drop-one-in 0 --database "$db_url" "${ws[@]}" \
  --json --quiet > "$dir/sim.json" &
sim=$!
peak=$idle
while kill -0 $sim 2>/dev/null; do
  now=$(rss_kb)
  (( now > peak )) && peak=$now
  sim_cpu=$(cpu_s $sim 2>/dev/null || echo "$sim_cpu")
  sleep 0.5
done
wait $sim
tail -n 1 "$dir/sim.json"
curl -fs "http://$http/metrics" | grep -E '^urbanstream_hub_(pushed|coalesced|dropped)_total|^urbanstream_mqtt_messages_rejected_total|^urbanstream_db_(flush_failures_total|rejected_total)|^urbanstream_db_batch_rows_(sum|count)|^urbanstream_db_flush_seconds_(sum|count)' || true
echo "CPU seconds: server $(cpu_s $server), simulator ${sim_cpu:-?} (of $(nproc) cores × the run)"
echo "server RSS: idle ${idle} KiB, peak ${peak} KiB, $(( (peak - idle) * 1024 / nodes )) bytes per node"
