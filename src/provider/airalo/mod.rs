//! Airalo Partners API v2 adapter (reference §1): OAuth2 client credentials
//! ([`session`]), the paged catalogue, synchronous orders with our order id as the
//! `description` (Airalo has no idempotency key; the description is how an order with an
//! unknown outcome is found again), order look-ups, usage and balance; top-ups and refund
//! requests in [`after_sale`].
//!
//! Budgets follow Airalo's documented limits: the catalogue 80 requests a minute, the
//! token endpoint 3 a minute (in [`session`]), refund requests 5 a minute (on top of the
//! rest), everything else 5 a second (the per-company usage limit, the tightest that
//! applies to the other endpoints), of which reads may take half ([`Budgets`]): a partner
//! polling usage never holds up an order.

mod after_sale;
mod callbacks;
mod mapping;
mod session;
mod wire;

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::{Value, json};
use tokio::time::Instant;

use self::session::Session;
use self::wire::{BalanceEnvelope, OrderEnvelope, OrdersPage, PackagesPage, UsageEnvelope};
use super::callbacks::{Callback, CallbackError, Hint};
use super::normalize::e4_from_amount;
use super::upstream::{Budget, Budgets, Call, Turn, UpstreamConfig};
use super::{
    CancelRequest, Cancelled, EsimRef, EsimUsage, LookupRequest, OrderLookup, Provider,
    ProviderError, ProvisionRequest, Provisioned, RefundReview, Refusal, ToppedUp, TopupLookup,
    TopupLookupRequest, TopupOffer, TopupRequest, UpstreamBalance, UpstreamPackage,
};

/// Catalogue entries (countries and regions) per page.
const PACKAGES_PER_PAGE: u32 = 100;
/// Orders per page when searching by our reference.
const ORDERS_PER_PAGE: u32 = 50;
/// Pages read at most before a listing is called incomplete.
const MAX_PAGES: i64 = 500;
/// Pause between polls of an order accepted without its eSIMs.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The Airalo Partners API v2.
pub struct Airalo {
    session: Session,
    packages_budget: Budgets,
    budget: Budgets,
    refunds_budget: Budget,
}

impl Airalo {
    /// An adapter for the configured account (`credential` is the client id, `secret`
    /// the client secret); `Err` if its HTTP client cannot be built.
    pub fn new(config: UpstreamConfig) -> Result<Self, reqwest::Error> {
        Ok(Self {
            session: Session::new(config)?,
            packages_budget: Budgets::single(Budget::per_minute(80)),
            budget: Budgets::per_second(5),
            refunds_budget: Budget::per_minute(5),
        })
    }

