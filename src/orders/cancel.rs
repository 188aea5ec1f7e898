//! Cancelling an unused eSIM and refunding its net unit cost.
//!
//! ```text
//!   [tx: eSIM READY, unused, no top-ups → CANCEL_PENDING; cancellation `requested`] ── commit
//!                        │  otherwise 409 esim_not_cancellable, nothing written
//!                        ▼
//!               provider.cancel()                    (no transaction open; own task)
//!     ┌──────────────┬───────────────┬──────────────────────┬─────────────────────┐
//!  refunded    under review      refused               unreachable          unknown
//!     ▼              ▼               ▼                      ▼                    ▼
//! [tx: refund   [cancellation   [eSIM READY,         [eSIM READY,        stays `requested`:
//!  entry, eSIM   `pending`] 202  row deleted] 409     row deleted] 503    202; the reconciler
//!  CANCELLED,                                                             asks again
//!  `completed`] 200
//! ```
//!
//! The cancellation row is written before the provider is asked, so a server that dies
//! after the provider cancelled settles on restart (any server's reconciler asks the
//! provider again: cancellation is safe to repeat). A reviewed refund is settled by the
//! reconciler from [`Provider::refund_status`](crate::provider::Provider::refund_status):
//! approved → the refund, the eSIM `CANCELLED`; rejected → the eSIM `READY` again, and
//! it cannot be cancelled a second time.
//!
//! The database keeps the money right whatever the code does: one refund per eSIM (a
//! unique index), of its order's unit cost, never more than the order debited (a
//! trigger), and no eSIM `CANCELLED` without its refund (a trigger). The claim needs the
//! eSIM's `topups` at zero and a top-up's debit locks and counts on the same row, so a
//! top-up and a cancellation never both go through.

use std::time::Duration;

use sqlx::PgPool;

use super::place::detached;
use super::{OrderError, Orders};
use crate::esims::{self, EsimRecord, EsimStatus};
use crate::failpoint;
use crate::ids::{EsimId, OrderId, PartnerId};
use crate::ledger::{self, EntryKind, NewEntry};
use crate::mode::{Account, Mode};
use crate::money::Cents;
use crate::orders::IdempotencyKey;
use crate::provider::{CancelRequest, Cancelled, ProviderError, RefundReview};
use crate::webhooks::{self, EventType, Subject};

/// How long a cancellation claimed by a reconciler is leased to it; after it, another
/// asks again.
const LEASE: Duration = Duration::from_secs(60);

/// Where a refund stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RefundState {
    /// Credited to the balance.
    Completed,
    /// The provider is reviewing it (or its answer is not known yet).
    Pending,
}

/// The outcome of a cancellation request.
#[derive(Clone, Debug)]
pub struct CancelReceipt {
    /// The eSIM.
    pub esim_id: EsimId,
    /// `CANCELLED`, or `CANCEL_PENDING` while the refund is pending.
    pub status: EsimStatus,
    /// The refund: the order's net unit cost.
    pub amount: Cents,
    /// Whether it is credited yet.
    pub refund: RefundState,
    /// The balance now.
    pub balance: Cents,
    /// An answer to an earlier request with the same Idempotency-Key.
    pub replayed: bool,
}

/// A cancellation row, as its settlers need it.
struct Claim {
    esim: EsimRecord,
    order: OrderId,
    amount: Cents,
    provider_order_ref: Option<String>,
}

impl Orders {
    /// Cancels one of the account's eSIMs if it was never used, and refunds it (see the
    /// module doc). With an Idempotency-Key, a repeat of a request that cancelled the eSIM
    /// is answered with where that cancellation stands now.
    pub async fn cancel(
        &self,
        account: Account,
        esim: EsimId,
        key: Option<IdempotencyKey>,
    ) -> Result<CancelReceipt, OrderError> {
        let orders = self.clone();
        detached(async move { orders.cancel_now(account, esim, key.as_ref()).await }).await
    }

