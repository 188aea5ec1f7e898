//! The debit: one statement that places an order and takes its cost from the balance;
//! under load, one statement for the orders placed at the same time.
//!
//! A new order (not a top-up; without an Idempotency-Key or claiming a new one) is handed
//! to one of a few writers, which debit every order waiting in one statement
//! ([`debit_together`]): each account's balance row locked once (every batch locks them in
//! the same order), each order taking its cost from what the orders before it in the
//! batch left, and the account's balance updated once by their sum. A hot account's
//! orders then share one lock and one commit instead of queueing on the lock one by one.
//! An order the batch does not place (the balance is short by its turn, its key is known
//! already, the statement failed) wrote nothing, and is debited again alone by the
//! single statement ([`debit_alone`]), whose answer is the exact one: placed,
//! insufficient credits with the balance, or the key known. So the batch changes how many
//! statements run, never what an order is told.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::keyed::Keyed;
use super::{NewOrder, OrderError, OrderRecord, OrderStatus};
use crate::catalog::Plan;
use crate::coalesce::{Coalescer, Job};
use crate::db::Lane;
use crate::ids::{EsimId, OrderId, PartnerId};
use crate::ledger;
use crate::mode::{Account, Mode};
use crate::money::Cents;

/// What an order is for, priced.
pub(super) struct Terms<'a> {
    pub(super) plan: &'a Plan,
    /// Who fulfils it: the plan's provider, or for the sandbox the simulator.
    pub(super) provider: &'a str,
    pub(super) new: &'a NewOrder,
    pub(super) unit_cost: Cents,
    pub(super) total_cost: Cents,
    /// The eSIM a top-up is for.
    pub(super) esim: Option<EsimId>,
}

/// What [`debit`] did.
pub(super) enum Debit {
    /// The order is placed and debited: the order, and the balance the debit left.
    Placed(OrderRecord, Cents),
    /// Claiming a new key ([`Keyed::claim`]): the key is known already, or the balance is
    /// short. Nothing was written.
    NotClaimed,
    /// Under a claim taken before ([`Keyed::claim`] is `None`): the claim no longer holds
    /// the key (another request took it over). Nothing was written.
    ClaimLost,
}

/// Writers of debits at once: while one writes, the other gathers the next orders. Two
/// rather than four: batches twice the size, half the statements, and fewer batches
/// waiting on each other's accounts (bench/changes.md #36: (d) +18% orders/s).
const WRITERS: usize = 2;
/// Most orders one statement debits.
const BATCH: usize = 64;
/// Connections the single statement keeps in hand between orders (see [`Lane`]).
const ALONE_LANE: usize = 4;

/// The debits' writers and connections. Built once per server.
pub(super) struct Debits {
    together: Coalescer<Item, Batched>,
    alone: Lane,
}

impl Debits {
    /// Starts the writers on the current runtime.
    pub(super) fn start(db: sqlx::PgPool) -> Self {
        let together = lane(db.clone(), WRITERS);
        let write = move |batch| write(together.clone(), batch);
        Self {
            together: Coalescer::start(WRITERS, BATCH, write),
            alone: lane(db, ALONE_LANE),
        }
    }
}

/// A lane of the debits' connections. Indexed, not planned: under generic plans a claim
/// taken over while its debit waited was lost by the debit that held it
/// (`idempotency::a_claim_taken_over_while_its_debit_waits_never_debits_twice`).
fn lane(db: sqlx::PgPool, keep: usize) -> Lane {
    Lane::indexed(db, keep)
}

/// A new order for a batch: what the single statement binds, owned.
struct Item {
    id: OrderId,
    account: Account,
    plan: String,
    quantity: i32,
    unit_cost: i64,
    total_cost: i64,
    reference: Option<String>,
    customer_email: Option<String>,
    provider: String,
    job_delay: f64,
    key: Option<String>,
    hash: Option<Vec<u8>>,
    ttl: f64,
    claim_id: Option<Uuid>,
}

/// What a batch did with an order it placed: the balance its debit left, and when.
struct Together {
    balance: i64,
    created_at: DateTime<Utc>,
}

/// What a batch answers an order.
enum Batched {
    /// Placed and debited.
    Placed(Together),
    /// Not placed, nothing written: to be debited alone.
    Alone,
    /// The database could not be reached (no connection within the pool's time, the
    /// connection lost): the single statement would wait as long again, so the order is
    /// answered as that statement would have been.
    Unavailable(sqlx::Error),
}

