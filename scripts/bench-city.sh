#!/usr/bin/env bash
# A city on one node: trackers, edge nodes, robots and dashboards at once, at a city's
# proportions, against one release `serve` on this machine.
#   [DATABASE_URL=postgres://...] scripts/bench-city.sh [MINUTES] [VEHICLES] [NODES] [ROBOTS] [DASHBOARDS]
# (default 5 10000 200 20 100; without DATABASE_URL a fresh SQLite file).
# Every minute: the server's RSS and CPU, records and detections stored, pushes, and that
# minute's tails (Teltonika ACK p99 from the server's histogram, MQTT PUBACK and e-stop p99 from
# its summaries). At the end, each simulator's summary and one JSON line with all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
minutes="${1:-5}"
vehicles="${2:-10000}"
nodes="${3:-200}"
robots="${4:-20}"
dashboards="${5:-100}"
release_bin
ulimit -n "$(ulimit -Hn)"

dir=$(mktemp -d /var/tmp/urbanstream-bench-city.XXXXXX)
http=127.0.0.1:18090
tcp=127.0.0.1:15090
mqtt=127.0.0.1:18890
modbus=127.0.0.1:15091
password=bench-admin-password
db_url="${DATABASE_URL:-sqlite://$dir/city.db}"
pids=()
trap 'kill ${pids[*]:-} ${server:-} 2>/dev/null || true; wait 2>/dev/null; rm -rf "$dir"' EXIT

"$bin" simulate robots --robots "$robots" --listen $modbus >"$dir/robots.log" 2>&1 &
pids+=($!)
export_unlimited
URBANSTREAM__DATABASE__URL="$db_url" URBANSTREAM__HTTP__LISTEN=$http URBANSTREAM__TELTONIKA__LISTEN=$tcp \
  URBANSTREAM__TELTONIKA__REGISTER_UNKNOWN=true URBANSTREAM__MQTT__LISTEN=$mqtt \
  URBANSTREAM__EDGE__REGISTER_UNKNOWN=true URBANSTREAM__EDGE__AUTHENTICATE=false \
  URBANSTREAM__LOG__FILTER=warn URBANSTREAM__AUTH__BOOTSTRAP_ADMIN_PASSWORD=$password \
  "$bin" serve >"$dir/serve.log" 2>&1 &
