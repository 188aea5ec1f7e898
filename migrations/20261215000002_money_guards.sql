-- Guards on the money paths that the database itself enforces (security audit of
-- 2026-12: M1, M2, L6). Each works on existing data.

-- A claim on an Idempotency-Key has an identity. `claim()` and the debit that claims a new
-- key write a fresh `claim_id`; the debit that follows a `claim()` debits only while that
-- claim still holds the key unlinked, and locks the key's row until it commits. A request
-- whose claim was taken over (a stale claim) debits nothing, and a takeover waits for a
-- debit in flight. The answers are stored under the claim that ran the request.
alter table idempotency_keys add column claim_id uuid;

-- A live Idempotency-Key links to one order at most: once linked, the link changes only
-- when the key has expired and is claimed afresh (or it is released as a whole).
create function idempotency_keys_link_once() returns trigger
language plpgsql as $$
begin
    if old.expires_at > now() then
        raise exception 'Idempotency-Key of partner % is linked to order % already',
            old.partner_id, old.order_id
            using errcode = 'integrity_constraint_violation';
    end if;
    return new;
end;
$$;

create trigger idempotency_keys_link_once
    before update of order_id on idempotency_keys
    for each row
    when (old.order_id is not null and new.order_id is distinct from old.order_id)
    execute function idempotency_keys_link_once();

-- One ICCID of a provider belongs to one live eSIM. eSIM Access recycles ICCIDs once the
-- old eSIM is over, so an expired eSIM does not hold its ICCID. The provider is the order's
-- (an eSIM is issued by the provider its order was routed to), kept on the eSIM so the
-- index needs no join.
alter table esims add column provider text;
update esims e set provider = o.provider from orders o where o.id = e.order_id;
alter table esims alter column provider set not null;

-- Duplicates stored while nothing refused them (since 20261122000007) stay as they are:
-- every live eSIM but the first of its ICCID is left out of the index by id, and
-- `tavaro ledger verify` names them for the operator. Without any, the index is plain.
do $$
declare
    duplicates uuid[];
begin
    select coalesce(array_agg(id order by id), '{}') into duplicates
      from (select id, row_number() over (partition by provider, iccid
                                          order by created_at, id) as rank
              from esims where status <> 'EXPIRED') live
     where rank > 1;
    if cardinality(duplicates) = 0 then
        create unique index esims_live_iccid_key on esims (provider, iccid)
            where status <> 'EXPIRED';
    else
        raise warning '% live eSIM(s) repeat the ICCID of an earlier live eSIM; left out of esims_live_iccid_key: %',
            cardinality(duplicates), duplicates;
        execute format(
            'create unique index esims_live_iccid_key on esims (provider, iccid)
                 where status <> %L and id <> all (%L::uuid[])',
            'EXPIRED', duplicates);
    end if;
end;
$$;

-- Money and eSIMs stay with their order's partner: a debit, a refund or an eSIM can only
-- name an order of its own partner. The composite keys replace the plain ones (one check
-- per row, as before).
alter table orders add constraint orders_id_partner_id_key unique (id, partner_id);
alter table ledger_entries
    add constraint ledger_entries_order_partner_fk
        foreign key (order_id, partner_id) references orders (id, partner_id),
    drop constraint ledger_entries_order_fk;
alter table esims
    add constraint esims_order_partner_fk
        foreign key (order_id, partner_id) references orders (id, partner_id),
    drop constraint esims_order_id_fkey;
