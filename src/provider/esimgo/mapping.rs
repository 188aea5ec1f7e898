//! eSIM Go's vocabulary into ours: bundles into packages, install details into eSIMs,
//! bundle and order states into statuses, and error answers into [`ProviderError`]s.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use super::wire::{Assignment, Bundle, EsimDetails, NamedAssignment, Order};
use crate::provider::normalize::{
    CheckDigit, InvalidEsim, checked_esim, data_mb, e4_from_amount, mb_from_decimal_bytes,
    printable, timestamp,
};
use crate::provider::upstream::{Answer, Call};
use crate::provider::{ProviderError, ProvisionedEsim, Refusal, UpstreamCountry, UpstreamPackage};
use crate::status::EsimStatus;

/// A bundle covering at least this many countries is global even if nothing says so.
pub(super) const GLOBAL_FROM_COUNTRIES: usize = 100;

/// A catalogue bundle as a package; `None` for a bundle without a name, or limited
/// without a data amount.
pub(super) fn package(bundle: Bundle) -> Option<UpstreamPackage> {
    let sku = bundle.name.filter(|n| !n.trim().is_empty())?;
    let mut countries = BTreeMap::new();
    let mut regions = Vec::new();
    for country in bundle.countries.unwrap_or_default() {
        let Some(code) = country.iso.map(|c| c.trim().to_ascii_uppercase()) else {
            continue;
        };
        let name = country
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| code.clone());
        regions.push(country.region.map(|r| r.trim().to_owned()));
        countries.insert(code.clone(), UpstreamCountry { code, name });
    }
    let description = bundle.description.filter(|d| !d.trim().is_empty());
    let groups = bundle.groups.unwrap_or_default();
    let says_global = std::iter::once(sku.as_str())
        .chain(description.as_deref())
        .chain(groups.iter().map(String::as_str))
        .any(|text| text.to_ascii_lowercase().contains("global"));
    let global = says_global || countries.len() >= GLOBAL_FROM_COUNTRIES;
    // A multi-country bundle belongs to a region only when all its countries share it.
    let region = match regions.split_first() {
        Some((Some(first), rest)) if countries.len() > 1 && !first.is_empty() => rest
            .iter()
            .all(|r| r.as_deref() == Some(first.as_str()))
            .then(|| first.clone()),
        _ => None,
    };
    let unlimited = bundle.unlimited || bundle.data_amount.is_some_and(|mb| mb < 0);
    let data_mb = match bundle.data_amount.and_then(data_mb) {
        _ if unlimited => None,
        Some(mb) => Some(mb),
        None => {
            // Never sold as unlimited on a missing number.
            tracing::warn!(sku, "eSIM Go bundle states no data amount; not imported");
            return None;
        }
    };
    let mut networks: Vec<String> = bundle.speed.unwrap_or_default();
    networks.sort();
    networks.dedup();
    Some(UpstreamPackage {
        name: description.unwrap_or_else(|| sku.clone()),
        sku,
        countries: countries.into_values().collect(),
        region: if global { None } else { region },
        global,
        days: bundle
            .duration
            .and_then(|d| i32::try_from(d).ok())
            .unwrap_or(0),
        data_mb,
        cost_e4: e4_from_amount(&bundle.price).unwrap_or(0),
        currency: bundle
            .currency
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "USD".to_owned()),
        networks,
        carriers: Vec::new(),
        hotspot: None,
        top_up: None,
        throttle: None,
    })
}

/// Install details as an eSIM we can hand out: `Ok(None)` while a part is missing, `Err`
/// when every part is there but one is not an eSIM's (an order is never completed with an
/// eSIM nobody could install). eSIM Go's ICCIDs carry their Luhn check digit.
pub(super) fn esim(details: &EsimDetails) -> Result<Option<ProvisionedEsim>, InvalidEsim> {
    // The spec's examples write the address as a URL; an LPA string wants the bare host.
    let smdp = details.smdp_address.as_deref().map(|smdp| {
        let smdp = smdp.trim();
        smdp.strip_prefix("https://")
            .or_else(|| smdp.strip_prefix("http://"))
            .unwrap_or(smdp)
            .trim_end_matches('/')
    });
    checked_esim(
        details.iccid.as_deref(),
        smdp,
        details.matching_id.as_deref(),
        None,
        CheckDigit::Luhn,
    )
}

