//! `GET /v1/events`: the partner's events of the last 30 days in the key's mode, newest
//! first, each as its webhook body (`{"id","type","createdAt","mode","data"}`); and that
//! body's type, which the delivery worker sends.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{Page, page};
use super::error::{ApiError, ApiResult, FieldError};
use super::extract::ApiQuery;
use super::openapi::errors;
use super::pagination::parse_limit;
use super::state::AppState;
use super::webhooks::{decode_cursor, encode_cursor, render};
use crate::auth::Principal;
use crate::mode::{Account, Mode};
use crate::webhooks::EventType;
use crate::webhooks::endpoints::{self, Event};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

/// An event: the body of every webhook delivery, signed per Standard Webhooks (headers
/// `webhook-id`: this `id`; `webhook-timestamp`; `webhook-signature`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Event, example = json!({"id": "evt_6f1c2d3e4f5a40718293a4b5c6d7e8f9", "type": "order.completed",
    "createdAt": "2026-12-15T10:00:00Z", "mode": "live",
    "data": {"orderId": "914ce31d-f1b1-43a4-82d4-95f0b9622496", "status": "completed", "kind": "esim", "esimId": null,
             "reference": "BK-12345", "planId": "ae-5gb-7d", "quantity": 1, "unitCost": 7.5, "totalCost": 7.5,
             "currency": "USD", "customerEmail": null, "createdAt": "2026-12-15T09:59:58Z", "esims": []}}))]
pub(in crate::http) struct EventView {
    /// `evt_` and 32 hex digits; the same on every attempt (dedupe on it).
    #[schema(
        pattern = "^evt_[0-9a-f]{32}$",
        example = "evt_6f1c2d3e4f5a40718293a4b5c6d7e8f9"
    )]
    id: String,
    /// What happened.
    #[serde(rename = "type")]
    #[schema(value_type = EventType)]
    kind: String,
    /// When it happened.
    #[serde(serialize_with = "super::time::rfc3339")]
    #[schema(example = "2026-12-15T10:00:00Z")]
    created_at: DateTime<Utc>,
    /// The mode of the change: sandbox events go only to endpoints made with a sandbox key.
    #[schema(value_type = Mode)]
    mode: String,
    /// The object the API returned for the subject when the event was first sent: an
    /// order (`order.*`, `topup.*`: `GET /v1/orders/{orderId}`), an eSIM (`esim.*`,
    /// `refund.*`: `GET /v1/esim/{esimId}`), the balance (`balance.low`: `GET
    /// /v1/balance`), an endpoint (`webhook.test`: `GET /v1/webhooks/{webhookId}`).
    #[schema(value_type = Object)]
    data: Value,
}

impl EventView {
    /// The body of `event` with `data`.
    pub(in crate::http) fn new(event: Event, data: Value) -> Self {
        Self {
            id: event.id,
            kind: event.kind,
            created_at: event.created_at,
            mode: event.mode,
            data,
        }
    }

    /// The body of `event`, its `data` rendered (and stored) if it was not yet.
    pub(in crate::http) async fn render(
        state: &AppState,
        account: Account,
        event: Event,
    ) -> ApiResult<Self> {
        let data = render::data_of(state, account, &event).await?;
        Ok(Self::new(event, data))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(value_type = Option<EventType>)]
    kind: Option<String>,
    /// Events per page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    /// `meta.nextCursor` of the previous page (opaque).
    cursor: Option<String>,
}

/// List events
///
/// Your events of the last 30 days in this key's mode, newest first, one page at a time:
/// what your endpoints were (or would have been) sent.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "Webhooks",
    operation_id = "listEvents",
    params(EventsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of events, newest first.", body = Page<EventView>),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn list_events(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<axum::Json<Page<EventView>>> {
    let mut errors = Vec::new();
    let limit = parse_limit(query.limit.as_deref(), &mut errors);
    let kind = query.kind.as_deref().and_then(|raw| {
        let kind = EventType::parse(raw);
        if kind.is_none() {
            errors.push(FieldError::new(
                "type",
                format!(
                    "is not an event type: expected one of {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            ));
        }
        kind
    });
    let after = query.cursor.as_deref().and_then(|raw| {
        let cursor = decode_cursor("e1", raw).filter(|c| c.id.starts_with("evt_"));
        if cursor.is_none() {
            errors.push(FieldError::new(
                "cursor",
                "is not a cursor this API returned",
            ));
        }
        cursor
    });
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors));
    }
    let account = principal.account();
    let (rows, more) = endpoints::events(&state.db, account, kind, after.as_ref(), limit).await?;
    let next = more
        .then(|| rows.last())
        .flatten()
        .map(|e| encode_cursor("e1", e.created_at, &e.id));
    let mut views = Vec::with_capacity(rows.len());
    for event in rows {
        views.push(EventView::render(&state, account, event).await?);
    }
    Ok(page(views, next))
}
