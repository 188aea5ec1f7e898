# Shared helpers for the set-up scripts. Sourced, never run.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/.data"
# `make run`'s cluster; `make test` has its own, 100 ports above (worktrees that pick
# neighbouring TAVARO_PG_PORTs keep distinct test ports).
PG_PORT="${TAVARO_PG_PORT:-55432}"
TEST_PG_PORT="${TAVARO_TEST_PG_PORT:-$((PG_PORT + 100))}"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install Debian packages that are missing; apt-get update only when something is.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get to install them"
  log "installing ${missing[*]} from apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Directory holding initdb/pg_ctl of the newest installed PostgreSQL, or empty.
pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then pg_config --bindir; fi
}

# The database URL for database $1 on a project-local cluster (port $2, default `make run`'s).
local_url() { echo "postgres://tavaro@127.0.0.1:${2:-$PG_PORT}/$1"; }

# Load DATABASE_URL: the caller's if set, else the one set-up recorded for `make run`'s
# cluster (.data/database_url) or, with "test", for `make test`'s (.data/test_database_url).
load_database_url() {
  local file="$DATA/database_url" make=run
  [ "${1:-}" = test ] && file="$DATA/test_database_url" make=test
  if [ -z "${DATABASE_URL:-}" ]; then
    [ -f "$file" ] || die "no DATABASE_URL: run 'make $make' (it sets up .data/)"
    DATABASE_URL="$(cat "$file")"
  fi
  export DATABASE_URL
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { timeout 2 bash -c ': > "/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# --- project-local PostgreSQL clusters ------------------------------------------------
# A cluster has a name: pg (`make run`), pg-test (`make test`), bench-pg (bench/run). Its
# data directory is .data/NAME, except as root when the postgres user cannot enter .data/
# (a checkout under /root, or in a `mktemp -d` directory): then it is
# ~postgres/tavaro/HASH/NAME (~postgres is /var/lib/postgresql on Debian), HASH naming the
# checkout, whose path is written beside it in `checkout`. Either way the data directory
# is recorded in .data/NAME.path, where db-stop and later runs find it. initdb and pg_ctl
# are handed that real path, never one through the checkout.

# Runs a PostgreSQL program as the clusters' owner: the postgres user as root (initdb
# refuses root), else ourselves. From /: the postgres user may not be able to enter our
# working directory, and initdb and postgres change back into it.
run_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/bash -c "cd / && $(printf '%q ' "$@")"
  else
    (cd / && "$@")
  fi
}

# Where this checkout's clusters go as root when the postgres user cannot enter .data/.
pg_outside_dir() {
  local home
  home="$(getent passwd postgres | cut -d: -f6)"
  [ -n "$home" ] && [ "$home" != / ] || home=/var/lib/postgresql
  echo "$home/tavaro/$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
}

# The data directory of cluster $1 if it has one (recorded, in .data/, or outside), else
# nothing. Creates nothing.
cluster_dir() {
  local name="$1" dir
  if [ -f "$DATA/$name.path" ]; then
    dir="$(cat "$DATA/$name.path")"
    [ -d "$dir" ] && { echo "$dir"; return 0; }
  fi
  # A directory, or the link an older set-up made to one outside the checkout.
  if [ -e "$DATA/$name" ]; then readlink -f "$DATA/$name"; return 0; fi
  if [ "$(id -u)" -eq 0 ] && [ -d "$(pg_outside_dir)/$name" ]; then
    echo "$(pg_outside_dir)/$name"
  fi
  return 0
}

# Creates the data directory of a new cluster $1 where its owner can reach it; prints it.
cluster_new_dir() {
  local name="$1" data dir outside
  mkdir -p "$DATA"
  data="$(cd "$DATA" && pwd -P)"
  dir="$data/$name"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' user: is the postgresql package installed?"
    if ! su postgres -s /bin/bash -c "cd $(printf '%q' "$data")" >/dev/null 2>&1; then
      outside="$(pg_outside_dir)"
      mkdir -p "$outside"
      chown postgres: "$(dirname "$outside")" "$outside"
      chmod 700 "$(dirname "$outside")" "$outside"
      printf '%s\n' "$ROOT" > "$outside/checkout"
      dir="$outside/$name"
      log "the postgres user cannot enter $data: cluster $name lives in $dir"
    fi
  fi
  mkdir -p "$dir"
  echo "$dir"
}

# "data_directory|fsync|synchronous_commit" of the server answering on 127.0.0.1:$1.
cluster_settings() {
  psql "$(local_url postgres "$1")" -qAtc \
    "select current_setting('data_directory') || '|' || current_setting('fsync') || '|' || current_setting('synchronous_commit')" \
    2>/dev/null
}

# Checks that the server on 127.0.0.1:$1 is the cluster in $2 with fsync and
# synchronous_commit $3; "running", "other:DIR" (another cluster) or "wrong:SETTINGS".
cluster_check() {
  local got dir
  got="$(cluster_settings "$1")" || true
  [ -n "$got" ] || { echo down; return 0; }
  dir="${got%%|*}"
  [ "$(readlink -f "$dir" 2>/dev/null || echo "$dir")" = "$(readlink -f "$2")" ] \
    || { echo "other:$dir"; return 0; }
  [ "${got#*|}" = "$3|$3" ] || { echo "wrong:${got#*|}"; return 0; }
  echo running
}

# Creates cluster $1 if it has none and makes sure it runs on 127.0.0.1:$2 with fsync and
# synchronous_commit $3 ("on": PostgreSQL's durable defaults, for data we keep; "off": fast,
# for throwaway data), plus server options $4. A running cluster started with other
# settings (or elsewhere) is restarted. Sets CLUSTER_DIR to its data directory.
cluster_start() {
  local name="$1" port="$2" sync="$3" extra="${4:-}" dir opts state attempt var
  case "$name" in pg) var=TAVARO_PG_PORT ;; pg-test) var=TAVARO_TEST_PG_PORT ;; *) var=TAVARO_BENCH_PG_PORT ;; esac
  PG_BIN="${PG_BIN:-$(pg_bindir)}"
  dir="$(cluster_dir "$name")"
  [ -n "$dir" ] || dir="$(cluster_new_dir "$name")"
  printf '%s\n' "$dir" > "$DATA/$name.path"
  CLUSTER_DIR="$dir"

  if [ ! -f "$dir/PG_VERSION" ]; then
    log "creating PostgreSQL cluster $name in $dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    chmod 700 "$dir"
    local initdb_opts=()
    [ "$sync" = on ] || initdb_opts=(--no-sync)
    run_pg "$PG_BIN/initdb" -D "$dir" -U tavaro -A trust -E UTF8 --locale=C.UTF-8 \
      "${initdb_opts[@]}" >/dev/null
  fi

  opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c max_connections=300"
  opts="$opts -c fsync=$sync -c synchronous_commit=$sync $extra"
  if run_pg "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    state="$(cluster_check "$port" "$dir" "$sync")"
    [ "$state" = running ] && return 0
    case "$state" in other:*) die "127.0.0.1:$port answers for another cluster (${state#other:}): set $var" ;; esac
    case "$state" in
      wrong:*) state="${state#wrong:}" state="it ran with fsync ${state%|*}, synchronous_commit ${state#*|}" ;;
      *) state="it did not answer on that port" ;;
    esac
    log "restarting cluster $name on 127.0.0.1:$port with fsync and synchronous_commit $sync ($state)"
    run_pg "$PG_BIN/pg_ctl" -D "$dir" -m fast stop >/dev/null
  fi
  # A port can be held for a moment by an earlier connection: a few attempts, but none
  # when another server listens there.
  for attempt in 1 2 3; do
    port_in_use "$port" && die "127.0.0.1:$port is taken by another server: set $var to a free port"
    log "starting PostgreSQL cluster $name on 127.0.0.1:$port"
    run_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -o "$opts" start >/dev/null && break
    [ "$attempt" -lt 3 ] || { tail -n 20 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
    sleep 2
  done
  for _ in $(seq 1 50); do
    state="$(cluster_check "$port" "$dir" "$sync")"
    [ "$state" = down ] || break
    sleep 0.2
  done
  [ "$state" = running ] || die "cluster $name on 127.0.0.1:$port: $state"
}

