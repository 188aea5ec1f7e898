-- The server's own role: `tavaro_app` reads and writes rows and owns nothing. Only the owner
-- (the role that runs these migrations) can alter or drop a table, disable or drop a
-- trigger, or truncate, so a compromised or buggy server cannot switch off the ledger's
-- guards. Ledger entries are append-only for it even without the triggers: it may insert
-- and read them, never update or delete them.
--
-- The role is created here without LOGIN. Production grants it to the login role the
-- servers use (`grant tavaro_app to tavaro_server`); `make run` turns on LOGIN for it on
-- its project-local cluster. Roles belong to the whole cluster, so another database's
-- migration may have made it already, even a moment ago.
do $$
begin
  if not exists (select from pg_roles where rolname = 'tavaro_app') then
    begin
      create role tavaro_app nologin;
    exception
      when duplicate_object or unique_violation then
        null;
      when insufficient_privilege then
        raise exception 'the migrating role may not create roles: as a superuser, run `create role tavaro_app nologin;`, then migrate again';
    end;
  end if;
end
$$;

grant usage on schema public to tavaro_app;
grant select, insert, update, delete on all tables in schema public to tavaro_app;
grant usage, select on all sequences in schema public to tavaro_app;
revoke update, delete on ledger_entries from tavaro_app;
-- The server reads which migrations are applied (it refuses to serve a schema behind its
-- binary) and never writes them.
revoke insert, update, delete on _sqlx_migrations from tavaro_app;

-- Tables and sequences later migrations create get the same grants; a later append-only
-- table revokes what it must, as ledger_entries does above.
alter default privileges in schema public
  grant select, insert, update, delete on tables to tavaro_app;
alter default privileges in schema public
  grant usage, select on sequences to tavaro_app;
