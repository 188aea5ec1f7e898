//! `GET /v1/orders` (a partner's orders, newest first, paginated and filtered) and
//! `GET /v1/orders/{orderId}` (one order with its eSIMs): what partners reconcile against.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{OrderEsimView, OrderSummaryView};
use crate::auth::Principal;
use crate::http::envelope::{Page, Success, page, success};
use crate::http::error::{ApiError, ApiResult, FieldError, NotFound};
use crate::http::extract::{ApiQuery, IdPath};
use crate::http::openapi::errors;
use crate::http::pagination::{decode_order_cursor, encode_order_cursor, parse_limit};
use crate::http::state::AppState;
use crate::ids::{EsimId, OrderId};
use crate::mode::Account;
use crate::orders::history::{self, OrderFilter};
use crate::orders::{OrderKind, OrderStatus};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct OrdersQuery {
    /// Orders per page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    /// `meta.nextCursor` of the previous page, as given: opaque (its format may change;
    /// one not handed out by this API is refused with 400).
    cursor: Option<String>,
    /// Only orders in this state.
    #[param(value_type = Option<OrderStatus>)]
    status: Option<String>,
    /// Only orders with this booking reference.
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]+$",
        example = "BK-12345"
    )]
    reference: Option<String>,
    /// Only orders placed at or after this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>, example = "2026-11-01T00:00:00Z")]
    from: Option<String>,
    /// Only orders placed at or before this time (RFC 3339). A `to` before `from` matches
    /// no order.
    #[param(value_type = Option<DateTime<Utc>>, example = "2026-11-30T23:59:59Z")]
    to: Option<String>,
    /// Only orders of new eSIMs (`esim`) or only top-ups (`topup`).
    #[param(value_type = Option<OrderKind>)]
    kind: Option<String>,
    /// Only the orders of this eSIM: the order that bought it and its top-ups.
    #[param(value_type = Option<uuid::Uuid>, example = "9c9b5647-05fa-403c-99e2-26f0be9cb0dd")]
    #[serde(rename = "esimId")]
    esim_id: Option<String>,
}

/// `limit`: 1 to 100, default 20.
fn parse_time(
    field: &str,
    raw: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    let raw = raw?;
    match DateTime::parse_from_rfc3339(raw) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "must be an RFC 3339 timestamp like 2026-11-22T13:15:00Z",
            ));
            None
        }
    }
}

/// List orders
///
/// Your orders, newest first, one page at a time (`meta.nextCursor`), optionally
/// filtered. The `esims` of an order are only in `GET /v1/orders/{orderId}`.
#[utoipa::path(
    get,
    path = "/v1/orders",
    tag = "Orders",
    operation_id = "listOrders",
    params(OrdersQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of orders, newest first.", body = Page<OrderSummaryView>,
            example = json!({"status": "success", "data": [{"orderId": "914ce31d-f1b1-43a4-82d4-95f0b9622496", "status": "completed", "kind": "esim", "esimId": null,
                 "reference": "BK-12345", "planId": "ae-5gb-7d", "quantity": 1, "unitCost": 7.5, "totalCost": 7.5,
                 "currency": "USD", "customerEmail": "traveller@example.com", "createdAt": "2026-11-22T14:22:58Z"}],
                "meta": {"nextCursor": "o1.1795443778123456.914ce31df1b143a482d495f0b9622496"}})),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn list_orders(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<OrdersQuery>,
) -> ApiResult<axum::Json<Page<OrderSummaryView>>> {
    let mut errors = Vec::new();
    let limit = parse_limit(query.limit.as_deref(), &mut errors);
    let after = query.cursor.as_deref().and_then(|raw| {
        let cursor = decode_order_cursor(raw);
        if cursor.is_none() {
            errors.push(FieldError::new(
                "cursor",
                "is not a cursor this API returned",
            ));
        }
        cursor
    });
    let status = query.status.as_deref().and_then(|raw| {
        let status = OrderStatus::parse(raw);
        if status.is_none() {
            errors.push(FieldError::new(
                "status",
                "must be one of pending, processing, completed, failed",
            ));
        }
        status
    });
    if query
        .reference
        .as_deref()
        .is_some_and(|r| r.is_empty() || r.chars().count() > 64 || r.chars().any(char::is_control))
    {
        errors.push(FieldError::new(
            "reference",
            "must be 1 to 64 characters without control characters",
        ));
    }
    let kind = query.kind.as_deref().and_then(|raw| {
        let kind = OrderKind::parse(raw);
        if kind.is_none() {
            errors.push(FieldError::new("kind", "must be one of esim, topup"));
        }
        kind
    });
    let esim = query.esim_id.as_deref().and_then(|raw| {
        let id = uuid::Uuid::parse_str(raw).ok().map(EsimId);
        if id.is_none() {
            errors.push(FieldError::new("esimId", "must be an eSIM id (a UUID)"));
        }
        id
    });
    let from = parse_time("from", query.from.as_deref(), &mut errors);
    let to = parse_time("to", query.to.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors));
    }
    let filter = OrderFilter {
        status,
        reference: query.reference,
        from,
        to,
        kind,
        esim,
    };
    let (orders, next) =
        history::list(&state.db, principal.account(), &filter, after, limit).await?;
    Ok(page(
        orders.iter().map(OrderSummaryView::new).collect(),
        next.as_ref().map(encode_order_cursor),
    ))
}

/// One order with its eSIMs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Order)]
struct OrderDetailView {
    #[serde(flatten)]
    order: OrderSummaryView,
    /// The eSIMs issued; empty unless the order is `completed`.
    esims: Vec<OrderEsimView>,
}

/// Get an order
///
/// One of your orders with its eSIMs: how a `processing` order (202) ends up.
#[utoipa::path(
    get,
    path = "/v1/orders/{orderId}",
    tag = "Orders",
    operation_id = "getOrder",
    params(("orderId" = uuid::Uuid, Path, description = "The `orderId` from `POST /v1/order`.")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The order.", body = Success<OrderDetailView>),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::OrderNotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn get_order(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<OrderId>,
) -> ApiResult<axum::Json<Success<OrderDetailView>>> {
    let view = detail(&state, principal.account(), id)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Order))?;
    Ok(success(view))
}

/// One order as `GET /v1/orders/{orderId}` shows it; `None` if the account has no such
/// order.
async fn detail(
    state: &AppState,
    account: Account,
    id: OrderId,
) -> ApiResult<Option<OrderDetailView>> {
    let Some(receipt) = state.orders.receipt(account, id).await? else {
        return Ok(None);
    };
    Ok(Some(OrderDetailView {
        order: OrderSummaryView::new(&receipt.order),
        esims: receipt
            .esims
            .iter()
            .map(|e| OrderEsimView::new(e, &state.public_base_url))
            .collect(),
    }))
}

/// The order view of `GET /v1/orders/{orderId}` as JSON (a webhook's `data`); `None` if
/// the account has no such order.
pub(in crate::http) async fn order_data(
    state: &AppState,
    account: Account,
    id: OrderId,
) -> ApiResult<Option<serde_json::Value>> {
    let view = detail(state, account, id).await?;
    view.map(|v| serde_json::to_value(v).map_err(|e| ApiError::Internal(e.into())))
        .transpose()
}
