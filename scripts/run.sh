#!/usr/bin/env bash
# `make run`: build, migrate, seed the demo catalog and partner, print a working API key,
# a sandbox key beside it, and curl lines, then serve on TAVARO_LISTEN_ADDR (default 127.0.0.1:8080).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_database_url

build_binary
label="make run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
key=$(seed_demo "$label")
sandbox_key=$(seed_sandbox_key "$label sandbox")
addr="${TAVARO_LISTEN_ADDR:-127.0.0.1:8080}"
base="http://$addr"

cat <<TXT

  Tavaro gateway: demo partner "demo" (markup 20%) with credits, demo catalog loaded.

  Your demo API keys (shown once): live, and sandbox (test mode: its own 1000.00
  balance, orders fulfilled by the simulator, Sandbox-Outcome, /v1/sandbox/...):

    export TAVARO_KEY=$key
    export TAVARO_SANDBOX_KEY=$sandbox_key

  Try them:

    curl -s $base/v1/balance -H "Authorization: Bearer $key"
    curl -s $base/v1/balance -H "Authorization: Bearer $sandbox_key"

  Webhooks: TAVARO_WEBHOOK_ALLOW_PRIVATE=true is set, so endpoints may be plain http
  and on this machine (e.g. http://127.0.0.1:9000/hooks); never set it in production.

TXT
# The server connects as tavaro_app; its start-up migrations run as the owner. Webhook
# endpoints may be local: the override is for development, as said above.
serve_as_server_role TAVARO_WEBHOOK_ALLOW_PRIVATE=true
