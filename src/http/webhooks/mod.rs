//! The webhook endpoints API (`/v1/webhooks…`): a partner's endpoints in the key's mode
//! (create with its secret shown once, list, get, update, delete, rotate the secret),
//! test deliveries, the deliveries of an endpoint and their retry ([`deliveries`]); how an
//! event's body is rendered from the API's own views ([`render`]); and the delivery
//! worker every server runs ([`worker`]).

mod deliveries;
pub(super) mod render;
pub(super) mod worker;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::envelope::{Success, success};
use super::error::{ApiError, ApiResult, FieldError, NotFound};
use super::extract::ApiJson;
use super::openapi::errors;
use super::state::AppState;
use crate::auth::Principal;
use crate::webhooks::endpoints::{self, Cursor, Endpoint, EndpointPatch, EndpointStatus};
use crate::webhooks::{EventType, url};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .merge(deliveries::router())
}

/// Longest `description`.
const MAX_DESCRIPTION_CHARS: usize = 256;

/// A webhook endpoint: where events of the key's mode are POSTed, signed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Webhook)]
pub(super) struct WebhookView {
    /// Its id.
    #[schema(example = "3f0c7a52-8a0e-4d59-a4f4-3e9d2c4f7b10")]
    webhook_id: Uuid,
    /// Where deliveries are POSTed.
    #[schema(format = "uri", example = "https://example.com/hooks")]
    url: String,
    /// The event types it receives; `null`: every type.
    #[schema(value_type = Option<Vec<EventType>>, required = true, example = json!(["order.completed", "order.failed"]))]
    events: Option<Vec<String>>,
    /// Your note.
    #[schema(required = true, example = "Bookings backend")]
    description: Option<String>,
    status: EndpointStatus,
    /// When it was created.
    #[serde(serialize_with = "super::time::rfc3339")]
    #[schema(example = "2026-12-15T10:00:00Z")]
    created_at: DateTime<Utc>,
}

impl WebhookView {
    /// The view of `endpoint`.
    pub(super) fn new(endpoint: Endpoint) -> Self {
        Self {
            webhook_id: endpoint.id,
            url: endpoint.url,
            events: endpoint.events,
            description: endpoint.description,
            status: endpoint.status,
            created_at: endpoint.created_at,
        }
    }
}

/// An endpoint with its signing secret: the answer to a creation or a rotation, the only
/// time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookWithSecret)]
struct WithSecretView {
    #[serde(flatten)]
    webhook: WebhookView,
    /// The signing secret (Standard Webhooks: `whsec_` + base64 of 32 random bytes). Shown
    /// only here: keep it where your receiver reads it.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=")]
    secret: String,
}

/// `POST /v1/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = NewWebhook, example = json!({"url": "https://example.com/hooks", "events": ["order.completed", "order.failed"], "description": "Bookings backend"}))]
struct NewWebhookBody {
    /// An `https` URL whose host resolves to public addresses only.
    #[schema(format = "uri", max_length = 2048)]
    url: String,
    /// The event types to receive; omitted or `null`: every type.
    #[schema(value_type = Option<Vec<EventType>>, min_items = 1)]
    #[serde(default)]
    events: Option<Vec<String>>,
    /// A note for yourself.
    #[schema(max_length = 256)]
    #[serde(default)]
    description: Option<String>,
}

/// `PATCH /v1/webhooks/{webhookId}`: the fields to change; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = WebhookUpdate, example = json!({"events": ["order.completed"], "status": "enabled"}))]
struct WebhookPatchBody {
    /// A new `https` URL.
    #[schema(format = "uri", max_length = 2048)]
    #[serde(default)]
    url: Option<String>,
    /// The event types to receive; `null`: every type.
    #[schema(value_type = Option<Vec<EventType>>, min_items = 1)]
    #[serde(default, deserialize_with = "present")]
    events: Option<Option<Vec<String>>>,
    /// A new note; `null` removes it.
    #[schema(value_type = Option<String>, max_length = 256)]
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    /// `disabled` stops deliveries (pending ones wait); `enabled` resumes them.
    #[serde(default)]
    status: Option<EndpointStatus>,
}

