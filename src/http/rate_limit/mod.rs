//! Per-partner rate limits: a token bucket per partner and mode (never per key: five keys
//! of one partner share one quota; a partner's sandbox tests never eat its live quota),
//! with its own, lower, bucket for `POST /v1/order`. Over the
//! limit a request gets 429 `rate_limited` with `Retry-After`; every limited response
//! carries the IETF draft `RateLimit-Policy` and `RateLimit` headers. The check runs after
//! authentication and before any handler, so a 429 is never stored under an
//! Idempotency-Key and never reaches the database. What a client does without a valid
//! key is limited per address instead ([`address`]).
//!
//! Buckets live in each server process: with N servers behind a load balancer a partner
//! can get up to N times the configured rate. Size the per-process rate accordingly (or
//! pin partners to servers); the database-backed guarantees (no double charge, no debit
//! beyond the balance) do not depend on the limiter.

use std::io::Write;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::error::ApiError;
use super::state::AppState;
use crate::mode::Account;

pub mod address;

pub use address::{AddressLimits, ClientLimitConfig};

/// Per-partner token buckets, per server process (`TAVARO_RATE_LIMIT_*`,
/// `TAVARO_ORDER_RATE_LIMIT_*`).
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

type Keyed =
    RateLimiter<Account, DefaultKeyedStateStore<Account>, DefaultClock, StateInformationMiddleware>;

/// One bucket per partner, at one rate.
struct Bucket {
    limiter: Keyed,
    clock: DefaultClock,
    name: &'static str,
    burst: u32,
    per_second: u32,
    /// `RateLimit-Policy`, the same on every answer.
    policy: HeaderValue,
}

impl Bucket {
    fn new(name: &'static str, per_second: u32, burst: u32) -> Self {
        let per_second = per_second.max(1);
        let burst = burst.max(1);
        let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        // `name;q=<burst>;w=<seconds to refill it>`.
        let policy = format!("{name};q={burst};w={}", burst.div_ceil(per_second));
        Self {
            limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            clock: DefaultClock::default(),
            name,
            burst,
            per_second,
            policy: HeaderValue::from_str(&policy).expect("a bucket name is a header value"),
        }
    }

    /// `name;r=<remaining>;t=<seconds until the bucket is full again>`.
    fn status(&self, remaining: u32) -> HeaderValue {
        let missing = self.burst.saturating_sub(remaining);
        self.status_value(remaining, u64::from(missing.div_ceil(self.per_second)))
    }

    /// `name;r=<remaining>;t=<reset_secs>`, written without a heap string (every partner
    /// request carries one).
    fn status_value(&self, remaining: u32, reset_secs: u64) -> HeaderValue {
        const ROOM: usize = 64;
        let mut text = [0_u8; ROOM];
        let mut rest = &mut text[..];
        write!(rest, "{};r={remaining};t={reset_secs}", self.name)
            .expect("a bucket's status fits in 64 bytes");
        let len = ROOM - rest.len();
        HeaderValue::from_bytes(&text[..len]).expect("a bucket's status is a header value")
    }
}

/// The rate limiters of one server process.
pub struct RateLimits {
    general: Bucket,
    orders: Bucket,
    /// Requests without a valid key, per client address.
    pub addresses: AddressLimits,
}

impl RateLimits {
    /// Buckets sized by the configuration.
    pub fn new(config: &RateLimitConfig, clients: &ClientLimitConfig) -> Self {
        Self {
            general: Bucket::new("partner", config.per_second, config.burst),
            orders: Bucket::new("orders", config.order_per_second, config.order_burst),
            addresses: AddressLimits::new(clients),
        }
    }
}

/// `RateLimit-Policy`.
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
const STATUS: HeaderName = HeaderName::from_static("ratelimit");

/// Runs `request` if a token is left in `account`'s bucket (its orders bucket for
/// `POST /v1/order`), or answers 429. Called by authentication, once it knows the account.
pub(super) async fn limited(
    state: &AppState,
    account: Account,
    request: Request,
    next: Next,
) -> Response {
    let is_order = request.method() == Method::POST
        && request
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|p| p.as_str() == "/v1/order");
    let bucket = if is_order {
        &state.rate_limits.orders
    } else {
        &state.rate_limits.general
    };
    let (mut response, status) = match bucket.limiter.check_key(&account) {
        Ok(snapshot) => {
            let remaining = snapshot.remaining_burst_capacity();
            (next.run(request).await, bucket.status(remaining))
        }
        Err(not_until) => {
            let wait = not_until.wait_time_from(bucket.clock.now());
            let retry_after_secs = wait.max(Duration::from_millis(1)).as_secs_f64().ceil() as u64;
            tracing::info!(partner = %account.partner, mode = %account.mode, bucket = bucket.name, retry_after_secs, "rate limited");
            crate::metrics::rate_limited(bucket.name);
            let response = axum::response::IntoResponse::into_response(ApiError::RateLimited {
                retry_after_secs,
            });
            (response, bucket.status_value(0, retry_after_secs))
        }
    };
    let headers = response.headers_mut();
    headers.insert(POLICY, bucket.policy.clone());
    headers.insert(STATUS, status);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_and_status_read_like_the_ietf_draft() {
        let bucket = Bucket::new("partner", 20, 40);
        assert_eq!(bucket.policy, "partner;q=40;w=2");
        assert_eq!(bucket.status(40), "partner;r=40;t=0");
        assert_eq!(bucket.status(10), "partner;r=10;t=2");
        let big = Bucket::new("orders", 1, u32::MAX);
        assert_eq!(big.status(0), "orders;r=0;t=4294967295");
    }
    #[test]
    fn a_burst_is_granted_then_refused_per_partner() {
        let bucket = Bucket::new("orders", 1, 3);
        let partner = crate::ids::PartnerId::new();
        let (a, b) = (
            Account::live(partner),
            Account::live(crate::ids::PartnerId::new()),
        );
        let granted = (0..10)
            .filter(|_| bucket.limiter.check_key(&a).is_ok())
            .count();
        assert_eq!(granted, 3);
        assert!(
            bucket.limiter.check_key(&b).is_ok(),
            "another partner has its own bucket"
        );
        assert!(
            bucket.limiter.check_key(&Account::sandbox(partner)).is_ok(),
            "the partner's sandbox has its own bucket"
        );
    }
}
