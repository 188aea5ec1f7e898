//! What every provider's tests share: the [`Upstream`] under test (its name, where its API
//! starts, how the gateway is routed to it), the adapter configured against a mock,
//! fixtures, canned answers, what the mock received, the gateway spawned with the adapter
//! routed in, and `catalog sync` runs.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use tavaro::catalog::sync::{SyncReport, sync};
use tavaro::config::Config;
use tavaro::provider::Provider;
use tavaro::provider::airalo::Airalo;
use tavaro::provider::esimaccess::EsimAccess;
use tavaro::provider::esimgo::EsimGo;
use tavaro::provider::roamify::Roamify;
use tavaro::provider::upstream::{BodyLimits, UpstreamConfig};
use tavaro::secret::Secret;
use wiremock::{MockServer, Request, ResponseTemplate};

use crate::helpers::{TestApp, TestPartner, assert_error, spawn_app_with};

/// The credential every mock expects.
pub const CREDENTIAL: &str = "test-credential-7f3a";
/// The second secret (Airalo client secret, eSIM Access signing key).
pub const SECRET: &str = "test-secret-91bc";
/// Per-request time-out the adapters get in tests: short, so time-out tests are quick.
pub const TIMEOUT: Duration = Duration::from_millis(1_500);

/// An upstream adapter under test: what differs between the four providers' tests.
pub trait Upstream: Provider + Sized {
    /// The provider's name: its plans' `provider`, its fixtures' folder.
    const NAME: &'static str;
    /// Where its API starts on the mock server (`/v2`, `/api/v1/open`, ...).
    const BASE: &'static str;

    /// The adapter with `config`.
    fn with_config(config: UpstreamConfig) -> Self;

    /// Routes the gateway's `config` to this provider at `upstream`.
    fn route(config: &mut Config, upstream: UpstreamConfig);

    /// The configuration pointing at `server`'s [`Self::BASE`].
    fn config(server: &MockServer) -> UpstreamConfig {
        upstream_config(server, Self::BASE)
    }

    /// The adapter, pointed at `server`.
    fn against(server: &MockServer) -> Self {
        Self::with_config(Self::config(server))
    }

    /// `tests/fixtures/<NAME>/<name>`, parsed as JSON.
    fn fixture(name: &str) -> Value {
        fixture_json(Self::NAME, name)
    }

    /// The requests `server` received for [`Self::BASE`] + `route`, in order.
    fn requests_to(server: &MockServer, route: &str) -> impl Future<Output = Vec<Request>> + Send {
        let path = format!("{}{route}", Self::BASE);
        async move {
            server
                .received_requests()
                .await
                .expect("request recording is on")
                .into_iter()
                .filter(|r| r.url.path() == path)
                .collect()
        }
    }

    /// Spawns the gateway routed to this provider at `server`.
    fn spawn_gateway(db: PgPool, server: &MockServer) -> impl Future<Output = TestApp> + Send {
        let upstream = Self::config(server);
        spawn_gateway(db, move |config| Self::route(config, upstream))
    }
}

impl Upstream for Airalo {
    const NAME: &'static str = "airalo";
    const BASE: &'static str = "/v2";

    fn with_config(config: UpstreamConfig) -> Self {
        Self::new(config).expect("the HTTP client builds")
    }

    fn route(config: &mut Config, upstream: UpstreamConfig) {
        config.providers.airalo = Some(upstream);
    }
}

impl Upstream for EsimAccess {
    const NAME: &'static str = "esimaccess";
    const BASE: &'static str = "/api/v1/open";

    fn with_config(config: UpstreamConfig) -> Self {
        Self::new(config).expect("the HTTP client builds")
    }

    fn route(config: &mut Config, upstream: UpstreamConfig) {
        config.providers.esimaccess = Some(upstream);
    }
}

impl Upstream for EsimGo {
    const NAME: &'static str = "esimgo";
    const BASE: &'static str = "/v2.4";

    fn with_config(config: UpstreamConfig) -> Self {
        Self::new(config).expect("the HTTP client builds")
    }

    fn route(config: &mut Config, upstream: UpstreamConfig) {
        config.providers.esimgo = Some(upstream);
    }
}

impl Upstream for Roamify {
    const NAME: &'static str = "roamify";
    /// Roamify's paths start with `/api`, which its tests spell out.
    const BASE: &'static str = "";

    fn with_config(config: UpstreamConfig) -> Self {
        Self::new(config).expect("the HTTP client builds")
    }

    fn route(config: &mut Config, upstream: UpstreamConfig) {
        config.providers.roamify = Some(upstream);
    }
}

/// An adapter configuration pointing at `server` (plus `path`, e.g. `/v2`).
pub fn upstream_config(server: &MockServer, path: &str) -> UpstreamConfig {
    UpstreamConfig {
        base_url: format!("{}{path}", server.uri()),
        credential: Secret::new(CREDENTIAL.to_owned()),
        secret: Some(Secret::new(SECRET.to_owned())),
        timeout: TIMEOUT,
        body_limits: BodyLimits::default(),
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

/// 200 with `body` as JSON.
pub fn ok(body: Value) -> ResponseTemplate {
    answer(200, body)
}

/// `status` with `body` as JSON.
pub fn answer(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// The value of header `name` of a received request, if present and text.
pub fn header_of<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The JSON body of a received request.
pub fn json_body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("the request body is JSON")
}

/// Spawns the gateway with `configure` applied (set `config.providers.<name>` there) and
/// a provider time-out long enough for an order's whole exchange with the mock.
pub async fn spawn_gateway(db: PgPool, configure: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(db, |config| {
        config.orders.provider_timeout = Duration::from_secs(5);
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
