//! Per-address limits on what a client can do without a valid key. Every request to a
//! public route (health, readiness, QR codes) or to an unknown path takes a token from
//! its address's bucket (the documentation, `/openapi.json` and `/docs`, is exempt: the
//! same bytes for everyone, served from memory); every 401 answer takes one from
//! a second bucket, and once that one is empty the address's `/v1` requests are refused
//! before their key is even looked at. Over either limit: 429 `rate_limited` with
//! `Retry-After`, in the envelope. Requests with a valid key are never charged, so a
//! partner's QR traffic or a neighbour's typos cannot spend its own quota (that is the
//! per-partner limiter's job).
//!
//! The address is the TCP peer, or, with `TAVARO_TRUSTED_PROXY_HOPS=n` behind `n` proxies
//! that each append to `X-Forwarded-For`, the n-th entry from the right (entries further
//! left are the client's own words and never trusted). IPv6 addresses count by their /64,
//! the block one subscriber gets. Buckets live in each server process, like the partner
//! ones, and idle ones are dropped as the limiter goes.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::http::error::ApiError;
use crate::http::state::AppState;

/// The per-address limit (`TAVARO_PUBLIC_RATE_LIMIT_*`, `TAVARO_TRUSTED_PROXY_HOPS`).
#[derive(Clone, Debug)]
pub struct ClientLimitConfig {
    /// Sustained requests without a valid key per second per client address.
    pub per_second: u32,
    /// Burst above the sustained rate.
    pub burst: u32,
    /// Proxies in front of the gateway that append the client to `X-Forwarded-For`
    /// (0: the TCP peer is the client).
    pub trusted_proxy_hops: usize,
}

/// Every this many charges, buckets back to full are forgotten.
const PRUNE_EVERY: u64 = 1024;

/// The per-address buckets of one server process.
pub struct AddressLimits {
    /// Charged by public routes and unknown paths, before they run.
    public: DefaultKeyedRateLimiter<IpAddr>,
    /// Charged by 401 answers.
    failures: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses whose failure bucket is empty, and until when.
    refused: Mutex<HashMap<IpAddr, Instant>>,
    /// `refused.len()`, readable without the lock: almost always 0.
    refused_len: AtomicUsize,
    charges: AtomicU64,
    clock: DefaultClock,
    hops: usize,
}

impl AddressLimits {
    /// Buckets sized by the configuration.
    pub fn new(config: &ClientLimitConfig) -> Self {
        let quota =
            Quota::per_second(NonZeroU32::new(config.per_second).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(config.burst).unwrap_or(NonZeroU32::MIN));
        Self {
            public: RateLimiter::keyed(quota),
            failures: RateLimiter::keyed(quota),
            refused: Mutex::default(),
            refused_len: AtomicUsize::new(0),
            charges: AtomicU64::new(0),
            clock: DefaultClock::default(),
            hops: config.trusted_proxy_hops,
        }
    }

