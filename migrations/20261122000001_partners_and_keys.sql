-- Partners and their API keys.

create table partners (
    id          uuid primary key,
    name        text not null unique check (length(name) between 1 and 100),
    -- Markup applied to net prices in /v1/countries and /v1/packages, in basis points
    -- (2000 = 20%). Never deducted from credits: partners pay the net price.
    markup_bps  integer not null default 0 check (markup_bps between 0 and 100000),
    status      text not null default 'active' check (status in ('active', 'suspended')),
    created_at  timestamptz not null default now()
);

-- A partner holds many keys. The secret is never stored: only its argon2id hash (PHC
-- string). `lookup_id` is the non-secret part embedded in the key, used to find the row.
create table api_keys (
    id            uuid primary key,
    partner_id    uuid not null references partners (id),
    label         text not null check (length(label) between 1 and 100),
    lookup_id     text not null unique,
    secret_hash   text not null,
    created_at    timestamptz not null default now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

create index api_keys_partner_idx on api_keys (partner_id);
