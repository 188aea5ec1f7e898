//! An event's body: `{"id","type","createdAt","mode","data"}`, where `data` is what the
//! API would answer for the event's subject (an order as `GET /v1/orders/{orderId}`, an
//! eSIM as `GET /v1/esim/{esimId}` without a provider refresh, the balance as
//! `GET /v1/balance`, an endpoint as `GET /v1/webhooks/{webhookId}`), rendered on first
//! dispatch and kept, so every attempt (and `GET /v1/events`) shows the same body.

use serde_json::Value;

use super::WebhookView;
use crate::http::balance::BalanceView;
use crate::http::error::{ApiError, ApiResult};
use crate::http::state::AppState;
use crate::ledger::LedgerError;
use crate::mode::Account;
use crate::webhooks::endpoints::{self, Event};
use crate::webhooks::{Subject, outbox};

/// The `data` of `event`: the one stored, or rendered now and stored (first dispatch).
/// A subject that is gone (an endpoint deleted since) renders as `null`.
pub(in crate::http) async fn data_of(
    state: &AppState,
    account: Account,
    event: &Event,
) -> ApiResult<Value> {
    if let Some(payload) = &event.payload {
        return Ok(payload.clone());
    }
    let data = match event.subject() {
        Some(subject) => render(state, account, subject).await?,
        None => Value::Null,
    };
    Ok(outbox::store_payload(&state.db, &event.id, &data).await?)
}

async fn render(state: &AppState, account: Account, subject: Subject) -> ApiResult<Value> {
    let to_value = |v: serde_json::Result<Value>| v.map_err(|e| ApiError::Internal(e.into()));
    Ok(match subject {
        Subject::Order(id) => crate::http::orders::order_data(state, account, id)
            .await?
            .unwrap_or(Value::Null),
        Subject::Esim(id) => match crate::esims::find(&state.db, account, id).await? {
            Some(record) => {
                let axum::Json(view) = crate::http::esims::view(state, record).await?;
                to_value(serde_json::to_value(view))?["data"].take()
            }
            None => Value::Null,
        },
        Subject::Balance => {
            let balance = state
                .balances
                .read(account)
                .await?
                .ok_or_else(|| ApiError::Internal(LedgerError::NoAccount.into()))?;
            to_value(serde_json::to_value(BalanceView::new(balance)))?
        }
        Subject::Webhook(id) => match endpoints::find(&state.db, account, id).await? {
            Some(endpoint) => to_value(serde_json::to_value(WebhookView::new(endpoint)))?,
            None => Value::Null,
        },
    })
}
