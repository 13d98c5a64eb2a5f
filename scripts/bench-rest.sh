#!/usr/bin/env bash
# REST benchmark: wrk against GET /api/v1/devices/{imei}/latest, authenticated with a JWT
# (and then an API key), on a release `serve` with the embedded SQLite.
#   scripts/bench-rest.sh [CONNECTIONS] [DURATION] [WRK_THREADS]   (default 8, 15s, 1)
# wrk shares the 2 cores with the server: one wrk thread leaves the server more of them.
# Rate limits are raised for the run so that they measure their cost, not their refusals.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
conns="${1:-8}"
duration="${2:-15s}"
threads="${3:-1}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
release_bin
dir=$(mktemp -d /tmp/urbanstream-bench-rest.XXXXXX)
http=127.0.0.1:18081
tcp=127.0.0.1:15001
password="bench-admin-password"
trap 'kill ${server:-} 2>/dev/null || true; rm -rf "$dir"' EXIT
serve_sqlite "$dir" $http $tcp "$password"
# One tracker with live state.
"$bin" simulate teltonika --devices 1 --rate 1 --duration 2s --target $tcp --quiet --json >/dev/null
imei=350000000000000
token=$(login "http://$http" admin "$password")
key=$(api_key "http://$http" "$token" bench VIEWER)
url="http://$http/api/v1/devices/$imei/latest"
curl -fs "$url" -H "Authorization: Bearer $token" >/dev/null
echo "== JWT (HS256), $conns connections, $duration"
wrk -t"$threads" -c"$conns" -d"$duration" --latency -H "Authorization: Bearer $token" "$url" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx"
echo "== API key, $conns connections, $duration"
wrk -t"$threads" -c"$conns" -d"$duration" --latency -H "Authorization: Bearer $key" "$url" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx"
