-- After the sale: top-ups (orders of kind `topup` on an existing eSIM), cancellations of
-- unused eSIMs with one refund each, live usage with the time it was read, and every
-- status change of an eSIM recorded with its time.

-- Orders: a new eSIM, or a top-up of one the same account holds.
alter table orders
    add column kind text not null default 'esim' check (kind in ('esim', 'topup')),
    add column esim_id uuid;
alter table esims add constraint esims_id_partner_mode_key unique (id, partner_id, mode);
alter table orders
    add constraint orders_topup_esim_fk
        foreign key (esim_id, partner_id, mode) references esims (id, partner_id, mode),
    add constraint orders_topup_names_its_esim check ((kind = 'topup') = (esim_id is not null)),
    add constraint orders_topup_is_one check (kind <> 'topup' or quantity = 1);
create index orders_esim_idx on orders (esim_id, created_at) where esim_id is not null;

-- An order's kind and eSIM are part of its terms.
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
        new.total_cost_cents, new.kind, new.esim_id)
        is distinct from
       (old.partner_id, old.mode, old.plan_id, old.quantity, old.unit_cost_cents,
        old.total_cost_cents, old.kind, old.esim_id) then
        raise exception 'order % terms are immutable', old.id using errcode = 'check_violation';
    end if;
    return new;
end;
$$;

-- eSIMs: two statuses for cancellation; `topups` counts the top-up orders placed on the
-- eSIM and not failed (a cancellation requires none, and both change this row, so a
-- top-up and a cancellation of one eSIM never both go through); the time usage was last
-- read from the provider, and leased by a poller; the time the status last changed.
alter table esims drop constraint esims_status_check;
alter table esims add constraint esims_status_check check (status in
    ('READY', 'ACTIVE', 'EXPIRED', 'DEPLETED', 'CANCEL_PENDING', 'CANCELLED'));
alter table esims
    add column topups integer not null default 0 check (topups >= 0),
    add column usage_updated_at timestamptz,
    add column usage_polled_at timestamptz,
    add column status_changed_at timestamptz not null default now();
-- The poller's queue: live eSIMs still in use, least recently read first.
create index esims_usage_poll_idx on esims (coalesce(usage_polled_at, created_at))
    where mode = 'live' and status in ('READY', 'ACTIVE', 'DEPLETED');

-- Every status change, with its time (what webhooks will publish).
create table esim_status_changes (
    id          bigint generated always as identity primary key,
    esim_id     uuid not null references esims (id),
    partner_id  uuid not null,
    mode        text not null,
    from_status text not null,
    to_status   text not null,
    changed_at  timestamptz not null default now()
);
create index esim_status_changes_esim_idx on esim_status_changes (esim_id, id);

create function esims_record_status_change() returns trigger
language plpgsql as $$
begin
    if new.status is distinct from old.status then
        if old.status = 'CANCELLED' then
            raise exception 'eSIM % is cancelled for good', old.id using errcode = 'check_violation';
        end if;
        if new.status = 'CANCELLED' and not exists (
            select 1 from ledger_entries where esim_id = new.id and kind = 'refund') then
            raise exception 'eSIM % cannot be cancelled without its refund', old.id
                using errcode = 'check_violation';
        end if;
        new.status_changed_at := now();
        insert into esim_status_changes (esim_id, partner_id, mode, from_status, to_status)
        values (new.id, new.partner_id, new.mode, old.status, new.status);
    end if;
    return new;
end;
$$;
create trigger esims_status_change before update of status on esims
    for each row execute function esims_record_status_change();

-- Refunds of cancelled eSIMs: linked to the eSIM's order and to the eSIM, at most one per
-- eSIM; the refund of a failed order names no eSIM, and stays one per order.
alter table ledger_entries add column esim_id uuid references esims (id);
alter table ledger_entries add constraint ledger_entries_esim_only_on_refunds
    check (esim_id is null or kind = 'refund');
drop index ledger_entries_one_refund_per_order;
create unique index ledger_entries_one_refund_per_order on ledger_entries (order_id)
    where kind = 'refund' and esim_id is null;
create unique index ledger_entries_one_refund_per_esim on ledger_entries (esim_id)
    where kind = 'refund';

-- A refund never takes back more than its order debited, and an eSIM's refund is its
-- order's unit cost, for an eSIM of that order.
create function ledger_entries_refund_within_debit() returns trigger
language plpgsql as $$
declare
    debited bigint;
    refunded bigint;
    unit bigint;
begin
    if new.kind <> 'refund' then
        return new;
    end if;
    -- Refunds of one order queue here, so the sum below sees every one committed before.
    select unit_cost_cents into unit from orders where id = new.order_id for update;
    select -coalesce(sum(amount_cents), 0) into debited
      from ledger_entries where order_id = new.order_id and kind = 'order_debit';
    select coalesce(sum(amount_cents), 0) into refunded
      from ledger_entries where order_id = new.order_id and kind = 'refund';
    if refunded + new.amount_cents > debited then
        raise exception 'refunds of order % would exceed its debit', new.order_id
            using errcode = 'check_violation';
    end if;
    if new.esim_id is not null and (new.amount_cents <> unit or not exists (
        select 1 from esims where id = new.esim_id and order_id = new.order_id)) then
        raise exception 'refund of eSIM % is not its order''s unit cost', new.esim_id
            using errcode = 'check_violation';
    end if;
    return new;
end;
$$;
create trigger ledger_entries_refund_within_debit before insert on ledger_entries
    for each row when (new.kind = 'refund') execute function ledger_entries_refund_within_debit();

-- Cancellations: asked of the provider, then refunded; where the provider reviews the
-- refund, pending until the reconciler reads its decision. Written before the provider
-- is asked, so a server that dies in between leaves a row any server settles.
create table esim_cancellations (
    esim_id      uuid primary key,
    partner_id   uuid not null,
    mode         text not null,
    order_id     uuid not null references orders (id),
    status       text not null check (status in ('requested', 'pending', 'completed', 'rejected')),
    refund_cents bigint not null check (refund_cents > 0),
    refund_ref   text,
    reason       text,
    idempotency_key text,
    attempts     integer not null default 0,
    run_at       timestamptz not null default now(),
    last_error   text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    foreign key (esim_id, partner_id, mode) references esims (id, partner_id, mode)
);
create index esim_cancellations_due_idx on esim_cancellations (run_at)
    where status in ('requested', 'pending');

-- The history of statuses is appended to, never rewritten, by the server.
revoke update, delete on esim_status_changes from tavaro_app;

-- The simulator's side of top-ups and cancellations.
create unlogged table sim_topups (
    order_ref  text primary key,
    iccid      text not null references sim_esims (iccid),
    plan_id    text not null,
    created_at timestamptz not null default now()
);
alter table sim_esims
    add column cancelled_at timestamptz,
    add column refund_status text check (refund_status in ('pending', 'approved', 'rejected'));
