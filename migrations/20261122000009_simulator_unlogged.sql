-- The simulator stands in for an upstream provider, whose bookkeeping never costs our
-- database anything. Unlogged, its tables write no WAL: an order on the simulator costs
-- Postgres what an order on a real provider does, plus two small unlogged inserts.
-- Unlogged tables survive restarts and server crashes; only a PostgreSQL crash empties
-- them, as if the simulated upstream had lost its memory (reconciliation then refunds
-- any order still waiting on it).
alter table sim_orders set unlogged;
alter table sim_esims set unlogged;
