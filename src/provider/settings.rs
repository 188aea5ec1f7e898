//! Which upstream providers are configured, from `TAVARO_<PROVIDER>_*` variables, and
//! what every upstream call shares: the answer size caps (`TAVARO_UPSTREAM_MAX_*`) and
//! how often an eSIM's usage is asked for (`TAVARO_USAGE_TTL_SECS`). All documented in
//! `.env.example`.

use std::time::Duration;

use anyhow::{Context, bail};

use super::upstream::{BodyLimits, UpstreamConfig};
use crate::secret::Secret;

/// Default of `TAVARO_USAGE_TTL_SECS`: an eSIM's usage is asked of its provider at most
/// once a minute (Airalo itself refreshes usage every 20 minutes).
pub const DEFAULT_USAGE_TTL: Duration = Duration::from_secs(60);
/// Default of `TAVARO_USAGE_POLL_SECS`: the poller reads each live eSIM in use every
/// five minutes (Airalo caches usage for 20, eSIM Access lags by hours: more often buys
/// nothing).
pub const DEFAULT_USAGE_POLL: Duration = Duration::from_secs(300);

/// Longest `TAVARO_USAGE_TTL_SECS` (and `TAVARO_USAGE_POLL_SECS`) accepted: a day.
const MAX_USAGE_TTL_SECS: u64 = 86_400;
/// Smallest answer cap accepted (a usage report is a few hundred bytes, an order of ten
/// eSIMs a few KiB).
const MIN_BODY_BYTES: usize = 16 * 1024;

/// Credentials and addresses of the upstream providers. A provider is configured when its
/// credential variable is set; the simulator needs nothing and is always available.
#[derive(Clone, Debug)]
pub struct ProvidersConfig {
    /// eSIM Access style API (`TAVARO_ESIMACCESS_*`).
    pub esimaccess: Option<UpstreamConfig>,
    /// Airalo Partners API v2 (`TAVARO_AIRALO_*`).
    pub airalo: Option<UpstreamConfig>,
    /// eSIM Go API v2.4 (`TAVARO_ESIMGO_*`).
    pub esimgo: Option<UpstreamConfig>,
    /// Roamify (`TAVARO_ROAMIFY_*`).
    pub roamify: Option<UpstreamConfig>,
    /// The answer size caps every upstream gets (`TAVARO_UPSTREAM_MAX_BODY_BYTES`,
    /// `TAVARO_UPSTREAM_MAX_CATALOG_BYTES`).
    pub body_limits: BodyLimits,
    /// How long a usage read of one eSIM is reused before its provider is asked again
    /// (`TAVARO_USAGE_TTL_SECS`; 0 asks on every read).
    pub usage_ttl: Duration,
    /// How often the usage poller reads each live eSIM in use
    /// (`TAVARO_USAGE_POLL_SECS`; 0 turns the poller off).
    pub usage_poll: Duration,
}

impl Default for ProvidersConfig {
    fn default() -> Self {
        Self {
            esimaccess: None,
            airalo: None,
            esimgo: None,
            roamify: None,
            body_limits: BodyLimits::default(),
            usage_ttl: DEFAULT_USAGE_TTL,
            usage_poll: DEFAULT_USAGE_POLL,
        }
    }
}

/// `name` as a whole number, or `default` when unset or empty; the error names it.
fn number<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match lookup(name).map(|v| v.trim().to_owned()) {
        Some(raw) if !raw.is_empty() => raw
            .parse()
            .with_context(|| format!("{name}={raw:?} is invalid: expected a whole number")),
        _ => Ok(default),
    }
}

