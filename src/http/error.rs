//! The one API error type and the JSON envelope every error is answered with, and the one
//! place that maps the domain's errors onto it:
//!
//! ```json
//! {"status":"error","error":{"code":"...","message":"...","details":{...}},"requestId":"..."}
//! ```
//!
//! `code` is stable (partners branch on it); `message` is for humans. Database and
//! unexpected errors answer a fixed generic message and are logged once, here, inside the
//! request span, with their cause chain. The domain modules have errors of their own
//! (`OrderError`, `VerifyError`, ...) that know nothing of HTTP; the `From` impls at the
//! end of this file are where each becomes a status and a code.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::envelope::literal_error;
use super::request_id;
use crate::auth::VerifyError;
use crate::db::is_unavailable;
use crate::esims::SimulationError;
use crate::ledger::{LedgerError, ReadError};
use crate::money::Cents;
use crate::orders::OrderError;
use crate::orders::idempotency::InvalidIdempotencyKey;
use crate::webhooks::url::UrlError;

/// One invalid input field, reported in `details.fields`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field as the partner wrote it (`quantity`, `customerEmail`, a query parameter).
    #[schema(example = "quantity")]
    pub field: String,
    /// What is wrong with it.
    #[schema(example = "must be an integer from 1 to 10")]
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `{"status":"error","error":{...},"requestId":"..."}`, fields in that order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Error)]
pub struct ErrorEnvelope {
    /// Always `error`.
    #[schema(schema_with = literal_error)]
    status: &'static str,
    error: ErrorBody,
    /// The request's `X-Request-Id`, to quote when asking for support.
    #[schema(required = true, example = "4d0c1b7e-2f55-4c3e-9a51-0d7f6b2b9e10")]
    request_id: Option<String>,
}

/// The `error` object of the envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code to branch on; each response lists the codes it can carry.
    #[schema(value_type = String, example = "invalid_request")]
    code: &'static str,
    /// For humans; may change at any time.
    #[schema(example = "invalid `quantity`: must be an integer from 1 to 10")]
    message: String,
    /// More about the error, for some codes: `fields` (400), `required`, `balance` and
    /// `currency` (402), `limitBytes` (413), `refunded` (502).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
}

/// What was not found. Another partner's resource is "not found" too: never reveal which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotFound {
    /// No such plan on sale.
    Plan,
    /// No such eSIM for this partner.
    Esim,
    /// No such order for this partner.
    Order,
    /// No such country or region code.
    Country,
    /// No such route, or an unknown QR token.
    Route,
    /// No such webhook endpoint for this partner and mode.
    Webhook,
    /// No such delivery of this endpoint.
    Delivery,
}

/// Every way a request can fail, mapped to a status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, wrong types, unknown, missing or out-of-range fields.
    #[error("{message}")]
    InvalidRequest {
        /// Summary for humans.
        message: String,
        /// Per-field problems (may be empty).
        fields: Vec<FieldError>,
    },
    /// Missing, malformed, unknown or revoked API key.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The order total exceeds the balance; nothing was deducted.
    #[error("insufficient credits")]
    InsufficientCredits {
        /// What the order would cost.
        required: Cents,
        /// What the partner holds.
        balance: Cents,
    },
    /// The partner account is suspended.
    #[error("partner account suspended")]
    PartnerSuspended,
    /// A sandbox-only operation (`/v1/sandbox/…`) called with a live key.
    #[error("sandbox keys only")]
    SandboxOnly,
    /// A webhook URL that is not `https`, or whose host is or resolves to a loopback,
    /// private or link-local address (or does not resolve).
    #[error("invalid webhook URL: {reason}")]
    InvalidWebhookUrl {
        /// Why (`details.reason`).
        reason: String,
    },
    /// Unknown id, or an id owned by another partner.
    #[error("not found")]
    NotFound(NotFound),
    /// The path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A request with the same Idempotency-Key is still being processed.
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyInProgress {
        /// Seconds after which a retry makes sense.
        retry_after_secs: u64,
    },
    /// The body exceeds the configured limit.
    #[error("request body too large")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A body that is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The same Idempotency-Key with a different request.
    #[error("Idempotency-Key reused with a different request")]
    IdempotencyKeyReused,
    /// The eSIM cannot be topped up now (expired, cancelled, or its plan forbids it).
    #[error("the eSIM cannot be topped up")]
    TopupNotAllowed {
        /// Why (`details.reason`).
        reason: String,
    },
    /// The plan is not among the eSIM's top-ups.
    #[error("the plan cannot top up this eSIM")]
    PlanNotCompatible,
    /// The eSIM cannot be cancelled (used, topped up, already refunded, or refused by its
    /// provider).
    #[error("the eSIM cannot be cancelled")]
    EsimNotCancellable {
        /// Why (`details.reason`).
        reason: String,
    },
    /// Over the rate limit.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until a retry can succeed.
        retry_after_secs: u64,
    },
    /// The provider refused the order, or could not take it after the debit. `refunded`
    /// tells whether the debit was given back (it always is once the refund entry is
    /// committed).
    #[error("upstream provider failed the order")]
    Upstream {
        /// Whether the debit has been refunded.
        refunded: bool,
    },
    /// The database or the provider is unreachable, before any debit; nothing was
    /// deducted. Never answered once an order's debit has committed (the order workflow
    /// and the request time limit answer 202, 201 or 502 from then on).
    #[error("service unavailable")]
    ServiceUnavailable,
    /// A database error that is not the client's fault.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Anything else unexpected: a bug.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// Handler result.