    /// Takes a token for a public request; the wait until the next one when none is left.
    fn charge_public(&self, address: IpAddr) -> Result<(), Duration> {
        self.prune();
        self.public
            .check_key(&address)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Records a failed authentication; once the bucket is empty the address is refused
    /// until its next token.
    fn charge_failure(&self, address: IpAddr) {
        self.prune();
        if let Err(not_until) = self.failures.check_key(&address) {
            let until = Instant::now() + not_until.wait_time_from(self.clock.now());
            let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
            if refused.len() >= 4096 {
                let now = Instant::now();
                refused.retain(|_, until| *until > now);
            }
            refused.insert(address, until);
            self.refused_len.store(refused.len(), Ordering::Relaxed);
        }
    }

    /// How long `address` stays refused, if its failure budget is spent.
    fn refused_for(&self, address: IpAddr) -> Option<Duration> {
        if self.refused_len.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        let until = *refused.get(&address)?;
        let now = Instant::now();
        if until > now {
            return Some(until - now);
        }
        refused.remove(&address);
        self.refused_len.store(refused.len(), Ordering::Relaxed);
        None
    }

    /// Forgets the buckets that are full again, now and then, so a scan from many
    /// addresses leaves no lasting memory behind.
    fn prune(&self) {
        if self.charges.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            for limiter in [&self.public, &self.failures] {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

/// What the per-address limit says of a request, before it runs.
pub(in crate::http) enum Admission {
    /// Run it; nothing to count after.
    Pass,
    /// Run it, and count its answer against `address` if it is a 401.
    Watch(IpAddr),
    /// Refuse it: the address must wait this long.
    Refuse(Duration),
}

/// Run by the request envelope around every route: charges requests made without a valid
/// key to their client address, and refuses them over the limit. A partner route's
/// answer is then given to [`settle`].
pub(in crate::http) fn admit(state: &AppState, request: &Request) -> Admission {
    let limits = &state.rate_limits.addresses;
    let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return Admission::Pass;
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    if route.is_some_and(|r| r == "/openapi.json" || r.starts_with("/docs")) {
        return Admission::Pass;
    }
    let address = client_address(peer.0.ip(), request.headers(), limits.hops);
    let partner_route = route.is_some_and(|r| r.starts_with("/v1/"));
    if !partner_route {
        return match limits.charge_public(address) {
            Ok(()) => Admission::Pass,
            Err(wait) => Admission::Refuse(wait),
        };
    }
    match limits.refused_for(address) {
        Some(wait) => Admission::Refuse(wait),
        None => Admission::Watch(address),
    }
}

/// Counts a watched request's 401 against its address.
pub(in crate::http) fn settle(state: &AppState, address: IpAddr, response: &Response) {
    if response.status() == StatusCode::UNAUTHORIZED {
        state.rate_limits.addresses.charge_failure(address);
    }
}

/// The 429 of a refused address.
pub(in crate::http) fn refuse(wait: Duration) -> Response {
    let retry_after_secs = wait.max(Duration::from_millis(1)).as_secs_f64().ceil() as u64;
    // Debug only: a flood would otherwise write a log line per refused request.
    tracing::debug!(retry_after_secs, "rate limited by client address");
    crate::metrics::rate_limited("address");
    ApiError::RateLimited { retry_after_secs }.into_response()
}

/// The client's address as the limiter counts it: the TCP peer, or the trusted entry of
/// `X-Forwarded-For`; IPv4-mapped IPv6 as IPv4, other IPv6 by /64.
fn client_address(peer: IpAddr, headers: &HeaderMap, hops: usize) -> IpAddr {
    let address = match hops {
        0 => peer,
        _ => forwarded_for(headers, hops).unwrap_or(peer),
    };
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

/// The `hops`-th `X-Forwarded-For` entry from the right (all headers of that name, in
/// order), when there are that many and it is an address (with or without a port).
fn forwarded_for(headers: &HeaderMap, hops: usize) -> Option<IpAddr> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let entry = entries.len().checked_sub(hops).map(|i| entries[i])?;
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_client_is_the_peer_unless_proxies_are_trusted() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let forwarded = headers(&["1.1.1.1, 2.2.2.2", "3.3.3.3"]);
        assert_eq!(client_address(peer, &forwarded, 0), peer);
        assert_eq!(client_address(peer, &forwarded, 1).to_string(), "3.3.3.3");
        assert_eq!(client_address(peer, &forwarded, 2).to_string(), "2.2.2.2");
        // Fewer entries than proxies, or garbage: the peer.
        assert_eq!(client_address(peer, &forwarded, 4), peer);
        assert_eq!(client_address(peer, &headers(&["nonsense"]), 1), peer);
        assert_eq!(
            client_address(peer, &headers(&["[2001:db8::1]:443"]), 1).to_string(),
            "2001:db8::"
        );
        assert_eq!(
            client_address(peer, &headers(&["192.0.2.1:5000"]), 1).to_string(),
            "192.0.2.1"
        );
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        let none = HeaderMap::new();
        let a = client_address("2001:db8:1:2::1".parse().unwrap(), &none, 0);
        let b = client_address(
            "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap(),
            &none,
            0,
        );
        let c = client_address("2001:db8:1:3::1".parse().unwrap(), &none, 0);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = client_address("::ffff:192.0.2.7".parse().unwrap(), &none, 0);
        assert_eq!(mapped.to_string(), "192.0.2.7");
    }

    #[test]
    fn a_spent_failure_budget_refuses_the_address_until_its_next_token() {
        let limits = AddressLimits::new(&ClientLimitConfig {
            per_second: 1,
            burst: 2,
            trusted_proxy_hops: 0,
        });
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..2 {
            limits.charge_failure(a);
            assert_eq!(limits.refused_for(a), None);
        }
        limits.charge_failure(a);
        let wait = limits.refused_for(a).expect("refused");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(
            limits.refused_for(b),
            None,
            "another address has its own budget"
        );
        // The public bucket is separate.
        assert!(limits.charge_public(a).is_ok());
    }
}
