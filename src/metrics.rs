//! Prometheus metrics. One process-wide recorder (the `metrics` facade); code records
//! through the helpers here so names and labels stay consistent, and `GET /metrics`
//! renders them with the gauges that are read from Postgres at scrape time.
//!
//! Labels carry route templates, provider names and outcomes: never keys, ids, ICCIDs or
//! activation codes.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds, from a cache hit to a slow upstream.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

/// Installs the recorder once per process and returns its handle (later calls return the
/// same handle: tests build many applications in one process).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (embedding): record into a private one.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// Folds recorded latencies into their histogram buckets, every few seconds. The recorder
/// keeps every sample until then: drained only by a scrape, a server nobody scraped grew
/// by ~8 bytes a request (tens of MB under `bench/run`'s load).
pub async fn upkeep() {
    let handle = install();
    let mut every = tokio::time::interval(Duration::from_secs(5));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}

/// The text exposition of every metric.
pub fn render() -> String {
    install().render()
}

/// One HTTP request answered.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    counter!("tavaro_http_requests_total", &labels).increment(1);
    histogram!("tavaro_http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
}

/// An order reached an outcome: `completed`, `processing`, `failed`,
/// `insufficient_credits`, `unavailable`.
pub fn order_outcome(outcome: &'static str) {
    counter!("tavaro_orders_total", "outcome" => outcome).increment(1);
}

/// One call to an upstream provider.
pub fn provider_call(
    provider: &str,
    operation: &'static str,
    outcome: &'static str,
    elapsed: Duration,
) {
    let labels = [
        ("provider", provider.to_owned()),
        ("operation", operation.to_owned()),
        ("outcome", outcome.to_owned()),
    ];
    counter!("tavaro_provider_calls_total", &labels).increment(1);
    histogram!("tavaro_provider_call_duration_seconds", &labels).record(elapsed.as_secs_f64());
}

/// An API key verification answered from the cache (`hit`) or not.
pub fn key_cache(hit: bool) {
    counter!("tavaro_key_cache_lookups_total", "result" => if hit { "hit" } else { "miss" })
        .increment(1);
}

/// The key verifier's own counters, copied at scrape time: argon2 runs, database lookups
/// of key ids, keys refused on format or checksum alone, and requests refused because
/// their key id had spent its budget of failed secrets.
pub fn set_key_counters(
    argon2_runs: u64,
    lookup_queries: u64,
    rejected_early: u64,
    refused_after_failures: u64,
) {
    counter!("tavaro_argon2_runs_total").absolute(argon2_runs);
    counter!("tavaro_key_lookup_queries_total").absolute(lookup_queries);
    counter!("tavaro_keys_rejected_without_lookup_total").absolute(rejected_early);
    counter!("tavaro_keys_refused_after_failures_total").absolute(refused_after_failures);
}

/// A request refused by a partner's rate limit (`bucket`: `partner` or `orders`).
pub fn rate_limited(bucket: &'static str) {
    counter!("tavaro_rate_limited_total", "bucket" => bucket).increment(1);
}

/// Orders waiting for reconciliation (read at scrape time).
pub fn set_reconcile_backlog(jobs: i64) {
    gauge!("tavaro_reconcile_backlog").set(jobs as f64);
}

/// Orders flagged as stuck for the operator (read at scrape time).
pub fn set_stuck_orders(orders: i64) {
    gauge!("tavaro_orders_stuck").set(orders as f64);
}

/// Active partners whose balance is below their low-balance threshold (read at scrape time).
pub fn set_partners_below_threshold(partners: i64) {
    gauge!("tavaro_partners_below_low_balance_threshold").set(partners as f64);
}
