//! Airalo's OAuth2 client-credentials token (reference §1.1) and every authorised
//! request. The token lives for a day; the token endpoint allows 3 requests a minute, so
//! the token is cached and refreshed about an hour before it expires, by one caller at a
//! time (the others wait on the lock and take the fresh token). A 401 on any call means
//! the call was not executed: the token is dropped, a new one minted once, and the call
//! repeated once.

use std::time::Duration;

use reqwest::header::ACCEPT;
use reqwest::{RequestBuilder, StatusCode};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::wire::TokenEnvelope;
use crate::provider::ProviderError;
use crate::provider::upstream::{
    Answer, Budget, Budgets, Call, Turn, UpstreamConfig, client, send,
};
use crate::secret::Secret;

/// Refresh this long before expiry (less for short-lived tokens).
const REFRESH_MARGIN: Duration = Duration::from_secs(3_600);
/// Lifetime assumed when the token answer states none.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3_600);
/// Longer lifetimes are taken as this (Airalo's examples show a day and a year).
const MAX_LIFETIME: Duration = Duration::from_secs(400 * 86_400);
/// After a failed refresh while the old token is still valid, keep it this long before
/// trying again (the token endpoint allows 3 requests a minute).
const REFRESH_BACKOFF: Duration = Duration::from_secs(60);

struct Token {
    value: Secret<String>,
    refresh_at: Instant,
    expires_at: Instant,
}

/// The HTTP client, the credentials and the cached token.
pub(super) struct Session {
    http: reqwest::Client,
    config: UpstreamConfig,
    token: Mutex<Option<Token>>,
    token_budget: Budget,
}

impl Session {
    /// The account's configuration (callbacks are verified with its client secret).
    pub(super) fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    /// A session for the configured account; no token until the first call. `Err` if
    /// the HTTP client cannot be built.
    pub(super) fn new(config: UpstreamConfig) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: client(&config)?,
            config,
            token: Mutex::new(None),
            token_budget: Budget::per_minute(3),
        })
    }

    /// `base_url` + `path`.
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    /// The per-request time-out.
    pub(super) fn timeout(&self) -> Duration {
        self.config.timeout
    }

    /// Sends the request `build` makes, with the bearer token, once `budget` gives it
    /// its `turn`; its answer is read up to the answer cap. On a 401 the token is replaced
    /// once and the request built and sent again; a second 401 is returned for the
    /// caller to classify.
    pub(super) async fn send(
        &self,
        budget: &Budgets,
        turn: Turn,
        call: Call,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Answer, ProviderError> {
        let limit = self.config.body_limits.answer;
        self.send_capped(budget, turn, call, limit, build).await
    }

    /// [`Self::send`] for a catalogue page: a read, waiting its turn, read up to the
    /// catalogue cap.
    pub(super) async fn send_listing(
        &self,
        budget: &Budgets,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Answer, ProviderError> {
        let limit = self.config.body_limits.catalog;
        self.send_capped(budget, Turn::Read, Call::Read, limit, build)
            .await
    }

    async fn send_capped(
        &self,
        budget: &Budgets,
        turn: Turn,
        call: Call,
        limit: usize,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Answer, ProviderError> {
        let token = self.token(None).await?;
        let answer = self
            .attempt(budget, turn, call, limit, &build, &token)
            .await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        tracing::info!("airalo refused our access token; minting a new one");
        let token = self.token(Some(&token)).await?;
        self.attempt(budget, turn, call, limit, &build, &token)
            .await
    }

    async fn attempt(
        &self,
        budget: &Budgets,
        turn: Turn,
        call: Call,
        limit: usize,
        build: &impl Fn(&reqwest::Client) -> RequestBuilder,
        token: &str,
    ) -> Result<Answer, ProviderError> {
        budget.take(turn).await?;
        let request = build(&self.http)
            .bearer_auth(token)
            .header(ACCEPT, "application/json");
        send(request, call, limit).await
    }

    /// A usable token: the cached one unless it is due for refresh or is `rejected` (the
    /// one a 401 just refused). The lock is held while minting, so concurrent callers
    /// cause one token request.
    async fn token(&self, rejected: Option<&str>) -> Result<String, ProviderError> {
        let mut slot = self.token.lock().await;
        let now = Instant::now();
        let current = slot
            .as_ref()
            .filter(|t| rejected != Some(t.value.expose().as_str()) && now < t.expires_at);
        if let Some(token) = current.filter(|t| now < t.refresh_at) {
            return Ok(token.value.expose().clone());
        }
        let fallback = current.map(|t| t.value.expose().clone());
        match self.mint().await {
            Ok(token) => {
                let value = token.value.expose().clone();
                *slot = Some(token);
                Ok(value)
            }
            Err(e) => match (fallback, slot.as_mut()) {
                // Refreshing early failed, but the current token is still good for a while.
                (Some(value), Some(token)) => {
                    tracing::warn!(error = %e, "airalo token refresh failed; keeping the current token");
                    token.refresh_at = now + REFRESH_BACKOFF;
                    Ok(value)
                }
                _ => {
                    *slot = None;
                    Err(e)
                }
            },
        }
    }

    /// `POST /token` with the client credentials.
    async fn mint(&self) -> Result<Token, ProviderError> {
        let Some(secret) = &self.config.secret else {
            return Err(ProviderError::Auth(
                "no Airalo client secret configured".into(),
            ));
        };
        if !self.token_budget.try_acquire() {
            // Waiting would hold every caller for up to 20 s: refuse now instead.
            return Err(ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(20)),
            });
        }
        let request = self
            .http
            .post(self.url("/token"))
            .header(ACCEPT, "application/json")
            .form(&[
                ("client_id", self.config.credential.expose().as_str()),
                ("client_secret", secret.expose().as_str()),
                ("grant_type", "client_credentials"),
            ]);
        // Minting has no side effects, whatever call it serves.
        let answer = send(request, Call::Read, self.config.body_limits.answer).await?;
        let status = answer.status;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ProviderError::RateLimited {
                retry_after: answer.retry_after(),
            });
        }
        if status.is_server_error() {
            return Err(ProviderError::Unavailable(format!(
                "token endpoint answered HTTP {}",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            // The body can name the client id: keep both credentials out of the message.
            let body = answer
                .snippet()
                .replace(secret.expose().as_str(), "[REDACTED]")
                .replace(self.config.credential.expose().as_str(), "[REDACTED]");
            return Err(ProviderError::Auth(format!(
                "token request refused (HTTP {}): {body}",
                status.as_u16()
            )));
        }
        let data = answer.json::<TokenEnvelope>(Call::Read)?.data;
        if data.access_token.trim().is_empty() {
            return Err(ProviderError::Unavailable(
                "token endpoint returned an empty token".into(),
            ));
        }
        let lifetime = data
            .expires_in
            .and_then(|s| u64::try_from(s).ok())
            .map_or(DEFAULT_LIFETIME, Duration::from_secs)
            .min(MAX_LIFETIME);
        let now = Instant::now();
        Ok(Token {
            value: Secret::new(data.access_token),
            refresh_at: now + lifetime.saturating_sub(REFRESH_MARGIN.min(lifetime / 4)),
            expires_at: now + lifetime,
        })
    }
}