    #[tracing::instrument(name = "orders.cancel", skip_all, fields(esim_id = %esim, mode = %account.mode))]
    async fn cancel_now(
        &self,
        account: Account,
        esim: EsimId,
        key: Option<&IdempotencyKey>,
    ) -> Result<CancelReceipt, OrderError> {
        let db = &self.0.db;
        let record = esims::find(db, account, esim)
            .await?
            .ok_or(OrderError::EsimNotFound)?;
        if let Some(key) = key {
            if let Some(receipt) = replay(db, account, &record, key).await? {
                return Ok(receipt);
            }
        }
        // No cancel call outlives the provider time-out: past twice that, a claim whose
        // server died is any reconciler's to finish.
        let lease = self.0.config.provider_timeout * 2;
        let Some(claim) = claim(db, &record, key, lease).await? else {
            return Err(OrderError::NotCancellable {
                reason: why_not(db, &record).await?,
            });
        };
        let answer = self.ask_provider(&claim).await;
        match answer {
            Ok(Cancelled::Refunded) => {
                failpoint::hit("after_provider_cancel");
                match refund(db, &claim).await {
                    Ok(_) => {
                        self.cancel_receipt(
                            account,
                            &claim,
                            EsimStatus::Cancelled,
                            RefundState::Completed,
                        )
                        .await
                    }
                    Err(e) => {
                        // Cancelled upstream, not refunded here yet: the claim's lease runs
                        // out and the reconciler asks again and refunds.
                        tracing::warn!(error = %e, "refund of a cancelled eSIM not written; left to reconciliation");
                        self.cancel_receipt(
                            account,
                            &claim,
                            EsimStatus::CancelPending,
                            RefundState::Pending,
                        )
                        .await
                    }
                }
            }
            Ok(Cancelled::UnderReview { refund_ref }) => {
                under_review(
                    db,
                    &claim,
                    refund_ref.as_deref(),
                    self.0.config.reconcile_poll,
                )
                .await?;
                self.cancel_receipt(
                    account,
                    &claim,
                    EsimStatus::CancelPending,
                    RefundState::Pending,
                )
                .await
            }
            Err(e @ (ProviderError::Rejected { .. } | ProviderError::Unsupported(_))) => {
                release(db, &claim).await?;
                let reason = match e {
                    ProviderError::Rejected { message, .. } => {
                        format!("the provider refused: {message}")
                    }
                    _ => format!(
                        "the eSIM's provider ({}) does not cancel eSIMs",
                        record.provider
                    ),
                };
                tracing::info!(reason, "cancellation refused by the provider");
                Err(OrderError::NotCancellable { reason })
            }
            Err(e) if e.issued_nothing() => {
                tracing::warn!(error = %e, "provider could not take the cancellation; nothing changed");
                release(db, &claim).await?;
                Err(OrderError::Unavailable)
            }
            Err(e) => {
                // It may have cancelled: asked again by the reconciler, never guessed.
                tracing::warn!(error = %e, "cancellation outcome unknown; left to reconciliation");
                retry_soon(db, &claim, &e.to_string()).await?;
                self.cancel_receipt(
                    account,
                    &claim,
                    EsimStatus::CancelPending,
                    RefundState::Pending,
                )
                .await
            }
        }
    }

    /// Asks the eSIM's provider to cancel it.
    async fn ask_provider(&self, claim: &Claim) -> Result<Cancelled, ProviderError> {
        let Some(provider) = self.provider_for(claim.esim.mode, &claim.esim.provider) else {
            return Err(ProviderError::Unavailable(format!(
                "provider {} is not configured",
                claim.esim.provider
            )));
        };
        crate::provider::timed(
            provider.name(),
            "cancel",
            self.0.config.provider_timeout,
            provider.cancel(&claim.request()),
        )
        .await
    }

    /// The answer to a cancellation that went through (or waits), with the balance now.
    async fn cancel_receipt(
        &self,
        account: Account,
        claim: &Claim,
        status: EsimStatus,
        refund: RefundState,
    ) -> Result<CancelReceipt, OrderError> {
        let mut conn = self.0.db.acquire().await?;
        let balance = ledger::balance(&mut conn, account).await?.amount;
        Ok(CancelReceipt {
            esim_id: claim.esim.id,
            status,
            amount: claim.amount,
            refund,
            balance,
            replayed: false,
        })
    }
}

impl Claim {
    fn request(&self) -> CancelRequest {
        CancelRequest {
            esim: self.esim.provider_ref.clone(),
            order_ref: self.order,
            provider_order_ref: self.provider_order_ref.clone(),
        }
    }
}