# Stops cluster $1 if it runs; keeps its data.
cluster_stop() {
  local dir
  dir="$(cluster_dir "$1")"
  [ -n "$dir" ] && [ -f "$dir/PG_VERSION" ] || return 0
  PG_BIN="${PG_BIN:-$(pg_bindir)}"
  if ! run_pg "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "PostgreSQL cluster $1 ($dir) is not running"
    return 0
  fi
  log "stopping PostgreSQL cluster $1 ($dir)"
  run_pg "$PG_BIN/pg_ctl" -D "$dir" -m fast stop >/dev/null
}

# Stops cluster $1 and deletes its data directory, wherever it lives, and its record.
cluster_remove() {
  local name="$1" dir outside
  dir="$(cluster_dir "$name")"
  if [ -n "$dir" ]; then
    cluster_stop "$name"
    # Only a cluster's directory (or an empty one) is ever deleted.
    if [ "$dir" != / ] && { [ -f "$dir/PG_VERSION" ] || [ -z "$(ls -A "$dir")" ]; }; then
      log "removing PostgreSQL cluster $name ($dir)"
      rm -rf "$dir"
    else
      log "not removing $dir: it does not look like a PostgreSQL data directory"
    fi
  fi
  [ -L "$DATA/$name" ] && rm -f "$DATA/$name"
  rm -f "$DATA/$name.path"
  outside="$(pg_outside_dir)"
  if [ -d "$outside" ] && ! find "$outside" -mindepth 1 -maxdepth 1 ! -name checkout | grep -q .; then
    rm -rf "$outside"
  fi
  return 0
}

