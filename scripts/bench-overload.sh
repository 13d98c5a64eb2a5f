#!/usr/bin/env bash
# Overload: more records offered than the database takes, for minutes, beside a normal load;
# then the overload stops and the normal load goes on.
#   [DATABASE_URL=postgres://...] scripts/bench-overload.sh [MINUTES] [DEVICES] [RATE] [AFTER_S]
# (default 5 2000 100 60: 2,000 trackers × 100 records/s in frames of 50 for 5 minutes, beside
# 1,000 trackers × 1 record/s that run on for 60 s after; without DATABASE_URL a fresh SQLite
# file). Every 10 s: the server's RSS, records stored per second, and that window's ACK p99 from
# the server's histogram. At the end, both simulators' summaries: the overloading devices buffer
# what is not acknowledged yet (up to 10,000 records each), try for 10 s more after the overload
# ends, then go away with the rest; nothing acknowledged is lost.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
minutes="${1:-5}"
devices="${2:-2000}"
rate="${3:-100}"
after="${4:-60}"
release_bin
ulimit -n "$(ulimit -Hn)"

dir=$(mktemp -d /var/tmp/urbanstream-bench-overload.XXXXXX)
http=127.0.0.1:18095
tcp=127.0.0.1:15095
password=bench-admin-password
pids=()
trap 'kill ${pids[*]:-} ${server:-} 2>/dev/null || true; wait 2>/dev/null; rm -rf "$dir"' EXIT
if [[ -n "${DATABASE_URL:-}" ]]; then
  export URBANSTREAM__DATABASE__URL="$DATABASE_URL"
fi
serve_sqlite "$dir" $http $tcp $password

secs=$((minutes * 60))
echo "== registering the trackers" >&2
"$bin" simulate teltonika --devices "$devices" --rate 1 --duration 2s --target $tcp --quiet --json >/dev/null
"$bin" simulate teltonika --devices 1000 --imei-base 351000000000000 --rate 1 --duration 2s \
  --target $tcp --quiet --json >/dev/null

echo "== $minutes min: $devices trackers × $rate records/s (offered $((devices * rate))/s) beside 1,000 × 1/s, then ${after} s of the normal load alone" >&2
"$bin" simulate teltonika --devices 1000 --imei-base 351000000000000 --rate 1 \
  --duration "$((secs + after))s" --target $tcp --quiet --json >"$dir/normal.json" 2>"$dir/normal.err" &
normal=$!
pids+=($normal)
"$bin" simulate teltonika --devices "$devices" --rate "$rate" --duration "${secs}s" --target $tcp \
  --quiet --json >"$dir/overload.json" 2>"$dir/overload.err" &
overload=$!
pids+=($overload)

PYTHONPATH=scripts python3 - "$http" "$server" "$secs" "$after" <<'PY' | tee "$dir/windows.txt"
import sys, time
from server_metrics import p99_between, rss_mb as rss_of, scrape as scrape_host
host, pid, secs, after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
scrape = lambda: scrape_host(host)
rss_mb = lambda: rss_of(pid)
stored = 'urbanstream_db_rows_written_total{table="telemetry"}'
print("second  phase      RSS MB  records stored/s  ACK p99 ≤ ms", flush=True)
start = time.time()
prev, prev_t = scrape(), start
rss = []
while True:
    time.sleep(10)
    now, t = scrape(), time.time()
    at = t - start
    phase = "overload" if at <= secs + 1 else "after"
    rss.append(rss_mb())
    p99 = p99_between(prev, now, "urbanstream_teltonika_ack_latency_seconds")
    print(f"{at:>6.0f}  {phase:<9}  {rss[-1]:>6.0f}  {(now.get(stored, 0) - prev.get(stored, 0)) / (t - prev_t):>16.0f}  "
          f"{'-' if p99 is None else f'{p99:.0f}':>12}", flush=True)
    prev, prev_t = now, t
    if at >= secs + after:
        break
print(f"RSS MB: first {rss[0]:.0f}, max {max(rss):.0f}, last {rss[-1]:.0f}", flush=True)
PY
wait $overload 2>/dev/null || true
wait $normal || true
echo "== overloading trackers"; tail -n 1 "$dir/overload.json" || true
echo "== normal trackers";      tail -n 1 "$dir/normal.json"
curl -fs "http://$http/metrics" | grep -E '^urbanstream_db_(rows_written_total\{table="telemetry"\}|flush_failures_total|rejected_total)' || true
