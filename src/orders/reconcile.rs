//! Reconciliation: settles orders whose outcome the request path could not learn (a
//! provider time-out, an "accepted" answer, a server that died mid-order).
//!
//! The queue is the `order_jobs` table, written in the debit transaction. An order the
//! request path completes keeps its job until the next poll of any server deletes the jobs
//! of settled orders in one statement ([`retire_settled`]): one write less on the way of
//! every order. Every server
//! runs one worker that claims due jobs with `FOR UPDATE SKIP LOCKED` and leases them by
//! pushing `run_at` forward, so several processes share the queue and a worker that dies
//! only delays its jobs by the lease. For each job the worker asks the provider about the
//! order by our reference:
//!
//! - issued → `completed` with its eSIMs;
//! - failed upstream → `failed` and refunded;
//! - unknown to the provider, and the order older than twice the provider time-out (so
//!   no call of ours can still be in flight) → `failed` and refunded: it was never
//!   charged upstream;
//! - still pending, or the provider unreachable → try again later, backing off
//!   exponentially (with jitter) up to `TAVARO_RECONCILE_MAX_BACKOFF_SECS`.
//!
//! An order still unsettled after `TAVARO_RECONCILE_WINDOW_SECS` is flagged (`stuck_at`)
//! for the operator (`tavaro orders stuck`, [`super::stuck`]) and keeps being retried at the slowest pace. It
//! is never refunded on a guess while the provider may have charged us.

use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use sqlx::PgPool;
use tokio::sync::watch;

use super::history::OrderRow;
use super::settlement::{self as settle, Settled};
use super::topup::{self, ToppedUpOrder};
use super::{OrderError, OrderKind, OrderRecord, OrderStatus, Orders};
use crate::ids::{EsimId, OrderId, PartnerId};
use crate::mode::Mode;
use crate::provider::{LookupRequest, OrderLookup, ProviderError, TopupLookup, TopupLookupRequest};

/// How long a claimed job is leased to its worker.
const LEASE: Duration = Duration::from_secs(60);
/// Jobs claimed per poll.
const BATCH: i64 = 16;

/// The worker loop: polls the queue until `stop` is set.
pub async fn run(orders: Orders, mut stop: watch::Receiver<bool>) {
    let poll = orders.config().reconcile_poll;
    // Jobs claimed but not worked because the database went away: given back as soon as
    // it answers again, not a lease later.
    let mut interrupted = Vec::new();
    while !*stop.borrow() {
        if !interrupted.is_empty() {
            match release(orders.db(), &interrupted).await {
                Ok(()) => interrupted.clear(),
                Err(e) => {
                    tracing::warn!(error = %e, "releasing interrupted reconciliation jobs failed")
                }
            }
        }
        let pause = match claim_and_work(&orders, &mut interrupted).await {
            Ok(0) => poll,
            Ok(_) => continue, // More may be due: poll again at once.
            Err(e) => {
                tracing::warn!(error = %e, "reconciliation poll failed");
                poll
            }
        };
        // Between batches only: a claimed job is always worked to the end of its step.
        tokio::select! {
            () = tokio::time::sleep(pause) => {},
            _ = stop.changed() => {},
        }
    }
}

/// Retires the jobs of settled orders, then claims the jobs that are due and works them.
/// Returns how many were claimed.
pub async fn run_once(orders: &Orders) -> Result<usize, sqlx::Error> {
    claim_and_work(orders, &mut Vec::new()).await
}

/// [`run_once`], noting in `interrupted` the claimed jobs left unworked when the database
/// goes away (the rest of the batch is not tried: each would wait out the pool's
/// acquire time-out).
async fn claim_and_work(
    orders: &Orders,
    interrupted: &mut Vec<(OrderId, i32)>,
) -> Result<usize, sqlx::Error> {
    let db = orders.db();
    retire_settled(db).await?;
    let jobs = sqlx::query!(
        r#"update order_jobs j
              set run_at = now() + make_interval(secs => $1), attempts = j.attempts + 1
             from (select order_id from order_jobs
                    where run_at <= now()
                    order by run_at
                    limit $2
                    for update skip locked) due
            where j.order_id = due.order_id
        returning j.order_id as "order_id: OrderId", j.partner_id as "partner_id: PartnerId", j.attempts"#,
        LEASE.as_secs_f64(),
        BATCH,
    )
    .fetch_all(db)
    .await?;
    let claimed = jobs.len();
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        match work(orders, job.order_id, job.partner_id, job.attempts).await {
            Ok(()) => {}
            // The database went away: the job and the rest of the batch are given back as
            // soon as it answers again (see `release`).
            Err(OrderError::Database(e)) if crate::db::is_unavailable(&e) => {
                interrupted.push((job.order_id, job.attempts));
                interrupted.extend(jobs.map(|job| (job.order_id, job.attempts)));
                return Err(e);
            }
            // Any other failed attempt (the eSIMs cannot be stored, a refused statement)
            // backs off and is flagged past the window like any other: never a silent loop.
            Err(e) => {
                let why = match &e {
                    OrderError::Database(db) => format!("reconciliation attempt failed: {db}"),
                    other => format!("reconciliation attempt failed: {other}"),
                };
                tracing::warn!(order_id = %job.order_id, error = why, "reconciliation attempt failed");
                let rescheduled =
                    reschedule(orders, job.order_id, job.partner_id, job.attempts, why).await;
                if let Err(e) = rescheduled {
                    tracing::warn!(order_id = %job.order_id, error = %e, "reconciliation job not rescheduled; leased again later");
                }
            }
        }
    }
    // Cancellations share the worker: asked again, or their review read.
    let cancellations = match super::cancel::reconcile(orders).await {
        Ok(n) => n,
        Err(OrderError::Database(e)) => return Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "cancellations not reconciled");
            0
        }
    };
    Ok(claimed + cancellations)
}