    /// `GET /orders/{id}?include=sims,status`; `None` if Airalo has no such order.
    /// `turn` is [`Turn::Order`] while an order polls for its eSIMs.
    async fn order(
        &self,
        id: &str,
        timeout: Duration,
        turn: Turn,
    ) -> Result<Option<wire::Order>, ProviderError> {
        let url = self.session.url(&format!("/orders/{id}"));
        let answer = self
            .session
            .send(&self.budget, turn, Call::Read, |http| {
                http.get(&url)
                    .query(&[("include", "sims,status")])
                    .timeout(timeout)
            })
            .await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(answer.json::<OrderEnvelope>(Call::Read)?.data)),
            _ => Err(mapping::failure(&answer, Call::Read)),
        }
    }

    /// Searches the order list for the one whose description is exactly `reference`
    /// (`filter[description]` is a substring search).
    async fn find_order(&self, reference: &str) -> Result<Option<wire::Order>, ProviderError> {
        let url = self.session.url("/orders");
        let per_page = ORDERS_PER_PAGE.to_string();
        let mut page: i64 = 1;
        loop {
            let page_text = page.to_string();
            let answer = self
                .session
                .send(&self.budget, Turn::Read, Call::Read, |http| {
                    http.get(&url).query(&[
                        ("filter[description]", reference),
                        ("include", "sims,status"),
                        ("limit", &per_page),
                        ("page", &page_text),
                    ])
                })
                .await?;
            if !answer.status.is_success() {
                return Err(mapping::failure(&answer, Call::Read));
            }
            let listing = answer.json::<OrdersPage>(Call::Read)?;
            let last_page = listing.meta.and_then(|m| m.last_page).unwrap_or(page);
            let found = listing
                .data
                .into_vec()
                .into_iter()
                .find(|o| o.description.as_deref().map(str::trim) == Some(reference));
            if found.is_some() || page >= last_page {
                return Ok(found);
            }
            if page >= MAX_PAGES {
                // Never "not found" (which refunds) without having seen every order.
                return Err(ProviderError::Unavailable(format!(
                    "order search still unfinished after {MAX_PAGES} pages"
                )));
            }
            page += 1;
        }
    }

    /// `GET /sims/{iccid}/usage`, taking `turn` in the budget.
    async fn usage_in_turn(&self, esim: &EsimRef, turn: Turn) -> Result<EsimUsage, ProviderError> {
        if esim.iccid.is_empty() || !esim.iccid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProviderError::rejected(
                Refusal::Other,
                format!("`{}` is not an ICCID", esim.iccid),
            ));
        }
        let url = self.session.url(&format!("/sims/{}/usage", esim.iccid));
        let answer = self
            .session
            .send(&self.budget, turn, Call::Read, |http| http.get(&url))
            .await?;
        if !answer.status.is_success() {
            // 404 (an ICCID Airalo does not know) is a refusal, as the simulator's.
            return Err(mapping::failure(&answer, Call::Read));
        }
        mapping::usage(&answer.json::<UsageEnvelope>(Call::Read)?.data)
    }

    /// What an order Airalo has tells about it.
    fn settle(order: &wire::Order, quantity: u32) -> Result<OrderLookup, ProviderError> {
        if let Some(issued) = mapping::issued(order, quantity).map_err(|e| mapping::invalid(&e))? {
            return Ok(OrderLookup::Issued(issued));
        }
        Ok(match mapping::order_status(order).as_deref() {
            Some("failed") => OrderLookup::Failed("airalo reports the order failed".into()),
            _ => OrderLookup::Pending,
        })
    }
}

