# Shared helpers for the set-up scripts. Sourced, never run.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/.data"
PG_PORT="${TAVARO_PG_PORT:-55432}"

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

# The database URL for a database on the project-local cluster.
local_url() { echo "postgres://tavaro@127.0.0.1:$PG_PORT/$1"; }

# Load DATABASE_URL: the caller's if set, else the one set-up recorded for the local cluster.
load_database_url() {
  if [ -z "${DATABASE_URL:-}" ]; then
    [ -f "$DATA/database_url" ] || die "no DATABASE_URL: run 'make run' or 'make test' (they set up .data/)"
    DATABASE_URL="$(cat "$DATA/database_url")"
  fi
  export DATABASE_URL
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

# Wait until a server answers /readyz at base URL $1.
wait_for_health() {
  for _ in $(seq 1 100); do
    curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