/// Where an earlier cancellation under `key` stands, if there was one.
async fn replay(
    db: &PgPool,
    account: Account,
    record: &EsimRecord,
    key: &IdempotencyKey,
) -> Result<Option<CancelReceipt>, OrderError> {
    let row = sqlx::query!(
        "select status, refund_cents, reason from esim_cancellations
          where esim_id = $1 and partner_id = $2 and mode = $3 and idempotency_key = $4",
        record.id as EsimId,
        account.partner as PartnerId,
        account.mode as Mode,
        key.as_str(),
    )
    .fetch_optional(db)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (status, refund) = match row.status.as_str() {
        "completed" => (EsimStatus::Cancelled, RefundState::Completed),
        "rejected" => {
            return Err(OrderError::NotCancellable {
                reason: row
                    .reason
                    .unwrap_or_else(|| "the provider rejected the refund".to_owned()),
            });
        }
        _ => (EsimStatus::CancelPending, RefundState::Pending),
    };
    let mut conn = db.acquire().await?;
    let balance = ledger::balance(&mut conn, account).await?.amount;
    Ok(Some(CancelReceipt {
        esim_id: record.id,
        status,
        amount: Cents::new(row.refund_cents),
        refund,
        balance,
        replayed: true,
    }))
}

/// Claims the cancellation: the eSIM `CANCEL_PENDING` and a `requested` row leased for
/// `lease`, in one statement, only while it is `READY`, unused, never topped up and never
/// cancelled before. `None` when it is not.
async fn claim(
    db: &PgPool,
    record: &EsimRecord,
    key: Option<&IdempotencyKey>,
    lease: Duration,
) -> Result<Option<Claim>, sqlx::Error> {
    let row = sqlx::query!(
        r#"with claimed as (
               update esims set status = 'CANCEL_PENDING', updated_at = now()
                where id = $1 and partner_id = $2 and mode = $3
                  and status = 'READY' and data_used_mb = 0 and topups = 0
                  and not exists (select 1 from esim_cancellations where esim_id = $1)
            returning id, order_id
           )
           insert into esim_cancellations
                  (esim_id, partner_id, mode, order_id, status, refund_cents, idempotency_key,
                   run_at)
           select c.id, $2, $3, c.order_id, 'requested', o.unit_cost_cents, $4,
                  now() + make_interval(secs => $5)
             from claimed c join orders o on o.id = c.order_id
           returning refund_cents,
                     (select provider_order_ref from orders where id = order_id) as provider_order_ref"#,
        record.id as EsimId,
        record.partner_id as PartnerId,
        record.mode as Mode,
        key.map(IdempotencyKey::as_str),
        lease.as_secs_f64(),
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| Claim {
        esim: EsimRecord {
            status: EsimStatus::CancelPending,
            ..record.clone()
        },
        order: record.order_id,
        amount: Cents::new(row.refund_cents),
        provider_order_ref: row.provider_order_ref,
    }))
}

/// Why the eSIM cannot be cancelled, for the partner.
async fn why_not(db: &PgPool, record: &EsimRecord) -> Result<String, sqlx::Error> {
    let earlier = sqlx::query_scalar!(
        "select status from esim_cancellations where esim_id = $1",
        record.id as EsimId
    )
    .fetch_optional(db)
    .await?;
    let now = esims::find(db, record.account(), record.id)
        .await?
        .unwrap_or_else(|| record.clone());
    Ok(match (earlier.as_deref(), now.status) {
        (_, EsimStatus::Cancelled) | (Some("completed"), _) => {
            "the eSIM is already cancelled and refunded"
        }
        (_, EsimStatus::CancelPending) => "a cancellation of the eSIM is pending",
        (Some("rejected"), _) => "the provider rejected the refund of this eSIM",
        (_, EsimStatus::Expired) => "the eSIM has expired",
        (_, EsimStatus::Active | EsimStatus::Depleted) => "the eSIM has been used",
        _ if now.data_used_mb > 0 => "the eSIM has been used",
        _ if now.topups > 0 => "the eSIM has been topped up",
        _ => "the eSIM is not in a state that can be cancelled",
    }
    .to_owned())
}