/// Makes interrupted jobs due now: the lease taken when they were claimed would hold
/// them for a minute. A job claimed again since (its lease ran out and a worker took it)
/// has more attempts, and keeps its new lease.
async fn release(db: &PgPool, jobs: &[(OrderId, i32)]) -> Result<(), sqlx::Error> {
    let (ids, attempts): (Vec<_>, Vec<_>) = jobs.iter().map(|(id, n)| (id.0, *n)).unzip();
    sqlx::query!(
        "update order_jobs j set run_at = now()
           from unnest($1::uuid[], $2::int4[]) as claimed(order_id, attempts)
          where j.order_id = claimed.order_id and j.attempts = claimed.attempts",
        &ids,
        &attempts,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// An order as the reconciler needs it: the order, and where it was routed.
struct Open {
    order: OrderRecord,
    provider: String,
    provider_order_ref: Option<String>,
    sku: String,
    /// From the plans table, not the snapshot: the plan may have been withdrawn since.
    data_mb: Option<i32>,
    /// The plan's validity (what a top-up adds).
    days: i32,
}

/// One read of everything [`work`] needs about an order.
async fn open(
    db: &PgPool,
    partner: PartnerId,
    order: OrderId,
) -> Result<Option<Open>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select o.id as "id: OrderId", o.partner_id as "partner_id: PartnerId",
                  o.mode as "mode: Mode", o.kind as "kind: OrderKind", o.esim_id as "esim_id: EsimId",
                  o.plan_id, p.days,
                  o.quantity, o.unit_cost_cents, o.total_cost_cents,
                  o.status as "status: OrderStatus", o.reference, o.customer_email, o.created_at,
                  o.provider, o.provider_order_ref, coalesce(p.provider_sku, p.id) as "sku!",
                  p.data_mb
           from orders o join plans p on p.id = o.plan_id
           where o.partner_id = $1 and o.id = $2"#,
        partner as PartnerId,
        order as OrderId,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| Open {
        order: OrderRow {
            id: r.id,
            partner_id: r.partner_id,
            mode: r.mode,
            kind: r.kind,
            esim_id: r.esim_id,
            plan_id: r.plan_id,
            quantity: r.quantity,
            unit_cost_cents: r.unit_cost_cents,
            total_cost_cents: r.total_cost_cents,
            status: r.status,
            reference: r.reference,
            customer_email: r.customer_email,
            created_at: r.created_at,
        }
        .into(),
        provider: r.provider,
        provider_order_ref: r.provider_order_ref,
        sku: r.sku,
        data_mb: r.data_mb,
        days: r.days,
    }))
}

