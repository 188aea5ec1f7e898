//! Upstream eSIM providers behind one trait. The gateway sells; a provider issues the
//! eSIMs. A provider never moves money: only `orders` calls both the ledger and a provider.
//!
//! Each plan names the provider that fulfils it ([`Registry`] maps the name onto a
//! configured adapter) and that provider's package code. The adapters speak each
//! upstream's API with reqwest ([`esimaccess`], [`airalo`], [`esimgo`], [`roamify`]);
//! [`normalize`] turns their units, timestamps and statuses into ours, and [`upstream`]
//! holds what every adapter shares (time-outs, rate-limit budgets, error classes).
//!
//! Every failure is classified by what it tells us about the upstream's side effects (see
//! [`ProviderError`]): only [`ProviderError::Unknown`] means an order may have been
//! issued, and an order is never refunded on that without asking the provider first.

pub mod airalo;
pub mod callbacks;
pub mod esimaccess;
pub mod esimgo;
pub mod normalize;
mod registry;
pub mod roamify;
pub mod settings;
pub mod simulator;
pub mod upstream;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use callbacks::{Callback, CallbackError, Hint};
pub use registry::Registry;

/// The built-in simulator's name: the provider of every plan that names none.
pub const SIMULATOR: &str = "simulator";

/// Every provider name a plan can carry.
pub const PROVIDER_NAMES: [&str; 5] = [SIMULATOR, "esimaccess", "airalo", "esimgo", "roamify"];

use crate::ids::OrderId;
use crate::status::EsimStatus;

/// What to issue.
#[derive(Clone, Debug)]
pub struct ProvisionRequest {
    /// Our order id: sent upstream as the client reference wherever the API takes one
    /// (eSIM Access `transactionId`, Roamify `referenceId`, Airalo `description`), so an
    /// order with an unknown outcome can be found again.
    pub order_ref: OrderId,
    /// The plan (our id).
    pub plan_id: String,
    /// The provider's package code for the plan (our id for the simulator).
    pub sku: String,
    /// What one eSIM costs us, in 1/10,000 USD, when the catalog sync recorded it
    /// (eSIM Access wants the price it will charge stated in the order).
    pub unit_cost_e4: Option<i64>,
    /// How many eSIMs (1–10).
    pub quantity: u32,
    /// Validity after activation.
    pub days: i32,
    /// Data allowance; `None` for unlimited.
    pub data_mb: Option<i32>,
}

/// One issued eSIM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisionedEsim {
    /// ICCID: 18–20 digits starting `89`, checked at the adapter boundary
    /// ([`normalize::checked_esim`]).
    pub iccid: String,
    /// SM-DP+ server address.
    pub smdp_address: String,
    /// Activation (matching) code. Secret-ish: never logged.
    pub activation_code: String,
    /// The upstream's own id for this eSIM, when it has one (eSIM Access `esimTranNo`,
    /// Roamify `esimId`): usage is asked by it where the upstream keys on it.
    pub provider_ref: Option<String>,
}

/// The upstream's answer to a provisioning request.
#[derive(Clone, Debug)]
pub struct Provisioned {
    /// The upstream's order id, when it has one.
    pub provider_order_ref: Option<String>,
    /// The eSIMs, as many as requested.
    pub esims: Vec<ProvisionedEsim>,
}

/// What reconciliation knows about an order whose outcome is unknown.
#[derive(Clone, Debug)]
pub struct LookupRequest {
    /// Our order id (the client reference sent upstream).
    pub order_ref: OrderId,
    /// The upstream's order id, if the order call returned one before the outcome was lost.
    pub provider_order_ref: Option<String>,
    /// The provider's package code.
    pub sku: String,
    /// How many eSIMs were ordered.
    pub quantity: u32,
    /// When we placed the order (upstreams without a reference lookup search around it).
    pub placed_at: DateTime<Utc>,
}

/// An eSIM we hold, as an adapter needs it to ask about usage.
#[derive(Clone, Debug)]
pub struct EsimRef {
    /// ICCID.
    pub iccid: String,
    /// The upstream's own id for it, if it gave one.
    pub provider_ref: Option<String>,
    /// The provider's package code of the plan it was issued on.
    pub sku: Option<String>,
}

/// Live usage of one eSIM, as the upstream reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EsimUsage {
    /// Lifecycle status.
    pub status: EsimStatus,
    /// Data used so far.
    pub data_used_mb: i64,
    /// First use.
    pub activated_at: Option<DateTime<Utc>>,
    /// End of validity.
    pub expires_at: Option<DateTime<Utc>>,
    /// The allowance as the upstream counts it now (the plan's plus every top-up's), when
    /// it reports one; `None` when it does not say, or for unlimited data.
    pub data_total_mb: Option<i64>,
}

