//! Orders: the instant order, polling an order accepted before its eSIMs, and finding
//! an order again by its id or by our reference.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::mapping::{OrderState, esim_ids, esims_in, installable, invalid, order_state};
use super::wire::{EsimRecord, Order};
use super::{Roamify, decode, success};
use crate::provider::normalize::InvalidEsim;
use crate::provider::upstream::{self, Call, Turn};
use crate::provider::{
    OrderLookup, ProviderError, ProvisionRequest, Provisioned, ProvisionedEsim, Refusal,
};

/// How an order is looked up.
pub(super) enum Query<'a> {
    /// By Roamify's order id.
    OrderId(&'a str),
    /// By our order id, sent as `referenceId`.
    Reference(&'a str),
}

impl Roamify {
    /// `POST /api/esim/order/instant` for the request, with our order id as `referenceId`.
    pub(super) async fn place(
        &self,
        request: &ProvisionRequest,
    ) -> Result<Provisioned, ProviderError> {
        let started = Instant::now();
        let body = json!({
            "items": [{"packageId": request.sku, "quantity": request.quantity}],
            "referenceId": request.order_ref.to_string(),
        });
        self.budget.take(Turn::Order).await?;
        let call = self
            .http
            .post(self.url("/api/esim/order/instant"))
            .bearer_auth(self.config.credential.expose())
            .json(&body);
        let answer = upstream::send(call, Call::Order, self.config.body_limits.answer).await?;
        let order: Order = decode(success(&answer, Call::Order)?, Call::Order)?;
        let quantity = request.quantity as usize;
        let inline = all_installable(&esims_in(&order)).map_err(|e| invalid(&e))?;
        if let Some(esims) = inline.filter(|e| e.len() == quantity) {
            return Ok(Provisioned {
                provider_order_ref: order.id,
                esims,
            });
        }
        let Some(order_id) = order.id else {
            return Err(ProviderError::Unknown(
                "order answer without an order id or eSIMs".into(),
            ));
        };
        if let OrderState::Failed(reason) = order_state(order.status.as_deref()) {
            return Err(ProviderError::rejected(Refusal::Other, reason));
        }
        self.poll(order_id, quantity, started).await
    }

    /// Polls an accepted order by its id until its eSIMs are installable, for up to ⅔ of
    /// the time-out since `started`; then hands it to reconciliation as accepted.
    async fn poll(
        &self,
        order_id: String,
        quantity: usize,
        started: Instant,
    ) -> Result<Provisioned, ProviderError> {
        let deadline = started + self.config.timeout * 2 / 3;
        let mut wait = Duration::from_millis(200);
        while Instant::now() + wait < deadline {
            tokio::time::sleep(wait).await;
            let left = deadline.saturating_duration_since(Instant::now());
            // The order's own polls spend the orders' budget, never the reads' share.
            let query = Query::OrderId(&order_id);
            match tokio::time::timeout(left, self.find(&query, Turn::Order)).await {
                Ok(Ok(OrderLookup::Issued(issued))) if issued.esims.len() == quantity => {
                    return Ok(issued);
                }
                Ok(Ok(OrderLookup::Failed(reason))) => {
                    return Err(ProviderError::rejected(Refusal::Other, reason));
                }
                // Reads fail as `Unavailable`; only an eSIM we cannot take is `Unknown`.
                Ok(Err(e @ ProviderError::Unknown(_))) => return Err(e),
                // Still processing, or a read failed: the order stands either way.
                _ => wait = (wait * 2).min(Duration::from_secs(2)),
            }
        }
        Err(ProviderError::Accepted {
            provider_order_ref: order_id,
        })
    }

    /// What became of an order: `GET /api/esim/order`, then its eSIMs by id, each call
    /// taking its `turn`.
    pub(super) async fn find(
        &self,
        query: &Query<'_>,
        turn: Turn,
    ) -> Result<OrderLookup, ProviderError> {
        let (key, value) = match query {
            Query::OrderId(id) => ("orderId", *id),
            Query::Reference(reference) => ("referenceId", *reference),
        };
        let answer = self.get("/api/esim/order", &[(key, value)], turn).await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(OrderLookup::NotFound);
        }
        let data = match success(&answer, Call::Read) {
            Ok(data) => data,
            Err(ProviderError::Rejected { message, .. })
                if message.to_ascii_lowercase().contains("not found") =>
            {
                return Ok(OrderLookup::NotFound);
            }
            Err(e) => return Err(e),
        };
        let orders = orders_in(data)?.into_iter().filter(|order| match query {
            Query::OrderId(id) => order.id.as_deref().is_none_or(|o| o == *id),
            Query::Reference(r) => order.reference_id.as_deref().is_none_or(|o| o == *r),
        });
        // Roamify does not enforce unique references on eSIM orders: an issued one wins.
        let rank = |order: &Order| match order_state(order.status.as_deref()) {
            OrderState::Done => 0,
            OrderState::Pending => 1,
            OrderState::Unrecognised(_) => 2,
            OrderState::Failed(_) => 3,
        };
        let Some(order) = orders.min_by_key(rank) else {
            return Ok(OrderLookup::NotFound);
        };
        match order_state(order.status.as_deref()) {
            OrderState::Done => self.issued(order, turn).await,
            OrderState::Pending => Ok(OrderLookup::Pending),
            OrderState::Failed(reason) => Ok(OrderLookup::Failed(reason)),
            OrderState::Unrecognised(status) => Err(ProviderError::Unavailable(format!(
                "unrecognised order status {status:?}"
            ))),
        }
    }

    /// The eSIMs of a completed order: embedded, or fetched one by one by `esimId`.
    /// `Pending` while any of them has no install data yet; an eSIM we cannot take is
    /// an unknown outcome.
    async fn issued(&self, order: Order, turn: Turn) -> Result<OrderLookup, ProviderError> {
        let mut records = esims_in(&order);
        if records.is_empty() {
            for id in esim_ids(&order) {
                let answer = self.get("/api/esim", &[("esimId", &id)], turn).await?;
                if answer.status == reqwest::StatusCode::NOT_FOUND {
                    return Ok(OrderLookup::Pending);
                }
                let record: EsimRecord = decode(success(&answer, Call::Read)?, Call::Read)?;
                records.push(EsimRecord {
                    id: record.id.clone().or(Some(id)),
                    ..record
                });
            }
        }
        match all_installable(&records).map_err(|e| invalid(&e))? {
            Some(esims) if !esims.is_empty() => Ok(OrderLookup::Issued(Provisioned {
                provider_order_ref: order.id,
                esims,
            })),
            _ => Ok(OrderLookup::Pending),
        }
    }
}

/// An order lookup's `data`: one order, a list, or `{"orders":[…]}`.
fn orders_in(data: Value) -> Result<Vec<Order>, ProviderError> {
    match data {
        Value::Array(_) => decode(data, Call::Read),
        Value::Object(mut object) if object.get("orders").is_some_and(Value::is_array) => {
            decode(object.remove("orders").unwrap_or_default(), Call::Read)
        }
        object @ Value::Object(_) => Ok(vec![decode(object, Call::Read)?]),
        _ => Ok(Vec::new()),
    }
}

/// Install data of every record: `None` unless every one is installable, `Err` when one
/// is not an eSIM's.
fn all_installable(records: &[EsimRecord]) -> Result<Option<Vec<ProvisionedEsim>>, InvalidEsim> {
    let mut esims = Vec::with_capacity(records.len());
    for record in records {
        match installable(record)? {
            Some(esim) => esims.push(esim),
            None => return Ok(None),
        }
    }
    Ok(Some(esims))
}
