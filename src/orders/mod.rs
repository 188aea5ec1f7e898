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
//!   `completed`]    job deleted] 502 / 503          202 ── the reconciler asks the
//!       201                                          provider by our reference until
//!                                                    it can settle: completed | failed
//! ```
//!
//! The job of an order completed on the request path is not deleted there: the
//! reconciler deletes the jobs of settled orders in bulk, every poll.
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
pub mod settler;

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

/// The Idempotency-Key an order is placed under, so that the statements that debit and
/// settle the order also claim the key and keep the answer for replays: no statement of
/// their own on the way of an order.
pub struct Keyed<'a> {
    /// The key.
    pub key: &'a IdempotencyKey,
    /// `Some` when the key is not claimed yet: the debit claims it, for the request with
    /// this fingerprint, for this long. The debit then happens only if the key is new to
    /// the partner; otherwise [`place`] answers [`Placed::NotClaimed`] having written
    /// nothing, and the caller goes through [`idempotency::claim`].
    pub claim: Option<(&'a [u8], std::time::Duration)>,
    /// The answer to a completed order, stored with the settlement.
    pub render: &'a (dyn Fn(&OrderReceipt) -> (u16, String) + Send + Sync),
}

/// What [`place`] did.
#[derive(Debug)]
pub enum Placed {
    /// The order exists; `stored` is the answer the settlement kept for replays (status,
    /// exact body), when it did.
    Order {
        /// The order as placed.
        receipt: Box<OrderReceipt>,
        /// The stored answer.
        stored: Option<(u16, String)>,
    },
    /// [`Keyed::claim`] was asked and the key was not claimed: known to the partner
    /// already, taken by a concurrent request, or the order was refused (unknown plan,
    /// short of credits) before any debit. Nothing was written.
    NotClaimed,
}

/// Places an order: debit, provision, settle. Errors: 404 unknown plan, 402 short of
/// credits (nothing written), 502 provider refusal (refunded), 503 provider unreachable
/// (refunded). An unknown provider outcome is not an error: the receipt says `processing`.
#[tracing::instrument(name = "orders.place", skip_all, fields(order_id, plan_id = %new.plan_id, quantity = new.quantity))]
pub async fn place(
    state: &AppState,
    principal: &Principal,
    new: &NewOrder,
    keyed: Option<&Keyed<'_>>,
) -> ApiResult<Placed> {
    let claiming = keyed.is_some_and(|k| k.claim.is_some());
    let (plan, unit_cost, total_cost) = match priced(state, new) {
        Ok(priced) => priced,
        // Refusals are answered, and kept, under a claimed key.
        Err(_) if claiming => return Ok(Placed::NotClaimed),
        Err(e) => return Err(e),
    };
    let terms = Terms {
        plan: &plan,
        new,
        unit_cost,
        total_cost,
    };
    let Some((order, balance)) = debit(state, principal.partner_id, &terms, keyed).await? else {
        return Ok(Placed::NotClaimed);
    };
    tracing::Span::current().record("order_id", tracing::field::display(order.id));
    failpoint(state, "after_debit_commit");

    let outcome = provision(state, &order, &plan, balance, keyed).await;
    crate::metrics::order_outcome(match &outcome {
        Ok((OrderStatus::Completed, _)) => "completed",
        Ok(_) => "processing",
        Err(ApiError::Upstream { .. }) => "failed",
        Err(ApiError::ServiceUnavailable) => "unavailable",
        Err(_) => "error",
    });
    let (status, settled) = outcome?;
    let (esims, stored) = match settled {
        Some(Stored { esims, answer }) => (esims, answer),
        // Settled by someone else: its eSIMs are read back.
        None => {
            let mut conn = state.db.acquire().await?;
            let esims = esims::for_order(&mut conn, order.partner_id, order.id).await?;
            (esims, None)
        }
    };
    Ok(Placed::Order {
        receipt: Box::new(OrderReceipt {
            order: OrderRecord { status, ..order },
            esims,
            balance,
        }),
        stored,
    })
}

/// What an order is for, priced.
struct Terms<'a> {
    plan: &'a Plan,
    new: &'a NewOrder,
    unit_cost: Cents,
    total_cost: Cents,
}

/// What settling an order stored: its eSIMs and, under an Idempotency-Key, the answer.
struct Stored {
    esims: Vec<EsimRecord>,
    answer: Option<(u16, String)>,
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
/// and its Idempotency-Key (claimed here, or linked when claimed before), or nothing at
/// all. `None`: [`Keyed::claim`] was asked and nothing was written (the key is known, or
/// the balance is short); without it, a short balance is the 402.
///
/// One statement rather than a transaction of six: every statement is a round trip to
/// Postgres, and the partner's balance row stays locked from the `UPDATE` to the commit,
/// which here is the end of this statement. A hot account's orders queue on that lock.
async fn debit(
    state: &AppState,
    partner: PartnerId,
    terms: &Terms<'_>,
    keyed: Option<&Keyed<'_>>,
) -> ApiResult<Option<(OrderRecord, Cents)>> {
    let Terms {
        plan,
        new,
        unit_cost,
        total_cost,
    } = *terms;
    let id = OrderId::new();
    // Not due before the live call has had its full time budget.
    let job_delay = (state.config.provider_timeout * 2).as_secs_f64();
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
        job_delay,
        key,
        hash,
        ttl,
    )
    .fetch_optional(&state.db)
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
    Ok(Some((order, Cents::new(placed.balance_cents))))
}

/// Phases 2 and 3: call the provider, then settle the order by what it said. Returns the
/// order's status and, when this call settled it, what it stored.
async fn provision(
    state: &AppState,
    order: &OrderRecord,
    plan: &Plan,
    balance: Cents,
    keyed: Option<&Keyed<'_>>,
) -> ApiResult<(OrderStatus, Option<Stored>)> {
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
            // The answer is rendered before the settlement, which stores it: the eSIMs'
            // issue time is the one thing not known yet, and no answer shows it.
            let mut esims = stored.records(order, plan, order.created_at);
            let mut answer = None;
            if let Some(k) = keyed {
                let receipt = OrderReceipt {
                    order: OrderRecord {
                        status: OrderStatus::Completed,
                        ..order.clone()
                    },
                    esims,
                    balance,
                };
                answer = Some((k.key, (k.render)(&receipt)));
                esims = receipt.esims;
            }
            let completion = settle::Completion {
                order: order.id,
                provider_order_ref: provisioned.provider_order_ref.clone(),
                data_total_mb: plan.data_mb,
                esims: stored,
                answer: answer
                    .as_ref()
                    .map(|(key, (status, body))| (key.as_str().to_owned(), *status, body.clone())),
            };
            let settled = state.settler.complete(completion).await?;
            failpoint(state, "after_esims_stored");
            let stored = match settled {
                (Settled::Moved, created_at) => {
                    for esim in &mut esims {
                        esim.created_at = created_at;
                    }
                    Some(Stored {
                        esims,
                        answer: answer.map(|(_, answer)| answer),
                    })
                }
                (Settled::AlreadySettled, _) => None,
            };
            Ok((OrderStatus::Completed, stored))
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
            let stored = Stored {
                esims: Vec::new(),
                answer: None,
            };
            Ok((OrderStatus::Processing, Some(stored)))
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