/// The refund, in one transaction: the `refund` entry (linked to the order and the eSIM),
/// the eSIM `CANCELLED`, the cancellation `completed`, and the `esim.cancelled` and
/// `refund.completed` events. Settled once: a second settler
/// finds the cancellation completed and writes nothing.
async fn refund(db: &PgPool, claim: &Claim) -> Result<bool, OrderError> {
    let mut tx = db.begin().await?;
    let moved = sqlx::query!(
        "update esim_cancellations set status = 'completed', updated_at = now()
          where esim_id = $1 and status in ('requested', 'pending')",
        claim.esim.id as EsimId,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(false);
    }
    ledger::post(
        &mut tx,
        NewEntry {
            account: claim.esim.account(),
            kind: EntryKind::Refund,
            amount: claim.amount,
            order: Some(claim.order),
            esim: Some(claim.esim.id),
            note: Some("unused eSIM cancelled"),
        },
    )
    .await?;
    sqlx::query!(
        "update esims set status = 'CANCELLED', updated_at = now() where id = $1",
        claim.esim.id as EsimId,
    )
    .execute(&mut *tx)
    .await?;
    let account = claim.esim.account();
    for event in [EventType::EsimCancelled, EventType::RefundCompleted] {
        webhooks::emit(&mut tx, account, event, Subject::Esim(claim.esim.id)).await?;
    }
    tx.commit().await?;
    tracing::info!(esim_id = %claim.esim.id, "eSIM cancelled and refunded");
    Ok(true)
}

