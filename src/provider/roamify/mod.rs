//! Roamify eSIM API adapter (upstream-apis §2): a static `Authorization: Bearer` key,
//! `{"status":"success","data":…}` envelopes, float USD, MB and epoch seconds.
//!
//! **Catalog paging** is Roamify's rule for `GET /api/esim/packages`, from its packages
//! reference (<https://docs.getroamify.com/esims/packages.md>; in the docs repository
//! `Roamify-Technologies-Inc/roamify-docs`, `src/content/esims/packages.mdx`) and its
//! breaking-change notice of 2026-06-09 on Roamify's blog: the listing is paged by `page`
//! (default 1) and `pageSize` (default 50), a request without them "may only receive the
//! first page", and a client reads page after page until one returns fewer results (country
//! groups) than its `pageSize`. We read each geography (`local`, `regional`, `global`) that
//! way, sending both on every request with `pageSize` 50. The answer carries no documented
//! paging metadata, so we read none.
//!
//! Where the documentation is silent we decided:
//! - **Rate limit**: undocumented; we keep to 10 requests a second per adapter.
//! - **Catalog paging's stops**: a page that repeats one already read (an API ignoring
//!   `page`) ends that geography's listing with a warning rather than a loop, as does a
//!   full 100th page; what was read is kept, and the listing is reported incomplete
//!   ([`Provider::listing`]), so `catalog sync` withdraws none of the plans it did not
//!   see. A package listed twice is kept once.
//! - **Orders** use `POST /api/esim/order/instant` (order and apply in one call; the doc's
//!   curl shows `/api/esim/order`, its heading and text `/order/instant`), with our order id
//!   as `referenceId`. Roamify wants ≥60 s for it; we allow the configured time-out, and a
//!   time-out is an unknown outcome that reconciliation settles by
//!   `GET /api/esim/order?referenceId=` (what Roamify advises after a time-out).
//! - An order accepted without its eSIMs is polled by its id for up to ⅔ of the time-out,
//!   then handed to reconciliation as accepted.
//! - **A 500 to an order is unknown**, although Roamify answers an unknown `packageId` with
//!   500 "Unknown error": the partner sees `processing`, and the reconciler finds no order
//!   under our reference and refunds once the order is older than twice the time-out.
//! - Order status `ARCHIVED` is read as a completed order filed away; a lookup ignores
//!   orders whose `referenceId`/`id` is not the one asked for (an API that ignored the
//!   filter must not hand us someone else's eSIMs).
//! - Usage: `INSTALLED` is `READY` until data was used or `startedAt` is set (our `READY`
//!   means "no data used yet"); `remainingData` 0 of a limited allowance is `DEPLETED`.
//! - Usage's `data_total_mb` is `allowedData` (the allowance with top-ups, as Roamify
//!   counts it), none for an unlimited one (`Number.MAX_SAFE_INTEGER`).
//! - **Top-ups**: offers are `GET /api/esim/topup/packages?iccid=` (its `data.packages`,
//!   read whether they are packages or country groups of packages, as the catalog is), with
//!   `packageId` and `price`; a top-up is `POST /api/esim/order/topup` `{iccid, packageId,
//!   referenceId}` with our top-up's id as `referenceId`, in the orders' share of the
//!   budget, classified as an order (a `COMPLETED` order is applied, `PENDING` with an id is
//!   accepted, `CANCELLED`/`REFUNDED` refused, a 500 or time-out unknown); its lookup is
//!   `GET /api/esim/order?orderId=` (Roamify's id when we have it) or `?referenceId=`.
//! - **Cancel** asks for a refund (docs.getroamify.com/esims/refunds): a request that
//!   support reviews, never an instant credit, so it answers `UnderReview` with the
//!   request's id. The create call is `POST /api/refund` with the eSIM's `iccid` (and
//!   `esimId` when we have it) and a `reason` ([`after_sale::REFUND_REASON`]): the page's
//!   full text was not available to us, so the path, body and reason are our reading of
//!   its outline (list/get is `GET /api/refund`), to confirm on the sandbox. One request
//!   may be open per eSIM: the 409 a repeat gets names the open `refundId`, so a repeated
//!   cancel is under review with that id, as the first was. 422 (already refunded) and any
//!   other 4xx are refusals with Roamify's message and `code`; 5xx and time-outs unknown.
//! - **Refund status**: `GET /api/refund?refundId=` (or `?iccid=` without an id), the
//!   request's `status`: `REFUNDED` approved, `PENDING`/`PROCESSING` pending, `REJECTED`
//!   rejected with its `rejectionReason`, `CANCELLED` rejected (no one will refund it).
//! - Errors: 4xx answers are read by `code`/`message` (balance → out of funds, "out of
//!   stock", a 404/422 or "invalid/unknown" about the package → invalid package, any other
//!   4xx such as a 409 state conflict → refused); a `"status":"failed"` in a 2xx is trusted
//!   only when it names our balance, stock or the rate limit (otherwise it is unsure).

