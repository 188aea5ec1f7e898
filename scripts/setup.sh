#!/usr/bin/env bash
# Set-up shared by `make run` and `make test`: installs what is missing, starts the
# project-local PostgreSQL cluster under .data/ (unless DATABASE_URL points elsewhere),
# creates the database and records its URL in .data/database_url.
#
#   scripts/setup.sh              # for `make run`
#   scripts/setup.sh --newman     # also installs the test tools (for `make test`): newman,
#                                 # Chromium (docs check) and openapi-spec-validator
set -euo pipefail
source "$(dirname "$0")/lib.sh"

want_newman=0
[ "${1:-}" = "--newman" ] && want_newman=1
mkdir -p "$DATA"

# --- toolchain -------------------------------------------------------------------------
command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) and re-run"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  command -v rustup >/dev/null || die "cargo fmt/clippy missing and no rustup to add them"
  log "adding rustfmt and clippy"
  rustup component add rustfmt clippy
fi
command -v cc >/dev/null || apt_install build-essential
command -v curl >/dev/null || apt_install curl ca-certificates

# --- newman (Postman CLI), only for the test run ---------------------------------------
if [ "$want_newman" -eq 1 ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  if [ ! -x "$DATA/tools/node_modules/.bin/newman" ]; then
    log "installing newman from npm into .data/tools"
    mkdir -p "$DATA/tools"
    npm install --silent --no-audit --no-fund --prefix "$DATA/tools" newman@6 >/dev/null
  fi

  # Headless Chromium renders /docs for scripts/docs-check (fonts so the screenshot has text).
  command -v chromium >/dev/null || apt_install chromium fonts-liberation

  # openapi-spec-validator (PyPI) in a venv, for /openapi.json; its Python also runs
  # scripts/postman-check.
  if [ ! -x "$DATA/tools/venv/bin/openapi-spec-validator" ]; then
    command -v python3 >/dev/null || apt_install python3
    log "installing openapi-spec-validator from PyPI into .data/tools/venv"
    rm -rf "$DATA/tools/venv"
    if ! python3 -m venv "$DATA/tools/venv" >/dev/null 2>&1; then
      apt_install python3-venv
      rm -rf "$DATA/tools/venv"
      python3 -m venv "$DATA/tools/venv"
    fi
    "$DATA/tools/venv/bin/pip" install --quiet --disable-pip-version-check \
      "openapi-spec-validator>=0.9,<0.10" >/dev/null
  fi
  # Schemathesis (PyPI), property-based API tests against /openapi.json.
  if [ ! -x "$DATA/tools/venv/bin/schemathesis" ]; then
    log "installing schemathesis from PyPI into .data/tools/venv"
    "$DATA/tools/venv/bin/pip" install --quiet --disable-pip-version-check \
      "schemathesis>=4.3,<5" >/dev/null
  fi
fi

# --- database --------------------------------------------------------------------------
if [ -n "${DATABASE_URL:-}" ]; then
  log "using DATABASE_URL from the environment"
  echo "$DATABASE_URL" > "$DATA/database_url"
  exit 0
fi

PG_BIN="$(pg_bindir)"
if [ -z "$PG_BIN" ]; then
  apt_install postgresql
  PG_BIN="$(pg_bindir)"
  [ -n "$PG_BIN" ] || die "PostgreSQL installed but initdb not found"
fi
command -v psql >/dev/null || apt_install postgresql-client

# initdb refuses to run as root: as root the cluster belongs to the `postgres` user.
run_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
  else
    "$@"
  fi
}

PGDATA="$DATA/pg"
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "no 'postgres' user: is the postgresql package installed?"
  # The postgres user must be able to reach .data/. When the checkout sits somewhere it
  # cannot enter (say /root), the cluster lives under /var/lib/postgresql with a link here.
  if [ ! -e "$PGDATA" ] && ! su postgres -s /bin/bash -c "test -x '$DATA'" 2>/dev/null; then
    alt="/var/lib/postgresql/tavaro-$(echo "$ROOT" | sha256sum | cut -c1-12)"
    mkdir -p "$alt" && chown postgres: "$alt" && chmod 700 "$alt"
    ln -sfn "$alt" "$PGDATA"
  fi
  mkdir -p "$PGDATA"
  chown postgres: "$PGDATA" "$(readlink -f "$PGDATA")"
  chmod 700 "$(readlink -f "$PGDATA")"
fi

if [ ! -f "$PGDATA/PG_VERSION" ]; then
  log "creating the project-local PostgreSQL cluster in .data/pg"
  mkdir -p "$PGDATA"
  run_pg "$PG_BIN/initdb" -D "$PGDATA" -U tavaro -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi

if ! run_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  run_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='' -c max_connections=300 -c fsync=off -c synchronous_commit=off" \
    start >/dev/null || { tail -n 20 "$PGDATA/server.log" >&2; die "PostgreSQL did not start"; }
fi

for _ in $(seq 1 50); do
  psql "$(local_url postgres)" -qAtc 'select 1' >/dev/null 2>&1 && break
  sleep 0.2
done
if [ "$(psql "$(local_url postgres)" -qAtc "select 1 from pg_database where datname = 'tavaro'")" != "1" ]; then
  psql "$(local_url postgres)" -qc 'create database tavaro' >/dev/null
fi
local_url tavaro > "$DATA/database_url"
log "PostgreSQL ready: $(local_url tavaro)"
