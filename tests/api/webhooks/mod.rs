//! Webhooks: the endpoints API, its URL rules and modes, and signed, retried delivery to a
//! receiver that verifies every delivery with the `standardwebhooks` library
//! ([`receiver`]). Events are emitted as the producers do, with
//! `tavaro::webhooks::emit` inside a transaction.

mod api;
mod delivery;
pub mod receiver;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::mode::{Account, Mode};
use tavaro::webhooks::{EventType, Subject};

use crate::helpers::{TestApp, TestPartner, spawn_app_with_vars, success_data};

/// A server that may deliver to the receiver on 127.0.0.1 over plain http, retrying after
/// 1 s and 1 s.
pub async fn app_for_receiver(db: PgPool) -> TestApp {
    spawn_app_with_vars(
        db,
        &[
            ("TAVARO_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("TAVARO_WEBHOOK_RETRY_SCHEDULE", "1,1"),
        ],
    )
    .await
}

/// `POST /v1/webhooks` that must succeed; the answer's `data`.
pub async fn create_endpoint(app: &TestApp, key: &str, url: &str, events: Option<Value>) -> Value {
    let mut body = json!({"url": url});
    if let Some(events) = events {
        body["events"] = events;
    }
    success_data(
        app.post_json("/v1/webhooks", key, &body).await,
        StatusCode::CREATED,
    )
    .await
}

/// Emits an event in a transaction of its own, as a producer does in the change's.
pub async fn emit(db: &PgPool, account: Account, kind: EventType, subject: Subject) -> String {
    let mut tx = db.begin().await.unwrap();
    let id = tavaro::webhooks::emit(&mut tx, account, kind, subject)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// The path of a receiver URL (`/ok/a`).
pub fn path_of(url: &str) -> String {
    let rest = url.trim_start_matches("http://");
    rest[rest.find('/').unwrap()..].to_owned()
}

/// A sandbox key of `partner`, which the server knows when this returns.
pub async fn sandbox_key(app: &TestApp, partner: &TestPartner) -> String {
    let key = tavaro::auth::create_key_in(&app.db, partner.id, "Sandbox", Mode::Sandbox)
        .await
        .unwrap();
    app.sync_keys().await;
    key.token.expose().clone()
}

/// The parsed body of a recorded delivery.
pub fn body_of(delivery: &Value) -> Value {
    serde_json::from_str(delivery["body"].as_str().unwrap()).unwrap()
}
