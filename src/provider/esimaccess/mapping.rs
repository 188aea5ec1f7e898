//! eSIM Access packages and profiles in our terms: packages become [`UpstreamPackage`]s,
//! profiles become issued eSIMs, order outcomes and usage, top-up lists and outcomes, and
//! the reasons a profile cannot be cancelled.
//!
//! Decisions where the provider's documentation is silent (reference §4):
//! - A multi-country package's region is its name up to the data amount
//!   (`Europe 3GB 15Days` → `Europe`, `Asia (12 areas) 1GB 7Days` → `Asia`). A package is
//!   global when its slug or code says `GL`/`!GL`, its name starts with `Global`, or it
//!   covers 100 countries or more.
//! - `durationUnit` DAY counts days, MONTH 30 days, YEAR 365 days; anything else is
//!   skipped.
//! - `dataType` other than 1 is a daily allowance (`volume` per day). Such a package, or
//!   one named `Unlimited`, is sold as unlimited with the daily allowance at full speed
//!   when its fair-use policy names the reduced speed (`512 kbps`); a daily allowance
//!   without a named reduced speed (a daily cut-off) cannot be described by our plans and
//!   is skipped.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::wire::{Package, Profile};
use crate::provider::normalize::{
    CheckDigit, InvalidEsim, checked_esim, data_mb, mb_from_binary_bytes, split_lpa, timestamp,
};
use crate::provider::{
    EsimUsage, OrderLookup, ProviderError, Provisioned, ProvisionedEsim, ToppedUp, TopupLookup,
    TopupOffer, UpstreamCountry, UpstreamPackage,
};
use crate::status::EsimStatus;

/// Countries from which a package counts as global.
const GLOBAL_FROM_COUNTRIES: usize = 100;

/// A package as we sell it; `Err` says why it is not imported.
pub(super) fn package(p: &Package) -> Result<UpstreamPackage, String> {
    let sku = p
        .package_code
        .clone()
        .ok_or_else(|| "no packageCode".to_owned())?;
    let slug = p.slug.clone().unwrap_or_default();
    let name = p.name.clone().unwrap_or_else(|| slug.clone());
    if p.kind
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case("TOPUP"))
        || sku.to_ascii_uppercase().starts_with("TOPUP")
    {
        return Err("top-up package".into());
    }
    let days = days(p.duration, p.duration_unit.as_deref())?;
    let cost_e4 = p.price.filter(|price| *price > 0).ok_or("no price")?;
    let (data_mb, throttle) = allowance(p, &name)?;

    let names: BTreeMap<String, String> = p
        .location_network_list
        .iter()
        .filter_map(|l| {
            let code = l.location_code.as_deref()?.trim().to_ascii_uppercase();
            Some((code, l.location_name.clone()?))
        })
        .collect();
    let codes: BTreeSet<String> = p
        .location
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .collect();
    let countries: Vec<UpstreamCountry> = codes
        .into_iter()
        .map(|code| UpstreamCountry {
            name: names.get(&code).cloned().unwrap_or_else(|| code.clone()),
            code,
        })
        .collect();

    let global = is_global(&sku, &slug, &name, countries.len());
    let region = (countries.len() > 1 && !global)
        .then(|| region_of(&name))
        .flatten();

    let mut networks = BTreeSet::new();
    let mut carriers = BTreeSet::new();
    for speed in p.speed.as_deref().unwrap_or_default().split('/') {
        insert_trimmed(&mut networks, speed);
    }
    for operator in p
        .location_network_list
        .iter()
        .flat_map(|l| &l.operator_list)
    {
        insert_trimmed(
            &mut networks,
            operator.network_type.as_deref().unwrap_or_default(),
        );
        insert_trimmed(
            &mut carriers,
            operator.operator_name.as_deref().unwrap_or_default(),
        );
    }

    Ok(UpstreamPackage {
        sku,
        name,
        countries,
        region,
        global,
        days,
        data_mb,
        cost_e4,
        currency: p
            .currency_code
            .clone()
            .unwrap_or_else(|| "USD".into())
            .to_ascii_uppercase(),
        networks: networks.into_iter().collect(),
        carriers: carriers.into_iter().collect(),
        hotspot: None,
        top_up: p.support_top_up_type.map(|t| t >= 2),
        throttle,
    })
}

