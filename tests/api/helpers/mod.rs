//! Test harness: spawn the app on port 0 against the test database, create partners and
//! keys through the library, and talk HTTP with reqwest; [`server`] runs the real binary.

pub mod postgres;
pub mod server;

use std::path::Path;
use std::sync::Once;

use reqwest::{Response, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use tavaro::catalog::{self, CatalogFile};
use tavaro::config::Config;
use tavaro::http::state::AppState;
use tavaro::ids::PartnerId;
use tavaro::ledger::{self, EntryKind, NewEntry};
use tavaro::money::Cents;
use tavaro::startup::Application;
use tavaro::telemetry::LogFormat;

/// A running server and what tests need to poke at it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// `http://127.0.0.1:PORT` of the separate metrics listener, when one is configured.
    pub metrics_address: Option<String>,
    /// The test database.
    pub db: PgPool,
    /// The server's state (key verifier counters, catalog, ...).
    pub state: AppState,
    /// HTTP client.
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Drop for TestApp {
    /// Stops the server, so its connections go back before the test database is dropped.
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A partner with one working key.
#[derive(Clone, Debug)]
pub struct TestPartner {
    pub id: PartnerId,
    pub key: String,
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // `TEST_LOG=1 cargo test` shows the server's logs.
        if std::env::var("TEST_LOG").is_ok() {
            tavaro::telemetry::init(LogFormat::Text, "debug,sqlx=warn", std::io::stdout);
        } else {
            tavaro::telemetry::init(LogFormat::Text, "off", std::io::sink);
        }
    });
}

/// The configuration tests start from: defaults, port 0, no environment.
pub fn test_config() -> Config {
    test_config_with(&[])
}

/// The test configuration with `vars` set as environment variables would be (they win
/// over the test defaults).
pub fn test_config_with(vars: &[(&str, &str)]) -> Config {
    Config::from_vars(|name| {
        if let Some((_, value)) = vars.iter().find(|(k, _)| *k == name) {
            return Some((*value).to_owned());
        }
        match name {
            "DATABASE_URL" => Some("postgres://unused-the-pool-is-given".to_owned()),
            "TAVARO_LISTEN_ADDR" => Some("127.0.0.1:0".to_owned()),
            // Port 0: tests run many servers at once, each with its own metrics listener.
            "TAVARO_METRICS_ADDR" => Some("127.0.0.1:0".to_owned()),
            // Business-logic tests fire bursts, all from 127.0.0.1; the limiters have their
            // own tests.
            "TAVARO_RATE_LIMIT_PER_SEC"
            | "TAVARO_RATE_LIMIT_BURST"
            | "TAVARO_ORDER_RATE_LIMIT_PER_SEC"
            | "TAVARO_ORDER_RATE_LIMIT_BURST"
            | "TAVARO_PUBLIC_RATE_LIMIT_PER_SEC"
            | "TAVARO_PUBLIC_RATE_LIMIT_BURST" => Some("1000000".to_owned()),
            _ => None,
        }
    })
    .expect("test configuration is valid")
}

/// Spawns the app with the demo catalog loaded.
pub async fn spawn_app(db: PgPool) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

/// Spawns the app with the demo catalog and an adjusted configuration.
pub async fn spawn_app_with(db: PgPool, configure: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config();
    configure(&mut config);
    spawn_app_configured(db, config).await
}

/// Spawns the app with the demo catalog and environment variables `vars` set over the
/// test configuration (e.g. `[("TAVARO_MAX_CONNECTIONS", "4")]`).
pub async fn spawn_app_with_vars(db: PgPool, vars: &[(&str, &str)]) -> TestApp {
    spawn_app_configured(db, test_config_with(vars)).await
}

async fn spawn_app_configured(db: PgPool, config: Config) -> TestApp {
    init_logs();
    import_demo_catalog(&db).await;
    let served = server_pool(&db).await;
    let app = Application::build_with_pool(config, served)
        .await
        .expect("the app builds");
    let address = format!("http://{}", app.address());
    let metrics_address = app.metrics_address().map(|a| format!("http://{a}"));
    let state = app.state().clone();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        metrics_address,
        db,
        state,
        client: reqwest::Client::new(),
        server,
    }
}