#[async_trait]
impl Provider for Airalo {
    fn name(&self) -> &'static str {
        "airalo"
    }

    fn callback(&self, callback: &Callback<'_>) -> Result<Vec<Hint>, CallbackError> {
        callbacks::hints(self.session.config(), callback)
    }

    async fn provision(&self, request: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        let started = Instant::now();
        let url = self.session.url("/orders");
        let reference = request.order_ref.to_string();
        let answer = self
            .session
            .send(&self.budget, Turn::Order, Call::Order, |http| {
                http.post(&url).multipart(
                    Form::new()
                        .text("package_id", request.sku.clone())
                        .text("quantity", request.quantity.to_string())
                        .text("type", "sim")
                        .text("description", reference.clone()),
                )
            })
            .await?;
        if !answer.status.is_success() {
            return Err(mapping::failure(&answer, Call::Order));
        }
        let order = answer.json::<OrderEnvelope>(Call::Order)?.data;
        match mapping::issued(&order, request.quantity) {
            Ok(Some(issued)) => return Ok(issued),
            Ok(None) => {}
            Err(e) => return Err(mapping::invalid(&e)),
        }
        let Some(id) = order.id else {
            return Err(ProviderError::Unknown(
                "airalo answered the order without an order id or eSIMs".into(),
            ));
        };
        // Accepted without (all) its eSIMs: poll for them while the call has time left.
        let deadline = started + self.session.timeout() * 2 / 3;
        loop {
            let now = Instant::now();
            if now + POLL_INTERVAL >= deadline {
                return Err(ProviderError::Accepted {
                    provider_order_ref: id,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
            let left = deadline.saturating_duration_since(Instant::now());
            // The order's own polls spend the orders' budget, never the reads' share.
            let polled = self.order(&id, left, Turn::Order).await;
            match polled.map(|o| o.map(|order| mapping::issued(&order, request.quantity))) {
                Ok(Some(Ok(Some(issued)))) => return Ok(issued),
                Ok(Some(Err(e))) => return Err(mapping::invalid(&e)),
                _ => {}
            }
        }
    }

    async fn lookup(&self, request: &LookupRequest) -> Result<OrderLookup, ProviderError> {
        let order = match &request.provider_order_ref {
            Some(id) => self.order(id, self.session.timeout(), Turn::Read).await?,
            None => self.find_order(&request.order_ref.to_string()).await?,
        };
        match order {
            Some(order) => Self::settle(&order, request.quantity),
            None => Ok(OrderLookup::NotFound),
        }
    }

    async fn usage(&self, esim: &EsimRef) -> Result<EsimUsage, ProviderError> {
        self.usage_in_turn(esim, Turn::Read).await
    }

    async fn usage_now(&self, esim: &EsimRef) -> Result<EsimUsage, ProviderError> {
        self.usage_in_turn(esim, Turn::ReadNow).await
    }

    async fn packages(&self) -> Result<Vec<UpstreamPackage>, ProviderError> {
        let url = self.session.url("/packages");
        let limit = PACKAGES_PER_PAGE.to_string();
        let mut packages = Vec::new();
        let mut seen = HashSet::new();
        for page in 1..=MAX_PAGES {
            let page_text = page.to_string();
            let answer = self
                .session
                .send_listing(&self.packages_budget, |http| {
                    http.get(&url)
                        .query(&[("limit", limit.as_str()), ("page", &page_text)])
                })
                .await?;
            if !answer.status.is_success() {
                return Err(mapping::failure(&answer, Call::Read));
            }
            let listing = answer.json::<PackagesPage>(Call::Read)?;
            let last_page = listing.meta.and_then(|m| m.last_page).unwrap_or(page);
            for area in listing.data.into_vec() {
                // The same package can be listed twice across pages: keep the first.
                packages.extend(
                    mapping::packages(&area)
                        .into_iter()
                        .filter(|p| seen.insert(p.sku.clone())),
                );
            }
            if page >= last_page {
                return Ok(packages);
            }
        }
        Err(ProviderError::Unavailable(format!(
            "catalogue still unfinished after {MAX_PAGES} pages"
        )))
    }

    async fn balance(&self) -> Result<UpstreamBalance, ProviderError> {
        let url = self.session.url("/balance");
        let answer = self
            .session
            .send(&self.budget, Turn::Read, Call::Read, |http| http.get(&url))
            .await?;
        if !answer.status.is_success() {
            return Err(mapping::failure(&answer, Call::Read));
        }
        let money = answer
            .json::<BalanceEnvelope>(Call::Read)?
            .data
            .balances
            .available_balance;
        // A negative balance (a credit line in use) is still a balance.
        let signed = match &money.amount {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let amount_e4 = signed
            .and_then(|a| e4_from_amount(&json!(a.abs())).map(|e4| if a < 0.0 { -e4 } else { e4 }))
            .ok_or_else(|| {
                ProviderError::Unavailable(format!("unreadable balance amount {}", money.amount))
            })?;
        Ok(UpstreamBalance {
            amount_e4,
            currency: money.currency.trim().to_ascii_uppercase(),
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

    /// A refund request for Airalo to review ([`Cancelled::UnderReview`] with its
    /// `refund_id`). Airalo keeps no idempotency: a repeated call files a second request
    /// (which its reviewers refuse as a duplicate).
    async fn cancel(&self, request: &CancelRequest) -> Result<Cancelled, ProviderError> {
        self.request_refund(request).await
    }

    /// Always [`RefundReview::Pending`]: Airalo reviews refund requests by hand and has
    /// no endpoint that tells how one stands. The operator settles each one from the
    /// Partner Platform (an approved refund arrives as Airalo credit).
    async fn refund_status(
        &self,
        request: &CancelRequest,
        refund_ref: Option<&str>,
    ) -> Result<RefundReview, ProviderError> {
        let _ = (request, refund_ref);
        Ok(RefundReview::Pending)
    }
}
