-- Every eSIM that is cancelled or has a ledger entry of its own, with its refunds:
-- `tavaro ledger verify` expects exactly one refund for a cancelled eSIM and none for any
-- other.
select e.id, e.partner_id as "partner_id: PartnerId", e.mode as "mode: Mode",
       e.order_id as "order_id: OrderId", e.status,
       count(l.id) filter (where l.kind = 'refund') as "refunds!"
from esims e left join ledger_entries l on l.esim_id = e.id
group by e.id
having e.status = 'CANCELLED' or count(l.id) > 0
