-- What lets a server refuse a wrong or made-up key from memory, and notice any change to
-- keys or partners within a second even when a notification is lost.

-- A fast verifier of the key beside its argon2id hash: HMAC-SHA-256 of the whole key
-- (`auth::key::fast_verifier`). The secret carries ~190 random bits, so this is as hard to
-- guess or invert as the argon2 hash, and it checks in a microsecond: a wrong secret is
-- refused without argon2 and without counting against the real key. Written by
-- `tavaro key create`; null for keys created earlier until argon2 first verifies them,
-- which stores it.
alter table api_keys add column fast_verifier bytea
    check (octet_length(fast_verifier) = 32);

-- One row that every server reads every second (`auth::KeyVerifier::refresh_if_changed`):
--   revision   moves with every change a cached verification depends on: a key revoked,
--              re-hashed, moved or deleted; a partner suspended, re-activated, re-priced
--              or deleted. Servers then reload their key directory and drop their caches.
--   directory  moves when the directory grows: a key created, a fast verifier stored.
--              Servers then reload the directory only; cached verifications stay.
-- Bumped by triggers inside the changing transaction, so the new value becomes visible
-- exactly when the change does: a server that has read it cannot have missed the change.
-- Changes are operator actions and once-per-key backfills: the single row is never hot.
create table api_key_changes (
    singleton  boolean primary key default true check (singleton),
    revision   bigint not null default 0,
    directory  bigint not null default 0
);
insert into api_key_changes default values;

create function api_key_changes_revision() returns trigger
language plpgsql as $$
begin
    update api_key_changes set revision = revision + 1;
    return null;
end
$$;

create function api_key_changes_directory() returns trigger
language plpgsql as $$
begin
    update api_key_changes set directory = directory + 1;
    return null;
end
$$;

-- `update of` lists the columns a statement must set to fire the trigger: the
-- `last_used_at` updates of verification never do.
create trigger api_keys_revision
    after update of revoked_at, secret_hash, lookup_id, partner_id or delete or truncate
    on api_keys
    for each statement execute function api_key_changes_revision();

create trigger api_keys_created
    after insert on api_keys
    for each statement execute function api_key_changes_directory();

-- Verification sets `fast_verifier = coalesce(fast_verifier, $2)` with every
-- `last_used_at` update: only an actual change counts.
create trigger api_keys_fast_verifier_stored
    after update of fast_verifier on api_keys
    for each row when (old.fast_verifier is distinct from new.fast_verifier)
    execute function api_key_changes_directory();

create trigger partners_revision
    after update of status, markup_bps or delete or truncate
    on partners
    for each statement execute function api_key_changes_revision();
