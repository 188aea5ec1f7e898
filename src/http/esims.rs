//! `GET /v1/esim/{esimId}` (an eSIM's status and usage, refreshed from the provider) and
//! `POST /v1/esim/{esimId}/cancel` (cancel an unused eSIM, refunded).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{Success, success};
use super::error::{ApiError, ApiResult, NotFound};
use super::extract::IdPath;
use super::openapi::errors;
use super::state::AppState;
use crate::auth::Principal;
use crate::esims::{self, EsimRecord, EsimStatus};
use crate::ids::{EsimId, OrderId};
use crate::money::Cents;
use crate::orders::RefundState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_esim))
        .routes(routes!(cancel_esim))
}

/// An eSIM's status, usage and install details.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Esim)]
pub(super) struct EsimView {
    /// Our id of the eSIM.
    #[schema(value_type = uuid::Uuid, example = "9c9b5647-05fa-403c-99e2-26f0be9cb0dd")]
    esim_id: EsimId,
    /// 18–20 digits starting `89`, as the issuing network numbers the eSIM (most have
    /// 19). The last is a Luhn check digit, except on eSIMs whose provider sends ICCIDs
    /// without one (Airalo, Roamify): those are passed on as sent.
    #[schema(pattern = "^89[0-9]{16,18}$", example = "8901264426716552582")]
    iccid: String,
    /// The order that bought it.
    #[schema(value_type = uuid::Uuid, example = "914ce31d-f1b1-43a4-82d4-95f0b9622496")]
    order_id: OrderId,
    /// Its plan.
    #[schema(example = "ae-5gb-7d")]
    plan_id: String,
    status: EsimStatus,
    /// Data included, in MB; `null` for unlimited plans.
    #[schema(required = true, example = 5120)]
    data_total_mb: Option<i32>,
    /// Data used so far, in MB.
    #[schema(example = 500)]
    data_used_mb: i64,
    /// Data left, in MB; `null` for unlimited plans.
    #[schema(required = true, example = 4620)]
    data_remaining_mb: Option<i64>,
    /// First use; `null` until then.
    #[serde(serialize_with = "super::time::rfc3339_opt")]
    #[schema(required = true, example = "2026-11-23T08:00:00Z")]
    activated_at: Option<DateTime<Utc>>,
    /// End of validity: activation + the plan's `days`; `null` until first use.
    #[serde(serialize_with = "super::time::rfc3339_opt")]
    #[schema(required = true, example = "2026-11-30T08:00:00Z")]
    expires_at: Option<DateTime<Utc>>,
    /// The activation string the QR code encodes.
    #[schema(example = "LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5")]
    lpa_code: String,
    /// A PNG of the install QR code, public at an unguessable URL.
    #[schema(
        format = "uri",
        example = "https://api.tavaro.io/qr/Z3L9GpeleVVuSasqPCdBDxf0Ud.png"
    )]
    qr_code_url: String,
    /// One-tap install on iOS 17.4+.
    #[schema(
        format = "uri",
        example = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5"
    )]
    ios_install_url: String,
    /// One-tap install on Android.
    #[schema(
        format = "uri",
        example = "https://esimsetup.android.com/esim_qrcode_provisioning?carddata=LPA:1$smdp.sim.tavaro.io$ALW4J-EM2S9-BPKY7-6NLZ5"
    )]
    android_install_url: String,
    /// When it was issued.
    #[serde(serialize_with = "super::time::rfc3339")]
    #[schema(example = "2026-11-22T14:22:58Z")]
    created_at: DateTime<Utc>,
    /// When the usage figures were last read from the provider; `null` until the first
    /// read. Older than a minute or so when the provider could not be reached: the figures
    /// are the last it gave.
    #[serde(serialize_with = "super::time::rfc3339_opt")]
    #[schema(required = true, example = "2026-11-23T09:12:04Z")]
    usage_updated_at: Option<DateTime<Utc>>,
    /// The orders that topped it up (kind `topup`), oldest first; see
    /// `GET /v1/orders/{orderId}` for how each ended.
    #[schema(value_type = Vec<uuid::Uuid>)]
    topup_order_ids: Vec<OrderId>,
}

/// Get an eSIM
///
/// An eSIM you bought: its status (`READY` issued, no data used yet; `ACTIVE` in use;
/// `EXPIRED` validity over; `DEPLETED` data used up before expiry), data used and left,
/// and its install details. Usage is read from the provider at most once a minute per
/// eSIM (`TAVARO_USAGE_TTL_SECS`) when it answers within 5 s; otherwise, and in between,
/// from our records (the last figures the provider gave).
#[utoipa::path(
    get,
    path = "/v1/esim/{esimId}",
    tag = "Esims",
    operation_id = "getEsim",
    params(("esimId" = uuid::Uuid, Path, description = "An `esimId` from an order.")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The eSIM.", body = Success<EsimView>),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::EsimNotFound),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn get_esim(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<EsimId>,
) -> ApiResult<axum::Json<Success<EsimView>>> {
    let record = esims::find(&state.db, principal.account(), id)
        .await?
        .ok_or(ApiError::NotFound(NotFound::Esim))?;
    let record = esims::refresh(&state.db, &state.providers, &state.usage_cache, record).await?;
    view(&state, record).await
}

