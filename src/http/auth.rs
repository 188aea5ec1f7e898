//! The middleware that guards every `/v1` route: `Authorization: Bearer tvr_...` checked
//! by [`crate::auth::KeyVerifier`], the caller's [`Principal`] put into the request for
//! handlers to take as an argument, and `Tavaro-Mode: live|sandbox` set on every answer to
//! a request whose key was verified (errors included).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower::Service;

use super::error::ApiError;
use super::state::AppState;
use crate::auth::Principal;
use crate::mode::Mode;

/// The header naming the mode of the key a request was authenticated with.
pub(super) const MODE_HEADER: HeaderName = HeaderName::from_static("tavaro-mode");

/// 401 without a valid key, 403 for a suspended partner, otherwise the request is charged
/// to its partner's rate limit ([`super::rate_limit`]) and continues with its
/// [`Principal`]. Every answer after the key is verified says its mode. A service of its
/// own rather than `from_fn`, which costs a boxed copy of the inner service and a boxed
/// future more per request.
#[derive(Clone)]
pub(super) struct RequireApiKey<S> {
    state: AppState,
    inner: S,
}

impl<S> RequireApiKey<S> {
    /// `inner` behind authentication.
    pub(super) fn new(state: AppState, inner: S) -> Self {
        Self { state, inner }
    }
}

impl<S> Service<Request> for RequireApiKey<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The ready service runs the request; a clone takes its place for the next one.
        let fresh = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, fresh);
        let state = self.state.clone();
        Box::pin(async move {
            Ok(match authenticate(&state, inner, request).await {
                Ok(response) => response,
                Err(error) => error.into_response(),
            })
        })
    }
}

async fn authenticate<S>(
    state: &AppState,
    mut inner: S,
    mut request: Request,
) -> Result<Response, ApiError>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let token = bearer_token(request.headers())?;
    let principal = state
        .keys
        .verify(&state.db, token)
        .await?
        .ok_or(ApiError::Unauthorized("invalid or revoked API key"))?;
    let mut response = if principal.suspended {
        ApiError::PartnerSuspended.into_response()
    } else {
        let span = tracing::Span::current();
        // As text, not `display`: the log line then copies it instead of formatting it
        // (and nothing is written when the span is filtered out).
        if !span.is_disabled() {
            let mut partner = uuid::Uuid::encode_buffer();
            let partner = principal
                .partner_id
                .0
                .hyphenated()
                .encode_lower(&mut partner);
            span.record("partner_id", &*partner);
        }
        let charge = super::rate_limit::charge(state, principal.account(), &request);
        let mut response = match charge.refusal() {
            Some(refusal) => refusal,
            None => {
                request.extensions_mut().insert(principal);
                let Ok(response) = inner.call(request).await;
                response
            }
        };
        charge.headers(&mut response);
        response
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
