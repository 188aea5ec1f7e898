//! `GET /healthz` (the process is up) and `GET /readyz` (it can serve: Postgres answers
//! and the catalog is loaded; 503 otherwise): for load balancers and orchestrators. No
//! authentication, so neither may cost the database a query per request: readiness asks
//! Postgres at most once a second and every probe in between reads that answer.

use std::time::{Duration, Instant};

use axum::extract::State;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{Success, success};
use super::error::{ApiError, ApiResult};
use super::openapi::errors;
use super::state::AppState;

/// How long one answer from Postgres stands for every readiness probe.
const DATABASE_CHECK_FRESH_FOR: Duration = Duration::from_secs(1);

/// The last readiness check of the database. One probe at a time asks Postgres; probes
/// arriving meanwhile wait for its answer rather than asking again.
#[derive(Default)]
pub(crate) struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, bool)>>,
}

impl Readiness {
    /// Whether Postgres answered within 2 s, as of at most a second ago.
    async fn database_ok(&self, db: &PgPool) -> bool {
        let mut last = self.last.lock().await;
        if let Some((checked, ok)) = *last {
            if checked.elapsed() < DATABASE_CHECK_FRESH_FOR {
                return ok;
            }
        }
        let ok = database_answers(db).await;
        *last = Some((Instant::now(), ok));
        ok
    }
}

async fn database_answers(db: &PgPool) -> bool {
    let database = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query_scalar!("select 1 as \"one!\"").fetch_one(db),
    )
    .await;
    match database {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            false
        }
        Err(_) => {
            tracing::warn!("readiness: database did not answer within 2 s");
            false
        }
    }
}

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// Liveness: the process answers.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Live {
    /// `ok`.
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
}

/// Readiness: what was checked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Ready {
    /// `ok`.
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
    /// `ok`: Postgres answered within 2 s (checked at most once a second).
    #[schema(value_type = String, example = "ok")]
    database: &'static str,
    /// Plans in the catalog snapshot (at least 1).
    #[schema(minimum = 1, example = 312)]
    plans_on_sale: usize,
}

/// Check liveness
///
/// Liveness, for load balancers: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "Operations",
    operation_id = "getHealth",
    responses(
        (status = 200, description = "The process is up.", body = Success<Live>),
        (status = 429, response = errors::RateLimited),
    )
)]
async fn live() -> axum::Json<Success<Live>> {
    success(Live { status: "ok" })
}

/// Check readiness
///
/// Readiness, for orchestrators: the database answers within 2 s and the catalog has
/// plans on sale. The database is asked at most once a second; probes in between get
/// that answer.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Operations",
    operation_id = "getReadiness",
    responses(
        (status = 200, description = "Ready to serve.", body = Success<Ready>),
        (status = 429, response = errors::RateLimited),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn ready(State(state): State<AppState>) -> ApiResult<axum::Json<Success<Ready>>> {
    if !state.readiness.database_ok(&state.db).await {
        return Err(ApiError::ServiceUnavailable);
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
