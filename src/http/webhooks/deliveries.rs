//! `POST /v1/webhooks/{webhookId}/test` (a `webhook.test` delivery to one endpoint),
//! `GET /v1/webhooks/{webhookId}/deliveries` (its deliveries, newest first, paginated)
//! and `POST /v1/webhooks/{webhookId}/deliveries/{deliveryId}/retry`.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{WebhookPath, decode_cursor, encode_cursor};
use crate::auth::Principal;
use crate::http::envelope::{Page, Success, page, success};
use crate::http::error::{ApiError, ApiResult, FieldError, NotFound};
use crate::http::extract::ApiQuery;
use crate::http::openapi::errors;
use crate::http::pagination::parse_limit;
use crate::http::state::AppState;
use crate::webhooks::EventType;
use crate::webhooks::endpoints::{self, Delivery, DeliveryStatus};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(test_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(retry_delivery))
}

/// One event's delivery to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookDelivery)]
struct DeliveryView {
    /// Its id.
    #[schema(example = "5b7d3c0e-2b8f-4a53-9c64-8d1e0f2a7c31")]
    delivery_id: Uuid,
    /// The event delivered (also the `webhook-id` header of every attempt).
    #[schema(example = "evt_6f1c2d3e4f5a40718293a4b5c6d7e8f9")]
    event_id: String,
    /// The event's type.
    #[schema(value_type = EventType)]
    event_type: String,
    status: DeliveryStatus,
    /// Attempts made so far.
    #[schema(example = 1)]
    attempts: i32,
    /// The HTTP status of the last attempt's answer; `null` before the first, or when no
    /// answer came (time-out, refused connection).
    #[schema(required = true, example = 200)]
    last_response_status: Option<i32>,
    /// When the next attempt is due; `null` unless `pending`.
    #[serde(serialize_with = "crate::http::time::rfc3339_opt")]
    #[schema(required = true, example = "2026-12-15T10:00:05Z")]
    next_attempt_at: Option<DateTime<Utc>>,
    /// When the event was queued for this endpoint.
    #[serde(serialize_with = "crate::http::time::rfc3339")]
    #[schema(example = "2026-12-15T10:00:00Z")]
    created_at: DateTime<Utc>,
}

impl DeliveryView {
    fn new(d: Delivery) -> Self {
        Self {
            delivery_id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            last_response_status: d.last_response_status,
            next_attempt_at: (d.status == DeliveryStatus::Pending).then_some(d.next_attempt_at),
            created_at: d.created_at,
        }
    }
}

/// Send a test event
///
/// Queues a `webhook.test` event (its `data`: this endpoint) for this endpoint only, and
/// answers its delivery. See it arrive, or follow it in the endpoint's deliveries.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhookId}/test",
    tag = "Webhooks",
    operation_id = "testWebhook",
    params(("webhookId" = Uuid, Path, description = "A `webhookId`.")),
    security(("bearerAuth" = [])),
    responses(
        (status = 202, description = "Queued; delivered within a second or so.", body = Success<DeliveryView>),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::WebhookNotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn test_webhook(
    State(state): State<AppState>,
    principal: Principal,
    WebhookPath(id): WebhookPath,
) -> ApiResult<(StatusCode, axum::Json<Success<DeliveryView>>)> {
    let delivery = endpoints::send_test(&state.db, principal.account(), id)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Webhook))?;
    Ok((StatusCode::ACCEPTED, success(DeliveryView::new(delivery))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    /// Deliveries per page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    /// `meta.nextCursor` of the previous page.
    cursor: Option<String>,
}

/// List an endpoint's deliveries
///
/// The deliveries of events to this endpoint, newest first, one page at a time.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{webhookId}/deliveries",
    tag = "Webhooks",
    operation_id = "listWebhookDeliveries",
    params(("webhookId" = Uuid, Path, description = "A `webhookId`."), DeliveriesQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of deliveries, newest first.", body = Page<DeliveryView>),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::WebhookNotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn list_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    WebhookPath(id): WebhookPath,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> ApiResult<axum::Json<Page<DeliveryView>>> {
    let mut errors = Vec::new();
    let limit = parse_limit(query.limit.as_deref(), &mut errors);
    let after = query.cursor.as_deref().and_then(|raw| {
        let cursor = decode_cursor("d1", raw).filter(|c| Uuid::try_parse(&c.id).is_ok());
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
    endpoints::find(&state.db, account, id)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Webhook))?;
    let (rows, more) = endpoints::deliveries(&state.db, account, id, after.as_ref(), limit).await?;
    let next = more
        .then(|| rows.last())
        .flatten()
        .map(|d| encode_cursor("d1", d.created_at, &d.id.simple().to_string()));
    Ok(page(
        rows.into_iter().map(DeliveryView::new).collect(),
        next,
    ))
}

/// An endpoint id and one of its delivery ids from the path.
struct DeliveryPath(Uuid, Uuid);

impl<S: Send + Sync> FromRequestParts<S> for DeliveryPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((webhook, delivery)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound(NotFound::Webhook))?;
        let webhook =
            Uuid::parse_str(&webhook).map_err(|_| ApiError::NotFound(NotFound::Webhook))?;
        let delivery =
            Uuid::parse_str(&delivery).map_err(|_| ApiError::NotFound(NotFound::Delivery))?;
        Ok(Self(webhook, delivery))
    }
}

/// Retry a delivery
///
/// Makes the delivery due now: a `failed` delivery gets one more attempt, a `pending`
/// one is sent without waiting for its next retry, a `succeeded` one is sent again (same
/// `webhook-id`: dedupe on it).
#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhookId}/deliveries/{deliveryId}/retry",
    tag = "Webhooks",
    operation_id = "retryWebhookDelivery",
    params(
        ("webhookId" = Uuid, Path, description = "A `webhookId`."),
        ("deliveryId" = Uuid, Path, description = "A `deliveryId` of that endpoint."),
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 202, description = "Due now.", body = Success<DeliveryView>),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::WebhookNotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn retry_delivery(
    State(state): State<AppState>,
    principal: Principal,
    DeliveryPath(webhook, delivery): DeliveryPath,
) -> ApiResult<(StatusCode, axum::Json<Success<DeliveryView>>)> {
    let account = principal.account();
    endpoints::find(&state.db, account, webhook)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Webhook))?;
    let delivery = endpoints::retry(&state.db, account, webhook, delivery)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Delivery))?;
    Ok((StatusCode::ACCEPTED, success(DeliveryView::new(delivery))))
}
