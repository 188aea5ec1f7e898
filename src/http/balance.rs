//! `GET /v1/balance` (the partner's prepaid credits), `GET /v1/balance/transactions`
//! (the ledger entries behind it, newest first, paginated) and `GET|PUT
//! /v1/balance/alert` (the low-balance threshold behind `balance.low`).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{Page, Success, page, success};
use super::error::{ApiError, ApiResult, FieldError};
use super::extract::{ApiJson, ApiQuery};
use super::openapi::errors;
use super::pagination::{decode_transaction_cursor, encode_transaction_cursor, parse_limit};
use super::state::AppState;
use crate::auth::Principal;
use crate::ids::OrderId;
use crate::ledger::{self, LedgerError};
use crate::money::Cents;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_balance))
        .routes(routes!(list_transactions))
        .routes(routes!(get_alert, set_alert))
}

/// Your prepaid credits.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Balance)]
pub(super) struct BalanceView {
    /// What you can spend.
    balance: Cents,
    #[schema(schema_with = super::envelope::literal_usd)]
    currency: &'static str,
    /// When it last changed.
    #[serde(serialize_with = "super::time::rfc3339")]
    #[schema(example = "2026-11-22T14:22:58Z")]
    updated_at: DateTime<Utc>,
}

impl BalanceView {
    /// The view of `balance`.
    pub(super) fn new(balance: ledger::Balance) -> Self {
        Self {
            balance: balance.amount,
            currency: "USD",
            updated_at: balance.updated_at,
        }
    }
}

/// Get your balance
///
/// Your prepaid credits: check them before bulk orders. With a sandbox key, your sandbox
/// balance (1000.00 USD to start; set it with `POST /v1/sandbox/balance`).
#[utoipa::path(
    get,
    path = "/v1/balance",
    tag = "Balance",
    operation_id = "getBalance",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Your balance.", body = Success<BalanceView>,
            example = json!({"status": "success", "data": {"balance": 992.5, "currency": "USD", "updatedAt": "2026-11-22T14:22:58Z"}})),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn get_balance(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<axum::Json<Success<BalanceView>>> {
    let balance = state
        .balances
        .read(principal.account())
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "balance read failed"))?
        .ok_or_else(|| ApiError::Internal(LedgerError::NoAccount.into()))?;
    Ok(success(BalanceView::new(balance)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TransactionsQuery {
    /// Entries per page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    /// `meta.nextCursor` of the previous page, as given: opaque (its format may change;
    /// one not handed out by this API is refused with 400).
    cursor: Option<String>,
}

/// One ledger entry: a movement of your credits.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Transaction)]
struct TransactionView {
    /// Entry id.
    #[schema(example = "1042")]
    id: String,
    /// `topup` (credits added), `order_debit` (an order), `refund` (a failed order given
    /// back) or `adjustment` (by an operator).
    kind: ledger::EntryKind,
    /// The movement: negative for debits.
    amount: Cents,
    /// Your balance after this entry.
    balance_after: Cents,
    /// The order it belongs to, for `order_debit` and `refund`; `null` otherwise.
    #[schema(value_type = Option<uuid::Uuid>, required = true, example = "914ce31d-f1b1-43a4-82d4-95f0b9622496")]
    order_id: Option<OrderId>,
    /// When it was written.
    #[serde(serialize_with = "super::time::rfc3339")]
    #[schema(example = "2026-11-22T14:22:58Z")]
    created_at: DateTime<Utc>,
}

/// List balance transactions
///
/// The ledger entries behind your balance, newest first, one page at a time.
#[utoipa::path(
    get,
    path = "/v1/balance/transactions",
    tag = "Balance",
    operation_id = "listTransactions",
    params(TransactionsQuery),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "One page of ledger entries, newest first.", body = Page<TransactionView>,
            example = json!({"status": "success", "data": [
                {"id": "1043", "kind": "order_debit", "amount": -7.5, "balanceAfter": 992.5,
                 "orderId": "914ce31d-f1b1-43a4-82d4-95f0b9622496", "createdAt": "2026-11-22T14:22:58Z"},
                {"id": "1042", "kind": "topup", "amount": 1000, "balanceAfter": 1000,
                 "orderId": null, "createdAt": "2026-11-22T14:00:00Z"}
            ], "meta": {"nextCursor": null}})),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn list_transactions(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<TransactionsQuery>,
) -> ApiResult<axum::Json<Page<TransactionView>>> {
    let mut errors = Vec::new();
    let limit = parse_limit(query.limit.as_deref(), &mut errors);
    let before = query.cursor.as_deref().and_then(|raw| {
        let id = decode_transaction_cursor(raw);
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
    let (entries, more) = ledger::entries(&mut conn, principal.account(), before, limit).await?;
    let next = if more {
        entries.last().map(|e| encode_transaction_cursor(e.id))
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

/// Highest low-balance threshold: 1,000,000.00 USD.
const MAX_THRESHOLD: Cents = Cents::new(100_000_000);

/// Your low-balance alert.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = BalanceAlert, example = json!({"threshold": 100.0}))]
struct AlertView {
    /// When a debit takes your balance below this, you are sent `balance.low` (once per
    /// crossing). 0: never.
    threshold: Cents,
}

/// The low-balance alert to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BalanceAlertUpdate, example = json!({"threshold": 100.0}))]
struct AlertRequest {
    /// US dollars, 0 to 1,000,000, at most two decimals; 0 turns the alert off.
    #[schema(value_type = f64, minimum = 0, maximum = 1_000_000, example = 100.0)]
    threshold: serde_json::Number,
}

/// Get your low-balance alert
///
/// The balance below which a debit sends you a `balance.low` webhook event, once per
/// crossing (0: never). Each mode has its own: a sandbox key reads the sandbox's.
#[utoipa::path(
    get,
    path = "/v1/balance/alert",
    tag = "Balance",
    operation_id = "getBalanceAlert",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Your low-balance alert.", body = Success<AlertView>,
            example = json!({"status": "success", "data": {"threshold": 100.0}})),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn get_alert(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<axum::Json<Success<AlertView>>> {
    let mut conn = state.db.acquire().await?;
    let threshold = ledger::low_balance_threshold(&mut conn, principal.account()).await?;
    Ok(success(AlertView { threshold }))
}

/// Set your low-balance alert
///
/// Sets the balance below which a debit sends you `balance.low` (0 turns it off). Setting
/// it sends nothing, even when your balance is below it already: the event reports the
/// debit that crosses it. Each mode has its own: a sandbox key sets the sandbox's.
#[utoipa::path(
    put,
    path = "/v1/balance/alert",
    tag = "Balance",
    operation_id = "setBalanceAlert",
    request_body(content = AlertRequest, content_type = "application/json"),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Your low-balance alert, as set.", body = Success<AlertView>,
            example = json!({"status": "success", "data": {"threshold": 100.0}})),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 415, response = errors::UnsupportedMediaType),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn set_alert(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<AlertRequest>,
) -> ApiResult<axum::Json<Success<AlertView>>> {
    let threshold = Cents::parse_dollars(&request.threshold.to_string())
        .ok()
        .filter(|c| *c <= MAX_THRESHOLD)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "threshold",
                "must be an amount in dollars from 0 to 1000000, at most two decimals",
            )
        })?;
    let mut conn = state.db.acquire().await?;
    ledger::set_low_balance_threshold(&mut conn, principal.account(), threshold).await?;
    Ok(success(AlertView { threshold }))
}
