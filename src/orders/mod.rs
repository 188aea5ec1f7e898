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
//!   `completed`]    job deleted] 502 refunded       202 ── the reconciler asks the
//!       201                                          provider by our reference until
//!                                                    it can settle: completed | failed
//! ```
//!
//! Once the debit has committed, no answer says "nothing was deducted": a failure of ours
//! after it (eSIMs the database refuses, the database itself, the request's time limit)
//! answers 202 `processing`, and the order's job settles it. An order someone else
//! settled first is answered as the database holds it.
//!
//! The state machine (`pending` → `completed` | `failed` | `processing`,
//! `processing` → `completed` | `failed`) is enforced by a trigger; each transition is one
//! transaction; unique indexes allow one debit and one refund per order. The job row
//! written with the debit means an order debited by a server that then died is settled
//! by any other server (or the same one, restarted): nothing is lost, nothing is charged
//! twice.
//!
//! Every order belongs to an [`Account`]: a partner in one mode. A sandbox order debits
//! the sandbox balance and is always fulfilled by the sandbox simulator
//! ([`Registry::sandbox`]), whatever provider its plan names; [`SandboxOutcome`] forces
//! the outcomes partners must handle.
//!
//! [`Orders`] is the workflow as a value, built once at start-up and shared by the HTTP
//! handlers and the reconciler: [`Orders::place`] (with [`keyed`] for Idempotency-Keys),
//! [`Orders::quote`], and the reads behind the order history.

mod cancel;
mod completions;
mod debit;
mod error;
mod hints;
pub mod history;
pub mod idempotency;
pub mod keyed;
mod place;
pub mod reconcile;
mod settlement;
pub mod stuck;
mod topup;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::catalog::Catalog;
use crate::esims::EsimRecord;
use crate::ids::{EsimId, OrderId, PartnerId};
use crate::ledger;
use crate::mode::{Account, Mode};
use crate::money::Cents;
use crate::provider::Registry;

pub use cancel::{CancelReceipt, RefundState, settle_refund};
pub use error::OrderError;
pub use idempotency::IdempotencyKey;
pub use settlement::Settled;

// Stored as its lower-case name.
/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
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

    /// Whether the order is settled for good.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

// Stored as its lower-case name.
/// What an order buys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum OrderKind {
    /// New eSIMs.
    Esim,
    /// More data and validity on an eSIM the partner holds.
    Topup,
}

impl OrderKind {
    /// `esim` or `topup`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Esim => "esim",
            Self::Topup => "topup",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "esim" => Some(Self::Esim),
            "topup" => Some(Self::Topup),
            _ => None,
        }
    }
}

/// How the order workflow runs (`TAVARO_PROVIDER_TIMEOUT_MS`, `TAVARO_IDEMPOTENCY_*`,
/// `TAVARO_RECONCILE_*`).
#[derive(Clone, Debug)]
pub struct OrdersConfig {
    /// Time allowed for one provider call before its outcome counts as unknown.
    pub provider_timeout: Duration,
    /// How long an Idempotency-Key is remembered.
    pub idempotency_ttl: Duration,
    /// A claim on an Idempotency-Key that has not debited after this long belongs to a
    /// request that died, and can be taken over: the request time limit plus
    /// [`idempotency::STALE_CLAIM_MARGIN`].
    pub stale_claim: Duration,
    /// How often each server polls the reconciliation queue.
    pub reconcile_poll: Duration,
    /// Longest wait between two reconciliation attempts of one order.
    pub reconcile_max_backoff: Duration,
    /// An order still unsettled this long after it was placed is flagged for the operator.
    pub reconcile_window: Duration,
}

/// An outcome a sandbox order is made to have (`Sandbox-Outcome`), so partners can test
/// how they handle each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SandboxOutcome {
    /// Debited, then refused by the "upstream" and refunded: 502 `upstream_error`.
    UpstreamError,
    /// Debited, the outcome left open: 202 `processing`, completed by reconciliation.
    Processing,
    /// Refused before any debit: 503 `service_unavailable`.
    ServiceUnavailable,
}