pub type ApiResult<T, E = ApiError> = Result<T, E>;

impl ApiError {
    /// A 400 with one field error.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = FieldError::new(field, message);
        Self::InvalidRequest {
            message: format!("invalid `{}`: {}", field.field, field.message),
            fields: vec![field],
        }
    }

    /// A 400 listing several field errors.
    pub fn invalid_fields(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => format!("invalid `{}`: {}", one.field, one.message),
            _ => "the request has invalid fields".to_owned(),
        };
        Self::InvalidRequest { message, fields }
    }

    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest { .. } | Self::InvalidWebhookUrl { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientCredits { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::PartnerSuspended | Self::SandboxOnly => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::IdempotencyInProgress { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::IdempotencyKeyReused | Self::PlanNotCompatible => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::TopupNotAllowed { .. } | Self::EsimNotCancellable { .. } => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Upstream { .. } => StatusCode::BAD_GATEWAY,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(e) if is_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest { .. } => "invalid_request",
            Self::InvalidWebhookUrl { .. } => "invalid_webhook_url",
            Self::Unauthorized(_) => "unauthorized",
            Self::InsufficientCredits { .. } => "insufficient_credits",
            Self::PartnerSuspended => "partner_suspended",
            Self::SandboxOnly => "sandbox_only",
            Self::NotFound(NotFound::Plan) => "plan_not_found",
            Self::NotFound(NotFound::Esim) => "esim_not_found",
            Self::NotFound(NotFound::Order) => "order_not_found",
            Self::NotFound(NotFound::Country) => "country_not_found",
            Self::NotFound(NotFound::Route | NotFound::Webhook | NotFound::Delivery) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::IdempotencyInProgress { .. } => "idempotency_in_progress",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::TopupNotAllowed { .. } => "topup_not_allowed",
            Self::PlanNotCompatible => "plan_not_compatible",
            Self::EsimNotCancellable { .. } => "esim_not_cancellable",
            Self::RateLimited { .. } => "rate_limited",
            Self::Upstream { .. } => "upstream_error",
            Self::ServiceUnavailable => "service_unavailable",
            Self::Database(e) if is_unavailable(e) => "service_unavailable",
            Self::Database(_) | Self::Internal(_) => "internal_error",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::InvalidRequest { message, .. } => message.clone(),
            Self::Unauthorized(why) => (*why).to_owned(),
            Self::InvalidWebhookUrl { reason } => {
                format!("invalid `url`: the webhook URL {reason}")
            }
            Self::InsufficientCredits { .. } => {
                "the order total exceeds your credit balance; nothing was deducted".to_owned()
            }
            Self::PartnerSuspended => "this partner account is suspended".to_owned(),
            Self::SandboxOnly => {
                "this operation is for sandbox keys (tvr_test_...) only".to_owned()
            }
            Self::NotFound(what) => match what {
                NotFound::Plan => "no plan with this planId is on sale",
                NotFound::Esim => "no eSIM with this id",
                NotFound::Order => "no order with this id",
                NotFound::Country => "no country or region with this code",
                NotFound::Route => "no such resource",
                NotFound::Webhook => "no webhook endpoint with this id",
                NotFound::Delivery => "no delivery with this id for this webhook endpoint",
            }
            .to_owned(),
            Self::MethodNotAllowed => "this method is not allowed on this path".to_owned(),
            Self::IdempotencyInProgress { .. } => {
                "a request with this Idempotency-Key is still being processed; retry later"
                    .to_owned()
            }
            Self::PayloadTooLarge { limit } => {
                format!("the request body exceeds the limit of {limit} bytes")
            }
            Self::UnsupportedMediaType => "send the body as application/json".to_owned(),
            Self::IdempotencyKeyReused => {
                "this Idempotency-Key was already used with a different request".to_owned()
            }
            Self::TopupNotAllowed { reason } => format!("this eSIM cannot be topped up: {reason}"),
            Self::PlanNotCompatible => {
                "this plan cannot top up this eSIM; see GET /v1/esim/{esimId}/topups".to_owned()
            }
            Self::EsimNotCancellable { reason } => {
                format!("this eSIM cannot be cancelled: {reason}; nothing was refunded")
            }
            Self::RateLimited { .. } => "too many requests; retry after the delay".to_owned(),
            Self::Upstream { refunded: true } => {
                "the eSIM provider could not fulfil the order; the debit has been refunded"
                    .to_owned()
            }
            Self::Upstream { refunded: false } => {
                "the eSIM provider could not fulfil the order".to_owned()
            }
            Self::ServiceUnavailable => {
                "the service is temporarily unavailable; nothing was deducted".to_owned()
            }
            Self::Database(e) if is_unavailable(e) => {
                "the service is temporarily unavailable; nothing was deducted".to_owned()
            }
            Self::Database(_) | Self::Internal(_) => {
                "an internal error occurred; it has been logged".to_owned()
            }
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            Self::InvalidRequest { fields, .. } => Some(json!({ "fields": fields })),
            Self::InsufficientCredits { required, balance } => Some(json!({
                "required": required,
                "balance": balance,
                "currency": "USD",
            })),
            Self::PayloadTooLarge { limit } => Some(json!({ "limitBytes": limit })),
            Self::Upstream { refunded } => Some(json!({ "refunded": refunded })),
            Self::InvalidWebhookUrl { reason } => Some(json!({ "field": "url", "reason": reason })),
            Self::TopupNotAllowed { reason } | Self::EsimNotCancellable { reason } => {
                Some(json!({ "reason": reason }))
            }
            _ => None,
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::IdempotencyInProgress { retry_after_secs }
            | Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            Self::ServiceUnavailable => Some(1),
            Self::Database(e) if is_unavailable(e) => Some(1),
            _ => None,
        }
    }

    /// The JSON envelope for this error, naming the request being served.
    pub fn body(&self) -> ErrorEnvelope {
        self.body_for(request_id::current())
    }

    /// The JSON envelope for this error, naming request `request_id`.
    pub fn body_for(&self, request_id: Option<String>) -> ErrorEnvelope {
        ErrorEnvelope {
            status: "error",
            error: ErrorBody {
                code: self.code(),
                message: self.message(),
                details: self.details(),
            },
            request_id,
        }
    }
}