/// A pool like `db` (its size, time-outs and checks) on the same database, as the server's
/// own role, `tavaro_app` (what `make run` serves as): every test then shows the server
/// works without owning a table. `db` itself, the test's, stays the owner's.
pub async fn server_pool(db: &PgPool) -> PgPool {
    let options = (*db.connect_options())
        .clone()
        .options([("role", "tavaro_app")]);
    db.options()
        .clone()
        .connect_with(options)
        .await
        .expect("the test database answers as tavaro_app")
}

/// Loads `catalog/demo.json` into the database.
pub async fn import_demo_catalog(db: &PgPool) {
    let file = CatalogFile::read(&demo_catalog_path()).expect("the demo catalog is valid");
    catalog::import_file(db, &file)
        .await
        .expect("the demo catalog imports");
}

/// Path of the demo catalog.
pub fn demo_catalog_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog/demo.json")
}

impl TestApp {
    /// Creates a partner with `credits` dollars and one key labelled `Production`, which
    /// this server knows when this returns.
    pub async fn create_partner(
        &self,
        name: &str,
        markup_percent: &str,
        credits: &str,
    ) -> TestPartner {
        let partner = create_partner(&self.db, name, markup_percent, credits).await;
        self.sync_keys().await;
        partner
    }

    /// A new key for an existing partner, which this server knows when this returns.
    pub async fn create_key(&self, partner: &TestPartner, label: &str) -> (String, String) {
        let key = tavaro::auth::create_key(&self.db, partner.id, label)
            .await
            .unwrap();
        self.sync_keys().await;
        (key.id.to_string(), key.token.expose().clone())
    }

    /// Brings the server's key directory up to date now: what the NOTIFY sent by key
    /// creation does a moment later, without the race between the two.
    pub async fn sync_keys(&self) {
        self.state.keys.refresh_if_changed(&self.db).await.unwrap();
    }

    /// GET with a bearer key.
    pub async fn get(&self, path: &str, key: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .bearer_auth(key)
            .send()
            .await
            .expect("request sent")
    }