/// A package the upstream offers to top up one eSIM with. Upstreams that sell top-ups as
/// packages of their own (eSIM Access `TOPUP_…`, Airalo `type: topup`) name packages our
/// catalog never imports: the gateway then sells the offer as the catalog plan of the same
/// provider and area with the same days and data, at that plan's price, and orders the
/// offer's own code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopupOffer {
    /// The provider's package code (for the simulator, our plan id): the gateway sells it
    /// only where a plan of its catalog carries that code.
    pub sku: String,
    /// What the top-up costs us, in 1/10,000 USD, when the upstream says.
    pub cost_e4: Option<i64>,
    /// Validity it adds, in days, when the upstream says.
    pub days: Option<i32>,
    /// Data it adds, in MB, when the upstream says (`None` also for unlimited).
    pub data_mb: Option<i32>,
}

/// A top-up to apply.
#[derive(Clone, Debug)]
pub struct TopupRequest {
    /// Our top-up order's id: the client reference, as for [`ProvisionRequest::order_ref`].
    pub order_ref: OrderId,
    /// The eSIM to top up.
    pub esim: EsimRef,
    /// The top-up plan (our id).
    pub plan_id: String,
    /// The provider's package code of the top-up.
    pub sku: String,
    /// What the top-up costs us, in 1/10,000 USD, when the catalog sync recorded it.
    pub unit_cost_e4: Option<i64>,
    /// Validity the top-up adds.
    pub days: i32,
    /// Data the top-up adds; `None` for unlimited.
    pub data_mb: Option<i32>,
}

/// The upstream's answer to a top-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToppedUp {
    /// The upstream's order id for the top-up, when it gives one.
    pub provider_order_ref: Option<String>,
}

/// What reconciliation knows about a top-up whose outcome is unknown.
#[derive(Clone, Debug)]
pub struct TopupLookupRequest {
    /// Our top-up order's id (the client reference sent upstream).
    pub order_ref: OrderId,
    /// The upstream's order id, if the top-up call returned one.
    pub provider_order_ref: Option<String>,
    /// The eSIM it was for.
    pub esim: EsimRef,
    /// The provider's package code of the top-up.
    pub sku: String,
    /// When we asked for it (upstreams without a reference lookup search around it).
    pub placed_at: DateTime<Utc>,
}

/// What the upstream knows about one of our top-ups, asked after an unknown outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopupLookup {
    /// The top-up was applied to the eSIM.
    Applied(ToppedUp),
    /// The upstream refused or failed it: nothing was applied.
    Failed(String),
    /// The upstream has it and is still working on it.
    Pending,
    /// The upstream has no top-up with this reference.
    NotFound,
}

/// An eSIM to cancel, with what the upstream may need to find its order.
#[derive(Clone, Debug)]
pub struct CancelRequest {
    /// The eSIM.
    pub esim: EsimRef,
    /// Our order that bought it.
    pub order_ref: OrderId,
    /// The upstream's order id for it, when it gave one.
    pub provider_order_ref: Option<String>,
}

/// How an upstream took a cancellation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// Cancelled, and its cost credited back to us: the partner is refunded at once.
    Refunded,
    /// A refund request the upstream reviews: settled later through
    /// [`Provider::refund_status`]. `refund_ref` is its id for the request, if any.
    UnderReview {
        /// The upstream's id of the refund request.
        refund_ref: Option<String>,
    },
}

/// Where a reviewed refund stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundReview {
    /// Approved: the eSIM is cancelled and we are credited.
    Approved,
    /// Not decided yet.
    Pending,
    /// Refused (the upstream's words): the eSIM stays the partner's.
    Rejected(String),
}

/// What the upstream knows about one of our orders, asked after an unknown outcome.
#[derive(Clone, Debug)]
pub enum OrderLookup {
    /// The order went through: here are its eSIMs.
    Issued(Provisioned),
    /// The upstream accepted the order and then failed it: nothing was issued.
    Failed(String),
    /// The upstream has the order and is still working on it.
    Pending,
    /// The upstream has no order with this reference.
    NotFound,
}

/// A package as an upstream sells it, normalised, for `tavaro catalog sync`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamPackage {
    /// The provider's package code (what an order names).
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Countries covered (ISO 3166-1 alpha-2, upper case) with their English names.
    pub countries: Vec<UpstreamCountry>,
    /// The upstream's region name for multi-country packages (`Europe`), if it gives one.
    pub region: Option<String>,
    /// Whether the upstream calls the package global.
    pub global: bool,
    /// Validity in days.
    pub days: i32,
    /// Data allowance in MB; `None` for unlimited.
    pub data_mb: Option<i32>,
    /// What one eSIM costs us, in 1/10,000 of `currency`.
    pub cost_e4: i64,
    /// ISO 4217 code of the cost.
    pub currency: String,
    /// Radio networks (`4G`, `5G`).
    pub networks: Vec<String>,
    /// Carriers.
    pub carriers: Vec<String>,
    /// Tethering allowed, when the upstream says.
    pub hotspot: Option<bool>,
    /// Top-ups available, when the upstream says.
    pub top_up: Option<bool>,
    /// Fair-use throttling: full-speed MB, then kbps.
    pub throttle: Option<(i32, i32)>,
}

