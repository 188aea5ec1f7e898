//! The documented error responses: one OpenAPI response component per kind of failure,
//! referenced from each operation's `responses(...)` (`(status = 404, response =
//! errors::EsimNotFound)`).
//!
//! Each component has a standalone schema of its own (`InsufficientCreditsError`, its
//! `error` object `InsufficientCreditsErrorBody` with the codes it can carry, and the shape
//! of its `details`), all of one shape so that generated clients give them a common base;
//! its examples are the bodies the real [`ApiError`] values serialize to, so the document
//! cannot drift from what the server answers.

use utoipa::ToResponse;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder};

use crate::http::error::{self, ApiError, FieldError};
use crate::money::Cents;

/// What one error response component documents.
pub(crate) struct Spec {
    /// When a partner gets it.
    description: &'static str,
    /// The errors behind it, each becoming a named example: (example name, error).
    samples: Vec<(&'static str, ApiError)>,
    /// The shape of `error.details`, when the codes carry one.
    details: Option<Schema>,
}

impl Spec {
    /// The HTTP status of every sample (they all share one).
    pub(crate) fn status(&self) -> u16 {
        self.samples[0].1.status_code().as_u16()
    }

    /// The `code`s this response can carry.
    pub(crate) fn codes(&self) -> Vec<&'static str> {
        let mut codes: Vec<_> = self.samples.iter().map(|(_, e)| e.code()).collect();
        codes.dedup();
        codes
    }

    /// Whether every code of this response carries `details` (else it is optional).
    fn details_always(&self) -> bool {
        self.samples.iter().all(|(_, error)| {
            let body = serde_json::to_value(error.body()).expect("an error body serializes");
            body["error"].get("details").is_some()
        })
    }

    /// The named schemas of this response (`name` is its component's): the envelope
    /// `<Name>Error`, its `error` object `<Name>ErrorBody` and, when its codes carry one,
    /// `<Name>ErrorDetails`. Every envelope has the same three properties (`status`,
    /// `error` with `code`, `message` and `details`, `requestId`), so a client handles any
    /// error through the same fields and narrows on `error.code`.
    fn schemas(&self, name: &str) -> Vec<(String, RefOr<Schema>)> {
        let envelope = schema_name(name);
        let body_name = format!("{envelope}Body");
        let details_name = format!("{envelope}Details");
        let mut body = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(format!(
                "The `error` object of a {} answer: `code` to branch on, `message` for humans.",
                self.status()
            )))
            .property(
                "code",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(self.codes()))
                    .description(Some("Stable snake_case code to branch on.")),
            )
            .required("code")
            .property(
                "message",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("For humans; may change at any time.")),
            )
            .required("message");
        let mut schemas = Vec::new();
        if let Some(details) = &self.details {
            body = body.property("details", Ref::from_schema_name(&details_name));
            if self.details_always() {
                body = body.required("details");
            }
            schemas.push((details_name, RefOr::T(details.clone())));
        }
        let envelope_schema = ObjectBuilder::new()
            .schema_type(Type::Object)
            // The SDK generator's templates (`sdks/templates/python`) give every model
            // so marked a common base class.
            .extensions(Some(
                ExtensionsBuilder::new()
                    .add("x-error-envelope", true)
                    .build(),
            ))
            .description(Some(format!(
                "`{{\"status\":\"error\",\"error\":{{...}},\"requestId\":\"...\"}}`: {}",
                self.codes()
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
            .property("status", crate::http::envelope::literal_error())
            .required("status")
            .property("error", Ref::from_schema_name(&body_name))
            .required("error")
            .property(
                "requestId",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some(
                        "The request's `X-Request-Id`, to quote when asking for support.",
                    )),
            )
            .required("requestId");
        schemas.push((body_name, RefOr::T(body.build().into())));
        schemas.push((envelope, RefOr::T(envelope_schema.build().into())));
        schemas
    }

    fn build(&self, name: &str) -> RefOr<Response> {
        let schema = Ref::from_schema_name(schema_name(name));
        let examples = self.samples.iter().map(|(name, error)| {
            let mut value = serde_json::to_value(error.body()).expect("an error body serializes");
            value["requestId"] = "4d0c1b7e-2f55-4c3e-9a51-0d7f6b2b9e10".into();
            (
                *name,
                ExampleBuilder::new()
                    .summary(format!("{} {}", self.status(), error.code()))
                    .value(Some(value)),
            )
        });
        let codes = self
            .codes()
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut response = ResponseBuilder::new()
            .description(format!("{codes}: {}", self.description))
            .header(
                "X-Request-Id",
                string_header("The request id, also in `requestId`."),
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(schema))
                    .examples_from_iter(examples)
                    .build(),
            );
        if self.status() != 401 {
            for (header, value) in super::headers::after_authentication() {
                response = response.header(header, value);
            }
        }
        match self.status() {
            401 => {
                response = response.header("WWW-Authenticate", string_header("`Bearer`."));
            }
            409 | 429 | 503 => {
                response = response.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(Type::Integer))
                        .description(Some("Seconds to wait before retrying."))
                        .build(),
                );
            }
            _ => {}
        }
        response.build().into()
    }
}