/// The eSIM view of `record`, as `GET /v1/esim/{esimId}` answers it.
pub(super) async fn view(
    state: &AppState,
    record: EsimRecord,
) -> ApiResult<axum::Json<Success<EsimView>>> {
    let base = &state.public_base_url;
    let topup_order_ids = if record.topups > 0 || record.status != EsimStatus::Ready {
        esims::topup_orders(&state.db, &record).await?
    } else {
        // Never topped up (no top-up counted, and a failed one leaves the eSIM as it was).
        Vec::new()
    };
    Ok(success(EsimView {
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
        usage_updated_at: record.usage_updated_at,
        topup_order_ids,
    }))
}

/// A refund, as a cancellation answers it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Refund)]
struct RefundView {
    /// The eSIM's net unit cost: what its order debited for it.
    amount: Cents,
    #[schema(schema_with = crate::http::envelope::literal_usd)]
    currency: &'static str,
    /// `completed`: credited to your balance; `pending`: the provider is reviewing it.
    status: RefundState,
}

/// The answer to `POST /v1/esim/{esimId}/cancel`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Cancellation)]
struct CancellationView {
    /// The eSIM.
    #[schema(value_type = uuid::Uuid, example = "9c9b5647-05fa-403c-99e2-26f0be9cb0dd")]
    esim_id: EsimId,
    /// `CANCELLED`, or `CANCEL_PENDING` while the refund is reviewed.
    status: EsimStatus,
    refund: RefundView,
    /// Your balance now.
    balance: Cents,
}

/// Cancel an unused eSIM
///
/// Cancels an eSIM that was never used (`READY`, no data used, never topped up) at its
/// provider and credits back its net unit cost with one `refund` ledger entry linked to
/// its order (200, `CANCELLED`). Where the provider reviews refunds (Airalo, Roamify), the
/// eSIM is `CANCEL_PENDING` (202, `refund.status: pending`) until the provider decides:
/// approved, it is credited and `CANCELLED`; rejected, the eSIM is `READY` again. An eSIM
/// is refunded at most once: a second cancel gets 409 `esim_not_cancellable`. With an
/// `Idempotency-Key`, a retry of a request that cancelled the eSIM answers where that
/// cancellation stands now.
#[utoipa::path(
    post,
    path = "/v1/esim/{esimId}/cancel",
    tag = "Esims",
    operation_id = "cancelEsim",
    params(
        ("esimId" = uuid::Uuid, Path, description = "An `esimId` from an order."),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[\\x20-\\x7E]+$",
            description = "1 to 255 printable ASCII characters: a retry with the same key answers the first request's cancellation as it stands.",
            example = "cancel-BK-12345"),
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Cancelled and refunded.", body = Success<CancellationView>,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same `Idempotency-Key`.")),
            example = json!({"status": "success", "data": {"esimId": "9c9b5647-05fa-403c-99e2-26f0be9cb0dd", "status": "CANCELLED",
                "refund": {"amount": 7.5, "currency": "USD", "status": "completed"}, "balance": 1000.0}})),
        (status = 202, description = "Cancellation asked for; the refund is pending (reviewed by the provider, or its answer not known yet).", body = Success<CancellationView>,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same `Idempotency-Key`.")),
            example = json!({"status": "success", "data": {"esimId": "9c9b5647-05fa-403c-99e2-26f0be9cb0dd", "status": "CANCEL_PENDING",
                "refund": {"amount": 7.5, "currency": "USD", "status": "pending"}, "balance": 992.5}})),
        (status = 400, response = errors::InvalidRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 403, response = errors::PartnerSuspended),
        (status = 404, response = errors::EsimNotFound),
        (status = 409, response = errors::EsimNotCancellable),
        (status = 429, response = errors::RateLimited),
        (status = 500, response = errors::InternalError),
        (status = 503, response = errors::ServiceUnavailable),
    )
)]
async fn cancel_esim(
    State(state): State<AppState>,
    principal: Principal,
    IdPath(id): IdPath<EsimId>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let key = super::orders::idempotency_key(&headers)?;
    let receipt = state.orders.cancel(principal.account(), id, key).await?;
    let status = match receipt.refund {
        RefundState::Completed => StatusCode::OK,
        RefundState::Pending => StatusCode::ACCEPTED,
    };
    let view = CancellationView {
        esim_id: receipt.esim_id,
        status: receipt.status,
        refund: RefundView {
            amount: receipt.amount,
            currency: "USD",
            status: receipt.refund,
        },
        balance: receipt.balance,
    };
    let mut response = (status, success(view)).into_response();
    if receipt.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}
