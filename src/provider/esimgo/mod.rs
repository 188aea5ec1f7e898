//! eSIM Go API v2.4 adapter (reference: `upstream-apis.md` §3, the v2.4 OpenAPI file and
//! the "Order your first eSIM" guide).
//!
//! Every request carries `X-API-Key` and `Accept: application/json` (`/esims/assignments`
//! answers CSV without it) and first takes its turn in a 10 requests/s budget (§3.1), of
//! which reads may spend half; a partner's usage read never waits for it.
//!
//! Decisions where the documentation is silent or contradicts itself:
//! - **Catalogue** (§3.2): `GET /catalogue?page=&perPage=50`. The live API wraps a page as
//!   `{"bundles": [...], "pageCount": N}` and the spec says a bare array: both are read;
//!   paging stops at `pageCount`, or, without one, at the first page shorter than `perPage`.
//!   Coverage is the bundle's `countries` (its base countries; `roamingEnabled` is not
//!   sold as coverage). A bundle is global when its name, description or a group says
//!   "global", or when it covers 100 countries or more; otherwise a multi-country bundle's
//!   region is the `region` all its countries share (none when they differ: the sync then
//!   files it as multi-country). `dataAmount` is MB; `unlimited: true` or a negative
//!   `dataAmount` (-1) is unlimited; any other bundle without a positive amount is not
//!   imported (logged). `price` is in the organisation's currency: USD unless the answer
//!   names another. Throttling of the "Unlimited Lite/Essential/Plus" groups is not derived
//!   from names. The catalogue has no top-up-only bundles (a top-up is any bundle ordered
//!   onto an existing ICCID), so none are skipped as such.
//! - **Orders** (§3.3): `POST /orders` `{"type":"transaction","assign":true,"order":[{"type":
//!   "bundle","quantity":q,"item":sku,"allowReassign":false}]}`. eSIM Go takes no client
//!   reference and no idempotency key, so our order id cannot be sent. Install details come
//!   inline for small orders; otherwise `GET /esims/assignments?reference=<orderReference>`
//!   is polled until two thirds of the request time-out have passed, then the order is
//!   [`ProviderError::Accepted`] with its `orderReference`. Once an answer gave the
//!   reference, no outcome of that order is reported as a refusal: an answer with a
//!   failed `status` is `Accepted` too, and the lookup settles it. A 503 ("Processing")
//!   to an order is `Unknown`, or `Accepted` if its body names an `orderReference`.
//!   SM-DP+ addresses written as URLs (`http://smdp.example.com`, the spec's examples)
//!   are reduced to the host an LPA string needs.
//! - **Refusals**: eSIM Go documents only `{"message": ...}`. A 4xx to an order (402 or
//!   a message mentioning balance, credit or funds) is `InsufficientFunds`; a message
//!   saying out of stock / unavailable is `Rejected{OutOfStock}`; one naming a bundle or
//!   item as not found, invalid or unknown is `Rejected{InvalidPackage}`; any other 4xx is
//!   `Rejected{Other}`; 401/403 (without the funds words) are `Auth`, 429 `RateLimited`
//!   with `Retry-After`, 5xx `Unknown`.
//! - **Lookup**: by `orderReference` with `GET /orders/{ref}` (`completed` with eSIMs →
//!   issued, fetching install details if needed; failed/cancelled → failed; anything else
//!   → pending; 404 → not found). Without a reference (the order call died before we
//!   learned it), `GET /orders` is listed for the window [placed_at − 1 min, placed_at +
//!   10 min] (`createdAt=gte:/lte:` filters, `page`/`perPage` and the spec's `limit`,
//!   `includeIccids=true`); orders of exactly one line of the same bundle and quantity
//!   created in the window are candidates. Exactly one → ours; several → pending (never
//!   guess between them; reconciliation flags the order to the operator); none → not
//!   found, but only when the listing was read to its end (at most 5 pages) and no
//!   matching order lacked a readable date. A single match whose reference this process
//!   already handed out for another order is pending, not ours (a best-effort guard, per
//!   process, against giving one order's eSIMs to an identical lost order).
//! - **Usage** (§3.4): `GET /esims/{iccid}/bundles?includeUsed=true` (so depleted and
//!   expired bundles are still listed); the data assignment of the eSIM's own bundle (or
//!   the latest) is read; bytes are decimal (1,000,000,000 = 1000 MB). `processing`/
//!   `queued` → READY, `active` → ACTIVE, `depleted` → DEPLETED, `expired`/`revoked`/
//!   `lapsed` → EXPIRED. Activation is the assignment's `startTime` when given, else, once
//!   the bundle has started, the eSIM's `firstInstalledDateTime` (`GET /esims/{iccid}`);
//!   expiry is the assignment's `endTime` when given (v2.4 documents none).
//! - **Usage's allowance**: `data_total_mb` is the sum of `initialQuantity` over the eSIM's
//!   limited data assignments that are not revoked (the plan's bundle and each top-up is
//!   one), and `data_used_mb` is counted over the same assignments; an unlimited bundle
//!   has no allowance.
//! - **Top-up offers**: the v2.4 API has no "top-ups for this eSIM" listing, only
//!   `GET /esims/{iccid}/compatible/{bundle}` for one bundle. So the offers are the
//!   catalogue's bundles (`GET /catalogue?countries=…`, at most 4 pages) covering every
//!   country of the eSIM's own bundle (`GET /catalogue/bundle/{name}`), the first 20 of
//!   them asked about one by one and kept where eSIM Go answers `compatible: true`; the
//!   cost is the catalogue `price`. All reads, in the reads' share.
//! - **Top-ups** (§3.3): `POST /orders` with the bundle's item carrying `iccids: [iccid]`
//!   (quantity 1) and `allowReassign: false`, so the bundle lands on that eSIM or not at
//!   all. No client reference exists: a `completed` answer is applied; any other status
//!   under an `orderReference` is `Accepted` and the lookup settles it; errors as for an
//!   order.
//! - **Top-up lookup**: by `orderReference` when the answer gave one (`GET /orders/{ref}`);
//!   without it, from the eSIM's assignments (`GET /esims/{iccid}/bundles`): one of the
//!   bundle dated from a minute before we asked is applied; none is pending for the ten
//!   minutes eSIM Go allows itself, or while an assignment of it has no date, and not
//!   found after. It cannot tell our top-up from another of the same bundle on the same
//!   eSIM placed in that window (the gateway does not place two at once).
//! - **Cancel** (§3.5): eSIM Go credits only unstarted, unused bundles, and revoking a
//!   started one loses it without a credit. So the eSIM's assignments are read first: any
//!   data assignment started (`active`/`depleted`/`expired`/`lapsed`) or with data used is
//!   refused with that reason, nothing revoked. Otherwise `DELETE
//!   /esims/{iccid}/bundles/{name}?refundToBalance=true&type=transaction` (with the
//!   assignment's id as `offerId`, which a refund to balance needs) → refunded. A bundle
//!   already revoked answers refunded again (a repeat). A 200 that does not mention the
//!   balance or a credit is still refunded to the partner (the bundle is gone) and logged
//!   for the operator: refunds are off on an account until its manager enables them. An
//!   eSIM no longer on our account (404: revoking its last bundle may return it to eSIM
//!   Go) is an unknown outcome. Refunds are instant, so there is no review to ask about.
//! - **Balance** (§3.5): `GET /organisation` `balance` (floats; credit terms may make it
//!   negative) in its `currency`.