/// The provider reviews the refund: the cancellation waits, asked about every `poll`.
async fn under_review(
    db: &PgPool,
    claim: &Claim,
    refund_ref: Option<&str>,
    poll: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update esim_cancellations
            set status = 'pending', refund_ref = coalesce($2, refund_ref), updated_at = now(),
                run_at = now() + make_interval(secs => $3)
          where esim_id = $1 and status in ('requested', 'pending')",
        claim.esim.id as EsimId,
        refund_ref,
        poll.as_secs_f64(),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The provider refused or could not be asked: nothing changed there, so nothing changes
/// here (the eSIM `READY` again, the claim gone).
async fn release(db: &PgPool, claim: &Claim) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let deleted = sqlx::query!(
        "delete from esim_cancellations where esim_id = $1 and status = 'requested'",
        claim.esim.id as EsimId,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if deleted == 1 {
        sqlx::query!(
            "update esims set status = 'READY', updated_at = now()
              where id = $1 and status = 'CANCEL_PENDING'",
            claim.esim.id as EsimId,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The outcome is unknown: the reconciler asks again at once.
async fn retry_soon(db: &PgPool, claim: &Claim, why: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update esim_cancellations set run_at = now(), last_error = $2, updated_at = now()
          where esim_id = $1 and status = 'requested'",
        claim.esim.id as EsimId,
        why,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Cancellations claimed per reconciler poll.
const BATCH: i64 = 16;

/// The reconciler's share: claims the due cancellations (`FOR UPDATE SKIP LOCKED`, leased
/// by pushing `run_at` on) and settles each by asking its provider: a `requested` one is
/// asked to cancel again (safe to repeat), a `pending` one for its review. Returns how
/// many it claimed.
pub(super) async fn reconcile(orders: &Orders) -> Result<usize, OrderError> {
    let db = orders.db();
    let due = sqlx::query!(
        r#"update esim_cancellations c
              set run_at = now() + make_interval(secs => $1), attempts = c.attempts + 1
             from (select esim_id from esim_cancellations
                    where status in ('requested', 'pending') and run_at <= now()
                    order by run_at limit $2
                    for update skip locked) due
            where c.esim_id = due.esim_id
        returning c.esim_id as "esim_id: EsimId", c.partner_id as "partner_id: PartnerId",
                  c.mode as "mode: Mode", c.status, c.refund_ref, c.refund_cents, c.attempts,
                  c.order_id as "order_id: OrderId",
                  (select provider_order_ref from orders o where o.id = c.order_id) as provider_order_ref"#,
        LEASE.as_secs_f64(),
        BATCH,
    )
    .fetch_all(db)
    .await?;
    let claimed = due.len();
    for row in due {
        let account = Account {
            partner: row.partner_id,
            mode: row.mode,
        };
        let Some(esim) = esims::find(db, account, row.esim_id).await? else {
            tracing::error!(esim_id = %row.esim_id, "cancellation of an eSIM that is gone");
            continue;
        };
        let claim = Claim {
            esim,
            order: row.order_id,
            amount: Cents::new(row.refund_cents),
            provider_order_ref: row.provider_order_ref,
        };
        let settled = settle(orders, &claim, &row.status, row.refund_ref.as_deref()).await;
        if let Err(why) = settled {
            let delay = super::reconcile::backoff(
                row.attempts,
                orders.config().reconcile_poll,
                orders.config().reconcile_max_backoff,
            );
            tracing::warn!(esim_id = %claim.esim.id, error = why, "cancellation not settled yet");
            sqlx::query!(
                "update esim_cancellations
                    set run_at = now() + make_interval(secs => $2), last_error = $3
                  where esim_id = $1",
                claim.esim.id as EsimId,
                delay.as_secs_f64(),
                why,
            )
            .execute(db)
            .await?;
        }
    }
    Ok(claimed)
}

/// Settles one cancellation from its provider's answer; `Err` (why) when it must wait.
async fn settle(
    orders: &Orders,
    claim: &Claim,
    status: &str,
    refund_ref: Option<&str>,
) -> Result<(), String> {
    let db = orders.db();
    let fail = |e: OrderError| e.to_string();
    if status == "requested" {
        return match orders.ask_provider(claim).await {
            Ok(Cancelled::Refunded) => refund(db, claim).await.map(|_| ()).map_err(fail),
            Ok(Cancelled::UnderReview { refund_ref }) => under_review(
                db,
                claim,
                refund_ref.as_deref(),
                orders.config().reconcile_poll,
            )
            .await
            .map_err(|e| e.to_string()),
            Err(e @ (ProviderError::Rejected { .. } | ProviderError::Unsupported(_))) => {
                tracing::info!(esim_id = %claim.esim.id, error = %e, "cancellation refused by the provider on a second ask; the eSIM is READY again");
                release(db, claim).await.map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
    }
    let Some(provider) = orders.provider_for(claim.esim.mode, &claim.esim.provider) else {
        return Err(format!(
            "provider {} is not configured",
            claim.esim.provider
        ));
    };
    let review = crate::provider::timed(
        provider.name(),
        "refund_status",
        orders.config().provider_timeout,
        provider.refund_status(&claim.request(), refund_ref),
    )
    .await;
    match review {
        Ok(RefundReview::Approved) => refund(db, claim).await.map(|_| ()).map_err(fail),
        Ok(RefundReview::Rejected(reason)) => {
            reject(db, claim, &reason).await.map_err(|e| e.to_string())
        }
        Ok(RefundReview::Pending) => Err("the provider is still reviewing the refund".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// The provider rejected the refund: the eSIM is the partner's again (`READY`), the
/// cancellation stays `rejected` (it cannot be asked twice), and `refund.rejected` says so.
async fn reject(db: &PgPool, claim: &Claim, reason: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let moved = sqlx::query!(
        "update esim_cancellations set status = 'rejected', reason = $2, updated_at = now()
          where esim_id = $1 and status = 'pending'",
        claim.esim.id as EsimId,
        format!("the provider rejected the refund: {reason}"),
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 1 {
        sqlx::query!(
            "update esims set status = 'READY', updated_at = now()
              where id = $1 and status = 'CANCEL_PENDING'",
            claim.esim.id as EsimId,
        )
        .execute(&mut *tx)
        .await?;
        webhooks::emit(
            &mut tx,
            claim.esim.account(),
            EventType::RefundRejected,
            Subject::Esim(claim.esim.id),
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(esim_id = %claim.esim.id, "refund rejected by the provider; the eSIM is READY again");
    Ok(())
}

/// Settles a refund under review by the operator's word (`tavaro orders settle-refund`),
/// for an upstream that decides refunds outside its API: approved → refunded and
/// `CANCELLED`; rejected → `READY` again. Returns what it did, for the operator.
pub async fn settle_refund(db: &PgPool, esim: EsimId, approve: bool) -> anyhow::Result<String> {
    let row = sqlx::query!(
        r#"select c.partner_id as "partner_id: PartnerId", c.mode as "mode: Mode",
                  c.order_id as "order_id: OrderId", c.refund_cents, c.status,
                  (select provider_order_ref from orders o where o.id = c.order_id) as provider_order_ref
           from esim_cancellations c where c.esim_id = $1"#,
        esim as EsimId,
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| anyhow::anyhow!("no cancellation of eSIM {esim}"))?;
    if row.status != "pending" {
        anyhow::bail!(
            "the cancellation of eSIM {esim} is {}, not pending review",
            row.status
        );
    }
    let account = Account {
        partner: row.partner_id,
        mode: row.mode,
    };
    let record = esims::find(db, account, esim)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no eSIM {esim}"))?;
    let claim = Claim {
        esim: record,
        order: row.order_id,
        amount: Cents::new(row.refund_cents),
        provider_order_ref: row.provider_order_ref,
    };
    if approve {
        refund(db, &claim).await?;
        Ok(format!("refunded {} and cancelled", claim.amount))
    } else {
        reject(db, &claim, "decided by the operator").await?;
        Ok("refund rejected; the eSIM is READY again".to_owned())
    }
}