/// What an upstream listed for `tavaro catalog sync`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The packages read.
    pub packages: Vec<UpstreamPackage>,
    /// Why the listing may be missing packages (paging stopped early); `None` when it is
    /// whole.
    pub incomplete: Option<String>,
}

/// One country a package covers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UpstreamCountry {
    /// ISO 3166-1 alpha-2, upper case.
    pub code: String,
    /// English name (falls back to the code).
    pub name: String,
}

/// Our prepaid balance with an upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamBalance {
    /// Amount in 1/10,000 of `currency`.
    pub amount_e4: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// Why an upstream refused an order outright.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The package code is unknown or withdrawn.
    InvalidPackage,
    /// The package exists but has no stock.
    OutOfStock,
    /// Any other definitive refusal (validation, operator maintenance).
    Other,
}

/// A failed provider call, classified by its side effects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The upstream definitively refused this order: nothing was issued. Partners see
    /// 502 `upstream_error` with the debit refunded.
    #[error("provider refused the order ({reason:?}): {message}")]
    Rejected {
        /// What kind of refusal.
        reason: Refusal,
        /// The upstream's words.
        message: String,
    },
    /// Our prepaid balance with the upstream is exhausted: nothing was issued. Our
    /// problem, not the partner's: 503 `service_unavailable`, never 402.
    #[error("provider balance exhausted: {0}")]
    InsufficientFunds(String),
    /// The upstream refused because we exceeded its rate limit: nothing was issued.
    #[error("provider rate limit reached (retry after {retry_after:?})")]
    RateLimited {
        /// The upstream's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The upstream refused our credentials: nothing was issued.
    #[error("provider refused our credentials: {0}")]
    Auth(String),
    /// The upstream could not be reached, or answered a read with a server error: nothing
    /// was issued.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The upstream accepted the order (and gave its order id) but has not issued the
    /// eSIMs yet: reconciliation fetches them later by that id.
    #[error("provider accepted the order as {provider_order_ref}; eSIMs not issued yet")]
    Accepted {
        /// The upstream's order id.
        provider_order_ref: String,
    },
    /// The request may or may not have taken effect (time-out, connection dropped after
    /// sending, a server error or malformed answer to an order). Settle by asking the
    /// provider, never by guessing.
    #[error("provider outcome unknown: {0}")]
    Unknown(String),
    /// The adapter does not offer this operation.
    #[error("not supported by this provider: {0}")]
    Unsupported(&'static str),
}

impl ProviderError {
    /// A refusal of the given kind.
    pub fn rejected(reason: Refusal, message: impl Into<String>) -> Self {
        Self::Rejected {
            reason,
            message: message.into(),
        }
    }

    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rejected { .. } => "rejected",
            Self::InsufficientFunds(_) => "insufficient_funds",
            Self::RateLimited { .. } => "rate_limited",
            Self::Auth(_) => "auth",
            Self::Unavailable(_) => "unavailable",
            Self::Accepted { .. } => "accepted",
            Self::Unknown(_) => "unknown",
            Self::Unsupported(_) => "unsupported",
        }
    }

    /// Whether the error proves that nothing was issued (safe to refund at once).
    pub fn issued_nothing(&self) -> bool {
        !matches!(self, Self::Unknown(_) | Self::Accepted { .. })
    }

    /// The error with every control character of its text made a space
    /// ([`normalize::printable`]): its words are partly the upstream's, and they are
    /// stored (`failure_reason`, `last_error`), logged and printed.
    pub fn printable(self) -> Self {
        use normalize::printable as clean;
        match self {
            Self::Rejected { reason, message } => Self::Rejected {
                reason,
                message: clean(&message),
            },
            Self::InsufficientFunds(m) => Self::InsufficientFunds(clean(&m)),
            Self::Auth(m) => Self::Auth(clean(&m)),
            Self::Unavailable(m) => Self::Unavailable(clean(&m)),
            Self::Accepted { provider_order_ref } => Self::Accepted {
                provider_order_ref: clean(&provider_order_ref),
            },
            Self::Unknown(m) => Self::Unknown(clean(&m)),
            e @ (Self::RateLimited { .. } | Self::Unsupported(_)) => e,
        }
    }
}

