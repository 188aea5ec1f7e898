//! The order workflow: the only place that moves money and calls a provider.
//!
//! ```text
//!            validate, claim Idempotency-Key
//!                        │
//!   [tx: order `pending` + debit entry + reconciliation job + key → order] ── commit
//!                        │  balance short: rollback, 402, nothing written
//!                        ▼
//!                 provider.provision()            (no transaction open; own task)
//!        ┌───────────────┼───────────────────────────────┐
//!     issued      refused / unreachable          unknown (time-out, dropped, accepted)
//!        ▼               ▼                                ▼
//!  [tx: eSIMs,     [tx: `failed`, refund entry,   [tx: `processing`; job due now]
//!   `completed`,    job deleted] 502 / 503          202 ── the reconciler asks the
//!   job deleted]                                    provider by our reference until
//!       201                                          it can settle: completed | failed
//! ```
//!
//! The state machine (`pending` → `completed` | `failed` | `processing`,
//! `processing` → `completed` | `failed`) is enforced by a trigger; each transition is one
//! transaction; unique indexes allow one debit and one refund per order. The job row
//! written with the debit means an order debited by a server that then died is settled
//! by any other server (or the same one, restarted): nothing is lost, nothing is charged
//! twice. The provider call runs in a spawned task: a partner hanging up cannot cancel it.

pub mod history;
pub mod idempotency;
pub mod reconcile;
mod settle;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::auth::Principal;
use crate::catalog::Plan;
use crate::error::{ApiError, ApiResult, NotFound};
use crate::esims::{self, EsimRecord};
use crate::ids::{OrderId, PartnerId};
use crate::ledger::{self, LedgerError};
use crate::money::Cents;
use crate::provider::{ProviderError, ProvisionRequest};
use crate::state::AppState;

pub use idempotency::IdempotencyKey;
pub use settle::Settled;

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Debited; the provider is being called.
    Pending,
    /// The provider's outcome is unknown; reconciliation will settle it.
    Processing,
    /// eSIMs delivered.
    Completed,
    /// The provider did not issue the order; the debit was refunded.
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

    /// Parses a status name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "processing" => Some(Self::Processing),
            "completed" => Some(Self::Completed),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    fn from_db(s: &str) -> Self {
        Self::parse(s).unwrap_or(Self::Pending)
    }

    /// Whether the order is settled for good.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// A validated order request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
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

/// An order with everything its response shows.
#[derive(Clone, Debug)]
pub struct OrderReceipt {
    /// The order.
    pub order: OrderRecord,
    /// Its eSIMs (empty unless completed).
    pub esims: Vec<EsimRecord>,
    /// The partner's balance right after the debit.
    pub balance: Cents,
}

/// The cost of an order, without placing it (`POST /v1/order/quote`).
#[derive(Clone, Copy, Debug)]
pub struct Quote {
    /// Net price of one eSIM.
    pub unit_cost: Cents,
    /// What the order would debit.
    pub total_cost: Cents,
    /// The partner's balance now.
    pub balance: Cents,
}

/// Prices an order and compares it with the balance. Writes nothing.
pub async fn quote(state: &AppState, principal: &Principal, new: &NewOrder) -> ApiResult<Quote> {
    let (_, unit_cost, total_cost) = priced(state, new)?;
    Ok(Quote {
        unit_cost,
        total_cost,
        balance: balance(state, principal.partner_id).await?,
    })
}

/// Places an order: debit, provision, settle. Errors: 404 unknown plan, 402 short of
/// credits (nothing written), 502 provider refusal (refunded), 503 provider unreachable
/// (refunded). An unknown provider outcome is not an error: the receipt says `processing`.
#[tracing::instrument(name = "orders.place", skip_all, fields(order_id, plan_id = %new.plan_id, quantity = new.quantity))]
pub async fn place(
    state: &AppState,
    principal: &Principal,
    new: &NewOrder,
    key: Option<&IdempotencyKey>,
) -> ApiResult<OrderReceipt> {
    let (plan, unit_cost, total_cost) = priced(state, new)?;
    let (order, balance) = debit(
        state,
        principal.partner_id,
        &plan,
        new,
        unit_cost,
        total_cost,
        key,
    )
    .await?;
    tracing::Span::current().record("order_id", tracing::field::display(order.id));
    failpoint(state, "after_debit_commit");

    let outcome = provision(state, &order, &plan).await;
    crate::metrics::order_outcome(match &outcome {
        Ok((OrderStatus::Completed, _)) => "completed",
        Ok(_) => "processing",
        Err(ApiError::Upstream { .. }) => "failed",
        Err(ApiError::ServiceUnavailable) => "unavailable",
        Err(_) => "error",
    });
    let (status, esims) = outcome?;
    // The eSIMs this request stored are known; read them only if someone else settled it.
    let esims = match esims {
        Some(esims) => esims,
        None => {
            let mut conn = state.db.acquire().await?;
            esims::for_order(&mut conn, order.partner_id, order.id).await?
        }
    };
    Ok(OrderReceipt {
        order: OrderRecord { status, ..order },
        esims,
        balance,
    })
}