/// The envelope schema of response component `name`: `<Name>Error`, or `name` when it
/// already ends so (`InternalError`, `UpstreamError`).
fn schema_name(name: &str) -> String {
    match name.ends_with("Error") {
        true => name.to_owned(),
        false => format!("{name}Error"),
    }
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}

fn object(properties: &[(&str, RefOr<Schema>)]) -> Schema {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for (name, schema) in properties {
        object = object.property(*name, schema.clone()).required(*name);
    }
    object.build().into()
}

fn typed(t: Type) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(t).into()
}

/// Declares one unit struct per error response, its [`ToResponse`] impl, and [`all`].
macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident => $spec:expr;)+) => {
        $(
            $(#[$doc])*
            pub(crate) struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), $spec.build(stringify!($name)))
                }
            }
        )+

        /// Every error response component, by name.
        #[cfg(test)]
        pub(crate) fn all() -> Vec<(&'static str, Spec)> {
            vec![$((stringify!($name), $spec)),+]
        }

        /// The response components, ready for the document.
        pub(crate) fn components() -> Vec<(&'static str, RefOr<Response>)> {
            vec![$(<$name as ToResponse<'static>>::response()),+]
        }

        /// The named schemas the response components refer to.
        pub(crate) fn schemas() -> Vec<(String, RefOr<Schema>)> {
            let mut schemas = Vec::new();
            $(schemas.extend($spec.schemas(stringify!($name)));)+
            schemas
        }
    };
}

