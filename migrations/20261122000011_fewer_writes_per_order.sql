-- Fewer rows and checks written on the way of every order.

-- The public token of an eSIM's QR code is a column of the eSIM, written with it: one
-- row and one foreign-key check fewer per eSIM. Still unique, still looked up by token.
alter table esims add column qr_token text;
update esims e set qr_token = q.token from qr_tokens q where q.esim_id = e.id;
alter table esims alter column qr_token set not null;
alter table esims add constraint esims_qr_token_key unique (qr_token);
drop table qr_tokens;

-- Bookkeeping rows that only the statement writing their order writes (the order's
-- reconciliation job, the Idempotency-Key's link to the order it placed) keep no foreign
-- key to it: the check was a query per row that could only ever find the order the same
-- statement had just inserted. Orders are never deleted. The money tables keep theirs:
-- orders → partners and plans, ledger entries → partners and orders, eSIMs → partners
-- and orders.
alter table order_jobs drop constraint order_jobs_order_id_fkey;
alter table order_jobs drop constraint order_jobs_partner_id_fkey;
alter table idempotency_keys drop constraint idempotency_keys_order_id_fkey;
