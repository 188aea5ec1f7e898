//! `GET /health` (the process is up) and `GET /health/ready` (and can reach Postgres):
//! for load balancers and orchestrators. No authentication.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use super::{Success, success};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(live))
        .route("/health/ready", get(ready))
}

async fn live() -> axum::Json<Success<Value>> {
    success(json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> ApiResult<axum::Json<Success<Value>>> {
    sqlx::query_scalar!("select 1 as \"one!\"")
        .fetch_one(&state.db)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::ServiceUnavailable
        })?;
    Ok(success(json!({
        "status": "ok",
        "plans": state.catalog.snapshot().plan_count(),
    })))
}