error_responses! {
    /// 400 `invalid_request`.
    InvalidRequest => Spec {
        description: "malformed JSON, wrong types, unknown or missing fields, out-of-range \
            values or query parameters. `details.fields` names each bad field.",
        samples: vec![
            ("invalid_request", ApiError::invalid_field("quantity", "must be an integer from 1 to 10")),
            ("invalid_request (malformed JSON)", ApiError::InvalidRequest {
                message: "malformed JSON: EOF while parsing an object".to_owned(),
                fields: vec![FieldError::new("body", "is not valid JSON")],
            }),
        ],
        details: Some(object(&[(
            "fields",
            ArrayBuilder::new().items(Ref::from_schema_name("FieldError")).into(),
        )])),
    };
    /// 400 `invalid_request` or `invalid_webhook_url`, for a webhook endpoint's body.
    InvalidWebhook => Spec {
        description: "`invalid_request`: malformed JSON, wrong types, unknown or missing \
            fields, an unknown event type (`details.fields` names each bad field); \
            `invalid_webhook_url`: the URL is not `https`, or its host does not resolve or \
            resolves to a loopback, private or link-local address (`details.reason`).",
        samples: vec![
            ("invalid_request", ApiError::invalid_field("events[0]", "is not an event type")),
            ("invalid_webhook_url", ApiError::InvalidWebhookUrl {
                reason: "its host resolves to a loopback, private or link-local address".to_owned(),
            }),
        ],
        // `fields` for `invalid_request`; `field` and `reason` for `invalid_webhook_url`.
        details: Some(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "fields",
                    ArrayBuilder::new().items(Ref::from_schema_name("FieldError")),
                )
                .property("field", typed(Type::String))
                .property("reason", typed(Type::String))
                .build()
                .into(),
        ),
    };
    /// 401 `unauthorized`.
    Unauthorized => Spec {
        description: "missing, malformed, unknown or revoked API key.",
        samples: vec![
            ("unauthorized (missing key)", ApiError::Unauthorized("missing API key: send `Authorization: Bearer tvr_...`")),
            ("unauthorized (invalid key)", ApiError::Unauthorized("invalid or revoked API key")),
        ],
        details: None,
    };
    /// 401 `unauthorized`, for a provider callback.
    BadCallbackSignature => Spec {
        description: "the callback's signature header is missing or does not verify (or no \
            secret is configured to verify it). The callback is ignored.",
        samples: vec![("unauthorized (bad signature)", ApiError::Unauthorized(super::super::callbacks::BAD_SIGNATURE))],
        details: None,
    };
    /// 404 `not_found`, for a provider callback.
    ProviderNotFound => Spec {
        description: "no configured provider of this name takes callbacks.",
        samples: vec![("not_found", ApiError::NotFound(error::NotFound::Route))],
        details: None,
    };
    /// 402 `insufficient_credits`.
    InsufficientCredits => Spec {
        description: "the order total exceeds your balance. Nothing was deducted and no order \
            exists.",
        samples: vec![("insufficient_credits", ApiError::InsufficientCredits {
            required: Cents::new(7_500),
            balance: Cents::new(420),
        })],
        details: Some(object(&[
            ("required", Ref::from_schema_name("Money").into()),
            ("balance", Ref::from_schema_name("Money").into()),
            ("currency", crate::http::envelope::literal_usd().into()),
        ])),
    };
    /// 403 `partner_suspended`.
    PartnerSuspended => Spec {
        description: "your partner account is suspended; every call is refused until an \
            operator reactivates it.",
        samples: vec![("partner_suspended", ApiError::PartnerSuspended)],
        details: None,
    };
    /// 403 `partner_suspended` or `sandbox_only`, for the sandbox's simulation operations.
    SandboxOnly => Spec {
        description: "`sandbox_only`: the operation is for sandbox keys (`tvr_test_…`) and \
            was called with a live key; `partner_suspended`: your partner account is \
            suspended.",
        samples: vec![
            ("sandbox_only", ApiError::SandboxOnly),
            ("partner_suspended", ApiError::PartnerSuspended),
        ],
        details: None,
    };
    /// 404 `plan_not_found`.
    PlanNotFound => Spec {
        description: "no plan with this `planId` is on sale.",
        samples: vec![("plan_not_found", ApiError::NotFound(error::NotFound::Plan))],
        details: None,
    };
    /// 404 `country_not_found`.
    CountryNotFound => Spec {
        description: "no country or region with this code.",
        samples: vec![("country_not_found", ApiError::NotFound(error::NotFound::Country))],
        details: None,
    };
    /// 404 `order_not_found`.
    OrderNotFound => Spec {
        description: "no order with this id for your account (another partner's orders are \
            not found either).",
        samples: vec![("order_not_found", ApiError::NotFound(error::NotFound::Order))],
        details: None,
    };
    /// 404 `esim_not_found`.
    EsimNotFound => Spec {
        description: "no eSIM with this id for your account (another partner's eSIMs are not \
            found either).",
        samples: vec![("esim_not_found", ApiError::NotFound(error::NotFound::Esim))],
        details: None,
    };
    /// 404 `esim_not_found` or `plan_not_found`, for a top-up.
    TopupNotFound => Spec {
        description: "`esim_not_found`: no eSIM with this id for your account; \
            `plan_not_found`: no plan with this `planId` is on sale.",
        samples: vec![
            ("esim_not_found", ApiError::NotFound(error::NotFound::Esim)),
            ("plan_not_found", ApiError::NotFound(error::NotFound::Plan)),
        ],
        details: None,
    };
    /// 404 `not_found`.
    NotFound => Spec {
        description: "no such resource: an unknown path, or an unknown QR token.",
        samples: vec![("not_found", ApiError::NotFound(error::NotFound::Route))],
        details: None,
    };
    /// 404 `not_found`, for a webhook endpoint or one of its deliveries.
    WebhookNotFound => Spec {
        description: "no webhook endpoint (or delivery of it) with this id for your account \
            in this key's mode (another partner's, or the other mode's, are not found either).",
        samples: vec![("not_found", ApiError::NotFound(error::NotFound::Webhook))],
        details: None,
    };
    /// 405 `method_not_allowed`: any documented path called with another method.
    MethodNotAllowed => Spec {
        description: "the path exists, but not with this method.",
        samples: vec![("method_not_allowed", ApiError::MethodNotAllowed)],
        details: None,
    };
    /// 409 `idempotency_in_progress`.
    IdempotencyInProgress => Spec {
        description: "a request with the same `Idempotency-Key` is still being processed; \
            retry after `Retry-After` seconds.",
        samples: vec![("idempotency_in_progress", ApiError::IdempotencyInProgress { retry_after_secs: 1 })],
        details: None,
    };
    /// 409 `topup_not_allowed` or `idempotency_in_progress`, for a top-up.
    TopupConflict => Spec {
        description: "`topup_not_allowed`: the eSIM cannot be topped up now (expired, \
            cancelled or being cancelled, or its plan does not allow top-ups); \
            `details.reason` says which. Nothing was deducted. `idempotency_in_progress`: a \
            request with the same `Idempotency-Key` is still being processed.",
        samples: vec![
            ("topup_not_allowed", ApiError::TopupNotAllowed { reason: "the eSIM has expired".to_owned() }),
            ("idempotency_in_progress", ApiError::IdempotencyInProgress { retry_after_secs: 1 }),
        ],
        details: Some(object(&[("reason", typed(Type::String))])),
    };
    /// 409 `esim_not_cancellable`.
    EsimNotCancellable => Spec {
        description: "the eSIM cannot be cancelled: it has been used or topped up, is \
            already cancelled (or its cancellation is pending), its refund was rejected, or \
            its provider refused. `details.reason` says which. Nothing was refunded.",
        samples: vec![("esim_not_cancellable", ApiError::EsimNotCancellable {
            reason: "the eSIM has been used".to_owned(),
        })],
        details: Some(object(&[("reason", typed(Type::String))])),
    };
    /// 413 `payload_too_large`.
    PayloadTooLarge => Spec {
        description: "the body is over the limit (64 KiB by default); `details.limitBytes` \
            says how much is allowed.",
        samples: vec![("payload_too_large", ApiError::PayloadTooLarge { limit: 65_536 })],
        details: Some(object(&[("limitBytes", typed(Type::Integer))])),
    };
    /// 415 `unsupported_media_type`.
    UnsupportedMediaType => Spec {
        description: "the body is not sent as `application/json`.",
        samples: vec![("unsupported_media_type", ApiError::UnsupportedMediaType)],
        details: None,
    };
    /// 422 `idempotency_key_reused`.
    IdempotencyKeyReused => Spec {
        description: "this `Idempotency-Key` was already used with a different request body.",
        samples: vec![("idempotency_key_reused", ApiError::IdempotencyKeyReused)],
        details: None,
    };
    /// 422 `plan_not_compatible` or `idempotency_key_reused`, for a top-up.
    TopupUnprocessable => Spec {
        description: "`plan_not_compatible`: the plan is on sale but cannot top up this eSIM \
            (it is not in `GET /v1/esim/{esimId}/topups`); nothing was deducted. \
            `idempotency_key_reused`: this `Idempotency-Key` was already used with a \
            different request.",
        samples: vec![
            ("plan_not_compatible", ApiError::PlanNotCompatible),
            ("idempotency_key_reused", ApiError::IdempotencyKeyReused),
        ],
        details: None,
    };
    /// 429 `rate_limited`.
    RateLimited => Spec {
        description: "over a request rate: your partner's (shared by all its keys), or, for \
            requests without a valid key (public routes, failed authentications), the \
            client address's; retry after `Retry-After` seconds.",
        samples: vec![("rate_limited", ApiError::RateLimited { retry_after_secs: 1 })],
        details: None,
    };
    /// 500 `internal_error`.
    InternalError => Spec {
        description: "a bug on our side. It is logged with its cause; quote `requestId` when \
            you contact us.",
        samples: vec![("internal_error", ApiError::Internal(anyhow::anyhow!("example")))],
        details: None,
    };
    /// 502 `upstream_error`.
    UpstreamError => Spec {
        description: "the eSIM provider refused or failed the order. The debit has been \
            refunded (`details.refunded: true`).",
        samples: vec![("upstream_error", ApiError::Upstream { refunded: true })],
        details: Some(object(&[("refunded", typed(Type::Boolean))])),
    };
    /// 503 `service_unavailable`.
    ServiceUnavailable => Spec {
        description: "the database or the eSIM provider is unreachable. Nothing was deducted \
            (or it was refunded); retry after `Retry-After` seconds.",
        samples: vec![("service_unavailable", ApiError::ServiceUnavailable)],
        details: None,
    };
}

#[cfg(test)]
mod tests {
    use super::all;

    #[test]
    fn every_error_response_carries_errors_of_one_status() {
        for (name, spec) in all() {
            for (example, error) in &spec.samples {
                assert_eq!(
                    error.status_code().as_u16(),
                    spec.status(),
                    "{name}: example {example}"
                );
            }
        }
    }
}
