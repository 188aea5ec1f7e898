//! The eSIM Access (RedTea "open API") adapter; the white-label clones (eSIMTrade and
//! others) speak the same API. Every endpoint is a JSON POST under the base URL,
//! authenticated by `RT-AccessCode` and, when a secret key is configured, signed with
//! HMAC-SHA256 (reference §4.1). Answers are HTTP 200 envelopes even on failure
//! ([`wire`]); packages and profiles are normalised in [`mapping`].
//!
//! Orders are asynchronous: `/esim/order` answers an `orderNo` at once and the profiles
//! are allocated within ~30 s. We poll `/esim/query` for up to two thirds of the
//! configured time-out and otherwise answer [`ProviderError::Accepted`], leaving the rest
//! to reconciliation. Our order id is the `transactionId`, which the provider
//! de-duplicates ("duplicate transactionId = same request") and which finds an order
//! again when its `orderNo` was lost.
//!
//! Top-ups and cancellations ([`after_sale`]) follow the same rules: a top-up carries our
//! top-up order's id as its `transactionId`; a cancellation is refunded to our balance at
//! once, and only for a profile never downloaded to a device.

mod after_sale;
mod callbacks;
mod http;
mod mapping;
mod wire;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::callbacks::{Callback, CallbackError, Hint};
use super::upstream::{self, Budgets, Call, Turn, UpstreamConfig};
use super::{
    CancelRequest, Cancelled, EsimRef, EsimUsage, LookupRequest, OrderLookup, Provider,
    ProviderError, ProvisionRequest, Provisioned, RefundReview, Refusal, ToppedUp, TopupLookup,
    TopupLookupRequest, TopupOffer, TopupRequest, UpstreamBalance, UpstreamPackage,
};
use wire::{NO_SUCH_ORDER, STILL_ALLOCATING};

/// The documented limit: 8 requests a second (reads may take half, [`Budgets`]).
const REQUESTS_PER_SECOND: u32 = 8;
/// Profiles per query page (the API takes 5–500).
const PAGE_SIZE: i64 = 50;
/// At most this many pages per query (25,000 profiles): a guard against a pager that
/// never ends.
const MAX_PAGES: i64 = 500;
/// How far before our order time a reference search starts, for clock skew.
const SEARCH_BEFORE: chrono::Duration = chrono::Duration::minutes(15);
/// How far after our order time a reference search reaches.
const SEARCH_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// The eSIM Access style API (covers eSIMTrade and the other clones).
pub struct EsimAccess {
    config: UpstreamConfig,
    client: reqwest::Client,
    budget: Budgets,
}

/// How one call is made: what it is ([`Call`]), how it takes its turn in the budget
/// ([`Turn`]), how much of its answer is read, and its own time-out if any.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ask {
    call: Call,
    turn: Turn,
    catalog: bool,
    timeout: Option<Duration>,
}

impl Ask {
    /// An order.
    fn order() -> Self {
        Self {
            call: Call::Order,
            turn: Turn::Order,
            catalog: false,
            timeout: None,
        }
    }

    /// A read taking its `turn`.
    fn read(turn: Turn) -> Self {
        Self {
            call: Call::Read,
            turn,
            catalog: false,
            timeout: None,
        }
    }

    /// The package list: a read, answered up to the catalogue cap.
    fn catalog() -> Self {
        Self {
            catalog: true,
            ..Self::read(Turn::Read)
        }
    }

    /// With a time-out of its own.
    fn within(self, timeout: Option<Duration>) -> Self {
        Self { timeout, ..self }
    }
}

impl EsimAccess {
    /// An adapter for the configured account; `Err` if its HTTP client cannot be built.
    pub fn new(config: UpstreamConfig) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: upstream::client(&config)?,
            budget: Budgets::per_second(REQUESTS_PER_SECOND),
            config,
        })
    }

    /// Time between two allocation polls: a fifth of the time-out, 250 ms to 2 s.
    fn poll_interval(&self) -> Duration {
        (self.config.timeout / 5).clamp(Duration::from_millis(250), Duration::from_secs(2))
    }

    /// What the provider says about the order `order_no`.
    async fn order_outcome(
        &self,
        order_no: &str,
        quantity: u32,
        ask: Ask,
    ) -> Result<OrderLookup, ProviderError> {
        match self.query(json!({"orderNo": order_no}), ask).await? {
            Ok(profiles) => mapping::outcome(Some(order_no.to_owned()), &profiles, quantity),
            Err(f) if f.is(STILL_ALLOCATING) => Ok(OrderLookup::Pending),
            Err(f) if f.is(NO_SUCH_ORDER) => Ok(OrderLookup::NotFound),
            Err(f) => Err(f.into_error(Call::Read)),
        }
    }

    /// The eSIM's newest profile's usage, taking `turn` in the budget.
    async fn usage_in_turn(&self, esim: &EsimRef, turn: Turn) -> Result<EsimUsage, ProviderError> {
        mapping::usage(&self.profile(esim, turn).await?)
    }

    /// Our order by its `transactionId`, searched in a window around when we placed it.
    async fn find_by_reference(
        &self,
        request: &LookupRequest,
    ) -> Result<OrderLookup, ProviderError> {
        let filter = json!({
            "startTime": mapping::query_time(request.placed_at - SEARCH_BEFORE),
            "endTime": mapping::query_time(request.placed_at + SEARCH_AFTER),
        });
        let reference = request.order_ref.to_string();
        let ours: Vec<wire::Profile> = self
            .query(filter, Ask::read(Turn::Read))
            .await?
            .map_err(|f| f.into_error(Call::Read))?
            .into_iter()
            .filter(|p| p.transaction_id.as_deref() == Some(reference.as_str()))
            .collect();
        if ours.is_empty() {
            return Ok(OrderLookup::NotFound);
        }
        let order_no = ours.iter().find_map(|p| p.order_no.clone());
        mapping::outcome(order_no, &ours, request.quantity)
    }
}

