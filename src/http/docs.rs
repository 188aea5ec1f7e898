//! `GET /docs`: the API reference, rendered in the browser by Redoc from `/openapi.json`.
//! Every asset is served by the gateway itself (vendored under `assets/`): no CDN, no
//! fonts or scripts from elsewhere.

use axum::http::header;
use axum::response::{Html, IntoResponse};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::state::AppState;

/// The vendored Redoc release (`assets/README.md`); part of the script URL, so a new
/// version is a new URL and the long cache below never serves a stale script.
pub(super) const REDOC_VERSION: &str = "2.5.4";

/// The Redoc standalone bundle.
static REDOC_JS: &[u8] = include_bytes!("../../assets/redoc.standalone.js");

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(docs_page))
        .routes(routes!(redoc_js))
}

/// The HTML page: Redoc pointed at `/openapi.json`.
fn page() -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Tavaro Partner API</title>
  <style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
  <redoc spec-url="/openapi.json" path-in-middle-panel="true" expand-responses="200,201"
    json-sample-expand-level="4" hide-hostname="true"></redoc>
  <script src="/docs/redoc.standalone.js?v={REDOC_VERSION}"></script>
</body>
</html>
"#
    )
}

/// Read the API reference
///
/// The API reference for people: every operation, parameter, schema and error code of
/// `/openapi.json`, rendered by Redoc with assets served from here.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "Documentation",
    operation_id = "getDocs",
    responses(
        (status = 200, description = "An HTML page that renders `/openapi.json`.", content_type = "text/html", body = String),
    )
)]
async fn docs_page() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-cache")], Html(page()))
}

/// Get the docs page script
///
/// The Redoc script `/docs` loads (vendored, MIT). Cached for a year: its URL carries
/// the version.
#[utoipa::path(
    get,
    path = "/docs/redoc.standalone.js",
    tag = "Documentation",
    operation_id = "getDocsScript",
    params(("v" = Option<String>, Query, nullable = false, description = "The Redoc version, to bust caches.", example = "2.5.4")),
    responses(
        (status = 200, description = "Redoc's standalone bundle.", content_type = "text/javascript", body = String,
            headers(("Cache-Control" = String, description = "`public, max-age=31536000, immutable`."))),
    )
)]
async fn redoc_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        REDOC_JS,
    )
}