/// Exactly `quantity` installable eSIMs (distinct ICCIDs): `Ok(None)` while any is
/// incomplete or some are missing, `Err` when one is not an eSIM's.
pub(super) fn complete(
    details: &[EsimDetails],
    quantity: u32,
) -> Result<Option<Vec<ProvisionedEsim>>, InvalidEsim> {
    let mut esims: Vec<ProvisionedEsim> = Vec::new();
    for d in details {
        let Some(esim) = esim(d)? else {
            return Ok(None);
        };
        if !esims.iter().any(|e| e.iccid == esim.iccid) {
            esims.push(esim);
        }
    }
    Ok((esims.len() == quantity as usize).then_some(esims))
}

/// What install details we cannot take mean: the order went through upstream, but
/// nothing of it may be stored or sold, so its outcome is unknown (reconciliation, then
/// the operator, settles it).
pub(super) fn invalid(e: &InvalidEsim) -> ProviderError {
    ProviderError::Unknown(format!(
        "eSIM Go answered install details we cannot take: {e}"
    ))
}

/// The inline install details of every line of an order.
pub(super) fn inline_esims(order: &Order) -> Vec<EsimDetails> {
    order
        .order
        .iter()
        .flatten()
        .flat_map(|line| line.esims.iter().flatten().cloned())
        .collect()
}

/// Where an order stands by its `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OrderState {
    /// `completed`.
    Completed,
    /// Failed, cancelled or refunded: nothing (any more) to issue.
    Failed,
    /// Still being worked on, or a status we do not know.
    Open,
}

/// The state of an order by its `status` (an unknown status is still open: we never
/// refund on a word we do not understand).
pub(super) fn order_state(order: &Order) -> OrderState {
    let status = order
        .status
        .as_deref()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match status.as_str() {
        "completed" | "complete" | "success" | "successful" => OrderState::Completed,
        "failed" | "failure" | "error" | "cancelled" | "canceled" | "rejected" | "refunded"
        | "declined" => OrderState::Failed,
        _ => OrderState::Open,
    }
}

/// Whether an order is the one line of `quantity` × `sku` we would have sent.
pub(super) fn order_matches(order: &Order, sku: &str, quantity: u32) -> bool {
    match order.order.as_deref() {
        Some([line]) => {
            line.item.as_deref() == Some(sku) && line.quantity == Some(i64::from(quantity))
        }
        _ => false,
    }
}

/// When an order was created.
pub(super) fn created_at(order: &Order) -> Option<DateTime<Utc>> {
    timestamp(&order.created_date)
}

/// `bundleState` as our status; `None` for a state we do not know.
pub(super) fn bundle_status(state: &str) -> Option<EsimStatus> {
    match state.trim().to_ascii_lowercase().as_str() {
        "processing" | "queued" => Some(EsimStatus::Ready),
        "active" => Some(EsimStatus::Active),
        "depleted" => Some(EsimStatus::Depleted),
        "expired" | "revoked" | "lapsed" => Some(EsimStatus::Expired),
        _ => None,
    }
}

/// The data assignment that describes the eSIM's plan: the latest one of the bundle
/// `sku` when the eSIM has it, else the latest of all.
pub(super) fn pick_assignment(
    all: Vec<NamedAssignment>,
    sku: Option<&str>,
) -> Option<NamedAssignment> {
    let data: Vec<NamedAssignment> = all
        .into_iter()
        .filter(|a| {
            a.assignment
                .call_type_group
                .as_deref()
                .is_none_or(|g| g.eq_ignore_ascii_case("data"))
        })
        .collect();
    let ours = |a: &NamedAssignment| sku.is_some() && a.bundle.as_deref() == sku;
    let pool: Vec<NamedAssignment> = if data.iter().any(ours) {
        data.into_iter().filter(ours).collect()
    } else {
        data
    };
    // `max_by_key` keeps the last of equals: the answer lists the newest last or
    // dates them.
    pool.into_iter()
        .max_by_key(|a| timestamp(&a.assignment.assignment_date_time))
}

