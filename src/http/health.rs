//! `GET /healthz` (the process is up) and `GET /readyz` (it can serve: Postgres answers
//! and the catalog is loaded; 503 otherwise): for load balancers and orchestrators. No
//! authentication.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;

use super::{Success, success};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(live))
        .route("/readyz", get(ready))
}

/// Liveness: the process answers.
#[derive(Debug, Serialize)]
pub(super) struct Live {
    status: &'static str,
}

/// Readiness: what was checked.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Ready {
    status: &'static str,
    database: &'static str,
    plans_on_sale: usize,
}

async fn live() -> axum::Json<Success<Live>> {
    success(Live { status: "ok" })
}

async fn ready(State(state): State<AppState>) -> ApiResult<axum::Json<Success<Ready>>> {
    let database = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        sqlx::query_scalar!("select 1 as \"one!\"").fetch_one(&state.db),
    )
    .await;
    match database {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            return Err(ApiError::ServiceUnavailable);
        }
        Err(_) => {
            tracing::warn!("readiness: database did not answer within 2 s");
            return Err(ApiError::ServiceUnavailable);
        }
    }
    let plans_on_sale = state.catalog.snapshot().plan_count();
    if plans_on_sale == 0 {
        tracing::warn!("readiness: the catalog has no plan on sale");
        return Err(ApiError::ServiceUnavailable);
    }
    Ok(success(Ready {
        status: "ok",
        database: "ok",
        plans_on_sale,
    }))
}
