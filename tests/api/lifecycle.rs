//! The gateway's life as a process: readiness follows the database, a bad configuration
//! stops the start with one line, `config check` redacts secrets, and a SIGTERM lets an
//! order in flight finish before a clean exit.

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
use crate::helpers::{create_partner, database_url_of, import_demo_catalog, test_config};

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

#[sqlx::test]
async fn readiness_asks_the_database_at_most_once_a_second(db: PgPool) {
    let app = crate::helpers::spawn_app(db).await;
    let ready = || async {
        app.client
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .unwrap()
            .status()
    };
    let checked = Instant::now();
    assert_eq!(ready().await, StatusCode::OK);
    // Every query of the server fails from here on (its pool is closed at once; the future
    // only waits for the connections to go, and the server's change listener keeps one, so
    // it is never awaited).
    let closing = app.state.db.close();
    let mut answered = 0;
    while checked.elapsed() < Duration::from_millis(600) {
        assert_eq!(
            ready().await,
            StatusCode::OK,
            "answered from the last check"
        );
        answered += 1;
    }
    assert!(answered >= 10, "{answered}");
    tokio::time::sleep(Duration::from_millis(1_500).saturating_sub(checked.elapsed())).await;
    assert_eq!(ready().await, StatusCode::SERVICE_UNAVAILABLE);
    drop(closing);
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

#[test]
fn config_check_warns_when_the_public_base_url_is_unset_or_not_https() {
    let check = |base_url: Option<&str>, args: &[&str]| {
        let mut command = StdCommand::new(env!("CARGO_BIN_EXE_tavaro"));
        command
            .args(["config", "check"])
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("TAVARO_PUBLIC_BASE_URL")
            .env("DATABASE_URL", "postgres://x@h/y");
        if let Some(url) = base_url {
            command.env("TAVARO_PUBLIC_BASE_URL", url);
        }
        command.output().unwrap()
    };
    for base_url in [None, Some("http://gateway.example.com")] {
        let output = check(base_url, &[]);
        assert!(
            output.status.success(),
            "a warning, not a failure: {output:?}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.lines().any(|l| l.starts_with("warning:")
                && l.contains("TAVARO_PUBLIC_BASE_URL")
                && l.contains("https")),
            "{base_url:?}: {stderr}"
        );
        // --strict turns the warning into the one-line failure.
        let line = one_error_line(&check(base_url, &["--strict"]));
        assert!(
            line.starts_with("error:") && line.contains("TAVARO_PUBLIC_BASE_URL"),
            "{line}"
        );
    }
    let output = check(Some("https://gateway.example.com"), &["--strict"]);
    assert!(output.status.success(), "{output:?}");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("warning"),
        "{output:?}"
    );
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
