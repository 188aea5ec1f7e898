-- The webhook outbox: every event a partner can be told of, written in the same
-- transaction as the change it reports, with one delivery per subscribed endpoint of the
-- partner's mode fanned out in that same statement. What an event's body says (the object
-- the API would return) is rendered by the delivery side on first dispatch and kept, so
-- every attempt sends the same body.

create table webhook_endpoints (
    id          uuid primary key,
    partner_id  uuid not null references partners (id),
    mode        text not null check (mode in ('live', 'sandbox')),
    url         text not null,
    -- The event types it receives; null: all.
    events      text[],
    description text,
    status      text not null default 'enabled' check (status in ('enabled', 'disabled')),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
create index webhook_endpoints_account_idx on webhook_endpoints (partner_id, mode, created_at);

create table events (
    id           text primary key check (id ~ '^evt_[0-9a-f]{32}$'),
    partner_id   uuid not null references partners (id),
    mode         text not null check (mode in ('live', 'sandbox')),
    type         text not null,
    -- What the event is about: an order, an eSIM, the balance, an endpoint.
    subject_kind text not null check (subject_kind in ('order', 'esim', 'balance', 'webhook')),
    subject_id   text,
    -- The body's `data`, rendered on first dispatch; null until then.
    payload      jsonb,
    created_at   timestamptz not null default now()
);
create index events_account_idx on events (partner_id, mode, created_at desc, id desc);

create table webhook_deliveries (
    id                   uuid primary key default gen_random_uuid(),
    event_id             text not null references events (id),
    endpoint_id          uuid not null references webhook_endpoints (id) on delete cascade,
    status               text not null default 'pending'
                         check (status in ('pending', 'succeeded', 'failed')),
    attempts             integer not null default 0,
    next_attempt_at      timestamptz not null default now(),
    last_response_status integer,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    unique (event_id, endpoint_id)
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at)
    where status = 'pending';
create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, created_at desc);

-- Events are appended, never rewritten, by the server (the payload is filled once).
revoke delete on events from tavaro_app;
