//! After the sale: compatible top-ups, top-up orders and their lookup by our reference,
//! and refund requests (created on cancel, reviewed by Roamify support, read back).

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::mapping::{OrderState, order_state};
use super::wire::{Envelope, Order, Refund};
use super::{Roamify, decode, success};
use crate::provider::normalize::{e4_from_amount, printable};
use crate::provider::upstream::{self, Answer, Call, Turn};
use crate::provider::{
    CancelRequest, Cancelled, EsimRef, ProviderError, RefundReview, Refusal, ToppedUp, TopupLookup,
    TopupLookupRequest, TopupOffer, TopupRequest,
};

/// The reason a refund request states. Roamify documents a list of reasons we could not
/// read in full; this one says what a cancellation through us is.
pub(super) const REFUND_REASON: &str = "NOT_USED";

impl Roamify {
    /// `GET /api/esim/topup/packages?iccid=…`: the packages Roamify offers for the eSIM.
    pub(super) async fn compatible_topups(
        &self,
        esim: &EsimRef,
    ) -> Result<Vec<TopupOffer>, ProviderError> {
        let answer = self
            .get(
                "/api/esim/topup/packages",
                &[("iccid", &esim.iccid)],
                Turn::Read,
            )
            .await?;
        let data = success(&answer, Call::Read)?;
        let mut offers: Vec<TopupOffer> = Vec::new();
        for package in packages_in(&data) {
            let Some(sku) = package
                .get("packageId")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            if offers.iter().any(|o| o.sku == sku) {
                continue;
            }
            offers.push(TopupOffer {
                sku: sku.to_owned(),
                cost_e4: package.get("price").and_then(e4_from_amount),
                days: None,
                data_mb: None,
            });
        }
        Ok(offers)
    }

    /// `POST /api/esim/order/topup` with our top-up's id as `referenceId`.
    pub(super) async fn place_topup(
        &self,
        request: &TopupRequest,
    ) -> Result<ToppedUp, ProviderError> {
        let body = json!({
            "iccid": request.esim.iccid,
            "packageId": request.sku,
            "referenceId": request.order_ref.to_string(),
        });
        let answer = self.post("/api/esim/order/topup", &body).await?;
        let order: Order = decode(success(&answer, Call::Order)?, Call::Order)?;
        match (order_state(order.status.as_deref()), order.id) {
            (OrderState::Done, id) => Ok(ToppedUp {
                provider_order_ref: id,
            }),
            (OrderState::Failed(reason), _) => Err(ProviderError::rejected(Refusal::Other, reason)),
            (_, Some(provider_order_ref)) => Err(ProviderError::Accepted { provider_order_ref }),
            (_, None) => Err(ProviderError::Unknown(
                "top-up answer without an order id or a final status".into(),
            )),
        }
    }

