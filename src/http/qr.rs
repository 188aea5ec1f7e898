//! `GET /qr/{token}.png`: the install QR code of an eSIM. Public (no API key): the
//! unguessable token is the credential, and it is never logged.

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::{ApiError, ApiResult, NotFound};
use crate::esims::qr;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/qr/{file}", get(qr_png))
}

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