/// Debits an order: with the others waiting when it is a new one (see the module
/// documentation), alone otherwise or when the batch did not place it. What it does and
/// answers is [`debit_alone`]'s.
pub(super) async fn debit(
    debits: &Debits,
    account: Account,
    terms: &Terms<'_>,
    keyed: Option<&Keyed<'_>>,
    job_delay: Duration,
) -> Result<Debit, OrderError> {
    let id = OrderId::new();
    // A top-up locks its eSIM, and a claim taken before its key's row: those run alone.
    let new = terms.esim.is_none() && keyed.is_none_or(|k| k.claim.is_some());
    if new {
        let item = Item {
            id,
            account,
            plan: terms.plan.id.clone(),
            quantity: terms.new.quantity as i32,
            unit_cost: terms.unit_cost.get(),
            total_cost: terms.total_cost.get(),
            reference: terms.new.reference.clone(),
            customer_email: terms.new.customer_email.clone(),
            provider: terms.provider.to_owned(),
            job_delay: job_delay.as_secs_f64(),
            key: keyed.map(|k| k.key.as_str().to_owned()),
            hash: keyed.and_then(|k| k.claim).map(|(hash, _)| hash.to_vec()),
            ttl: keyed
                .and_then(|k| k.claim)
                .map_or(0.0, |(_, ttl)| ttl.as_secs_f64()),
            claim_id: keyed.map(|k| k.claim_id.0),
        };
        match debits.together.call(item).await {
            Some(Batched::Placed(placed)) => {
                return Ok(Debit::Placed(
                    record(id, account, terms, placed.created_at),
                    Cents::new(placed.balance),
                ));
            }
            Some(Batched::Unavailable(e)) => return Err(e.into()),
            Some(Batched::Alone) | None => {}
        }
    }
    // Under the same order id: were a batch's answer lost after it committed, this
    // statement fails on the order's key rather than debiting twice.
    debit_alone(&debits.alone, id, account, terms, keyed, job_delay).await
}

/// The order a debit placed, as it was written.
fn record(
    id: OrderId,
    account: Account,
    terms: &Terms<'_>,
    created_at: DateTime<Utc>,
) -> OrderRecord {
    OrderRecord {
        id,
        partner_id: account.partner,
        mode: account.mode,
        kind: terms.new.kind(),
        esim_id: terms.esim,
        plan_id: terms.plan.id.clone(),
        quantity: terms.new.quantity as i32,
        unit_cost: terms.unit_cost,
        total_cost: terms.total_cost,
        status: OrderStatus::Pending,
        reference: terms.new.reference.clone(),
        customer_email: terms.new.customer_email.clone(),
        created_at,
    }
}

/// Debits one statement's orders and answers each: placed, or to be debited alone (it
/// wrote nothing), or the database unavailable.
async fn write(lane: Lane, batch: Vec<Job<Item, Batched>>) {
    let items: Vec<&Item> = batch.iter().map(|(item, _)| item).collect();
    let placed = lane
        .run(async |conn| debit_together(conn, &items).await)
        .await;
    let mut placed = match placed {
        Ok(placed) => placed,
        Err(e) if crate::db::is_unavailable(&e) => {
            for (_, reply) in batch {
                let _ = reply.send(Batched::Unavailable(unavailable(&e)));
            }
            return;
        }
        Err(e) => {
            // Say a key twice in one batch, or claimed meanwhile by another request: the
            // whole statement wrote nothing, and each order is debited alone.
            tracing::warn!(error = %e, orders = batch.len(), "debiting orders together failed; debiting each alone");
            Default::default()
        }
    };
    for (item, reply) in batch {
        let answer = match placed.remove(&item.id) {
            Some(together) => Batched::Placed(together),
            None => Batched::Alone,
        };
        // A caller that went away has dropped its receiver: its order is placed (or not)
        // all the same, and its job settles it.
        let _ = reply.send(answer);
    }
}

/// The batch's error `e` (one of [`crate::db::is_unavailable`]'s), for one of its orders.
fn unavailable(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        e => sqlx::Error::Io(std::io::Error::other(e.to_string())),
    }
}