server=$!
wait_healthy "http://$http"
token=$(login "http://$http" admin $password)
api() { curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
bus_id=$(api -X POST "http://$http/api/v1/modbus/buses" \
  -d "{\"name\":\"city\",\"kind\":\"tcp\",\"address\":\"$modbus\",\"poll_hz\":10}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for u in $(seq 1 "$robots"); do
  api -X POST "http://$http/api/v1/robots" -d "{\"name\":\"hoist-$u\",\"bus_id\":$bus_id,\"unit_id\":$u}" >/dev/null
done

# First contact outside the measure: every tracker and node registered once.
echo "== registering $vehicles trackers and $nodes edge nodes" >&2
"$bin" simulate teltonika --devices "$vehicles" --rate 1 --duration 3s --target $tcp --quiet --json >/dev/null
"$bin" simulate edge --nodes "$nodes" --rate 0.5 --detections 1 --duration 3s --broker $mqtt \
  --drop-one-in 0 --quiet >/dev/null 2>&1

secs=$((minutes * 60))
echo "== $minutes min: $vehicles trackers × 1 record/s, $nodes edge nodes × 1 message/s, $robots robots at 10 Hz, $dashboards dashboards" >&2
"$bin" simulate teltonika --devices "$vehicles" --rate 1 --duration "${secs}s" --target $tcp \
  --quiet --json >"$dir/trackers.json" 2>"$dir/trackers.err" &
trackers=$!
pids+=($trackers)
"$bin" simulate edge --nodes "$nodes" --rate 1 --detections 3 --duration "${secs}s" --broker $mqtt \
  --quiet --json >"$dir/edge.json" 2>"$dir/edge.err" &
edge=$!
pids+=($edge)
"$bin" simulate ws --clients "$dashboards" --url "ws://$http/ws" --token "$token" \
  --duration "$((secs - 5))s" --json >"$dir/ws.json" 2>"$dir/ws.err" &
ws=$!
pids+=($ws)
# Dispatchers stop and release a robot now and then (each answer carries its latency).
python3 - "$http" "$token" "$robots" "$secs" >"$dir/estop.json" <<'PY' &
import http.client, json, random, sys, time
host, token, robots, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h, p = host.split(":")
conn = http.client.HTTPConnection(h, int(p), timeout=30)
def post(path):
    conn.request("POST", path, headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    return r.status, json.loads(r.read() or b"null")
lat, failed, end = [], 0, time.time() + secs - 5
while time.time() < end:
    robot = random.randint(1, robots)
    s, body = post(f"/api/v1/robots/{robot}/estop")
    if s == 200 and body.get("acknowledged"):
        lat.append(body["latency_us"] / 1e3)
    else:
        failed += 1
    time.sleep(0.5)
    post(f"/api/v1/robots/{robot}/reset")
    time.sleep(1.5)
lat.sort()
pct = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] if lat else None
print(json.dumps({"stops": len(lat), "failed": failed, "stop_p50_ms": pct(.5), "stop_p99_ms": pct(.99), "stop_max_ms": lat[-1] if lat else None}))
PY
pids+=($!)

# One line a minute, from the server's own metrics and /proc.
PYTHONPATH=scripts python3 - "$http" "$server" "$minutes" "$trackers" <<'PY' | tee "$dir/minutes.txt"
import sys, time
from server_metrics import cpu_s as cpu_of, p99_between, quantile, rss_mb as rss_of, scrape as scrape_host, total
host, pid, minutes, trackers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
scrape = lambda: scrape_host(host)
cpu_s = lambda: cpu_of(pid)
rss_mb = lambda: rss_of(pid)
fmt = lambda v, unit="": "-" if v is None else f"{v:.1f}{unit}"
stored = 'urbanstream_db_rows_written_total{table="telemetry"}'
print("minute  RSS MB  CPU %  records/s  MQTT msgs/s  pushes/s  ACK p99 ≤ ms  PUBACK p99 ms  e-stop p99 ms")
prev, prev_cpu, prev_t = scrape(), cpu_s(), time.time()
rss = []
for minute in range(1, minutes + 1):
    time.sleep(60)
    now, c, t = scrape(), cpu_s(), time.time()
    dt = t - prev_t
    rate = lambda name, **kw: (total(now, name) - total(prev, name)) / dt
    rss.append(rss_mb())
    print(f"{minute:>6}  {rss[-1]:>6.0f}  {100 * (c - prev_cpu) / dt:>5.0f}  "
          f"{(now.get(stored, 0) - prev.get(stored, 0)) / dt:>9.0f}  "
          f"{rate('urbanstream_mqtt_messages_total'):>11.0f}  {rate('urbanstream_hub_pushed_total'):>8.0f}  "
          f"{fmt(p99_between(prev, now, 'urbanstream_teltonika_ack_latency_seconds')):>12}  "
          f"{fmt(quantile(now, 'urbanstream_mqtt_ack_seconds', '0.99')):>13}  "
          f"{fmt(quantile(now, 'urbanstream_modbus_estop_seconds', '0.99')):>13}", flush=True)
    prev, prev_cpu, prev_t = now, c, t
print(f"RSS MB by minute: first {rss[0]:.0f}, last {rss[-1]:.0f}, max {max(rss):.0f}", flush=True)
PY
for p in "${pids[@]:1}"; do wait "$p" || true; done
echo "== trackers";   tail -n 1 "$dir/trackers.json"
echo "== edge nodes"; tail -n 1 "$dir/edge.json"
echo "== dashboards"; tail -n 1 "$dir/ws.json"
echo "== e-stops";    cat "$dir/estop.json"
echo "CPU seconds: server $(awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$server/stat"), $(nproc) cores × ${secs} s"
python3 - "$dir" "$db_url" <<'PY'
import json, sys
d = sys.argv[1]
last = lambda f: json.loads(open(f"{d}/{f}").read().strip().splitlines()[-1])
out = {"backend": sys.argv[2].split(":")[0], "trackers": last("trackers.json"), "edge": last("edge.json"),
       "dashboards": last("ws.json"), "estop": last("estop.json")}
print(json.dumps(out))
PY
