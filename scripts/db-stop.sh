#!/usr/bin/env bash
# Stops the project-local PostgreSQL cluster (data in .data/pg is kept).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
BIN_PG="$(pg_bindir)"
[ -f "$DATA/pg/PG_VERSION" ] || { log "no local cluster"; exit 0; }
if [ "$(id -u)" -eq 0 ]; then
  su postgres -s /bin/bash -c "$BIN_PG/pg_ctl -D '$DATA/pg' stop -m fast" || true
else
  "$BIN_PG/pg_ctl" -D "$DATA/pg" stop -m fast || true
fi