    /// POST a JSON body with a bearer key.
    pub async fn post_json(&self, path: &str, key: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /v1/order`.
    pub async fn order(&self, key: &str, body: &Value) -> Response {
        self.post_json("/v1/order", key, body).await
    }

    /// Places an order that must answer `status`; returns the response's `data`.
    pub async fn place(&self, key: &str, body: &Value, status: StatusCode) -> Value {
        success_data(self.order(key, body).await, status).await
    }

    /// `POST /v1/order` with an Idempotency-Key.
    pub async fn order_idempotently(
        &self,
        key: &str,
        idempotency_key: &str,
        body: &Value,
    ) -> Response {
        self.client
            .post(format!("{}/v1/order", self.address))
            .bearer_auth(key)
            .header("idempotency-key", idempotency_key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `GET /metrics` on the metrics listener: the Prometheus text.
    pub async fn scrape_metrics(&self) -> String {
        let base = self
            .metrics_address
            .as_deref()
            .expect("the test configuration has a metrics listener");
        let response = self
            .client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("a text body")
    }

    /// `host:port` of the partner listener, for raw TCP.
    pub fn socket_address(&self) -> &str {
        self.address.trim_start_matches("http://")
    }

    /// Fails the test if the ledger invariants do not hold.
    pub async fn assert_ledger_sound(&self) {
        assert_ledger_sound(&self.db).await;
    }

    /// Live balance in cents, straight from the database.
    pub async fn balance_cents(&self, partner: PartnerId) -> i64 {
        sqlx::query_scalar::<_, i64>(
            "select balance_cents from balances where partner_id = $1 and mode = 'live'",
        )
        .bind(partner.0)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Sum of the partner's live ledger entries, in cents.
    pub async fn ledger_sum(&self, partner: PartnerId) -> i64 {
        sqlx::query_scalar::<_, Option<i64>>(
            "select sum(amount_cents)::bigint from ledger_entries
             where partner_id = $1 and mode = 'live'",
        )
        .bind(partner.0)
        .fetch_one(&self.db)
        .await
        .unwrap()
        .unwrap_or(0)
    }

    /// Number of rows in a table for a partner.
    pub async fn count(&self, table: &str, partner: PartnerId) -> i64 {
        sqlx::query_scalar::<_, i64>(&format!(
            "select count(*) from {table} where partner_id = $1"
        ))
        .bind(partner.0)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }
}

/// Creates a partner with `credits` dollars and one key labelled `Production`.
pub async fn create_partner(
    db: &PgPool,
    name: &str,
    markup_percent: &str,
    credits: &str,
) -> TestPartner {
    let markup = tavaro::partners::parse_markup_percent(markup_percent).unwrap();
    let mut tx = db.begin().await.unwrap();
    let partner = tavaro::partners::create(&mut tx, name, markup)
        .await
        .unwrap();
    let amount = Cents::parse_dollars(credits).unwrap();
    if amount > Cents::ZERO {
        ledger::post(
            &mut tx,
            NewEntry {
                account: tavaro::mode::Account::live(partner.id),
                kind: EntryKind::Topup,
                amount,
                order: None,
                esim: None,
                note: Some("test credits"),
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let key = tavaro::auth::create_key(db, partner.id, "Production")
        .await
        .unwrap();
    TestPartner {
        id: partner.id,
        key: key.token.expose().clone(),
    }
}

/// Runs `tavaro ledger verify` (the library function behind it) and fails the test on any
/// finding. Every scenario that moves money ends with it.
pub async fn assert_ledger_sound(db: &PgPool) {
    let report = ledger::verify(db).await.expect("ledger verification runs");
    assert!(
        report.findings.is_empty(),
        "ledger findings: {:#?}",
        report.findings
    );
}

/// Polls `GET path` with `key` until it answers `status`, for at most 5 s (the promise
/// for revocations and suspensions), and returns that response.
pub async fn wait_for_status(app: &TestApp, path: &str, key: &str, status: StatusCode) -> Response {
    let started = std::time::Instant::now();
    loop {
        let response = app.get(path, key).await;
        if response.status() == status {
            return response;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{path} still answers {} after 5 s, expected {status}",
            response.status()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Polls `GET /v1/orders/{id}` until the order reaches `status` (10 s at most).
pub async fn wait_for_order(app: &TestApp, key: &str, order_id: &str, status: &str) -> Value {
    let started = std::time::Instant::now();
    loop {
        let data = success_data(
            app.get(&format!("/v1/orders/{order_id}"), key).await,
            StatusCode::OK,
        )
        .await;
        if data["status"] == status {
            return data;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "order {order_id} is still {} after 10 s, expected {status}",
            data["status"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Asserts an error response: status, `code`, envelope shape, JSON content type and a
/// request id. Returns the body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "unexpected status for {code}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type}"
    );
    let request_id = response.headers().get("x-request-id").cloned();
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    let request_id = request_id.expect("x-request-id header");
    assert_eq!(body["requestId"], request_id.to_str().unwrap(), "{body}");
    body
}

/// Reads a success envelope, asserting the status, and returns `data`.
pub async fn success_data(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(body["status"], "success", "{body}");
    body["data"].clone()
}

/// Dollars in a JSON number, as cents (exact for two decimals).
pub fn cents(value: &Value) -> i64 {
    (value.as_f64().expect("a number") * 100.0).round() as i64
}

/// The database URL of the test database behind `db` (for running the CLI).
pub fn database_url_of(db: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for tests");
    let name = db
        .connect_options()
        .get_database()
        .expect("a database name")
        .to_owned();
    let (without_query, query) = match base.split_once('?') {
        Some((url, q)) => (url.to_owned(), format!("?{q}")),
        None => (base.clone(), String::new()),
    };
    let prefix = without_query
        .rsplit_once('/')
        .map_or(without_query.as_str(), |(p, _)| p);
    format!("{prefix}/{name}{query}")
}

/// Backends of this test's database waiting for a lock.
pub async fn lock_waiters(db: &PgPool) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity
         where datname = current_database() and wait_event_type = 'Lock'",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

/// Waits (10 s at most) until `waiters` backends of this test's database wait for a lock.
pub async fn wait_for_lock_waiters(db: &PgPool, waiters: i64) {
    let started = std::time::Instant::now();
    while lock_waiters(db).await < waiters {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "fewer than {waiters} statements ever waited for a lock"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
