#!/usr/bin/env bash
# Many connected trackers on one node: the server's memory per idle connected tracker, then
# ACK latency with every one of them sending slowly.
#   [DATABASE_URL=postgres://...] scripts/bench-connections.sh [DEVICES] [RATE] [DURATION]
# (default 50000 0.2 60s). The simulator connects from as many loopback addresses as the
# ephemeral ports need (127.0.0.1, .2, …). Both processes hold one descriptor per connection:
# the script raises the soft limit to the hard one and says so when the hard limit is lower
# than DEVICES (raising it needs CAP_SYS_RESOURCE: `ulimit -Hn` as root, or LimitNOFILE=).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
devices="${1:-50000}"
rate="${2:-0.2}"
duration="${3:-60s}"
release_bin
ulimit -n "$(ulimit -Hn)"
limit=$(ulimit -n)
if (( limit < devices + 1000 )); then
  echo "descriptor limit $limit: fewer than $devices connections fit; measuring $((limit - 1000))" >&2
  devices=$((limit - 1000))
fi

dir=$(mktemp -d /var/tmp/urbanstream-bench-conn.XXXXXX)
http=127.0.0.1:18084
tcp=127.0.0.1:15004
db_url="${DATABASE_URL:-sqlite://$dir/urbanstream.db}"
URBANSTREAM__DATABASE__URL="$db_url" URBANSTREAM__HTTP__LISTEN=$http URBANSTREAM__TELTONIKA__LISTEN=$tcp \
  URBANSTREAM__MQTT__LISTEN=127.0.0.1:0 URBANSTREAM__TELTONIKA__REGISTER_UNKNOWN=true \
  URBANSTREAM__LOG__FILTER=warn "$bin" serve >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill ${sim:-} $server 2>/dev/null || true; rm -rf "$dir"' EXIT
wait_healthy "http://$http"
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
sessions() {
  curl -fs "http://$http/metrics" | awk '/^urbanstream_teltonika_sessions_active / {print int($2)}'
}
start=$(rss_kb)
# First contact outside the measure (registration), one record each.
"$bin" simulate teltonika --devices "$devices" --rate 1 --duration 2s --target $tcp --quiet --json \
  >"$dir/register.json"
sleep 2
base=$(rss_kb)

# Idle: logged in, connected, silent.
"$bin" simulate teltonika --devices "$devices" --rate 0 --duration 600s --target $tcp --quiet --json \
  >"$dir/idle.json" &
sim=$!
for _ in $(seq 600); do
  (( $(sessions || echo 0) >= devices )) && break
  sleep 0.5
done
sleep 5
connected=$(sessions || echo 0)
idle=$(rss_kb)
n=$(( connected > 0 ? connected : 1 ))
echo "idle: $connected connected trackers, server RSS ${start} KiB at start, ${base} KiB registered, ${idle} KiB connected:" \
  "$(( (idle - start) * 1024 / n )) bytes per idle connected tracker in all, $(( (idle - base) * 1024 / n )) for its connection"
kill $sim 2>/dev/null || true
wait $sim 2>/dev/null || true
sleep 2

# Sending: every tracker at RATE records/s.
cpu_s() { awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
c0=$(cpu_s $server)
"$bin" simulate teltonika --devices "$devices" --rate "$rate" --duration "$duration" --target $tcp \
  --send-interval "$(python3 -c "print(f'{1 / $rate:g}s')")" --max-records-per-frame 1 \
  --json --quiet >"$dir/load.json" &
sim=$!
peak=0
while kill -0 $sim 2>/dev/null; do
  now=$(rss_kb)
  (( now > peak )) && peak=$now
  sleep 0.5
done
wait $sim
tail -n 1 "$dir/load.json"
echo "sending: server RSS peak ${peak} KiB ($(( peak * 1024 / devices )) bytes per tracker in all)," \
  "CPU $(python3 -c "print(round(($(cpu_s $server) - $c0), 1))") s"
