-- Accounts for the pgbench baseline: 100 partners with well-known ids
-- (00000000-0000-4000-8000-000000000001 ...) and a large opening balance, written like
-- `tavaro credits add` writes one (a topup entry), so the ledger invariants hold.
-- psql variables: accounts, credits (cents).
INSERT INTO partners (id, name, markup_bps)
SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'pgbench-' || i, 2000
  FROM generate_series(1, :accounts) i;
INSERT INTO balances (partner_id, balance_cents)
SELECT id, :credits FROM partners WHERE name LIKE 'pgbench-%';
INSERT INTO ledger_entries (partner_id, kind, amount_cents, balance_after_cents, note)
SELECT id, 'topup', :credits, :credits, 'bench credits' FROM partners WHERE name LIKE 'pgbench-%';
