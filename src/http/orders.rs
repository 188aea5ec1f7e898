//! `POST /v1/order` (buy eSIMs with credits, idempotently with an `Idempotency-Key`) and
//! `POST /v1/order/quote` (the same, dry). The workflow lives in [`crate::orders`]; this
//! module validates requests, applies the idempotency rules and shapes responses.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiJson, Success, success};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::esims::{EsimRecord, EsimStatus};
use crate::ids::{EsimId, OrderId};
use crate::money::Cents;
use crate::orders::idempotency::{self, Claim, IdempotencyKey};
use crate::orders::{self, NewOrder, OrderReceipt, OrderRecord, OrderStatus};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/order", post(place_order))
        .route("/v1/order/quote", post(quote_order))
}

/// The order body. Types are loose on purpose where serde's own message would be
/// unhelpful; [`OrderRequest::validate`] gives each field a precise message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct OrderRequest {
    plan_id: String,
    quantity: Option<i64>,
    customer_email: Option<String>,
    reference: Option<String>,
}

impl OrderRequest {
    /// Checks every field and reports all problems at once.
    pub(super) fn validate(self) -> ApiResult<NewOrder> {
        let mut errors = Vec::new();
        let plan_id = self.plan_id.trim();
        if plan_id.is_empty() || plan_id.len() > 64 {
            errors.push(FieldError::new(
                "planId",
                "must be a plan id from /v1/packages",
            ));
        }
        let quantity = self.quantity.unwrap_or(1);
        if !(1..=10).contains(&quantity) {
            errors.push(FieldError::new(
                "quantity",
                "must be an integer from 1 to 10",
            ));
        }
        if let Some(email) = &self.customer_email {
            if !is_valid_email(email) {
                errors.push(FieldError::new(
                    "customerEmail",
                    "must be a valid e-mail address",
                ));
            }
        }
        if let Some(reference) = &self.reference {
            let len = reference.chars().count();
            if len == 0 || len > 64 || reference.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    "reference",
                    "must be 1 to 64 characters without control characters",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid_fields(errors));
        }
        Ok(NewOrder {
            plan_id: plan_id.to_owned(),
            quantity: quantity as u32,
            customer_email: self.customer_email,
            reference: self.reference,
        })
    }
}

/// A pragmatic address check: one `@`, a plausible local part, a dotted domain of
/// letters, digits and hyphens, a letters-only top-level domain.
fn is_valid_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    local_ok && domain_ok
}

/// One eSIM in an order response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderEsimView {
    esim_id: EsimId,
    iccid: String,
    status: EsimStatus,
    lpa_code: String,
    smdp_address: String,
    activation_code: String,
    qr_code_url: String,
    ios_install_url: String,
    android_install_url: String,
}

impl OrderEsimView {
    pub(super) fn new(esim: &EsimRecord, base_url: &str) -> Self {
        Self {
            esim_id: esim.id,
            iccid: esim.iccid.clone(),
            status: esim.status,
            lpa_code: esim.lpa_code(),
            smdp_address: esim.smdp_address.clone(),
            activation_code: esim.activation_code.clone(),
            qr_code_url: esim.qr_code_url(base_url),
            ios_install_url: esim.ios_install_url(),
            android_install_url: esim.android_install_url(),
        }
    }
}

/// The fields every order view shows.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderSummaryView {
    order_id: OrderId,
    status: OrderStatus,
    reference: Option<String>,
    plan_id: String,
    quantity: i32,
    unit_cost: Cents,
    total_cost: Cents,
    currency: &'static str,
    customer_email: Option<String>,
    #[serde(serialize_with = "super::time::rfc3339")]
    created_at: DateTime<Utc>,
}

impl OrderSummaryView {
    pub(super) fn new(order: &OrderRecord) -> Self {
        Self {
            order_id: order.id,
            status: order.status,
            reference: order.reference.clone(),
            plan_id: order.plan_id.clone(),
            quantity: order.quantity,
            unit_cost: order.unit_cost,
            total_cost: order.total_cost,
            currency: "USD",
            customer_email: order.customer_email.clone(),
            created_at: order.created_at,
        }
    }
}

/// The response to `POST /v1/order`: the order, the balance its debit left, its eSIMs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlacedOrderView {
    #[serde(flatten)]
    order: OrderSummaryView,
    balance: Cents,
    esims: Vec<OrderEsimView>,
}

