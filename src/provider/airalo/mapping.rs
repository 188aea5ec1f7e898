//! Airalo's answers in our terms: catalogue entries as [`UpstreamPackage`]s, orders as
//! eSIMs, usage statuses, top-up lists and top-up orders, and error bodies as
//! [`ProviderError`]s (reference §1.2–§1.7).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;
use serde_json::Value;

use super::wire::{Area, ErrorBody, Meta, Operator, Order, Package, Sim, Usage};
use crate::provider::normalize::{
    CheckDigit, InvalidEsim, checked_esim, data_mb, e4_from_amount, printable, split_lpa, timestamp,
};
use crate::provider::upstream::{Answer, Call};
use crate::provider::{
    EsimUsage, ProviderError, Provisioned, ProvisionedEsim, Refusal, ToppedUp, TopupLookup,
    TopupOffer, UpstreamCountry, UpstreamPackage,
};
use crate::status::EsimStatus;

/// Every new-eSIM package of one catalogue entry (top-ups are skipped).
pub(super) fn packages(area: &Area) -> Vec<UpstreamPackage> {
    let title = area.title.clone().unwrap_or_default();
    let own_code = area
        .country_code
        .as_deref()
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty());
    let slug = area
        .slug
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let global = own_code.is_none() && matches!(slug.as_str(), "world" | "global");
    let region = (own_code.is_none() && !global && !title.is_empty()).then(|| title.clone());
    let mut out = Vec::new();
    for operator in area.operators.iter().flatten() {
        let countries = match &own_code {
            Some(code) => vec![UpstreamCountry {
                code: code.clone(),
                name: if title.is_empty() {
                    code.clone()
                } else {
                    title.clone()
                },
            }],
            None => operator_countries(operator),
        };
        let (networks, carriers) = networks(operator);
        let top_up = operator.rechargeability.as_ref().and_then(yes_or_no);
        for package in operator.packages.iter().flatten() {
            if package.kind.as_deref().is_some_and(|k| k != "sim") {
                continue;
            }
            let Some(sku) = package.id.clone() else {
                continue;
            };
            let label = package.title.clone().unwrap_or_else(|| sku.clone());
            out.push(UpstreamPackage {
                name: if title.is_empty() {
                    label
                } else {
                    format!("{title} {label}")
                },
                sku,
                countries: countries.clone(),
                region: region.clone(),
                global,
                days: package.day.and_then(|d| i32::try_from(d).ok()).unwrap_or(0),
                data_mb: if package.is_unlimited {
                    None
                } else {
                    package.amount.and_then(data_mb)
                },
                cost_e4: cost_e4(package).unwrap_or(0),
                currency: "USD".into(),
                networks: networks.clone(),
                carriers: carriers.clone(),
                hotspot: None,
                top_up,
                throttle: None,
            });
        }
    }
    out
}

/// `true`, `1`, `"true"`, `"1"` (and their negatives) as a boolean; `None` otherwise.
fn yes_or_no(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n == 1),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Our cost: `net_price` (USD), else `prices.net_price.USD`.
fn cost_e4(package: &Package) -> Option<i64> {
    package
        .net_price
        .as_ref()
        .and_then(e4_from_amount)
        .or_else(|| {
            package
                .prices
                .as_ref()?
                .net_price
                .as_ref()?
                .get("USD")
                .and_then(e4_from_amount)
        })
}

/// A regional operator's countries: its coverages, named from its `countries` list.
fn operator_countries(operator: &Operator) -> Vec<UpstreamCountry> {
    let upper = |c: &str| c.trim().to_ascii_uppercase();
    let names: BTreeMap<String, String> = operator
        .countries
        .iter()
        .flatten()
        .filter_map(|c| {
            let code = upper(c.country_code.as_deref()?);
            Some((code, c.title.clone().unwrap_or_default()))
        })
        .collect();
    let mut codes: BTreeSet<String> = operator
        .coverages
        .iter()
        .flatten()
        .filter_map(|c| c.name.as_deref().map(upper))
        .collect();
    codes.extend(names.keys().cloned());
    codes.retain(|c| !c.is_empty());
    codes
        .into_iter()
        .map(|code| UpstreamCountry {
            name: names
                .get(&code)
                .filter(|n| !n.trim().is_empty())
                .cloned()
                .unwrap_or_else(|| code.clone()),
            code,
        })
        .collect()
}