/// A field that is present, `null` or not: `Some(None)` for `null`, `None` when absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Checks `events` (each a type of [`EventType::ALL`], at least one) and returns them
/// without repeats.
fn check_events(events: Option<Vec<String>>, errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let events = events?;
    if events.is_empty() {
        errors.push(FieldError::new(
            "events",
            "must name at least one event type; omit it (or send null) for every type",
        ));
        return None;
    }
    let mut kept: Vec<String> = Vec::new();
    for (i, name) in events.into_iter().enumerate() {
        match EventType::parse(&name) {
            Some(_) if kept.contains(&name) => {}
            Some(_) => kept.push(name),
            None => errors.push(FieldError::new(
                format!("events[{i}]"),
                format!(
                    "is not an event type: expected one of {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            )),
        }
    }
    Some(kept)
}

/// Checks `description`: at most 256 characters, no control characters.
fn check_description(description: Option<&str>, errors: &mut Vec<FieldError>) {
    if description.is_some_and(|d| {
        d.chars().count() > MAX_DESCRIPTION_CHARS || d.chars().any(char::is_control)
    }) {
        errors.push(FieldError::new(
            "description",
            "must be at most 256 characters without control characters",
        ));
    }
}

/// A cursor as text: `<prefix>.<created at, µs>.<id>` (the last item of a page).
pub(super) fn encode_cursor(prefix: &str, created_at: DateTime<Utc>, id: &str) -> String {
    format!("{prefix}.{}.{id}", created_at.timestamp_micros())
}

/// Parses a cursor [`encode_cursor`] made with `prefix`; `None` if it is not one.
pub(super) fn decode_cursor(prefix: &str, text: &str) -> Option<Cursor> {
    let rest = text.strip_prefix(prefix)?.strip_prefix('.')?;
    let (micros, id) = rest.split_once('.')?;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    Some(Cursor {
        created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id: id.to_owned(),
    })
}

/// An endpoint id from the path: a malformed one is one we do not know (404).
pub(super) struct WebhookPath(pub(super) Uuid);

impl<S: Send + Sync> FromRequestParts<S> for WebhookPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|Path(raw)| Uuid::parse_str(&raw).ok())
            .map(Self)
            .ok_or(ApiError::NotFound(NotFound::Webhook))
    }
}

/// Create a webhook endpoint
///
/// Registers an endpoint for the events of this key's mode (a sandbox key's endpoints get
/// only sandbox events). The answer holds its signing secret, shown only here. The URL
/// must be `https` and its host must resolve to public addresses only (checked again at
/// each delivery).
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    tag = "Webhooks",
    operation_id = "createWebhook",
    request_body = NewWebhookBody,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "Created; `secret` is shown only here.", body = Success<WithSecretView>),
        (status = 400, response = errors::InvalidWebhook),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 415, response = errors::UnsupportedMediaType),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn create_webhook(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<NewWebhookBody>,
) -> ApiResult<(StatusCode, axum::Json<Success<WithSecretView>>)> {
    let mut errors = Vec::new();
    let events = check_events(body.events, &mut errors);
    check_description(body.description.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors));
    }
    let url = url::check(&body.url, state.webhooks.allow_private).await?;
    let (endpoint, secret) = endpoints::create(
        &state.db,
        principal.account(),
        url.as_str(),
        events.as_deref(),
        body.description.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        success(WithSecretView {
            webhook: WebhookView::new(endpoint),
            secret: secret.expose().clone(),
        }),
    ))
}

/// List webhook endpoints
///
/// Your endpoints in this key's mode, oldest first. Secrets are never shown again.
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    tag = "Webhooks",
    operation_id = "listWebhooks",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Your endpoints.", body = Success<Vec<WebhookView>>),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn list_webhooks(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<axum::Json<Success<Vec<WebhookView>>>> {
    let list = endpoints::list(&state.db, principal.account()).await?;
    Ok(success(list.into_iter().map(WebhookView::new).collect()))
}

