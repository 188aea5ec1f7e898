-- Webhook delivery: the signing secrets of each endpoint, the lease a delivery worker holds
-- while it sends one attempt, and the record of every attempt.

-- The secrets an endpoint's deliveries are signed with (Standard Webhooks `whsec_…`; the
-- base64 part is stored, as the server needs it to sign). The current secret has no
-- `expires_at`; rotation gives the previous one 24 h, during which both sign.
create table webhook_secrets (
    id          bigint generated always as identity primary key,
    partner_id  uuid not null references partners (id),
    endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
    secret      text not null,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz
);
create index webhook_secrets_endpoint_idx on webhook_secrets (endpoint_id);
-- One current secret per endpoint.
create unique index webhook_secrets_current_idx on webhook_secrets (endpoint_id)
    where expires_at is null;

-- Since when every attempt to the endpoint has failed (null: its last attempt succeeded,
-- or none was made). Five days of failures disable it.
alter table webhook_endpoints add column failing_since timestamptz;

-- A worker claims a due delivery by leasing it: until `leased_until` no other worker (on
-- any server) takes it; the attempt's outcome clears the lease. A worker that dies
-- mid-attempt leaves the lease to run out, and the delivery is sent again.
alter table webhook_deliveries add column leased_until timestamptz;
alter table webhook_deliveries add column last_error text;

-- Every attempt, as sent and as answered: partners read them to debug their endpoint.
create table webhook_attempts (
    id              bigint generated always as identity primary key,
    partner_id      uuid not null references partners (id),
    delivery_id     uuid not null references webhook_deliveries (id) on delete cascade,
    -- 1 for the first attempt; a delivery's attempt is made once (the lease guarantees
    -- it, this constraint proves it).
    attempt         integer not null check (attempt >= 1),
    -- The HTTP status answered; null when no answer came (refused, timed out).
    response_status integer,
    latency_ms      integer not null check (latency_ms >= 0),
    -- The first 1 KB of the answer's body.
    response_body   text,
    error           text,
    created_at      timestamptz not null default now(),
    unique (delivery_id, attempt)
);

create index events_type_idx on events (partner_id, mode, type, created_at desc, id desc);
