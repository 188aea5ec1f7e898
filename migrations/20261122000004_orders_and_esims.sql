-- Orders, the eSIMs they delivered, and the public tokens behind QR code URLs.

create table orders (
    id                uuid primary key,
    partner_id        uuid not null references partners (id),
    plan_id           text not null references plans (id),
    quantity          integer not null check (quantity between 1 and 10),
    unit_cost_cents   bigint not null check (unit_cost_cents > 0),
    total_cost_cents  bigint not null check (total_cost_cents = unit_cost_cents * quantity),
    -- pending: debited, provider being called. processing: provider outcome unknown.
    -- completed: eSIMs delivered. failed: provider refused, debit refunded.
    status            text not null check (status in ('pending', 'processing', 'completed', 'failed')),
    reference         text,
    customer_email    text,
    provider          text not null,
    provider_order_ref text,
    failure_reason    text,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now()
);

create index orders_partner_created_idx on orders (partner_id, created_at desc, id desc);

create table esims (
    id               uuid primary key,
    partner_id       uuid not null references partners (id),
    order_id         uuid not null references orders (id),
    iccid            text not null unique check (iccid ~ '^89[0-9]{17}$'),
    smdp_address     text not null,
    activation_code  text not null,
    provider_ref     text,
    -- Null for unlimited plans.
    data_total_mb    integer,
    data_used_mb     bigint not null default 0,
    status           text not null default 'READY' check (status in ('READY', 'ACTIVE', 'EXPIRED', 'DEPLETED')),
    activated_at     timestamptz,
    expires_at       timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);

create index esims_order_idx on esims (order_id);
create index esims_partner_idx on esims (partner_id);

-- Unguessable public tokens for `GET /qr/{token}.png`.
create table qr_tokens (
    token       text primary key,
    esim_id     uuid not null unique references esims (id),
    created_at  timestamptz not null default now()
);

-- Debits and refunds point at their order.
alter table ledger_entries
    add constraint ledger_entries_order_fk foreign key (order_id) references orders (id);
