//! What every HTTP adapter shares: the settings of one upstream, the rate-limit budgets
//! that make us wait before the upstream would refuse us, a bounded read of every answer,
//! and one place that turns transport failures, HTTP statuses and undecodable bodies into
//! [`ProviderError`]s.
//!
//! The classification depends on what the call was ([`Call`]): a failed *order* may have
//! been executed upstream, so anything short of a definitive answer is
//! [`ProviderError::Unknown`]; a failed *read* has no side effects, so it is merely
//! [`ProviderError::Unavailable`].
//!
//! **Budgets** ([`Budgets`]): each upstream's documented rate is one budget that orders
//! and reads share, and reads may also spend at most a share of it of their own
//! ([`READ_SHARE`]), so however hard reads are pressed, orders keep the rest. Orders
//! wait their turn ([`Turn::Order`]); reconciliation's look-ups and operator reads wait
//! too ([`Turn::Read`]); a partner's usage refresh never waits ([`Turn::ReadNow`]): with
//! no token free it is refused at once and the partner is answered from our records.
//!
//! **Bodies** ([`BodyLimits`]): an answer is read in chunks and abandoned past its cap
//! (an order's, a look-up's, usage: `TAVARO_UPSTREAM_MAX_BODY_BYTES`; a catalogue page:
//! `TAVARO_UPSTREAM_MAX_CATALOG_BYTES`). An oversize answer to an order is an unknown
//! outcome (reconciliation asks again), to a read the upstream is unavailable.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use super::ProviderError;
use super::normalize::printable;
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
    /// The most bytes of an answer read.
    pub body_limits: BodyLimits,
}

/// The most bytes read of one answer, by what was asked. Past it the answer is dropped
/// unread: a broken or hostile upstream cannot make us buffer more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimits {
    /// Orders, look-ups, usage and balance (`TAVARO_UPSTREAM_MAX_BODY_BYTES`).
    pub answer: usize,
    /// One page of a catalogue, or a catalogue read whole (eSIM Access lists every
    /// package in one answer): `TAVARO_UPSTREAM_MAX_CATALOG_BYTES`.
    pub catalog: usize,
}

impl BodyLimits {
    /// 2 MiB: an order of ten eSIMs or a usage report is a few KiB.
    pub const DEFAULT_ANSWER: usize = 2 * 1024 * 1024;
    /// 32 MiB: eSIM Access's whole package list is a few MiB; a page of the others less.
    pub const DEFAULT_CATALOG: usize = 32 * 1024 * 1024;
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            answer: Self::DEFAULT_ANSWER,
            catalog: Self::DEFAULT_CATALOG,
        }
    }
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

/// The share of an upstream's rate that reads may spend: at most half, so orders always
/// keep the other half (and all of it while nobody reads).
pub const READ_SHARE: (u32, u32) = (1, 2);

/// How a call takes its turn in an upstream's [`Budgets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    /// An order, or a read an order makes while it waits for its eSIMs: waits for the
    /// shared budget only.
    Order,
    /// A read that may wait (reconciliation's look-ups, the operator's commands): waits
    /// for the reads' share, then for the shared budget.
    Read,
    /// A read that must not wait (a partner's usage refresh): refused at once, as
    /// [`ProviderError::RateLimited`], when the reads' share or the shared budget has
    /// no token free.
    ReadNow,
}

/// One upstream's rate budget: `total` for every call, and `reads`, the most of it
/// reads may take. Orders are never starved by reads: reads can only ever spend the
/// reads' share of `total`.
#[derive(Clone)]
pub struct Budgets {
    total: Budget,
    reads: Option<Budget>,
}

impl Budgets {
    /// `per_second` calls a second in all, reads at most [`READ_SHARE`] of them (at
    /// least one a second).
    pub fn per_second(per_second: u32) -> Self {
        let (num, den) = READ_SHARE;
        Self {
            total: Budget::per_second(per_second),
            reads: Some(Budget::per_second((per_second * num / den).max(1))),
        }
    }

    /// One budget with no share set aside (an endpoint family only reads use, such as a
    /// catalogue with its own limit).
    pub fn single(budget: Budget) -> Self {
        Self {
            total: budget,
            reads: None,
        }
    }