mod after_sale;
mod callbacks;
mod catalog;
mod mapping;
mod orders;
mod wire;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use self::mapping::error_of;
use self::orders::Query;
use self::wire::{Balance, Envelope, Usage};
use super::callbacks::{Callback, CallbackError, Hint};
use super::normalize::e4_from_amount;
use super::upstream::{self, Answer, Budgets, Call, Turn, UpstreamConfig};
use super::{
    CancelRequest, Cancelled, EsimRef, EsimUsage, Listing, LookupRequest, OrderLookup, Provider,
    ProviderError, ProvisionRequest, Provisioned, RefundReview, ToppedUp, TopupLookup,
    TopupLookupRequest, TopupOffer, TopupRequest, UpstreamBalance, UpstreamPackage,
};

/// Requests a second we allow ourselves (Roamify documents no limit); reads may take
/// half ([`Budgets`]).
const REQUESTS_PER_SECOND: u32 = 10;

/// The Roamify eSIM API.
pub struct Roamify {
    config: UpstreamConfig,
    http: reqwest::Client,
    budget: Budgets,
}

impl Roamify {
    /// An adapter for the configured account; `Err` if its HTTP client cannot be built.
    pub fn new(config: UpstreamConfig) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: upstream::client(&config)?,
            budget: Budgets::per_second(REQUESTS_PER_SECOND),
            config,
        })
    }
}

