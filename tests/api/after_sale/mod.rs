//! After the sale: top-ups (orders of kind `topup`), cancellations of unused eSIMs with
//! their refunds, and live usage (read through, polled), on the simulator and on an
//! upstream behind wiremock.

mod cancel;
mod topups;
mod usage;

use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestPartner, success_data};

/// Fast reconciliation, for scenarios that wait on it.
pub const QUICK: &[(&str, &str)] = &[
    ("TAVARO_PROVIDER_TIMEOUT_MS", "400"),
    ("TAVARO_RECONCILE_POLL_MS", "50"),
    ("TAVARO_RECONCILE_MAX_BACKOFF_SECS", "1"),
];

/// Orders one eSIM of `plan` (201); returns its order's `data`.
pub async fn order_one(app: &TestApp, partner: &TestPartner, plan: &str) -> Value {
    app.place(&partner.key, &json!({"planId": plan}), StatusCode::CREATED)
        .await
}

/// The eSIM view.
pub async fn esim(app: &TestApp, key: &str, id: &str) -> Value {
    success_data(
        app.get(&format!("/v1/esim/{id}"), key).await,
        StatusCode::OK,
    )
    .await
}

/// `POST /v1/esim/{id}/topup` with `body`, and an Idempotency-Key when given.
pub async fn topup(
    app: &TestApp,
    key: &str,
    id: &str,
    body: &Value,
    idem: Option<&str>,
) -> Response {
    let mut request = app
        .client
        .post(format!("{}/v1/esim/{id}/topup", app.address))
        .bearer_auth(key)
        .json(body);
    if let Some(idem) = idem {
        request = request.header("idempotency-key", idem);
    }
    request.send().await.expect("request sent")
}

/// `POST /v1/esim/{id}/cancel`, with an Idempotency-Key when given.
pub async fn cancel(app: &TestApp, key: &str, id: &str, idem: Option<&str>) -> Response {
    let mut request = app
        .client
        .post(format!("{}/v1/esim/{id}/cancel", app.address))
        .bearer_auth(key);
    if let Some(idem) = idem {
        request = request.header("idempotency-key", idem);
    }
    request.send().await.expect("request sent")
}

/// Waits (up to 15 s) until the eSIM view shows `status`; returns the view.
pub async fn wait_for_esim(app: &TestApp, key: &str, id: &str, status: &str) -> Value {
    let started = Instant::now();
    loop {
        let view = esim(app, key, id).await;
        if view["status"] == status {
            return view;
        }
        if started.elapsed() >= Duration::from_secs(15) {
            let cancellation = cancellation_state(app, id).await;
            panic!("eSIM {id} never became {status}: {view}; its cancellation: {cancellation}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where the eSIM's cancellation stands in the reconciler's queue, for a failure's message.
async fn cancellation_state(app: &TestApp, id: &str) -> String {
    let row: Option<(String, f64, i32, Option<String>)> = sqlx::query_as(
        "select status, extract(epoch from run_at - now())::float8, attempts, last_error
           from esim_cancellations where esim_id = $1::uuid",
    )
    .bind(id)
    .fetch_optional(&app.db)
    .await
    .expect("the cancellation is readable");
    match row {
        None => "none".to_owned(),
        Some((status, due_in, attempts, last_error)) => format!(
            "{status}, due in {due_in:.1} s, {attempts} attempts, last error {last_error:?}"
        ),
    }
}

/// The ledger entries of `key`'s account, newest first.
pub async fn entries(app: &TestApp, key: &str) -> Vec<Value> {
    let data = success_data(
        app.get("/v1/balance/transactions?limit=100", key).await,
        StatusCode::OK,
    )
    .await;
    data.as_array().unwrap().clone()
}