#[tracing::instrument(name = "orders.reconcile", skip(orders, partner, attempts))]
async fn work(
    orders: &Orders,
    order_id: OrderId,
    partner: PartnerId,
    attempts: i32,
) -> Result<(), OrderError> {
    let db = orders.db();
    let config = orders.config();
    let Some(open) = open(db, partner, order_id).await? else {
        return orphan(db, order_id, partner).await;
    };
    let order = &open.order;
    if order.status.is_final() {
        retire(db, order_id).await?;
        return Ok(());
    }
    let age = (Utc::now() - order.created_at).to_std().unwrap_or_default();
    if order.kind == OrderKind::Topup {
        return work_topup(orders, &open, age, attempts).await;
    }
    let request = LookupRequest {
        order_ref: order_id,
        provider_order_ref: open.provider_order_ref.clone(),
        sku: open.sku.clone(),
        quantity: order.quantity as u32,
        placed_at: order.created_at,
    };
    // A sandbox order is the sandbox simulator's, whatever its row says.
    let provider = match order.mode {
        Mode::Live => orders.0.providers.get(&open.provider),
        Mode::Sandbox => Some(orders.0.providers.sandbox()),
    };
    let lookup = match provider {
        // Credentials removed while orders were open: wait for them to come back.
        None => Err(ProviderError::Unavailable(format!(
            "provider {} is not configured",
            open.provider
        ))),
        Some(provider) => {
            crate::provider::timed(
                provider.name(),
                "lookup",
                config.provider_timeout,
                provider.lookup(&request),
            )
            .await
        }
    };
    let reschedule = |why: String| reschedule(orders, order_id, partner, attempts, why);
    let outcome = match lookup {
        Ok(OrderLookup::Issued(provisioned)) if settle::repeats_an_iccid(&provisioned.esims) => {
            reschedule("the provider's answer names one ICCID twice".to_owned()).await?;
            None
        }
        Ok(OrderLookup::Issued(provisioned))
            if claimed_elsewhere(db, &open.provider, order_id, &provisioned).await? =>
        {
            // Never hand one upstream order's eSIMs to two of ours: the operator decides.
            reschedule(
                "the provider's order is already settled on another of our orders".to_owned(),
            )
            .await?;
            None
        }
        Ok(OrderLookup::Issued(provisioned))
            if provisioned.esims.len() == order.quantity as usize =>
        {
            Some(settle::complete(db, order, open.data_mb, &provisioned).await?)
        }
        Ok(OrderLookup::Issued(provisioned)) => {
            reschedule(format!(
                "provider reports {} of {} eSIMs",
                provisioned.esims.len(),
                order.quantity
            ))
            .await?;
            None
        }
        Ok(OrderLookup::Failed(reason)) => Some(
            settle::fail_and_refund(db, order, &format!("provider failed the order: {reason}"))
                .await?,
        ),
        Ok(OrderLookup::NotFound) if age >= config.provider_timeout * 2 => Some(
            settle::fail_and_refund(db, order, "the provider has no record of the order").await?,
        ),
        Ok(OrderLookup::NotFound) => {
            reschedule("not yet known to the provider".to_owned()).await?;
            None
        }
        Ok(OrderLookup::Pending) => {
            reschedule("still pending at the provider".to_owned()).await?;
            None
        }
        Err(e) => {
            reschedule(e.to_string()).await?;
            None
        }
    };
    if outcome == Some(Settled::AlreadySettled) {
        retire(db, order_id).await?;
    }
    Ok(())
}

/// [`work`] for a top-up: asks the eSIM's provider whether the top-up was applied, and
/// completes it (the eSIM gains what the plan adds), fails and refunds it, or tries again
/// later, by the same rules as an order of new eSIMs.
async fn work_topup(
    orders: &Orders,
    open: &Open,
    age: Duration,
    attempts: i32,
) -> Result<(), OrderError> {
    let db = orders.db();
    let config = orders.config();
    let order = &open.order;
    let esim = order
        .esim_id
        .ok_or_else(|| anyhow::anyhow!("top-up order {} names no eSIM", order.id))?;
    let record = crate::esims::find(db, order.account(), esim)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the eSIM of top-up order {} is gone", order.id))?;
    let request = TopupLookupRequest {
        order_ref: order.id,
        provider_order_ref: open.provider_order_ref.clone(),
        esim: record.provider_ref.clone(),
        sku: open.sku.clone(),
        placed_at: order.created_at,
    };
    let lookup = match orders.provider_for(order.mode, &record.provider) {
        None => Err(ProviderError::Unavailable(format!(
            "provider {} is not configured",
            record.provider
        ))),
        Some(provider) => {
            crate::provider::timed(
                provider.name(),
                "topup_lookup",
                config.provider_timeout,
                provider.topup_lookup(&request),
            )
            .await
        }
    };
    let reschedule = |why: String| reschedule(orders, order.id, order.partner_id, attempts, why);
    let outcome = match lookup {
        Ok(TopupLookup::Applied(topped)) => {
            let done = ToppedUpOrder {
                order,
                plan_days: open.days,
                plan_data_mb: open.data_mb,
                provider_order_ref: topped.provider_order_ref,
            };
            Some(topup::complete(db, &done).await?.0)
        }
        Ok(TopupLookup::Failed(reason)) => Some(
            settle::fail_and_refund(db, order, &format!("provider failed the top-up: {reason}"))
                .await?,
        ),
        Ok(TopupLookup::NotFound) if age >= config.provider_timeout * 2 => Some(
            settle::fail_and_refund(db, order, "the provider has no record of the top-up").await?,
        ),
        Ok(TopupLookup::NotFound) => {
            reschedule("not yet known to the provider".to_owned()).await?;
            None
        }
        Ok(TopupLookup::Pending) => {
            reschedule("still pending at the provider".to_owned()).await?;
            None
        }
        Err(e) => {
            reschedule(e.to_string()).await?;
            None
        }
    };
    if outcome == Some(Settled::AlreadySettled) {
        retire(db, order.id).await?;
    }
    Ok(())
}

