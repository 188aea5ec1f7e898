//! The state every request handler receives through axum's `State`: the HTTP side's
//! handles onto the domain, built once by `startup`.

use std::sync::Arc;

use sqlx::PgPool;

use super::HttpConfig;
use super::catalog::cache::AnswerCache;
use super::rate_limit::RateLimits;
use crate::auth::KeyVerifier;
use crate::catalog::Catalog;
use crate::esims::UsageCache;
use crate::ledger::BalanceReader;
use crate::orders::Orders;
use crate::provider::Registry;

/// Cheap to clone: one reference count. Every request clones the state several times
/// (each middleware, the handler) and drops the clones again, so the fields sit behind
/// one shared counter rather than one each. Fields are reached through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state of one server.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// The Postgres pool: the source of truth.
    pub db: PgPool,
    /// The HTTP settings read at start-up.
    pub http: HttpConfig,
    /// Public base URL of this server (`qrCodeUrl`s start with it), without trailing `/`.
    pub public_base_url: String,
    /// API key verification with its in-memory cache.
    pub keys: KeyVerifier,
    /// The in-memory catalog snapshot.
    pub catalog: Catalog,
    /// Catalog answers rendered once per snapshot.
    pub catalog_answers: AnswerCache,
    /// The order workflow.
    pub orders: Orders,
    /// The upstreams, for eSIM usage refreshes.
    pub providers: Arc<Registry>,
    /// Which eSIMs' usage was read lately (`TAVARO_USAGE_TTL_SECS`).
    pub usage_cache: UsageCache,
    /// Per-partner rate limits of this process.
    pub rate_limits: RateLimits,
    /// Coalesced balance reads for `GET /v1/balance`.
    pub balances: BalanceReader,
    /// Webhook settings: the URL rules' override, the retry schedule.
    pub webhooks: crate::webhooks::WebhooksConfig,
    /// The last readiness check of Postgres, shared by `/readyz` probes.
    pub(crate) readiness: super::health::Readiness,
}
