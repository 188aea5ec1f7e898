//! The delivery worker every server runs: claims due deliveries (`FOR UPDATE SKIP LOCKED`
//! with a lease, so any number of servers share the queue and no attempt is made twice),
//! renders each event's body on first dispatch, signs it, POSTs it with a 10 s limit and
//! records the attempt. Deliveries run concurrently, at most [`CONCURRENCY`] per server,
//! each in its own task and never inside a database transaction: a slow endpoint holds
//! one slot, not the queue, and never an order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::http::events::EventView;
use crate::http::state::AppState;
use crate::webhooks::endpoints::DeliveryStatus;
use crate::webhooks::outbox::{self, AttemptOutcome, Claimed, KEPT_RESPONSE_BYTES};
use crate::webhooks::{signing, url};

/// Deliveries one server sends at once.
pub(crate) const CONCURRENCY: usize = 32;

/// Pause between two looks at the queue when it had nothing due.
const POLL: Duration = Duration::from_millis(250);

/// Runs until `stop` is set, then lets the attempts in flight finish (each is bounded by
/// the 10 s limit; the server aborts what is left after its own grace, and the lease
/// brings such a delivery back).
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let client = match url::delivery_client(state.webhooks.allow_private) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "webhook delivery client cannot be built; no webhooks are sent by this server");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut in_flight = JoinSet::new();
    while !*stop.borrow() {
        while in_flight.try_join_next().is_some() {}
        let free = slots.available_permits();
        let mut busy = false;
        if free > 0 {
            match outbox::claim(&state.db, free as u32).await {
                Ok(claimed) => {
                    busy = claimed.len() == free;
                    for job in claimed {
                        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                            return;
                        };
                        in_flight.spawn(deliver(state.clone(), client.clone(), job, slot));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhook deliveries could not be claimed"),
            }
        }
        if busy {
            // Every slot taken: wait for one to free up (or the stop).
            tokio::select! {
                _ = in_flight.join_next() => {}
                _ = stop.changed() => {}
            }
        } else {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => {}
            }
        }
    }
    while in_flight.join_next().await.is_some() {}
}

/// Sends one attempt and records it.
async fn deliver(
    state: AppState,
    client: reqwest::Client,
    job: Claimed,
    _slot: OwnedSemaphorePermit,
) {
    let outcome = attempt(&state, &client, &job).await;
    match outbox::record(&state.db, &job, &outcome, &state.webhooks.retry_schedule).await {
        Ok(Some(recorded)) => {
            crate::metrics::webhook_attempt(match recorded.status {
                DeliveryStatus::Succeeded => "succeeded",
                DeliveryStatus::Pending => "retrying",
                DeliveryStatus::Failed => "failed",
            });
        }
        // Deleted by the partner meanwhile.
        Ok(None) => {}
        // The lease runs out and the delivery is attempted again.
        Err(e) => {
            tracing::warn!(error = %e, delivery = %job.delivery_id, "webhook attempt could not be recorded")
        }
    }
}

/// One POST of the event's body, signed, to the endpoint.
async fn attempt(state: &AppState, client: &reqwest::Client, job: &Claimed) -> AttemptOutcome {
    let started = Instant::now();
    let failed = |error: String| AttemptOutcome {
        status: None,
        latency: started.elapsed(),
        body: None,
        error: Some(error),
    };
    let target = match url::check_before_delivery(&job.url, state.webhooks.allow_private) {
        Ok(target) => target,
        Err(e) => return failed(format!("the URL {e}")),
    };
    let body = match EventView::render(state, job.account, job.event.clone()).await {
        Ok(view) => match serde_json::to_vec(&view) {
            Ok(body) => Bytes::from(body),
            Err(e) => return failed(format!("the event could not be serialized: {e}")),
        },
        Err(e) => {
            tracing::warn!(error = %e, event = %job.event.id, "webhook body could not be rendered");
            return failed("the event's body could not be rendered; it will be retried".to_owned());
        }
    };
    let timestamp = Utc::now().timestamp();
    let signature = signing::signature_header(&job.secrets, &job.event.id, timestamp, &body);
    let sent = client
        .post(target)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &job.event.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => return failed(describe(&e)),
    };
    let status = response.status().as_u16();
    // The first 1 KB of the answer; the rest is not read.
    let mut kept = Vec::new();
    let mut error = None;
    while kept.len() < KEPT_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                error = Some(describe(&e));
                break;
            }
        }
    }
    kept.truncate(KEPT_RESPONSE_BYTES);
    AttemptOutcome {
        status: Some(status),
        latency: started.elapsed(),
        body: Some(String::from_utf8_lossy(&kept).into_owned()),
        error: error
            .or_else(|| (!(200..300).contains(&status)).then(|| format!("answered {status}"))),
    }
}

/// A failed request in a sentence, with its causes (our resolver's refusal among them),
/// without the URL.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", url::DELIVERY_TIMEOUT.as_secs());
    }
    let mut text = if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
