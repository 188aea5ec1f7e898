# Helpers shared by bench/run and bench/auth-flood. Sourced, never run.
# shellcheck shell=bash

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# ROOT, DATA, log, die, as_root, apt_install, pg_bindir come from the project's helpers.
source "$BENCH/../scripts/lib.sh"

BENCH_DATA="$DATA/bench"
# Below the kernel's ephemeral port range (32768-60999): a port inside it can be held by
# any outgoing connection's TIME_WAIT for a minute, and PostgreSQL then cannot listen.
BENCH_PG_PORT="${TAVARO_BENCH_PG_PORT:-25440}"
GATEWAY_PORT="${TAVARO_BENCH_PORT:-18090}"
BASELINE_PORT="${TAVARO_BENCH_BASELINE_PORT:-18091}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
TAVARO="$TARGET/release/tavaro"
BASELINE_BIN="$TARGET/release/tavaro-bench-baseline"
VENV="$DATA/bench-venv"
PY="$VENV/bin/python"
GATEWAY="http://127.0.0.1:$GATEWAY_PORT"
# The gateway's metrics listener (never the partner port): two above it, past the baseline.
GATEWAY_METRICS="http://127.0.0.1:$((GATEWAY_PORT + 2))"
BASELINE="http://127.0.0.1:$BASELINE_PORT"

# Load generator settings (the issue's: 64 connections, ≥ 10 s a case, 3 rounds).
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-2}"
DURATION="${BENCH_DURATION:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
PARTNERS="${BENCH_PARTNERS:-100}"
PLAN="fr-1gb-3d"

bench_url() { echo "postgres://tavaro@127.0.0.1:$BENCH_PG_PORT/$1"; }

# wrk, pgbench, curl, python3 with matplotlib (in a venv under .data/, from PyPI).
bench_tools() {
  command -v curl >/dev/null || apt_install curl ca-certificates
  command -v wrk >/dev/null || apt_install wrk
  PG_BIN="$(pg_bindir)"
  if [ -z "$PG_BIN" ]; then
    apt_install postgresql
    PG_BIN="$(pg_bindir)"
  fi
  [ -x "$PG_BIN/pgbench" ] || apt_install postgresql-contrib
  [ -x "$PG_BIN/pgbench" ] || die "pgbench not found in $PG_BIN"
  command -v psql >/dev/null || apt_install postgresql-client
  command -v python3 >/dev/null || apt_install python3 python3-venv
  if [ ! -x "$PY" ] || ! "$PY" -c 'import matplotlib' 2>/dev/null; then
    log "installing matplotlib into .data/bench-venv (for the chart)"
    python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$VENV"; }
    "$VENV/bin/pip" install --quiet --disable-pip-version-check matplotlib
  fi
}