impl SandboxOutcome {
    /// Every outcome, by its header value.
    pub const ALL: [Self; 3] = [
        Self::UpstreamError,
        Self::Processing,
        Self::ServiceUnavailable,
    ];

    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UpstreamError => "upstream_error",
            Self::Processing => "processing",
            Self::ServiceUnavailable => "service_unavailable",
        }
    }

    /// The outcome named by a header value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
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
    /// A sandbox order's forced outcome. Part of the request's fingerprint: the same
    /// Idempotency-Key with another outcome is another request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox_outcome: Option<SandboxOutcome>,
    /// The eSIM a top-up is for; `None` for new eSIMs. Part of the fingerprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topup_of: Option<EsimId>,
}

impl NewOrder {
    /// What the order buys.
    pub fn kind(&self) -> OrderKind {
        if self.topup_of.is_some() {
            OrderKind::Topup
        } else {
            OrderKind::Esim
        }
    }
}

/// A stored order.
#[derive(Clone, Debug)]
pub struct OrderRecord {
    /// Order id.
    pub id: OrderId,
    /// Owner.
    pub partner_id: PartnerId,
    /// Live or sandbox.
    pub mode: Mode,
    /// New eSIMs or a top-up.
    pub kind: OrderKind,
    /// The eSIM a top-up is for.
    pub esim_id: Option<EsimId>,
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

impl OrderRecord {
    /// The account it was debited from.
    pub fn account(&self) -> Account {
        Account {
            partner: self.partner_id,
            mode: self.mode,
        }
    }
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

/// The order workflow, with what it needs: the pool, the catalog, the providers, the
/// coalesced writer of completions, and its settings. Cheap to clone (one reference
/// count); built once per server.
#[derive(Clone)]
pub struct Orders(Arc<Inner>);

struct Inner {
    db: PgPool,
    /// The debits' writers and connections (see [`debit`]).
    debits: debit::Debits,
    catalog: Catalog,
    providers: Arc<Registry>,
    completions: completions::Completions,
    config: OrdersConfig,
}

impl Orders {
    /// The workflow on `db`, selling `catalog`'s plans through `providers`. Starts the
    /// writers of completions on the current runtime.
    pub fn new(
        db: PgPool,
        catalog: Catalog,
        providers: Arc<Registry>,
        config: OrdersConfig,
    ) -> Self {
        Self(Arc::new(Inner {
            completions: completions::Completions::start(db.clone()),
            debits: debit::Debits::start(db.clone()),
            db,
            catalog,
            providers,
            config,
        }))
    }

    /// Its settings.
    pub fn config(&self) -> &OrdersConfig {
        &self.0.config
    }

    /// The pool it writes to.
    pub fn db(&self) -> &PgPool {
        &self.0.db
    }

    /// Prices an order and compares it with the account's balance. Writes nothing.
    pub async fn quote(&self, account: Account, new: &NewOrder) -> Result<Quote, OrderError> {
        let priced = self.priced(account.mode, new)?;
        Ok(Quote {
            unit_cost: priced.unit_cost,
            total_cost: priced.total_cost,
            balance: self.balance(account).await?,
        })
    }

    /// One of an account's orders with its eSIMs and the balance its debit left, as an
    /// order response shows it; `None` if it does not exist or belongs to another partner
    /// or mode.
    pub async fn receipt(
        &self,
        account: Account,
        id: OrderId,
    ) -> Result<Option<OrderReceipt>, sqlx::Error> {
        history::receipt(&self.0.db, account, id).await
    }

    /// The account's balance now.
    async fn balance(&self, account: Account) -> Result<Cents, OrderError> {
        let mut conn = self.0.db.acquire().await?;
        Ok(ledger::balance(&mut conn, account).await?.amount)
    }
}