#[async_trait]
impl Provider for EsimAccess {
    fn name(&self) -> &'static str {
        "esimaccess"
    }

    fn callback(&self, callback: &Callback<'_>) -> Result<Vec<Hint>, CallbackError> {
        callbacks::hints(callback)
    }

    async fn provision(&self, request: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        let started = Instant::now();
        let deadline = started + self.config.timeout * 2 / 3;
        let count = i64::from(request.quantity);
        let mut item = json!({"packageCode": request.sku, "count": count});
        let mut body = json!({"transactionId": request.order_ref.to_string()});
        if let Some(price) = request.unit_cost_e4 {
            item["price"] = json!(price);
            body["amount"] = json!(price.saturating_mul(count));
        }
        body["packageInfoList"] = json!([item]);

        let obj = self
            .post("/esim/order", &body, Ask::order())
            .await?
            .map_err(|f| f.into_error(Call::Order))?;
        let order_no = obj
            .get("orderNo")
            .and_then(|n| match n {
                Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .ok_or_else(|| ProviderError::Unknown("order answered without an orderNo".into()))?;

        // Profiles are allocated asynchronously: poll until they are all there or the
        // polling budget is spent. A failed poll is only a reason to poll again, except
        // a profile we cannot take (an unknown outcome: reconciliation settles it). The
        // polls are the order's own: they spend the orders' budget.
        let interval = self.poll_interval();
        while let Some(remaining) = deadline.checked_duration_since(Instant::now()) {
            let poll = Ask::read(Turn::Order).within(Some(remaining));
            match self.order_outcome(&order_no, request.quantity, poll).await {
                Ok(OrderLookup::Issued(issued))
                    if issued.esims.len() == request.quantity as usize =>
                {
                    return Ok(issued);
                }
                Ok(OrderLookup::Failed(reason)) => {
                    return Err(ProviderError::rejected(Refusal::Other, reason));
                }
                Ok(_) => {}
                // Reads fail as `Unavailable`; only a profile we cannot take is `Unknown`.
                Err(e @ ProviderError::Unknown(_)) => return Err(e),
                Err(e) => tracing::debug!(error = %e, "allocation poll failed"),
            }
            if Instant::now() + interval >= deadline {
                break;
            }
            tokio::time::sleep(interval).await;
        }
        Err(ProviderError::Accepted {
            provider_order_ref: order_no,
        })
    }

    async fn lookup(&self, request: &LookupRequest) -> Result<OrderLookup, ProviderError> {
        match &request.provider_order_ref {
            Some(order_no) => {
                self.order_outcome(order_no, request.quantity, Ask::read(Turn::Read))
                    .await
            }
            None => self.find_by_reference(request).await,
        }
    }

    async fn usage(&self, esim: &EsimRef) -> Result<EsimUsage, ProviderError> {
        self.usage_in_turn(esim, Turn::Read).await
    }

    async fn usage_now(&self, esim: &EsimRef) -> Result<EsimUsage, ProviderError> {
        self.usage_in_turn(esim, Turn::ReadNow).await
    }

    async fn packages(&self) -> Result<Vec<UpstreamPackage>, ProviderError> {
        let list: wire::PackageList = self
            .read(
                "/package/list",
                &json!({"locationCode": "", "type": "BASE"}),
                Ask::catalog(),
            )
            .await?;
        let mut packages = Vec::with_capacity(list.package_list.len());
        for package in &list.package_list {
            match mapping::package(package) {
                Ok(p) => packages.push(p),
                Err(why) => tracing::info!(
                    sku = package.package_code.as_deref().unwrap_or_default(),
                    why,
                    "eSIM Access package not imported"
                ),
            }
        }
        Ok(packages)
    }

    async fn balance(&self) -> Result<UpstreamBalance, ProviderError> {
        #[derive(serde::Deserialize)]
        struct Balance {
            #[serde(default, deserialize_with = "super::normalize::flexible_int")]
            balance: Option<i64>,
        }
        let obj: Balance = self
            .read("/balance/query", &json!({}), Ask::read(Turn::Read))
            .await?;
        let amount_e4 = obj.balance.ok_or_else(|| {
            ProviderError::Unavailable("balance answered without an amount".into())
        })?;
        Ok(UpstreamBalance {
            amount_e4,
            currency: "USD".into(),
        })
    }

    async fn topups(
        &self,
        esim: &EsimRef,
        _plan_id: &str,
    ) -> Result<Vec<TopupOffer>, ProviderError> {
        self.topup_offers(esim).await
    }

    async fn topup(&self, request: &TopupRequest) -> Result<ToppedUp, ProviderError> {
        self.apply_topup(request).await
    }

    async fn topup_lookup(
        &self,
        request: &TopupLookupRequest,
    ) -> Result<TopupLookup, ProviderError> {
        self.find_topup(request).await
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<Cancelled, ProviderError> {
        self.cancel_profile(request).await
    }

    /// eSIM Access refunds a cancellation at once ([`Cancelled::Refunded`]), so nothing
    /// of ours is ever under review; asked all the same, the profile answers.
    async fn refund_status(
        &self,
        request: &CancelRequest,
        _refund_ref: Option<&str>,
    ) -> Result<RefundReview, ProviderError> {
        self.refund_review(request).await
    }
}
