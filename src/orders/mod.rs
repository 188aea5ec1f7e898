//! The order workflow: the only place that moves money and calls a provider.
//!
//! ```text
//!   validate ──► [tx: insert order `pending` + debit ledger entry] ──► commit
//!                        │ balance short: rollback, 402, nothing written
//!                        ▼
//!                 provider.provision()        (no transaction open, own task)
//!        ┌───────────────┼──────────────────────────┐
//!     issued        refused / unreachable        unknown (time-out, dropped)
//!        ▼               ▼                          ▼
//!  [tx: eSIMs +    [tx: `failed` + refund      [`processing`: settled later by
//!   `completed`]     ledger entry] 502/503       asking the provider] 202
//! ```
//!
//! Each arrow into a state is one transaction that only moves an order forward
//! (`where status in (...)`), and a unique index allows one debit and one refund per
//! order, so no order is ever debited or refunded twice. The provider call runs in a
//! spawned task: a partner hanging up cannot cancel it half-way.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::auth::Principal;
use crate::catalog::Plan;
use crate::error::{ApiError, ApiResult, NotFound};
use crate::esims::{self, EsimRecord};
use crate::ids::{OrderId, PartnerId};
use crate::ledger::{self, EntryKind, LedgerError, NewEntry};
use crate::money::Cents;
use crate::provider::{ProviderError, ProvisionRequest, Provisioned};
use crate::state::AppState;

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Debited; the provider is being called.
    Pending,
    /// The provider's outcome is unknown; reconciliation will settle it.
    Processing,
    /// eSIMs delivered.
    Completed,
    /// The provider refused; the debit was refunded.
    Failed,
}

impl OrderStatus {
    /// The lowercase name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    fn from_db(s: &str) -> Self {
        match s {
            "processing" => Self::Processing,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// A validated order request.
#[derive(Clone, Debug)]
pub struct NewOrder {
    /// Plan to buy.
    pub plan_id: String,
    /// 1 to 10 eSIMs.
    pub quantity: u32,
    /// The traveller's address, if the partner gave one.
    pub customer_email: Option<String>,
    /// The partner's booking reference.
    pub reference: Option<String>,
}

/// A stored order.
#[derive(Clone, Debug)]
pub struct OrderRecord {
    /// Order id.
    pub id: OrderId,
    /// Owner.
    pub partner_id: PartnerId,
    /// Plan bought.
    pub plan_id: String,
    /// eSIMs ordered.
    pub quantity: i32,
    /// Net price of one eSIM.
    pub unit_cost: Cents,
    /// `unit_cost × quantity`: what was debited.
    pub total_cost: Cents,
    /// Current state.
    pub status: OrderStatus,
    /// Partner's booking reference.
    pub reference: Option<String>,
    /// Traveller's e-mail.
    pub customer_email: Option<String>,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
}

/// What a partner gets back for an order that was placed (debited).
#[derive(Clone, Debug)]
pub struct OrderReceipt {
    /// The order.
    pub order: OrderRecord,
    /// Its eSIMs (empty unless completed).
    pub esims: Vec<EsimRecord>,
    /// The partner's balance right after the debit.
    pub balance: Cents,
}

/// Places an order: debit, provision, settle. Errors: 404 unknown plan, 402 short of
/// credits (nothing written), 502 provider refusal (refunded), 503 provider unreachable
/// (refunded). An unknown provider outcome is not an error: the receipt says `processing`.
#[tracing::instrument(name = "orders.place", skip_all, fields(order_id, plan_id = %new.plan_id, quantity = new.quantity))]
pub async fn place(
    state: &AppState,
    principal: &Principal,
    new: NewOrder,
) -> ApiResult<OrderReceipt> {
    let plan = state
        .catalog
        .snapshot()
        .plan(&new.plan_id)
        .cloned()
        .ok_or(ApiError::NotFound(NotFound::Plan))?;
    let unit_cost = plan.net_price;
    let total_cost = unit_cost
        .checked_mul(i64::from(new.quantity))
        .ok_or_else(|| anyhow::anyhow!("order total overflows"))?;

    let (order, balance) = debit(
        state,
        principal.partner_id,
        &plan,
        &new,
        unit_cost,
        total_cost,
    )
    .await?;
    tracing::Span::current().record("order_id", tracing::field::display(order.id));

    // Detached from the request: if the partner hangs up, the order still settles.
    let task = tokio::spawn(provision(state.clone(), order.clone(), Arc::new(plan)));
    let order = task
        .await
        .map_err(|e| anyhow::anyhow!("provisioning task failed: {e}"))??;

    let mut conn = state.db.acquire().await?;
    let esims = esims::for_order(&mut conn, order.partner_id, order.id).await?;
    Ok(OrderReceipt {
        order,
        esims,
        balance,
    })
}

/// Phase 1, one transaction: the order row and its debit entry, or nothing.
async fn debit(
    state: &AppState,
    partner: PartnerId,
    plan: &Plan,
    new: &NewOrder,
    unit_cost: Cents,
    total_cost: Cents,
) -> ApiResult<(OrderRecord, Cents)> {
    let id = OrderId::new();
    let mut tx = state.db.begin().await?;
    let created_at = sqlx::query_scalar!(
        "insert into orders (id, partner_id, plan_id, quantity, unit_cost_cents, total_cost_cents,
                             status, reference, customer_email, provider)
         values ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9)
         returning created_at",
        id as OrderId,
        partner as PartnerId,
        plan.id,
        new.quantity as i32,
        unit_cost.get(),
        total_cost.get(),
        new.reference,
        new.customer_email,
        state.provider.name(),
    )
    .fetch_one(&mut *tx)
    .await?;
    let posting = ledger::post(
        &mut tx,
        NewEntry {
            partner,
            kind: EntryKind::OrderDebit,
            amount: Cents::new(-total_cost.get()),
            order: Some(id),
            note: None,
        },
    )
    .await;
    let posting = match posting {
        Ok(posting) => posting,
        Err(LedgerError::InsufficientCredits { balance, required }) => {
            // Dropping the transaction rolls back the order row too.
            return Err(ApiError::InsufficientCredits { required, balance });
        }
        Err(LedgerError::NoAccount) => {
            return Err(anyhow::anyhow!("partner {partner} has no balance row").into());
        }
        Err(LedgerError::Database(e)) => return Err(e.into()),
    };
    tx.commit().await?;
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
        created_at,
    };
    Ok((order, posting.balance_after))
}