/// The batch statement: places and debits, of `items`, every order whose account's
/// balance covers it after the orders before it in the batch and whose key (if any) is
/// new; returns those it placed.
async fn debit_together(
    conn: &mut sqlx::PgConnection,
    items: &[&Item],
) -> Result<std::collections::HashMap<OrderId, Together>, sqlx::Error> {
    let ids: Vec<Uuid> = items.iter().map(|i| i.id.0).collect();
    let partners: Vec<Uuid> = items.iter().map(|i| i.account.partner.0).collect();
    let modes: Vec<&str> = items.iter().map(|i| i.account.mode.as_str()).collect();
    let plans: Vec<&str> = items.iter().map(|i| i.plan.as_str()).collect();
    let quantities: Vec<i32> = items.iter().map(|i| i.quantity).collect();
    let unit_costs: Vec<i64> = items.iter().map(|i| i.unit_cost).collect();
    let total_costs: Vec<i64> = items.iter().map(|i| i.total_cost).collect();
    let references: Vec<Option<&str>> = items.iter().map(|i| i.reference.as_deref()).collect();
    let emails: Vec<Option<&str>> = items.iter().map(|i| i.customer_email.as_deref()).collect();
    let providers: Vec<&str> = items.iter().map(|i| i.provider.as_str()).collect();
    let delays: Vec<f64> = items.iter().map(|i| i.job_delay).collect();
    let keys: Vec<Option<&str>> = items.iter().map(|i| i.key.as_deref()).collect();
    let hashes: Vec<Option<&[u8]>> = items.iter().map(|i| i.hash.as_deref()).collect();
    let ttls: Vec<f64> = items.iter().map(|i| i.ttl).collect();
    let claims: Vec<Option<Uuid>> = items.iter().map(|i| i.claim_id).collect();
    // The parts of the single statement, for many orders: `running` is each order's
    // balance after it and the orders before it of its account (costs are positive, so
    // those that fit are the first ones); the balance is updated once per account by
    // their sum, and every other part selects from the orders that fit on an account the
    // update reached. The ledger entries are written in the batch's order, so each
    // account's entries keep their running sum.
    let rows = sqlx::query!(
        r#"with items as (
               select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[],
                                    $6::int8[], $7::int8[], $8::text[], $9::text[],
                                    $10::text[], $11::float8[], $12::text[], $13::bytea[],
                                    $14::float8[], $15::uuid[])
                      with ordinality
                      as i(id, partner_id, mode, plan_id, quantity, unit_cost, total_cost,
                           reference, customer_email, provider, delay, key, hash, ttl,
                           claim_id, ord)
           ), locked as materialized (
               -- Every batch locks its accounts in this order (a single debit locks one):
               -- two batches never wait on each other in a cycle.
               select b.partner_id, b.mode, b.balance_cents,
                      b.low_balance_threshold_cents as threshold
                 from balances b
                where b.partner_id = any($2)
                  and (b.partner_id, b.mode) in (select partner_id, mode from items)
                order by b.partner_id, b.mode
                  for update
           ), fresh as materialized (
               -- The orders without a key or with a new one, each key looked up once by
               -- the primary key. A scalar sub-select, not `not exists`: that one Postgres
               -- may run as a hash of the whole table, built afresh for every batch.
               select i.* from items i
                where i.key is null
                   or (select true from idempotency_keys k
                        where k.partner_id = i.partner_id and k.mode = i.mode
                          and k.key = i.key) is null
           ), running as materialized (
               select f.*, l.threshold,
                      (l.balance_cents - sum(f.total_cost) over (
                          partition by f.partner_id, f.mode order by f.ord))::int8 as after
                 from fresh f
                 join locked l on l.partner_id = f.partner_id and l.mode = f.mode
           ), debit as (
               update balances b
                  set balance_cents = b.balance_cents - t.total, updated_at = now()
                 from (select partner_id, mode, sum(total_cost)::int8 as total
                         from running where after >= 0
                        group by partner_id, mode) t
                where b.partner_id = t.partner_id and b.mode = t.mode
                  and b.balance_cents - t.total >= 0
            returning b.partner_id, b.mode
           ), accepted as materialized (
               select r.* from running r
                 join debit d on d.partner_id = r.partner_id and d.mode = r.mode
                where r.after >= 0
           ), placed as (
               insert into orders (id, partner_id, plan_id, quantity, unit_cost_cents,
                                   total_cost_cents, status, reference, customer_email, provider,
                                   mode, kind)
               select id, partner_id, plan_id, quantity, unit_cost, total_cost, 'pending',
                      reference, customer_email, provider, mode, 'esim'
                 from accepted
               returning id, created_at
           ), entry as (
               insert into ledger_entries
                      (partner_id, kind, amount_cents, balance_after_cents, order_id, mode)
               select partner_id, 'order_debit', -total_cost, after, id, mode
                 from accepted order by partner_id, mode, ord
           ), job as (
               insert into order_jobs (order_id, partner_id, run_at)
               select id, partner_id, now() + make_interval(secs => delay) from accepted
           ), claimed as (
               insert into idempotency_keys
                      (partner_id, key, request_hash, locked_at, expires_at, order_id, claim_id,
                       mode)
               select partner_id, key, hash, now(), now() + make_interval(secs => ttl), id,
                      claim_id, mode
                 from accepted where key is not null
           ), low as (
               -- The order whose debit took the balance from at or above the threshold to
               -- below it: `balance.low`, as in the single statement.
               insert into events (id, partner_id, mode, type, subject_kind)
               select 'evt_' || replace(gen_random_uuid()::text, '-', ''), partner_id, mode,
                      'balance.low', 'balance'
                 from accepted
                where threshold > 0 and after < threshold and after + total_cost >= threshold
               returning id, partner_id, mode
           ), low_sent as (
               insert into webhook_deliveries (event_id, endpoint_id)
               select low.id, w.id
                 from low join webhook_endpoints w
                   on w.partner_id = low.partner_id and w.mode = low.mode
                  and w.status = 'enabled'
                  and (w.events is null or 'balance.low' = any(w.events))
                  for key share of w
           )
           select p.id as "id!", a.after as "balance!", p.created_at as "created_at!"
             from placed p join accepted a on a.id = p.id"#,
        &ids[..],
        &partners[..],
        &modes as &[&str],
        &plans as &[&str],
        &quantities[..],
        &unit_costs[..],
        &total_costs[..],
        &references as &[Option<&str>],
        &emails as &[Option<&str>],
        &providers as &[&str],
        &delays[..],
        &keys as &[Option<&str>],
        &hashes as &[Option<&[u8]>],
        &ttls[..],
        &claims as &[Option<Uuid>],
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let placed = Together {
                balance: row.balance,
                created_at: row.created_at,
            };
            (OrderId(row.id), placed)
        })
        .collect())
}