# Replace the database name at the end of a postgres URL (query string kept).
url_with_db() {
  local url="$1" db="$2" base query=""
  case "$url" in *\?*) query="?${url#*\?}"; url="${url%%\?*}";; esac
  base="${url%/*}"
  echo "$base/$db$query"
}

# The tavaro binary built by `cargo build` (debug profile: quick to build, deps optimised),
# in CARGO_TARGET_DIR when that is set.
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/tavaro"

# Build without a database: sqlx macros read the committed .sqlx/ query data.
build_binary() {
  log "building tavaro"
  (cd "$ROOT" && SQLX_OFFLINE=true cargo build --quiet --bin tavaro)
}

# The connection string `serve` uses, on stdout. On a project-local cluster: the server's
# own role, tavaro_app (it owns no table, so it cannot alter or truncate one or switch the
# ledger's triggers off; the migrations create it, this turns on its LOGIN), while
# migrations and operator commands keep DATABASE_URL, the owner's. A DATABASE_URL of your
# own is served as given (README, Database roles). Call after the migrations.
server_database_url() {
  case "$DATABASE_URL" in
    postgres://tavaro@127.0.0.1:*)
      psql "$DATABASE_URL" -qc "alter role tavaro_app login" >/dev/null
      echo "postgres://tavaro_app@${DATABASE_URL#postgres://tavaro@}"
      ;;
    *) echo "$DATABASE_URL" ;;
  esac
}

# Replaces this shell with `tavaro serve` as `make run` starts it, with the settings $@
# (VAR=value ...) added: connected as server_database_url, its start-up migrations over
# DATABASE_URL, the owner's. Call after the migrations.
serve_as_server_role() {
  local owner_url="$DATABASE_URL" server_url
  server_url="$(server_database_url)"
  exec env "$@" DATABASE_URL="$server_url" TAVARO_MIGRATION_DATABASE_URL="$owner_url" "$BIN" serve
}

