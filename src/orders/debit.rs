//! The debit: one statement that places an order and takes its cost from the balance.

use std::time::Duration;

use sqlx::PgPool;

use super::keyed::Keyed;
use super::{NewOrder, OrderError, OrderRecord, OrderStatus};
use crate::catalog::Plan;
use crate::ids::{OrderId, PartnerId};
use crate::ledger;
use crate::money::Cents;

/// What an order is for, priced.
pub(super) struct Terms<'a> {
    pub(super) plan: &'a Plan,
    pub(super) new: &'a NewOrder,
    pub(super) unit_cost: Cents,
    pub(super) total_cost: Cents,
}

/// One statement: the order row, its debit (the balance's conditional `UPDATE` and the
/// `order_debit` entry, as [`ledger::post`] writes them), its reconciliation job (due
/// after `job_delay`) and its Idempotency-Key (claimed here, or linked when claimed
/// before), or nothing at all. `None`: [`Keyed::claim`] was asked and nothing was written
/// (the key is known, or the balance is short); without it, a short balance is
/// [`OrderError::InsufficientCredits`].
///
/// One statement rather than a transaction of six: every statement is a round trip to
/// Postgres, and the partner's balance row stays locked from the `UPDATE` to the commit,
/// which here is the end of this statement. A hot account's orders queue on that lock.
pub(super) async fn debit(
    db: &PgPool,
    partner: PartnerId,
    terms: &Terms<'_>,
    keyed: Option<&Keyed<'_>>,
    job_delay: Duration,
) -> Result<Option<(OrderRecord, Cents)>, OrderError> {
    let Terms {
        plan,
        new,
        unit_cost,
        total_cost,
    } = *terms;
    let id = OrderId::new();
    let key = keyed.map(|k| k.key.as_str());
    let (hash, ttl) = match keyed.and_then(|k| k.claim) {
        Some((hash, ttl)) => (Some(hash), ttl.as_secs_f64()),
        None => (None, 0.0),
    };
    // Every part selects from `debit`: short of funds (or, claiming, with the key already
    // there), it returns no row and nothing is written. Foreign keys between the parts
    // are checked at the end of the statement. A concurrent claim of the same key makes
    // `claimed` fail on the primary key, and the whole statement with it.
    let placed = sqlx::query!(
        r#"with debit as (
               update balances
                  set balance_cents = balance_cents - $6, updated_at = now()
                where partner_id = $2 and balance_cents - $6 >= 0
                  and ($12::bytea is null or not exists (
                          select 1 from idempotency_keys where partner_id = $2 and key = $11))
            returning balance_cents
           ), placed as (
               insert into orders (id, partner_id, plan_id, quantity, unit_cost_cents,
                                   total_cost_cents, status, reference, customer_email, provider)
               select $1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9 from debit
               returning created_at
           ), entry as (
               insert into ledger_entries
                      (partner_id, kind, amount_cents, balance_after_cents, order_id)
               select $2, 'order_debit', -$6, balance_cents, $1 from debit
           ), job as (
               -- The safety net: if this server dies from here on, another one settles it.
               insert into order_jobs (order_id, partner_id, run_at)
               select $1, $2, now() + make_interval(secs => $10) from debit
           ), claimed as (
               insert into idempotency_keys
                      (partner_id, key, request_hash, locked_at, expires_at, order_id)
               select $2, $11, $12, now(), now() + make_interval(secs => $13), $1
                 from debit where $12::bytea is not null
           ), link as (
               update idempotency_keys set order_id = $1
                where partner_id = $2 and key = $11 and $12::bytea is null
                  and exists (select 1 from debit)
           )
           select debit.balance_cents, placed.created_at from debit, placed"#,
        id as OrderId,
        partner as PartnerId,
        plan.id,
        new.quantity as i32,
        unit_cost.get(),
        total_cost.get(),
        new.reference,
        new.customer_email,
        plan.provider,
        job_delay.as_secs_f64(),
        key,
        hash,
        ttl,
    )
    .fetch_optional(db)
    .await;
    let placed = match placed {
        Ok(placed) => placed,
        Err(sqlx::Error::Database(e))
            if hash.is_some() && e.constraint() == Some("idempotency_keys_pkey") =>
        {
            None
        }
        Err(e) => return Err(e.into()),
    };
    let Some(placed) = placed else {
        if hash.is_some() {
            return Ok(None);
        }
        let mut conn = db.acquire().await?;
        let balance = ledger::balance(&mut conn, partner).await?.amount;
        crate::metrics::order_outcome("insufficient_credits");
        return Err(OrderError::InsufficientCredits {
            required: total_cost,
            balance,
        });
    };
    let order = OrderRecord {
        id,
        partner_id: partner,
        plan_id: plan.id.clone(),
        quantity: new.quantity as i32,
        unit_cost,
        total_cost,
        status: OrderStatus::Pending,
        reference: new.reference.clone(),
        customer_email: new.customer_email.clone(),
        created_at: placed.created_at,
    };
    Ok(Some((order, Cents::new(placed.balance_cents))))
}
