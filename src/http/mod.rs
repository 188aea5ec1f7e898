//! The HTTP surface. Each resource module owns its `router()`; this module merges them,
//! puts the `/v1` routes behind API-key authentication, and wraps everything in the
//! middleware stack (outermost first): the envelope (request id, sensitive-header
//! redaction, tracing span and its log line, time limit, metrics, per-address limit) →
//! panic catcher; the partner routes add authentication, which charges the partner's rate
//! limit. Bodies are read under `TAVARO_MAX_BODY_BYTES` by the extractors that read them
//! ([`extract::BodyBytes`]), not by a layer every request passes. `/metrics` is served by
//! a router of its own, on its own listener, never on the partner port.

mod auth;
mod balance;
mod callbacks;
mod catalog;
mod docs;
mod envelope;
pub mod error;
mod esims;
mod events;
mod extract;
mod health;
mod late;
pub mod metrics;
pub mod openapi;
mod orders;
mod pagination;
mod qr;
pub mod rate_limit;
mod request_id;
mod sandbox;
pub mod serve;
pub mod state;
mod time;
mod webhooks;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response, header};
use axum::response::IntoResponse;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::{Instrument, Span};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use catalog::cache::AnswerCache;
pub use extract::{ApiJson, ApiQuery};
pub use orders::request::parse_order_body;
pub use webhooks::worker::run as deliver_webhooks;

use error::{ApiError, NotFound};
use rate_limit::{ClientLimitConfig, RateLimitConfig};
use state::AppState;

/// The HTTP listeners and their limits (`TAVARO_LISTEN_ADDR`, `TAVARO_METRICS_ADDR`,
/// `TAVARO_PUBLIC_BASE_URL`, `TAVARO_MAX_BODY_BYTES`, `TAVARO_*_TIMEOUT_SECS`,
/// `TAVARO_MAX_CONNECTIONS`, `TAVARO_HTTP_THREADS`, `TAVARO_SHUTDOWN_GRACE_SECS`, the
/// rate limits).
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Where the HTTP server listens.
    pub listen_addr: SocketAddr,
    /// The separate address serving only `GET /metrics` (loopback by default); `None`
    /// (`off`): metrics are served nowhere. Never the partner listener.
    pub metrics_addr: Option<SocketAddr>,
    /// Public base URL of this gateway, used to build `qrCodeUrl`s. Unset: the address
    /// the server listens on.
    pub public_base_url: Option<String>,
    /// Largest request body accepted, in bytes (413 beyond it).
    pub max_body_bytes: usize,
    /// Longest time a request may take (beyond the provider time-out for orders).
    pub request_timeout: Duration,
    /// Longest time a connection may go without a request in progress: until its first
    /// request's headers have arrived, and between two requests.
    pub header_timeout: Duration,
    /// Connections the partner listener serves at once.
    pub max_connections: usize,
    /// Threads serving the partner listener's connections, each with a runtime of its own
    /// ([`serve::lanes`]).
    pub threads: usize,
    /// How long a stopping server lets in-flight requests finish.
    pub shutdown_grace: Duration,
    /// Per-partner rate limits.
    pub rate_limit: RateLimitConfig,
    /// The per-address limit on requests without a valid key.
    pub client_limit: ClientLimitConfig,
}

/// Every operation, as routes and their documentation built together: the partner API
/// (behind a key) and the public routes.
fn operations() -> (OpenApiRouter<AppState>, OpenApiRouter<AppState>) {
    let partner_api = OpenApiRouter::new()
        .merge(catalog::router())
        .merge(orders::router())
        .merge(esims::router())
        .merge(balance::router())
        .merge(sandbox::router())
        .merge(webhooks::router())
        .merge(events::router());
    let public = OpenApiRouter::new()
        .merge(openapi::router())
        .merge(qr::router())
        .merge(health::router())
        .merge(callbacks::router())
        .merge(docs::router());
    (partner_api, public)
}