# Migrate, import the demo catalog, make sure the demo partner exists with credits, and
# print a fresh API key for it (labelled $1) on stdout. Uses DATABASE_URL.
seed_demo() {
  local label="$1" key
  "$BIN" migrate >/dev/null
  "$BIN" catalog import "$ROOT/catalog/demo.json" >&2
  if ! "$BIN" partner list --json | grep -q '"name": "demo"'; then
    "$BIN" partner create --name demo --markup 20 >&2
    "$BIN" credits add --partner demo --amount 1000.00 --note "demo credits" >&2
  fi
  key=$("$BIN" key create --partner demo --label "$label" | grep '^tvr_')
  [ -n "$key" ] || die "could not create a demo API key"
  echo "$key"
}

# Print a fresh sandbox key (`tvr_test_...`) for the demo partner (labelled $1) on stdout;
# the first one opens the demo's sandbox balance (1000.00). Run after seed_demo.
seed_sandbox_key() {
  local key
  key=$("$BIN" key create --partner demo --label "$1" --sandbox | grep '^tvr_test_')
  [ -n "$key" ] || die "could not create a demo sandbox key"
  echo "$key"
}

# Wait until a server answers /readyz at base URL $1.
wait_for_health() {
  for _ in $(seq 1 100); do
    curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# --- the tools that lint the API document and generate and test the SDKs ----------------
# Installed once under .data/tools, each at a pinned version (the SDKs generated from one
# document must not change with the machine); present means never downloaded again.

# npm tools in .data/tools/node_modules: newman (the Postman collection), Redocly (lint,
# and the SDKs' document), openapi-typescript, and, for the TypeScript SDK's flow test,
# openapi-fetch, TypeScript (with Node.js's types), tsx and the webhook verifier its README
# uses (standardwebhooks).
NODE_TOOLS=(newman@6.2.2 @redocly/cli@2.77.0 openapi-typescript@7.13.0 openapi-fetch@0.17.0
  typescript@5.9.3 @types/node@20.19.43 tsx@4.23.15 standardwebhooks@1.1.1)
install_node_tools() {
  local bin="$DATA/tools/node_modules/.bin" missing=0
  for tool in newman redocly openapi-typescript tsc tsx; do
    [ -x "$bin/$tool" ] || missing=1
  done
  for package in openapi-fetch standardwebhooks @types/node; do
    [ -f "$DATA/tools/node_modules/$package/package.json" ] || missing=1
  done
  [ "$missing" -eq 1 ] || return 0
  command -v npm >/dev/null || apt_install nodejs npm
  log "installing ${NODE_TOOLS[*]} from npm into .data/tools"
  mkdir -p "$DATA/tools"
  npm install --silent --no-audit --no-fund --prefix "$DATA/tools" "${NODE_TOOLS[@]}" >/dev/null
}

# openapi-python-client (and its formatter, ruff) in a venv of its own: its dependencies
# are not schemathesis's.
SDK_PYTHON_TOOLS=(openapi-python-client==0.29.1 ruff==0.17.6)
install_sdk_venv() {
  [ -x "$DATA/tools/sdk-venv/bin/openapi-python-client" ] && return 0
  command -v python3 >/dev/null || apt_install python3
  log "installing ${SDK_PYTHON_TOOLS[*]} from PyPI into .data/tools/sdk-venv"
  rm -rf "$DATA/tools/sdk-venv"
  python3 -m venv "$DATA/tools/sdk-venv" >/dev/null 2>&1 || {
    apt_install python3-venv
    rm -rf "$DATA/tools/sdk-venv"
    python3 -m venv "$DATA/tools/sdk-venv"
  }
  "$DATA/tools/sdk-venv/bin/pip" install --quiet --disable-pip-version-check \
    "${SDK_PYTHON_TOOLS[@]}" >/dev/null
}