/// Phases 2 and 3: call the provider, then settle the order by what it said.
async fn provision(
    state: AppState,
    mut order: OrderRecord,
    plan: Arc<Plan>,
) -> ApiResult<OrderRecord> {
    let request = ProvisionRequest {
        order_ref: order.id,
        plan_id: plan.id.clone(),
        quantity: order.quantity as u32,
        days: plan.days,
        data_mb: plan.data_mb,
    };
    let timeout = state.config.provider_timeout;
    let result = match tokio::time::timeout(timeout, state.provider.provision(&request)).await {
        Ok(result) => result,
        Err(_) => Err(ProviderError::Unknown(format!(
            "no answer within {timeout:?}"
        ))),
    };
    let result = result.and_then(|provisioned| {
        if provisioned.esims.len() == request.quantity as usize {
            Ok(provisioned)
        } else {
            Err(ProviderError::Unknown(format!(
                "asked for {} eSIMs, received {}",
                request.quantity,
                provisioned.esims.len()
            )))
        }
    });
    match result {
        Ok(provisioned) => {
            complete(&state.db, &order, plan.data_mb, &provisioned).await?;
            order.status = OrderStatus::Completed;
            Ok(order)
        }
        Err(e @ (ProviderError::Rejected(_) | ProviderError::Unavailable(_))) => {
            tracing::warn!(error = %e, "provider did not issue the order; refunding");
            fail_and_refund(&state.db, &order, &e.to_string()).await?;
            Err(match e {
                ProviderError::Unavailable(_) => ApiError::ServiceUnavailable,
                _ => ApiError::Upstream { refunded: true },
            })
        }
        Err(e @ ProviderError::Unknown(_)) => {
            tracing::warn!(error = %e, "provider outcome unknown; order left to reconciliation");
            mark_processing(&state.db, &order).await?;
            order.status = OrderStatus::Processing;
            Ok(order)
        }
    }
}

/// `pending`/`processing` → `completed`, storing the eSIMs, in one transaction.
async fn complete(
    db: &PgPool,
    order: &OrderRecord,
    data_total_mb: Option<i32>,
    provisioned: &Provisioned,
) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    let moved = sqlx::query!(
        "update orders set status = 'completed', provider_order_ref = $2, updated_at = now()
         where id = $1 and status in ('pending', 'processing')",
        order.id as OrderId,
        provisioned.provider_order_ref,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 1 {
        esims::insert_issued(
            &mut tx,
            order.partner_id,
            order.id,
            data_total_mb,
            &provisioned.esims,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `pending`/`processing` → `failed` with its refund entry, in one transaction.
async fn fail_and_refund(db: &PgPool, order: &OrderRecord, reason: &str) -> ApiResult<()> {
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
    if moved == 1 {
        ledger::post(
            &mut tx,
            NewEntry {
                partner: order.partner_id,
                kind: EntryKind::Refund,
                amount: order.total_cost,
                order: Some(order.id),
                note: Some("provider did not issue the order"),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("refund failed: {e}"))?;
    }
    tx.commit().await?;
    Ok(())
}

/// `pending` → `processing`.
async fn mark_processing(db: &PgPool, order: &OrderRecord) -> ApiResult<()> {
    sqlx::query!(
        "update orders set status = 'processing', updated_at = now()
         where id = $1 and status = 'pending'",
        order.id as OrderId,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Loads one of a partner's orders.
pub async fn find(db: &PgPool, partner: PartnerId, id: OrderId) -> ApiResult<Option<OrderRecord>> {
    let row = sqlx::query!(
        r#"select id as "id: OrderId", partner_id as "partner_id: PartnerId", plan_id, quantity,
                  unit_cost_cents, total_cost_cents, status, reference, customer_email, created_at
           from orders where partner_id = $1 and id = $2"#,
        partner as PartnerId,
        id as OrderId,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| OrderRecord {
        id: r.id,
        partner_id: r.partner_id,
        plan_id: r.plan_id,
        quantity: r.quantity,
        unit_cost: Cents::new(r.unit_cost_cents),
        total_cost: Cents::new(r.total_cost_cents),
        status: OrderStatus::from_db(&r.status),
        reference: r.reference,
        customer_email: r.customer_email,
        created_at: r.created_at,
    }))
}