/// The plan on sale and the order's unit and total cost (net prices): 404 for a plan not
/// on sale, and 503 for a plan routed to an upstream this process has no credentials for,
/// refused before any money moves.
fn priced(state: &AppState, new: &NewOrder) -> ApiResult<(Plan, Cents, Cents)> {
    let plan = state
        .catalog
        .snapshot()
        .plan(&new.plan_id)
        .cloned()
        .ok_or(ApiError::NotFound(NotFound::Plan))?;
    if state.providers.get(&plan.provider).is_none() {
        tracing::error!(provider = %plan.provider, plan_id = %plan.id, "plan routed to an unconfigured provider");
        return Err(ApiError::ServiceUnavailable);
    }
    let total = plan
        .net_price
        .checked_mul(i64::from(new.quantity))
        .ok_or_else(|| anyhow::anyhow!("order total overflows"))?;
    let unit = plan.net_price;
    Ok((plan, unit, total))
}

/// The partner's balance now.
async fn balance(state: &AppState, partner: PartnerId) -> ApiResult<Cents> {
    let mut conn = state.db.acquire().await?;
    let balance = ledger::balance(&mut conn, partner)
        .await
        .map_err(ledger_error)?;
    Ok(balance.amount)
}

fn ledger_error(e: LedgerError) -> ApiError {
    match e {
        LedgerError::Database(e) => e.into(),
        other => ApiError::Internal(other.into()),
    }
}

