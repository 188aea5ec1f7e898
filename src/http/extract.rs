//! Extractors that fail with the JSON error envelope, never axum's plain-text rejections.
//!
//! [`ApiJson`] checks the media type (415), the size (413) and the JSON (400, naming each
//! bad field). [`ApiQuery`] does the same for query strings. Both refuse unknown fields
//! when the target type says `deny_unknown_fields`. [`IdPath`] reads an id from the path;
//! a malformed id is simply an id we do not know (404).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use uuid::Uuid;

use super::error::{ApiError, FieldError, NotFound};
use super::state::AppState;
use crate::ids::{EsimId, OrderId};

/// A JSON request body.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let BodyBytes(bytes) = BodyBytes::from_request(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A request body as bytes, read up to `TAVARO_MAX_BODY_BYTES`: 413 beyond it, whether
/// the client declared its length or sent it chunked. Read here rather than by axum's
/// `Bytes` under a `DefaultBodyLimit` layer, which wrapped every route in one more
/// service and put the limit into every request's extensions, the catalog's GETs
/// included (bench/changes.md #41).
#[derive(Debug)]
pub(super) struct BodyBytes(pub Bytes);

impl FromRequest<AppState> for BodyBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.http.max_body_bytes;
        axum::body::to_bytes(request.into_body(), limit)
            .await
            .map(BodyBytes)
            .map_err(|error| {
                if is_over_limit(&*error.into_inner()) {
                    ApiError::PayloadTooLarge { limit }
                } else {
                    ApiError::invalid_field("body", "the request body could not be read")
                }
            })
    }
}

/// Whether reading a body failed because it outgrew the limit (anywhere in the chain of
/// causes), rather than because the client went away or sent a broken chunk.
fn is_over_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source())
        .any(|e| e.is::<http_body_util::LengthLimitError>())
}

/// `application/json` or `application/<something>+json`, any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body, turning serde's errors into field errors partners can act on.
pub(super) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body we accept is an object; serde would otherwise read `[..]` as a struct.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => {
            return Err(ApiError::invalid_field(
                "body",
                "is empty; send a JSON object",
            ));
        }
        Some(_) => return Err(ApiError::invalid_field("body", "must be a JSON object")),
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            Category::Data => data_error(&path, &inner.to_string()),
            Category::Syntax | Category::Eof | Category::Io => ApiError::InvalidRequest {
                message: format!("malformed JSON: {}", strip_position(&inner.to_string())),
                fields: vec![FieldError::new("body", "is not valid JSON")],
            },
        }
    })?;
    deserializer.end().map_err(|_| ApiError::InvalidRequest {
        message: "malformed JSON: trailing characters after the object".to_owned(),
        fields: vec![FieldError::new("body", "is not valid JSON")],
    })?;
    Ok(value)
}

/// A query string. An absent query string reads as empty.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer =
            || serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        // Parsed plainly first; only a query that fails is parsed again, tracking the
        // path, to name the field in the 400 (the same error: parsing is deterministic).
        if let Ok(value) = T::deserialize(deserializer()) {
            return Ok(ApiQuery(value));
        }
        serde_path_to_error::deserialize(deserializer())
            .map(ApiQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                data_error(&path, &err.into_inner().to_string())
            })
    }
}

/// An id taken from the path: the one path parameter of the route.
#[derive(Debug)]
pub(super) struct IdPath<T>(pub T);

/// An id type that can appear in a path, and what "not found" means for it.
pub(super) trait PathId: Sized {
    /// The 404 a malformed or unknown id answers.
    const NOT_FOUND: NotFound;
    /// The id from its UUID.
    fn from_uuid(id: Uuid) -> Self;
}

impl PathId for EsimId {
    const NOT_FOUND: NotFound = NotFound::Esim;
    fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
}

impl PathId for OrderId {
    const NOT_FOUND: NotFound = NotFound::Order;
    fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
}

impl<T: PathId, S: Send + Sync> FromRequestParts<S> for IdPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|Path(raw)| Uuid::parse_str(&raw).ok())
            .map(|id| Self(T::from_uuid(id)))
            .ok_or(ApiError::NotFound(T::NOT_FOUND))
    }
}

/// A serde data error (wrong type, unknown or missing field) as a 400 naming the field.
fn data_error(path: &str, raw: &str) -> ApiError {
    let message = strip_position(raw);
    let nested = |name: &str| match path {
        "." | "" => name.to_owned(),
        parent => format!("{parent}.{name}"),
    };
    if let Some(name) = between(&message, "unknown field `", "`") {
        // The path already ends at the unknown field itself.
        let field = if path.ends_with(name) {
            path.to_owned()
        } else {
            nested(name)
        };
        return ApiError::invalid_field(field, "is not a recognised field");
    }
    if let Some(name) = between(&message, "missing field `", "`") {
        return ApiError::invalid_field(nested(name), "is required");
    }
    if let Some(name) = between(&message, "duplicate field `", "`") {
        return ApiError::invalid_field(nested(name), "appears more than once");
    }
    let field = match path {
        "." | "" => "body".to_owned(),
        other => other.to_owned(),
    };
    let message = message
        .replace("expected i64", "expected an integer")
        .replace("expected u32", "expected an integer")
        .replace("expected struct ", "expected a JSON object ");
    ApiError::invalid_field(field, message)
}

/// serde_json appends " at line 1 column 20"; partners do not need it.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        plan_id: String,
        quantity: Option<i64>,
    }

    fn field_of(err: ApiError) -> String {
        match err {
            ApiError::InvalidRequest { fields, .. } => fields[0].field.clone(),
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let parse = |s: &str| parse_json::<Body>(s.as_bytes()).unwrap_err();
        assert_eq!(field_of(parse(r#"{"quantity":1}"#)), "planId");
        assert_eq!(
            field_of(parse(r#"{"planId":"x","quantity":"3"}"#)),
            "quantity"
        );
        assert_eq!(field_of(parse(r#"{"planId":"x","extra":1}"#)), "extra");
        assert_eq!(field_of(parse(r#"{"planId":"x""#)), "body");
        assert_eq!(field_of(parse(r#"[1,2]"#)), "body");
        assert_eq!(field_of(parse(r#"{"planId":"x"} trailing"#)), "body");
        assert!(parse_json::<Body>(br#"{"planId":"x","quantity":2}"#).is_ok());
    }
}
