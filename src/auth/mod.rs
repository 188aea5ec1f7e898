//! Who is calling: `Authorization: Bearer tvr_...` keys, their storage and verification.
//!
//! The [`require_api_key`] middleware guards every `/v1` route. It puts the caller's
//! [`Principal`] into the request, which handlers take as an argument. This module knows
//! partners and keys, nothing of orders or money.

mod key;
mod store;
mod verifier;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

pub use key::{
    GeneratedKey, KEY_LEN, PREFIX, assemble as assemble_key, generate as generate_key,
    parse as parse_key,
};
pub use store::{CreatedKey, KeyInfo, create_key, list_keys, revoke_key};
pub use verifier::{FAILURE_BUDGET, FAILURE_WINDOW, KeyVerifier};

use crate::error::ApiError;
use crate::ids::{ApiKeyId, PartnerId};
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The partner the key belongs to.
    pub partner_id: PartnerId,
    /// The key used.
    pub key_id: ApiKeyId,
    /// The partner's markup in basis points, for catalog prices.
    pub markup_bps: i32,
    /// A suspended partner's keys authenticate but every call answers 403.
    pub suspended: bool,
}

/// Middleware for routes that need a partner: 401 without a valid key, 403 for a
/// suspended partner, otherwise the request continues with its [`Principal`].
pub async fn require_api_key(
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
    if principal.suspended {
        return Err(ApiError::PartnerSuspended);
    }
    let span = tracing::Span::current();
    span.record("partner_id", tracing::field::display(principal.partner_id));
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
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
