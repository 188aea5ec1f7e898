//! Typed configuration, read once from the environment at start-up. Every variable is
//! documented in `.env.example` and in the README's configuration table.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::auth::VerifierConfig;
use crate::db::DatabaseConfig;
use crate::http::HttpConfig;
use crate::http::rate_limit::{ClientLimitConfig, RateLimitConfig};
use crate::orders::OrdersConfig;
use crate::provider::settings::ProvidersConfig;
use crate::provider::simulator::{SimulatorConfig, SimulatorMode, SimulatorRefunds};
use crate::secret::Secret;
use crate::telemetry::LogFormat;
use crate::webhooks::WebhooksConfig;

/// Everything the server needs, read from the environment, grouped by the part of the
/// gateway that reads it: each part is handed its own group.
#[derive(Clone, Debug)]
pub struct Config {
    /// The Postgres connection.
    pub database: DatabaseConfig,
    /// The HTTP listener, its limits and the per-partner rate limits.
    pub http: HttpConfig,
    /// API key verification.
    pub auth: VerifierConfig,
    /// The order workflow and its reconciliation.
    pub orders: OrdersConfig,
    /// Upstream providers with credentials configured (the simulator is always there).
    pub providers: ProvidersConfig,
    /// Simulator settings (used when a plan's provider is the simulator).
    pub simulator: SimulatorConfig,
    /// Webhook delivery: the URL rules' override and the retry schedule.
    pub webhooks: WebhooksConfig,
    /// Log output format.
    pub log_format: LogFormat,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from `lookup` (the environment, or a map in tests),
    /// naming the variable on any error.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let vars = Vars(&lookup);
        let failure_rate: f64 = vars.get_or("TAVARO_SIM_FAILURE_RATE", 0.0)?;
        if !(0.0..=1.0).contains(&failure_rate) {
            bail!("TAVARO_SIM_FAILURE_RATE must be between 0 and 1, got {failure_rate}");
        }
        let public_base_url = vars
            .get_or("TAVARO_PUBLIC_BASE_URL", String::new())?
            .trim_end_matches('/')
            .to_owned();
        let provider_timeout =
            Duration::from_millis(vars.get_or("TAVARO_PROVIDER_TIMEOUT_MS", 30_000)?);
        let request_timeout = Duration::from_secs(vars.get_or("TAVARO_REQUEST_TIMEOUT_SECS", 60)?);
        if request_timeout < provider_timeout + Duration::from_secs(5) {
            bail!(
                "TAVARO_REQUEST_TIMEOUT_SECS must exceed TAVARO_PROVIDER_TIMEOUT_MS by at least 5 s (an order must be able to wait for its provider)"
            );
        }
        let idempotency_hours: u64 = vars.get_or("TAVARO_IDEMPOTENCY_TTL_HOURS", 24)?;
        if idempotency_hours < MIN_IDEMPOTENCY_TTL_HOURS {
            bail!(
                "TAVARO_IDEMPOTENCY_TTL_HOURS={idempotency_hours} is invalid: must be at least {MIN_IDEMPOTENCY_TTL_HOURS} (a partner's retry must find its key, or it is charged again)"
            );
        }
        let idempotency_ttl = idempotency_hours
            .checked_mul(3600)
            .map(Duration::from_secs)
            .with_context(|| {
                format!("TAVARO_IDEMPOTENCY_TTL_HOURS={idempotency_hours} is invalid: too large")
            })?;
        let key_cache_ttl: u64 = vars.get_or("TAVARO_KEY_CACHE_TTL_SECS", 60)?;
        if key_cache_ttl > MAX_KEY_CACHE_TTL_SECS {
            bail!(
                "TAVARO_KEY_CACHE_TTL_SECS={key_cache_ttl} is invalid: at most {MAX_KEY_CACHE_TTL_SECS} (it bounds how long a revoked key can keep working should a notification be lost)"
            );
        }
        let metrics_addr = match lookup("TAVARO_METRICS_ADDR").as_deref().map(str::trim) {
            Some("off") => None,
            _ => Some(vars.get_or("TAVARO_METRICS_ADDR", DEFAULT_METRICS_ADDR.parse()?)?),
        };
        let database_url = lookup("DATABASE_URL")
            .filter(|v| !v.trim().is_empty())
            .context("DATABASE_URL is not set (see .env.example)")?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            bail!(
                "DATABASE_URL is invalid: expected postgres://user[:password]@host[:port]/database"
            );
        }
        Ok(Self {
            database: DatabaseConfig {
                url: Secret::new(database_url),
                max_connections: vars.get_or("TAVARO_DB_MAX_CONNECTIONS", 20)?,
                migration_url: crate::db::migration_url_from(&lookup)?,
            },
            http: HttpConfig {
                listen_addr: vars.get_or("TAVARO_LISTEN_ADDR", "127.0.0.1:8080".parse()?)?,
                metrics_addr,
                public_base_url: (!public_base_url.is_empty()).then_some(public_base_url),
                max_body_bytes: vars.get_or("TAVARO_MAX_BODY_BYTES", 64 * 1024)?,
                request_timeout,
                header_timeout: Duration::from_secs(
                    positive(&vars, "TAVARO_HEADER_TIMEOUT_SECS", 10)?.into(),
                ),
                max_connections: positive(&vars, "TAVARO_MAX_CONNECTIONS", 4096)? as usize,
                threads: positive(&vars, "TAVARO_HTTP_THREADS", default_http_threads())? as usize,
                shutdown_grace: Duration::from_secs(vars.get_or("TAVARO_SHUTDOWN_GRACE_SECS", 30)?),
                rate_limit: RateLimitConfig {
                    per_second: positive(&vars, "TAVARO_RATE_LIMIT_PER_SEC", 50)?,
                    burst: positive(&vars, "TAVARO_RATE_LIMIT_BURST", 100)?,
                    order_per_second: positive(&vars, "TAVARO_ORDER_RATE_LIMIT_PER_SEC", 10)?,
                    order_burst: positive(&vars, "TAVARO_ORDER_RATE_LIMIT_BURST", 20)?,
                },
                client_limit: ClientLimitConfig {
                    per_second: positive(&vars, "TAVARO_PUBLIC_RATE_LIMIT_PER_SEC", 20)?,
                    burst: positive(&vars, "TAVARO_PUBLIC_RATE_LIMIT_BURST", 100)?,
                    trusted_proxy_hops: vars.get_or("TAVARO_TRUSTED_PROXY_HOPS", 0)?,
                },
            },
            auth: VerifierConfig {
                cache_ttl: Duration::from_secs(key_cache_ttl),
                cache_capacity: vars.get_or("TAVARO_KEY_CACHE_CAPACITY", 10_000)?,
                argon2_concurrency: vars
                    .get_or("TAVARO_ARGON2_CONCURRENCY", default_argon2_concurrency())?,
            },
            orders: OrdersConfig {
                provider_timeout,
                idempotency_ttl,
                stale_claim: request_timeout + crate::orders::idempotency::STALE_CLAIM_MARGIN,
                reconcile_poll: Duration::from_millis(
                    vars.get_or("TAVARO_RECONCILE_POLL_MS", 1_000)?,
                ),
                reconcile_max_backoff: Duration::from_secs(
                    vars.get_or("TAVARO_RECONCILE_MAX_BACKOFF_SECS", 300)?,
                ),
                reconcile_window: Duration::from_secs(
                    vars.get_or("TAVARO_RECONCILE_WINDOW_SECS", 900)?,
                ),
            },
            providers: ProvidersConfig::from_vars(&lookup, provider_timeout)?,
            simulator: SimulatorConfig {
                mode: vars.get_or("TAVARO_SIM_MODE", SimulatorMode::Normal)?,
                latency: Duration::from_millis(vars.get_or("TAVARO_SIM_LATENCY_MS", 0)?),
                failure_rate,
                smdp_address: vars
                    .get_or("TAVARO_SIM_SMDP_ADDRESS", "smdp.sim.tavaro.io".to_owned())?,
                refunds: vars.get_or("TAVARO_SIM_REFUNDS", SimulatorRefunds::Instant)?,
            },
            webhooks: WebhooksConfig {
                allow_private: vars.get_or("TAVARO_WEBHOOK_ALLOW_PRIVATE", false)?,
                retry_schedule: match lookup("TAVARO_WEBHOOK_RETRY_SCHEDULE") {
                    Some(raw) if !raw.trim().is_empty() => {
                        crate::webhooks::parse_retry_schedule(&raw).map_err(|e| {
                            anyhow::anyhow!("TAVARO_WEBHOOK_RETRY_SCHEDULE={raw:?} is invalid: {e}")
                        })?
                    }
                    _ => WebhooksConfig::default().retry_schedule,
                },
            },
            // `LOG_FORMAT` is the documented name; `TAVARO_LOG_FORMAT` is still read.
            log_format: match vars.get_opt("LOG_FORMAT")? {
                Some(format) => format,
                None => vars.get_or("TAVARO_LOG_FORMAT", LogFormat::Text)?,
            },
        })
    }
}

