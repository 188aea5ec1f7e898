-- Alerts: what the producers of `balance.low`, `esim.low_data` and `esim.expiring` need to
-- tell each partner once, and only once, per occasion.

-- The low-balance threshold is an account's (partner and mode), like the balance it is
-- compared with: a sandbox key reads and sets the sandbox's (`GET|PUT /v1/balance/alert`),
-- and its `balance.low` events are the sandbox's. It sits on the balance row, so the
-- debit's single statement sees it in the row it updates. The live threshold moves here
-- from `partners` (where the low-balance gauge of `/metrics` read it), one home for it.
alter table balances
    add column low_balance_threshold_cents bigint not null default 0
        check (low_balance_threshold_cents >= 0);
update balances b set low_balance_threshold_cents = p.low_balance_threshold_cents
  from partners p
 where p.id = b.partner_id and b.mode = 'live' and p.low_balance_threshold_cents > 0;
alter table partners drop column low_balance_threshold_cents;

-- `esim.low_data` is sent once per allowance: the allowance (`data_total_mb`) it was sent
-- for. A top-up raises the allowance, and 80 % of the new one is told again.
alter table esims add column low_data_notified_total_mb integer;
-- `esim.expiring` is sent once per end of validity: the `expires_at` it was sent for. A
-- top-up that extends the validity is told again 24 h before the new end.
alter table esims add column expiring_notified_at timestamptz;
-- The expiry sweep's range scan: eSIMs in use that have an end of validity.
create index esims_expiring_idx on esims (expires_at)
    where expires_at is not null and status in ('READY', 'ACTIVE', 'DEPLETED');
