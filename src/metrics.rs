//! Prometheus metrics. One process-wide recorder (the `metrics` facade); code records
//! through the helpers here so names and labels stay consistent, and `GET /metrics`
//! renders them with the gauges that are read from Postgres at scrape time.
//!
//! Labels come from fixed sets only (route templates, standard methods, provider names,
//! outcomes), never from what a client sends: every label a request could choose would be
//! a new series kept for the life of the process. Never keys, ids, ICCIDs or activation
//! codes either.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock, RwLock};
use std::time::Duration;

use metrics::{Counter, Histogram, counter, gauge, histogram};
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

/// One HTTP request answered. `route` is the router's template (or `unmatched`); the
/// method is recorded as one of the standard ones or `other`.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let method = method_label(method);
    record(&REQUEST_SERIES, route, (method, status), elapsed, || {
        series(
            "tavaro_http_requests_total",
            "tavaro_http_request_duration_seconds",
            [
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ],
        )
    });
}

/// A counter and a latency histogram of one label set, resolved once: found by name and
/// labels on every request, they cost the label strings and two registry lookups each
/// time. Kept by one label (a route template, a provider) and the rest (`K`); the sets
/// are bounded as the labels are (route templates, standard methods, statuses, provider
/// names, operations, outcomes).
struct Series<K> {
    labels: K,
    count: Counter,
    latency: Histogram,
}

/// Series by their first label.
type SeriesBy<K> = HashMap<Box<str>, Vec<Series<K>>, foldhash::fast::RandomState>;

/// The request series (method, status) by route template.
static REQUEST_SERIES: LazyLock<RwLock<SeriesBy<(&'static str, u16)>>> =
    LazyLock::new(Default::default);

/// The provider call series (operation, outcome) by provider.
static PROVIDER_SERIES: LazyLock<RwLock<SeriesBy<(&'static str, &'static str)>>> =
    LazyLock::new(Default::default);

/// Counts one event of the series `(first, labels)` and records its `elapsed`; the first
/// time, the series is registered with `register`.
fn record<K: PartialEq>(
    all: &RwLock<SeriesBy<K>>,
    first: &str,
    labels: K,
    elapsed: Duration,
    register: impl FnOnce() -> (Counter, Histogram),
) {
    let seconds = elapsed.as_secs_f64();
    if let Ok(all) = all.read() {
        let known = all
            .get(first)
            .and_then(|series| series.iter().find(|s| s.labels == labels));
        if let Some(series) = known {
            series.count.increment(1);
            series.latency.record(seconds);
            return;
        }
    }
    // Resolved against the installed recorder (a handle taken before it would record
    // nowhere, for good).
    install();
    let (count, latency) = register();
    count.increment(1);
    latency.record(seconds);
    if let Ok(mut all) = all.write() {
        let of_first = all.entry(first.into()).or_default();
        if !of_first.iter().any(|s| s.labels == labels) {
            of_first.push(Series {
                labels,
                count,
                latency,
            });
        }
    }
}

/// The counter `count` and the histogram `latency` of one label set.
fn series(
    count: &'static str,
    latency: &'static str,
    labels: [(&'static str, String); 3],
) -> (Counter, Histogram) {
    (counter!(count, &labels), histogram!(latency, &labels))
}

/// The method as a label: clients may send any token as a method (hyper accepts them all),
/// so everything outside the methods the API could serve counts as `other`.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Connections open on a listener (`api` or `metrics`), counted against
/// `TAVARO_MAX_CONNECTIONS`.
pub fn set_open_connections(listener: &'static str, open: usize) {
    gauge!("tavaro_http_connections", "listener" => listener).set(open as f64);
}

/// A listener reached its connection cap (once per episode, not per connection).
pub fn connection_limit_reached(listener: &'static str) {
    counter!("tavaro_http_connection_limit_reached_total", "listener" => listener).increment(1);
}

/// An idle connection (no request in progress) closed to admit a new one at the cap.
pub fn connection_evicted(listener: &'static str) {
    counter!("tavaro_http_connections_evicted_total", "listener" => listener).increment(1);
}

/// An order reached an outcome: `completed`, `processing`, `failed`,
/// `insufficient_credits`, `unavailable`, `error`.
pub fn order_outcome(outcome: &'static str) {
    const OUTCOMES: [&str; 6] = [
        "completed",
        "processing",
        "failed",
        "insufficient_credits",
        "unavailable",
        "error",
    ];
    /// Resolved once against the installed recorder (every order counts one).
    static ORDERS: LazyLock<[Counter; 6]> = LazyLock::new(|| {
        install();
        OUTCOMES.map(|outcome| counter!("tavaro_orders_total", "outcome" => outcome))
    });
    match OUTCOMES.iter().position(|known| *known == outcome) {
        Some(i) => ORDERS[i].increment(1),
        None => counter!("tavaro_orders_total", "outcome" => outcome).increment(1),
    }
}

/// One call to an upstream provider.
pub fn provider_call(
    provider: &str,
    operation: &'static str,
    outcome: &'static str,
    elapsed: Duration,
) {
    record(
        &PROVIDER_SERIES,
        provider,
        (operation, outcome),
        elapsed,
        || {
            series(
                "tavaro_provider_calls_total",
                "tavaro_provider_call_duration_seconds",
                [
                    ("provider", provider.to_owned()),
                    ("operation", operation.to_owned()),
                    ("outcome", outcome.to_owned()),
                ],
            )
        },
    );
}

/// An API key verification answered from the cache (`hit`) or not.
pub fn key_cache(hit: bool) {
    /// Resolved once against the installed recorder (every partner request counts one).
    static LOOKUPS: LazyLock<[Counter; 2]> = LazyLock::new(|| {
        install();
        ["hit", "miss"].map(|result| counter!("tavaro_key_cache_lookups_total", "result" => result))
    });
    LOOKUPS[usize::from(!hit)].increment(1);
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

/// A request refused by a rate limit (`bucket`: `partner` or `orders` for a partner's
/// buckets, `address` for a client address's requests without a valid key).
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

/// A webhook attempt recorded, by what became of its delivery: `succeeded`, `retrying`
/// (a retry is scheduled) or `failed` (the schedule is spent).
pub fn webhook_attempt(outcome: &'static str) {
    counter!("tavaro_webhook_deliveries_total", "outcome" => outcome).increment(1);
}

/// Pending webhook deliveries of enabled endpoints, and the age of the oldest in seconds
/// (read at scrape time).
pub fn set_webhook_backlog(pending: i64, oldest_secs: f64) {
    gauge!("tavaro_webhook_backlog").set(pending as f64);
    gauge!("tavaro_webhook_oldest_pending_seconds").set(oldest_secs);
}

#[cfg(test)]
mod tests {
    use super::method_label;

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("DELETE"), "DELETE");
        for made_up in [
            "MADEUP1",
            "get",
            "TRACE",
            "CONNECT",
            "PROPFIND",
            &"A".repeat(2000),
        ] {
            assert_eq!(method_label(made_up), "other", "{made_up:.20}");
        }
    }
}