    /// Takes a turn: waits for it, or, for [`Turn::ReadNow`], refuses when none is free.
    pub async fn take(&self, turn: Turn) -> Result<(), ProviderError> {
        match turn {
            Turn::Order => self.total.acquire().await,
            Turn::Read => {
                if let Some(reads) = &self.reads {
                    reads.acquire().await;
                }
                self.total.acquire().await;
            }
            Turn::ReadNow => {
                let free =
                    self.reads.as_ref().is_none_or(Budget::try_acquire) && self.total.try_acquire();
                if !free {
                    return Err(ProviderError::RateLimited { retry_after: None });
                }
            }
        }
        Ok(())
    }
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
    /// of ours; they are cut short all the same), with control characters made spaces
    /// (it ends up in logs, `failure_reason`, `last_error` and `tavaro orders stuck`).
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        printable(&text.chars().take(200).collect::<String>())
    }
}

/// Sends a request and reads the answer, at most `limit` bytes of it. Transport failures
/// are classified: a connection that was never made is [`ProviderError::Unavailable`]
/// (nothing was sent); a time-out, a connection lost after sending, or an answer larger
/// than `limit` is an unsure failure of `call`.
pub async fn send(
    request: RequestBuilder,
    call: Call,
    limit: usize,
) -> Result<Answer, ProviderError> {
    let mut response = request.send().await.map_err(|e| transport(e, call))?;
    let status = response.status();
    let headers = response.headers().clone();
    let too_large = || {
        call.unsure(format!(
            "answer (HTTP {}) larger than {limit} bytes; not read",
            status.as_u16()
        ))
    };
    // A declared length past the cap is refused before a byte of the body is read.
    let announced = response.content_length().unwrap_or(0);
    if announced > u64::try_from(limit).unwrap_or(u64::MAX) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(limit).min(limit));
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(e, call))? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body: Bytes::from(body),
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
/// A client that cannot be built with them is an error at start-up: there is no
/// fallback to a client without time-outs.
pub fn client(config: &UpstreamConfig) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("tavaro-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
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

    #[tokio::test]
    async fn reads_spend_at_most_their_share_and_a_read_that_must_not_wait_is_refused() {
        let budgets = Budgets::per_second(8);
        let mut reads = 0;
        while budgets.take(Turn::ReadNow).await.is_ok() {
            reads += 1;
        }
        assert_eq!(reads, 4, "reads take half of the burst");
        assert!(matches!(
            budgets.take(Turn::ReadNow).await,
            Err(ProviderError::RateLimited { .. })
        ));
        // The other half is the orders': taken at once, without waiting.
        let started = std::time::Instant::now();
        for _ in 0..4 {
            budgets.take(Turn::Order).await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_millis(50));
    }

    /// A server answering every connection with `chunks` chunks of `chunk` bytes, sent
    /// without a `Content-Length` (chunked), as an upstream streaming without end would.
    async fn streaming(chunks: usize, chunk: usize) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                transfer-encoding: chunked\r\n\r\n";
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let body = format!("{chunk:x}\r\n{}\r\n", "x".repeat(chunk));
                    for _ in 0..chunks {
                        if socket.write_all(body.as_bytes()).await.is_err() {
                            return; // The client stopped reading: as it should.
                        }
                    }
                    let _ = socket.write_all(b"0\r\n\r\n").await;
                });
            }
        });
        format!("http://{address}/")
    }

    #[tokio::test]
    async fn an_answer_streamed_past_its_cap_is_dropped_and_classified_by_the_call() {
        // 64 MiB offered in 64 KiB chunks, no length announced; the cap is 1 MiB.
        let url = streaming(1024, 64 * 1024).await;
        let http = reqwest::Client::new();
        let started = std::time::Instant::now();
        match send(http.get(&url), Call::Order, 1024 * 1024).await {
            Err(ProviderError::Unknown(m)) => assert!(m.contains("larger than 1048576"), "{m}"),
            other => panic!("an order: {other:?}"),
        }
        assert!(
            matches!(
                send(http.get(&url), Call::Read, 1024 * 1024).await,
                Err(ProviderError::Unavailable(_))
            ),
            "a read"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "stopped early");
        // Within the cap, the whole streamed body is read.
        let url = streaming(4, 1000).await;
        let answer = send(http.get(&url), Call::Read, 4000).await.unwrap();
        assert_eq!(answer.body.len(), 4000);
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
