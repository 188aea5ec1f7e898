//! `GET /qr/{token}.png`: the install QR code of an eSIM. Public (no API key): the
//! unguessable token is the credential, and it is never logged.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::{ApiError, ApiResult, NotFound};
use super::openapi::errors;
use crate::esims::qr;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    // The document's path, `/qr/{token}.png`, has a suffix after its parameter, which the
    // router cannot match: it serves one segment, `/qr/{file}`, and the handler checks
    // the suffix.
    let (schemas, paths, _) = routes!(qr_png);
    let mut doc = OpenApi::default();
    doc.paths = paths;
    doc.components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(schemas);
    OpenApiRouter::with_openapi(doc).route("/qr/{file}", get(qr_png))
}

/// Get an install QR code
///
/// The install QR code of an eSIM: a PNG encoding exactly its `lpaCode`. Public, so a
/// traveller can open `qrCodeUrl` directly; the unguessable token is the credential.
/// Limited per client address, like every request without a key.
#[utoipa::path(
    get,
    path = "/qr/{token}.png",
    tag = "QrCodes",
    operation_id = "getQrCode",
    params(("token" = String, Path, description = "The token of an eSIM's `qrCodeUrl`.", example = "Z3L9GpeleVVuSasqPCdBDxf0Ud")),
    responses(
        (status = 200, description = "The QR code. Cached privately for a day.", content_type = "image/png", body = inline(Png),
            headers(("Cache-Control" = String, description = "`private, max-age=86400`."))),
        (status = 404, response = errors::NotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn qr_png(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let not_found = || ApiError::NotFound(NotFound::Route);
    let Ok(Path(file)) = path else {
        return Err(not_found());
    };
    let token = file.strip_suffix(".png").ok_or_else(not_found)?;
    if !qr::is_well_formed(token) {
        return Err(not_found());
    }
    let lpa = qr::lpa_for_token(&state.db, token)
        .await?
        .ok_or_else(not_found)?;
    let png = tokio::task::spawn_blocking(move || qr::render_png(&lpa))
        .await
        .map_err(|e| anyhow::anyhow!("QR rendering task failed: {e}"))??;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        png,
    )
        .into_response())
}

/// PNG bytes, for the document.
struct Png;

impl utoipa::PartialSchema for Png {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            // `format: binary` beside 3.1's `contentMediaType`: generators read it as a
            // file (openapi-python-client's `File`, openapi-typescript's `Blob`).
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .content_media_type("image/png")
            .into()
    }
}

impl utoipa::ToSchema for Png {}
