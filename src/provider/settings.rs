//! Which upstream providers are configured, from `TAVARO_<PROVIDER>_*` variables (all
//! documented in `.env.example`).

use std::time::Duration;

use anyhow::bail;

use super::upstream::UpstreamConfig;
use crate::secret::Secret;

/// Credentials and addresses of the upstream providers. A provider is configured when its
/// credential variable is set; the simulator needs nothing and is always available.
#[derive(Clone, Debug, Default)]
pub struct ProvidersConfig {
    /// eSIM Access style API (`TAVARO_ESIMACCESS_*`).
    pub esimaccess: Option<UpstreamConfig>,
    /// Airalo Partners API v2 (`TAVARO_AIRALO_*`).
    pub airalo: Option<UpstreamConfig>,
    /// eSIM Go API v2.4 (`TAVARO_ESIMGO_*`).
    pub esimgo: Option<UpstreamConfig>,
    /// Roamify (`TAVARO_ROAMIFY_*`).
    pub roamify: Option<UpstreamConfig>,
}

impl ProvidersConfig {
    /// Reads every `TAVARO_<PROVIDER>_*` variable through `lookup`, naming the variable
    /// on any error.
    pub fn from_vars(
        lookup: &impl Fn(&str) -> Option<String>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
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
            roamify: upstream("ROAMIFY", "API_KEY", None, "https://api.getroamify.com")?,
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

    #[test]
    fn a_provider_is_configured_by_its_credential_and_half_a_configuration_is_refused() {
        let lookup = |pairs: Vec<(&'static str, &'static str)>| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
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
}
