-- Sandbox (test mode): a key is `live` or `sandbox`, and so is everything done with it. A
-- partner's sandbox has its own balance and ledger, orders, eSIMs and Idempotency-Keys; the
-- keys that link these rows carry the mode, so no statement, however wrong, can debit a
-- sandbox order from a live balance, give a live order a sandbox eSIM, or replay a live
-- answer to a sandbox request. Every existing row is live.

alter table api_keys add column mode text not null default 'live'
    check (mode in ('live', 'sandbox'));

-- One account per partner and mode. The sandbox account is opened (with its opening
-- credits, as a ledger entry) when the partner's first sandbox key is created.
alter table balances add column mode text not null default 'live'
    check (mode in ('live', 'sandbox'));
alter table balances drop constraint balances_pkey;
alter table balances add primary key (partner_id, mode);

-- Adding a column with a constant default rewrites no row: the append-only triggers of
-- ledger_entries do not fire, and history stays as written.
alter table ledger_entries add column mode text not null default 'live'
    check (mode in ('live', 'sandbox'));
-- An entry moves the balance of its own account.
alter table ledger_entries
    add constraint ledger_entries_account_fk
        foreign key (partner_id, mode) references balances (partner_id, mode);
drop index ledger_entries_partner_idx;
create index ledger_entries_account_idx on ledger_entries (partner_id, mode, id desc);

alter table orders add column mode text not null default 'live'
    check (mode in ('live', 'sandbox'));
alter table orders add constraint orders_id_partner_mode_key unique (id, partner_id, mode);
drop index orders_partner_created_idx;
create index orders_account_created_idx on orders (partner_id, mode, created_at desc, id desc);

-- Debits, refunds and eSIMs name an order of their own partner and mode. The constraints
-- keep their names (operators and tests know them), now with the mode in the key.
alter table ledger_entries
    drop constraint ledger_entries_order_partner_fk,
    add constraint ledger_entries_order_partner_fk
        foreign key (order_id, partner_id, mode) references orders (id, partner_id, mode);
alter table esims add column mode text not null default 'live'
    check (mode in ('live', 'sandbox'));
alter table esims
    drop constraint esims_order_partner_fk,
    add constraint esims_order_partner_fk
        foreign key (order_id, partner_id, mode) references orders (id, partner_id, mode);
alter table orders drop constraint orders_id_partner_id_key;

-- Idempotency-Keys are scoped per partner and mode: the same string in both modes is two
-- keys, for two independent orders.
alter table idempotency_keys add column mode text not null default 'live'
    check (mode in ('live', 'sandbox'));
alter table idempotency_keys drop constraint idempotency_keys_pkey;
alter table idempotency_keys add primary key (partner_id, mode, key);

-- An order's mode is one of its terms: immutable, like its partner and price.
create or replace function orders_check_transition() returns trigger
language plpgsql as $$
begin
    if new.status is distinct from old.status and not (
        (old.status = 'pending' and new.status in ('completed', 'failed', 'processing'))
        or (old.status = 'processing' and new.status in ('completed', 'failed'))
    ) then
        raise exception 'order % cannot go from % to %', old.id, old.status, new.status
            using errcode = 'check_violation';
    end if;
    if (new.partner_id, new.mode, new.plan_id, new.quantity, new.unit_cost_cents,
        new.total_cost_cents)
        is distinct from
       (old.partner_id, old.mode, old.plan_id, old.quantity, old.unit_cost_cents,
        old.total_cost_cents) then
        raise exception 'order % terms are immutable', old.id using errcode = 'check_violation';
    end if;
    return new;
end;
$$;

-- A key's mode never changes: a live key cannot become a sandbox one, or the reverse.
create function api_keys_mode_is_immutable() returns trigger
language plpgsql as $$
begin
    raise exception 'API key % cannot change mode', old.id using errcode = 'check_violation';
end;
$$;

create trigger api_keys_mode_immutable
    before update of mode on api_keys
    for each row when (old.mode is distinct from new.mode)
    execute function api_keys_mode_is_immutable();