/// An error and its sources, `outer: inner: innermost`, as `{:#}` prints an `anyhow`.
fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        match &self {
            // An outage (503, the partner retries) is a warning; anything else is a bug.
            Self::Database(e) if is_unavailable(e) => {
                tracing::warn!(error = cause_chain(e), "database unavailable")
            }
            Self::Database(e) => tracing::error!(error = cause_chain(e), "database error"),
            Self::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            _ => tracing::debug!(code = self.code(), "request refused"),
        }
        let mut response = (status, Json(self.body())).into_response();
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after_secs() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Database(e) => Self::Database(e),
            OrderError::Internal(e) => Self::Internal(e),
            other => Self::of_order(&other),
        }
    }
}

impl ApiError {
    /// The answer to an order error, by reference (the workflow keeps refusals under
    /// their Idempotency-Key). A database or internal failure loses its cause chain here:
    /// take the error by value for those.
    pub fn of_order(e: &OrderError) -> Self {
        match e {
            OrderError::PlanNotFound => Self::NotFound(NotFound::Plan),
            OrderError::EsimNotFound => Self::NotFound(NotFound::Esim),
            &OrderError::InsufficientCredits { required, balance } => {
                Self::InsufficientCredits { required, balance }
            }
            OrderError::TopupNotAllowed { reason } => Self::TopupNotAllowed {
                reason: reason.clone(),
            },
            OrderError::PlanNotCompatible => Self::PlanNotCompatible,
            OrderError::NotCancellable { reason } => Self::EsimNotCancellable {
                reason: reason.clone(),
            },
            &OrderError::Refused { refunded } => Self::Upstream { refunded },
            OrderError::Unavailable => Self::ServiceUnavailable,
            OrderError::KeyReused => Self::IdempotencyKeyReused,
            OrderError::KeyInProgress => Self::IdempotencyInProgress {
                retry_after_secs: 1,
            },
            OrderError::Database(_) | OrderError::Internal(_) => {
                Self::Internal(anyhow::anyhow!("{e}"))
            }
        }
    }
}

impl From<UrlError> for ApiError {
    fn from(e: UrlError) -> Self {
        Self::InvalidWebhookUrl {
            reason: e.to_string(),
        }
    }
}

impl From<SimulationError> for ApiError {
    fn from(e: SimulationError) -> Self {
        match e {
            SimulationError::Database(e) => Self::Database(e),
            SimulationError::Simulator(e) => Self::Internal(e),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Database(e) => Self::Database(e),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Unavailable => Self::ServiceUnavailable,
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        if e.is_unavailable() {
            Self::ServiceUnavailable
        } else {
            Self::Internal(e.into())
        }
    }
}

impl From<InvalidIdempotencyKey> for ApiError {
    fn from(_: InvalidIdempotencyKey) -> Self {
        Self::InvalidRequest {
            message: "invalid Idempotency-Key header".to_owned(),
            fields: vec![FieldError::new(
                "Idempotency-Key",
                "must be 1 to 255 printable ASCII characters",
            )],
        }
    }
}
