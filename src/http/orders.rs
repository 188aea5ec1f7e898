//! `POST /v1/order`: buy eSIMs with credits, idempotently with an `Idempotency-Key`. The
//! workflow lives in [`crate::orders`]; this module validates requests, applies the
//! idempotency rules and shapes responses. The dry run is in `order_quote`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use tracing::Instrument;
use utoipa::{OpenApi, ToSchema};

use super::openapi::errors;
use super::order_request::OrderRequest;
use super::order_views::{OrderEsimView, OrderSummaryView};
use super::{ApiJson, Success};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::ids::{OrderId, PartnerId};
use crate::money::Cents;
use crate::orders::idempotency::{self, Claim, IdempotencyKey};
use crate::orders::{self, NewOrder, OrderReceipt, OrderStatus, Placed};
use crate::state::AppState;

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(place_order))]
pub(super) struct Api;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/order", post(place_order))
}

/// The response to `POST /v1/order`: the order, the balance its debit left, its eSIMs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PlacedOrder)]
struct PlacedOrderView {
    #[serde(flatten)]
    order: OrderSummaryView,
    /// Your balance after the debit.
    balance: Cents,
    /// The eSIMs, `quantity` of them; empty while the order is `processing`.
    esims: Vec<OrderEsimView>,
}

/// The example of a completed order.
fn placed_example() -> serde_json::Value {
    let lpa = "LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5";
    serde_json::json!({"status": "success", "data": {
        "orderId": "914ce31d-f1b1-43a4-82d4-95f0b9622496", "status": "completed",
        "reference": "BK-12345", "planId": "ae-5gb-7d", "quantity": 1,
        "unitCost": 7.5, "totalCost": 7.5, "currency": "USD",
        "customerEmail": "traveller@example.com", "createdAt": "2026-11-22T14:22:58Z",
        "balance": 992.5,
        "esims": [{
            "esimId": "9c9b5647-05fa-403c-99e2-26f0be9cb0dd", "iccid": "8901264426716552582",
            "status": "READY", "lpaCode": lpa, "smdpAddress": "smdp.sim.tavaro.io",
            "activationCode": "ALW4J-EM2S9-BPKY7-6NLZ5",
            "qrCodeUrl": "https://api.tavaro.io/qr/Z3L9GpeleVVuSasqPCdBDxf0Ud.png",
            "iosInstallUrl": format!("https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={lpa}"),
            "androidInstallUrl": format!("https://esimsetup.android.com/esim_qrcode_provisioning?carddata={lpa}"),
        }],
    }})
}

/// The example of an order whose provider outcome is not known yet.
fn processing_example() -> serde_json::Value {
    let mut example = placed_example();
    example["data"]["status"] = "processing".into();
    example["data"]["esims"] = serde_json::json!([]);
    example
}

/// Place an order
///
/// Buys `quantity` eSIMs of a plan. Your credits are debited the plan's **net** price ×
/// `quantity` (your markup is not deducted), atomically: short of funds, nothing is
/// deducted and no order exists (402). If the provider refuses, the debit is refunded
/// (502). If its answer is unknown (time-out), the order is `processing` (202) and is
/// settled by reconciliation: watch it with `GET /v1/orders/{orderId}`.
///
/// Safe to retry with an `Idempotency-Key`: the same key with the same body within 24 h
/// returns the first response again (same `orderId`, no second debit) with
/// `Idempotent-Replayed: true`; with a different body, 422.
#[utoipa::path(
    post,
    path = "/v1/order",
    tag = "Orders",
    operation_id = "placeOrder",
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[\\x20-\\x7E]+$",
            description = "1 to 255 printable ASCII characters, unique per order you mean to place (for example your booking id and attempt). Remembered 24 h.",
            example = "BK-12345-attempt-1"),
    ),
    request_body(content = OrderRequest, content_type = "application/json"),
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Completed: the eSIMs are issued.", body = Success<PlacedOrderView>,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.")),
            example = placed_example),
        (status = 202, description = "Processing: the provider's outcome is not known yet; the debit stands and the order is settled by reconciliation (completed, or failed and refunded). `esims` is empty.",
            body = Success<PlacedOrderView>,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.")),
            example = processing_example),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 402, response = errors::InsufficientCredits),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::PlanNotFound),
        (status = 409, response = errors::IdempotencyInProgress),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 415, response = errors::UnsupportedMediaType),
        (status = 422, response = errors::IdempotencyKeyReused),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 502, response = errors::UpstreamError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn place_order(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ApiJson(request): ApiJson<OrderRequest>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let new = request.validate()?;
    // From here on nothing depends on the partner staying connected: a hang-up drops this
    // handler's future, never the order's work. Were the debit's COMMIT cut off, the order
    // would be charged with no provisioning started (reconciliation would refund it only
    // after twice the provider time-out); were the claim, its key would stay in flight.
    // The task carries the request's id (error bodies name it) and its tracing span.
    let work = order(state, principal, new, key).instrument(tracing::Span::current());
    let task = match crate::error::current_request_id() {
        Some(id) => tokio::spawn(crate::error::with_request_id(id, work)),
        None => tokio::spawn(work),
    };
    task.await
        .map_err(|e| anyhow::anyhow!("order task failed: {e}"))?
}

