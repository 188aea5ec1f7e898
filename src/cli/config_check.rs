//! `tavaro config check`: validates the configuration exactly as `tavaro serve` would and
//! prints the effective value of every setting, secrets redacted. Exits non-zero with one
//! line naming the variable when a value is bad or missing. Settings that are valid but
//! unsafe in production (no https public base URL) are warned about on stderr, one
//! `warning:` line each; with `--strict` the first of them is the failure instead.

use anyhow::bail;

use crate::config::Config;
use crate::provider::upstream::UpstreamConfig;

/// Prints `NAME=value` lines (or a JSON object) for the effective configuration, and the
/// warnings on stderr (`strict`: fails on the first instead).
pub(super) fn config_check(json: bool, strict: bool) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let warnings = config.warnings();
    if strict {
        if let Some(first) = warnings.first() {
            bail!("{first} (--strict)");
        }
    }
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let settings = describe(&config);
    if json {
        let map: serde_json::Map<String, serde_json::Value> = settings
            .into_iter()
            .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
            .collect();
        super::commands::print_json(&map);
    } else {
        println!("Configuration OK. Effective settings (secrets redacted):");
        for (name, value) in settings {
            println!("{name}={value}");
        }
    }
    Ok(())
}

/// Every setting with its effective value, in `.env.example` order.
fn describe(c: &Config) -> Vec<(&'static str, String)> {
    let ms = |d: std::time::Duration| d.as_millis().to_string();
    let secs = |d: std::time::Duration| d.as_secs().to_string();
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut out = vec![
        ("DATABASE_URL", redact_url(c.database.url.expose())),
        (
            "TAVARO_MIGRATION_DATABASE_URL",
            c.database
                .migration_url
                .as_ref()
                .map(|u| redact_url(u.expose()))
                .unwrap_or_default(),
        ),
        ("TAVARO_LISTEN_ADDR", c.http.listen_addr.to_string()),
        (
            "TAVARO_METRICS_ADDR",
            c.http
                .metrics_addr
                .map_or_else(|| "off".to_owned(), |a| a.to_string()),
        ),
        (
            "TAVARO_PUBLIC_BASE_URL",
            opt(c.http.public_base_url.clone()),
        ),
        ("TAVARO_MAX_BODY_BYTES", c.http.max_body_bytes.to_string()),
        ("TAVARO_HEADER_TIMEOUT_SECS", secs(c.http.header_timeout)),
        ("TAVARO_MAX_CONNECTIONS", c.http.max_connections.to_string()),
        ("TAVARO_HTTP_THREADS", c.http.threads.to_string()),
        ("TAVARO_REQUEST_TIMEOUT_SECS", secs(c.http.request_timeout)),
        (
            "TAVARO_RATE_LIMIT_PER_SEC",
            c.http.rate_limit.per_second.to_string(),
        ),
        (
            "TAVARO_RATE_LIMIT_BURST",
            c.http.rate_limit.burst.to_string(),
        ),
        (
            "TAVARO_ORDER_RATE_LIMIT_PER_SEC",
            c.http.rate_limit.order_per_second.to_string(),
        ),
        (
            "TAVARO_ORDER_RATE_LIMIT_BURST",
            c.http.rate_limit.order_burst.to_string(),
        ),
        (
            "TAVARO_PUBLIC_RATE_LIMIT_PER_SEC",
            c.http.client_limit.per_second.to_string(),
        ),
        (
            "TAVARO_PUBLIC_RATE_LIMIT_BURST",
            c.http.client_limit.burst.to_string(),
        ),
        (
            "TAVARO_TRUSTED_PROXY_HOPS",
            c.http.client_limit.trusted_proxy_hops.to_string(),
        ),
        (
            "TAVARO_DB_MAX_CONNECTIONS",
            c.database.max_connections.to_string(),
        ),
        ("TAVARO_KEY_CACHE_TTL_SECS", secs(c.auth.cache_ttl)),
        (
            "TAVARO_KEY_CACHE_CAPACITY",
            c.auth.cache_capacity.to_string(),
        ),
        (
            "TAVARO_ARGON2_CONCURRENCY",
            c.auth.argon2_concurrency.to_string(),
        ),
        ("TAVARO_PROVIDER_TIMEOUT_MS", ms(c.orders.provider_timeout)),
        (
            "TAVARO_UPSTREAM_MAX_BODY_BYTES",
            c.providers.body_limits.answer.to_string(),
        ),
        (
            "TAVARO_UPSTREAM_MAX_CATALOG_BYTES",
            c.providers.body_limits.catalog.to_string(),
        ),
        ("TAVARO_USAGE_TTL_SECS", secs(c.providers.usage_ttl)),
        ("TAVARO_USAGE_POLL_SECS", secs(c.providers.usage_poll)),
    ];
    let providers = &c.providers;
    for (prefix, credential, secret, upstream) in [
        (
            "ESIMACCESS",
            "TAVARO_ESIMACCESS_ACCESS_CODE",
            Some("TAVARO_ESIMACCESS_SECRET_KEY"),
            &providers.esimaccess,
        ),
        (
            "AIRALO",
            "TAVARO_AIRALO_CLIENT_ID",
            Some("TAVARO_AIRALO_CLIENT_SECRET"),
            &providers.airalo,
        ),
        ("ESIMGO", "TAVARO_ESIMGO_API_KEY", None, &providers.esimgo),
        (
            "ROAMIFY",
            "TAVARO_ROAMIFY_API_KEY",
            Some("TAVARO_ROAMIFY_WEBHOOK_SECRET"),
            &providers.roamify,
        ),
    ] {
        out.extend(upstream_lines(
            prefix,
            credential,
            secret,
            upstream.as_ref(),
        ));
    }
    out.extend([
        (
            "TAVARO_IDEMPOTENCY_TTL_HOURS",
            (c.orders.idempotency_ttl.as_secs() / 3600).to_string(),
        ),
        ("TAVARO_RECONCILE_POLL_MS", ms(c.orders.reconcile_poll)),
        (
            "TAVARO_RECONCILE_MAX_BACKOFF_SECS",
            secs(c.orders.reconcile_max_backoff),
        ),
        (
            "TAVARO_RECONCILE_WINDOW_SECS",
            secs(c.orders.reconcile_window),
        ),
        ("TAVARO_SIM_MODE", format!("{:?}", c.simulator.mode)),
        ("TAVARO_SIM_LATENCY_MS", ms(c.simulator.latency)),
        (
            "TAVARO_SIM_FAILURE_RATE",
            c.simulator.failure_rate.to_string(),
        ),
        ("TAVARO_SIM_SMDP_ADDRESS", c.simulator.smdp_address.clone()),
        (
            "TAVARO_SIM_REFUNDS",
            format!("{:?}", c.simulator.refunds).to_lowercase(),
        ),
        (
            "TAVARO_WEBHOOK_ALLOW_PRIVATE",
            c.webhooks.allow_private.to_string(),
        ),
        (
            "TAVARO_WEBHOOK_RETRY_SCHEDULE",
            c.webhooks
                .retry_schedule
                .iter()
                .map(|d| d.as_secs().to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("TAVARO_SHUTDOWN_GRACE_SECS", secs(c.http.shutdown_grace)),
        ("LOG_FORMAT", format!("{:?}", c.log_format).to_lowercase()),
    ]);
    out
}

fn upstream_lines(
    prefix: &'static str,
    credential: &'static str,
    secret: Option<&'static str>,
    upstream: Option<&UpstreamConfig>,
) -> Vec<(&'static str, String)> {
    let set = |present: bool| if present { "[REDACTED]" } else { "" }.to_owned();
    let base = match prefix {
        "ESIMACCESS" => "TAVARO_ESIMACCESS_BASE_URL",
        "AIRALO" => "TAVARO_AIRALO_BASE_URL",
        "ESIMGO" => "TAVARO_ESIMGO_BASE_URL",
        _ => "TAVARO_ROAMIFY_BASE_URL",
    };
    let mut lines = vec![(credential, set(upstream.is_some()))];
    if let Some(secret) = secret {
        lines.push((secret, set(upstream.is_some_and(|u| u.secret.is_some()))));
    }
    lines.push((
        base,
        upstream.map(|u| u.base_url.clone()).unwrap_or_default(),
    ));
    lines
}

/// `postgres://user:secret@host/db` → `postgres://user:[REDACTED]@host/db`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "[REDACTED]".to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:[REDACTED]@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_url("postgres://tavaro:hunter2@db:5432/tavaro"),
            "postgres://tavaro:[REDACTED]@db:5432/tavaro"
        );
        assert_eq!(
            redact_url("postgres://tavaro@127.0.0.1:55432/tavaro"),
            "postgres://tavaro@127.0.0.1:55432/tavaro"
        );
    }
}