    /// `GET /api/esim/order` by Roamify's id for the top-up, else by our reference.
    pub(super) async fn find_topup(
        &self,
        request: &TopupLookupRequest,
    ) -> Result<TopupLookup, ProviderError> {
        let reference = request.order_ref.to_string();
        let (key, value) = match &request.provider_order_ref {
            Some(id) => ("orderId", id.as_str()),
            None => ("referenceId", reference.as_str()),
        };
        let answer = self
            .get("/api/esim/order", &[(key, value)], Turn::Read)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(TopupLookup::NotFound);
        }
        let data = match success(&answer, Call::Read) {
            Ok(data) => data,
            Err(ProviderError::Rejected { message, .. })
                if message.to_ascii_lowercase().contains("not found") =>
            {
                return Ok(TopupLookup::NotFound);
            }
            Err(e) => return Err(e),
        };
        let orders: Vec<Order> = match data {
            Value::Array(_) => decode(data, Call::Read)?,
            Value::Object(mut object) if object.get("orders").is_some_and(Value::is_array) => {
                decode(object.remove("orders").unwrap_or_default(), Call::Read)?
            }
            object @ Value::Object(_) => vec![decode(object, Call::Read)?],
            _ => Vec::new(),
        };
        // An API that ignored the filter must not settle someone else's top-up.
        let ours = orders.into_iter().filter(|o| match key {
            "orderId" => o.id.as_deref().is_none_or(|id| id == value),
            _ => o.reference_id.as_deref().is_none_or(|r| r == value),
        });
        let rank = |o: &Order| match order_state(o.status.as_deref()) {
            OrderState::Done => 0,
            OrderState::Pending => 1,
            OrderState::Unrecognised(_) => 2,
            OrderState::Failed(_) => 3,
        };
        let Some(order) = ours.min_by_key(rank) else {
            return Ok(TopupLookup::NotFound);
        };
        match order_state(order.status.as_deref()) {
            OrderState::Done => Ok(TopupLookup::Applied(ToppedUp {
                provider_order_ref: order.id,
            })),
            OrderState::Pending => Ok(TopupLookup::Pending),
            OrderState::Failed(reason) => Ok(TopupLookup::Failed(reason)),
            OrderState::Unrecognised(status) => Err(ProviderError::Unavailable(format!(
                "unrecognised order status {status:?}"
            ))),
        }
    }

    /// `POST /api/refund` for the eSIM: a request support reviews. The open request a
    /// 409 names is ours from before (one open request per eSIM): under review, with its
    /// id. 422 (already refunded) and any other 4xx are refusals in Roamify's words.
    pub(super) async fn request_refund(
        &self,
        request: &CancelRequest,
    ) -> Result<Cancelled, ProviderError> {
        let mut body = json!({
            "iccid": request.esim.iccid,
            "reason": REFUND_REASON,
        });
        if let Some(esim_id) = &request.esim.provider_ref {
            body["esimId"] = Value::from(esim_id.as_str());
        }
        let answer = self.post("/api/refund", &body).await?;
        if answer.status == StatusCode::CONFLICT {
            let refund_ref = refund_id_of(&answer);
            if refund_ref.is_none() {
                tracing::warn!("Roamify answered 409 to a refund request without a refundId");
            }
            return Ok(Cancelled::UnderReview { refund_ref });
        }
        if answer.status.is_client_error()
            && !matches!(
                answer.status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
            )
        {
            return Err(refused(&answer));
        }
        let refund: Refund = decode(success(&answer, Call::Order)?, Call::Order)?;
        let refund_ref = refund.id().or_else(|| refund_id_of(&answer));
        Ok(match review_of(&refund) {
            Some(RefundReview::Approved) => Cancelled::Refunded,
            Some(RefundReview::Rejected(why)) => {
                return Err(ProviderError::rejected(Refusal::Other, why));
            }
            _ => Cancelled::UnderReview { refund_ref },
        })
    }

    /// `GET /api/refund` by the request's id (or, without one, the eSIM's ICCID): where
    /// support's review stands.
    pub(super) async fn refund_review(
        &self,
        request: &CancelRequest,
        refund_ref: Option<&str>,
    ) -> Result<RefundReview, ProviderError> {
        let (key, value) = match refund_ref {
            Some(id) => ("refundId", id),
            None => ("iccid", request.esim.iccid.as_str()),
        };
        let answer = self.get("/api/refund", &[(key, value)], Turn::Read).await?;
        let data = success(&answer, Call::Read)?;
        let refunds: Vec<Refund> = match data {
            Value::Array(_) => decode(data, Call::Read)?,
            Value::Object(mut object) => {
                match ["refunds", "items", "data"]
                    .iter()
                    .find(|k| object.get(**k).is_some_and(Value::is_array))
                {
                    Some(key) => decode(object.remove(*key).unwrap_or_default(), Call::Read)?,
                    None => vec![decode(Value::Object(object), Call::Read)?],
                }
            }
            _ => Vec::new(),
        };
        // The asked-for request; by ICCID, the latest one of that eSIM.
        let refund = refunds.into_iter().rev().find(|r| match refund_ref {
            Some(id) => r.id().as_deref() == Some(id),
            None => r.iccid.as_deref().is_none_or(|i| i == request.esim.iccid),
        });
        let Some(refund) = refund else {
            return Err(ProviderError::Unavailable(
                "Roamify lists no such refund request".into(),
            ));
        };
        review_of(&refund).ok_or_else(|| {
            ProviderError::Unavailable(format!(
                "unrecognised refund status {:?}",
                printable(refund.status.as_deref().unwrap_or(""))
            ))
        })
    }

    /// A request with a side effect, in the orders' share of the budget.
    async fn post(&self, path: &str, body: &Value) -> Result<Answer, ProviderError> {
        self.budget.take(Turn::Order).await?;
        let call = self
            .http
            .post(self.url(path))
            .bearer_auth(self.config.credential.expose())
            .json(body);
        upstream::send(call, Call::Order, self.config.body_limits.answer).await
    }
}

/// What a refund's status means for the cancellation; `None` for one we do not know.
fn review_of(refund: &Refund) -> Option<RefundReview> {
    let status = refund.status.as_deref().unwrap_or("").trim();
    match status.to_ascii_uppercase().as_str() {
        "REFUNDED" | "APPROVED" | "COMPLETED" => Some(RefundReview::Approved),
        "PENDING" | "PROCESSING" | "" => Some(RefundReview::Pending),
        "REJECTED" | "DECLINED" => Some(RefundReview::Rejected(
            refund
                .rejection_reason
                .as_deref()
                .map(printable)
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "Roamify support rejected the refund request".into()),
        )),
        "CANCELLED" | "CANCELED" => Some(RefundReview::Rejected(
            "the refund request was cancelled".into(),
        )),
        _ => None,
    }
}

/// The `refundId` an answer names: at its top level (a 409's open request) or in `data`.
fn refund_id_of(answer: &Answer) -> Option<String> {
    let value: Value = serde_json::from_slice(&answer.body).ok()?;
    let id = |v: &Value, keys: &[&str]| {
        keys.iter().find_map(|k| match v.get(k)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    id(&value, &["refundId", "refund_id"])
        .or_else(|| id(value.get("data")?, &["refundId", "refund_id", "id"]))
}

/// A refusal of a refund request, in Roamify's words (with its `code` when it gives one).
fn refused(answer: &Answer) -> ProviderError {
    let body: Envelope = serde_json::from_slice(&answer.body).unwrap_or_default();
    let message = body
        .message
        .as_deref()
        .map(printable)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| answer.snippet());
    let code = body
        .code
        .as_deref()
        .map(|c| format!(" ({})", printable(c)))
        .unwrap_or_default();
    ProviderError::rejected(
        Refusal::Other,
        format!("HTTP {}: {message}{code}", answer.status.as_u16()),
    )
}

/// The packages of a top-up listing's `data`: `{"packages":[…]}` of packages or of
/// country groups carrying `packages`, or a bare list of either.
fn packages_in(data: &Value) -> Vec<&Value> {
    let list = match data {
        Value::Array(items) => items.as_slice(),
        Value::Object(map) => match map.get("packages") {
            Some(Value::Array(items)) => items.as_slice(),
            _ => &[],
        },
        _ => &[],
    };
    let mut packages = Vec::new();
    for item in list {
        match item.get("packages") {
            Some(Value::Array(nested)) if item.get("packageId").is_none() => {
                packages.extend(nested.iter());
            }
            _ => packages.push(item),
        }
    }
    packages
}
