//! `POST /providers/{name}/webhook`: the notifications upstream providers send us (eSIM
//! Access, eSIM Go, Roamify, Airalo). No API key: the provider's adapter verifies the
//! provider's own signature where it signs (a bad one is 401 and ignored), and what the
//! callback says is only a hint. It is answered at once and acted on in the background,
//! by reading the state again from the provider's API (`orders::Orders::take_hints`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{Success, success};
use super::error::{ApiError, ApiResult, NotFound};
use super::extract::BodyBytes;
use super::openapi::errors;
use super::state::AppState;
use crate::provider::{Callback, CallbackError};

/// The message of a callback refused for its signature.
pub(super) const BAD_SIGNATURE: &str = "the callback's signature does not verify";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive))
}

/// A callback taken.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CallbackReceipt, example = json!({"received": true}))]
struct Receipt {
    /// Always `true`: the callback is acted on in the background.
    received: bool,
}

/// Receive a provider callback
///
/// For upstream providers, not partners. `name` is `esimaccess`, `esimgo`, `roamify` or
/// `airalo` (configured). The body is the provider's own notification; eSIM Go's is
/// verified with `X-Signature-SHA256`, Roamify's with `X-Roamify-Signature`, Airalo's with
/// `airalo-signature` (eSIM Access signs nothing). Whatever it says, the gateway only
/// reads the eSIM's usage, or reconciles the order, from the provider's API again.
#[utoipa::path(
    post,
    path = "/providers/{name}/webhook",
    tag = "ProviderCallbacks",
    operation_id = "receiveProviderCallback",
    params(("name" = String, Path, description = "The provider: `esimaccess`, `esimgo`, `roamify` or `airalo`.")),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "The provider's notification, as it sends it.",
        example = json!({"notifyType": "CHECK_HEALTH", "eventGenerateTime": "2026-12-15T10:00:00+0000",
                         "notifyId": "5fcc1ad9", "content": {}})),
    responses(
        (status = 200, description = "Taken; acted on in the background.", body = Success<Receipt>,
            example = json!({"status": "success", "data": {"received": true}})),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::BadCallbackSignature),
        (status = 404, response = errors::ProviderNotFound),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
    )
)]
async fn receive(
    State(state): State<AppState>,
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
    body: Result<BodyBytes, ApiError>,
) -> ApiResult<(StatusCode, axum::Json<Success<Receipt>>)> {
    let Ok(Path(name)) = name else {
        return Err(ApiError::NotFound(NotFound::Route));
    };
    let BodyBytes(body) = body?;
    let Some(provider) = state.providers.get(&name).cloned() else {
        return Err(ApiError::NotFound(NotFound::Route));
    };
    let hints = provider
        .callback(&Callback {
            headers: &headers,
            body: &body,
        })
        .map_err(|e| match e {
            CallbackError::Unsupported => ApiError::NotFound(NotFound::Route),
            CallbackError::BadSignature => {
                tracing::warn!(
                    provider = provider.name(),
                    "provider callback refused: bad signature"
                );
                ApiError::Unauthorized(BAD_SIGNATURE)
            }
            CallbackError::Malformed(why) => ApiError::invalid_field(
                "body",
                format!("is not a callback of this provider: {why}"),
            ),
        })?;
    if !hints.is_empty() {
        let orders = state.orders.clone();
        let provider = provider.name();
        tokio::spawn(async move {
            match orders.take_hints(provider, &hints).await {
                Ok(named) => tracing::info!(provider, named, "provider callback acted on"),
                Err(e) => tracing::warn!(provider, error = %e, "provider callback not acted on"),
            }
        });
    }
    Ok((StatusCode::OK, success(Receipt { received: true })))
}
