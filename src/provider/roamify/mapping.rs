//! Roamify's answers in our terms: eSIM records into install data, order and eSIM
//! statuses into ours, and error answers into [`ProviderError`]s.

use reqwest::StatusCode;
use serde_json::Value;

use super::wire::{EsimRecord, Order, Usage};
use crate::provider::normalize::{
    CheckDigit, InvalidEsim, checked_esim, printable, split_lpa, timestamp,
};
use crate::provider::upstream::{Answer, Call};
use crate::provider::{EsimUsage, ProviderError, ProvisionedEsim, Refusal};
use crate::status::EsimStatus;

/// `Number.MAX_SAFE_INTEGER`: Roamify's `dataAmount` of an unlimited package.
pub(super) const UNLIMITED_MB: f64 = 9_007_199_254_740_991.0;

/// The eSIM records an order carries: `esims[]`, or embedded in its `items[]` (either as
/// an `esim` record of its own or as an item with an `iccid` and `esim` install data).
pub(super) fn esims_in(order: &Order) -> Vec<EsimRecord> {
    let mut records = order.esims.clone();
    if records.is_empty() {
        for item in &order.items {
            let nested = item.get("esim").filter(|e| e.get("iccid").is_some());
            let mut candidate = nested.unwrap_or(item).clone();
            if nested.is_none()
                && item.get("esimId").is_some()
                && let Some(fields) = candidate.as_object_mut()
            {
                // An item's own `id` is not the eSIM's: `esimId` is.
                fields.remove("id");
            }
            if candidate.get("iccid").is_some()
                && let Ok(record) = serde_json::from_value::<EsimRecord>(candidate)
            {
                records.push(record);
            }
        }
    }
    records
}

/// The eSIM ids of an order's items (`items[].esimId`).
pub(super) fn esim_ids(order: &Order) -> Vec<String> {
    order
        .items
        .iter()
        .filter_map(|item| match item.get("esimId")? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// Install data of an eSIM record: `Ok(None)` until it has an ICCID, an SM-DP+ address
/// and an activation code (given as parts, or split from the LPA string); `Err` when they
/// are there but are not an eSIM's. Roamify documents no ICCID with a valid Luhn check
/// digit ([`CheckDigit::Absent`]).
pub(super) fn installable(record: &EsimRecord) -> Result<Option<ProvisionedEsim>, InvalidEsim> {
    let install = record.esim.as_ref();
    let parts = install.and_then(|i| non_empty(&i.smdp_address).zip(non_empty(&i.activation_code)));
    let parts = parts.or_else(|| split_lpa(install?.lpa_code.as_deref()?));
    checked_esim(
        record.iccid.as_deref(),
        parts.as_ref().map(|(smdp, _)| smdp.as_str()),
        parts.as_ref().map(|(_, code)| code.as_str()),
        non_empty(&record.id),
        CheckDigit::Absent,
    )
}

/// What an eSIM we cannot take means: the order went through upstream, but nothing of it
/// may be stored or sold, so its outcome is unknown (reconciliation, then the operator,
/// settles it).
pub(super) fn invalid(e: &InvalidEsim) -> ProviderError {
    ProviderError::Unknown(format!("roamify answered an eSIM we cannot take: {e}"))
}

/// Where an order stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum OrderState {
    /// Paid and issued (`COMPLETED`, or `ARCHIVED` later on): its eSIMs exist.
    Done,
    /// `PENDING`, `REQUIRE_ACTION` (or a `PROCESSING` we have not seen documented).
    Pending,
    /// `CANCELLED`, `REFUNDED` (or `FAILED`): nothing to deliver.
    Failed(String),
    /// A status we do not know.
    Unrecognised(String),
}

/// The [`OrderState`] of a status string.
pub(super) fn order_state(status: Option<&str>) -> OrderState {
    let status = status.unwrap_or("").trim().to_ascii_uppercase();
    match status.as_str() {
        "COMPLETED" | "ARCHIVED" => OrderState::Done,
        "PENDING" | "REQUIRE_ACTION" | "PROCESSING" => OrderState::Pending,
        "CANCELLED" | "CANCELED" | "REFUNDED" | "FAILED" => {
            OrderState::Failed(format!("order {status}"))
        }
        _ => OrderState::Unrecognised(printable(&status)),
    }
}

/// Usage in our terms. `INSTALLED` counts as in use only once data was used or the
/// validity started (`startedAt`); until then the eSIM is `READY`, as ours are.
pub(super) fn usage_of(usage: &Usage) -> Result<EsimUsage, ProviderError> {
    let number = |v: &Value| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok());
    let allowed = number(&usage.allowed_data);
    let remaining = number(&usage.remaining_data);
    let used_mb = match (allowed, remaining) {
        (Some(a), Some(r)) => (a - r).max(0.0).round() as i64,
        _ => 0,
    };
    let limited = allowed.is_some_and(|a| a > 0.0 && a < UNLIMITED_MB);
    let depleted = limited && remaining.is_some_and(|r| r <= 0.0);
    let activated_at = timestamp(&usage.started_at);
    let status = usage.status.as_deref().unwrap_or("").trim();
    let base = match status.to_ascii_uppercase().as_str() {
        "NEW" | "READY" => EsimStatus::Ready,
        "INSTALLED" if used_mb == 0 && activated_at.is_none() => EsimStatus::Ready,
        "INSTALLED" | "ACTIVATED" | "ACTIVE" => EsimStatus::Active,
        "EXPIRED" | "REVOKED" | "DELETED" | "INACTIVE" => EsimStatus::Expired,
        _ => {
            return Err(ProviderError::Unavailable(format!(
                "unrecognised eSIM status {status:?}"
            )));
        }
    };
    Ok(EsimUsage {
        // The allowance as Roamify counts it now (top-ups included); none when unlimited.
        data_total_mb: allowed.filter(|_| limited).map(|a| a.round() as i64),
        status: if depleted && base != EsimStatus::Expired {
            EsimStatus::Depleted
        } else {
            base
        },
        data_used_mb: used_mb,
        activated_at,
        expires_at: timestamp(&usage.expired_at),
    })
}