impl Config {
    /// Settings that are valid but unsafe in production, one sentence each naming its
    /// variable: `tavaro serve` logs them, `tavaro config check` prints them (and fails on
    /// them with `--strict`).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        match &self.http.public_base_url {
            None => warnings.push(format!(
                "TAVARO_PUBLIC_BASE_URL is not set: qrCodeUrl links point at http://{}, plain HTTP on the listen address; set the gateway's public https:// address",
                self.http.listen_addr
            )),
            Some(url) if !url.starts_with("https://") => warnings.push(format!(
                "TAVARO_PUBLIC_BASE_URL={url} is not https: QR tokens in qrCodeUrl links are credentials and would travel in clear"
            )),
            Some(_) => {}
        }
        if self.webhooks.allow_private {
            warnings.push(
                "TAVARO_WEBHOOK_ALLOW_PRIVATE=true: webhook URLs may be plain http and reach loopback and private addresses; for local development only".to_owned(),
            );
        }
        warnings
    }
}

/// Shortest Idempotency-Key lifetime: the contract replays a key's first answer for 24 h.
const MIN_IDEMPOTENCY_TTL_HOURS: u64 = 24;

/// Longest key-cache lifetime: the bound on a revocation whose notification was lost.
const MAX_KEY_CACHE_TTL_SECS: u64 = 300;