/// Phase 1, one statement: the order row, its debit (the balance's conditional `UPDATE`
/// and the `order_debit` entry, as [`ledger::post`] writes them), its reconciliation job
/// and the link from the Idempotency-Key, or nothing at all.
///
/// One statement rather than a transaction of six: every statement is a round trip to
/// Postgres, and the partner's balance row stays locked from the `UPDATE` to the commit,
/// which here is the end of this statement. A hot account's orders queue on that lock.
async fn debit(
    state: &AppState,
    partner: PartnerId,
    plan: &Plan,
    new: &NewOrder,
    unit_cost: Cents,
    total_cost: Cents,
    key: Option<&IdempotencyKey>,
) -> ApiResult<(OrderRecord, Cents)> {
    let id = OrderId::new();
    // Not due before the live call has had its full time budget.
    let job_delay = (state.config.provider_timeout * 2).as_secs_f64();
    // Every part selects from `debit`: short of funds, it returns no row and nothing is
    // written. Foreign keys between the parts are checked at the end of the statement.
    let placed = sqlx::query!(
        r#"with debit as (
               update balances
                  set balance_cents = balance_cents - $6, updated_at = now()
                where partner_id = $2 and balance_cents - $6 >= 0
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
           ), link as (
               update idempotency_keys set order_id = $1
                where partner_id = $2 and key = $11 and exists (select 1 from debit)
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
        job_delay,
        key.map(IdempotencyKey::as_str),
    )
    .fetch_optional(&state.db)
    .await?;
    let Some(placed) = placed else {
        let balance = balance(state, partner).await?;
        crate::metrics::order_outcome("insufficient_credits");
        return Err(ApiError::InsufficientCredits {
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
    Ok((order, Cents::new(placed.balance_cents)))
}

/// Phases 2 and 3: call the provider, then settle the order by what it said. Returns the
/// order's status and, when this call stored them, its eSIMs.
async fn provision(
    state: &AppState,
    order: &OrderRecord,
    plan: &Plan,
) -> ApiResult<(OrderStatus, Option<Vec<EsimRecord>>)> {
    let request = ProvisionRequest {
        order_ref: order.id,
        plan_id: plan.id.clone(),
        sku: plan.provider_sku.clone().unwrap_or_else(|| plan.id.clone()),
        unit_cost_e4: plan.provider_cost_e4,
        quantity: order.quantity as u32,
        days: plan.days,
        data_mb: plan.data_mb,
    };
    if state.config.failpoint.as_deref() == Some("during_provider_call") {
        // Crash while the request is in flight upstream.
        tokio::spawn(async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            crash("during_provider_call");
        });
    }
    let Some(provider) = state.providers.get(&plan.provider).cloned() else {
        // Checked before the debit; only a registry without the plan's provider gets here.
        settle::fail_and_refund(&state.db, order, "provider not configured").await?;
        return Err(ApiError::ServiceUnavailable);
    };
    let result = crate::provider::timed(
        provider.name(),
        "provision",
        state.config.provider_timeout,
        provider.provision(&request),
    )
    .await;
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
            failpoint(state, "before_esims_stored");
            let stored = esims::NewEsims::of(&provisioned.esims);
            let settled =
                settle::complete_with(&state.db, order, plan.data_mb, &provisioned, &stored)
                    .await?;
            failpoint(state, "after_esims_stored");
            let esims = match settled {
                (Settled::Moved, created_at) => Some(stored.records(order, plan, created_at)),
                (Settled::AlreadySettled, _) => None,
            };
            Ok((OrderStatus::Completed, esims))
        }
        Err(e) if e.issued_nothing() => {
            tracing::warn!(error = %e, "provider did not issue the order; refunding");
            settle::fail_and_refund(&state.db, order, &e.to_string()).await?;
            Err(match e {
                // The upstream refused this order: the partner may pick another plan.
                ProviderError::Rejected { .. } => ApiError::Upstream { refunded: true },
                // Our side is out of order (credentials, upstream credit, rate limit,
                // outage): never the partner's fault, never a 402.
                _ => ApiError::ServiceUnavailable,
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, "provider outcome unknown; order left to reconciliation");
            let provider_ref = match &e {
                ProviderError::Accepted { provider_order_ref } => Some(provider_order_ref.as_str()),
                _ => None,
            };
            settle::mark_processing(&state.db, order, provider_ref, &e.to_string()).await?;
            Ok((OrderStatus::Processing, Some(Vec::new())))
        }
    }
}

/// Crashes the process if `point` is the configured failpoint (crash-safety tests).
fn failpoint(state: &AppState, point: &str) {
    if state.config.failpoint.as_deref() == Some(point) {
        crash(point);
    }
}

fn crash(point: &str) -> ! {
    eprintln!("failpoint {point}: aborting the process");
    std::process::abort();
}

/// An `orders` row as read by [`find`] and [`history::list`].
struct OrderRow {
    id: OrderId,
    partner_id: PartnerId,
    plan_id: String,
    quantity: i32,
    unit_cost_cents: i64,
    total_cost_cents: i64,
    status: String,
    reference: Option<String>,
    customer_email: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<OrderRow> for OrderRecord {
    fn from(r: OrderRow) -> Self {
        Self {
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
        }
    }
}

/// Loads one of a partner's orders.
pub async fn find(
    conn: &mut PgConnection,
    partner: PartnerId,
    id: OrderId,
) -> Result<Option<OrderRecord>, sqlx::Error> {
    let row = sqlx::query_as!(
        OrderRow,
        r#"select id as "id: OrderId", partner_id as "partner_id: PartnerId", plan_id, quantity,
                  unit_cost_cents, total_cost_cents, status, reference, customer_email, created_at
           from orders where partner_id = $1 and id = $2"#,
        partner as PartnerId,
        id as OrderId,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(OrderRecord::from))
}

/// One of a partner's orders with its eSIMs and the balance its debit left, as an order
/// response shows it; `None` if it does not exist or belongs to someone else.
pub async fn receipt(
    db: &PgPool,
    partner: PartnerId,
    id: OrderId,
) -> ApiResult<Option<OrderReceipt>> {
    let mut conn = db.acquire().await?;
    let Some(order) = find(&mut conn, partner, id).await? else {
        return Ok(None);
    };
    let esims = esims::for_order(&mut conn, partner, id).await?;
    let balance = sqlx::query_scalar!(
        "select balance_after_cents from ledger_entries
         where partner_id = $1 and order_id = $2 and kind = 'order_debit'",
        partner as PartnerId,
        id as OrderId,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(OrderReceipt {
        order,
        esims,
        balance: Cents::new(balance),
    }))
}