/// Radio technologies and carrier names across the operator's coverages.
fn networks(operator: &Operator) -> (Vec<String>, Vec<String>) {
    let mut types = BTreeSet::new();
    let mut carriers = BTreeSet::new();
    for network in operator
        .coverages
        .iter()
        .flatten()
        .flat_map(|c| c.networks.iter().flatten())
    {
        types.extend(network.types.iter().flatten().map(|t| t.trim().to_owned()));
        carriers.extend(network.name.iter().map(|n| n.trim().to_owned()));
    }
    types.remove("");
    carriers.remove("");
    (types.into_iter().collect(), carriers.into_iter().collect())
}

/// The order's eSIMs, if `quantity` of them are there, each complete; `Err` when one is
/// complete but not an eSIM we can hand out.
pub(super) fn issued(order: &Order, quantity: u32) -> Result<Option<Provisioned>, InvalidEsim> {
    let mut esims = Vec::new();
    for sim in order.sims.iter().flatten() {
        match esim(sim)? {
            Some(esim) => esims.push(esim),
            None => return Ok(None),
        }
    }
    Ok((esims.len() == quantity as usize).then(|| Provisioned {
        provider_order_ref: order.id.clone(),
        esims,
    }))
}

/// An eSIM: `lpa` is the SM-DP+ address and `matching_id` the activation code; the
/// `qrcode` LPA string stands in for either when missing. Airalo's ICCIDs carry no Luhn
/// check digit ([`CheckDigit::Absent`]).
fn esim(sim: &Sim) -> Result<Option<ProvisionedEsim>, InvalidEsim> {
    let from_qr = sim.qrcode.as_deref().and_then(split_lpa);
    let smdp_address = present(sim.lpa.as_deref())
        .map(str::to_owned)
        .or_else(|| from_qr.as_ref().map(|(smdp, _)| smdp.clone()));
    let activation_code = present(sim.matching_id.as_deref())
        .map(str::to_owned)
        .or_else(|| from_qr.map(|(_, code)| code));
    checked_esim(
        sim.iccid.as_deref(),
        smdp_address.as_deref(),
        activation_code.as_deref(),
        sim.id.clone(),
        CheckDigit::Absent,
    )
}

