//! The catalog: `GET /api/esim/packages` per geography, page by page, and its country
//! groups normalised into [`UpstreamPackage`]s.

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

use super::mapping::{UNLIMITED_MB, non_empty};
use super::wire::{CountryGroup, Package, PackagesData, Throttle};
use super::{Roamify, decode, envelope};
use crate::provider::normalize::{MB_PER_GB, data_mb, e4_from_amount};
use crate::provider::upstream::{Call, Turn};
use crate::provider::{Listing, ProviderError, UpstreamCountry, UpstreamPackage};

/// The catalog's parts: one paged listing per geography.
const GEOGRAPHIES: [&str; 3] = ["local", "regional", "global"];
/// The `pageSize` we ask for: Roamify's default, as it documents no maximum.
const PAGE_SIZE: usize = 50;
/// The most pages read of one geography (5,000 groups; Roamify sells some 200 countries),
/// a stop for an upstream that never sends a short page.
const MAX_PAGES: u32 = 100;

/// What a full or short page means for the next one.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// The page was full: ask for the next.
    Page,
    /// Fewer groups than `pageSize`: the listing is complete.
    Done,
    /// The page was full but is the last we read ([`MAX_PAGES`]): stop, warned.
    Bound,
}

/// Roamify's rule: pages are read until one returns fewer results (country groups) than
/// the `pageSize` asked for; within [`MAX_PAGES`].
fn after_page(page: u32, groups: usize) -> Next {
    if groups < PAGE_SIZE {
        Next::Done
    } else if page >= MAX_PAGES {
        Next::Bound
    } else {
        Next::Page
    }
}

impl Roamify {
    /// Every package: each geography read page by page, `page` and `pageSize` on every
    /// request. A package listed twice is kept once. A page that repeats one already read
    /// (an upstream ignoring `page`) ends that geography's listing with a warning, as
    /// does a full page at [`MAX_PAGES`]; what was read is kept, and the listing says
    /// it may be incomplete.
    pub(super) async fn catalog(&self) -> Result<Listing, ProviderError> {
        let mut seen = HashSet::new();
        let mut packages = Vec::new();
        let mut incomplete = Vec::new();
        let page_size = PAGE_SIZE.to_string();
        let limit = self.config.body_limits.catalog;
        for geography in GEOGRAPHIES {
            // The groups of each page read, as sent, to tell a repeated page.
            let mut read = HashSet::new();
            for page in 1..=MAX_PAGES {
                let number = page.to_string();
                let query = [
                    ("geography", geography),
                    ("page", number.as_str()),
                    ("pageSize", page_size.as_str()),
                ];
                let answer = self
                    .get_capped("/api/esim/packages", &query, Turn::Read, limit)
                    .await?;
                let data = envelope(&answer, Call::Read)?.data;
                if !read.insert(data["packages"].to_string()) {
                    tracing::warn!(
                        geography,
                        page,
                        "roamify answered a catalog page with one already read; paging stopped"
                    );
                    incomplete.push(format!("{geography} page {page} repeated one already read"));
                    break;
                }
                let data: PackagesData = decode(data, Call::Read)?;
                for group in &data.packages {
                    for package in packages_of(group, geography) {
                        if seen.insert(package.sku.clone()) {
                            packages.push(package);
                        }
                    }
                }
                match after_page(page, data.packages.len()) {
                    Next::Page => {}
                    Next::Done => break,
                    Next::Bound => {
                        tracing::warn!(
                            geography,
                            page,
                            "roamify's catalog page was full at our page limit; \
                             later pages are left out"
                        );
                        incomplete.push(format!(
                            "{geography} page {page} was full at the {MAX_PAGES}-page limit"
                        ));
                        break;
                    }
                }
            }
        }
        Ok(Listing {
            packages,
            incomplete: (!incomplete.is_empty())
                .then(|| format!("roamify's paging stopped early: {}", incomplete.join("; "))),
        })
    }
}

/// The packages of one catalog group. `geography` is what the request asked for, used when
/// the group does not say. Packages we cannot read (no id, top-up only, no allowance on
/// a limited plan) are left out with a warning.
fn packages_of(group: &CountryGroup, geography: &str) -> Vec<UpstreamPackage> {
    let geography = group
        .geography
        .as_deref()
        .unwrap_or(geography)
        .trim()
        .to_ascii_lowercase();
    let global = geography == "global";
    let countries = countries_of(group, geography == "local");
    // A regional group is named after its region (`Europe`, `Balkans`); `region` is the
    // continent it is filed under, the fallback.
    let region = (geography == "regional")
        .then(|| non_empty(&group.country_name).or_else(|| non_empty(&group.region)))
        .flatten();
    let networks = collect(group.signals.iter().flat_map(|s| &s.networks));
    let carriers = collect(group.signals.iter().flat_map(|s| &s.carriers));
    group
        .packages
        .iter()
        .filter_map(|p| {
            let package = package_of(p, &countries, region.clone(), global)?;
            Some(UpstreamPackage {
                networks: networks.clone(),
                carriers: carriers.clone(),
                ..package
            })
        })
        .collect()
}

