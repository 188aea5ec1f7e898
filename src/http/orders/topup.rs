//! Top-ups: `GET /v1/esim/{esimId}/topups` (the plans that fit an eSIM now, asked of its
//! provider) and `POST /v1/esim/{esimId}/topup` (an order of kind `topup`, with the order
//! semantics: the same debit, Idempotency-Key rules and outcomes).

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::place::{
    PlacedOrderView, answer_order, idempotency_key, placed_example, sandbox_outcome,
};
use super::request::{is_plan_id, valid_reference};
use crate::auth::Principal;
use crate::http::catalog::packages::{self, PackageView};
use crate::http::envelope::{Success, success};
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{ApiJson, IdPath};
use crate::http::late::LateAnswer;
use crate::http::openapi::errors;
use crate::http::state::AppState;
use crate::ids::EsimId;
use crate::orders::{NewOrder, SandboxOutcome};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_topups))
        .routes(routes!(place_topup))
}

/// A top-up: which plan, and optionally your booking reference. Unknown fields are
/// refused (400).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = TopupRequest, example = json!({"planId": "ae-1gb-7d", "reference": "BK-12345-topup-1"}))]
struct TopupBody {
    /// A `planId` from `GET /v1/esim/{esimId}/topups`.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[a-z0-9-]+$",
        example = "ae-1gb-7d"
    )]
    plan_id: String,
    /// Your booking reference, to find the top-up again (`GET /v1/orders?reference=`).
    #[schema(value_type = Option<String>, required = false, min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$", example = "BK-12345-topup-1")]
    reference: Option<String>,
}

/// List an eSIM's top-ups
///
/// The plans that can top up this eSIM now, at your markup, in the shape of
/// `GET /v1/packages`. Asked of the eSIM's provider on every call (what fits depends on
/// the eSIM's state), so it may take a moment. `[]` when the eSIM cannot be topped up
/// (expired, cancelled, or its plan does not allow top-ups).
#[utoipa::path(
    get,
    path = "/v1/esim/{esimId}/topups",
    tag = "Esims",
    operation_id = "listEsimTopups",
    params(("esimId" = uuid::Uuid, Path, description = "An `esimId` from an order.")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The plans that can top up the eSIM now.", body = Success<Vec<PackageView>>),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::EsimNotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn list_topups(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<EsimId>,
) -> ApiResult<axum::Json<Success<Vec<PackageView>>>> {
    let plans = state.orders.topup_plans(principal.account(), id).await?;
    let snapshot = state.catalog.snapshot();
    Ok(success(
        plans
            .iter()
            .map(|plan| packages::view(&snapshot, plan, plan.price(principal.markup_bps)))
            .collect(),
    ))
}

/// The example of a completed top-up.
fn topup_example() -> serde_json::Value {
    let mut example = placed_example();
    let data = &mut example["data"];
    data["kind"] = "topup".into();
    data["esimId"] = data["esims"][0]["esimId"].clone();
    data["planId"] = "ae-1gb-7d".into();
    data["reference"] = "BK-12345-topup-1".into();
    data["customerEmail"] = serde_json::Value::Null;
    data["esims"][0]["status"] = "ACTIVE".into();
    example
}

/// Top up an eSIM
///
/// Adds a plan's data (and validity, from today) to an eSIM you hold: an order of kind
/// `topup`, debited and settled exactly like `POST /v1/order` (net price, 402 with
/// nothing deducted, 502 refunded, 202 `processing` settled by reconciliation,
/// `Idempotency-Key` semantics). The answer's `esims` holds the topped-up eSIM; a
/// `DEPLETED` eSIM is `ACTIVE` again. The plan must be one of
/// `GET /v1/esim/{esimId}/topups` (422 `plan_not_compatible` otherwise); an expired or
/// cancelled eSIM, or one whose plan forbids top-ups, gets 409 `topup_not_allowed`.
/// Sandbox keys may force an outcome with `Sandbox-Outcome`, as for orders.
#[utoipa::path(
    post,
    path = "/v1/esim/{esimId}/topup",
    tag = "Esims",
    operation_id = "topupEsim",
    params(
        ("esimId" = uuid::Uuid, Path, description = "An `esimId` from an order."),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[\\x20-\\x7E]+$",
            description = "1 to 255 printable ASCII characters, unique per top-up you mean to place. Remembered 24 h.",
            example = "BK-12345-topup-1"),
        ("Sandbox-Outcome" = Option<SandboxOutcome>, Header, nullable = false,
            description = "Sandbox keys only: the outcome this top-up is made to have, as for `POST /v1/order`. Refused (400) with a live key.",
            example = "processing"),
    ),
    request_body(content = TopupBody, content_type = "application/json"),
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Completed: the eSIM is topped up.", body = Success<PlacedOrderView>,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.")),
            example = topup_example),
        (status = 202, description = "Processing: the provider's outcome is not known yet; the debit stands and the top-up is settled by reconciliation.",
            body = Success<PlacedOrderView>,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`."))),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 402, response = errors::InsufficientCredits),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::TopupNotFound),
        (status = 409, response = errors::TopupConflict),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 415, response = errors::UnsupportedMediaType),
        (status = 422, response = errors::TopupUnprocessable),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 502, response = errors::UpstreamError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn place_topup(
    State(state): State<AppState>,
    principal: Principal,
    late: Option<Extension<LateAnswer>>,
    IdPath(esim): IdPath<EsimId>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TopupBody>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let outcome = sandbox_outcome(&headers, principal.mode)?;
    let plan_id = body.plan_id.trim_matches(' ');
    let mut errors = Vec::new();
    if !is_plan_id(plan_id) {
        errors.push(FieldError::new(
            "planId",
            "must be a plan id from /v1/esim/{esimId}/topups: 1 to 64 of a-z, 0-9 and -",
        ));
    }
    if body
        .reference
        .as_deref()
        .is_some_and(|r| !valid_reference(r))
    {
        errors.push(FieldError::new(
            "reference",
            "must be 1 to 64 characters without control characters",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors));
    }
    let new = NewOrder {
        plan_id: plan_id.to_owned(),
        quantity: 1,
        customer_email: None,
        reference: body.reference,
        sandbox_outcome: outcome,
        topup_of: Some(esim),
    };
    answer_order(&state, &principal, late, new, key).await
}