/// Runs one provider call under `timeout` and records it in the metrics (provider,
/// operation, outcome, latency). A call that outlives `timeout` is
/// [`ProviderError::Unknown`]. An error comes back [`ProviderError::printable`].
pub async fn timed<T>(
    provider: &str,
    operation: &'static str,
    timeout: Duration,
    call: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    let started = std::time::Instant::now();
    let result = match tokio::time::timeout(timeout, call).await {
        Ok(result) => result,
        Err(_) => Err(ProviderError::Unknown(format!(
            "no answer within {timeout:?}"
        ))),
    }
    .map_err(ProviderError::printable);
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.kind(),
    };
    crate::metrics::provider_call(provider, operation, outcome, started.elapsed());
    result
}

/// An upstream that issues eSIMs.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Short name stored on plans and orders (`simulator`, `airalo`, ...).
    fn name(&self) -> &'static str;

    /// Reads a callback this upstream sent (`POST /providers/{name}/webhook`): verifies
    /// its signature where the upstream signs, and says what may have changed. Only
    /// hints: the caller reads the state again from this provider's API.
    fn callback(&self, _callback: &Callback<'_>) -> Result<Vec<Hint>, CallbackError> {
        Err(CallbackError::Unsupported)
    }

    /// Issues `request.quantity` eSIMs. Called after the debit is committed, never inside
    /// a database transaction.
    async fn provision(&self, request: &ProvisionRequest) -> Result<Provisioned, ProviderError>;

    /// What became of an order, by our reference (read-only, safe to repeat).
    async fn lookup(&self, request: &LookupRequest) -> Result<OrderLookup, ProviderError>;

    /// Current usage and status of an eSIM it issued. Waits for the upstream's read
    /// budget (never the orders' share of it).
    async fn usage(&self, esim: &EsimRef) -> Result<EsimUsage, ProviderError>;

    /// [`Self::usage`] for a partner's status request, which never waits for the budget:
    /// [`ProviderError::RateLimited`] at once when the reads' share has no token free
    /// (the caller answers from its records). Upstreams without a budget just ask.
    async fn usage_now(&self, esim: &EsimRef) -> Result<EsimUsage, ProviderError> {
        self.usage(esim).await
    }

    /// Every package the upstream sells us, for `tavaro catalog sync`.
    async fn packages(&self) -> Result<Vec<UpstreamPackage>, ProviderError>;

    /// [`Self::packages`], saying whether the listing is known to be whole. An adapter
    /// whose listing can end early without an error (a paging guard tripped) says so
    /// here, and `catalog sync` then withdraws nothing it did not see.
    async fn listing(&self) -> Result<Listing, ProviderError> {
        Ok(Listing {
            packages: self.packages().await?,
            incomplete: None,
        })
    }

    /// Our prepaid balance with the upstream.
    async fn balance(&self) -> Result<UpstreamBalance, ProviderError>;

    /// The packages that can top up `esim` now, asked of the upstream every time (its
    /// answer depends on the eSIM's state; upstreams say not to cache it). `plan_id` is
    /// our plan the eSIM was sold on. Read-only. An upstream without top-ups answers
    /// [`ProviderError::Unsupported`].
    async fn topups(
        &self,
        esim: &EsimRef,
        plan_id: &str,
    ) -> Result<Vec<TopupOffer>, ProviderError> {
        let _ = (esim, plan_id);
        Err(ProviderError::Unsupported("top-ups"))
    }

    /// Applies a top-up. Called after the debit is committed, never inside a database
    /// transaction; classified like [`Self::provision`]: [`ProviderError::Unknown`] when
    /// it may have been applied.
    async fn topup(&self, request: &TopupRequest) -> Result<ToppedUp, ProviderError> {
        let _ = request;
        Err(ProviderError::Unsupported("top-ups"))
    }

    /// What became of a top-up with an unknown outcome (read-only, safe to repeat).
    async fn topup_lookup(
        &self,
        request: &TopupLookupRequest,
    ) -> Result<TopupLookup, ProviderError> {
        let _ = request;
        Err(ProviderError::Unsupported("top-up lookups"))
    }

    /// Cancels an unused eSIM and asks for its cost back. Safe to repeat: an eSIM the
    /// upstream has cancelled already answers as it did the first time (where the
    /// upstream tells). [`ProviderError::Rejected`] when the upstream refuses (used,
    /// too old, already refunded: the message says why); [`ProviderError::Unsupported`]
    /// when it cannot cancel at all.
    async fn cancel(&self, request: &CancelRequest) -> Result<Cancelled, ProviderError> {
        let _ = request;
        Err(ProviderError::Unsupported("cancellations"))
    }

    /// Where a refund under review stands (read-only). `refund_ref` is what
    /// [`Cancelled::UnderReview`] gave.
    async fn refund_status(
        &self,
        request: &CancelRequest,
        refund_ref: Option<&str>,
    ) -> Result<RefundReview, ProviderError> {
        let _ = (request, refund_ref);
        Ok(RefundReview::Pending)
    }
}
