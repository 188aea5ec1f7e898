-- pgbench baseline for POST /v1/order: the order's debit transaction as the gateway runs
-- it (src/orders/mod.rs `debit` + src/ledger `post`), on the gateway's own schema (the
-- same migrations, so the same indexes, constraints, foreign keys and triggers):
-- the pending order row, the conditional balance update, the ledger entry. One
-- transaction, prepared statements (-M prepared), like sqlx.
-- Variables (pgbench -D): accounts (100 for random accounts, 1 for the hot account),
-- plan, amt (the plan's net price in cents).
\set aid random(1, :accounts)
BEGIN;
INSERT INTO orders (id, partner_id, plan_id, quantity, unit_cost_cents, total_cost_cents,
                    status, reference, provider)
VALUES (gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad(:aid::text, 12, '0'))::uuid,
        :plan, 1, :amt, :amt, 'pending', 'bench', 'simulator')
RETURNING id AS oid \gset
UPDATE balances
   SET balance_cents = balance_cents - :amt, updated_at = now()
 WHERE partner_id = ('00000000-0000-4000-8000-' || lpad(:aid::text, 12, '0'))::uuid
   AND balance_cents - :amt >= 0
RETURNING balance_cents AS bal \gset
INSERT INTO ledger_entries (partner_id, kind, amount_cents, balance_after_cents, order_id)
VALUES (('00000000-0000-4000-8000-' || lpad(:aid::text, 12, '0'))::uuid, 'order_debit',
        -(:amt::bigint), :bal, :oid);
COMMIT;