/// Everything [`place_order`] does once the request is valid.
async fn order(
    state: AppState,
    principal: Principal,
    new: NewOrder,
    key: Option<IdempotencyKey>,
) -> ApiResult<Response> {
    let base_url = state.public_base_url.clone();
    let render = move |receipt: &OrderReceipt| {
        let (status, body) = placed_parts(receipt, &base_url);
        (status.as_u16(), body)
    };
    let Some(key) = key else {
        return match orders::place(&state, &principal, &new, None).await? {
            Placed::Order { receipt, .. } => {
                Ok(placed(&receipt, &state.public_base_url).into_response())
            }
            Placed::NotClaimed => {
                Err(anyhow::anyhow!("an order without a key was not placed").into())
            }
        };
    };

    let hash = idempotency::fingerprint("/v1/order", &new);
    let partner = principal.partner_id;
    // A key the partner has not used yet (nearly every order) is claimed by the debit
    // itself; anything else goes through the claim first.
    let first = orders::Keyed {
        key: &key,
        claim: Some((&hash, state.config.idempotency_ttl)),
        render: &render,
    };
    let outcome = match orders::place(&state, &principal, &new, Some(&first)).await {
        Ok(Placed::NotClaimed) => {
            if let Some(answer) = claimed_elsewhere(&state, partner, &key, &hash).await? {
                return Ok(answer);
            }
            let claimed = orders::Keyed {
                claim: None,
                ..first
            };
            orders::place(&state, &principal, &new, Some(&claimed)).await
        }
        outcome => outcome,
    };

    let (status, body) = match outcome {
        Ok(Placed::Order {
            stored: Some((status, body)),
            ..
        }) => return Ok(stored(status, body)),
        Ok(Placed::Order { receipt, .. }) => placed_parts(&receipt, &state.public_base_url),
        Ok(Placed::NotClaimed) => {
            return Err(anyhow::anyhow!("an order under a claimed key was not placed").into());
        }
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

/// Claims `key` for this request; `None` when it is now ours to run, else the answer the
/// key already has (a replay, 409 while its request runs, 422 for another request).
async fn claimed_elsewhere(
    state: &AppState,
    partner: PartnerId,
    key: &IdempotencyKey,
    hash: &[u8],
) -> ApiResult<Option<Response>> {
    let claim =
        idempotency::claim(&state.db, partner, key, hash, state.config.idempotency_ttl).await?;
    match claim {
        Claim::New => Ok(None),
        Claim::Mismatch => Err(ApiError::IdempotencyKeyReused),
        Claim::InProgress => Err(ApiError::IdempotencyInProgress {
            retry_after_secs: 1,
        }),
        Claim::Replay {
            status,
            body,
            order,
        } => {
            // A 202 is only as good as what we knew then: once settled, answer the outcome.
            if let (202, Some(order)) = (status, order) {
                if let Some(fresh) = settled_response(state, partner, key, order).await? {
                    return Ok(Some(replayed(fresh)));
                }
            }
            Ok(Some(replayed(stored(status, body))))
        }
        Claim::Linked(order) => match settled_response(state, partner, key, order).await? {
            Some(response) => Ok(Some(replayed(response))),
            None => Err(ApiError::IdempotencyInProgress {
                retry_after_secs: 1,
            }),
        },
    }
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
