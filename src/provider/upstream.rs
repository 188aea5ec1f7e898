//! What every HTTP adapter shares: the settings of one upstream, a rate-limit budget that
//! makes us wait before the upstream would refuse us, and one place that turns transport
//! failures, HTTP statuses and undecodable bodies into [`ProviderError`]s.
//!
//! The classification depends on what the call was ([`Call`]): a failed *order* may have
//! been executed upstream, so anything short of a definitive answer is
//! [`ProviderError::Unknown`]; a failed *read* has no side effects, so it is merely
//! [`ProviderError::Unavailable`].

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use super::ProviderError;
use crate::secret::Secret;

/// Settings of one configured upstream, read from the environment.
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    /// Base URL of the API, without a trailing `/`.
    pub base_url: String,
    /// The credential the upstream identifies us by (API key, access code, client id).
    pub credential: Secret<String>,
    /// A second secret where the upstream has one (Airalo client secret, eSIM Access
    /// signing key).
    pub secret: Option<Secret<String>>,
    /// Time allowed for one HTTP request.
    pub timeout: Duration,
}

/// Whether a call can have side effects upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// Read-only: a failure means "try again later".
    Read,
    /// Places an order: a failure after sending means "outcome unknown".
    Order,
}

impl Call {
    /// The error for a failure whose side effects are unknown.
    pub fn unsure(self, message: impl Into<String>) -> ProviderError {
        match self {
            Self::Read => ProviderError::Unavailable(message.into()),
            Self::Order => ProviderError::Unknown(message.into()),
        }
    }
}

/// A token bucket per upstream (or per endpoint family): callers wait for a token, so
/// bursts are smoothed below the upstream's documented limit instead of refused.
#[derive(Clone)]
pub struct Budget(Arc<DefaultDirectRateLimiter>);

impl Budget {
    /// `per_second` requests a second, with bursts of up to that many.
    pub fn per_second(per_second: u32) -> Self {
        Self::new(Quota::per_second(nonzero(per_second)))
    }

    /// `per_minute` requests a minute, with bursts of up to that many.
    pub fn per_minute(per_minute: u32) -> Self {
        Self::new(Quota::per_minute(nonzero(per_minute)))
    }

    fn new(quota: Quota) -> Self {
        Self(Arc::new(RateLimiter::direct(quota)))
    }

    /// Waits until the budget allows one more request.
    pub async fn acquire(&self) {
        self.0.until_ready().await;
    }

    /// Takes a token if one is available now.
    pub fn try_acquire(&self) -> bool {
        self.0.check().is_ok()
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

/// A raw answer: status, headers and body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
}

impl Answer {
    /// Decodes the body as `T`; an undecodable body is an unsure failure of `call`.
    pub fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            call.unsure(format!(
                "malformed answer (HTTP {}): {e}",
                self.status.as_u16()
            ))
        })
    }

    /// `Retry-After` in seconds, when present.
    pub fn retry_after(&self) -> Option<Duration> {
        self.headers
            .get(RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    }

    /// The errors every upstream shares: 429 rate limited, 401/403 credentials refused,
    /// 5xx an unsure failure. `None` for anything else (the adapter reads the body).
    pub fn common_error(&self, call: Call) -> Option<ProviderError> {
        match self.status {
            StatusCode::TOO_MANY_REQUESTS => Some(ProviderError::RateLimited {
                retry_after: self.retry_after(),
            }),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Some(ProviderError::Auth(format!(
                "HTTP {}: {}",
                self.status.as_u16(),
                self.snippet()
            ))),
            s if s.is_server_error() => {
                Some(call.unsure(format!("HTTP {}: {}", s.as_u16(), self.snippet())))
            }
            _ => None,
        }
    }

    /// The start of the body, for error messages (upstream error bodies carry no secrets
    /// of ours; they are cut short all the same).
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(200).collect()
    }
}

/// Sends a request and reads the whole answer. Transport failures are classified: a
/// connection that was never made is [`ProviderError::Unavailable`] (nothing was sent);
/// a time-out or a connection lost after sending is an unsure failure of `call`.
pub async fn send(request: RequestBuilder, call: Call) -> Result<Answer, ProviderError> {
    let response = request.send().await.map_err(|e| transport(e, call))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|e| transport(e, call))?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn transport(e: reqwest::Error, call: Call) -> ProviderError {
    // `without_url`: query strings can carry identifiers we do not want in logs.
    let e = e.without_url();
    if e.is_connect() {
        ProviderError::Unavailable(format!("cannot connect: {e}"))
    } else if e.is_timeout() {
        call.unsure(format!("no answer in time: {e}"))
    } else {
        call.unsure(format!("connection failed: {e}"))
    }
}

/// The HTTP client every adapter uses: rustls, the configured time-out, our user agent.
pub fn client(config: &UpstreamConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("tavaro-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_once_its_burst_is_spent() {
        let budget = Budget::per_second(8);
        let granted = (0..20).filter(|_| budget.try_acquire()).count();
        assert_eq!(granted, 8);
    }

    #[test]
    fn an_unsure_read_is_unavailable_and_an_unsure_order_is_unknown() {
        assert!(matches!(
            Call::Read.unsure("x"),
            ProviderError::Unavailable(_)
        ));
        assert!(matches!(Call::Order.unsure("x"), ProviderError::Unknown(_)));
    }
}
