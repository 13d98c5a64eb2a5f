#!/usr/bin/env bash
# Fuzzes the REST API from its own OpenAPI document with schemathesis (PyPI) against a
# running server (embedded SQLite, an ADMIN API key as the credential): no 5xx, status
# codes, content types and bodies as documented.
#   scripts/api-fuzz.sh [MAX_EXAMPLES]     (default 25 per operation)
# Uses the debug binary unless URBANSTREAM_BIN names another. Left out: /ws (not HTTP after
# the upgrade), logout and key revocation (they would end the fuzzer's own credential).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
max_examples="${1:-25}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/urbanstream-target}"
if ! command -v schemathesis >/dev/null 2>&1; then
  python3 -m pip install --quiet 'schemathesis>=4,<5' >&2
fi
bin="${URBANSTREAM_BIN:-}"
if [[ -z "$bin" ]]; then
  cargo build --locked --bin urbanstream >&2
  bin="$CARGO_TARGET_DIR/debug/urbanstream"
fi
dir=$(mktemp -d /tmp/urbanstream-api-fuzz.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export_unlimited
password="fuzz-admin-$(date +%s%N)"
URBANSTREAM__DATABASE__URL="sqlite://$dir/api.db" URBANSTREAM__HTTP__LISTEN="127.0.0.1:$port" \
  URBANSTREAM__TELTONIKA__LISTEN="127.0.0.1:$tport" URBANSTREAM__MQTT__LISTEN=127.0.0.1:0 URBANSTREAM__LOG__FILTER=warn \
  URBANSTREAM__AUTH__BOOTSTRAP_ADMIN_PASSWORD="$password" \
  "$bin" serve >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
wait_healthy "$base"
token=$(login "$base" admin "$password")
key=$(api_key "$base" "$token" api-fuzz ADMIN)
# A device and a vehicle for the path parameters to find.
curl -fs "$base/api/v1/devices" -H "Authorization: Bearer $key" -H 'content-type: application/json' \
  -d '{"imei":"356307042441013","model":"FMC125"}' >/dev/null
curl -fs "$base/api/v1/vehicles" -H "Authorization: Bearer $key" -H 'content-type: application/json' \
  -d '{"registration":"BL-001"}' >/dev/null

set +e
# One worker: schemathesis runs workers as threads, and CPython 3.11's `ast.parse` (which
# Hypothesis calls to describe its filters) can fail across threads with "AST constructor
# recursion depth mismatch" (CPython gh-106905), an error of the tool, not of the API.
schemathesis run "$base/api/v1/openapi.json" \
  --header "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$max_examples" --workers 1 --seed 1 \
  --exclude-path /ws --exclude-path /api/v1/auth/logout --exclude-path '/api/v1/api-keys/{id}' \
  --report junit --report-dir "$dir/report" 2>&1 | tee "$dir/out.txt"
rc=${PIPESTATUS[0]}
set -e
cases=$(grep -o 'tests="[0-9]*"' "$dir"/report/*.xml 2>/dev/null | head -1 | tr -dc 0-9)
echo "api-fuzz: exit $rc; test cases in report: ${cases:-?}"
if grep -q "panicked" "$dir/serve.log"; then
  echo "server log has a panic:" >&2
  grep -B2 -A5 panicked "$dir/serve.log" >&2
  exit 1
fi
exit "$rc"
