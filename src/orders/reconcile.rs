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
//! for the operator (`tavaro orders stuck`) and keeps being retried at the slowest pace. It
//! is never refunded on a guess while the provider may have charged us.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::watch;

use super::settle::{self, Settled};
use super::{OrderRecord, find};
use crate::error::ApiResult;
use crate::ids::{OrderId, PartnerId};
use crate::money::Cents;
use crate::provider::{LookupRequest, OrderLookup, ProviderError};
use crate::state::AppState;

/// How long a claimed job is leased to its worker.
const LEASE: Duration = Duration::from_secs(60);
/// Jobs claimed per poll.
const BATCH: i64 = 16;

/// The worker loop: polls the queue until the task is aborted.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let pause = match run_once(&state).await {
            Ok(0) => state.config.reconcile_poll,
            Ok(_) => continue, // More may be due: poll again at once.
            Err(e) => {
                tracing::warn!(error = %e, "reconciliation poll failed");
                state.config.reconcile_poll
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
pub async fn run_once(state: &AppState) -> ApiResult<usize> {
    retire_settled(&state.db).await?;
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
    .fetch_all(&state.db)
    .await?;
    let claimed = jobs.len();
    for job in jobs {
        if let Err(e) = work(state, job.order_id, job.partner_id, job.attempts).await {
            tracing::warn!(order_id = %job.order_id, error = %e, "reconciliation attempt failed");
        }
    }
    Ok(claimed)
}

#[tracing::instrument(name = "orders.reconcile", skip(state, partner, attempts))]
async fn work(
    state: &AppState,
    order_id: OrderId,
    partner: PartnerId,
    attempts: i32,
) -> ApiResult<()> {
    let mut conn = state.db.acquire().await?;
    let Some(order) = find(&mut conn, partner, order_id).await? else {
        return Ok(());
    };
    drop(conn);
    if order.status.is_final() {
        delete_job(&state.db, order_id).await?;
        return Ok(());
    }
    let age = (Utc::now() - order.created_at).to_std().unwrap_or_default();
    let routing = routing(&state.db, order_id).await?;
    let request = LookupRequest {
        order_ref: order_id,
        provider_order_ref: routing.provider_order_ref,
        sku: routing.sku,
        quantity: order.quantity as u32,
        placed_at: order.created_at,
    };
    let lookup = match state.providers.get(&routing.provider) {
        // Credentials removed while orders were open: wait for them to come back.
        None => Err(ProviderError::Unavailable(format!(
            "provider {} is not configured",
            routing.provider
        ))),
        Some(provider) => {
            crate::provider::timed(
                provider.name(),
                "lookup",
                state.config.provider_timeout,
                provider.lookup(&request),
            )
            .await
        }
    };
    let outcome = match lookup {
        Ok(OrderLookup::Issued(provisioned))
            if claimed_elsewhere(&state.db, &routing.provider, order_id, &provisioned).await? =>
        {
            // Never hand one upstream order's eSIMs to two of ours: the operator decides.
            reschedule(
                state,
                &order,
                attempts,
                age,
                "the provider's order is already settled on another of our orders",
            )
            .await?;
            None
        }
        Ok(OrderLookup::Issued(provisioned))
            if provisioned.esims.len() == order.quantity as usize =>
        {
            let data_mb = plan_data_mb(&state.db, &order).await?;
            Some(settle::complete(&state.db, &order, data_mb, &provisioned).await?)
        }
        Ok(OrderLookup::Issued(provisioned)) => {
            reschedule(
                state,
                &order,
                attempts,
                age,
                &format!(
                    "provider reports {} of {} eSIMs",
                    provisioned.esims.len(),
                    order.quantity
                ),
            )
            .await?;
            None
        }
        Ok(OrderLookup::Failed(reason)) => Some(
            settle::fail_and_refund(
                &state.db,
                &order,
                &format!("provider failed the order: {reason}"),
            )
            .await?,
        ),
        Ok(OrderLookup::NotFound) if age >= state.config.provider_timeout * 2 => Some(
            settle::fail_and_refund(&state.db, &order, "the provider has no record of the order")
                .await?,
        ),
        Ok(OrderLookup::NotFound) => {
            reschedule(
                state,
                &order,
                attempts,
                age,
                "not yet known to the provider",
            )
            .await?;
            None
        }
        Ok(OrderLookup::Pending) => {
            reschedule(
                state,
                &order,
                attempts,
                age,
                "still pending at the provider",
            )
            .await?;
            None
        }
        Err(e) => {
            reschedule(state, &order, attempts, age, &e.to_string()).await?;
            None
        }
    };
    if outcome == Some(Settled::AlreadySettled) {
        delete_job(&state.db, order_id).await?;
    }
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
                              and e.iccid = any($4) and e.status not in ('EXPIRED')))
           ) as "claimed!""#,
        provider,
        order as OrderId,
        provisioned.provider_order_ref,
        &iccids,
    )
    .fetch_one(db)
    .await
}