/// The error an unsuccessful answer means. 429, 401/403 and 5xx are the shared classes
/// (a 500 to an order is unknown: Roamify answers an unknown `packageId` with 500
/// "Unknown error", and the reconciler then finds no order by our reference and refunds).
/// 4xx answers are read by their `code`/`message`; a 2xx `"status":"failed"` is only
/// trusted when it names a known reason.
pub(super) fn error_of(
    answer: &Answer,
    message: Option<&str>,
    code: Option<&str>,
    call: Call,
) -> ProviderError {
    if let Some(e) = answer.common_error(call) {
        return e;
    }
    let message = message.map(printable).unwrap_or_else(|| answer.snippet());
    let text = format!("{} {}", code.unwrap_or(""), message)
        .to_ascii_lowercase()
        .replace(['_', '-'], " ");
    let status = answer.status;
    let refused = status.is_client_error();
    let about_money = ["balance", "fund", "credit"]
        .iter()
        .any(|w| text.contains(w));
    if status == StatusCode::PAYMENT_REQUIRED
        || (about_money && (text.contains("insufficient") || text.contains("not enough")))
    {
        ProviderError::InsufficientFunds(message)
    } else if text.contains("out of stock") || text.contains("sold out") {
        ProviderError::rejected(Refusal::OutOfStock, message)
    } else if text.contains("rate limit") || text.contains("too many requests") {
        ProviderError::RateLimited {
            retry_after: answer.retry_after(),
        }
    } else if refused && text.contains("package") && mentions_invalid(&text, status) {
        ProviderError::rejected(Refusal::InvalidPackage, message)
    } else if refused {
        ProviderError::rejected(
            Refusal::Other,
            format!("HTTP {}: {message}", status.as_u16()),
        )
    } else {
        call.unsure(format!("HTTP {}: {message}", status.as_u16()))
    }
}

/// A 404/422 about a package, or a 400 that calls it invalid or unknown.
fn mentions_invalid(text: &str, status: StatusCode) -> bool {
    matches!(status.as_u16(), 404 | 422)
        || [
            "invalid",
            "not found",
            "unknown",
            "not exist",
            "unavailable",
            "inactive",
        ]
        .iter()
        .any(|word| text.contains(word))
}

/// A trimmed, non-empty string.
pub(super) fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}