impl ProvidersConfig {
    /// Reads every `TAVARO_<PROVIDER>_*` variable through `lookup`, naming the variable
    /// on any error.
    pub fn from_vars(
        lookup: &impl Fn(&str) -> Option<String>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let body_limits = BodyLimits {
            answer: number(
                lookup,
                "TAVARO_UPSTREAM_MAX_BODY_BYTES",
                BodyLimits::DEFAULT_ANSWER,
            )?,
            catalog: number(
                lookup,
                "TAVARO_UPSTREAM_MAX_CATALOG_BYTES",
                BodyLimits::DEFAULT_CATALOG,
            )?,
        };
        if body_limits.answer < MIN_BODY_BYTES {
            bail!(
                "TAVARO_UPSTREAM_MAX_BODY_BYTES={} is invalid: must be at least {MIN_BODY_BYTES}",
                body_limits.answer
            );
        }
        if body_limits.catalog < body_limits.answer {
            bail!(
                "TAVARO_UPSTREAM_MAX_CATALOG_BYTES={} is invalid: must be at least TAVARO_UPSTREAM_MAX_BODY_BYTES ({})",
                body_limits.catalog,
                body_limits.answer
            );
        }
        let usage_ttl_secs = number(lookup, "TAVARO_USAGE_TTL_SECS", DEFAULT_USAGE_TTL.as_secs())?;
        if usage_ttl_secs > MAX_USAGE_TTL_SECS {
            bail!(
                "TAVARO_USAGE_TTL_SECS={usage_ttl_secs} is invalid: must be at most {MAX_USAGE_TTL_SECS}"
            );
        }
        let usage_poll_secs = number(
            lookup,
            "TAVARO_USAGE_POLL_SECS",
            DEFAULT_USAGE_POLL.as_secs(),
        )?;
        if usage_poll_secs > MAX_USAGE_TTL_SECS {
            bail!(
                "TAVARO_USAGE_POLL_SECS={usage_poll_secs} is invalid: must be at most {MAX_USAGE_TTL_SECS}"
            );
        }
        let upstream = |prefix: &str,
                        credential: &str,
                        secret: Option<(&str, bool)>,
                        default_base: &str|
         -> anyhow::Result<Option<UpstreamConfig>> {
            let get = |suffix: &str| {
                let name = format!("TAVARO_{prefix}_{suffix}");
                let value = lookup(&name)
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty());
                (name, value)
            };
            let (credential_name, credential) = get(credential);
            let (secret_name, secret_value) = match secret {
                Some((suffix, _)) => get(suffix),
                None => (String::new(), None),
            };
            let (base_name, base_url) = get("BASE_URL");
            let Some(credential) = credential else {
                if secret_value.is_some() || base_url.is_some() {
                    bail!(
                        "{credential_name} is not set, but other TAVARO_{prefix}_* variables are"
                    );
                }
                return Ok(None);
            };
            if secret_value.is_none() && matches!(secret, Some((_, true))) {
                bail!("{secret_name} is not set (required with {credential_name})");
            }
            let base_url = base_url.unwrap_or_else(|| default_base.to_owned());
            if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
                bail!("{base_name}={base_url:?} is invalid: expected an http(s) URL");
            }
            Ok(Some(UpstreamConfig {
                base_url: base_url.trim_end_matches('/').to_owned(),
                credential: Secret::new(credential),
                secret: secret_value.map(Secret::new),
                // Each request gets 3/4 of the order's budget, so an adapter that learned
                // the upstream's order id can still report it before the gateway gives up.
                timeout: timeout * 3 / 4,
                body_limits,
            }))
        };
        Ok(Self {
            esimaccess: upstream(
                "ESIMACCESS",
                "ACCESS_CODE",
                Some(("SECRET_KEY", false)),
                "https://api.esimaccess.com/api/v1/open",
            )?,
            airalo: upstream(
                "AIRALO",
                "CLIENT_ID",
                Some(("CLIENT_SECRET", true)),
                "https://partners-api.airalo.com/v2",
            )?,
            esimgo: upstream("ESIMGO", "API_KEY", None, "https://api.esim-go.com/v2.4")?,
            // The secret is the webhook secret of Roamify's dashboard: its callbacks are
            // verified with it (`TAVARO_ROAMIFY_WEBHOOK_SECRET`), and none is taken without.
            roamify: upstream(
                "ROAMIFY",
                "API_KEY",
                Some(("WEBHOOK_SECRET", false)),
                "https://api.getroamify.com",
            )?,
            body_limits,
            usage_ttl: Duration::from_secs(usage_ttl_secs),
            usage_poll: Duration::from_secs(usage_poll_secs),
        })
    }

    /// Names of the configured upstreams.
    pub fn configured(&self) -> Vec<&'static str> {
        [
            ("esimaccess", &self.esimaccess),
            ("airalo", &self.airalo),
            ("esimgo", &self.esimgo),
            ("roamify", &self.roamify),
        ]
        .into_iter()
        .filter_map(|(name, config)| config.as_ref().map(|_| name))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment holding exactly `pairs`.
    fn lookup(pairs: Vec<(&'static str, &'static str)>) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn a_provider_is_configured_by_its_credential_and_half_a_configuration_is_refused() {
        let timeout = Duration::from_secs(1);
        let config = ProvidersConfig::from_vars(
            &lookup(vec![
                ("TAVARO_ESIMGO_API_KEY", "k"),
                ("TAVARO_ESIMGO_BASE_URL", "http://127.0.0.1:9/v2.4/"),
            ]),
            timeout,
        )
        .unwrap();
        assert_eq!(config.configured(), vec!["esimgo"]);
        assert_eq!(config.esimgo.unwrap().base_url, "http://127.0.0.1:9/v2.4");

        let err =
            ProvidersConfig::from_vars(&lookup(vec![("TAVARO_AIRALO_CLIENT_ID", "id")]), timeout)
                .unwrap_err();
        assert!(
            err.to_string().contains("TAVARO_AIRALO_CLIENT_SECRET"),
            "{err}"
        );
        let err = ProvidersConfig::from_vars(
            &lookup(vec![("TAVARO_ROAMIFY_BASE_URL", "http://x")]),
            timeout,
        )
        .unwrap_err();
        assert!(err.to_string().contains("TAVARO_ROAMIFY_API_KEY"), "{err}");
    }

    #[test]
    fn answer_caps_and_the_usage_ttl_have_defaults_and_bounds() {
        let timeout = Duration::from_secs(1);
        let defaults =
            ProvidersConfig::from_vars(&lookup(vec![("TAVARO_ESIMGO_API_KEY", "k")]), timeout)
                .unwrap();
        assert_eq!(defaults.usage_ttl, Duration::from_secs(60));
        assert_eq!(defaults.body_limits, BodyLimits::default());
        assert_eq!(defaults.esimgo.unwrap().body_limits, BodyLimits::default());

        let set = ProvidersConfig::from_vars(
            &lookup(vec![
                ("TAVARO_UPSTREAM_MAX_BODY_BYTES", "65536"),
                ("TAVARO_UPSTREAM_MAX_CATALOG_BYTES", "1048576"),
                ("TAVARO_USAGE_TTL_SECS", "0"),
            ]),
            timeout,
        )
        .unwrap();
        assert_eq!(set.body_limits.answer, 65_536);
        assert_eq!(set.body_limits.catalog, 1_048_576);
        assert_eq!(set.usage_ttl, Duration::ZERO);

        for (name, value) in [
            ("TAVARO_UPSTREAM_MAX_BODY_BYTES", "100"),
            ("TAVARO_UPSTREAM_MAX_BODY_BYTES", "lots"),
            ("TAVARO_UPSTREAM_MAX_CATALOG_BYTES", "20000"),
            ("TAVARO_USAGE_TTL_SECS", "86401"),
            ("TAVARO_USAGE_TTL_SECS", "-1"),
        ] {
            let err =
                ProvidersConfig::from_vars(&lookup(vec![(name, value)]), timeout).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }
}
