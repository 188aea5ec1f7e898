-- pgbench reference for GET /v1/balance (informational, no target): Postgres alone
-- answering the balance query the gateway runs (src/ledger `balance`), random accounts,
-- prepared. Variables (pgbench -D): accounts.
\set aid random(1, :accounts)
SELECT balance_cents, updated_at FROM balances
 WHERE partner_id = ('00000000-0000-4000-8000-' || lpad(:aid::text, 12, '0'))::uuid;