/// A job whose order was not found: deleted when no order has its id (orders are never
/// deleted, so it can never be settled: a job written by hand or by a bug), an error
/// (backed off, flagged) when its order belongs to another partner than the job says.
async fn orphan(db: &PgPool, order: OrderId, partner: PartnerId) -> Result<(), OrderError> {
    let exists = sqlx::query_scalar!(
        r#"select exists(select 1 from orders where id = $1) as "exists!""#,
        order as OrderId
    )
    .fetch_one(db)
    .await?;
    if exists {
        return Err(anyhow::anyhow!("the job names partner {partner}, its order another").into());
    }
    tracing::error!(order_id = %order, partner_id = %partner, "reconciliation job for an order that does not exist; deleted");
    retire(db, order).await?;
    Ok(())
}

/// Whether the upstream order (or one of its eSIMs) behind a lookup answer is already
/// recorded on another of our orders.
async fn claimed_elsewhere(
    db: &PgPool,
    provider: &str,
    order: OrderId,
    provisioned: &crate::provider::Provisioned,
) -> Result<bool, sqlx::Error> {
    let iccids: Vec<String> = provisioned.esims.iter().map(|e| e.iccid.clone()).collect();
    sqlx::query_scalar!(
        r#"select exists(
             select 1 from orders o
             where o.provider = $1 and o.id <> $2 and o.status = 'completed'
               and (o.provider_order_ref = $3
                    or exists(select 1 from esims e where e.order_id = o.id
                              and e.iccid = any($4)
                              and e.status not in ('EXPIRED', 'CANCELLED')))
           ) as "claimed!""#,
        provider,
        order as OrderId,
        provisioned.provider_order_ref,
        &iccids,
    )
    .fetch_one(db)
    .await
}

/// Jobs [`retire_settled`] looks at per statement; more wait for the next poll.
const SWEEP: i64 = 10_000;

/// Deletes the jobs of orders that are settled (completed on the request path, which
/// leaves its job); returns how many. The orders are looked up by the jobs' ids (an
/// index probe each), never by scanning `orders`.
pub async fn retire_settled(db: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "delete from order_jobs j
          using orders o
          where o.id = any(array(select order_id from order_jobs limit $1))
            and o.id = j.order_id and o.status in ('completed', 'failed')",
        SWEEP,
    )
    .execute(db)
    .await?
    .rows_affected())
}

/// Deletes one order's job.
async fn retire(db: &PgPool, order: OrderId) -> Result<(), sqlx::Error> {
    let mut conn = db.acquire().await?;
    settle::retire_job(&mut conn, order).await
}

/// Backs the job off and, once the order is older than the window, flags it for the
/// operator (the order's age is the database's: this also serves attempts that failed
/// before the order was read).
async fn reschedule(
    orders: &Orders,
    order: OrderId,
    partner: PartnerId,
    attempts: i32,
    why: String,
) -> Result<(), sqlx::Error> {
    let config = orders.config();
    let delay = backoff(
        attempts,
        config.reconcile_poll,
        config.reconcile_max_backoff,
    );
    let mut tx = orders.db().begin().await?;
    sqlx::query!(
        "update order_jobs set run_at = now() + make_interval(secs => $2), last_error = $3
         where order_id = $1",
        order as OrderId,
        delay.as_secs_f64(),
        why,
    )
    .execute(&mut *tx)
    .await?;
    let flagged = sqlx::query!(
        "update orders set stuck_at = now()
         where id = $1 and partner_id = $2 and stuck_at is null
           and status in ('pending', 'processing')
           and created_at <= now() - make_interval(secs => $3)",
        order as OrderId,
        partner as PartnerId,
        config.reconcile_window.as_secs_f64(),
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if flagged == 1 {
        tracing::error!(order_id = %order, reason = why, "order could not be settled within the reconciliation window; flagged for the operator");
    }
    tx.commit().await?;
    Ok(())
}

/// `base × 2^(attempts-1)`, capped at `max`, with up to 20% random jitter.
pub(super) fn backoff(attempts: i32, base: Duration, max: Duration) -> Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    let raw = base.saturating_mul(2u32.saturating_pow(exponent)).min(max);
    let jitter = rand::rng().random_range(0.0..0.2);
    raw.mul_f64(1.0 + jitter).min(max.max(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(300);
        for (attempts, low) in [(1, 1), (2, 2), (3, 4), (5, 16)] {
            let d = backoff(attempts, base, max);
            assert!(
                d >= Duration::from_secs(low) && d <= Duration::from_secs_f64(low as f64 * 1.2),
                "{attempts}: {d:?}"
            );
        }
        assert!(backoff(30, base, max) <= max);
        assert!(backoff(30, base, max) >= Duration::from_secs(300));
    }
}