async fn place_order(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(request): ApiJson<OrderRequest>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let new = request.validate()?;
    let Some(key) = key else {
        let outcome = orders::place(&state, &principal, &new, None).await;
        return outcome.map(|receipt| placed(&receipt, &state.public_base_url).into_response());
    };

    let hash = idempotency::fingerprint("/v1/order", &new);
    let partner = principal.partner_id;
    let claim = idempotency::claim(
        &state.db,
        partner,
        &key,
        &hash,
        state.config.idempotency_ttl,
    )
    .await?;
    match claim {
        Claim::New => {}
        Claim::Mismatch => return Err(ApiError::IdempotencyKeyReused),
        Claim::InProgress => {
            return Err(ApiError::IdempotencyInProgress {
                retry_after_secs: 1,
            });
        }
        Claim::Replay {
            status,
            body,
            order,
        } => {
            // A 202 is only as good as what we knew then: once settled, answer the outcome.
            if let (202, Some(order)) = (status, order) {
                if let Some(fresh) = settled_response(&state, partner, &key, order).await? {
                    return Ok(replayed(fresh));
                }
            }
            return Ok(replayed(stored(status, body)));
        }
        Claim::Linked(order) => {
            return match settled_response(&state, partner, &key, order).await? {
                Some(response) => Ok(replayed(response)),
                None => Err(ApiError::IdempotencyInProgress {
                    retry_after_secs: 1,
                }),
            };
        }
    }

    let (status, body) = match orders::place(&state, &principal, &new, Some(&key)).await {
        Ok(receipt) => placed_parts(&receipt, &state.public_base_url),
        // Answers that are the order's outcome are kept for retries.
        Err(
            e @ (ApiError::InsufficientCredits { .. }
            | ApiError::NotFound(_)
            | ApiError::Upstream { .. }),
        ) => {
            tracing::debug!(code = e.code(), "order refused");
            (
                e.status_code(),
                serde_json::to_string(&e.body()).map_err(anyhow::Error::from)?,
            )
        }
        // Anything else: a retry runs afresh or, if an order was debited, is answered from
        // that order once it settles.
        Err(e) => {
            idempotency::release(&state.db, partner, &key).await?;
            return Err(e);
        }
    };
    idempotency::store_response(&state.db, partner, &key, status.as_u16(), &body).await?;
    Ok(stored(status.as_u16(), body))
}

/// The Idempotency-Key header, validated; at most one.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<IdempotencyKey>> {
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid_field(
            "Idempotency-Key",
            "must be sent once",
        ));
    }
    IdempotencyKey::parse(first.as_bytes()).map(Some)
}

/// The response for an order that has left `pending` (and stores it for later replays);
/// `None` while it is still pending.
async fn settled_response(
    state: &AppState,
    partner: crate::ids::PartnerId,
    key: &IdempotencyKey,
    order: OrderId,
) -> ApiResult<Option<Response>> {
    let Some(receipt) = orders::receipt(&state.db, partner, order).await? else {
        return Ok(None);
    };
    let (status, body) = match receipt.order.status {
        OrderStatus::Pending => return Ok(None),
        OrderStatus::Processing | OrderStatus::Completed => {
            placed_parts(&receipt, &state.public_base_url)
        }
        OrderStatus::Failed => {
            let error = ApiError::Upstream { refunded: true };
            (
                error.status_code(),
                serde_json::to_string(&error.body()).map_err(anyhow::Error::from)?,
            )
        }
    };
    if receipt.order.status != OrderStatus::Processing {
        idempotency::store_response(&state.db, partner, key, status.as_u16(), &body).await?;
    }
    Ok(Some(stored(status.as_u16(), body)))
}

fn placed_parts(receipt: &OrderReceipt, base_url: &str) -> (StatusCode, String) {
    let status = match receipt.order.status {
        OrderStatus::Completed => StatusCode::CREATED,
        _ => StatusCode::ACCEPTED,
    };
    let body = serde_json::to_string(&Success::new(placed_view(receipt, base_url)))
        .expect("an order view serializes");
    (status, body)
}

fn placed(receipt: &OrderReceipt, base_url: &str) -> Response {
    let (status, body) = placed_parts(receipt, base_url);
    stored(status.as_u16(), body)
}

fn placed_view(receipt: &OrderReceipt, base_url: &str) -> PlacedOrderView {
    PlacedOrderView {
        order: OrderSummaryView::new(&receipt.order),
        balance: receipt.balance,
        esims: receipt
            .esims
            .iter()
            .map(|e| OrderEsimView::new(e, base_url))
            .collect(),
    }
}

/// A JSON response from a status and exact body bytes.
fn stored(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn replayed(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct QuoteView {
    plan_id: String,
    quantity: u32,
    unit_cost: Cents,
    total_cost: Cents,
    currency: &'static str,
    balance: Cents,
    sufficient: bool,
}

/// `POST /v1/order/quote`: the dry run partners use before bulk orders. Debits nothing.
async fn quote_order(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<OrderRequest>,
) -> ApiResult<axum::Json<Success<QuoteView>>> {
    let new = request.validate()?;
    let quote = orders::quote(&state, &principal, &new).await?;
    Ok(success(QuoteView {
        plan_id: new.plan_id,
        quantity: new.quantity,
        unit_cost: quote.unit_cost,
        total_cost: quote.total_cost,
        currency: "USD",
        balance: quote.balance,
        sufficient: quote.balance >= quote.total_cost,
    }))
}

#[cfg(test)]
mod tests {
    use super::is_valid_email;

    #[test]
    fn email_addresses_are_checked_pragmatically() {
        for good in [
            "traveller@example.com",
            "a.b+tag@sub.example.co.uk",
            "x@y.io",
        ] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@b.c",
            "a b@example.com",
            "a@@example.com",
            "a@exa mple.com",
            ".a@example.com",
            "a..b@example.com",
            "a@-x.com",
            "a@example.c0m",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
