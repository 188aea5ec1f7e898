//! Upstream eSIM providers behind one trait. The gateway sells; a provider issues the
//! eSIMs. A provider never moves money: only `orders` calls both the ledger and a provider.
//!
//! Every failure is classified by what it tells us about the upstream's side effects:
//! [`ProviderError::Rejected`] and [`ProviderError::Unavailable`] mean nothing was issued
//! (safe to refund); [`ProviderError::Unknown`] means it may have been (a time-out, a
//! dropped connection): never refund on that without asking the provider first.

pub mod simulator;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::config::{Config, ProviderKind};
use crate::esims::EsimStatus;
use crate::ids::OrderId;

/// What to issue.
#[derive(Clone, Debug)]
pub struct ProvisionRequest {
    /// Our order id: sent upstream as the client reference wherever the API takes one, so
    /// an order with an unknown outcome can be found again.
    pub order_ref: OrderId,
    /// The plan (our id; adapters map it to the upstream's SKU).
    pub plan_id: String,
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
    /// 19-digit ICCID.
    pub iccid: String,
    /// SM-DP+ server address.
    pub smdp_address: String,
    /// Activation (matching) code. Secret-ish: never logged.
    pub activation_code: String,
    /// The upstream's own id for this eSIM, when it has one.
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
}

/// A failed provider call, classified by its side effects.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The provider definitively refused (out of stock, bad plan, its credit exhausted):
    /// nothing was issued.
    #[error("provider refused: {0}")]
    Rejected(String),
    /// The provider could not be reached at all (connection refused before the request
    /// was sent): nothing was issued.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The request may or may not have taken effect (time-out, connection dropped after
    /// sending, malformed answer). Settle by asking the provider, never by guessing.
    #[error("provider outcome unknown: {0}")]
    Unknown(String),
}

/// What the upstream knows about one of our orders, asked by our reference after an
/// unknown outcome.
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

/// An upstream that issues eSIMs.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Short name stored on orders (`simulator`, `airalo`, ...).
    fn name(&self) -> &'static str;

    /// Issues `request.quantity` eSIMs. Called after the debit is committed, never inside
    /// a database transaction.
    async fn provision(&self, request: &ProvisionRequest) -> Result<Provisioned, ProviderError>;

    /// What became of an order, by our reference (read-only, safe to repeat).
    async fn lookup(&self, order_ref: OrderId) -> Result<OrderLookup, ProviderError>;

    /// Current usage and status of an eSIM it issued.
    async fn usage(&self, iccid: &str) -> Result<EsimUsage, ProviderError>;
}

/// The provider selected by the configuration.
pub fn from_config(config: &Config, db: &PgPool) -> Arc<dyn Provider> {
    match config.provider {
        ProviderKind::Simulator => Arc::new(simulator::Simulator::new(
            db.clone(),
            config.simulator.clone(),
        )),
    }
}
