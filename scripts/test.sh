#!/usr/bin/env bash
# `make test`: the whole suite. The set-up in a fresh clone (scripts/fresh-clone-check),
# formatting, lints, every Rust test against real PostgreSQL (the test cluster,
# .data/test_database_url), then, against a live, freshly seeded server on its own
# database: the served /openapi.json validated as OpenAPI 3.1 and linted by Redocly, the
# committed SDKs checked against it, the Postman collection checked against it and run
# through newman, /docs rendered in headless Chromium, the quick start run through both
# SDKs, and schemathesis.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# Each stage says when it started (seconds into the suite): where the time goes.
log() { printf '\033[1;34m==>\033[0m [%4ss] %s\n' "$SECONDS" "$*" >&2; }
load_database_url test
cd "$ROOT"
export SQLX_OFFLINE=true

log "fresh-clone-check: the set-up in a clone the postgres user cannot enter"
scripts/fresh-clone-check

log "cargo fmt --check"
cargo fmt --all -- --check

log "layering: every crate:: path points down the README's layer table, no cycle"
scripts/layers

# Clippy lints our crate in the build of the tests, as `cargo clippy` would check it:
# clippy-driver wraps rustc for the workspace's own crate only (RUSTC_WORKSPACE_WRAPPER, with
# `cargo clippy`'s own way of passing `-D warnings`, CLIPPY_ARGS), so the dependencies are
# compiled once, with their code, instead of once checked for clippy and once built for
# the tests (about 80 s of a cold run on 2 cores). Every cargo command below runs with
# the wrapper (it is part of our crate's fingerprint), so nothing is compiled twice.
# The canary: a warn-by-default clippy lint that this wrapper and CLIPPY_ARGS must turn into
# an error, or the build above linted nothing.
clippy_canary() {
  local dir
  dir="$(mktemp -d)"
  printf 'pub fn one() -> i32 {\n    return 1;\n}\n' > "$dir/canary.rs"
  local denied=0
  "$RUSTC_WORKSPACE_WRAPPER" rustc --edition 2021 --crate-type lib --emit metadata \
    --out-dir "$dir" "$dir/canary.rs" > "$dir/out" 2>&1 \
    || { grep -q "needless_return" "$dir/out" && denied=1; }
  if [ "$denied" -ne 1 ]; then
    cat "$dir/out" >&2
    rm -rf "$dir"
    die "clippy-driver did not deny a clippy warning: the build was not linted"
  fi
  rm -rf "$dir"
  echo "clippy: every target linted, warnings denied"
}
clippy_driver="$(command -v clippy-driver || true)"
[ -n "$clippy_driver" ] || die "clippy-driver not found (rustup component add clippy)"
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
clippy_canary
log "cargo clippy -D warnings on every target, in the build of the tests (cargo test --no-run)"
cargo test --quiet --all-targets --no-run

# The Dockerfile's build stage compiles the crate again, in a profile of its own: it runs
# (at low priority) while the tests run, which mostly wait rather than compute.
log "Dockerfile: the build stage's steps, verbatim (no Docker engine here), in the background"
env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS nice -n 10 scripts/docker-check \
  > "$DATA/docker-check.log" 2>&1 &
docker_check=$!
trap 'kill $docker_check 2>/dev/null || true' EXIT

# Four at a time on any machine: most tests wait (on HTTP, PostgreSQL, time-outs they
# provoke) far more than they compute. TAVARO_TEST_THREADS overrides it.
log "cargo test (${TAVARO_TEST_THREADS:-4} threads)"
cargo test --quiet --all-targets -- --test-threads "${TAVARO_TEST_THREADS:-4}"

log "Dockerfile check: waiting for it"
wait "$docker_check" || { cat "$DATA/docker-check.log" >&2; die "docker-check failed"; }
trap - EXIT
grep -E "docker-check" "$DATA/docker-check.log" | tail -n 1

log "live server for the API checks (newman, OpenAPI, docs)"
# The binary `cargo test` just built (the tests run it as the CLI): building it again
# without the tests' `failpoints` feature would recompile the crate for nothing here.
[ -x "$BIN" ] || build_binary
newman_url="$(url_with_db "$DATABASE_URL" tavaro_newman)"
admin_url="$(url_with_db "$DATABASE_URL" postgres)"
psql "$admin_url" -qc "drop database if exists tavaro_newman with (force)" >/dev/null
psql "$admin_url" -qc "create database tavaro_newman" >/dev/null
key=$(DATABASE_URL="$newman_url" seed_demo "newman")
sandbox_key=$(DATABASE_URL="$newman_url" seed_sandbox_key "newman sandbox")

