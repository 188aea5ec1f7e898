//! The transitions that settle an order (complete, fail and refund, mark processing),
//! shared by the live request path and the reconciler; [`super::completions`] batches
//! the request path's completions into one statement. Each is one transaction that only
//! moves an order forward (`where status in (...)`): when two settlers race, the first
//! commit wins and the other changes nothing, and says so ([`Settled::AlreadySettled`]).
//!
//! One ICCID of a provider belongs to one live eSIM (`esims_live_iccid_key`): a
//! completion naming an ICCID that a live eSIM of ours holds fails as a whole, and the
//! order waits for reconciliation and the operator instead of being sold a second time.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{OrderError, OrderKind, OrderRecord, OrderStatus};
use crate::catalog::Plan;
use crate::esims::{EsimRecord, EsimStatus, NewEsims};
use crate::ids::{EsimId, OrderId, PartnerId};
use crate::ledger::{self, EntryKind, NewEntry};
use crate::provider::{EsimRef, Provisioned, ProvisionedEsim};
use crate::webhooks::{self, EventType, Subject};

/// The unique index that gives one ICCID of a provider to one live eSIM.
pub(super) const LIVE_ICCID_INDEX: &str = "esims_live_iccid_key";

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
    pub esims: NewEsims,
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
) -> Result<Settled, OrderError> {
    let completion = Completion {
        order: order.id,
        provider_order_ref: provisioned.provider_order_ref.clone(),
        data_total_mb,
        esims: NewEsims::of(&provisioned.esims),
        answer: None,
    };
    Ok(complete_with(db, &completion, true).await?.0)
}

/// Writes `completion` in one statement (see [`store`]) and says whether it moved the
/// order. The request path writes its completions together ([`super::completions`]) and
/// comes here for one that failed in company; the reconciler comes here for each.
pub(super) async fn complete_with(
    db: &PgPool,
    completion: &Completion,
    retire_job: bool,
) -> Result<(Settled, DateTime<Utc>), OrderError> {
    let (moved, stored_at) = store(db, &[completion], retire_job).await?;
    outcome(db, completion.order, &moved, stored_at).await
}

/// What [`store`] did for `order`, given the orders it `moved`.
pub(super) async fn outcome(
    db: &PgPool,
    order: OrderId,
    moved: &HashSet<OrderId>,
    stored_at: DateTime<Utc>,
) -> Result<(Settled, DateTime<Utc>), OrderError> {
    if !moved.contains(&order) {
        not_moved(db, order).await?;
        return Ok((Settled::AlreadySettled, stored_at));
    }
    tracing::info!(order_id = %order, "order completed");
    Ok((Settled::Moved, stored_at))
}

