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
