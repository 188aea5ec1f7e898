//! The sandbox's simulation operations, for sandbox keys only (a live key gets 403
//! `sandbox_only`): move a sandbox eSIM through its statuses as if its traveller used data
//! or its validity ended, and set the sandbox balance. Partners test the status pages of
//! their own product with them, without an operator.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::balance::BalanceView;
use super::envelope::{Success, success};
use super::error::{ApiError, ApiResult, NotFound};
use super::esims::{EsimView, view};
use super::extract::{ApiJson, IdPath};
use super::openapi::errors;
use super::state::AppState;
use crate::auth::Principal;
use crate::esims::{self, Simulation};
use crate::ids::EsimId;
use crate::ledger;
use crate::mode::Account;
use crate::money::Cents;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(simulate_usage))
        .routes(routes!(simulate_expiry))
        .routes(routes!(set_sandbox_balance))
}

/// Most data one simulated use may record: 10 TB, far above any plan.
const MAX_USAGE_MB: i64 = 10_000_000;
/// Highest sandbox balance that can be set: 1,000,000.00 USD.
const MAX_SANDBOX_BALANCE: Cents = Cents::new(100_000_000);

/// Data the traveller used.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SandboxUsage, example = json!({"mb": 500}))]
struct UsageRequest {
    /// Megabytes used, a whole number from 1 to 10,000,000.
    #[schema(value_type = i64, minimum = 1, maximum = 10_000_000, example = 500)]
    mb: serde_json::Number,
}

/// The sandbox balance to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SandboxBalance, example = json!({"balance": 250.0}))]
struct BalanceRequest {
    /// US dollars, 0 to 1,000,000, at most two decimals.
    #[schema(value_type = f64, minimum = 0, maximum = 1_000_000, example = 250.0)]
    balance: serde_json::Number,
}

/// The caller's sandbox account, or 403 `sandbox_only` for a live key.
fn sandbox_account(principal: &Principal) -> ApiResult<Account> {
    if !principal.mode.is_sandbox() {
        return Err(ApiError::SandboxOnly);
    }
    Ok(principal.account())
}

/// One of the caller's sandbox eSIMs (404 as for another partner's otherwise).
async fn sandbox_esim(
    state: &AppState,
    principal: &Principal,
    id: EsimId,
) -> ApiResult<esims::EsimRecord> {
    let account = sandbox_account(principal)?;
    esims::find(&state.db, account, id)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Esim))
}

/// Simulate data use
///
/// Sandbox keys only. Records `mb` of data used on one of your sandbox eSIMs, as if its
/// traveller used it: the first use activates it (`READY` → `ACTIVE`, validity starts),
/// use up to its allowance depletes it (`DEPLETED`). Use on an `EXPIRED` eSIM changes
/// nothing. Answers the eSIM as `GET /v1/esim/{esimId}` does.
#[utoipa::path(
    post,
    path = "/v1/sandbox/esims/{esimId}/usage",
    tag = "Sandbox",
    operation_id = "simulateUsage",
    params(("esimId" = uuid::Uuid, Path, description = "An `esimId` from a sandbox order.")),
    request_body(content = UsageRequest, content_type = "application/json"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The eSIM after the use.", body = Success<EsimView>),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::SandboxOnly),
        (status = 404, response = errors::EsimNotFound),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 415, response = errors::UnsupportedMediaType),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn simulate_usage(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<EsimId>,
    ApiJson(request): ApiJson<UsageRequest>,
) -> ApiResult<axum::Json<Success<EsimView>>> {
    sandbox_account(&principal)?;
    let mb = request
        .mb
        .as_i64()
        .filter(|mb| (1..=MAX_USAGE_MB).contains(mb))
        .ok_or_else(|| {
            ApiError::invalid_field(
                "mb",
                "must be a whole number of megabytes from 1 to 10000000",
            )
        })?;
    let record = sandbox_esim(&state, &principal, id).await?;
    let record = esims::simulate(&state.db, record, Simulation::Usage(mb)).await?;
    view(&state, record).await
}

/// Simulate expiry
///
/// Sandbox keys only. Ends one of your sandbox eSIMs' validity now (`EXPIRED`), as if
/// its `days` had run out. Answers the eSIM as `GET /v1/esim/{esimId}` does.
#[utoipa::path(
    post,
    path = "/v1/sandbox/esims/{esimId}/expire",
    tag = "Sandbox",
    operation_id = "simulateExpiry",
    params(("esimId" = uuid::Uuid, Path, description = "An `esimId` from a sandbox order.")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The eSIM, expired.", body = Success<EsimView>),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::SandboxOnly),
        (status = 404, response = errors::EsimNotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn simulate_expiry(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<EsimId>,
) -> ApiResult<axum::Json<Success<EsimView>>> {
    let record = sandbox_esim(&state, &principal, id).await?;
    let record = esims::simulate(&state.db, record, Simulation::Expiry).await?;
    view(&state, record).await
}

/// Set the sandbox balance
///
/// Sandbox keys only. Sets your sandbox balance to `balance` by one `adjustment` entry of
/// the difference (none when it is there already), so you can test low and exhausted
/// credits (402). Answers the balance as `GET /v1/balance` does.
#[utoipa::path(
    post,
    path = "/v1/sandbox/balance",
    tag = "Sandbox",
    operation_id = "setSandboxBalance",
    request_body(content = BalanceRequest, content_type = "application/json"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Your sandbox balance, as set.", body = Success<BalanceView>,
            example = json!({"status": "success", "data": {"balance": 250.0, "currency": "USD", "updatedAt": "2026-11-22T14:22:58Z"}})),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::SandboxOnly),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 415, response = errors::UnsupportedMediaType),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn set_sandbox_balance(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<BalanceRequest>,
) -> ApiResult<axum::Json<Success<BalanceView>>> {
    let account = sandbox_account(&principal)?;
    let target = Cents::parse_dollars(&request.balance.to_string())
        .ok()
        .filter(|c| *c <= MAX_SANDBOX_BALANCE)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "balance",
                "must be an amount in dollars from 0 to 1000000, at most two decimals",
            )
        })?;
    let mut tx = state.db.begin().await?;
    let balance = ledger::set_balance(&mut tx, account, target, "sandbox balance set").await?;
    tx.commit().await?;
    Ok(success(BalanceView::new(balance)))
}
