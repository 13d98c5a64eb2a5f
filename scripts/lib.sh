# Helpers for the scripts that start a server of their own (sourced, not run).

# Lifts the rate limits for a measurement or a fuzz run: they would measure their own
# refusals otherwise. The limiters still run.
export_unlimited() {
  export URBANSTREAM__AUTH__RATE_PER_PRINCIPAL=1000000 URBANSTREAM__AUTH__BURST_PER_PRINCIPAL=1000000
  export URBANSTREAM__AUTH__RATE_PER_IP=1000000 URBANSTREAM__AUTH__BURST_PER_IP=1000000
}

# wait_healthy BASE_URL: waits up to 10 s for /health.
wait_healthy() {
  for _ in $(seq 100); do
    curl -fs "$1/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "no server answered at $1" >&2
  return 1
}

# login BASE_URL USERNAME PASSWORD: prints an access token.
login() {
  curl -fs "$1/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$2\",\"password\":\"$3\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# api_key BASE_URL TOKEN NAME ROLE: creates an API key and prints it.
api_key() {
  curl -fs "$1/api/v1/api-keys" -H "Authorization: Bearer $2" -H 'content-type: application/json' \
    -d "{\"name\":\"$3\",\"role\":\"$4\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'
}

# release_bin: builds the release binary unless URBANSTREAM_BIN names one (e.g. to put two
# versions side by side); sets `bin`.
release_bin() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/urbanstream-target}"
  if [[ -z "${URBANSTREAM_BIN:-}" ]]; then
    cargo build --release --locked --bin urbanstream >&2
  fi
  bin="${URBANSTREAM_BIN:-$CARGO_TARGET_DIR/release/urbanstream}"
}

# serve_sqlite DIR HTTP TCP PASSWORD: starts `serve` on a SQLite file in DIR (unless
# URBANSTREAM__DATABASE__URL names another database) with unknown
# trackers registered, rate limits lifted and an admin with PASSWORD; sets `server` and
# waits until it answers. The caller's trap stops it.
serve_sqlite() {
  export_unlimited
  URBANSTREAM__DATABASE__URL="${URBANSTREAM__DATABASE__URL:-sqlite://$1/bench.db}" URBANSTREAM__HTTP__LISTEN=$2 \
    URBANSTREAM__TELTONIKA__LISTEN=$3 URBANSTREAM__TELTONIKA__REGISTER_UNKNOWN=true URBANSTREAM__MQTT__LISTEN=127.0.0.1:0 \
    URBANSTREAM__LOG__FILTER=warn URBANSTREAM__AUTH__BOOTSTRAP_ADMIN_PASSWORD=$4 \
    "$bin" serve >"$1/serve.log" 2>&1 &
  server=$!
  wait_healthy "http://$2"
}