/// Data used and the allowance, in MB, as eSIM Go counts them on the eSIM now: over the
/// `chosen` assignment and every other limited data assignment not revoked (the plan's
/// bundle and each top-up is an assignment of its own, with its `initialQuantity` in
/// decimal bytes). An unlimited `chosen` assignment has no allowance (`None`), and its
/// use is its own; an allowance no assignment states is `None` too.
pub(super) fn allowance(all: &[NamedAssignment], chosen: &Assignment) -> (i64, Option<i64>) {
    let used = |a: &Assignment| match (a.initial_quantity, a.remaining_quantity) {
        (Some(initial), Some(remaining)) => (initial - remaining).max(0),
        _ => 0,
    };
    if chosen.unlimited {
        return (mb_from_decimal_bytes(used(chosen)), None);
    }
    let revoked = |a: &Assignment| {
        a.bundle_state
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("revoked"))
    };
    let is_data = |a: &Assignment| {
        a.call_type_group
            .as_deref()
            .is_none_or(|g| g.eq_ignore_ascii_case("data"))
    };
    let mut counted: Vec<&Assignment> = all
        .iter()
        .map(|n| &n.assignment)
        .filter(|a| is_data(a) && !a.unlimited && !revoked(a))
        .collect();
    if revoked(chosen) {
        counted.push(chosen);
    }
    let used_bytes: i64 = counted.iter().map(|a| used(a)).sum();
    let total_bytes = counted
        .iter()
        .filter_map(|a| a.initial_quantity)
        .reduce(|a, b| a + b);
    (
        mb_from_decimal_bytes(used_bytes),
        total_bytes.map(mb_from_decimal_bytes),
    )
}

/// A balance amount (may be negative on credit terms) in 1/10,000 units.
pub(super) fn balance_e4(value: &Value) -> Option<i64> {
    let negative = value.as_f64().is_some_and(|f| f < 0.0)
        || value.as_str().is_some_and(|s| s.trim().starts_with('-'));
    if !negative {
        return e4_from_amount(value);
    }
    let magnitude = match value {
        Value::String(s) => Value::String(s.trim().trim_start_matches('-').to_owned()),
        _ => serde_json::Number::from_f64(-value.as_f64()?).map(Value::Number)?,
    };
    e4_from_amount(&magnitude).map(|e4| -e4)
}

/// The error an unsuccessful answer means. eSIM Go documents no error codes, only
/// `{"message": ...}`, so refusals of an order are told apart by their words (see the
/// module documentation); reads only distinguish rate limits, credentials and outages.
pub(super) fn error(answer: &Answer, call: Call) -> ProviderError {
    let message = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .as_ref()
        .and_then(super::wire::message)
        .map(|m| printable(&m))
        .unwrap_or_else(|| answer.snippet());
    let status = answer.status;
    let words = message.to_ascii_lowercase();
    if call == Call::Order
        && status.is_client_error()
        && status != StatusCode::TOO_MANY_REQUESTS
        && status != StatusCode::UNAUTHORIZED
        && (status == StatusCode::PAYMENT_REQUIRED || mentions_funds(&words))
    {
        return ProviderError::InsufficientFunds(message);
    }
    if let Some(common) = answer.common_error(call) {
        return common;
    }
    let with_status = format!("HTTP {}: {message}", status.as_u16());
    match call {
        Call::Read => ProviderError::Unavailable(with_status),
        Call::Order if status.is_client_error() => {
            ProviderError::rejected(refusal(&words), with_status)
        }
        // 1xx/3xx to an order: we cannot tell what happened.
        Call::Order => ProviderError::Unknown(with_status),
    }
}

fn mentions_funds(words: &str) -> bool {
    ["balance", "credit", "funds"]
        .iter()
        .any(|w| words.contains(w))
}

/// Which refusal a 4xx message describes.
pub(super) fn refusal(words: &str) -> Refusal {
    let has = |list: &[&str]| list.iter().any(|w| words.contains(w));
    if has(&[
        "out of stock",
        "no stock",
        "sold out",
        "unavailable",
        "not available",
    ]) {
        Refusal::OutOfStock
    } else if has(&["bundle", "item", "product", "package"])
        && has(&[
            "not found",
            "invalid",
            "unknown",
            "does not exist",
            "not exist",
            "no such",
        ])
    {
        Refusal::InvalidPackage
    } else {
        Refusal::Other
    }
}
