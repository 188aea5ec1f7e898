//! `GET /metrics`: Prometheus text exposition. Served only on its own listener,
//! `TAVARO_METRICS_ADDR` (loopback by default), never on the partner port: it tells
//! business volumes and an attack's effect, and each scrape costs a query.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::request_id;
use super::state::AppState;

/// The router holding `/metrics` alone.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(scrape))
}

/// Scrape Prometheus metrics
///
/// Refreshes the gauges read from Postgres, then renders everything: requests, latency,
/// connections, orders, provider calls, key cache, reconciliation backlog, stuck orders.
/// An operations endpoint: served only on the metrics listener (`TAVARO_METRICS_ADDR`,
/// `127.0.0.1:9090` by default), never on the partner port, where it is a 404.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Operations",
    operation_id = "getMetrics",
    responses(
        (status = 200, description = "Metrics in the Prometheus text format 0.0.4.", content_type = "text/plain", body = String),
    )
)]
async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    crate::metrics::set_key_counters(
        state.keys.argon2_runs(),
        state.keys.lookup_queries(),
        state.keys.rejected_early(),
        state.keys.refused_after_failures(),
    );
    if let Err(e) = refresh_gauges(&state).await {
        // Counters still render; the gauges keep their last values.
        tracing::warn!(error = %e, "metrics: gauges not refreshed");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
}

/// The metrics listener's only middleware: the request's `X-Request-Id` (echoed or
/// generated), on the response and in its error bodies.
pub(super) async fn with_request_id(request: Request, next: Next) -> Response {
    let (id, header) = request_id::assign(&request);
    let mut response = request_id::scope(id, next.run(request)).await;
    response.headers_mut().insert(request_id::HEADER, header);
    response
}

async fn refresh_gauges(state: &AppState) -> Result<(), sqlx::Error> {
    let row = sqlx::query!(
        r#"select
             (select count(*) from order_jobs j join orders o on o.id = j.order_id
               where o.status in ('pending', 'processing')) as "backlog!",
             (select count(*) from orders where stuck_at is not null
                and status in ('pending', 'processing')) as "stuck!",
             (select count(*) from partners p join balances b on b.partner_id = p.id
               where b.mode = 'live' and p.status = 'active' and b.low_balance_threshold_cents > 0
                 and b.balance_cents < b.low_balance_threshold_cents) as "low!""#
    )
    .fetch_one(&state.db)
    .await?;
    crate::metrics::set_reconcile_backlog(row.backlog);
    crate::metrics::set_stuck_orders(row.stuck);
    crate::metrics::set_partners_below_threshold(row.low);
    let (pending, oldest) = crate::webhooks::outbox::backlog(&state.db).await?;
    crate::metrics::set_webhook_backlog(pending, oldest);
    Ok(())
}
