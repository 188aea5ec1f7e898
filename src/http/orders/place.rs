//! `POST /v1/order`: buy eSIMs with credits, idempotently with an `Idempotency-Key`. The
//! workflow, the Idempotency-Key's rules included, lives in [`crate::orders`]; this module
//! validates requests and shapes answers.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::request::OrderRequest;
use super::views::{OrderEsimView, OrderSummaryView};
use crate::auth::Principal;
use crate::http::envelope::{Success, json_response};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::late::LateAnswer;
use crate::http::openapi::errors;
use crate::http::request_id;
use crate::http::state::AppState;
use crate::mode::Mode;
use crate::money::Cents;
use crate::orders::keyed::{Answers, StoredAnswer};
use crate::orders::{
    IdempotencyKey, NewOrder, OrderError, OrderReceipt, OrderStatus, SandboxOutcome,
};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(place_order))
}

/// The response to `POST /v1/order`: the order, the balance its debit left, its eSIMs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PlacedOrder)]
pub(in crate::http) struct PlacedOrderView {
    #[serde(flatten)]
    order: OrderSummaryView,
    /// Your balance after the debit.
    balance: Cents,
    /// The eSIMs, `quantity` of them; empty while the order is `processing`.
    esims: Vec<OrderEsimView>,
}

/// The example of a completed order.
pub(super) fn placed_example() -> serde_json::Value {
    let lpa = "LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5";
    serde_json::json!({"status": "success", "data": {
        "orderId": "914ce31d-f1b1-43a4-82d4-95f0b9622496", "status": "completed",
        "kind": "esim", "esimId": null,
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
/// deducted and no order exists (402). If the provider refuses or cannot take the order,
/// the debit is refunded (502, `refunded: true`). If its answer is unknown (time-out), or
/// anything else keeps the outcome open once you are debited, the order is `processing`
/// (202) and is settled by reconciliation: watch it with `GET /v1/orders/{orderId}`. A
/// 503 always means nothing was deducted.
///
/// Safe to retry with an `Idempotency-Key`: the same key with the same body within 24 h
/// returns the first response again (same `orderId`, no second debit) with
/// `Idempotent-Replayed: true`; with a different body, 422.
///
/// With a sandbox key (`tvr_test_…`) the order debits your sandbox balance and is
/// fulfilled by the simulator, never by an upstream. `Sandbox-Outcome` makes it answer
/// one of the outcomes to handle: `upstream_error` (502, refunded), `processing` (202,
/// then completed by reconciliation within 10 s) or `service_unavailable` (503, nothing
/// debited). A live key sending `Sandbox-Outcome` gets 400.
#[utoipa::path(
    post,
    path = "/v1/order",
    tag = "Orders",
    operation_id = "placeOrder",
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[\\x20-\\x7E]+$",
            description = "1 to 255 printable ASCII characters, unique per order you mean to place (for example your booking id and attempt). Remembered 24 h.",
            example = "BK-12345-attempt-1"),
        ("Sandbox-Outcome" = Option<SandboxOutcome>, Header, nullable = false,
            description = "Sandbox keys only: the outcome this order is made to have. `upstream_error`: 502, refunded; `processing`: 202, completed by reconciliation within 10 s; `service_unavailable`: 503, nothing debited. Refused (400) with a live key.",
            example = "processing"),
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
    late: Option<Extension<LateAnswer>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<OrderRequest>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let outcome = sandbox_outcome(&headers, principal.mode)?;
    let mut new = request.validate()?;
    new.sandbox_outcome = outcome;
    answer_order(&state, &principal, late, new, key).await
}

/// Places a validated order (new eSIMs or a top-up), under its Idempotency-Key when it
/// has one, and answers it: 201/202 with the order, `Idempotent-Replayed: true` on a
/// replay.
pub(super) async fn answer_order(
    state: &AppState,
    principal: &Principal,
    late: Option<Extension<LateAnswer>>,
    new: NewOrder,
    key: Option<IdempotencyKey>,
) -> ApiResult<Response> {
    let account = principal.account();
    let answers = Arc::new(HttpAnswers {
        base_url: state.public_base_url.clone(),
        request_id: request_id::current(),
        late: late.map(|Extension(late)| late),
    });
    let Some(key) = key else {
        let receipt = state.orders.place(account, new, answers).await?;
        let answer = placed_answer(&receipt, &state.public_base_url);
        return Ok(json_response(answer.status, answer.body));
    };
    let keyed = state.orders.place_keyed(account, new, key, answers).await?;
    let mut response = json_response(keyed.answer.status, keyed.answer.body);
    if keyed.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The Idempotency-Key header, validated; at most one.
pub(in crate::http) fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<IdempotencyKey>> {
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
    Ok(Some(IdempotencyKey::parse(first.as_bytes())?))
}

/// The `Sandbox-Outcome` header, validated: at most one, a known outcome, and only with a
/// sandbox key (a live order is never made to fail: the header is refused, not ignored).
pub(super) fn sandbox_outcome(
    headers: &HeaderMap,
    mode: Mode,
) -> ApiResult<Option<SandboxOutcome>> {
    let mut values = headers.get_all("sandbox-outcome").iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if mode != Mode::Sandbox {
        return Err(ApiError::invalid_field(
            "Sandbox-Outcome",
            "is accepted with sandbox keys (tvr_test_...) only",
        ));
    }
    if values.next().is_some() {
        return Err(ApiError::invalid_field(
            "Sandbox-Outcome",
            "must be sent once",
        ));
    }
    first
        .to_str()
        .ok()
        .and_then(|v| SandboxOutcome::parse(v.trim()))
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "Sandbox-Outcome",
                "must be one of upstream_error, processing, service_unavailable",
            )
        })
}

/// How this API answers an order, for the workflow to keep under its Idempotency-Key.
struct HttpAnswers {
    base_url: String,
    /// The request's id, named in error bodies (the workflow runs in a task of its own).
    request_id: Option<String>,
    /// Where the answer for the request's time limit goes once the order is debited.
    late: Option<LateAnswer>,
}

impl Answers for HttpAnswers {
    fn placed(&self, receipt: &OrderReceipt) -> StoredAnswer {
        placed_answer(receipt, &self.base_url)
    }

    fn debited(&self, receipt: &OrderReceipt) -> bool {
        self.late.as_ref().is_none_or(|late| {
            let (receipt, base_url) = (receipt.clone(), self.base_url.clone());
            late.leave(move || placed_answer(&receipt, &base_url))
        })
    }

    fn refused(&self, error: &OrderError) -> StoredAnswer {
        let error = ApiError::of_order(error);
        StoredAnswer {
            status: error.status_code().as_u16(),
            body: serde_json::to_string(&error.body_for(self.request_id.clone()))
                .expect("an error body serializes"),
        }
    }
}

/// 201 for a completed order, 202 while it is processing, with the order's view.
fn placed_answer(receipt: &OrderReceipt, base_url: &str) -> StoredAnswer {
    let status = match receipt.order.status {
        OrderStatus::Completed => StatusCode::CREATED,
        _ => StatusCode::ACCEPTED,
    };
    let view = PlacedOrderView {
        order: OrderSummaryView::new(&receipt.order),
        balance: receipt.balance,
        esims: receipt
            .esims
            .iter()
            .map(|e| OrderEsimView::new(e, base_url))
            .collect(),
    };
    StoredAnswer {
        status: status.as_u16(),
        body: serde_json::to_string(&Success::new(view)).expect("an order view serializes"),
    }
}