/// Where `/metrics` is served unless `TAVARO_METRICS_ADDR` says otherwise: loopback, off
/// the partner port.
const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9090";

/// A whole number ≥ 1, or `default` when unset.
fn positive<F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
    name: &str,
    default: u32,
) -> anyhow::Result<u32> {
    let value: u32 = vars.get_or(name, default)?;
    if value == 0 {
        bail!("{name}=0 is invalid: must be at least 1");
    }
    Ok(value)
}

/// One serving thread per CPU.
fn default_http_threads() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}

/// Half the CPUs, at least one: argon2 at full tilt must leave cores for everything else.
fn default_argon2_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

struct Vars<'a, F>(&'a F);

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    /// Reads and parses `name`, or returns `default` when it is unset or empty.
    fn get_or<T>(&self, name: &str, default: T) -> anyhow::Result<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match (self.0)(name) {
            Some(raw) if !raw.trim().is_empty() => raw
                .trim()
                .parse()
                .map_err(|e| anyhow::anyhow!("{name}={raw:?} is invalid: {e}")),
            _ => Ok(default),
        }
    }

    /// Reads and parses `name`, or `None` when it is unset or empty.
    fn get_opt<T>(&self, name: &str) -> anyhow::Result<Option<T>>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match (self.0)(name) {
            Some(raw) if !raw.trim().is_empty() => raw
                .trim()
                .parse()
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{name}={raw:?} is invalid: {e}")),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_bad_values_name_their_variable() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let config = Config::from_vars(vars(&[("DATABASE_URL", "postgres://x/y")])).unwrap();
        assert_eq!(config.http.listen_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.http.max_body_bytes, 65_536);
        assert!(config.providers.configured().is_empty());
        assert!(config.http.public_base_url.is_none());

        let err = Config::from_vars(vars(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("TAVARO_SIM_FAILURE_RATE", "2"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("TAVARO_SIM_FAILURE_RATE"), "{err}");
        let err = Config::from_vars(vars(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("TAVARO_LISTEN_ADDR", "nope"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("TAVARO_LISTEN_ADDR"), "{err}");
        assert!(Config::from_vars(vars(&[])).is_err());
    }
}
