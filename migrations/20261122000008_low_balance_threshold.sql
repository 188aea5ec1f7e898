-- Each partner's low-balance threshold: below it the partner counts in the
-- `tavaro_partners_below_low_balance_threshold` gauge, so operators can warn them before
-- bulk orders fail with 402. Zero disables it for that partner.
alter table partners
    add column low_balance_threshold_cents bigint not null default 0
        check (low_balance_threshold_cents >= 0);
