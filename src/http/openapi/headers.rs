//! The headers the document declares on every operation: the `X-Request-Id` a client may
//! send and that every answer carries, and, on every answer after authentication, the key's
//! `Tavaro-Mode` and the partner's `RateLimit-Policy` and `RateLimit`. Declared once here so
//! that an operation cannot leave one out.

use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{HeaderBuilder, Required};

/// The name of the request id header, sent and answered.
pub(super) const REQUEST_ID: &str = "X-Request-Id";

/// The name of the header marking a replayed idempotent answer.
pub(super) const REPLAYED: &str = "Idempotent-Replayed";

/// `X-Request-Id` as an optional request header parameter of every operation.
pub(super) fn request_id_parameter() -> Parameter {
    ParameterBuilder::new()
        .name(REQUEST_ID)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Your id for this request, echoed in the answer's `X-Request-Id` and in an \
             error's `requestId`: 1 to 128 of `A-Z`, `a-z`, `0-9`, `.`, `_`, `:` and `-`. \
             Anything else (or none) is replaced by a new UUID, never refused.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .examples(["BK-12345-attempt-1"]),
        ))
        .build()
}

/// `X-Request-Id` on an answer.
pub(super) fn request_id() -> Header {
    string("Your `X-Request-Id` echoed, or a new one.")
}

/// `Idempotent-Replayed: true`, only ever that value.
pub(super) fn replayed(description: Option<String>) -> Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["true"])),
        )
        .description(description.or_else(|| {
            Some(
                "`true` when this is the stored answer to an earlier request with the same \
                 `Idempotency-Key`; absent otherwise."
                    .to_owned(),
            )
        }))
        .build()
}

/// What every answer after authentication carries: the key's mode and the partner's rate
/// limit (IETF draft `RateLimit` headers). Absent on answers to requests without a valid
/// key (public operations, 401s).
pub(super) fn after_authentication() -> Vec<(&'static str, Header)> {
    vec![
        (
            "Tavaro-Mode",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["live", "sandbox"])),
                )
                .description(Some(
                    "The mode of the key the request was authenticated with: `live`, or \
                     `sandbox` for a `tvr_test_` key. On every answer after authentication.",
                ))
                .build(),
        ),
        (
            "RateLimit-Policy",
            string(
                "The partner's quota for this operation (IETF draft `RateLimit-Policy`): \
                 `<bucket>;q=<burst>;w=<seconds to refill>`, e.g. `partner;q=40;w=2`; \
                 orders have their own bucket (`orders;...`). On every answer after \
                 authentication.",
            ),
        ),
        (
            "RateLimit",
            string(
                "What is left of that quota (IETF draft `RateLimit`): \
                 `<bucket>;r=<requests left>;t=<seconds until full>`, e.g. \
                 `partner;r=39;t=1`. On every answer after authentication.",
            ),
        ),
    ]
}

fn string(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}