#[async_trait]
impl Provider for Roamify {
    fn name(&self) -> &'static str {
        "roamify"
    }

    fn callback(&self, callback: &Callback<'_>) -> Result<Vec<Hint>, CallbackError> {
        callbacks::hints(&self.config, callback)
    }

    async fn provision(&self, request: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        self.place(request).await
    }

    async fn lookup(&self, request: &LookupRequest) -> Result<OrderLookup, ProviderError> {
        let reference = request.order_ref.to_string();
        let query = match &request.provider_order_ref {
            Some(id) => Query::OrderId(id),
            None => Query::Reference(&reference),
        };
        self.find(&query, Turn::Read).await
    }

    async fn usage(&self, esim: &EsimRef) -> Result<EsimUsage, ProviderError> {
        self.usage_in_turn(esim, Turn::Read).await
    }

    async fn usage_now(&self, esim: &EsimRef) -> Result<EsimUsage, ProviderError> {
        self.usage_in_turn(esim, Turn::ReadNow).await
    }

    async fn packages(&self) -> Result<Vec<UpstreamPackage>, ProviderError> {
        Ok(self.catalog().await?.packages)
    }

    async fn listing(&self) -> Result<Listing, ProviderError> {
        self.catalog().await
    }

    async fn balance(&self) -> Result<UpstreamBalance, ProviderError> {
        let answer = self.get("/api/balance", &[], Turn::Read).await?;
        let balance: Balance = decode(success(&answer, Call::Read)?, Call::Read)?;
        let amount = balance
            .balance
            .as_f64()
            .or_else(|| balance.balance.as_str().and_then(|s| s.trim().parse().ok()));
        let amount_e4 = match amount {
            Some(a) if a < 0.0 => e4_from_amount(&json!(-a)).map(|e4| -e4),
            Some(a) => e4_from_amount(&json!(a)),
            None => None,
        }
        .ok_or_else(|| ProviderError::Unavailable("balance answer without an amount".into()))?;
        Ok(UpstreamBalance {
            amount_e4,
            currency: balance
                .currency
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "USD".into()),
        })
    }

    async fn topups(
        &self,
        esim: &EsimRef,
        _plan_id: &str,
    ) -> Result<Vec<TopupOffer>, ProviderError> {
        self.compatible_topups(esim).await
    }

    async fn topup(&self, request: &TopupRequest) -> Result<ToppedUp, ProviderError> {
        self.place_topup(request).await
    }

    async fn topup_lookup(
        &self,
        request: &TopupLookupRequest,
    ) -> Result<TopupLookup, ProviderError> {
        self.find_topup(request).await
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<Cancelled, ProviderError> {
        self.request_refund(request).await
    }

    async fn refund_status(
        &self,
        request: &CancelRequest,
        refund_ref: Option<&str>,
    ) -> Result<RefundReview, ProviderError> {
        self.refund_review(request, refund_ref).await
    }
}

impl Roamify {
    /// `GET /api/esim/usage`, taking `turn` in the budget.
    async fn usage_in_turn(&self, esim: &EsimRef, turn: Turn) -> Result<EsimUsage, ProviderError> {
        let answer = self
            .get("/api/esim/usage", &[("iccid", &esim.iccid)], turn)
            .await?;
        let usage: Usage = decode(success(&answer, Call::Read)?, Call::Read)?;
        mapping::usage_of(&usage)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    /// A read with the bearer key, once the budget gives it its `turn`; the answer is
    /// read up to the answer cap.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        turn: Turn,
    ) -> Result<Answer, ProviderError> {
        let limit = self.config.body_limits.answer;
        self.get_capped(path, query, turn, limit).await
    }

    /// [`Self::get`] with an answer cap of `limit` bytes.
    async fn get_capped(
        &self,
        path: &str,
        query: &[(&str, &str)],
        turn: Turn,
        limit: usize,
    ) -> Result<Answer, ProviderError> {
        self.budget.take(turn).await?;
        let request = self
            .http
            .get(self.url(path))
            .bearer_auth(self.config.credential.expose())
            .query(query);
        upstream::send(request, Call::Read, limit).await
    }
}

/// The envelope of a successful answer; any other answer as its error.
fn envelope(answer: &Answer, call: Call) -> Result<Envelope, ProviderError> {
    if answer.status.is_success() {
        let envelope: Envelope = answer.json(call)?;
        let failed = envelope
            .status
            .as_deref()
            .is_some_and(|s| !s.eq_ignore_ascii_case("success"));
        if !failed {
            return Ok(envelope);
        }
        return Err(error_of(
            answer,
            envelope.message.as_deref(),
            envelope.code.as_deref(),
            call,
        ));
    }
    let body: Envelope = serde_json::from_slice(&answer.body).unwrap_or_default();
    Err(error_of(
        answer,
        body.message.as_deref(),
        body.code.as_deref(),
        call,
    ))
}

/// `data` of a successful answer.
fn success(answer: &Answer, call: Call) -> Result<Value, ProviderError> {
    envelope(answer, call).map(|e| e.data)
}

fn decode<T: DeserializeOwned>(data: Value, call: Call) -> Result<T, ProviderError> {
    serde_json::from_value(data).map_err(|e| call.unsure(format!("malformed answer: {e}")))
}
