//! The real binary as partners and operators meet it: a `tavaro serve` process on the
//! test database, its logs captured, stopped by a signal or by its own crash.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{TestPartner, database_url_of};

/// A `tavaro serve` process on the test database.
pub struct Server {
    /// The process; killed when the `Server` is dropped.
    pub child: Child,
    /// `http://127.0.0.1:PORT`, as the server announced it.
    pub base: String,
    /// `http://127.0.0.1:PORT` of its metrics listener, as the server announced it.
    pub metrics_base: Option<String>,
    /// Everything the server printed on stdout (its logs), line by line.
    pub output: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `tavaro serve` on port 0 with short provider and reconciler timings, `env`
    /// applied last, and waits until it announces its address.
    pub async fn start(db: &PgPool, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tavaro"));
        command
            .arg("serve")
            .env("DATABASE_URL", database_url_of(db))
            .env("TAVARO_LISTEN_ADDR", "127.0.0.1:0")
            // Many servers run at once: none may take the default metrics port.
            .env("TAVARO_METRICS_ADDR", "127.0.0.1:0")
            .env("TAVARO_PROVIDER_TIMEOUT_MS", "400")
            .env("TAVARO_RECONCILE_POLL_MS", "50")
            .env("TAVARO_RECONCILE_MAX_BACKOFF_SECS", "1")
            .env("RUST_LOG", "error")
            .env_remove("TAVARO_FAILPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("tavaro serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut metrics_base = None;
        let base = loop {
            let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
                .await
                .expect("the server announces its address")
                .unwrap()
                .expect("the server exited before listening");
            if let Some(address) = line.strip_prefix("Tavaro gateway metrics on ") {
                metrics_base = Some(address.trim().trim_end_matches("/metrics").to_owned());
            }
            if let Some(address) = line.strip_prefix("Tavaro gateway listening on ") {
                break address.trim().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = output.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            base,
            metrics_base,
            output,
        }
    }

    /// `POST /v1/order` with an Idempotency-Key; an `Err` when no answer came (the server
    /// died first).
    pub async fn order(
        &self,
        partner: &TestPartner,
        idempotency_key: &str,
        body: &Value,
    ) -> reqwest::Result<reqwest::Response> {
        reqwest::Client::new()
            .post(format!("{}/v1/order", self.base))
            .bearer_auth(&partner.key)
            .header("idempotency-key", idempotency_key)
            .json(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await
    }

    /// Sends SIGTERM, as an orchestrator stopping the process does.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("the server is running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM was delivered to {pid}");
    }

    /// Waits up to `limit` for the process to exit, and returns how it exited.
    pub async fn exit_status(&mut self, limit: Duration) -> ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("the server exits in time")
            .unwrap()
    }
}
