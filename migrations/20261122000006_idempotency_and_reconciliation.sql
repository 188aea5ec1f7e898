-- Idempotent order requests, the reconciliation job queue, and guarded order transitions.

-- One row per (partner, Idempotency-Key). Claimed before any work starts; linked to the
-- order in the debit transaction; holds the response once there is one to replay.
create table idempotency_keys (
    partner_id       uuid not null references partners (id),
    key              text not null check (length(key) between 1 and 255),
    -- SHA-256 of the method, path and normalised body: a different body is a misuse.
    request_hash     bytea not null,
    -- While a request holds the key. A claim whose holder died (no order yet) can be
    -- taken over once this is old.
    locked_at        timestamptz,
    order_id         uuid references orders (id),
    response_status  smallint,
    -- The exact bytes sent, so a replay is byte-identical.
    response_body    text,
    created_at       timestamptz not null default now(),
    expires_at       timestamptz not null,
    primary key (partner_id, key),
    check ((response_status is null) = (response_body is null))
);

create index idempotency_keys_expires_idx on idempotency_keys (expires_at);
create unique index idempotency_keys_order_idx on idempotency_keys (order_id);

-- Orders whose outcome is not settled yet. A row is written in the debit transaction, so
-- an order debited by a server that then died is never forgotten; it is deleted in the
-- transaction that settles the order. Workers claim rows with FOR UPDATE SKIP LOCKED by
-- pushing `run_at` forward (a lease), so any number of servers can share the queue.
create table order_jobs (
    order_id    uuid primary key references orders (id),
    partner_id  uuid not null references partners (id),
    attempts    integer not null default 0,
    run_at      timestamptz not null,
    last_error  text,
    created_at  timestamptz not null default now()
);

create index order_jobs_run_at_idx on order_jobs (run_at);

-- Set when reconciliation could not settle an order within its window: the operator
-- looks at it (`tavaro orders stuck`). It is never refunded on a guess.
alter table orders add column stuck_at timestamptz;
create index orders_stuck_idx on orders (stuck_at) where stuck_at is not null;
create index orders_partner_reference_idx on orders (partner_id, reference);

-- The order state machine, enforced by the database:
--   pending → completed | failed | processing;  processing → completed | failed.
create function orders_check_transition() returns trigger
language plpgsql as $$
begin
    if new.status is distinct from old.status and not (
        (old.status = 'pending' and new.status in ('completed', 'failed', 'processing'))
        or (old.status = 'processing' and new.status in ('completed', 'failed'))
    ) then
        raise exception 'order % cannot go from % to %', old.id, old.status, new.status
            using errcode = 'check_violation';
    end if;
    if (new.partner_id, new.plan_id, new.quantity, new.unit_cost_cents, new.total_cost_cents)
        is distinct from
       (old.partner_id, old.plan_id, old.quantity, old.unit_cost_cents, old.total_cost_cents) then
        raise exception 'order % terms are immutable', old.id using errcode = 'check_violation';
    end if;
    return new;
end;
$$;

create trigger orders_transition
    before update on orders
    for each row execute function orders_check_transition();

-- The simulator's own record of the orders it received, so it can be asked about them
-- by our reference like a real upstream.
create table sim_orders (
    order_ref   text primary key,
    status      text not null check (status in ('issued', 'failed', 'pending')),
    reason      text,
    created_at  timestamptz not null default now()
);
