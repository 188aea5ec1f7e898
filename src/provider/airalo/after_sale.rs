//! What Airalo does for an eSIM after the sale (reference §1.5–§1.6): the top-ups one
//! eSIM takes (`GET /sims/{iccid}/topups`, never the catalogue's), top-up orders
//! (`POST /orders/topups`, our top-up order's id as the `description`, found again in
//! the order list as orders are), and refund requests (`POST /refund`).
//!
//! A refund request is only a request: Airalo's support team reviews each one by hand,
//! credits an approved one to our Airalo balance, and offers no endpoint to ask how a
//! request stands, nor any idempotency (a repeated request is a second request).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::multipart::Form;

use super::wire::{OrderEnvelope, RefundAnswer, TopupsEnvelope};
use super::{Airalo, mapping};
use crate::provider::normalize::int;
use crate::provider::upstream::{Call, Turn};
use crate::provider::{
    CancelRequest, Cancelled, EsimRef, ProviderError, Refusal, ToppedUp, TopupLookup,
    TopupLookupRequest, TopupOffer, TopupRequest,
};

/// The reason a cancellation is filed under (Airalo's closed list).
const REFUND_REASON: &str = "TRIP_CANCELLATION";
/// When the refund endpoint's budget (5 a minute) is spent, the next token comes this
/// long after.
const REFUND_RETRY_AFTER: Duration = Duration::from_secs(12);

/// The ICCID, refused unless it is digits (it becomes part of a URL path).
fn iccid(esim: &EsimRef) -> Result<&str, ProviderError> {
    if esim.iccid.is_empty() || !esim.iccid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProviderError::rejected(
            Refusal::Other,
            format!("`{}` is not an ICCID", esim.iccid),
        ));
    }
    Ok(&esim.iccid)
}

impl Airalo {
    /// `GET /sims/{iccid}/topups`: the packages this eSIM takes now.
    pub(super) async fn topup_offers(
        &self,
        esim: &EsimRef,
    ) -> Result<Vec<TopupOffer>, ProviderError> {
        let url = self.session.url(&format!("/sims/{}/topups", iccid(esim)?));
        let answer = self
            .session
            .send(&self.budget, Turn::Read, Call::Read, |http| http.get(&url))
            .await?;
        if !answer.status.is_success() {
            // 404 (an ICCID Airalo does not know), 422 code 73 (recycled): refusals.
            return Err(mapping::failure(&answer, Call::Read));
        }
        Ok(answer
            .json::<TopupsEnvelope>(Call::Read)?
            .data
            .into_vec()
            .iter()
            .filter_map(mapping::topup_offer)
            .collect())
    }

    /// `POST /orders/topups` with our top-up order's id as the `description`. Airalo
    /// answers the top-up order once it is applied; its id is the order's reference.
    pub(super) async fn apply_topup(
        &self,
        request: &TopupRequest,
    ) -> Result<ToppedUp, ProviderError> {
        let iccid = iccid(&request.esim)?.to_owned();
        let url = self.session.url("/orders/topups");
        let reference = request.order_ref.to_string();
        let answer = self
            .session
            .send(&self.budget, Turn::Order, Call::Order, |http| {
                http.post(&url).multipart(
                    Form::new()
                        .text("package_id", request.sku.clone())
                        .text("iccid", iccid.clone())
                        .text("description", reference.clone()),
                )
            })
            .await?;
        if !answer.status.is_success() {
            return Err(mapping::failure(&answer, Call::Order));
        }
        let order = answer.json::<OrderEnvelope>(Call::Order)?.data;
        Ok(ToppedUp {
            provider_order_ref: order.id,
        })
    }

    /// A top-up with an unknown outcome: its order by Airalo's id when the call gave one,
    /// else by our reference in the order list; no such order is no top-up.
    pub(super) async fn find_topup(
        &self,
        request: &TopupLookupRequest,
    ) -> Result<TopupLookup, ProviderError> {
        let order = match &request.provider_order_ref {
            Some(id) => self.order(id, self.session.timeout(), Turn::Read).await?,
            None => self.find_order(&request.order_ref.to_string()).await?,
        };
        Ok(order.map_or(TopupLookup::NotFound, |order| {
            mapping::topup_outcome(&order)
        }))
    }

    /// `POST /refund` for the eSIM, as a trip cancellation, our order id in the notes for
    /// Airalo's reviewers. Accepted (202 with a `refund_id`) is only under review. The
    /// refund endpoint allows 5 requests a minute: past that the call is refused at once
    /// (rate limited) rather than held while the partner waits.
    pub(super) async fn request_refund(
        &self,
        request: &CancelRequest,
    ) -> Result<Cancelled, ProviderError> {
        let iccid = iccid(&request.esim)?.to_owned();
        if !self.refunds_budget.try_acquire() {
            return Err(ProviderError::RateLimited {
                retry_after: Some(REFUND_RETRY_AFTER),
            });
        }
        let url = self.session.url("/refund");
        let notes = format!("Cancelled by the partner: order {}", request.order_ref);
        let answer = self
            .session
            .send(&self.budget, Turn::Order, Call::Order, |http| {
                http.post(&url).multipart(
                    Form::new()
                        .text("iccids[]", iccid.clone())
                        .text("reason", REFUND_REASON)
                        .text("notes", notes.clone()),
                )
            })
            .await?;
        if answer.status.is_success() {
            let body = answer.json::<RefundAnswer>(Call::Order)?;
            if let Some(id) = body.data.get("refund_id").and_then(refund_id) {
                return Ok(Cancelled::UnderReview {
                    refund_ref: Some(id),
                });
            }
            // Airalo's documented refusals also come as `{"data":[],"meta":{"message"}}`.
            return Err(
                match mapping::refusal_words(body.meta.as_ref(), Some(&body.data)) {
                    Some(words) => ProviderError::rejected(
                        Refusal::Other,
                        format!("airalo refused the refund: {words}"),
                    ),
                    None => ProviderError::Unknown(format!(
                        "airalo answered the refund request without a refund_id (HTTP {})",
                        answer.status.as_u16()
                    )),
                },
            );
        }
        let definitive = answer.status.is_client_error()
            && !matches!(
                answer.status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
            );
        if definitive {
            let body: Option<super::wire::ErrorBody> = serde_json::from_slice(&answer.body).ok();
            let words = body.as_ref().and_then(|b| {
                b.code.is_none().then_some(())?;
                mapping::refusal_words(b.meta.as_ref(), b.data.as_ref())
            });
            if let Some(words) = words {
                return Err(ProviderError::rejected(
                    Refusal::Other,
                    format!("airalo refused the refund: {words}"),
                ));
            }
        }
        Err(mapping::failure(&answer, Call::Order))
    }
}

/// A `refund_id` as text (Airalo documents a string; a number is taken too).
fn refund_id(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(_) => int(value).map(|n| n.to_string()),
        _ => None,
    }
}
