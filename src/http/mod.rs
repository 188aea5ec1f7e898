//! The HTTP surface. Each resource module owns its `router()`; this module merges them,
//! puts the `/v1` routes behind API-key authentication, and wraps everything in the
//! middleware stack (outermost first): request id → tracing span → panic catcher →
//! sensitive-header redaction → body limit.

mod balance;
mod countries;
mod docs;
mod esims;
mod extract;
mod health;
pub mod metrics;
pub mod openapi;
mod order_history;
mod order_quote;
mod order_request;
mod order_views;
mod orders;
mod packages;
mod parse;
mod qr;
pub mod rate_limit;
mod request_id;
mod time;

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{HeaderMap, HeaderValue, Request, Response, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::IntoResponse;
use serde::Serialize;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use extract::{ApiJson, ApiQuery};
pub use parse::parse_order_body;

use crate::auth;
use crate::catalog::Answer;
use crate::error::{ApiError, NotFound};
use crate::state::AppState;

/// `{"status":"success","data": ...}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Success<T> {
    /// Always `success`.
    #[schema(schema_with = openapi::literal_success)]
    status: &'static str,
    /// The resource.
    data: T,
}

impl<T> Success<T> {
    /// Wraps `data`.
    pub fn new(data: T) -> Self {
        Self {
            status: "success",
            data,
        }
    }
}

/// Wraps `data` in the success envelope.
pub fn success<T: Serialize>(data: T) -> axum::Json<Success<T>> {
    axum::Json(Success::new(data))
}

/// `{"status":"success","data":[...],"meta":{"nextCursor":...}}`: one page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// Always `success`.
    #[schema(schema_with = openapi::literal_success)]
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
pub fn page<T: Serialize>(data: Vec<T>, next_cursor: Option<String>) -> axum::Json<Page<T>> {
    axum::Json(Page {
        status: "success",
        data,
        meta: PageMeta { next_cursor },
    })
}

/// A 200 with a catalog answer rendered beforehand: its JSON bytes with the content type
/// `axum::Json` sends or, to a client that accepts gzip, the same compressed (a
/// `/v1/packages` answer is ~50 KB of JSON and ~3 KB gzipped). Compressed once per
/// answer, never per request.
fn catalog_response(request: &HeaderMap, answer: &Answer) -> Response<Body> {
    let json = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
    if accepts_gzip(request) {
        let gzip = (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        ([json, vary, gzip], answer.gzip().clone()).into_response()
    } else {
        ([json, vary], answer.json().clone()).into_response()
    }
}

/// Whether `Accept-Encoding` admits gzip: `gzip`, or else `*`, with a q-value above 0.
fn accepts_gzip(request: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    let codings = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for coding in codings {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim().eq_ignore_ascii_case("q").then(|| v.trim())
            })
            .next()
            .map_or(1.0, |v| v.parse::<f32>().unwrap_or(0.0));
        if name.eq_ignore_ascii_case("gzip") {
            gzip = Some(q);
        } else if name == "*" {
            any = Some(q);
        }
    }
    gzip.or(any).is_some_and(|q| q > 0.0)
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let partner_api = Router::new()
        .merge(countries::router())
        .merge(packages::router())
        .merge(orders::router())
        .merge(order_quote::router())
        .merge(order_history::router())
        .merge(esims::router())
        .merge(balance::router())
        // route_layer: unknown paths stay 404 instead of turning into 401. The last layer
        // added runs first: authenticate, then charge the partner's rate limit.
        .route_layer(from_fn_with_state(state.clone(), rate_limit::enforce))
        .route_layer(from_fn_with_state(state.clone(), auth::require_api_key));

    Router::new()
        .merge(partner_api)
        .merge(qr::router())
        .merge(health::router())
        .merge(openapi::router())
        .merge(docs::router())
        .merge(if state.config.metrics_addr.is_none() {
            metrics::router()
        } else {
            Router::new()
        })
        .fallback(|| async { ApiError::NotFound(NotFound::Route) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(
            ServiceBuilder::new()
                .layer(from_fn_with_state(state.clone(), envelope))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(make_span)
                        .on_request(())
                        .on_response(on_response)
                        // Failures are logged once, by ApiError, with their cause.
                        .on_failure(()),
                )
                .layer(CatchPanicLayer::custom(|_panic| {
                    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
                }))
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                ])),
        )
        .with_state(state)
}

/// One span per request. The route template, never the raw path: QR paths carry tokens.
fn make_span(request: &Request<Body>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get(request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        request_id,
        partner_id = tracing::field::Empty,
    )
}

/// What every request passes through first, in one layer (each layer costs a clone and a
/// boxed future per request): its request id (echoed, generated, set on the response and
/// in scope for error bodies), its time limit, and its metrics.
///
/// The time limit answers 503 when a request outlives `TAVARO_REQUEST_TIMEOUT_SECS`
/// (always longer than the provider time-out, so an order's money workflow is never cut
/// short; it runs in its own task and settles on its own). Metrics count every answered
/// request by method, route template and status, with its latency.
async fn envelope(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request<Body>,
    next: Next,
) -> Response<Body> {
    let started = Instant::now();
    let (id, id_header) = request_id::assign(&mut request);
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let limit = state.config.request_timeout;
    let mut response = crate::error::with_request_id(id, async move {
        match tokio::time::timeout(limit, next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(timeout = ?limit, "request timed out");
                ApiError::ServiceUnavailable.into_response()
            }
        }
    })
    .await;
    response.headers_mut().insert(request_id::HEADER, id_header);
    crate::metrics::http_request(
        method.as_str(),
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

fn on_response<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = latency.as_millis() as u64,
        "request finished"
    );
}
