#!/usr/bin/env bash
# `make run`: build, migrate, seed the demo catalog and partner, print a working API key
# and curl line, then serve on TAVARO_LISTEN_ADDR (default 127.0.0.1:8080).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_database_url

build_binary
key=$(seed_demo "make run $(date -u +%Y-%m-%dT%H:%M:%SZ)")
addr="${TAVARO_LISTEN_ADDR:-127.0.0.1:8080}"
base="http://$addr"

cat <<TXT

  Tavaro gateway: demo partner "demo" (markup 20%) with credits, demo catalog loaded.

  Your demo API key (shown once):

    export TAVARO_KEY=$key

  Try it:

    curl -s $base/v1/balance -H "Authorization: Bearer $key"

TXT
# The server connects as tavaro_app; its start-up migrations run as the owner.
serve_as_server_role