fn insert_trimmed(set: &mut BTreeSet<String>, value: &str) {
    let value = value.trim();
    if !value.is_empty() {
        set.insert(value.to_owned());
    }
}

fn days(duration: Option<i64>, unit: Option<&str>) -> Result<i32, String> {
    let duration = duration.filter(|d| *d > 0).ok_or("no duration")?;
    let per_unit = match unit.unwrap_or("DAY").trim().to_ascii_uppercase().as_str() {
        "DAY" | "DAYS" => 1,
        "MONTH" | "MONTHS" => 30,
        "YEAR" | "YEARS" => 365,
        other => return Err(format!("duration unit {other}")),
    };
    i32::try_from(duration * per_unit).map_err(|_| "duration overflows".into())
}

/// `(data_mb, throttle)`: an allowance, or unlimited (`None`) with its fair-use policy.
type Allowance = (Option<i32>, Option<(i32, i32)>);

fn allowance(p: &Package, name: &str) -> Result<Allowance, String> {
    let volume_mb = data_mb(mb_from_binary_bytes(p.volume.unwrap_or(0)));
    let daily = p.data_type.is_some_and(|t| t != 1);
    let unlimited = contains_ci(name, "unlimited");
    if !daily && !unlimited {
        return Ok((Some(volume_mb.ok_or("no data volume")?), None));
    }
    let policy = [p.fup_policy.as_deref(), p.description.as_deref()];
    let kbps = policy.into_iter().flatten().find_map(reduced_speed_kbps);
    match (volume_mb, kbps) {
        (Some(mb), Some(kbps)) => Ok((None, Some((mb, kbps)))),
        _ if unlimited => Ok((None, None)),
        _ => Err("daily allowance with a cut-off".into()),
    }
}

/// `512 kbps`, `1Mbps` in a fair-use text, as kbps.
fn reduced_speed_kbps(text: &str) -> Option<i32> {
    let lower = text.to_ascii_lowercase();
    for (unit, factor) in [("kbps", 1), ("mbps", 1000)] {
        if let Some(at) = lower.find(unit) {
            let digits: String = lower[..at]
                .trim_end()
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if let Ok(n) = digits.parse::<i32>() {
                return n.checked_mul(factor).filter(|k| *k > 0);
            }
        }
    }
    None
}

fn contains_ci(text: &str, needle: &str) -> bool {
    text.to_ascii_lowercase().contains(needle)
}

fn is_global(sku: &str, slug: &str, name: &str, countries: usize) -> bool {
    let slug = slug.to_ascii_uppercase();
    slug.starts_with("GL-")
        || slug.starts_with("GL_")
        || slug.starts_with("!GL")
        || sku.to_ascii_uppercase().starts_with("!GL")
        || name.trim_start().to_ascii_lowercase().starts_with("global")
        || countries >= GLOBAL_FROM_COUNTRIES
}

/// The words of a name before the data amount or a parenthesis.
fn region_of(name: &str) -> Option<String> {
    let words: Vec<&str> = name
        .split_whitespace()
        .take_while(|w| !w.starts_with(|c: char| c.is_ascii_digit() || c == '(' || c == '['))
        .collect();
    let region = words.join(" ");
    (!region.is_empty()).then_some(region)
}

/// An installable eSIM from a profile: `Ok(None)` until it carries an ICCID and an LPA
/// string, `Err` when they are not an eSIM's. eSIM Access ICCIDs (20 digits) carry their
/// Luhn check digit.
pub(super) fn esim(profile: &Profile) -> Result<Option<ProvisionedEsim>, InvalidEsim> {
    let parts = profile.ac.as_deref().and_then(split_lpa);
    checked_esim(
        profile.iccid.as_deref(),
        parts.as_ref().map(|(smdp, _)| smdp.as_str()),
        parts.as_ref().map(|(_, code)| code.as_str()),
        profile.esim_tran_no.clone(),
        CheckDigit::Luhn,
    )
}

/// What a profile we cannot take means: the order went through upstream, but nothing
/// of it may be stored or sold, so its outcome is unknown (reconciliation, then the
/// operator, settles it).
pub(super) fn invalid(e: &InvalidEsim) -> ProviderError {
    ProviderError::Unknown(format!(
        "eSIM Access answered a profile we cannot take: {e}"
    ))
}

