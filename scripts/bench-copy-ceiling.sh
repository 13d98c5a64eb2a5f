#!/usr/bin/env bash
# The ingest ceiling of this machine's PostgreSQL: the rows an ingest benchmark stored,
# loaded again by a plain `COPY` from psql into a fresh database with the same schema.
#   scripts/bench-copy-ceiling.sh postgres://postgres@127.0.0.1/urbanstream_bench
# Prints rows, seconds and records/s (one record = its telemetry row and its CAN row).
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:?usage: scripts/bench-copy-ceiling.sh SOURCE_DATABASE_URL}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/urbanstream-target}"
cargo build --release --locked --bin urbanstream >&2
bin="$CARGO_TARGET_DIR/release/urbanstream"
dir=$(mktemp -d /var/tmp/urbanstream-ceiling.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cols_t="device_id, device_time_ms, server_time_ms, lat, lon, altitude, speed_kmh, heading, satellites, fix, hdop, ignition, movement, external_voltage_v, battery_voltage_v, gsm_signal, distance_m, late, io"
psql -q "$src" -c "\\copy (SELECT $cols_t FROM telemetry) TO '$dir/telemetry.tsv'"
psql -q "$src" -c "\\copy (SELECT * FROM can_data) TO '$dir/can.tsv'"

base="${src%/*}"
dst="$base/urbanstream_ceiling"
psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS urbanstream_ceiling" -c "CREATE DATABASE urbanstream_ceiling"
URBANSTREAM__DATABASE__URL="$dst" URBANSTREAM__LOG__FILTER=warn "$bin" migrate >&2
# The same daily partitions the service creates.
for day in $(psql -qAt "$src" -c "SELECT DISTINCT device_time_ms / 86400000 FROM telemetry"); do
  for t in telemetry can_data; do
    psql -q "$dst" -c "CREATE TABLE IF NOT EXISTS ${t}_d$day PARTITION OF $t FOR VALUES FROM ($((day * 86400000))) TO ($(((day + 1) * 86400000)))"
  done
done
rows_t=$(wc -l < "$dir/telemetry.tsv")
rows_c=$(wc -l < "$dir/can.tsv")
sync
start=$(date +%s.%N)
psql -q "$dst" -c "\\copy telemetry ($cols_t) FROM '$dir/telemetry.tsv'"
mid=$(date +%s.%N)
psql -q "$dst" -c "\\copy can_data FROM '$dir/can.tsv'"
end=$(date +%s.%N)
awk -v t="$rows_t" -v c="$rows_c" -v s="$start" -v m="$mid" -v e="$end" 'BEGIN {
  printf "telemetry: %d rows in %.2f s (%.0f rows/s); can_data: %d rows in %.2f s (%.0f rows/s)\n", t, m - s, t / (m - s), c, e - m, c / (e - m)
  printf "COPY ceiling: %.0f records/s (a record is its telemetry row and its CAN row)\n", t / (e - s) }'
