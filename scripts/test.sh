#!/usr/bin/env bash
# The test command: formatting, lints, then every test of the workspace.
# Works on a fresh machine: it installs what is missing and starts what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep build outputs between runs (a clean build of the workspace takes minutes).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/urbanstream-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# A kept target directory grows with every build of our own crates (incremental caches, test
# binaries under new hashes). When the disk runs short, drop those and keep the dependencies.
free_kb="$(df -Pk "$(dirname "$CARGO_TARGET_DIR")" | awk 'NR == 2 { print $4 }')"
if [ -d "$CARGO_TARGET_DIR/debug" ] && [ "${free_kb:-0}" -lt $((30 * 1024 * 1024)) ]; then
  echo "== pruning $CARGO_TARGET_DIR (under 30 GB free)"
  rm -rf "$CARGO_TARGET_DIR/debug/incremental"
  ours="$(ls tests/*.rs */tests/*.rs benches/*.rs */benches/*.rs 2>/dev/null | xargs -n1 basename | sed 's/\.rs$//')"
  for name in $ours urbanstream urbanstream_actors urbanstream_schema urbanstream_vision urbanstream_video; do
    rm -f "$CARGO_TARGET_DIR/debug/deps/$name-"* "$CARGO_TARGET_DIR/debug/deps/lib$name-"*
  done
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
    rustup component add "$component"
  fi
done

# PostgreSQL for the storage tests (127.0.0.1:5432, user postgres, trust auth). Start it
# when it is installed but stopped; install and configure it when it is missing.
ensure_postgres() {
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
    return
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "== installing PostgreSQL"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' | cat - "$hba" > "$hba.new" && mv "$hba.new" "$hba"
    done
  fi
  echo "== starting PostgreSQL"
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return
    sleep 1
  done
  echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
  exit 1
}
ensure_postgres

# Each test makes its own database (us_it_*, us_store_*), cloned from a migrated template
# made once per test binary (us_tpl_*); drop those of earlier runs.
psql -h 127.0.0.1 -U postgres -Atc \
  "SELECT datname FROM pg_database WHERE datname LIKE 'us\_it\_%' OR datname LIKE 'us\_store\_%' OR datname LIKE 'us\_tpl\_%'" 2>/dev/null |
  while read -r db; do
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done || true

# Redis for the live-path tests (127.0.0.1:6379).
ensure_redis() {
  if command -v redis-cli >/dev/null 2>&1 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    return
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "== installing Redis"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  echo "== starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/urbanstream-test.log
  for _ in $(seq 30); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return
    sleep 0.5
  done
  echo "Redis did not come up on 127.0.0.1:6379" >&2
  exit 1
}
ensure_redis

# Keys of earlier test runs (each test uses a prefix of its own).
for pattern in 'test:*' 'cluster:*'; do
  redis-cli -h 127.0.0.1 -p 6379 --scan --pattern "$pattern" | xargs -r redis-cli -h 127.0.0.1 -p 6379 del >/dev/null || true
done

# promtool checks the /metrics exposition (Debian's prometheus package; its service is not
# started).
if ! command -v promtool >/dev/null 2>&1; then
  echo "== installing promtool"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  pkill -x prometheus 2>/dev/null || true
fi

# aiosmtpd: the SMTP server the e-mail notification test sends to.
if ! python3 -c "import aiosmtpd" >/dev/null 2>&1; then
  echo "== installing aiosmtpd"
  python3 -m pip install -q aiosmtpd
fi

# Mosquitto: the external broker the edge node tests start on ephemeral ports (the
# package's own service, if any, is left alone). paho-mqtt: a publisher that is not ours.
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  echo "== installing mosquitto"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto >/dev/null
fi
if ! python3 -c "import paho.mqtt" >/dev/null 2>&1; then
  echo "== installing paho-mqtt"
  python3 -m pip install -q paho-mqtt
fi

# Robots: pymodbus (a Modbus peer that is not ours, pinned) and socat (pseudo-terminal pairs
# standing in for an RS485 line).
if ! command -v socat >/dev/null 2>&1; then
  echo "== installing socat"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends socat >/dev/null
fi
if [ "$(python3 -c 'import serial, pymodbus; print(pymodbus.__version__)' 2>/dev/null)" != "3.11.2" ]; then
  echo "== installing pymodbus 3.11.2 (with pyserial)"
  python3 -m pip install -q 'pymodbus[serial]==3.11.2'
fi

# Cameras: the scene generator and the scorer (numpy, motmetrics; motmetrics also ships the
# TUD-Campus and TUD-Stadtmitte ground truth the single-camera tracker is scored on).
if ! python3 -c 'import numpy, scipy, pandas, motmetrics' >/dev/null 2>&1; then
  echo "== installing motmetrics (with numpy, scipy, pandas)"
  python3 -m pip install -q motmetrics 'numpy<2' scipy pandas
fi

# The video path: OpenCV (the opencv crate binds the system library, clang reads its headers)
# and opencv-doc for vtest.avi, a real pedestrian sequence.
if ! dpkg -s libopencv-dev clang libclang-dev opencv-doc >/dev/null 2>&1; then
  echo "== installing OpenCV (libopencv-dev, clang, libclang-dev, opencv-doc)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libopencv-dev clang libclang-dev opencv-doc >/dev/null
fi

# TorchScript models (the `torch` feature): a CPU libtorch made from PyPI's PyTorch wheel.
export LIBTORCH="${LIBTORCH:-/var/tmp/urbanstream-libtorch}"
scripts/libtorch.sh "$LIBTORCH"

# The dashboard's tests: Debian's headless Chromium, driven over the DevTools protocol.
if ! command -v chromium >/dev/null 2>&1 && [ -z "${CHROMIUM:-}" ]; then
  echo "== installing chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

# The dashboard's scripts parse (no build step turns them into anything else).
# Checked as ES modules (a .mjs copy), which is what the browser loads.
if command -v node >/dev/null 2>&1; then
  tmp_js="$(mktemp -d)"
  for f in web/*.js web/views/*.js; do
    cp "$f" "$tmp_js/check.mjs"
    node --check "$tmp_js/check.mjs" || { echo "syntax error in $f"; exit 1; }
  done
  rm -rf "$tmp_js"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --locked --features video --lib --bin urbanstream --test video_camera -- -D warnings
cargo clippy --locked --features torch --lib --bin urbanstream -- -D warnings
cargo clippy --locked -p urbanstream-video --features torch --all-targets -- -D warnings

echo "== cargo test"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# The video path, built with OpenCV: `track --video`, and video cameras under `serve`.
cargo test --locked --features video --test cameras --test video_camera video 2>&1 | tee -a "$log"
# TorchScript detector and embedder (models traced in the tests), and the video path with them.
LD_LIBRARY_PATH="$LIBTORCH/lib" cargo test --locked -p urbanstream-video --features torch 2>&1 | tee -a "$log"

echo "== API fuzz: schemathesis from /api/v1/openapi.json"
# A passing run prints its summary; a failing one prints everything schemathesis said (its
# failures and errors sections come before the summary).
fuzz_log="$(mktemp)"
if scripts/api-fuzz.sh 20 >"$fuzz_log" 2>&1; then
  tail -n 12 "$fuzz_log"
  rm -f "$fuzz_log"
else
  cat "$fuzz_log"
  rm -f "$fuzz_log"
  exit 1
fi
# One closing line for the whole run (cargo prints one per test binary, doc tests last).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
