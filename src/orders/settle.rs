//! The transitions that settle an order, shared by the live request path and the
//! reconciler. Each is one transaction that only moves an order forward (`where status in
//! (...)`): when two settlers race, the first commit wins and the other changes nothing.

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

/// `pending`/`processing` → `completed`: stores the eSIMs and retires the job.
pub(super) async fn complete(
    db: &PgPool,
    order: &OrderRecord,
    data_total_mb: Option<i32>,
    provisioned: &Provisioned,
) -> ApiResult<Settled> {
    let mut tx = db.begin().await?;
    let moved = sqlx::query!(
        "update orders set status = 'completed', provider_order_ref = coalesce($2, provider_order_ref), updated_at = now()
         where id = $1 and status in ('pending', 'processing')",
        order.id as OrderId,
        provisioned.provider_order_ref,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        let status = sqlx::query_scalar!(
            "select status from orders where id = $1",
            order.id as OrderId
        )
        .fetch_one(&mut *tx)
        .await?;
        if status == "failed" {
            // The provider issued eSIMs for an order we refunded: the operator must know.
            tracing::error!(order_id = %order.id, "provider issued eSIMs for an order already failed and refunded");
        }
        return Ok(Settled::AlreadySettled);
    }
    esims::insert_issued(
        &mut tx,
        order.partner_id,
        order.id,
        data_total_mb,
        &provisioned.esims,
    )
    .await?;
    retire_job(&mut tx, order.id).await?;
    tx.commit().await?;
    tracing::info!(order_id = %order.id, "order completed");
    Ok(Settled::Moved)
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
