//! The debit: one statement that places an order and takes its cost from the balance.

use std::time::Duration;

use super::keyed::Keyed;
use super::{NewOrder, OrderError, OrderRecord, OrderStatus};
use crate::catalog::Plan;
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
pub(super) async fn debit(
    lane: &Lane,
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
    let id = OrderId::new();
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
    let mut conn = lane.acquire().await?;
    let placed = sqlx::query!(
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
    .fetch_one(&mut *conn)
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
    conn.release();
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
        let mut conn = lane.acquire().await?;
        let balance = ledger::balance(&mut conn, account).await?.amount;
        conn.release();
        crate::metrics::order_outcome("insufficient_credits");
        return Err(OrderError::InsufficientCredits {
            required: total_cost,
            balance,
        });
    };
    let order = OrderRecord {
        id,
        partner_id: account.partner,
        mode: account.mode,
        kind: new.kind(),
        esim_id: esim,
        plan_id: plan.id.clone(),
        quantity: new.quantity as i32,
        unit_cost,
        total_cost,
        status: OrderStatus::Pending,
        reference: new.reference.clone(),
        customer_email: new.customer_email.clone(),
        created_at,
    };
    Ok(Debit::Placed(order, Cents::new(balance)))
}