mod after_sale;
mod callbacks;
mod mapping;
mod orders;
mod reads;
mod wire;

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use reqwest::header::ACCEPT;
use reqwest::{RequestBuilder, Url};

use super::callbacks::{Callback, CallbackError, Hint};
use super::upstream::{self, Answer, Budgets, Call, Turn, UpstreamConfig};
use super::{
    CancelRequest, Cancelled, EsimRef, EsimUsage, LookupRequest, OrderLookup, Provider,
    ProviderError, ProvisionRequest, Provisioned, ToppedUp, TopupLookup, TopupLookupRequest,
    TopupOffer, TopupRequest, UpstreamBalance, UpstreamPackage,
};

/// eSIM Go's documented limit: 10 requests a second per IP (reads may take half,
/// [`Budgets`]).
const REQUESTS_PER_SECOND: u32 = 10;

/// The eSIM Go API v2.4.
pub struct EsimGo {
    config: UpstreamConfig,
    http: reqwest::Client,
    budget: Budgets,
    claimed: Mutex<orders::Claimed>,
}

impl EsimGo {
    /// An adapter for the configured account; `Err` if its HTTP client cannot be built.
    pub fn new(config: UpstreamConfig) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: upstream::client(&config)?,
            budget: Budgets::per_second(REQUESTS_PER_SECOND),
            claimed: Mutex::default(),
            config,
        })
    }

    /// The API URL of `segments` (each escaped as one path segment).
    fn url(&self, segments: &[&str]) -> Result<Url, ProviderError> {
        let invalid = || ProviderError::Unavailable("the configured base URL is invalid".into());
        let mut url = Url::parse(&self.config.base_url).map_err(|_| invalid())?;
        url.path_segments_mut()
            .map_err(|_| invalid())?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends `request` with our key once the budget gives it its `turn`, reading its
    /// answer up to the answer cap.
    async fn send(
        &self,
        request: RequestBuilder,
        call: Call,
        turn: Turn,
    ) -> Result<Answer, ProviderError> {
        let limit = self.config.body_limits.answer;
        self.send_capped(request, call, turn, limit).await
    }

    /// [`Self::send`] with an answer cap of `limit` bytes.
    async fn send_capped(
        &self,
        request: RequestBuilder,
        call: Call,
        turn: Turn,
        limit: usize,
    ) -> Result<Answer, ProviderError> {
        self.budget.take(turn).await?;
        let request = request
            .header("X-API-Key", self.config.credential.expose())
            .header(ACCEPT, "application/json");
        upstream::send(request, call, limit).await
    }

    /// Remembers that `reference` belongs to an order whose reference we know.
    fn claim(&self, reference: &str) {
        self.claimed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(reference);
    }

    /// Whether `reference` was received for an order of ours.
    fn is_claimed(&self, reference: &str) -> bool {
        self.claimed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(reference)
    }
}

