#!/usr/bin/env bash
# Stops this checkout's PostgreSQL clusters (`make run`'s, `make test`'s and the bench's),
# wherever their data lives (recorded in .data/NAME.path); their data is kept.
#
#   scripts/db-stop.sh            # `make db-stop`
#   scripts/db-stop.sh --remove   # `make db-remove`: also deletes their data directories
set -euo pipefail
source "$(dirname "$0")/lib.sh"

remove=0
case "${1:-}" in
  --remove) remove=1 ;;
  "") ;;
  *) die "usage: scripts/db-stop.sh [--remove]" ;;
esac

found=0
for name in pg pg-test bench-pg; do
  [ -n "$(cluster_dir "$name")" ] || continue
  found=1
  if [ "$remove" -eq 1 ]; then cluster_remove "$name"; else cluster_stop "$name"; fi
done
if [ "$remove" -eq 1 ]; then rm -f "$DATA/database_url" "$DATA/test_database_url"; fi
[ "$found" -eq 1 ] || log "no local cluster"
