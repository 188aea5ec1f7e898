-- State of the built-in simulator provider: the "upstream" side of the eSIMs it issued.
-- Only the simulator reads or writes this table; the gateway sees it through the
-- Provider trait like any other upstream.

create table sim_esims (
    iccid            text primary key,
    order_ref        text not null,
    smdp_address     text not null,
    activation_code  text not null,
    days             integer not null,
    data_total_mb    integer,
    data_used_mb     bigint not null default 0,
    activated_at     timestamptz,
    expires_at       timestamptz,
    created_at       timestamptz not null default now()
);

create index sim_esims_order_ref_idx on sim_esims (order_ref);