/// Writes `completions` in one statement: each order moved to `completed`, its eSIMs,
/// its Idempotency-Key's answer and its `order.completed` event (with the event's
/// deliveries). Every part selects from the orders the statement moved,
/// so an order someone else settled gets nothing written. Returns the orders it moved
/// and the time the eSIMs were stored at.
///
/// `retire_jobs`: delete the moved orders' reconciliation jobs here. The request path
/// does not: the reconciler deletes the jobs of settled orders in bulk
/// ([`super::reconcile`]), which spares every order a delete (and the queue's churn).
pub(super) async fn store(
    db: impl sqlx::PgExecutor<'_>,
    completions: &[&Completion],
    retire_jobs: bool,
) -> Result<(HashSet<OrderId>, DateTime<Utc>), sqlx::Error> {
    let orders = completions.len();
    let esims: usize = completions.iter().map(|c| c.esims.ids.len()).sum();
    let mut ids = Vec::with_capacity(orders);
    let mut provider_refs = Vec::with_capacity(orders);
    let mut data_mb = Vec::with_capacity(orders);
    let mut keys = Vec::with_capacity(orders);
    let mut statuses = Vec::with_capacity(orders);
    let mut bodies = Vec::with_capacity(orders);
    let mut esim_orders = Vec::with_capacity(esims);
    let mut esim_ids = Vec::with_capacity(esims);
    let mut iccids = Vec::with_capacity(esims);
    let mut smdps = Vec::with_capacity(esims);
    let mut codes = Vec::with_capacity(esims);
    let mut refs = Vec::with_capacity(esims);
    let mut tokens = Vec::with_capacity(esims);
    for c in completions {
        ids.push(c.order.0);
        provider_refs.push(c.provider_order_ref.as_deref());
        data_mb.push(c.data_total_mb);
        keys.push(c.answer.as_ref().map(|a| a.0.as_str()));
        statuses.push(c.answer.as_ref().map(|a| a.1 as i16));
        bodies.push(c.answer.as_ref().map(|a| a.2.as_str()));
        let e = &c.esims;
        for i in 0..e.ids.len() {
            esim_orders.push(c.order.0);
            esim_ids.push(e.ids[i]);
            iccids.push(e.iccids[i].as_str());
            smdps.push(e.smdp_addresses[i].as_str());
            codes.push(e.activation_codes[i].as_str());
            refs.push(e.provider_refs[i].as_deref());
            tokens.push(e.qr_tokens[i].as_str());
        }
    }
    // `o.id = any($1)` makes the orders an index probe each: joined to `asked` alone, the
    // planner may scan every order.
    let written = sqlx::query!(
        r#"with asked as (
               select * from unnest($1::uuid[], $2::text[], $3::int[], $4::text[],
                                    $5::int2[], $6::text[])
                 as a(order_id, provider_ref, data_mb, key, status, body)
           ), moved as (
               update orders o
                  set status = 'completed', updated_at = now(),
                      provider_order_ref = coalesce(a.provider_ref, o.provider_order_ref)
                 from asked a
                where o.id = any($1) and o.id = a.order_id
                  and o.status in ('pending', 'processing')
            returning o.id, o.partner_id, o.mode, o.provider, o.kind
           ), issued as (
               insert into esims (id, partner_id, order_id, iccid, smdp_address,
                                  activation_code, provider_ref, data_total_mb, qr_token,
                                  provider, mode)
               select e.id, m.partner_id, m.id, e.iccid, e.smdp, e.code, e.ref, a.data_mb, e.token,
                      m.provider, m.mode
                 from unnest($7::uuid[], $8::uuid[], $9::text[], $10::text[], $11::text[],
                             $12::text[], $13::text[])
                        as e(order_id, id, iccid, smdp, code, ref, token)
                 join moved m on m.id = e.order_id
                 join asked a on a.order_id = e.order_id
           ), retired as (
               delete from order_jobs
                where $14 and order_id = any(array(select id from moved))
           ), answered as (
               update idempotency_keys k
                  set response_status = a.status, response_body = a.body, locked_at = null
                 from asked a join moved m on m.id = a.order_id
                where a.key is not null and k.partner_id = m.partner_id and k.mode = m.mode
                  and k.key = a.key and k.order_id = m.id
           ), told as (
               -- Each moved order's event, as `webhooks::emit` writes it, fanned out to
               -- its account's subscribed endpoints in `told_to`.
               insert into events (id, partner_id, mode, type, subject_kind, subject_id)
               select 'evt_' || replace(gen_random_uuid()::text, '-', ''), m.partner_id,
                      m.mode,
                      case m.kind when 'topup' then 'topup.completed' else 'order.completed' end,
                      'order', m.id::text
                 from moved m
               returning id, partner_id, mode, type
           ), told_to as (
               insert into webhook_deliveries (event_id, endpoint_id)
               select t.id, w.id
                 from told t join webhook_endpoints w
                   on w.partner_id = t.partner_id and w.mode = t.mode and w.status = 'enabled'
                  and (w.events is null or t.type = any(w.events))
                  for key share of w
           )
           select array(select id from moved) as "moved!", now() as "stored_at!""#,
        &ids[..],
        &provider_refs as &[Option<&str>],
        &data_mb as &[Option<i32>],
        &keys as &[Option<&str>],
        &statuses as &[Option<i16>],
        &bodies as &[Option<&str>],
        &esim_orders[..],
        &esim_ids[..],
        &iccids as &[&str],
        &smdps as &[&str],
        &codes as &[&str],
        &refs as &[Option<&str>],
        &tokens as &[&str],
        retire_jobs,
    )
    .fetch_one(db)
    .await?;
    let moved = written.moved.into_iter().map(OrderId).collect();
    Ok((moved, written.stored_at))
}

/// A completion found its order settled already: fine, unless it was refunded.
async fn not_moved(db: &PgPool, order: OrderId) -> Result<(), sqlx::Error> {
    let status = sqlx::query_scalar!(
        r#"select status as "status: OrderStatus" from orders where id = $1"#,
        order as OrderId
    )
    .fetch_one(db)
    .await?;
    if status == OrderStatus::Failed {
        // The provider issued eSIMs for an order we refunded: the operator must know.
        tracing::error!(order_id = %order, "provider issued eSIMs for an order already failed and refunded");
    }
    Ok(())
}

