//! The test receiver (`receiver.py`): a Python HTTP server that records every delivery
//! and verifies them with the `standardwebhooks` library, in the venv
//! `scripts/webhooks-venv` makes.

use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running receiver; stopped when dropped.
pub struct Receiver {
    _child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    client: reqwest::Client,
}

/// The venv's python, made once per test run.
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/webhooks-venv");
        let out = std::process::Command::new(script)
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/webhooks-venv runs");
        assert!(out.status.success(), "scripts/webhooks-venv failed");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    })
}

impl Receiver {
    /// Starts a receiver on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let python = tokio::task::spawn_blocking(python).await.unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/webhooks/receiver.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the receiver starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the receiver announces its port")
            .unwrap()
            .expect("the receiver exited");
        let port = line.strip_prefix("listening on ").expect("its port").trim();
        Self {
            _child: child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    /// The URL of an endpoint answering as `behaviour` (`ok`, `fail`, `fail-once`,
    /// `hang`), told apart by `tag`.
    pub fn url(&self, behaviour: &str, tag: &str) -> String {
        format!("{}/{behaviour}/{tag}", self.base)
    }

    /// Every delivery recorded, in arrival order.
    pub async fn deliveries(&self) -> Vec<Value> {
        let response = self
            .client
            .get(format!("{}/_deliveries", self.base))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    /// The deliveries recorded at `path` (`/ok/a`).
    pub async fn deliveries_to(&self, path: &str) -> Vec<Value> {
        self.deliveries()
            .await
            .into_iter()
            .filter(|d| d["path"] == path)
            .collect()
    }

    /// Each delivery at `path`, verified by `standardwebhooks.Webhook(secret).verify`:
    /// `{"id", "path", "verified": bool, "error"?}`.
    pub async fn verify(&self, secret: &str, path: &str) -> Vec<Value> {
        let response = self
            .client
            .post(format!("{}/_verify", self.base))
            .json(&json!({"secret": secret, "path": path}))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    /// Waits (up to `within`) until `path` has received at least `count` deliveries;
    /// returns them.
    pub async fn wait_for(&self, path: &str, count: usize, within: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let got = self.deliveries_to(path).await;
            if got.len() >= count {
                return got;
            }
            assert!(
                started.elapsed() < within,
                "{path} received {} deliveries in {within:?}, expected {count}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
