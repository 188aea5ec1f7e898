//! The middleware that guards every `/v1` route: `Authorization: Bearer tvr_...` checked
//! by [`crate::auth::KeyVerifier`], the caller's [`Principal`] put into the request for
//! handlers to take as an argument, and `Tavaro-Mode: live|sandbox` set on every answer to
//! a request whose key was verified (errors included).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::state::AppState;
use crate::auth::Principal;
use crate::mode::Mode;

/// The header naming the mode of the key a request was authenticated with.
pub(super) const MODE_HEADER: HeaderName = HeaderName::from_static("tavaro-mode");

/// 401 without a valid key, 403 for a suspended partner, otherwise the request is charged
/// to its partner's rate limit ([`super::rate_limit`]; one middleware for both, as each
/// layer costs a boxed service and future per request) and continues with its
/// [`Principal`]. Every answer after the key is verified says its mode.
pub(super) async fn require_api_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = bearer_token(request.headers())?;
    let principal = state
        .keys
        .verify(&state.db, token)
        .await?
        .ok_or(ApiError::Unauthorized("invalid or revoked API key"))?;
    let mut response = if principal.suspended {
        axum::response::IntoResponse::into_response(ApiError::PartnerSuspended)
    } else {
        let span = tracing::Span::current();
        span.record("partner_id", tracing::field::display(principal.partner_id));
        request.extensions_mut().insert(principal);
        super::rate_limit::limited(&state, principal.account(), request, next).await
    };
    response
        .headers_mut()
        .insert(MODE_HEADER, mode_value(principal.mode));
    Ok(response)
}

/// `live` or `sandbox`, as a header value.
fn mode_value(mode: Mode) -> HeaderValue {
    HeaderValue::from_static(mode.as_str())
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "missing API key: send `Authorization: Bearer tvr_...`",
        ))?;
    let malformed =
        || ApiError::Unauthorized("malformed Authorization header: expected `Bearer tvr_...`");
    let (scheme, token) = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed());
    }
    Ok(token.trim())
}

/// Handlers behind [`require_api_key`] take the caller as an argument.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().copied().ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "route takes a Principal but is not behind require_api_key"
            ))
        })
    }
}
