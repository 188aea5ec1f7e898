-- The plan catalog: countries and regions ("areas"), plans sold in each area, and the
-- per-country coverage of every plan. Loaded by `tavaro catalog import`; served from an
-- in-memory snapshot that is rebuilt when the `tavaro_catalog` channel is notified.

create table areas (
    code        text primary key,
    name        text not null,
    geography   text not null check (geography in ('local', 'regional', 'global')),
    -- Countries only: the radio networks and carriers available there.
    networks    text[] not null default '{}',
    carriers    text[] not null default '{}',
    updated_at  timestamptz not null default now()
);

-- Which countries a regional or global area includes.
create table area_countries (
    area_code     text not null references areas (code) on delete cascade,
    country_code  text not null references areas (code),
    primary key (area_code, country_code)
);

create table plans (
    id                    text primary key,
    name                  text not null,
    area_code             text not null references areas (code),
    days                  integer not null check (days between 1 and 365),
    -- Null for unlimited plans.
    data_mb               integer check (data_mb > 0),
    net_price_cents       bigint not null check (net_price_cents > 0),
    activation            text not null default 'first-use',
    hotspot               boolean not null,
    data_roaming          boolean not null,
    top_up                boolean not null,
    networks              text[] not null default '{}',
    carriers              text[] not null default '{}',
    throttle_after_mb     integer,
    throttle_speed_kbps   integer,
    throttle_description  text,
    -- Plans dropped from the catalog file stay (orders reference them) but stop selling.
    active                boolean not null default true,
    updated_at            timestamptz not null default now(),
    check ((throttle_after_mb is null) = (throttle_speed_kbps is null))
);

create table plan_coverage (
    plan_id       text not null references plans (id) on delete cascade,
    country_code  text not null references areas (code),
    primary key (plan_id, country_code)
);