/// The OpenAPI document of every operation the router serves, and of `/metrics` (served
/// on the metrics listener).
pub fn document() -> OpenApi {
    let (partner_api, public) = operations();
    let doc = partner_api
        .merge(public)
        .merge(metrics::router())
        .into_openapi();
    openapi::finish(doc)
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let (partner_api, public) = operations();
    let partner_api: Router<AppState> = partner_api
        // route_layer: unknown paths stay 404 instead of turning into 401. Authentication
        // then charges the partner's rate limit.
        .route_layer(tower::layer::layer_fn({
            let state = state.clone();
            move |inner| auth::RequireApiKey::new(state.clone(), inner)
        }))
        .into();
    let public: Router<AppState> = public.into();

    Router::new()
        .merge(partner_api)
        .merge(public)
        .fallback(|| async { ApiError::NotFound(NotFound::Route) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // One `layer` call: each wraps every route in one more boxed service, cloned and
        // called per request.
        .layer(
            ServiceBuilder::new()
                .layer(tower::layer::layer_fn({
                    let state = state.clone();
                    move |inner| Envelope {
                        state: state.clone(),
                        inner,
                    }
                }))
                .layer(CatchPanicLayer::custom(|_panic| {
                    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
                })),
        )
        .with_state(state)
}

/// The router serving `/metrics` alone (on `TAVARO_METRICS_ADDR`): everything else there
/// is a 404 in the envelope; every answer carries its `X-Request-Id`, as on the partner
/// port.
pub fn metrics_router(state: AppState) -> Router {
    Router::from(metrics::router())
        .fallback(|| async { ApiError::NotFound(NotFound::Route) })
        .layer(axum::middleware::from_fn(metrics::with_request_id))
        .with_state(state)
}

/// One span per request. The route template, never the raw path: QR paths carry tokens.
/// Authentication records the partner in it.
fn request_span(method: &Method, route: Option<&MatchedPath>, request_id: &str) -> Span {
    tracing::info_span!(
        "request",
        method = method.as_str(),
        route = route.map_or("unmatched", MatchedPath::as_str),
        request_id,
        partner_id = tracing::field::Empty,
    )
}

/// What every request passes through first, in one layer (each layer costs a boxed
/// future per request, and a `from_fn` one a boxed copy of the inner service too): its
/// request id (echoed, generated, set on the response and in scope for error bodies), its
/// `Authorization` header marked sensitive (never shown by a `Debug` of the headers), its
/// span and its one log line (`request finished`, with status and latency; failures are
/// logged once more, by `ApiError`, with their cause), its time limit, its metrics, and
/// the per-address limit on requests without a valid key.
///
/// The time limit answers 503 when a request outlives `TAVARO_REQUEST_TIMEOUT_SECS`
/// (always longer than the provider time-out, so an order's money workflow is never cut
/// short; it runs in its own task and settles on its own), or, when the handler left a
/// truer answer ([`late::LateAnswer`], for `POST` requests: an order once debited
/// answers 202 `processing`), that one. Metrics count every answered request by method,
/// route template and status, with its latency.
///
/// The inner service is called here, synchronously, and its future awaited in the
/// request's scope: the layers inside (authentication, the handlers) do their work in
/// their futures, never in `call`. Its future is boxed at once: the wrappers around it
/// (the request id's scope, the time limit, the span) each move what they wrap, and a
/// route's future is large enough that those copies cost more than the allocation.
#[derive(Clone)]
struct Envelope<S> {
    state: AppState,
    inner: S,
}

impl<S, B> tower::Service<Request<Body>> for Envelope<S>
where
    S: tower::Service<Request<Body>, Response = Response<B>, Error = Infallible>,
    S::Future: Send + 'static,
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let started = Instant::now();
        let (id, id_header) = request_id::assign(&request);
        if let Some(value) = request.headers_mut().get_mut(header::AUTHORIZATION) {
            value.set_sensitive(true);
        }
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let span = request_span(&method, route.as_ref(), &id);
        let limit = self.state.http.request_timeout;
        let late = (method == Method::POST).then(|| {
            let late = late::LateAnswer::default();
            request.extensions_mut().insert(late.clone());
            late
        });
        // The per-address limit runs inside the envelope (its 429s carry a request id and
        // are counted) and around authentication (it refuses an address that keeps
        // failing before its key is looked at).
        use rate_limit::address::{self, Admission};
        let run = match address::admit(&self.state, &request) {
            Admission::Refuse(wait) => Err(wait),
            Admission::Pass => Ok((Box::pin(self.inner.call(request)), None)),
            Admission::Watch(client) => Ok((Box::pin(self.inner.call(request)), Some(client))),
        };
        let state = self.state.clone();
        Box::pin(async move {
            let work = async move {
                let (answer, watched) = match run {
                    Ok(run) => run,
                    Err(wait) => return address::refuse(wait),
                };
                let Ok(response) = answer.await;
                let response = response.map(Body::new);
                if let Some(client) = watched {
                    address::settle(&state, client, &response);
                }
                response
            };
            let mut response = request_id::scope(id, async move {
                match tokio::time::timeout(limit, work).await {
                    Ok(response) => response,
                    Err(_) => match late.and_then(|late| late.expire()) {
                        // The money has moved: the partner is told so, never "nothing was
                        // deducted".
                        Some(answer) => {
                            tracing::warn!(timeout = ?limit, "request timed out after its order was debited; answering its open outcome");
                            envelope::json_response(answer.status, answer.body)
                        }
                        None => {
                            tracing::warn!(timeout = ?limit, "request timed out");
                            ApiError::ServiceUnavailable.into_response()
                        }
                    },
                }
            })
            .instrument(span.clone())
            .await;
            span.in_scope(|| {
                tracing::info!(
                    status = response.status().as_u16(),
                    latency_ms = started.elapsed().as_millis() as u64,
                    "request finished"
                );
            });
            response.headers_mut().insert(request_id::HEADER, id_header);
            crate::metrics::http_request(
                method.as_str(),
                route.as_ref().map_or("unmatched", MatchedPath::as_str),
                response.status().as_u16(),
                started.elapsed(),
            );
            Ok(response)
        })
    }
}
