-- Routing plans to upstream providers. Every plan names the provider that fulfils it and
-- that provider's own package code; plans written by `tavaro catalog sync` also keep what
-- the provider charges us, so their price can be recomputed as cost plus margin.

alter table plans
    add column provider text not null default 'simulator',
    -- The provider's package code (Airalo package id, eSIM Go bundle name, Roamify
    -- packageId, eSIM Access packageCode). Null for simulator plans: they use our id.
    add column provider_sku text,
    -- What one eSIM costs us, in 1/10,000 of a US dollar (eSIM Access's own unit; exact
    -- for every provider's decimals).
    add column provider_cost_e4 bigint check (provider_cost_e4 > 0),
    -- Set by `catalog sync`: such plans are owned by the sync, and `catalog import`
    -- leaves them alone.
    add column synced_at timestamptz;

create unique index plans_provider_sku_idx on plans (provider, provider_sku)
    where provider_sku is not null;

-- ICCIDs are 18 to 20 digits depending on the issuer, and eSIM Access recycles them: the
-- same ICCID can come back on a new eSIM once the old one is over. Our eSIM id is the key.
alter table esims
    drop constraint esims_iccid_check,
    add constraint esims_iccid_check check (iccid ~ '^89[0-9]{16,18}$'),
    drop constraint esims_iccid_key;
create index esims_iccid_idx on esims (iccid);
