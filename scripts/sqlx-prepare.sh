#!/usr/bin/env bash
# Regenerates .sqlx/ (the offline query data the build uses) after a query or migration
# changes. Applies the migrations to a scratch database, then recompiles with the sqlx
# macros writing their data. Commit the result.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_database_url
cd "$ROOT"

scratch="$(url_with_db "$DATABASE_URL" tavaro_sqlx)"
admin="$(url_with_db "$DATABASE_URL" postgres)"
psql "$admin" -qc "drop database if exists tavaro_sqlx with (force)" >/dev/null
psql "$admin" -qc "create database tavaro_sqlx" >/dev/null
# The table sqlx keeps its migrations in: a migration may name it (the server role's grants).
psql -v ON_ERROR_STOP=1 -q "$scratch" -c "create table _sqlx_migrations (
    version bigint primary key, description text not null,
    installed_on timestamptz not null default now(), success boolean not null,
    checksum bytea not null, execution_time bigint not null)" >/dev/null
for migration in migrations/*.sql; do
  psql -v ON_ERROR_STOP=1 -q "$scratch" -f "$migration" >/dev/null
done

rm -rf .sqlx && mkdir .sqlx
touch src/lib.rs tests/*/main.rs 2>/dev/null || true
DATABASE_URL="$scratch" SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$ROOT/.sqlx" \
  cargo check --quiet --all-targets
log "wrote $(ls .sqlx | wc -l) queries to .sqlx/"
