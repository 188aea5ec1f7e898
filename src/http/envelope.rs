//! The success envelope every answer is wrapped in (`{"status":"success","data":...}`,
//! paginated lists with `meta.nextCursor`), and the named schemas the document uses for
//! its fixed strings.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

/// `{"status":"success","data": ...}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Success<T> {
    /// Always `success`.
    #[schema(schema_with = literal_success)]
    status: &'static str,
    /// The resource.
    data: T,
}

impl<T> Success<T> {
    /// Wraps `data`.
    pub(super) fn new(data: T) -> Self {
        Self {
            status: "success",
            data,
        }
    }
}

/// Wraps `data` in the success envelope.
pub(super) fn success<T: Serialize>(data: T) -> axum::Json<Success<T>> {
    axum::Json(Success::new(data))
}

/// `{"status":"success","data":[...],"meta":{"nextCursor":...}}`: one page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Page<T> {
    /// Always `success`.
    #[schema(schema_with = literal_success)]
    status: &'static str,
    /// The items of this page, newest first.
    data: Vec<T>,
    meta: PageMeta,
}

/// Where the next page starts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct PageMeta {
    /// Pass as `cursor` to get the next page; `null` on the last page. Opaque.
    #[schema(
        required = true,
        example = "o1.1795443778123456.914ce31df1b143a482d495f0b9622496"
    )]
    next_cursor: Option<String>,
}

/// Wraps one page of items and the cursor of the next page.
pub(super) fn page<T: Serialize>(data: Vec<T>, next_cursor: Option<String>) -> axum::Json<Page<T>> {
    axum::Json(Page {
        status: "success",
        data,
        meta: PageMeta { next_cursor },
    })
}

/// A JSON response from a status and exact body bytes (a rendered or stored answer).
pub(super) fn json_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `{"$ref": "#/components/schemas/SuccessStatus"}`: the `status` of success envelopes.
pub(super) fn literal_success() -> Ref {
    Ref::from_schema_name("SuccessStatus")
}

/// `{"$ref": "#/components/schemas/ErrorStatus"}`: the `status` of error envelopes.
pub(super) fn literal_error() -> Ref {
    Ref::from_schema_name("ErrorStatus")
}

/// `{"$ref": "#/components/schemas/Currency"}`: every `currency`.
pub(super) fn literal_usd() -> Ref {
    Ref::from_schema_name("Currency")
}

/// The schemas of the fixed strings, each named once so that a generated client has one
/// `Currency` enum rather than one per object that carries a currency.
pub(super) fn literal_schemas() -> Vec<(String, RefOr<Schema>)> {
    [
        (
            "SuccessStatus",
            "success",
            "Always `success` on a 2xx answer.",
        ),
        ("ErrorStatus", "error", "Always `error` on an error answer."),
        ("Currency", "USD", "Every amount is in US dollars."),
    ]
    .into_iter()
    .map(|(name, value, description)| {
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([value]))
            .description(Some(description))
            .examples([value])
            .build();
        (name.to_owned(), RefOr::T(Schema::Object(schema)))
    })
    .collect()
}
