//! The state every request handler receives through axum's `State`.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::KeyVerifier;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::http::rate_limit::RateLimits;
use crate::provider::Registry;

/// Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    /// The Postgres pool: the source of truth.
    pub db: PgPool,
    /// Configuration read at start-up.
    pub config: Arc<Config>,
    /// Public base URL of this server (`qrCodeUrl`s start with it), without trailing `/`.
    pub public_base_url: Arc<str>,
    /// API key verification with its in-memory cache.
    pub keys: Arc<KeyVerifier>,
    /// The in-memory catalog snapshot.
    pub catalog: Catalog,
    /// The upstreams that issue eSIMs, by name (plans say which one).
    pub providers: Arc<Registry>,
    /// Per-partner rate limits of this process.
    pub rate_limits: Arc<RateLimits>,
}
