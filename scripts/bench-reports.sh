#!/usr/bin/env bash
# Reports and analytics over a month of a 500-vehicle fleet on PostgreSQL: seeds a fresh
# database (500 vehicles, 20 trips and stays a day each, 10 routes of 20 stops with 40 runs a
# day, alerts, and a month of 10 s telemetry for one vehicle), starts a release server on it
# and times each endpoint (median of 5 requests, curl's time_total).
#   scripts/bench-reports.sh [POSTGRES_BASE_URL]   (default postgres://postgres@127.0.0.1)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
base="${1:-postgres://postgres@127.0.0.1}"
db=urbanstream_bench_reports
url="$base/$db"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/urbanstream-target}"
cargo build --release --locked --bin urbanstream >&2
bin="$CARGO_TARGET_DIR/release/urbanstream"
psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
URBANSTREAM__DATABASE__URL="$url" "$bin" migrate >/dev/null

# The month ends at the last midnight (UTC).
to_ms=$(( $(date -u -d 'today 00:00' +%s) * 1000 ))
from_ms=$(( to_ms - 30 * 86400000 ))
echo "== seeding: 500 vehicles, 30 days up to $(date -u -d @$((to_ms / 1000)) +%F)"
time psql "$url" -q -v ON_ERROR_STOP=1 -v from_ms="$from_ms" <<'SQL'
INSERT INTO vehicles (id, registration, vehicle_type, group_name)
  SELECT v, 'BUS-' || v, 'bus', 'depot-' || (v % 5) FROM generate_series(1, 500) v;
INSERT INTO devices (id, imei, model, vehicle_id, online)
  SELECT v, (351000000000000 + v)::text, 'FMC125', v, false FROM generate_series(1, 500) v;
-- 20 trips a day, 40 min apart, each 25 min; a stay between each pair.
INSERT INTO trips (device_id, vehicle_id, start_ms, end_ms, distance_m, duration_s, max_speed_kmh, idle_s,
                   fuel_used_l, start_lat, start_lon, end_lat, end_lon)
  SELECT v, v, :from_ms + d * 86400000 + 21600000 + k * 2400000, :from_ms + d * 86400000 + 21600000 + k * 2400000 + 1500000,
         6000 + (v * 37 + k * 11 + d) % 4000, 1500, 40 + (v + k) % 35, 60 + (v * k) % 240,
         1.5 + ((v + d) % 10) / 10.0, 44.77, 17.19, 44.79, 17.21
  FROM generate_series(1, 500) v, generate_series(0::bigint, 29) d, generate_series(0::bigint, 19) k;
INSERT INTO vehicle_stops (device_id, vehicle_id, start_ms, end_ms, duration_s, lat, lon)
  SELECT v, v, :from_ms + d * 86400000 + 21600000 + k * 2400000 + 1500000,
         :from_ms + d * 86400000 + 21600000 + (k + 1) * 2400000, 900, 44.79, 17.21
  FROM generate_series(1, 500) v, generate_series(0::bigint, 29) d, generate_series(0::bigint, 18) k;
INSERT INTO alerts (id, rule_id, kind, severity, status, device_id, subject, message, details, late,
                    occurrences, raised_ms, last_ms, cleared_ms, created_ms)
  SELECT md5(v::text || '-' || d || '-' || k), 1, 'OVERSPEED', (ARRAY['CRITICAL','WARNING','INFO'])[1 + k % 3],
         'CLEARED', v, '', 'seeded', '{}', false, 1, :from_ms + d * 86400000 + k * 3600000,
         :from_ms + d * 86400000 + k * 3600000, :from_ms + d * 86400000 + k * 3600000 + 60000, 0
  FROM generate_series(1, 500) v, generate_series(0::bigint, 29) d, generate_series(0::bigint, 1) k;
INSERT INTO routes (id, number, name, colour, active, created_ms, updated_ms)
  SELECT r, r::text, 'Route ' || r, '#1f77b4', true, 0, 0 FROM generate_series(1, 10) r;
INSERT INTO stops (id, code, name, lat, lon, radius_m, shelter, display, created_ms, updated_ms)
  SELECT s, 'S' || s, 'Stop ' || s, 44.77 + s * 0.001, 17.19, 30, true, false, 0, 0 FROM generate_series(1, 200) s;