/// Get a webhook endpoint
///
/// One of your endpoints (without its secret).
#[utoipa::path(
    get,
    path = "/v1/webhooks/{webhookId}",
    tag = "Webhooks",
    operation_id = "getWebhook",
    params(("webhookId" = Uuid, Path, description = "A `webhookId`.")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The endpoint.", body = Success<WebhookView>),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::WebhookNotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn get_webhook(
    State(state): State<AppState>,
    principal: Principal,
    WebhookPath(id): WebhookPath,
) -> ApiResult<axum::Json<Success<WebhookView>>> {
    let endpoint = endpoints::find(&state.db, principal.account(), id)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Webhook))?;
    Ok(success(WebhookView::new(endpoint)))
}

/// Update a webhook endpoint
///
/// Changes its URL (checked as at creation), event types, description, or status
/// (`disabled` stops deliveries; `enabled` resumes them and forgets past failures).
#[utoipa::path(
    patch,
    path = "/v1/webhooks/{webhookId}",
    tag = "Webhooks",
    operation_id = "updateWebhook",
    params(("webhookId" = Uuid, Path, description = "A `webhookId`.")),
    request_body = WebhookPatchBody,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The endpoint as changed.", body = Success<WebhookView>),
        (status = 400, response = errors::InvalidWebhook),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::WebhookNotFound),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 415, response = errors::UnsupportedMediaType),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn update_webhook(
    State(state): State<AppState>,
    principal: Principal,
    WebhookPath(id): WebhookPath,
    ApiJson(body): ApiJson<WebhookPatchBody>,
) -> ApiResult<axum::Json<Success<WebhookView>>> {
    let mut errors = Vec::new();
    let events = body.events.map(|events| check_events(events, &mut errors));
    if let Some(description) = &body.description {
        check_description(description.as_deref(), &mut errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors));
    }
    // An unknown endpoint is a 404 before its new URL is judged.
    endpoints::find(&state.db, principal.account(), id)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Webhook))?;
    let url = match &body.url {
        Some(raw) => Some(
            url::check(raw, state.webhooks.allow_private)
                .await?
                .to_string(),
        ),
        None => None,
    };
    let patch = EndpointPatch {
        url,
        events,
        description: body.description,
        status: body.status,
    };
    let endpoint = endpoints::update(&state.db, principal.account(), id, &patch)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Webhook))?;
    Ok(success(WebhookView::new(endpoint)))
}

/// The answer to a deletion.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookDeleted)]
struct DeletedView {
    /// The endpoint deleted.
    webhook_id: Uuid,
    /// Always `true`.
    deleted: bool,
}

/// Delete a webhook endpoint
///
/// Deletes the endpoint, its secrets and its deliveries (pending ones are never sent).
/// Your events stay listed in `GET /v1/events`.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{webhookId}",
    tag = "Webhooks",
    operation_id = "deleteWebhook",
    params(("webhookId" = Uuid, Path, description = "A `webhookId`.")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Deleted.", body = Success<DeletedView>,
            example = json!({"status": "success", "data": {"webhookId": "3f0c7a52-8a0e-4d59-a4f4-3e9d2c4f7b10", "deleted": true}})),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::WebhookNotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn delete_webhook(
    State(state): State<AppState>,
    principal: Principal,
    WebhookPath(id): WebhookPath,
) -> ApiResult<axum::Json<Success<DeletedView>>> {
    if !endpoints::delete(&state.db, principal.account(), id).await? {
        return Err(ApiError::NotFound(NotFound::Webhook));
    }
    Ok(success(DeletedView {
        webhook_id: id,
        deleted: true,
    }))
}

/// Rotate a webhook endpoint's secret
///
/// Gives the endpoint a new signing secret, shown only in this answer. The previous one
/// keeps signing beside it for 24 h (`webhook-signature` then carries both signatures,
/// space-separated), so your receiver can switch without losing a delivery.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhookId}/rotate-secret",
    tag = "Webhooks",
    operation_id = "rotateWebhookSecret",
    params(("webhookId" = Uuid, Path, description = "A `webhookId`.")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The endpoint with its new secret, shown only here.", body = Success<WithSecretView>),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::WebhookNotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    WebhookPath(id): WebhookPath,
) -> ApiResult<axum::Json<Success<WithSecretView>>> {
    let (endpoint, secret) = endpoints::rotate_secret(&state.db, principal.account(), id)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Webhook))?;
    Ok(success(WithSecretView {
        webhook: WebhookView::new(endpoint),
        secret: secret.expose().clone(),
    }))
}
