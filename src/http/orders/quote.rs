//! `POST /v1/order/quote`: what an order would cost and whether the balance covers it, the
//! dry run partners use before bulk orders. Debits nothing, places nothing.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::request::OrderRequest;
use crate::auth::Principal;
use crate::http::envelope::{Success, success};
use crate::http::error::ApiResult;
use crate::http::extract::ApiJson;
use crate::http::openapi::errors;
use crate::http::state::AppState;
use crate::money::Cents;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(quote_order))
}

/// What an order would cost, and whether your balance covers it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Quote)]
struct QuoteView {
    /// The plan.
    #[schema(example = "ae-5gb-7d")]
    plan_id: String,
    /// eSIMs.
    #[schema(minimum = 1, maximum = 10, example = 10)]
    quantity: u32,
    /// The net price of one eSIM.
    unit_cost: Cents,
    /// What the order would debit.
    total_cost: Cents,
    #[schema(schema_with = crate::http::envelope::literal_usd)]
    currency: &'static str,
    /// Your balance now.
    balance: Cents,
    /// Whether `balance` covers `totalCost`.
    sufficient: bool,
}

/// Quote an order
///
/// The dry run before bulk orders: takes the same body as `POST /v1/order` and answers
/// what the order would cost and whether your balance covers it. Debits nothing and
/// places nothing.
#[utoipa::path(
    post,
    path = "/v1/order/quote",
    tag = "Orders",
    operation_id = "quoteOrder",
    request_body(content = OrderRequest, content_type = "application/json",
        example = json!({"planId": "ae-5gb-7d", "quantity": 10})),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The cost; nothing was debited.", body = Success<QuoteView>,
            example = json!({"status": "success", "data": {"planId": "ae-5gb-7d", "quantity": 10,
                "unitCost": 7.5, "totalCost": 75, "currency": "USD", "balance": 992.5, "sufficient": true}})),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::PlanNotFound),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 415, response = errors::UnsupportedMediaType),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn quote_order(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<OrderRequest>,
) -> ApiResult<axum::Json<Success<QuoteView>>> {
    let new = request.validate()?;
    let quote = state.orders.quote(principal.account(), &new).await?;
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