# Release builds of the gateway and of the baseline server. The baseline's Cargo.lock is
# the gateway's (pruned): refreshed here when their axum/tokio/hyper versions drift apart.
bench_build() {
  log "building tavaro (release)"
  (cd "$ROOT" && SQLX_OFFLINE=true cargo build --release --quiet --bin tavaro)
  local want have
  want=$(lock_versions "$ROOT/Cargo.lock")
  have=$(lock_versions "$BENCH/baseline/Cargo.lock" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    log "baseline: taking axum/tokio/hyper versions from the gateway's Cargo.lock"
    cp "$ROOT/Cargo.lock" "$BENCH/baseline/Cargo.lock"
  fi
  log "building the baseline server (release)"
  cargo build --release --quiet --manifest-path "$BENCH/baseline/Cargo.toml" --target-dir "$TARGET"
  have=$(lock_versions "$BENCH/baseline/Cargo.lock")
  [ "$want" = "$have" ] || die "baseline versions differ from the gateway's: $have vs $want"
}

# "axum 0.8.9 hyper 1.x tokio 1.y" from a Cargo.lock.
lock_versions() {
  awk '/^name = "(axum|tokio|hyper|axum-core|hyper-util)"$/ { n = $3; getline; print n, $3 }' "$1" |
    tr -d '"' | sort | tr '\n' ' '
}

# The bench's own PostgreSQL cluster (bench-pg: .data/bench-pg, or outside the checkout
# where scripts/lib.sh puts clusters the postgres user could not reach; port 25440): never
# the test cluster. fsync and synchronous_commit off as the test cluster's (a run's data is
# thrown away), with its memory and WAL sized for a run: an order leaves ~2 KB across five
# tables, so with the default 128 MB of shared_buffers the gateway's database outgrew the
# cache within a run (pgbench's three rows per transaction did not), and the default 1 GB of
# WAL forced a checkpoint every minute or so, each followed by a burst of full-page
# images. Later rounds then measured eviction and checkpoints, not the gateway. Both
# sides run on this cluster with the same settings.
bench_pg_memory() {
  local mem_kb
  mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
  # An eighth of the machine's memory, at most 1 GB.
  echo "$(( mem_kb / 8 / 1024 < 1024 ? mem_kb / 8 / 1024 : 1024 ))MB"
}

bench_pg_start() {
  mkdir -p "$DATA" "$BENCH_DATA"
  # BENCH_DURABLE=1: fsync and synchronous_commit on (a running cluster started with the
  # other settings is restarted with these).
  cluster_start bench-pg "$BENCH_PG_PORT" "$(bench_sync)" \
    "-c shared_buffers=$(bench_pg_memory) -c max_wal_size=4GB ${BENCH_PG_OPTS:-}"
}

# on with BENCH_DURABLE=1, else off.
bench_sync() { if [ -n "${BENCH_DURABLE:-}" ]; then echo on; else echo off; fi; }

bench_pg_stop() { cluster_stop bench-pg || true; }

# A fresh, empty database $1 on the bench cluster.
fresh_db() {
  psql "$(bench_url postgres)" -qc "drop database if exists $1 with (force)" >/dev/null
  psql "$(bench_url postgres)" -qc "create database $1" >/dev/null
}

# The gateway database: migrated, demo catalog, $PARTNERS partners (20% markup, $1M of
# credits each) with one key each, written to $BENCH_DATA/keys.txt (key of partner i on
# line i). Goes through the operator CLI, as an operator would.
seed_gateway_db() {
  fresh_db bench_gateway
  local url i name key
  url=$(bench_url bench_gateway)
  DATABASE_URL="$url" "$TAVARO" migrate >/dev/null
  DATABASE_URL="$url" "$TAVARO" catalog import "$ROOT/catalog/demo.json" >/dev/null
  : > "$BENCH_DATA/keys.txt"
  log "seeding $PARTNERS partners with keys and credits"
  for i in $(seq -w 1 "$PARTNERS"); do
    name="bench-$i"
    DATABASE_URL="$url" "$TAVARO" partner create --name "$name" --markup 20 >/dev/null
    DATABASE_URL="$url" "$TAVARO" credits add --partner "$name" --amount 1000000.00 --note "bench credits" >/dev/null
    key=$(DATABASE_URL="$url" "$TAVARO" key create --partner "$name" --label bench --json |
      sed -n 's/.*"key": "\(tvr_[A-Za-z0-9_]*\)".*/\1/p')
    [ -n "$key" ] || die "could not create a key for $name"
    echo "$key" >> "$BENCH_DATA/keys.txt"
  done
}

# The pgbench database: the same migrations and catalog, 100 accounts.
seed_pgbench_db() {
  fresh_db bench_pgbench
  local url
  url=$(bench_url bench_pgbench)
  DATABASE_URL="$url" "$TAVARO" migrate >/dev/null
  DATABASE_URL="$url" "$TAVARO" catalog import "$ROOT/catalog/demo.json" >/dev/null
  psql "$url" -q -v ON_ERROR_STOP=1 -v accounts="$PARTNERS" -v credits=100000000 \
    -f "$BENCH/pgbench/seed.sql" >/dev/null
}

# The commit a report was measured at, with `+changes` when what builds the binaries
# (the sources, the manifests and their release profiles, the lock file, the baseline
# server) differs from it.
source_commit() {
  local dirty=""
  git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock bench/baseline || dirty="+changes"
  echo "$(git -C "$ROOT" rev-parse --short HEAD)$dirty"
}

# The net price of the benchmarked plan, in cents.
plan_cents() {
  psql "$(bench_url bench_gateway)" -qAtc "select net_price_cents from plans where id = '$PLAN'"
}

# Starts `tavaro serve` with the simulator (no injected latency), limits (the per-address
# one included: every request comes from 127.0.0.1) raised out of the way and warn-level logs (start and stop at info); sets GATEWAY_PID and READY_MS (spawn to
# first /readyz 200).
# The gateway's logging: warnings only (the default run), or what an operator runs by
# default, one JSON line per request at `info` (BENCH_LOGGING=1).
bench_log_level() {
  if [ -n "${BENCH_LOGGING:-}" ]; then echo info; else echo "warn,tavaro::startup=info"; fi
}
bench_log_format() {
  if [ -n "${BENCH_LOGGING:-}" ]; then echo json; else echo text; fi
}

start_gateway() {
  local log_file="$1" start end
  start=$(date +%s%N)
  env DATABASE_URL="$(bench_url bench_gateway)" \
    TAVARO_LISTEN_ADDR="127.0.0.1:$GATEWAY_PORT" \
    TAVARO_METRICS_ADDR="${GATEWAY_METRICS#http://}" \
    RUST_LOG="$(bench_log_level)" LOG_FORMAT="$(bench_log_format)" \
    TAVARO_SIM_LATENCY_MS=0 TAVARO_SIM_FAILURE_RATE=0 TAVARO_SIM_MODE=normal \
    TAVARO_RATE_LIMIT_PER_SEC=1000000 TAVARO_RATE_LIMIT_BURST=1000000 \
    TAVARO_ORDER_RATE_LIMIT_PER_SEC=1000000 TAVARO_ORDER_RATE_LIMIT_BURST=1000000 \
    TAVARO_PUBLIC_RATE_LIMIT_PER_SEC=1000000 TAVARO_PUBLIC_RATE_LIMIT_BURST=1000000 \
    "$TAVARO" serve >"$log_file" 2>&1 &
  GATEWAY_PID=$!
  until curl -fs -o /dev/null "$GATEWAY/readyz" 2>/dev/null; do
    kill -0 "$GATEWAY_PID" 2>/dev/null || { tail -n 20 "$log_file" >&2; die "tavaro serve exited"; }
    end=$(date +%s%N)
    [ $(((end - start) / 1000000)) -lt 30000 ] || die "tavaro serve not ready after 30 s"
    sleep 0.005
  done
  end=$(date +%s%N)
  READY_MS=$(((end - start) / 1000000))
}

stop_pid() {
  local pid="$1"
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# Peak resident set size of a process, in kB (VmHWM).
peak_rss_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# The path a GET case (a, b or c) requests.
path_of() {
  case "$1" in
    a) echo "/v1/packages?country=FR" ;;
    b) echo "/v1/countries" ;;
    c) echo "/v1/balance" ;;
  esac
}

# Runs wrk against URL $1 with the shared script; JSON summary to $2. Extra environment
# (BENCH_ORDER, BENCH_PICK, BENCH_RUN, ...) as further arguments NAME=value. Duration $DUR
# (default $DURATION), connections $CONNS (default $CONNECTIONS).
run_wrk() {
  local url="$1" out="$2"
  shift 2
  env BENCH_KEYS="${KEYS_FILE:-$BENCH_DATA/keys.txt}" BENCH_OUT="$out" BENCH_THREADS="$THREADS" \
    BENCH_PLAN="$PLAN" "$@" \
    wrk -t "$THREADS" -c "${CONNS:-$CONNECTIONS}" -d "${DUR:-$DURATION}s" --timeout 5s \
    -s "$BENCH/wrk/load.lua" "$url" >"$out.log" 2>&1 || { cat "$out.log" >&2; die "wrk failed"; }
}

# Dies with the server's exit status and last log lines if it is no longer running.
assert_alive() {
  local pid="$1" log_file="$2" status=0
  kill -0 "$pid" 2>/dev/null && return 0
  wait "$pid" || status=$?
  tail -n 20 "$log_file" >&2
  die "tavaro serve (pid $pid) is gone, exit status $status"
}
