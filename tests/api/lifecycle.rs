//! Running the gateway: readiness follows the database, metrics move with traffic, a bad
//! configuration stops the start with one line, `config check` redacts secrets, and a
//! SIGTERM lets an order in flight finish.

use std::net::SocketAddr;
use std::process::Command as StdCommand;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tavaro::startup::Application;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::server::Server;
use crate::helpers::{
    create_partner, database_url_of, import_demo_catalog, spawn_app, spawn_app_with, test_config,
};

/// A TCP relay between the gateway and Postgres that a test can cut and restore: from
/// the gateway's side, the database goes away and comes back.
struct Relay {
    address: SocketAddr,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Self {
        let relay = Self {
            address: "127.0.0.1:0".parse().unwrap(),
            target,
            tasks: Arc::default(),
        };
        relay.listen(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    fn listen(mut self, listener: TcpListener) -> Self {
        self.address = listener.local_addr().unwrap();
        let (target, tasks) = (self.target, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(accept);
        self
    }

    /// Closes the listener and every relayed connection.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same address.
    async fn restore(self) -> Self {
        let listener = TcpListener::bind(self.address).await.unwrap();
        self.listen(listener)
    }
}

async fn ready_status(client: &reqwest::Client, base: &str) -> StatusCode {
    client
        .get(format!("{base}/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::GATEWAY_TIMEOUT)
}

async fn wait_for_ready_status(client: &reqwest::Client, base: &str, want: StatusCode) {
    let started = Instant::now();
    while ready_status(client, base).await != want {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "/readyz never answered {want}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[sqlx::test]
async fn readiness_turns_503_while_the_database_is_gone_and_200_when_it_returns(db: PgPool) {
    import_demo_catalog(&db).await;
    let url = database_url_of(&db);
    let target: SocketAddr = {
        let host = url.split('@').nth(1).unwrap().split('/').next().unwrap();
        tokio::net::lookup_host(host).await.unwrap().next().unwrap()
    };
    let relay = Relay::start(target).await;
    let relayed = url.replacen(
        &url.split('@')
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned(),
        &relay.address.to_string(),
        1,
    );
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(1))
        .connect(&relayed)
        .await
        .unwrap();
    let app = Application::build_with_pool(test_config(), pool)
        .await
        .unwrap();
    let base = format!("http://{}", app.address());
    let server = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();

    assert_eq!(ready_status(&client, &base).await, StatusCode::OK);
    relay.cut();
    wait_for_ready_status(&client, &base, StatusCode::SERVICE_UNAVAILABLE).await;
    let body: Value = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable", "{body}");
    // Liveness does not depend on the database.
    let live = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);

    let relay = relay.restore().await;
    wait_for_ready_status(&client, &base, StatusCode::OK).await;
    server.abort();
    relay.cut();
}

/// The value of the first sample of `metric` whose labels contain every `label`.
fn sample(text: &str, metric: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(metric) && !line.starts_with('#'))
        .find(|line| labels.iter().all(|l| line.contains(l)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[sqlx::test]
async fn metrics_count_requests_orders_key_checks_and_provider_calls(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let scrape = || async {
        let response = app
            .client
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        response.text().await.unwrap()
    };
    let route = r#"route="/v1/balance""#;
    let before = scrape().await;
    for _ in 0..3 {
        app.get("/v1/balance", &partner.key).await;
    }
    app.get("/v1/balance", "tvr_not-a-key").await;
    app.place(
        &partner.key,
        &json!({"planId": "ae-1gb-7d", "quantity": 1}),
        StatusCode::CREATED,
    )
    .await;
    let after = scrape().await;

    let delta = |metric: &str, labels: &[&str]| {
        sample(&after, metric, labels) - sample(&before, metric, labels)
    };
    assert_eq!(
        delta("tavaro_http_requests_total", &[route, r#"status="200""#]),
        3.0
    );
    assert!(delta("tavaro_http_requests_total", &[route, r#"status="401""#]) >= 1.0);
    assert!(
        delta(
            "tavaro_http_request_duration_seconds_count",
            &[route, r#"status="200""#]
        ) >= 3.0
    );
    assert!(delta("tavaro_orders_total", &[r#"outcome="completed""#]) >= 1.0);
    assert!(
        delta(
            "tavaro_provider_calls_total",
            &[
                r#"provider="simulator""#,
                r#"operation="provision""#,
                r#"outcome="ok""#
            ]
        ) >= 1.0
    );
    assert!(delta("tavaro_key_cache_lookups_total", &[r#"result="hit""#]) >= 2.0);
    // The verifier's own counters are exported as they stand at scrape time (one server
    // per process in production; here other tests' servers share the registry).
    assert!(app.state.keys.rejected_early() >= 1);
    assert!(after.contains("tavaro_keys_rejected_without_lookup_total"));
    assert!(after.contains("tavaro_key_lookup_queries_total"));
    assert!(after.contains("tavaro_reconcile_backlog"));
    assert_eq!(
        sample(&after, "tavaro_partners_below_low_balance_threshold", &[]),
        0.0
    );
    // Below a $200 threshold with $92.50 left: counted at the next scrape.
    tavaro::partners::set_low_balance_threshold(
        &app.db,
        partner.id,
        tavaro::money::Cents::new(20_000),
    )
    .await
    .unwrap();
    let flagged = scrape().await;
    assert_eq!(
        sample(&flagged, "tavaro_partners_below_low_balance_threshold", &[]),
        1.0
    );
    // Metrics name routes, never keys.
    assert!(!after.contains(&partner.key));
}

#[sqlx::test]
async fn metrics_can_live_on_their_own_address_only(db: PgPool) {
    let app = spawn_app_with(db, |config| {
        config.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let on_main = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(on_main.status(), StatusCode::NOT_FOUND);
}

fn tavaro(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut command = StdCommand::new(env!("CARGO_BIN_EXE_tavaro"));
    command.args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn one_error_line(output: &std::process::Output) -> String {
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    lines[0].to_owned()
}

#[test]
fn a_bad_database_url_stops_the_start_with_one_line_naming_it() {
    let line = one_error_line(&tavaro(&[("DATABASE_URL", "mysql://nope")], &["serve"]));
    assert!(line.starts_with("error: DATABASE_URL is invalid"), "{line}");
    let line = one_error_line(&tavaro(
        &[
            ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
            ("TAVARO_LISTEN_ADDR", "127.0.0.1:0"),
        ],
        &["serve"],
    ));
    assert!(
        line.contains("DATABASE_URL") && line.contains("refused"),
        "{line}"
    );
    let line = one_error_line(&tavaro(
        &[
            ("DATABASE_URL", "postgres://x@127.0.0.1:1/y"),
            ("TAVARO_PROVIDER_TIMEOUT_MS", "soon"),
        ],
        &["serve"],
    ));
    assert!(line.contains("TAVARO_PROVIDER_TIMEOUT_MS"), "{line}");
}

#[test]
fn config_check_prints_the_effective_settings_with_secrets_redacted() {
    let output = tavaro(
        &[
            ("DATABASE_URL", "postgres://tavaro:hunter2@db:5432/tavaro"),
            ("TAVARO_AIRALO_CLIENT_ID", "airalo-id-123"),
            ("TAVARO_AIRALO_CLIENT_SECRET", "airalo-secret-456"),
            ("LOG_FORMAT", "json"),
        ],
        &["config", "check", "--json"],
    );
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let settings: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        settings["DATABASE_URL"],
        "postgres://tavaro:[REDACTED]@db:5432/tavaro"
    );
    assert_eq!(settings["TAVARO_AIRALO_CLIENT_SECRET"], "[REDACTED]");
    assert_eq!(settings["LOG_FORMAT"], "json");
    assert_eq!(settings["TAVARO_MAX_BODY_BYTES"], "65536");
    for secret in ["hunter2", "airalo-id-123", "airalo-secret-456"] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    let line = one_error_line(&tavaro(
        &[("DATABASE_URL", "postgres://x@h/y"), ("LOG_FORMAT", "xml")],
        &["config", "check"],
    ));
    assert!(line.contains("LOG_FORMAT"), "{line}");
}

#[sqlx::test]
async fn sigterm_during_an_order_lets_it_complete_then_exits_cleanly(db: PgPool) {
    import_demo_catalog(&db).await;
    let partner = create_partner(&db, "acme", "0", "100.00").await;
    let mut server = Server::start(
        &db,
        &[
            ("TAVARO_SIM_LATENCY_MS", "1500"),
            ("TAVARO_PROVIDER_TIMEOUT_MS", "10000"),
        ],
    )
    .await;
    let order = {
        let base = server.base.clone();
        let key = partner.key.clone();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/v1/order"))
                .bearer_auth(key)
                .json(&json!({"planId": "ae-5gb-7d", "quantity": 1}))
                .timeout(Duration::from_secs(20))
                .send()
                .await
        })
    };
    // The order is with the (slow) provider when the signal arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.terminate();

    let response = order
        .await
        .unwrap()
        .expect("the in-flight order is answered");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["status"], "completed", "{body}");
    let status = server.exit_status(Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status}");
    let completed: i64 =
        sqlx::query_scalar("select count(*) from orders where status = 'completed'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(completed, 1);
    crate::helpers::assert_ledger_sound(&db).await;
}
