//! `GET /v1/balance` (the partner's prepaid credits) and `GET /v1/balance/transactions`
//! (the ledger entries behind it, newest first, paginated).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::order_history::parse_limit;
use super::{ApiQuery, Page, Success, page, success};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::ids::OrderId;
use crate::ledger::{self, LedgerError};
use crate::money::Cents;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/balance", get(get_balance))
        .route("/v1/balance/transactions", get(list_transactions))
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
            other => ApiError::Internal(other.into()),
        })?;
    Ok(success(BalanceView {
        balance: balance.amount,
        currency: "USD",
        updated_at: balance.updated_at,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionsQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TransactionView {
    id: String,
    kind: String,
    amount: Cents,
    balance_after: Cents,
    order_id: Option<OrderId>,
    #[serde(serialize_with = "super::time::rfc3339")]
    created_at: DateTime<Utc>,
}

/// Transaction cursors: `t1.<entry id>`.
fn decode_cursor(raw: &str) -> Option<i64> {
    raw.strip_prefix("t1.")?.parse().ok().filter(|id| *id > 0)
}

async fn list_transactions(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<TransactionsQuery>,
) -> ApiResult<axum::Json<Page<TransactionView>>> {
    let mut errors = Vec::new();
    let limit = parse_limit(query.limit.as_deref(), &mut errors);
    let before = query.cursor.as_deref().and_then(|raw| {
        let id = decode_cursor(raw);
        if id.is_none() {
            errors.push(FieldError::new(
                "cursor",
                "is not a cursor this API returned",
            ));
        }
        id
    });
    if !errors.is_empty() {
        return Err(ApiError::invalid_fields(errors));
    }
    let mut conn = state.db.acquire().await?;
    let (entries, more) = ledger::entries(&mut conn, principal.partner_id, before, limit).await?;
    let next = if more {
        entries.last().map(|e| format!("t1.{}", e.id))
    } else {
        None
    };
    Ok(page(
        entries
            .into_iter()
            .map(|e| TransactionView {
                id: e.id.to_string(),
                kind: e.kind,
                amount: e.amount,
                balance_after: e.balance_after,
                order_id: e.order,
                created_at: e.created_at,
            })
            .collect(),
        next,
    ))
}