fn package_of(
    p: &Package,
    countries: &[UpstreamCountry],
    region: Option<String>,
    global: bool,
) -> Option<UpstreamPackage> {
    let sku = non_empty(&p.package_id)?;
    let top_up_only = [&p.kind, &p.plan].into_iter().flatten().any(|kind| {
        let kind = kind.to_ascii_lowercase().replace(['-', '_', ' '], "");
        kind == "topup"
    });
    if top_up_only {
        return None;
    }
    let amount = p.data_amount.as_f64().or_else(|| {
        p.data_amount
            .as_str()
            .and_then(|s| s.trim().parse::<f64>().ok())
    });
    let unlimited = p.is_unlimited == Some(true) || amount.is_some_and(|a| a >= UNLIMITED_MB);
    let data = if unlimited {
        None
    } else {
        let per_unit = match p.data_unit.as_deref().map(str::to_ascii_uppercase) {
            Some(unit) if unit == "GB" => MB_PER_GB as f64,
            _ => 1.0,
        };
        let mb = amount.and_then(|a| data_mb((a * per_unit).round() as i64));
        if mb.is_none() {
            tracing::warn!(sku, "roamify package without a data allowance; left out");
            return None;
        }
        mb
    };
    Some(UpstreamPackage {
        name: non_empty(&p.package).unwrap_or_else(|| sku.clone()),
        countries: countries.to_vec(),
        region,
        global,
        days: p
            .day
            .and_then(|d| i32::try_from(d).ok())
            .unwrap_or_default(),
        data_mb: data,
        // No price makes 0, which `catalog sync` reports as skipped ("no price").
        cost_e4: e4_from_amount(&p.price).unwrap_or_default(),
        currency: non_empty(&p.currency)
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_else(|| "USD".into()),
        networks: Vec::new(),
        carriers: Vec::new(),
        hotspot: p.with_hotspot,
        top_up: p.with_top_up,
        throttle: (p.with_throttle != Some(false))
            .then(|| p.throttle.as_ref().and_then(throttle_of))
            .flatten(),
        sku,
    })
}

/// A local group covers its own country; regional and global groups the countries of
/// their `signals`. Codes that are not ISO alpha-2 are dropped.
fn countries_of(group: &CountryGroup, local: bool) -> Vec<UpstreamCountry> {
    let own = non_empty(&group.country_code).map(|code| (code, group.country_name.clone()));
    let listed = group
        .signals
        .iter()
        .filter_map(|s| non_empty(&s.code).map(|code| (code, s.name.clone())));
    let candidates: Vec<(String, Option<String>)> = match own {
        Some(own) if local => vec![own],
        _ => listed.collect(),
    };
    let mut seen = BTreeSet::new();
    let mut countries: Vec<UpstreamCountry> = candidates
        .into_iter()
        .filter_map(|(code, name)| {
            let code = code.trim().to_ascii_uppercase();
            let alpha2 = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
            (alpha2 && seen.insert(code.clone())).then(|| UpstreamCountry {
                name: non_empty(&name).unwrap_or_else(|| code.clone()),
                code,
            })
        })
        .collect();
    countries.sort();
    countries
}

/// Full-speed MB then kbps. `gb` thresholds are binary GB; `mbps` speeds are ×1000.
fn throttle_of(t: &Throttle) -> Option<(i32, i32)> {
    let number = |v: &Value| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok());
    let unit = |u: &Option<String>| u.as_deref().unwrap_or("").trim().to_ascii_lowercase();
    let threshold = number(&t.throttle_threshold)?
        * match unit(&t.throttle_threshold_unit).as_str() {
            "gb" => MB_PER_GB as f64,
            "mb" | "" => 1.0,
            _ => return None,
        };
    let speed = number(&t.throttle_speed)?
        * match unit(&t.throttle_speed_unit).as_str() {
            "kbps" | "" => 1.0,
            "mbps" => 1000.0,
            _ => return None,
        };
    Some((
        data_mb(threshold.round() as i64)?,
        data_mb(speed.round() as i64)?,
    ))
}

fn collect<'a>(values: impl Iterator<Item = &'a String>) -> Vec<String> {
    let set: BTreeSet<String> = values
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_page_is_the_last_and_a_full_one_asks_for_the_next_up_to_the_bound() {
        assert_eq!(after_page(1, PAGE_SIZE), Next::Page);
        assert_eq!(after_page(2, PAGE_SIZE - 1), Next::Done);
        assert_eq!(after_page(1, 0), Next::Done);
        // An upstream ignoring `pageSize` with a longer page is still followed.
        assert_eq!(after_page(3, PAGE_SIZE + 1), Next::Page);
        assert_eq!(after_page(MAX_PAGES - 1, PAGE_SIZE), Next::Page);
        assert_eq!(after_page(MAX_PAGES, PAGE_SIZE), Next::Bound);
        assert_eq!(after_page(MAX_PAGES, 20), Next::Done);
    }
}
