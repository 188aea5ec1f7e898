//! `GET /v1/balance`: the partner's prepaid credits.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Success, success};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::ledger::{self, LedgerError};
use crate::money::Cents;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/balance", get(get_balance))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BalanceView {
    balance: Cents,
    currency: &'static str,
    #[serde(serialize_with = "super::time::rfc3339")]
    updated_at: DateTime<Utc>,
}

async fn get_balance(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<axum::Json<Success<BalanceView>>> {
    let mut conn = state.db.acquire().await?;
    let balance = ledger::balance(&mut conn, principal.partner_id)
        .await
        .map_err(|e| match e {
            LedgerError::Database(e) => e.into(),
            other => crate::error::ApiError::Internal(other.into()),
        })?;
    Ok(success(BalanceView {
        balance: balance.amount,
        currency: "USD",
        updated_at: balance.updated_at,
    }))
}