#[async_trait]
impl Provider for EsimGo {
    fn name(&self) -> &'static str {
        "esimgo"
    }

    fn callback(&self, callback: &Callback<'_>) -> Result<Vec<Hint>, CallbackError> {
        callbacks::hints(&self.config, callback)
    }

    async fn provision(&self, request: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        orders::provision(self, request).await
    }

    async fn lookup(&self, request: &LookupRequest) -> Result<OrderLookup, ProviderError> {
        orders::lookup(self, request).await
    }

    async fn usage(&self, esim: &EsimRef) -> Result<EsimUsage, ProviderError> {
        reads::usage(self, esim, Turn::Read).await
    }

    async fn usage_now(&self, esim: &EsimRef) -> Result<EsimUsage, ProviderError> {
        reads::usage(self, esim, Turn::ReadNow).await
    }

    async fn packages(&self) -> Result<Vec<UpstreamPackage>, ProviderError> {
        reads::packages(self).await
    }

    async fn balance(&self) -> Result<UpstreamBalance, ProviderError> {
        reads::balance(self).await
    }

    async fn topups(
        &self,
        esim: &EsimRef,
        _plan_id: &str,
    ) -> Result<Vec<TopupOffer>, ProviderError> {
        after_sale::topups(self, esim).await
    }

    async fn topup(&self, request: &TopupRequest) -> Result<ToppedUp, ProviderError> {
        after_sale::topup(self, request).await
    }

    async fn topup_lookup(
        &self,
        request: &TopupLookupRequest,
    ) -> Result<TopupLookup, ProviderError> {
        after_sale::topup_lookup(self, request).await
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<Cancelled, ProviderError> {
        after_sale::cancel(self, request).await
    }
}
