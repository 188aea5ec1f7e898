//! The transitions that settle an order, shared by the live request path and the
//! reconciler. Each is one transaction that only moves an order forward (`where status in
//! (...)`): when two settlers race, the first commit wins and the other changes nothing.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::OrderRecord;
use crate::error::ApiResult;
use crate::esims;
use crate::ids::OrderId;
use crate::ledger::{self, EntryKind, NewEntry};
use crate::provider::Provisioned;

/// What a settling attempt did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// This call moved the order.
    Moved,
    /// Someone else had already settled it.
    AlreadySettled,
}

/// What completing an order writes: its eSIMs (with the ids and QR tokens chosen for
/// them) and, under an Idempotency-Key, the answer kept for replays.
pub(super) struct Completion {
    /// The order.
    pub order: OrderId,
    /// The upstream's order id, when it gave one.
    pub provider_order_ref: Option<String>,
    /// The plan's allowance, stored on each eSIM.
    pub data_total_mb: Option<i32>,
    /// The eSIMs.
    pub esims: esims::NewEsims,
    /// Idempotency-Key, HTTP status and exact body of the answer, if there is a key.
    pub answer: Option<(String, u16, String)>,
}

/// `pending`/`processing` → `completed`, for the reconciler: stores the eSIMs (each with
/// its QR token) and retires the job. See [`complete_with`].
pub(super) async fn complete(
    db: &PgPool,
    order: &OrderRecord,
    data_total_mb: Option<i32>,
    provisioned: &Provisioned,
) -> ApiResult<Settled> {
    let completion = Completion {
        order: order.id,
        provider_order_ref: provisioned.provider_order_ref.clone(),
        data_total_mb,
        esims: esims::NewEsims::of(&provisioned.esims),
        answer: None,
    };
    Ok(complete_with(db, &completion, true).await?.0)
}

/// Writes `completion` in one statement: one round trip, and the parts after the move
/// select from it, so a lost race writes nothing. Also returns the time the eSIMs were
/// stored at. The request path writes its completions together ([`super::settler`]) and
/// comes here for one that failed in company.
///
/// `retire_job`: delete the order's reconciliation job here. The request path does not:
/// the reconciler deletes the jobs of settled orders in bulk ([`super::reconcile`]),
/// which spares every order a delete (and the queue's churn) on its way.
pub(super) async fn complete_with(
    db: &PgPool,
    completion: &Completion,
    retire_job: bool,
) -> ApiResult<(Settled, DateTime<Utc>)> {
    let Completion {
        order,
        provider_order_ref,
        data_total_mb,
        esims,
        answer,
    } = completion;
    let moved = sqlx::query!(
        r#"with moved as (
               update orders
                  set status = 'completed', updated_at = now(),
                      provider_order_ref = coalesce($2, provider_order_ref)
                where id = $1 and status in ('pending', 'processing')
            returning id, partner_id
           ), issued as (
               insert into esims (id, partner_id, order_id, iccid, smdp_address,
                                  activation_code, provider_ref, data_total_mb, qr_token)
               select e.id, moved.partner_id, moved.id, e.iccid, e.smdp, e.code, e.ref, $3, e.token
                 from moved,
                      unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                        as e(id, iccid, smdp, code, ref, token)
           ), retired as (
               delete from order_jobs
                where $13 and order_id = $1 and exists (select 1 from moved)
           ), answered as (
               update idempotency_keys k
                  set response_status = $11, response_body = $12, locked_at = null
                 from moved
                where k.partner_id = moved.partner_id and k.key = $10
           )
           select exists (select 1 from moved) as "moved!", now() as "stored_at!""#,
        *order as OrderId,
        provider_order_ref.as_deref(),
        *data_total_mb,
        &esims.ids[..],
        &esims.iccids[..],
        &esims.smdp_addresses[..],
        &esims.activation_codes[..],
        &esims.provider_refs[..] as &[Option<String>],
        &esims.qr_tokens[..],
        answer.as_ref().map(|a| a.0.as_str()),
        answer.as_ref().map(|a| a.1 as i16),
        answer.as_ref().map(|a| a.2.as_str()),
        retire_job,
    )
    .fetch_one(db)
    .await?;
    if !moved.moved {
        not_moved(db, *order).await?;
        return Ok((Settled::AlreadySettled, moved.stored_at));
    }
    tracing::info!(order_id = %order, "order completed");
    Ok((Settled::Moved, moved.stored_at))
}

/// A completion found its order settled already: fine, unless it was refunded.
pub(super) async fn not_moved(db: &PgPool, order: OrderId) -> Result<(), sqlx::Error> {
    let status = sqlx::query_scalar!("select status from orders where id = $1", order as OrderId)
        .fetch_one(db)
        .await?;
    if status == "failed" {
        // The provider issued eSIMs for an order we refunded: the operator must know.
        tracing::error!(order_id = %order, "provider issued eSIMs for an order already failed and refunded");
    }
    Ok(())
}

/// `pending`/`processing` → `failed`, with the refund entry, and retires the job.
pub(super) async fn fail_and_refund(
    db: &PgPool,
    order: &OrderRecord,
    reason: &str,
) -> ApiResult<Settled> {
    let mut tx = db.begin().await?;
    let moved = sqlx::query!(
        "update orders set status = 'failed', failure_reason = $2, updated_at = now()
         where id = $1 and status in ('pending', 'processing')",
        order.id as OrderId,
        reason,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(Settled::AlreadySettled);
    }
    ledger::post(
        &mut tx,
        NewEntry {
            partner: order.partner_id,
            kind: EntryKind::Refund,
            amount: order.total_cost,
            order: Some(order.id),
            note: Some("the provider did not issue the order"),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("refund of order {} failed: {e}", order.id))?;
    retire_job(&mut tx, order.id).await?;
    tx.commit().await?;
    tracing::info!(order_id = %order.id, "order failed and refunded");
    Ok(Settled::Moved)
}

/// `pending` → `processing`, and makes the reconciliation job due now.
/// `provider_order_ref` is the upstream's order id when it gave one, kept so
/// reconciliation can ask for that order.
pub(super) async fn mark_processing(
    db: &PgPool,
    order: &OrderRecord,
    provider_order_ref: Option<&str>,
    why: &str,
) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query!(
        "update orders set status = 'processing', updated_at = now(),
                           provider_order_ref = coalesce($2, provider_order_ref)
         where id = $1 and status = 'pending'",
        order.id as OrderId,
        provider_order_ref,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update order_jobs set run_at = now(), last_error = $2 where order_id = $1",
        order.id as OrderId,
        why,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn retire_job(conn: &mut sqlx::PgConnection, order: OrderId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from order_jobs where order_id = $1",
        order as OrderId
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