/// What an eSIM we cannot take in Airalo's answer means: the order went through
/// upstream, but nothing of it may be stored or sold, so its outcome is unknown and
/// reconciliation (then the operator) settles it.
pub(super) fn invalid(e: &InvalidEsim) -> ProviderError {
    ProviderError::Unknown(format!("airalo answered an eSIM we cannot take: {e}"))
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The order's status slug (`completed`, `failed`, `refunded`, …) with `include=status`.
pub(super) fn order_status(order: &Order) -> Option<String> {
    let status = order.status.as_ref()?;
    let slug = status.get("slug").unwrap_or(status).as_str()?;
    Some(slug.trim().to_ascii_lowercase())
}

/// Usage: MB used (`total − remaining`, 0 when unlimited), status, end of validity.
pub(super) fn usage(usage: &Usage) -> Result<EsimUsage, ProviderError> {
    let raw = usage
        .status
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    let status = match raw.as_str() {
        "NOT_ACTIVE" => EsimStatus::Ready,
        "ACTIVE" => EsimStatus::Active,
        "FINISHED" => EsimStatus::Depleted,
        "EXPIRED" | "RECYCLED" => EsimStatus::Expired,
        _ => {
            return Err(ProviderError::Unavailable(format!(
                "airalo reports eSIM status `{raw}`"
            )));
        }
    };
    let used = match (usage.is_unlimited, usage.total, usage.remaining) {
        (false, Some(total), Some(remaining)) => (total - remaining).max(0),
        _ => 0,
    };
    Ok(EsimUsage {
        status,
        data_used_mb: used,
        activated_at: None,
        expires_at: usage.expired_at.as_ref().and_then(timestamp),
        // `total` counts the package and its top-ups; 0 (to be ignored) when unlimited.
        data_total_mb: usage
            .total
            .filter(|total| !usage.is_unlimited && *total > 0),
    })
}

/// A package of an eSIM's top-up list as an offer; `None` without an id, or for a
/// package that is not a top-up. Its cost is the net price, when Airalo states it (not
/// under discount pricing).
pub(super) fn topup_offer(package: &Package) -> Option<TopupOffer> {
    if package.kind.as_deref().is_some_and(|k| k != "topup") {
        return None;
    }
    let sku = present(package.id.as_deref())?;
    Some(TopupOffer {
        sku: sku.to_owned(),
        cost_e4: cost_e4(package),
        days: package.day.and_then(|d| i32::try_from(d).ok()),
        data_mb: match package.is_unlimited {
            true => None,
            false => package.amount.and_then(data_mb),
        },
    })
}

/// What a top-up order Airalo has (found by our reference) says: failed, still being
/// processed, or applied (Airalo answers a top-up order only once it is applied).
pub(super) fn topup_outcome(order: &Order) -> TopupLookup {
    match order_status(order).as_deref() {
        Some("failed") => TopupLookup::Failed("airalo reports the top-up failed".into()),
        Some("pending" | "processing") => TopupLookup::Pending,
        _ => TopupLookup::Applied(ToppedUp {
            provider_order_ref: order.id.clone(),
        }),
    }
}

/// What Airalo said in `meta.message`, with any per-field messages after it.
pub(super) fn refusal_words(meta: Option<&Meta>, data: Option<&Value>) -> Option<String> {
    let message = meta
        .and_then(|m| m.message.as_deref())
        .map(str::trim)
        .filter(|m| !m.is_empty() && !m.eq_ignore_ascii_case("success"))?;
    let fields: Vec<&str> = data
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|fields| fields.values())
        .filter_map(Value::as_str)
        .collect();
    let words = if fields.is_empty() {
        message.to_owned()
    } else {
        format!("{message}: {}", fields.join("; "))
    };
    Some(printable(&words))
}

/// Classifies a failed answer (reference §1.7): rate limit, credentials and server
/// errors as every upstream; then Airalo's business codes and validation messages.
pub(super) fn failure(answer: &Answer, call: Call) -> ProviderError {
    let body: Option<ErrorBody> = serde_json::from_slice(&answer.body).ok();
    if let Some(code) = body.as_ref().and_then(|b| b.code) {
        let reason = body
            .as_ref()
            .and_then(|b| b.reason.as_deref().or(b.message.as_deref()).map(printable))
            .unwrap_or_else(|| answer.snippet());
        let message = format!("airalo error {code}: {reason}");
        match code {
            11 => return ProviderError::InsufficientFunds(message),
            13 => return ProviderError::Unavailable(message),
            14 | 89 => return ProviderError::Auth(message),
            33 => return ProviderError::rejected(Refusal::OutOfStock, message),
            34 => return ProviderError::rejected(Refusal::InvalidPackage, message),
            53 => return call.unsure(message),
            _ if answer.status.is_client_error()
                && answer.status != StatusCode::TOO_MANY_REQUESTS
                && answer.status != StatusCode::UNAUTHORIZED =>
            {
                return ProviderError::rejected(Refusal::Other, message);
            }
            _ => {}
        }
    }
    if let Some(common) = answer.common_error(call) {
        return common;
    }
    if !answer.status.is_client_error() {
        // A 1xx/3xx, or a 2xx the caller could not use.
        return call.unsure(format!(
            "unexpected answer (HTTP {}): {}",
            answer.status.as_u16(),
            answer.snippet()
        ));
    }
    let fields = body
        .as_ref()
        .and_then(|b| b.data.as_ref())
        .and_then(Value::as_object);
    let reason = match fields {
        Some(fields) if fields.contains_key("package_id") => Refusal::InvalidPackage,
        Some(fields)
            if fields
                .get("quantity")
                .and_then(Value::as_str)
                .is_some_and(|m| m.to_ascii_lowercase().contains("not available")) =>
        {
            Refusal::OutOfStock
        }
        _ => Refusal::Other,
    };
    ProviderError::rejected(
        reason,
        format!("HTTP {}: {}", answer.status.as_u16(), answer.snippet()),
    )
}