/// One statement: the order row, its debit (the balance's conditional `UPDATE` and the
/// `order_debit` entry, as [`ledger::post`] writes them), its reconciliation job (due
/// after `job_delay`), its Idempotency-Key (claimed here, or linked when claimed
/// before) and, when the debit takes the balance below the account's low-balance
/// threshold, the `balance.low` event with its deliveries; or nothing at all. Without a key, or under a claim taken before, a short
/// balance is [`OrderError::InsufficientCredits`].
///
/// One statement rather than a transaction of six: every statement is a round trip to
/// Postgres, and the partner's balance row stays locked from the `UPDATE` to the commit,
/// which here is the end of this statement. A hot account's orders queue on that lock.
///
/// Under a claim taken before, the statement first locks the key's row, and only while
/// the claim is this request's and unlinked (`held`); the debit selects from that. A
/// request whose claim was taken over debits nothing, and a takeover attempted while this
/// statement runs waits for it and then finds the key linked: one key, one debit, whatever
/// the timing.
async fn debit_alone(
    lane: &Lane,
    id: OrderId,
    account: Account,
    terms: &Terms<'_>,
    keyed: Option<&Keyed<'_>>,
    job_delay: Duration,
) -> Result<Debit, OrderError> {
    let Terms {
        plan,
        provider,
        new,
        unit_cost,
        total_cost,
        esim,
    } = *terms;
    let key = keyed.map(|k| k.key.as_str());
    let claim_id = keyed.map(|k| k.claim_id.0);
    let (hash, ttl) = match keyed.and_then(|k| k.claim) {
        Some((hash, ttl)) => (Some(hash), ttl.as_secs_f64()),
        None => (None, 0.0),
    };
    // Every part selects from `debit`: short of funds (or, claiming, with the key already
    // there; or, under a claim, without it), it returns no row and nothing is written.
    // Foreign keys between the parts are checked at the end of the statement. A concurrent
    // claim of the same key makes `claimed` fail on the primary key, and the whole
    // statement with it.
    let placed = lane
        .run(async |conn| {
            sqlx::query!(
                r#"with held as materialized (
                       select 1 from idempotency_keys
                        where $11::text is not null and $12::bytea is null
                          and partner_id = $2 and mode = $15 and key = $11 and claim_id = $14
                          and order_id is null
                          for update
                   ), target as materialized (
                       -- A top-up's eSIM, locked, while it can still be topped up.
                       select id from esims
                        where $16::uuid is not null and id = $16 and partner_id = $2 and mode = $15
                          and status in ('READY', 'ACTIVE', 'DEPLETED')
                          for update
                   ), debit as (
                       update balances
                          set balance_cents = balance_cents - $6, updated_at = now()
                        where partner_id = $2 and mode = $15 and balance_cents - $6 >= 0
                          and ($16::uuid is null or exists (select 1 from target))
                          and case when $11::text is null then true
                                   when $12::bytea is not null then not exists (
                                       select 1 from idempotency_keys
                                        where partner_id = $2 and mode = $15 and key = $11)
                                   else exists (select 1 from held) end
                    returning balance_cents, low_balance_threshold_cents as threshold
                   ), placed as (
                       insert into orders (id, partner_id, plan_id, quantity, unit_cost_cents,
                                           total_cost_cents, status, reference, customer_email, provider,
                                           mode, kind, esim_id)
                       select $1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $15,
                              case when $16::uuid is null then 'esim' else 'topup' end, $16
                         from debit
                       returning created_at
                   ), counted as (
                       -- Counted on the eSIM: a cancellation needs none, and waits on this row.
                       update esims set topups = topups + 1
                        where id = (select id from target) and exists (select 1 from debit)
                   ), entry as (
                       insert into ledger_entries
                              (partner_id, kind, amount_cents, balance_after_cents, order_id, mode)
                       select $2, 'order_debit', -$6, balance_cents, $1, $15 from debit
                   ), job as (
                       -- The safety net: if this server dies from here on, another one settles it.
                       insert into order_jobs (order_id, partner_id, run_at)
                       select $1, $2, now() + make_interval(secs => $10) from debit
                   ), claimed as (
                       insert into idempotency_keys
                              (partner_id, key, request_hash, locked_at, expires_at, order_id, claim_id,
                               mode)
                       select $2, $11, $12, now(), now() + make_interval(secs => $13), $1, $14, $15
                         from debit where $12::bytea is not null
                   ), link as (
                       update idempotency_keys k set order_id = $1
                         from held, debit
                        where k.partner_id = $2 and k.mode = $15 and k.key = $11
                   ), low as (
                       -- This debit took the balance from at or above the account's threshold to
                       -- below it: `balance.low`, once per crossing (the next debit starts below).
                       -- As `webhooks::emit` writes it, fanned out in `low_sent`.
                       insert into events (id, partner_id, mode, type, subject_kind)
                       select 'evt_' || replace(gen_random_uuid()::text, '-', ''), $2, $15,
                              'balance.low', 'balance'
                         from debit
                        where threshold > 0 and balance_cents < threshold
                          and balance_cents + $6 >= threshold
                       returning id
                   ), low_sent as (
                       insert into webhook_deliveries (event_id, endpoint_id)
                       select low.id, w.id
                         from low join webhook_endpoints w
                           on w.partner_id = $2 and w.mode = $15 and w.status = 'enabled'
                          and (w.events is null or 'balance.low' = any(w.events))
                          for key share of w
                   )
                   select (select balance_cents from debit) as balance_cents,
                          (select created_at from placed) as created_at,
                          exists (select 1 from held) as "held!",
                          exists (select 1 from target) as "target!""#,
                id as OrderId,
                account.partner as PartnerId,
                plan.id,
                new.quantity as i32,
                unit_cost.get(),
                total_cost.get(),
                new.reference,
                new.customer_email,
                provider,
                job_delay.as_secs_f64(),
                key,
                hash,
                ttl,
                claim_id,
                account.mode as Mode,
                esim.map(|e| e.0),
            )
            .fetch_one(conn)
            .await
        })
        .await;
    let placed = match placed {
        Ok(placed) => placed,
        Err(sqlx::Error::Database(e))
            if hash.is_some() && e.constraint() == Some("idempotency_keys_pkey") =>
        {
            return Ok(Debit::NotClaimed);
        }
        Err(e) => return Err(e.into()),
    };
    let (Some(balance), Some(created_at)) = (placed.balance_cents, placed.created_at) else {
        if hash.is_some() {
            return Ok(Debit::NotClaimed);
        }
        if key.is_some() && !placed.held {
            return Ok(Debit::ClaimLost);
        }
        if esim.is_some() && !placed.target {
            // Expired or cancelled since it was looked at.
            return Err(OrderError::TopupNotAllowed {
                reason: "the eSIM can no longer be topped up".to_owned(),
            });
        }
        let balance = lane
            .run(async |conn| ledger::balance(conn, account).await)
            .await?
            .amount;
        crate::metrics::order_outcome("insufficient_credits");
        return Err(OrderError::InsufficientCredits {
            required: total_cost,
            balance,
        });
    };
    let order = record(id, account, terms, created_at);
    Ok(Debit::Placed(order, Cents::new(balance)))
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;

    /// A partner with `cents` in its live account (a top-up entry, as `credits add`
    /// writes it) and a low-balance threshold.
    async fn account(db: &PgPool, name: &str, cents: i64, threshold: i64) -> Account {
        let partner = PartnerId::new();
        sqlx::query("insert into partners (id, name) values ($1, $2)")
            .bind(partner.0)
            .bind(name)
            .execute(db)
            .await
            .unwrap();
        sqlx::query(
            "insert into balances (partner_id, balance_cents, low_balance_threshold_cents)
             values ($1, $2, $3)",
        )
        .bind(partner.0)
        .bind(cents)
        .bind(threshold)
        .execute(db)
        .await
        .unwrap();
        sqlx::query(
            "insert into ledger_entries (partner_id, kind, amount_cents, balance_after_cents)
             values ($1, 'topup', $2, $2)",
        )
        .bind(partner.0)
        .bind(cents)
        .execute(db)
        .await
        .unwrap();
        Account::live(partner)
    }

    async fn plan(db: &PgPool) {
        sqlx::query("insert into areas (code, name, geography) values ('FR', 'France', 'local')")
            .execute(db)
            .await
            .unwrap();
        sqlx::query(
            "insert into plans (id, name, area_code, days, data_mb, net_price_cents, hotspot,
                                data_roaming, top_up)
             values ('fr-1gb-7d', 'France 1 GB', 'FR', 7, 1024, 100, true, true, true)",
        )
        .execute(db)
        .await
        .unwrap();
    }

    fn item(account: Account, cents: i64, key: Option<&str>) -> Item {
        Item {
            id: OrderId::new(),
            account,
            plan: "fr-1gb-7d".to_owned(),
            quantity: 1,
            unit_cost: cents,
            total_cost: cents,
            reference: None,
            customer_email: None,
            provider: "simulator".to_owned(),
            job_delay: 60.0,
            key: key.map(str::to_owned),
            hash: key.map(|_| vec![1, 2, 3]),
            ttl: 3600.0,
            claim_id: key.map(|_| Uuid::new_v4()),
        }
    }

    async fn count(db: &PgPool, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
    }

    #[sqlx::test]
    async fn each_order_pays_from_what_the_ones_before_it_left_and_the_rest_write_nothing(
        db: PgPool,
    ) {
        plan(&db).await;
        let hot = account(&db, "hot", 350, 200).await;
        let other = account(&db, "other", 1_000, 0).await;
        sqlx::query(
            "insert into idempotency_keys (partner_id, key, request_hash, locked_at, expires_at,
                                           mode)
             values ($1, 'known', '\\x00', now(), now() + interval '1 hour', 'live')",
        )
        .bind(other.partner.0)
        .execute(&db)
        .await
        .unwrap();
        let items = [
            item(hot, 100, None),
            item(other, 100, Some("new")),
            item(hot, 100, None),
            // 350 - 100 - 100 - 200 < 0: short by its turn; and the smaller one after it
            // is left to the single statement too (which then places it: 150 covers 50).
            item(hot, 200, None),
            item(hot, 50, None),
            item(other, 100, Some("known")),
        ];
        let batch: Vec<&Item> = items.iter().collect();
        let mut conn = db.acquire().await.unwrap();
        let placed = debit_together(&mut conn, &batch).await.unwrap();

        let balances: Vec<Option<i64>> = items
            .iter()
            .map(|i| placed.get(&i.id).map(|t| t.balance))
            .collect();
        assert_eq!(
            balances,
            [Some(250), Some(900), Some(150), None, None, None]
        );
        let balance = |account: Account| {
            sqlx::query_scalar::<_, i64>(
                "select balance_cents from balances where partner_id = $1 and mode = 'live'",
            )
            .bind(account.partner.0)
            .fetch_one(&db)
        };
        assert_eq!(balance(hot).await.unwrap(), 150);
        assert_eq!(balance(other).await.unwrap(), 900);
        assert_eq!(count(&db, "select count(*) from orders").await, 3);
        assert_eq!(count(&db, "select count(*) from order_jobs").await, 3);
        let linked: Option<Uuid> = sqlx::query_scalar(
            "select order_id from idempotency_keys where key = 'new' and partner_id = $1",
        )
        .bind(other.partner.0)
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(linked, Some(items[1].id.0));
        // 350 → 250 → 150 crosses the threshold of 200 once, at the second order.
        assert_eq!(
            count(
                &db,
                "select count(*) from events where type = 'balance.low'"
            )
            .await,
            1
        );
        let report = ledger::verify(&db).await.unwrap();
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert_eq!(report.entries, 5);
    }

    #[sqlx::test]
    async fn a_batch_looks_each_key_up_by_the_primary_key_however_small_the_table_looked(
        db: PgPool,
    ) {
        plan(&db).await;
        let mut items = Vec::new();
        for n in 0..20 {
            let account = account(&db, &format!("p{n}"), 1_000, 0).await;
            items.push(item(account, 100, Some(&format!("key-{n}"))));
        }
        // A few keys, analysed: the table's statistics say a scan is cheapest.
        sqlx::query(
            "insert into idempotency_keys (partner_id, key, request_hash, locked_at, expires_at,
                                           mode)
             select partner_id, 'old-' || n, '\\x00', now(), now() + interval '1 hour', 'live'
               from balances, generate_series(1, 5) n",
        )
        .execute(&db)
        .await
        .unwrap();
        sqlx::query("analyze idempotency_keys")
            .execute(&db)
            .await
            .unwrap();

        let mut conn = lane(db.clone(), 1).acquire().await.unwrap();
        sqlx::query("begin").execute(&mut *conn).await.unwrap();
        let placed = debit_together(&mut conn, &items.iter().collect::<Vec<_>>())
            .await
            .unwrap();
        let (scans, probes): (i64, i64) = sqlx::query_as(
            "select seq_scan, idx_scan from pg_stat_xact_user_tables
              where relname = 'idempotency_keys'",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        sqlx::query("rollback").execute(&mut *conn).await.unwrap();
        assert_eq!(placed.len(), 20);
        assert_eq!(scans, 0, "idempotency_keys scanned whole");
        assert!(probes >= 20, "{probes} probes for 20 keys");
    }

    #[sqlx::test]
    async fn batches_locking_the_same_accounts_in_any_order_never_deadlock(db: PgPool) {
        plan(&db).await;
        let a = account(&db, "a", 1_000_000, 0).await;
        let b = account(&db, "b", 1_000_000, 0).await;
        let batches = (0..40).map(|n| {
            let db = db.clone();
            tokio::spawn(async move {
                let items = if n % 2 == 0 {
                    [item(a, 1, None), item(b, 1, None)]
                } else {
                    [item(b, 1, None), item(a, 1, None)]
                };
                let mut conn = db.acquire().await.unwrap();
                debit_together(&mut conn, &items.iter().collect::<Vec<_>>())
                    .await
                    .map(|placed| placed.len())
            })
        });
        for batch in batches.collect::<Vec<_>>() {
            assert_eq!(batch.await.unwrap().unwrap(), 2);
        }
        let report = ledger::verify(&db).await.unwrap();
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert_eq!(report.orders, 80);
    }
}
