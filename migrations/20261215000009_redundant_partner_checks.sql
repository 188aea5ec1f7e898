-- Two foreign keys to `partners` that other foreign keys already imply, dropped. Each was
-- checked once per order with a row lock on the partner (`FOR KEY SHARE`: a WAL record
-- and the partner's page dirtied), the row every concurrent order of that partner locks
-- as well (bench/changes.md #23). Nothing they refused is let in now:
-- * ledger_entries.partner_id: ledger_entries_account_fk makes every entry's
--   (partner_id, mode) a balance, and balances.partner_id references partners;
-- * esims.partner_id: esims_order_partner_fk makes every eSIM's (order_id, partner_id,
--   mode) an order of that partner, and orders.partner_id references partners.
-- A partner with a balance cannot be deleted (balances_partner_id_fkey), so neither
-- chain can be broken afterwards either.
alter table ledger_entries drop constraint ledger_entries_partner_id_fkey;
alter table esims drop constraint esims_partner_id_fkey;
