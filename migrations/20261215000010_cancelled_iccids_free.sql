-- A cancelled eSIM is over, as an expired one is: its provider took it back and we
-- refunded it, and an upstream that recycles ICCIDs (eSIM Access) may issue that ICCID on
-- a new eSIM. esims_live_iccid_key held it all the same, so the new eSIM's order could not
-- be stored: it stayed `processing` until the reconciler flagged it. The index is made
-- again over the eSIMs still live, neither expired nor cancelled (`CANCEL_PENDING` is
-- still the partner's), with the same care as when it was first made
-- (20261215000002_money_guards.sql): live eSIMs that repeat an earlier one's ICCID are left
-- out by id, and `tavaro ledger verify` names them.
drop index esims_live_iccid_key;
do $$
declare
    duplicates uuid[];
begin
    select coalesce(array_agg(id order by id), '{}') into duplicates
      from (select id, row_number() over (partition by provider, iccid
                                          order by created_at, id) as rank
              from esims where status not in ('EXPIRED', 'CANCELLED')) live
     where rank > 1;
    if cardinality(duplicates) = 0 then
        create unique index esims_live_iccid_key on esims (provider, iccid)
            where status not in ('EXPIRED', 'CANCELLED');
    else
        raise warning '% live eSIM(s) repeat the ICCID of an earlier live eSIM; left out of esims_live_iccid_key: %',
            cardinality(duplicates), duplicates;
        execute format(
            'create unique index esims_live_iccid_key on esims (provider, iccid)
                 where status not in (%L, %L) and id <> all (%L::uuid[])',
            'EXPIRED', 'CANCELLED', duplicates);
    end if;
end;
$$;
