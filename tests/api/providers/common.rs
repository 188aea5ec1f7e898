//! What every provider's tests share: a mock upstream, the adapter configured against it,
//! the gateway spawned with that adapter routed in, fixtures, and `catalog sync` runs.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use tavaro::catalog::sync::{SyncReport, sync};
use tavaro::config::{Config, Secret};
use tavaro::provider::Provider;
use tavaro::provider::upstream::UpstreamConfig;
use wiremock::MockServer;

use crate::helpers::{TestApp, TestPartner, assert_error, spawn_app_with};

/// The credential every mock expects.
pub const CREDENTIAL: &str = "test-credential-7f3a";
/// The second secret (Airalo client secret, eSIM Access signing key).
pub const SECRET: &str = "test-secret-91bc";
/// Per-request time-out the adapters get in tests: short, so time-out tests are quick.
pub const TIMEOUT: Duration = Duration::from_millis(1_500);

/// An adapter configuration pointing at `server` (plus `path`, e.g. `/v2`).
pub fn upstream_config(server: &MockServer, path: &str) -> UpstreamConfig {
    UpstreamConfig {
        base_url: format!("{}{path}", server.uri()),
        credential: Secret::new(CREDENTIAL.to_owned()),
        secret: Some(Secret::new(SECRET.to_owned())),
        timeout: TIMEOUT,
    }
}

/// The text of `tests/fixtures/<provider>/<name>`.
pub fn fixture(provider: &str, name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(provider)
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fixture parsed as JSON.
pub fn fixture_json(provider: &str, name: &str) -> Value {
    serde_json::from_str(&fixture(provider, name)).expect("fixture is JSON")
}

/// Spawns the gateway with `configure` applied (set `config.providers.<name>` there) and
/// a provider time-out long enough for an order's whole exchange with the mock.
pub async fn spawn_gateway(db: PgPool, configure: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(db, |config| {
        config.provider_timeout = Duration::from_secs(5);
        configure(config);
    })
    .await
}

/// Runs `catalog sync` for the app's configured `provider` at a 20% margin and reloads
/// the app's catalog snapshot, as the NOTIFY would.
pub async fn sync_into(app: &TestApp, provider: &str) -> SyncReport {
    let upstream = app
        .state
        .providers
        .get(provider)
        .unwrap_or_else(|| panic!("{provider} is configured"))
        .clone();
    let report = sync_with(&app.db, upstream.as_ref()).await;
    app.state.catalog.reload(&app.db).await.unwrap();
    report
}

/// Runs `catalog sync` for `provider` at a 20% margin.
pub async fn sync_with(db: &PgPool, provider: &dyn Provider) -> SyncReport {
    sync(db, provider, 2000).await.expect("catalog sync runs")
}

/// The plan id `catalog sync` gave the provider's package `sku`.
pub async fn plan_for_sku(db: &PgPool, provider: &str, sku: &str) -> String {
    sqlx::query_scalar::<_, String>(
        "select id from plans where provider = $1 and provider_sku = $2",
    )
    .bind(provider)
    .bind(sku)
    .fetch_one(db)
    .await
    .unwrap_or_else(|e| panic!("no plan for {provider} {sku}: {e}"))
}

/// Orders `body` through the gateway and expects it refused with `status` and `code`, the
/// partner's opening 100.00 intact (never debited, or refunded) and the ledger sound.
/// Returns the error body.
pub async fn order_refused_with_credits_intact(
    app: &TestApp,
    partner: &TestPartner,
    body: &Value,
    status: StatusCode,
    code: &str,
) -> Value {
    let refused = assert_error(app.order(&partner.key, body).await, status, code).await;
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    app.assert_ledger_sound().await;
    refused
}
