#!/usr/bin/env bash
# `make test`: the whole suite. Formatting, lints, every Rust test against real
# PostgreSQL, then the Postman collection through newman against a live, freshly seeded
# server on its own database.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_database_url
cd "$ROOT"
export SQLX_OFFLINE=true

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --quiet --all-targets -- -D warnings

log "cargo test"
cargo test --quiet --all-targets

log "Dockerfile: the build stage's steps, verbatim (no Docker engine here)"
scripts/docker-check

log "newman: Postman collection against a live server"
build_binary
newman_url="$(url_with_db "$DATABASE_URL" tavaro_newman)"
admin_url="$(url_with_db "$DATABASE_URL" postgres)"
psql "$admin_url" -qc "drop database if exists tavaro_newman with (force)" >/dev/null
psql "$admin_url" -qc "create database tavaro_newman" >/dev/null
key=$(DATABASE_URL="$newman_url" seed_demo "newman")

port="${TAVARO_TEST_PORT:-18080}"
base="http://127.0.0.1:$port"
DATABASE_URL="$newman_url" TAVARO_LISTEN_ADDR="127.0.0.1:$port" RUST_LOG=warn \
  "$BIN" serve > "$DATA/newman-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
wait_for_health "$base" || { cat "$DATA/newman-server.log" >&2; die "the server did not start"; }

"$DATA/tools/node_modules/.bin/newman" run postman/tavaro.postman_collection.json \
  --environment postman/local.postman_environment.json \
  --env-var "base_url=$base" --env-var "api_key=$key" \
  --reporters cli --color off

log "all checks passed"
