#!/usr/bin/env bash
# Emergency stop latency: REST request → coil write acknowledged by the device, while
# ROBOTS robots are polled at 10 Hz on Modbus TCP (the simulator: a tokio-modbus server), or
# with RTU=1 on Modbus RTU at 115200 baud through a socat pseudo-terminal pair.
#   [RTU=1] scripts/bench-estop.sh [ROBOTS] [STOPS]
# Prints the server-side latency (request taken → device acknowledgement, from each
# answer's `latency_us`) and the client's round trip, p50 / p99 / max; then, per robot, a
# stop's request → its `robot_update` on the WebSocket, and a command's request → the
# robot's sequence echo (ANSWERED, from the ledger's times); and the polling cost per robot
# (server CPU and resident memory while the robots are polled).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
robots="${1:-50}"
stops="${2:-1000}"
release_bin
dir=$(mktemp -d /var/tmp/urbanstream-bench-estop.XXXXXX)
http=127.0.0.1:18082
modbus=127.0.0.1:15020
password=bench-admin-password
line=
if [[ "${RTU:-0}" == 1 ]]; then
  socat "pty,raw,echo=0,link=$dir/host" "pty,raw,echo=0,link=$dir/robots" &
  line=$!
  while [[ ! -e "$dir/host" || ! -e "$dir/robots" ]]; do sleep 0.05; done
  "$bin" simulate robots --robots "$robots" --serial "$dir/robots" >"$dir/sim.log" 2>&1 &
  bus="{\"name\":\"bench\",\"kind\":\"rtu\",\"path\":\"$dir/host\",\"baud\":115200,\"poll_hz\":10}"
else
  "$bin" simulate robots --robots "$robots" --listen $modbus >"$dir/sim.log" 2>&1 &
  bus="{\"name\":\"bench\",\"kind\":\"tcp\",\"address\":\"$modbus\",\"poll_hz\":10}"
fi
sim=$!
serve_sqlite "$dir" $http 127.0.0.1:0 $password
trap 'kill $server $sim $line 2>/dev/null || true; rm -rf "$dir"' EXIT
token=$(login "http://$http" admin $password)
api() { curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
api -X POST "http://$http/api/v1/modbus/buses" -d "$bus" >/dev/null
for u in $(seq 1 "$robots"); do
  api -X POST "http://$http/api/v1/robots" -d "{\"name\":\"r$u\",\"bus_id\":1,\"unit_id\":$u}" >/dev/null
done
sleep 3
cpu() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }
c0=$(cpu); sleep 10; c1=$(cpu)
echo "polling $robots robots at 10 Hz: server CPU $(( (c1 - c0) * 1000 / robots )) µs per robot per second," \
  "RSS $(awk '/VmRSS/ {print $2}' /proc/$server/status) KiB"
curl -fsS -H "Authorization: Bearer $token" "http://$http/api/v1/robots" |
  python3 -c 'import json,sys; s=[r["state"] for r in json.load(sys.stdin)["items"]]; print("robots:", {k: s.count(k) for k in set(s)})'
python3 - "$http" "$token" "$robots" "$stops" <<'PY'
import http.client, json, random, sys, time
host, token, robots, stops = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h, p = host.split(":")
conn = http.client.HTTPConnection(h, int(p))
server, client, failed = [], [], 0
for i in range(stops):
    robot = random.randint(1, robots)
    t = time.perf_counter()
    conn.request("POST", f"/api/v1/robots/{robot}/estop", headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    body = json.loads(r.read())
    client.append((time.perf_counter() - t) * 1e3)
    if r.status == 200 and body.get("acknowledged"):
        server.append(body["latency_us"] / 1e3)
    else:
        failed += 1
def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else float("nan")
for name, xs in (("request taken → device ack", server), ("client round trip", client)):
    print(f"{name}: p50 {pct(xs, .5):.3f} ms p99 {pct(xs, .99):.3f} ms max {max(xs):.3f} ms ({len(xs)} stops)")
print(f"not acknowledged: {failed}")
PY
python3 - "$http" "$token" "$robots" <<'PY' || echo "(the WebSocket figures need python3's websockets)"
import asyncio, http.client, json, sys, time
import websockets
host, token, robots = sys.argv[1], sys.argv[2], int(sys.argv[3])
def req(method, path, body=None):
    h, p = host.split(":")
    c = http.client.HTTPConnection(h, int(p))
    c.request(method, path, body=json.dumps(body) if body else None,
              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"null")
def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))]
async def main():
    ws_ms, echo_ms = [], []
    async with websockets.connect(f"ws://{host}/ws?token={token}") as ws:
        for robot in range(1, robots + 1):
            # Every robot is stopped by now: a reset through the ledger, then a stop, timed.
            await ws.send(json.dumps({"op": "subscribe", "topics": [f"robot:{robot}"]}))
            s, cmd = req("POST", f"/api/v1/robots/{robot}/reset")
            while cmd["status"] not in ("ANSWERED", "FAILED", "EXPIRED"):
                await asyncio.sleep(0.002)
                _, cmd = req("GET", f"/api/v1/robots/{robot}/commands/{cmd['id']}")
            if cmd["status"] == "ANSWERED":
                echo_ms.append(cmd["answered_ms"] - cmd["created_ms"])
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if m.get("type") == "robot_update" and m["data"]["state"] == "idle":
                    break
            t = time.perf_counter()
            req("POST", f"/api/v1/robots/{robot}/estop")
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if m.get("type") == "robot_update" and m["data"]["state"] == "emergency_stopped":
                    ws_ms.append((time.perf_counter() - t) * 1e3)
                    break
            await ws.send(json.dumps({"op": "unsubscribe", "topics": [f"robot:{robot}"]}))
    for name, xs in (("stop request → robot_update on the WebSocket", ws_ms),
                     ("command request → sequence echo (ANSWERED)", echo_ms)):
        print(f"{name}: p50 {pct(xs, .5):.1f} ms p99 {pct(xs, .99):.1f} ms max {max(xs):.1f} ms ({len(xs)})")
asyncio.run(main())
PY
curl -fs "http://$http/metrics" | grep -E '^urbanstream_modbus_(errors_total|requests_total)' || true
echo "server RSS $(awk '/VmRSS/ {print $2}' /proc/$server/status) KiB"
echo "CPU seconds: server $(awk '{ printf "%.1f", ($14 + $15) / 100 }' /proc/$server/stat)"
