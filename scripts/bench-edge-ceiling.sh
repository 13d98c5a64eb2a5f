#!/usr/bin/env bash
# The detections ceiling of this machine's PostgreSQL: the detections an edge benchmark
# stored, loaded again by a plain `COPY` from psql into a fresh database with the same
# schema and daily partitions.
#   scripts/bench-edge-ceiling.sh postgres://postgres@127.0.0.1/urbanstream_bench
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:?usage: scripts/bench-edge-ceiling.sh SOURCE_DATABASE_URL}"
source scripts/lib.sh
release_bin
dir=$(mktemp -d /var/tmp/urbanstream-ceiling.XXXXXX)
trap 'rm -rf "$dir"' EXIT
psql -q "$src" -c "\\copy (SELECT * FROM detections) TO '$dir/detections.tsv'"
base="${src%/*}"
dst="$base/urbanstream_ceiling"
psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS urbanstream_ceiling" -c "CREATE DATABASE urbanstream_ceiling"
URBANSTREAM__DATABASE__URL="$dst" URBANSTREAM__LOG__FILTER=warn "$bin" migrate >&2
for day in $(psql -qAt "$src" -c "SELECT DISTINCT time_ms / 86400000 FROM detections"); do
  psql -q "$dst" -c "CREATE TABLE IF NOT EXISTS detections_d$day PARTITION OF detections FOR VALUES FROM ($((day * 86400000))) TO ($(((day + 1) * 86400000)))"
done
rows=$(wc -l < "$dir/detections.tsv")
sync
start=$(date +%s.%N)
psql -q "$dst" -c "\\copy detections FROM '$dir/detections.tsv'"
end=$(date +%s.%N)
awk -v r="$rows" -v s="$start" -v e="$end" 'BEGIN { printf "COPY ceiling: %d detections in %.2f s (%.0f detections/s)\n", r, e - s, r / (e - s) }'
