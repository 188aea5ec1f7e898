//! `POST /v1/order` (buy eSIMs with credits, idempotently with an `Idempotency-Key`) and
//! `POST /v1/order/quote` (the same, dry). The workflow lives in [`crate::orders`]; this
//! module validates requests, applies the idempotency rules and shapes responses.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;

use super::order_request::OrderRequest;
use super::order_views::{OrderEsimView, OrderSummaryView};
use super::{ApiJson, Success, success};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::ids::{OrderId, PartnerId};
use crate::money::Cents;
use crate::orders::idempotency::{self, Claim, IdempotencyKey};
use crate::orders::{self, OrderReceipt, OrderStatus};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/order", post(place_order))
        .route("/v1/order/quote", post(quote_order))
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
    partner: PartnerId,
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
