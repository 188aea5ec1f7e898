//! The configuration refuses the settings that would quietly break a promise (an
//! Idempotency-Key forgotten before a retry, revocations slower than the contract) and
//! names the variable; the edge's limits have safe defaults.

use std::time::Duration;

use tavaro::config::Config;

/// The configuration `vars` (and nothing else) would give.
fn config(vars: &[(&str, &str)]) -> anyhow::Result<Config> {
    Config::from_vars(|name| {
        if name == "DATABASE_URL" {
            return Some("postgres://x@h/y".to_owned());
        }
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
}

fn refusal(vars: &[(&str, &str)]) -> String {
    format!("{:#}", config(vars).expect_err("refused"))
}

#[test]
fn an_idempotency_ttl_under_24_hours_is_refused_naming_the_variable() {
    for hours in ["0", "1", "23"] {
        let message = refusal(&[("TAVARO_IDEMPOTENCY_TTL_HOURS", hours)]);
        assert!(
            message.contains("TAVARO_IDEMPOTENCY_TTL_HOURS") && message.contains("24"),
            "{hours}: {message}"
        );
    }
    // Hours that overflow seconds are refused too, not wrapped or panicking.
    let message = refusal(&[("TAVARO_IDEMPOTENCY_TTL_HOURS", &u64::MAX.to_string())]);
    assert!(
        message.contains("TAVARO_IDEMPOTENCY_TTL_HOURS"),
        "{message}"
    );
    for (hours, secs) in [("24", 86_400), ("720", 2_592_000)] {
        let config = config(&[("TAVARO_IDEMPOTENCY_TTL_HOURS", hours)]).unwrap();
        assert_eq!(config.orders.idempotency_ttl, Duration::from_secs(secs));
    }
}

#[test]
fn a_key_cache_ttl_over_300_seconds_is_refused_naming_the_variable() {
    let message = refusal(&[("TAVARO_KEY_CACHE_TTL_SECS", "301")]);
    assert!(
        message.contains("TAVARO_KEY_CACHE_TTL_SECS") && message.contains("300"),
        "{message}"
    );
    let config = config(&[("TAVARO_KEY_CACHE_TTL_SECS", "300")]).unwrap();
    assert_eq!(config.auth.cache_ttl, Duration::from_secs(300));
}

#[test]
fn metrics_default_to_a_loopback_listener_and_can_move_or_be_turned_off() {
    let default = config(&[]).unwrap();
    assert_eq!(
        default.http.metrics_addr,
        Some("127.0.0.1:9090".parse().unwrap())
    );
    let moved = config(&[("TAVARO_METRICS_ADDR", "10.0.0.5:9100")]).unwrap();
    assert_eq!(
        moved.http.metrics_addr,
        Some("10.0.0.5:9100".parse().unwrap())
    );
    let off = config(&[("TAVARO_METRICS_ADDR", "off")]).unwrap();
    assert_eq!(off.http.metrics_addr, None);
    let message = refusal(&[("TAVARO_METRICS_ADDR", "somewhere")]);
    assert!(message.contains("TAVARO_METRICS_ADDR"), "{message}");
}

#[test]
fn the_connection_cap_and_the_per_address_limit_are_configurable_and_never_zero() {
    for name in [
        "TAVARO_MAX_CONNECTIONS",
        "TAVARO_HTTP_THREADS",
        "TAVARO_PUBLIC_RATE_LIMIT_PER_SEC",
        "TAVARO_PUBLIC_RATE_LIMIT_BURST",
    ] {
        let message = refusal(&[(name, "0")]);
        assert!(message.contains(name), "{message}");
    }
    let default = config(&[]).unwrap();
    assert_eq!(
        default.http.threads,
        std::thread::available_parallelism().unwrap().get()
    );
    let config = config(&[
        ("TAVARO_MAX_CONNECTIONS", "64"),
        ("TAVARO_HTTP_THREADS", "3"),
        ("TAVARO_PUBLIC_RATE_LIMIT_PER_SEC", "5"),
        ("TAVARO_PUBLIC_RATE_LIMIT_BURST", "7"),
        ("TAVARO_TRUSTED_PROXY_HOPS", "2"),
    ])
    .unwrap();
    assert_eq!(config.http.max_connections, 64);
    assert_eq!(config.http.threads, 3);
    assert_eq!(config.http.client_limit.per_second, 5);
    assert_eq!(config.http.client_limit.burst, 7);
    assert_eq!(config.http.client_limit.trusted_proxy_hops, 2);
}
