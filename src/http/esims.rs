//! `GET /v1/esim/{esimId}`: an eSIM's status and usage, refreshed from the provider.

use std::time::Duration;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Success, success};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, NotFound};
use crate::esims::{self, EsimRecord, EsimStatus};
use crate::ids::{EsimId, OrderId};
use crate::state::AppState;

/// How long a status request waits for the provider before answering from our records.
const USAGE_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/esim/{esim_id}", get(get_esim))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EsimView {
    esim_id: EsimId,
    iccid: String,
    order_id: OrderId,
    plan_id: String,
    status: EsimStatus,
    data_total_mb: Option<i32>,
    data_used_mb: i64,
    data_remaining_mb: Option<i64>,
    #[serde(serialize_with = "super::time::rfc3339_opt")]
    activated_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "super::time::rfc3339_opt")]
    expires_at: Option<DateTime<Utc>>,
    lpa_code: String,
    qr_code_url: String,
    ios_install_url: String,
    android_install_url: String,
    #[serde(serialize_with = "super::time::rfc3339")]
    created_at: DateTime<Utc>,
}

async fn get_esim(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<axum::Json<Success<EsimView>>> {
    // A malformed id is simply an id we do not know.
    let id = path
        .ok()
        .and_then(|Path(raw)| Uuid::parse_str(&raw).ok())
        .map(EsimId)
        .ok_or(ApiError::NotFound(NotFound::Esim))?;
    let record = esims::find(&state.db, principal.partner_id, id)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Esim))?;

    // Live usage when the provider answers in time; our last known state otherwise.
    let Some(provider) = state.providers.get(&record.provider).cloned() else {
        tracing::warn!(provider = %record.provider, "eSIM issued by an unconfigured provider; answering from records");
        return Ok(view(&state, record));
    };
    let usage = crate::provider::timed(
        provider.name(),
        "usage",
        USAGE_TIMEOUT,
        provider.usage(&record.provider_ref),
    )
    .await;
    let record = match usage {
        Ok(usage) => esims::apply_usage(&state.db, record, usage).await?,
        Err(e) => {
            tracing::warn!(error = %e, esim_id = %record.id, "usage refresh failed; answering from records");
            record
        }
    };

    Ok(view(&state, record))
}

fn view(state: &AppState, record: EsimRecord) -> axum::Json<Success<EsimView>> {
    let base = &state.public_base_url;
    success(EsimView {
        esim_id: record.id,
        iccid: record.iccid.clone(),
        order_id: record.order_id,
        plan_id: record.plan_id.clone(),
        status: record.status,
        data_total_mb: record.data_total_mb,
        data_used_mb: record.data_used_mb,
        data_remaining_mb: record.data_remaining_mb(),
        activated_at: record.activated_at,
        expires_at: record.expires_at,
        lpa_code: record.lpa_code(),
        qr_code_url: record.qr_code_url(base),
        ios_install_url: record.ios_install_url(),
        android_install_url: record.android_install_url(),
        created_at: record.created_at,
    })
}
