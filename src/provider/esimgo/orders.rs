//! Placing an order, waiting (briefly) for its install details, and finding an order again
//! after its outcome was lost.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use chrono::{SecondsFormat, TimeDelta};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::EsimGo;
use super::mapping::{self, OrderState};
use super::wire::{self, EsimDetails, Order};
use crate::provider::normalize::{InvalidEsim, printable};
use crate::provider::upstream::{Call, Turn};
use crate::provider::{
    LookupRequest, OrderLookup, ProviderError, ProvisionRequest, Provisioned, ProvisionedEsim,
};

/// Orders asked for per page of `GET /orders`.
const ORDERS_PER_PAGE: usize = 50;
/// Pages of `GET /orders` read before giving up on "not found".
const ORDER_PAGES: u32 = 5;
/// How long before we placed an order its `createdDate` may be (clock skew).
const WINDOW_BEFORE: TimeDelta = TimeDelta::minutes(1);
/// How long after we placed an order its `createdDate` may be.
const WINDOW_AFTER: TimeDelta = TimeDelta::minutes(10);
/// Order references remembered as ours (per process).
const CLAIMED_CAPACITY: usize = 10_000;

/// Order references received for orders of ours, newest last, bounded.
#[derive(Debug, Default)]
pub(super) struct Claimed {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl Claimed {
    /// Remembers `reference`, forgetting the oldest beyond the capacity.
    pub(super) fn insert(&mut self, reference: &str) {
        if self.set.insert(reference.to_owned()) {
            self.order.push_back(reference.to_owned());
            while self.order.len() > CLAIMED_CAPACITY {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    /// Whether `reference` is remembered.
    pub(super) fn contains(&self, reference: &str) -> bool {
        self.set.contains(reference)
    }
}

/// `POST /orders`, then the install details until two thirds of the time-out have passed.
pub(super) async fn provision(
    go: &EsimGo,
    request: &ProvisionRequest,
) -> Result<Provisioned, ProviderError> {
    let deadline = Instant::now() + go.config.timeout * 2 / 3;
    let body = json!({
        "type": "transaction",
        "assign": true,
        "order": [{
            "type": "bundle",
            "quantity": request.quantity,
            "item": request.sku,
            "allowReassign": false,
        }],
    });
    let answer = go
        .send(
            go.http.post(go.url(&["orders"])?).json(&body),
            Call::Order,
            Turn::Order,
        )
        .await?;
    if !answer.status.is_success() {
        if answer.status == StatusCode::SERVICE_UNAVAILABLE {
            let reference = serde_json::from_slice::<Order>(&answer.body)
                .ok()
                .and_then(|o| o.order_reference);
            if let Some(provider_order_ref) = reference {
                go.claim(&provider_order_ref);
                return Err(ProviderError::Accepted { provider_order_ref });
            }
        }
        return Err(mapping::error(&answer, Call::Order));
    }
    let order: Order = answer.json(Call::Order)?;
    let Some(reference) = order.order_reference.clone() else {
        return Err(ProviderError::Unknown(
            "the order's answer carries no orderReference".into(),
        ));
    };
    let esims = if mapping::order_state(&order) == OrderState::Failed {
        tracing::warn!(status = ?order.status, "eSIM Go answered the order with a failed status; reconciliation will confirm");
        Ok(None)
    } else {
        match mapping::complete(&mapping::inline_esims(&order), request.quantity) {
            Ok(Some(esims)) => Ok(Some(esims)),
            Ok(None) => poll_install_details(go, &reference, request.quantity, deadline).await,
            Err(e) => Err(e),
        }
    };
    // Claimed only now: no await stands between here and the caller receiving the
    // reference, so a dropped call never leaves a claimed reference without its order.
    go.claim(&reference);
    match esims {
        Ok(Some(esims)) => Ok(Provisioned {
            provider_order_ref: Some(reference),
            esims,
        }),
        Ok(None) => Err(ProviderError::Accepted {
            provider_order_ref: reference,
        }),
        Err(e) => Err(mapping::invalid(&e)),
    }
}

/// What `GET /esims/assignments` said.
enum Install {
    /// The details it has (possibly fewer than ordered).
    Listed(Vec<EsimDetails>),
    /// "Processing, come back later" (503), rate limited (429) or not known yet (404).
    NotYet(Option<Duration>),
}

/// `turn` is [`Turn::Order`] while an order waits for its own install details.
async fn install_details(
    go: &EsimGo,
    reference: &str,
    turn: Turn,
) -> Result<Install, ProviderError> {
    let url = go.url(&["esims", "assignments"])?;
    let request = go.http.get(url).query(&[("reference", reference)]);
    let answer = go.send(request, Call::Read, turn).await?;
    match answer.status {
        s if s.is_success() => {}
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS | StatusCode::NOT_FOUND => {
            return Ok(Install::NotYet(answer.retry_after()));
        }
        _ => return Err(mapping::error(&answer, Call::Read)),
    }
    wire::install_details(answer.json::<Value>(Call::Read)?)
        .map(Install::Listed)
        .map_err(|e| ProviderError::Unavailable(format!("malformed install details: {e}")))
}

/// Asks for the install details until they are complete or `deadline` passes
/// (`Ok(None)`); `Err` when they are complete but not an eSIM's.
async fn poll_install_details(
    go: &EsimGo,
    reference: &str,
    quantity: u32,
    deadline: Instant,
) -> Result<Option<Vec<ProvisionedEsim>>, InvalidEsim> {
    let pause = (go.config.timeout / 10).clamp(Duration::from_millis(100), Duration::from_secs(1));
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok(None);
        }
        let poll = install_details(go, reference, Turn::Order);
        let wait = match tokio::time::timeout(remaining, poll).await {
            Ok(Ok(Install::Listed(details))) => match mapping::complete(&details, quantity)? {
                Some(esims) => return Ok(Some(esims)),
                None => pause,
            },
            Ok(Ok(Install::NotYet(retry_after))) => retry_after.unwrap_or(pause),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the order's install details; reconciliation will");
                return Ok(None);
            }
            Err(_) => return Ok(None),
        };
        if Instant::now() + wait >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(wait).await;
    }
}

/// Finds an order again: by its `orderReference`, else by listing orders around the
/// time we placed it.
pub(super) async fn lookup(
    go: &EsimGo,
    request: &LookupRequest,
) -> Result<OrderLookup, ProviderError> {
    let Some(reference) = &request.provider_order_ref else {
        return by_listing(go, request).await;
    };
    go.claim(reference);
    let answer = go
        .send(
            go.http.get(go.url(&["orders", reference])?),
            Call::Read,
            Turn::Read,
        )
        .await?;
    match answer.status {
        s if s.is_success() => {}
        StatusCode::NOT_FOUND => return Ok(OrderLookup::NotFound),
        StatusCode::SERVICE_UNAVAILABLE => return Ok(OrderLookup::Pending),
        _ => return Err(mapping::error(&answer, Call::Read)),
    }
    let order: Order = answer.json(Call::Read)?;
    outcome(go, &order, reference, request.quantity).await
}

/// What an order we found means for ours.
async fn outcome(
    go: &EsimGo,
    order: &Order,
    reference: &str,
    quantity: u32,
) -> Result<OrderLookup, ProviderError> {
    let state = mapping::order_state(order);
    if state == OrderState::Failed {
        let why = order
            .status_message
            .as_deref()
            .or(order.status.as_deref())
            .map_or_else(|| "failed".into(), printable);
        return Ok(OrderLookup::Failed(why));
    }
    let issued = |esims| {
        OrderLookup::Issued(Provisioned {
            provider_order_ref: Some(reference.to_owned()),
            esims,
        })
    };
    let inline = mapping::complete(&mapping::inline_esims(order), quantity);
    if let Some(esims) = inline.map_err(|e| mapping::invalid(&e))? {
        return Ok(issued(esims));
    }
    if state != OrderState::Completed {
        return Ok(OrderLookup::Pending);
    }
    Ok(match install_details(go, reference, Turn::Read).await? {
        Install::Listed(details) => mapping::complete(&details, quantity)
            .map_err(|e| mapping::invalid(&e))?
            .map_or(OrderLookup::Pending, issued),
        Install::NotYet(_) => OrderLookup::Pending,
    })
}

/// Lists the orders created around `placed_at` and takes the one that must be ours.
async fn by_listing(go: &EsimGo, request: &LookupRequest) -> Result<OrderLookup, ProviderError> {
    let from = request.placed_at - WINDOW_BEFORE;
    let to = request.placed_at + WINDOW_AFTER;
    let per_page = ORDERS_PER_PAGE.to_string();
    let mut candidates: Vec<Order> = Vec::new();
    let mut undated = false;
    let mut exhausted = false;
    for page in 1..=ORDER_PAGES {
        let query = [
            ("page", page.to_string()),
            ("perPage", per_page.clone()),
            ("limit", per_page.clone()),
            ("includeIccids", "true".into()),
            (
                "createdAt",
                format!("gte:{}", from.to_rfc3339_opts(SecondsFormat::Millis, true)),
            ),
            (
                "createdAt",
                format!("lte:{}", to.to_rfc3339_opts(SecondsFormat::Millis, true)),
            ),
        ];
        let request_page = go.http.get(go.url(&["orders"])?).query(&query);
        let answer = go.send(request_page, Call::Read, Turn::Read).await?;
        if !answer.status.is_success() {
            return Err(mapping::error(&answer, Call::Read));
        }
        let (orders, pages) = wire::order_list(answer.json::<Value>(Call::Read)?)
            .map_err(|e| ProviderError::Unavailable(format!("malformed order list: {e}")))?;
        let listed = orders.len();
        for order in orders {
            let Some(reference) = order.order_reference.as_deref() else {
                continue;
            };
            if !mapping::order_matches(&order, &request.sku, request.quantity)
                || candidates
                    .iter()
                    .any(|c| c.order_reference.as_deref() == Some(reference))
            {
                continue;
            }
            match mapping::created_at(&order) {
                Some(at) if (from..=to).contains(&at) => candidates.push(order),
                Some(_) => {}
                None => undated = true,
            }
        }
        if listed < ORDERS_PER_PAGE || pages.is_some_and(|n| i64::from(page) >= n) {
            exhausted = true;
            break;
        }
    }
    match candidates.as_slice() {
        [] if exhausted && !undated => Ok(OrderLookup::NotFound),
        [order] if exhausted && !undated => {
            let reference = order.order_reference.clone().unwrap_or_default();
            if go.is_claimed(&reference) {
                // The only match was received for another order of ours: this one may
                // never have been placed, or may be listed late. Not guessed either way.
                tracing::warn!("the only matching eSIM Go order belongs to another order");
                return Ok(OrderLookup::Pending);
            }
            outcome(go, order, &reference, request.quantity).await
        }
        found => {
            tracing::warn!(
                candidates = found.len(),
                exhausted,
                undated,
                "cannot tell which eSIM Go order is ours; not guessing"
            );
            Ok(OrderLookup::Pending)
        }
    }
}