/// Whether the provider withdrew the profile (nothing usable was issued).
fn withdrawn(profile: &Profile) -> bool {
    matches!(profile.esim_status.as_deref(), Some("CANCEL" | "REVOKED"))
}

/// What an order's profiles say about it: `Issued` with every usable profile once
/// `quantity` are there (or nothing more is coming), `Failed` when every profile was
/// withdrawn, `Pending` while profiles are still being allocated.
/// A profile that is complete but not an eSIM we can hand out makes the whole outcome
/// [`invalid`].
pub(super) fn outcome(
    order_no: Option<String>,
    profiles: &[Profile],
    quantity: u32,
) -> Result<OrderLookup, ProviderError> {
    let mut esims: Vec<ProvisionedEsim> = Vec::new();
    for profile in profiles.iter().filter(|p| !withdrawn(p)) {
        if let Some(esim) = esim(profile).map_err(|e| invalid(&e))? {
            esims.push(esim);
        }
    }
    let withdrawn_count = profiles.iter().filter(|p| withdrawn(p)).count();
    let settled = esims.len() + withdrawn_count;
    if esims.is_empty() && withdrawn_count > 0 && withdrawn_count == profiles.len() {
        return Ok(OrderLookup::Failed(format!(
            "the provider cancelled or revoked all {withdrawn_count} profiles"
        )));
    }
    if esims.len() >= quantity as usize || (!esims.is_empty() && settled >= quantity as usize) {
        return Ok(OrderLookup::Issued(Provisioned {
            provider_order_ref: order_no,
            esims,
        }));
    }
    Ok(OrderLookup::Pending)
}

/// Usage of one profile. An unrecognised status is [`ProviderError::Unavailable`].
pub(super) fn usage(profile: &Profile) -> Result<EsimUsage, ProviderError> {
    let status = match profile.esim_status.as_deref().unwrap_or_default() {
        "GOT_RESOURCE" | "RELEASED" => EsimStatus::Ready,
        "IN_USE" | "ENABLED" => EsimStatus::Active,
        "USED_UP" => EsimStatus::Depleted,
        "USED_EXPIRED" | "UNUSED_EXPIRED" | "CANCEL" | "REVOKED" => EsimStatus::Expired,
        other => {
            return Err(ProviderError::Unavailable(format!(
                "unrecognised eSIM status {other:?}"
            )));
        }
    };
    Ok(EsimUsage {
        status,
        data_used_mb: mb_from_binary_bytes(profile.order_usage.unwrap_or(0)),
        activated_at: timestamp(&profile.activate_time),
        expires_at: timestamp(&profile.expired_time),
        data_total_mb: data_total_mb(profile),
    })
}

/// The allowance as eSIM Access counts it now: `totalVolume` (the package's plus every
/// top-up's), in binary MB. `None` when it is not given, or for a daily allowance (sold
/// as unlimited, [`allowance`]), whose `totalVolume` is no total of the plan.
fn data_total_mb(profile: &Profile) -> Option<i64> {
    if profile.data_type.is_some_and(|t| t != 1) {
        return None;
    }
    profile
        .total_volume
        .filter(|bytes| *bytes > 0)
        .map(mb_from_binary_bytes)
}

/// A package of a top-up list (`/package/list` with `type: TOPUP`) as an offer; `None`
/// without a package code, or for a package that is not a top-up.
pub(super) fn topup_offer(p: &Package) -> Option<TopupOffer> {
    if p.kind
        .as_deref()
        .is_some_and(|k| !k.eq_ignore_ascii_case("TOPUP"))
    {
        return None;
    }
    let sku = p.package_code.as_deref().map(str::trim)?;
    let data_mb = match allowance(p, p.name.as_deref().unwrap_or(sku)) {
        Ok((data_mb, _)) => data_mb,
        Err(_) => None,
    };
    (!sku.is_empty()).then(|| TopupOffer {
        sku: sku.to_owned(),
        cost_e4: p.price.filter(|price| *price > 0),
        days: days(p.duration, p.duration_unit.as_deref()).ok(),
        data_mb,
    })
}

