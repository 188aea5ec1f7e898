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

use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};
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

type Keyed = RateLimiter<
    Account,
    DefaultKeyedStateStore<Account, foldhash::fast::RandomState>,
    DefaultClock,
    StateInformationMiddleware,
>;

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
            limiter: RateLimiter::dashmap_with_hasher(
                quota,
                foldhash::fast::RandomState::default(),
            )
            .with_middleware::<StateInformationMiddleware>(),
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

    /// `name;r=<remaining>;t=<reset_secs>`, written without a heap string or the
    /// formatting machinery (every partner request carries one).
    fn status_value(&self, remaining: u32, reset_secs: u64) -> HeaderValue {
        let (mut r, mut t) = (itoa::Buffer::new(), itoa::Buffer::new());
        let parts = [
            self.name.as_bytes(),
            b";r=",
            r.format(remaining).as_bytes(),
            b";t=",
            t.format(reset_secs).as_bytes(),
        ];
        // A name of a few letters, u32 and u64 digits: well within 64 bytes.
        let mut text = [0_u8; 64];
        let mut len = 0;
        for part in parts {
            text[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
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

/// What charging a request to its partner's bucket decided.
pub(super) struct Charge<'a> {
    bucket: &'a Bucket,
    /// Tokens left, or how long until the next one (seconds, rounded up) when none is.
    outcome: Result<u32, u64>,
}

/// Takes a token from `account`'s bucket (its orders bucket for `POST /v1/order`) for
/// `request`. Called by authentication, once it knows the account; the caller runs the
/// request only if it was granted, and puts [`Charge::headers`] on every answer.
pub(super) fn charge<'a>(state: &'a AppState, account: Account, request: &Request) -> Charge<'a> {
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
    let outcome = match bucket.limiter.check_key(&account) {
        Ok(snapshot) => Ok(snapshot.remaining_burst_capacity()),
        Err(not_until) => {
            let wait = not_until.wait_time_from(bucket.clock.now());
            let retry_after_secs = wait.max(Duration::from_millis(1)).as_secs_f64().ceil() as u64;
            tracing::info!(partner = %account.partner, mode = %account.mode, bucket = bucket.name, retry_after_secs, "rate limited");
            crate::metrics::rate_limited(bucket.name);
            Err(retry_after_secs)
        }
    };
    Charge { bucket, outcome }
}

impl Charge<'_> {
    /// The 429 of a refused request (`None` if it was granted).
    pub(super) fn refusal(&self) -> Option<Response> {
        self.outcome.err().map(|retry_after_secs| {
            axum::response::IntoResponse::into_response(ApiError::RateLimited { retry_after_secs })
        })
    }

    /// `RateLimit-Policy` and `RateLimit` on the answer.
    pub(super) fn headers(&self, response: &mut Response) {
        let status = match self.outcome {
            Ok(remaining) => self.bucket.status(remaining),
            Err(retry_after_secs) => self.bucket.status_value(0, retry_after_secs),
        };
        let headers = response.headers_mut();
        headers.insert(POLICY, self.bucket.policy.clone());
        headers.insert(STATUS, status);
    }
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
