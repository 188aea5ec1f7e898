//! Typed configuration, read once from the environment at start-up. Every variable is
//! documented in `.env.example` and in the README's configuration table.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};

pub use crate::provider::settings::ProvidersConfig;

/// A value that must never reach a log line: `Debug` and `Display` print `[REDACTED]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (default).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl FromStr for LogFormat {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => bail!("unknown log format `{other}` (expected: text or json)"),
        }
    }
}

/// How the simulator behaves, to exercise every outcome an upstream can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimulatorMode {
    /// Waits the latency, issues the eSIMs, answers.
    Normal,
    /// Issues the eSIMs at once but answers only after the latency: with a latency above
    /// the provider time-out, the gateway sees a time-out for an order that succeeded.
    Late,
    /// Accepts the order, answers "accepted" without eSIMs, and reports it failed when
    /// asked later.
    AcceptThenFail,
    /// Accepts the order and never finishes it: lookups say "pending" forever.
    AcceptThenStall,
    /// The request is lost on the way: no answer, no record upstream.
    Lost,
}

impl FromStr for SimulatorMode {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(Self::Normal),
            "late" => Ok(Self::Late),
            "accept_then_fail" => Ok(Self::AcceptThenFail),
            "accept_then_stall" => Ok(Self::AcceptThenStall),
            "lost" => Ok(Self::Lost),
            other => bail!(
                "unknown simulator mode `{other}` (expected: normal, late, accept_then_fail, accept_then_stall, lost)"
            ),
        }
    }
}

/// Steps of the order workflow where a failpoint can crash the server (tests only).
pub const FAILPOINTS: [&str; 4] = [
    "after_debit_commit",
    "during_provider_call",
    "before_esims_stored",
    "after_esims_stored",
];

/// Settings of the built-in simulator provider.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// Behaviour (see [`SimulatorMode`]).
    pub mode: SimulatorMode,
    /// Delay of each simulated provisioning answer.
    pub latency: Duration,
    /// Share of orders (0.0–1.0) the simulator refuses, to exercise refunds.
    pub failure_rate: f64,
    /// SM-DP+ address written into the simulated activation codes.
    pub smdp_address: String,
}

/// Everything the server needs, read from the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Postgres connection string (`DATABASE_URL`).
    pub database_url: Secret<String>,
    /// Maximum pooled database connections per server process.
    pub db_max_connections: u32,
    /// Where the HTTP server listens.
    pub listen_addr: SocketAddr,
    /// A separate address serving only `GET /metrics`; unset: `/metrics` is on the main
    /// listener.
    pub metrics_addr: Option<SocketAddr>,
    /// Public base URL of this gateway, used to build `qrCodeUrl`s. Unset: the address
    /// the server listens on.
    pub public_base_url: Option<String>,
    /// Largest request body accepted, in bytes (413 beyond it).
    pub max_body_bytes: usize,
    /// How long a verified API key stays cached.
    pub key_cache_ttl: Duration,
    /// How many verified keys are cached at most.
    pub key_cache_capacity: u64,
    /// How many argon2 verifications may run at once.
    pub argon2_concurrency: usize,
    /// Upstream providers with credentials configured (the simulator is always there).
    pub providers: ProvidersConfig,
    /// Time allowed for one provider call before its outcome counts as unknown.
    pub provider_timeout: Duration,
    /// Simulator settings (used when `provider` is the simulator).
    pub simulator: SimulatorConfig,
    /// How long an Idempotency-Key is remembered.
    pub idempotency_ttl: Duration,
    /// How often each server polls the reconciliation queue.
    pub reconcile_poll: Duration,
    /// Longest wait between two reconciliation attempts of one order.
    pub reconcile_max_backoff: Duration,
    /// An order still unsettled this long after it was placed is flagged for the operator.
    pub reconcile_window: Duration,
    /// Crash the process at this step of the order workflow (crash-safety tests only).
    pub failpoint: Option<String>,
    /// Log output format.
    pub log_format: LogFormat,
    /// How long a stopping server lets in-flight requests finish.
    pub shutdown_grace: Duration,
    /// Per-partner rate limits.
    pub rate_limit: RateLimitConfig,
    /// Longest time a request may take (beyond the provider time-out for orders).
    pub request_timeout: Duration,
    /// Longest time a client may take to send a request's headers.
    pub header_timeout: Duration,
}