/// What a profile's packages say about our top-up `reference` of `sku`, asked at `now`
/// about a top-up placed at `placed_at`: `Applied` when a package carries our
/// `transactionId`; `Pending` while the top-up may still be in flight (until
/// `placed_at + window`), or while a package of `sku` applied since `placed_at − window`
/// (clock skew) carries no `transactionId` (it may be ours: nobody refunds on a guess);
/// `NotFound` otherwise.
pub(super) fn topup_outcome(
    profile: &Profile,
    reference: &str,
    sku: &str,
    placed_at: DateTime<Utc>,
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> TopupLookup {
    let packages = &profile.package_list;
    if packages
        .iter()
        .any(|p| p.transaction_id.as_deref().map(str::trim) == Some(reference))
    {
        return TopupLookup::Applied(ToppedUp {
            provider_order_ref: None,
        });
    }
    let unattributed = packages.iter().any(|p| {
        p.transaction_id
            .as_deref()
            .is_none_or(|t| t.trim().is_empty())
            && p.package_code.as_deref() == Some(sku)
            && timestamp(&p.create_time).is_none_or(|at| at + window >= placed_at)
    });
    if unattributed || now < placed_at + window {
        TopupLookup::Pending
    } else {
        TopupLookup::NotFound
    }
}

/// Whether the provider has cancelled the profile (refunding its cost to our balance).
pub(super) fn cancelled(profile: &Profile) -> bool {
    profile.esim_status.as_deref() == Some("CANCEL")
}

/// Whether the provider still takes a cancellation of the profile: never downloaded to
/// a device (`esimStatus` `GOT_RESOURCE`, `smdpStatus` `RELEASED`).
pub(super) fn cancellable(profile: &Profile) -> bool {
    profile.esim_status.as_deref() == Some("GOT_RESOURCE")
        && profile.smdp_status.as_deref() == Some("RELEASED")
}

/// Why the provider will not cancel the profile, in words a partner can read, with the
/// provider's own `details`.
pub(super) fn not_cancellable(profile: &Profile, details: &str) -> String {
    let esim_status = profile.esim_status.as_deref().unwrap_or("unknown");
    let smdp_status = profile.smdp_status.as_deref().unwrap_or("unknown");
    let why = match esim_status {
        "IN_USE" | "ENABLED" => "it is in use",
        "USED_UP" => "its data is used up",
        "USED_EXPIRED" | "UNUSED_EXPIRED" => "it has expired",
        "REVOKED" => "it was revoked",
        "GOT_RESOURCE" | "RELEASED" if smdp_status != "RELEASED" => {
            "it has been downloaded to a device"
        }
        _ => "of its state",
    };
    let mut reason = format!(
        "the eSIM cannot be cancelled: {why} (esimStatus {esim_status}, smdpStatus {smdp_status})"
    );
    if !details.trim().is_empty() {
        reason.push_str("; ");
        reason.push_str(details.trim());
    }
    reason
}

/// The newest allocation among profiles sharing a recycled ICCID (`esimTranNo` starts
/// with its allocation time, `YYMMDDhhmmss`).
pub(super) fn newest(profiles: Vec<Profile>) -> Option<Profile> {
    profiles
        .into_iter()
        .max_by(|a, b| a.esim_tran_no.cmp(&b.esim_tran_no))
}

/// A time-window bound as the query takes it.
pub(super) fn query_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_the_words_before_the_data_amount() {
        assert_eq!(region_of("Europe 3GB 15Days").as_deref(), Some("Europe"));
        assert_eq!(
            region_of("North America 1GB 7Days").as_deref(),
            Some("North America")
        );
        assert_eq!(
            region_of("Asia (12 areas) 1GB 7Days").as_deref(),
            Some("Asia")
        );
        assert_eq!(region_of("5GB 30Days"), None);
    }

    #[test]
    fn reduced_speeds_are_read_from_fair_use_texts() {
        assert_eq!(reduced_speed_kbps("512 kbps after 2GB/day"), Some(512));
        assert_eq!(reduced_speed_kbps("then 1Mbps"), Some(1000));
        assert_eq!(reduced_speed_kbps("no throttling"), None);
    }

    #[test]
    fn months_are_thirty_days_and_unknown_units_are_refused() {
        assert_eq!(days(Some(7), Some("DAY")), Ok(7));
        assert_eq!(days(Some(1), Some("MONTH")), Ok(30));
        assert!(days(Some(3), Some("HOUR")).is_err());
        assert!(days(None, Some("DAY")).is_err());
    }
}