port="${TAVARO_TEST_PORT:-18080}"
base="http://127.0.0.1:$port"
# /metrics lives on its own listener, never on the partner port: the next port up.
metrics="http://127.0.0.1:$((port + 1))"
# Generous rate limits: newman and schemathesis fire requests back to back, all from
# 127.0.0.1 (the limiters have their own tests). Webhook URLs are taken without resolving
# them (TAVARO_WEBHOOK_ALLOW_PRIVATE): the collection's endpoints point at 127.0.0.1:9, and
# the machine may resolve no public name; the rules have their own tests.
# As make run does (serve_as_server_role): the server connects as tavaro_app, its
# start-up migrations as the owner.
DATABASE_URL="$newman_url" serve_as_server_role \
  TAVARO_LISTEN_ADDR="127.0.0.1:$port" RUST_LOG=warn \
  TAVARO_METRICS_ADDR="127.0.0.1:$((port + 1))" \
  TAVARO_RATE_LIMIT_PER_SEC=100000 TAVARO_RATE_LIMIT_BURST=100000 \
  TAVARO_ORDER_RATE_LIMIT_PER_SEC=100000 TAVARO_ORDER_RATE_LIMIT_BURST=100000 \
  TAVARO_PUBLIC_RATE_LIMIT_PER_SEC=100000 TAVARO_PUBLIC_RATE_LIMIT_BURST=100000 \
  TAVARO_WEBHOOK_ALLOW_PRIVATE=true \
  > "$DATA/newman-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
wait_for_health "$base" || { cat "$DATA/newman-server.log" >&2; die "the server did not start"; }

log "openapi-spec-validator: /openapi.json is valid OpenAPI 3.1"
curl -fsS "$base/openapi.json" -o "$DATA/openapi.json"
"$DATA/tools/venv/bin/openapi-spec-validator" --schema 3.1 "$DATA/openapi.json"

log "redocly lint: /openapi.json against redocly.yaml (recommended-strict: 0 errors, 0 warnings)"
# The box Redocly prints on Node.js 20 (its end of support) is about Node, not the document.
"$DATA/tools/node_modules/.bin/redocly" lint "$DATA/openapi.json" --config redocly.yaml 2>&1 \
  | grep -v '[║╔╚]' | grep -v '^$'

log "sdks --check: the committed SDKs are what this document generates"
scripts/sdks --check "$DATA/openapi.json"

log "postman-check: the collection covers every documented operation and error"
"$DATA/tools/venv/bin/python" scripts/postman-check "$DATA/openapi.json" \
  postman/tavaro.postman_collection.json

log "newman: the Postman collection"
"$DATA/tools/node_modules/.bin/newman" run postman/tavaro.postman_collection.json \
  --environment postman/local.postman_environment.json \
  --env-var "base_url=$base" --env-var "metrics_url=$metrics" --env-var "api_key=$key" \
  --env-var "sandbox_api_key=$sandbox_key" \
  --reporters cli --color off

log "docs-check: /docs rendered in headless Chromium"
scripts/docs-check "$base" --screenshot "$DATA/api-docs.png"

log "SDK flows: the quick start through the Python and TypeScript SDKs"
# Before schemathesis, whose orders may spend the demo partner's credits.
scripts/sdk-flows "$base" "$key" "$sandbox_key"

log "schemathesis: generated requests against /openapi.json (scripts/fuzz-api runs the long version)"
# /metrics is documented but served on the metrics listener, not at this base URL.
"$DATA/tools/venv/bin/schemathesis" --config-file schemathesis.toml run "$base/openapi.json" \
  --exclude-path /metrics \
  -H "Authorization: Bearer $key" --checks all --max-examples 25 --workers 1 \
  --seed 20261122 --generation-database none --no-color > "$DATA/schemathesis.log" 2>&1 \
  || { cat "$DATA/schemathesis.log" >&2; die "schemathesis found failures"; }
grep -E "generated|passed" "$DATA/schemathesis.log" | tail -n 1

log "all checks passed"