/// Per-partner token buckets (per server process).
#[derive(Clone, Debug)]
pub struct RateLimitConfig {
    /// Sustained requests per second per partner, every authenticated route but orders.
    pub per_second: u32,
    /// Burst above the sustained rate.
    pub burst: u32,
    /// Sustained `POST /v1/order` per second per partner.
    pub order_per_second: u32,
    /// Burst of orders.
    pub order_burst: u32,
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
        let failpoint = lookup("TAVARO_FAILPOINT").filter(|v| !v.trim().is_empty());
        if let Some(point) = &failpoint {
            if !FAILPOINTS.contains(&point.as_str()) {
                bail!("TAVARO_FAILPOINT={point:?} is not one of {FAILPOINTS:?}");
            }
        }
        let provider_timeout =
            Duration::from_millis(vars.get_or("TAVARO_PROVIDER_TIMEOUT_MS", 30_000)?);
        let request_timeout = Duration::from_secs(vars.get_or("TAVARO_REQUEST_TIMEOUT_SECS", 60)?);
        if request_timeout < provider_timeout + Duration::from_secs(5) {
            bail!(
                "TAVARO_REQUEST_TIMEOUT_SECS must exceed TAVARO_PROVIDER_TIMEOUT_MS by at least 5 s (an order must be able to wait for its provider)"
            );
        }
        let database_url = lookup("DATABASE_URL")
            .filter(|v| !v.trim().is_empty())
            .context("DATABASE_URL is not set (see .env.example)")?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            bail!(
                "DATABASE_URL is invalid: expected postgres://user[:password]@host[:port]/database"
            );
        }
        Ok(Self {
            database_url: Secret::new(database_url),
            db_max_connections: vars.get_or("TAVARO_DB_MAX_CONNECTIONS", 20)?,
            listen_addr: vars.get_or("TAVARO_LISTEN_ADDR", "127.0.0.1:8080".parse()?)?,
            metrics_addr: vars.get_opt("TAVARO_METRICS_ADDR")?,
            public_base_url: (!public_base_url.is_empty()).then_some(public_base_url),
            max_body_bytes: vars.get_or("TAVARO_MAX_BODY_BYTES", 64 * 1024)?,
            key_cache_ttl: Duration::from_secs(vars.get_or("TAVARO_KEY_CACHE_TTL_SECS", 60)?),
            key_cache_capacity: vars.get_or("TAVARO_KEY_CACHE_CAPACITY", 10_000)?,
            argon2_concurrency: vars
                .get_or("TAVARO_ARGON2_CONCURRENCY", default_argon2_concurrency())?,
            providers: ProvidersConfig::from_vars(&lookup, provider_timeout)?,
            provider_timeout,
            simulator: SimulatorConfig {
                mode: vars.get_or("TAVARO_SIM_MODE", SimulatorMode::Normal)?,
                latency: Duration::from_millis(vars.get_or("TAVARO_SIM_LATENCY_MS", 0)?),
                failure_rate,
                smdp_address: vars
                    .get_or("TAVARO_SIM_SMDP_ADDRESS", "smdp.sim.tavaro.io".to_owned())?,
            },
            idempotency_ttl: Duration::from_secs(
                3600 * vars.get_or("TAVARO_IDEMPOTENCY_TTL_HOURS", 24)?,
            ),
            reconcile_poll: Duration::from_millis(vars.get_or("TAVARO_RECONCILE_POLL_MS", 1_000)?),
            reconcile_max_backoff: Duration::from_secs(
                vars.get_or("TAVARO_RECONCILE_MAX_BACKOFF_SECS", 300)?,
            ),
            reconcile_window: Duration::from_secs(
                vars.get_or("TAVARO_RECONCILE_WINDOW_SECS", 900)?,
            ),
            failpoint,
            // `LOG_FORMAT` is the documented name; `TAVARO_LOG_FORMAT` is still read.
            log_format: match vars.get_opt("LOG_FORMAT")? {
                Some(format) => format,
                None => vars.get_or("TAVARO_LOG_FORMAT", LogFormat::Text)?,
            },
            shutdown_grace: Duration::from_secs(vars.get_or("TAVARO_SHUTDOWN_GRACE_SECS", 30)?),
            rate_limit: RateLimitConfig {
                per_second: positive(&vars, "TAVARO_RATE_LIMIT_PER_SEC", 50)?,
                burst: positive(&vars, "TAVARO_RATE_LIMIT_BURST", 100)?,
                order_per_second: positive(&vars, "TAVARO_ORDER_RATE_LIMIT_PER_SEC", 10)?,
                order_burst: positive(&vars, "TAVARO_ORDER_RATE_LIMIT_BURST", 20)?,
            },
            request_timeout,
            header_timeout: Duration::from_secs(
                positive(&vars, "TAVARO_HEADER_TIMEOUT_SECS", 10)?.into(),
            ),
        })
    }
}

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

/// `DATABASE_URL`, required by every command.
pub fn database_url() -> anyhow::Result<String> {
    std::env::var("DATABASE_URL").context("DATABASE_URL is not set (see .env.example)")
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
        assert_eq!(config.listen_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.max_body_bytes, 65_536);
        assert!(config.providers.configured().is_empty());
        assert!(config.public_base_url.is_none());

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

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("postgres://u:hunter2@db/x".to_owned());
        assert_eq!(format!("{secret:?} {secret}"), "[REDACTED] [REDACTED]");
        assert_eq!(secret.expose(), "postgres://u:hunter2@db/x");
    }
}
