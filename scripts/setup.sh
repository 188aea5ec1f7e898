#!/usr/bin/env bash
# Set-up shared by `make run` and `make test`: installs what is missing, starts a
# project-local PostgreSQL cluster (unless DATABASE_URL points elsewhere), creates the
# database and records its URL.
#
#   scripts/setup.sh          # for `make run`: cluster pg, port TAVARO_PG_PORT (55432),
#                             # PostgreSQL's durable defaults; URL in .data/database_url
#   scripts/setup.sh --test   # for `make test`: cluster pg-test, port TAVARO_TEST_PG_PORT
#                             # (55532), fsync and synchronous_commit off; URL in
#                             # .data/test_database_url. Also installs the test tools:
#                             # newman, Chromium (docs check), openapi-spec-validator,
#                             # Redocly, the SDK generators and the webhook tests'
#                             # standardwebhooks venv
#
# Where a cluster's data lives: scripts/lib.sh, "project-local PostgreSQL clusters".
set -euo pipefail
source "$(dirname "$0")/lib.sh"

want_test=0
case "${1:-}" in
  --test | --newman) want_test=1 ;; # --newman: the flag's older name
  "") ;;
  *) die "usage: scripts/setup.sh [--test]" ;;
esac
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

# --- newman (Postman CLI) and the other test tools, only for the test run ---------------
if [ "$want_test" -eq 1 ]; then
  # newman, and Redocly and the SDK generators and their flow tests' tools (scripts/lib.sh).
  install_node_tools
  install_sdk_venv

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
  # standardwebhooks (PyPI), in a venv of its own: the webhook tests' receiver verifies
  # every delivery with it.
  "$ROOT/scripts/webhooks-venv" >/dev/null
fi

# --- database --------------------------------------------------------------------------
# `make run` keeps what it acknowledged (PostgreSQL's defaults: fsync and
# synchronous_commit on): the demo database is one a developer comes back to. `make test`
# creates and drops databases by the hundred and keeps nothing: its own cluster, on its
# own port, runs with both off.
if [ "$want_test" -eq 1 ]; then
  cluster=pg-test port="$TEST_PG_PORT" sync=off url_file="$DATA/test_database_url"
else
  cluster=pg port="$PG_PORT" sync=on url_file="$DATA/database_url"
fi

if [ -n "${DATABASE_URL:-}" ]; then
  log "using DATABASE_URL from the environment"
  echo "$DATABASE_URL" > "$url_file"
  exit 0
fi

PG_BIN="$(pg_bindir)"
if [ -z "$PG_BIN" ]; then
  apt_install postgresql
  PG_BIN="$(pg_bindir)"
  [ -n "$PG_BIN" ] || die "PostgreSQL installed but initdb not found"
fi
command -v psql >/dev/null || apt_install postgresql-client

cluster_start "$cluster" "$port" "$sync"

if [ "$(psql "$(local_url postgres "$port")" -qAtc "select 1 from pg_database where datname = 'tavaro'")" != "1" ]; then
  psql "$(local_url postgres "$port")" -qc 'create database tavaro' >/dev/null
fi
local_url tavaro "$port" > "$url_file"
log "PostgreSQL ready: $(local_url tavaro "$port") (data in $CLUSTER_DIR)"