/// `pending`/`processing` → `failed`, with the refund entry and the `order.failed` (or
/// `topup.failed`) event, and retires the job.
pub(super) async fn fail_and_refund(
    db: &PgPool,
    order: &OrderRecord,
    reason: &str,
) -> Result<Settled, OrderError> {
    let mut tx = db.begin().await?;
    let moved = sqlx::query!(
        "update orders set status = 'failed', failure_reason = $2, updated_at = now()
         where id = $1 and partner_id = $3 and status in ('pending', 'processing')",
        order.id as OrderId,
        reason,
        order.partner_id as PartnerId,
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
            account: order.account(),
            kind: EntryKind::Refund,
            amount: order.total_cost,
            order: Some(order.id),
            esim: None,
            note: Some("the provider did not issue the order"),
        },
    )
    .await
    .map_err(|e| match e {
        ledger::LedgerError::Database(e) => OrderError::Database(e),
        other => anyhow::anyhow!("refund of order {} failed: {other}", order.id).into(),
    })?;
    if let Some(esim) = order.esim_id {
        // A failed top-up is no top-up: the eSIM may still be cancelled.
        sqlx::query!(
            "update esims set topups = topups - 1 where id = $1 and partner_id = $2",
            esim as EsimId,
            order.partner_id as PartnerId,
        )
        .execute(&mut *tx)
        .await?;
    }
    retire_job(&mut tx, order.id).await?;
    let event = match order.kind {
        OrderKind::Esim => EventType::OrderFailed,
        OrderKind::Topup => EventType::TopupFailed,
    };
    webhooks::emit(&mut tx, order.account(), event, Subject::Order(order.id)).await?;
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
) -> Result<Settled, OrderError> {
    let mut tx = db.begin().await?;
    let moved = sqlx::query!(
        "update orders set status = 'processing', updated_at = now(),
                           provider_order_ref = coalesce($2, provider_order_ref)
         where id = $1 and partner_id = $3 and status = 'pending'",
        order.id as OrderId,
        provider_order_ref,
        order.partner_id as PartnerId,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(Settled::AlreadySettled);
    }
    sqlx::query!(
        "update order_jobs set run_at = now(), last_error = $2 where order_id = $1",
        order.id as OrderId,
        why,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Settled::Moved)
}

/// Whether an upstream's answer names one ICCID twice.
pub(super) fn repeats_an_iccid(esims: &[ProvisionedEsim]) -> bool {
    let mut seen = HashSet::with_capacity(esims.len());
    !esims.iter().all(|e| seen.insert(e.iccid.as_str()))
}

/// Why a completion was not stored, for the order's job (and `tavaro orders stuck`).
pub(super) fn not_stored(e: &OrderError) -> String {
    match e {
        OrderError::Database(sqlx::Error::Database(db))
            if db.constraint() == Some(LIVE_ICCID_INDEX) =>
        {
            "the provider's eSIMs name an ICCID a live eSIM of another order holds".to_owned()
        }
        OrderError::Database(db) => format!("the eSIMs could not be stored: {db}"),
        other => format!("the eSIMs could not be stored: {other}"),
    }
}

/// Deletes an order's reconciliation job.
pub(super) async fn retire_job(
    conn: &mut sqlx::PgConnection,
    order: OrderId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from order_jobs where order_id = $1",
        order as OrderId
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The records `issued` are stored as, once stored at `created_at` for `order` of `plan`:
/// what reading them back would give (fresh: READY, nothing used), in the order
/// [`esims::for_order`] reads them.
pub(super) fn records(
    issued: &NewEsims,
    order: &OrderRecord,
    plan: &Plan,
    provider: &str,
    created_at: DateTime<Utc>,
) -> Vec<EsimRecord> {
    let mut records: Vec<EsimRecord> = (0..issued.ids.len())
        .map(|i| EsimRecord {
            id: EsimId(issued.ids[i]),
            partner_id: order.partner_id,
            order_id: order.id,
            plan_id: plan.id.clone(),
            iccid: issued.iccids[i].clone(),
            smdp_address: issued.smdp_addresses[i].clone(),
            activation_code: issued.activation_codes[i].clone(),
            data_total_mb: plan.data_mb,
            data_used_mb: 0,
            status: EsimStatus::Ready,
            activated_at: None,
            expires_at: None,
            created_at,
            qr_token: issued.qr_tokens[i].clone(),
            provider: provider.to_owned(),
            provider_ref: EsimRef {
                iccid: issued.iccids[i].clone(),
                provider_ref: issued.provider_refs[i].clone(),
                sku: plan.provider_sku.clone(),
            },
            usage_updated_at: None,
            topups: 0,
            mode: order.mode,
        })
        .collect();
    records.sort_by(|a, b| a.iccid.cmp(&b.iccid));
    records
}
