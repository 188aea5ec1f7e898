-- Prepaid credits: one balance row per partner and an append-only ledger of signed entries.
-- The balance is a cache of the ledger: it always equals the sum of the partner's entries,
-- and both are written in the same transaction.

create table balances (
    partner_id     uuid primary key references partners (id),
    balance_cents  bigint not null default 0 check (balance_cents >= 0),
    updated_at     timestamptz not null default now()
);

create table ledger_entries (
    id                   bigint generated always as identity primary key,
    partner_id           uuid not null references partners (id),
    kind                 text not null check (kind in ('topup', 'order_debit', 'refund', 'adjustment')),
    -- Signed: credits are positive, debits negative. Never zero.
    amount_cents         bigint not null check (amount_cents <> 0),
    balance_after_cents  bigint not null check (balance_after_cents >= 0),
    order_id             uuid,
    note                 text,
    created_at           timestamptz not null default now(),
    check ((kind in ('order_debit', 'refund')) = (order_id is not null)),
    check (kind <> 'order_debit' or amount_cents < 0),
    check (kind <> 'refund' or amount_cents > 0)
);

create index ledger_entries_partner_idx on ledger_entries (partner_id, id desc);

-- An order is debited at most once and refunded at most once, whatever the code does.
create unique index ledger_entries_one_debit_per_order on ledger_entries (order_id)
    where kind = 'order_debit';
create unique index ledger_entries_one_refund_per_order on ledger_entries (order_id)
    where kind = 'refund';

-- Ledger rows are facts: a mistake is corrected by a new entry, never by editing history.
create function ledger_entries_are_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'ledger_entries is append-only: % is not allowed', tg_op
        using errcode = 'insufficient_privilege';
end;
$$;

create trigger ledger_entries_no_update_or_delete
    before update or delete on ledger_entries
    for each row execute function ledger_entries_are_append_only();

create trigger ledger_entries_no_truncate
    before truncate on ledger_entries
    for each statement execute function ledger_entries_are_append_only();
