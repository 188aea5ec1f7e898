//! `GET /v1/orders` (a partner's orders, newest first, paginated and filtered) and
//! `GET /v1/orders/{orderId}` (one order with its eSIMs): what partners reconcile against.

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::order_views::{OrderEsimView, OrderSummaryView};
use super::{ApiQuery, Page, Success, page, success};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, NotFound};
use crate::ids::OrderId;
use crate::orders::history::{self, OrderCursor, OrderFilter};
use crate::orders::{self, OrderStatus};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orders", get(list_orders))
        .route("/v1/orders/{order_id}", get(get_order))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrdersQuery {
    limit: Option<String>,
    cursor: Option<String>,
    status: Option<String>,
    reference: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `limit`: 1 to 100, default 20.
pub(super) fn parse_limit(raw: Option<&str>, errors: &mut Vec<FieldError>) -> u32 {
    match raw.map(str::parse::<u32>) {
        None => 20,
        Some(Ok(limit)) if (1..=100).contains(&limit) => limit,
        Some(_) => {
            errors.push(FieldError::new(
                "limit",
                "must be a whole number from 1 to 100",
            ));
            20
        }
    }
}

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

async fn list_orders(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<OrdersQuery>,
) -> ApiResult<axum::Json<Page<OrderSummaryView>>> {
    let mut errors = Vec::new();
    let limit = parse_limit(query.limit.as_deref(), &mut errors);
    let after = query.cursor.as_deref().and_then(|raw| {
        let cursor = OrderCursor::decode(raw);
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
        .is_some_and(|r| r.is_empty() || r.chars().count() > 64)
    {
        errors.push(FieldError::new("reference", "must be 1 to 64 characters"));
    }
    let from = parse_time("from", query.from.as_deref(), &mut errors);
    let to = parse_time("to", query.to.as_deref(), &mut errors);
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            errors.push(FieldError::new("to", "must not be before `from`"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors));
    }
    let filter = OrderFilter {
        status,
        reference: query.reference,
        from,
        to,
    };
    let (orders, next) =
        history::list(&state.db, principal.partner_id, &filter, after, limit).await?;
    Ok(page(
        orders.iter().map(OrderSummaryView::new).collect(),
        next.map(|c| c.encode()),
    ))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderDetailView {
    #[serde(flatten)]
    order: OrderSummaryView,
    esims: Vec<OrderEsimView>,
}

async fn get_order(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<axum::Json<Success<OrderDetailView>>> {
    let id = path
        .ok()
        .and_then(|Path(raw)| Uuid::parse_str(&raw).ok())
        .map(OrderId)
        .ok_or(ApiError::NotFound(NotFound::Order))?;
    let receipt = orders::receipt(&state.db, principal.partner_id, id)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Order))?;
    Ok(success(OrderDetailView {
        order: OrderSummaryView::new(&receipt.order),
        esims: receipt
            .esims
            .iter()
            .map(|e| OrderEsimView::new(e, &state.public_base_url))
            .collect(),
    }))
}