/// Which provider an order went to, under which package code and upstream order id.
struct Routing {
    provider: String,
    provider_order_ref: Option<String>,
    sku: String,
}

async fn routing(db: &PgPool, order: OrderId) -> Result<Routing, sqlx::Error> {
    sqlx::query_as!(
        Routing,
        r#"select o.provider, o.provider_order_ref, coalesce(p.provider_sku, p.id) as "sku!"
           from orders o join plans p on p.id = o.plan_id where o.id = $1"#,
        order as OrderId,
    )
    .fetch_one(db)
    .await
}

async fn plan_data_mb(db: &PgPool, order: &OrderRecord) -> Result<Option<i32>, sqlx::Error> {
    // From the plans table, not the snapshot: the plan may have been withdrawn since.
    sqlx::query_scalar!("select data_mb from plans where id = $1", order.plan_id)
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

async fn delete_job(db: &PgPool, order: OrderId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from order_jobs where order_id = $1",
        order as OrderId
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Backs the job off and, past the window, flags the order for the operator.
async fn reschedule(
    state: &AppState,
    order: &OrderRecord,
    attempts: i32,
    age: Duration,
    why: &str,
) -> ApiResult<()> {
    let delay = backoff(
        attempts,
        state.config.reconcile_poll,
        state.config.reconcile_max_backoff,
    );
    let mut tx = state.db.begin().await?;
    sqlx::query!(
        "update order_jobs set run_at = now() + make_interval(secs => $2), last_error = $3
         where order_id = $1",
        order.id as OrderId,
        delay.as_secs_f64(),
        why,
    )
    .execute(&mut *tx)
    .await?;
    if age >= state.config.reconcile_window {
        let flagged = sqlx::query!(
            "update orders set stuck_at = now() where id = $1 and stuck_at is null",
            order.id as OrderId
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if flagged == 1 {
            tracing::error!(order_id = %order.id, reason = why, "order could not be settled within the reconciliation window; flagged for the operator");
        }
    }
    tx.commit().await?;
    Ok(())
}

/// `base × 2^(attempts-1)`, capped at `max`, with up to 20% random jitter.
fn backoff(attempts: i32, base: Duration, max: Duration) -> Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    let raw = base.saturating_mul(2u32.saturating_pow(exponent)).min(max);
    let jitter = rand::rng().random_range(0.0..0.2);
    raw.mul_f64(1.0 + jitter).min(max.max(base))
}

/// An order the reconciler could not settle in time.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StuckOrder {
    /// Order id.
    pub order_id: OrderId,
    /// Owner.
    pub partner_id: PartnerId,
    /// Partner name.
    pub partner: String,
    /// `pending` or `processing`.
    pub status: String,
    /// What was debited.
    pub total_cost: Cents,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it was flagged.
    pub stuck_at: DateTime<Utc>,
    /// Attempts so far.
    pub attempts: i32,
    /// Why the last attempt did not settle it.
    pub last_error: Option<String>,
}

/// Orders flagged as stuck and still unsettled, oldest first.
pub async fn stuck(db: &PgPool) -> Result<Vec<StuckOrder>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select o.id as "order_id: OrderId", o.partner_id as "partner_id: PartnerId", p.name,
                  o.status, o.total_cost_cents, o.created_at, o.stuck_at as "stuck_at!",
                  coalesce(j.attempts, 0) as "attempts!", j.last_error
           from orders o
           join partners p on p.id = o.partner_id
           left join order_jobs j on j.order_id = o.id
           where o.stuck_at is not null and o.status in ('pending', 'processing')
           order by o.created_at"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StuckOrder {
            order_id: r.order_id,
            partner_id: r.partner_id,
            partner: r.name,
            status: r.status,
            total_cost: Cents::new(r.total_cost_cents),
            created_at: r.created_at,
            stuck_at: r.stuck_at,
            attempts: r.attempts,
            last_error: r.last_error,
        })
        .collect())
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