INSERT INTO route_stops (route_id, seq, stop_id, offset_s)
  SELECT r, q, (r - 1) * 20 + q + 1, q * 120 FROM generate_series(1, 10) r, generate_series(0::bigint, 19) q;
INSERT INTO route_schedules (route_id, departure_s, days)
  SELECT r, 21600 + k * 1200, 127 FROM generate_series(1, 10) r, generate_series(0::bigint, 39) k;
INSERT INTO stop_arrivals (device_id, vehicle_id, route_id, stop_id, seq, arrived_ms, departed_ms, dwell_s)
  SELECT r * 10 + k % 10, r * 10 + k % 10, r, (r - 1) * 20 + q + 1, q,
         :from_ms + d * 86400000 + (21600 + k * 1200 + q * 120 + (r * k + q * 7) % 240 - 60) * 1000,
         :from_ms + d * 86400000 + (21600 + k * 1200 + q * 120 + (r * k + q * 7) % 240 - 60 + 20) * 1000, 20
  FROM generate_series(1, 10) r, generate_series(0::bigint, 29) d, generate_series(0::bigint, 39) k, generate_series(0::bigint, 19) q;
-- A month of 10 s telemetry for vehicle 1, into its daily partitions.
SELECT format('CREATE TABLE IF NOT EXISTS %I PARTITION OF telemetry FOR VALUES FROM (%s) TO (%s)',
              'telemetry_' || to_char(to_timestamp(day_ms / 1000) AT TIME ZONE 'UTC', 'YYYYMMDD'), day_ms, day_ms + 86400000)
  FROM (SELECT :from_ms::bigint + i * 86400000 AS day_ms FROM generate_series(0::bigint, 29) i) days \gexec
INSERT INTO telemetry (device_id, device_time_ms, server_time_ms, lat, lon, altitude, speed_kmh, heading,
                       satellites, fix, distance_m, late, io)
  SELECT 1, :from_ms + s * 10000, :from_ms + s * 10000, 44.77, 17.19, 160, (s * 7) % 95, 0, 9, true, 0, false, '{}'
  FROM generate_series(0::bigint, 30 * 8640 - 1) s;
ANALYZE;
SQL
psql "$url" -Atc "SELECT 'rows: trips ' || (SELECT count(*) FROM trips) || ', stays ' || (SELECT count(*) FROM vehicle_stops) || ', arrivals ' || (SELECT count(*) FROM stop_arrivals) || ', alerts ' || (SELECT count(*) FROM alerts) || ', telemetry ' || (SELECT count(*) FROM telemetry)"

dir=$(mktemp -d /tmp/urbanstream-bench-reports.XXXXXX)
http=127.0.0.1:18082
password="bench-admin-password"
export_unlimited
URBANSTREAM__DATABASE__URL="$url" URBANSTREAM__HTTP__LISTEN=$http URBANSTREAM__TELTONIKA__LISTEN=127.0.0.1:0 URBANSTREAM__MQTT__LISTEN=127.0.0.1:0 \
  URBANSTREAM__LOG__FILTER=warn URBANSTREAM__AUTH__BOOTSTRAP_ADMIN_PASSWORD=$password \
  "$bin" serve >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
wait_healthy "http://$http"
token=$(login "http://$http" admin "$password")
w="from=$from_ms&to=$to_ms"
echo "== median of 5 (seconds), bytes"
for path in \
  "/api/v1/reports/summary?$w" \
  "/api/v1/reports/summary?$w&format=csv" \
  "/api/v1/reports/trips?vehicle=1&$w" \
  "/api/v1/reports/stops?vehicle=1&$w&format=csv" \
  "/api/v1/reports/route?route=1&$w" \
  "/api/v1/analytics/fleet-summary?$w" \
  "/api/v1/analytics/vehicle/1/stats?$w" \
  "/api/v1/analytics/fuel-consumption?$w" \
  "/api/v1/analytics/route-performance?$w" \
  "/api/v1/reports/trips?$w&format=csv"; do
  times=()
  for _ in 1 2 3 4 5; do
    out=$(curl -fs -o /dev/null -w '%{time_total} %{size_download}' -H "Authorization: Bearer $token" "http://$http$path")
    times+=("$out")
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  printf '%-8s %10s  %s\n' "${median% *}" "${median#* }" "${path%%\?*}?${path#*\?}" | sed "s/$w/<month>/"
done
