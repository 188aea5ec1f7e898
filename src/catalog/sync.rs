//! `tavaro catalog sync --provider NAME`: the provider's own package list becomes our
//! plans. Each package is mapped onto our countries and regions (creating the ones we do
//! not have yet), priced as the provider's cost plus a margin, and upserted by the
//! provider's package code. Running it twice changes nothing the second time. Packages the
//! provider no longer sells are deactivated, never deleted (orders reference them).
//!
//! Guards against a broken listing, which would otherwise take the provider's plans off
//! sale:
//! - **Shrink**: a sync that would withdraw more than half of the provider's synced plans
//!   on sale ([`MAX_WITHDRAWN_SHARE`]), or that finds nothing to sell, is refused and
//!   changes nothing, unless the operator says the shrink is real
//!   ([`SyncOptions::allow_shrink`], `--allow-shrink`).
//! - **Incomplete listings**: when the adapter says its listing may be missing packages
//!   ([`Listing::incomplete`], a paging guard tripped), nothing is withdrawn; what was
//!   listed is still added and updated.
//! - **Area codes**: a region's code never files its plans under a country (or any area
//!   of another geography) that has the same code: it takes a free code instead
//!   (`EU` → `EUREGION`). A package whose country code is some region's code is skipped.

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::CATALOG_CHANNEL;
use crate::provider::normalize::printable;
use crate::provider::{Listing, Provider, UpstreamPackage};

/// The most of a provider's synced plans on sale one sync may withdraw without
/// `--allow-shrink`: half (numerator, denominator). More means the listing is broken far
/// more often than that the provider withdrew most of its catalogue at once.
pub const MAX_WITHDRAWN_SHARE: (usize, usize) = (1, 2);

/// Longest area code (the `country` filter of `GET /v1/packages` takes 16 letters).
const MAX_AREA_CODE: usize = 16;

/// How a sync runs.
#[derive(Clone, Copy, Debug)]
pub struct SyncOptions {
    /// Margin over the provider's cost in basis points (2000 = 20%).
    pub margin_bps: i32,
    /// Withdraw what the provider no longer lists even when that is most of its plans,
    /// or everything (`--allow-shrink`).
    pub allow_shrink: bool,
}

/// What a sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Packages the provider listed.
    pub fetched: usize,
    /// Plans created.
    pub added: usize,
    /// Plans whose terms, price or coverage changed (or that were re-activated).
    pub updated: usize,
    /// Plans left as they were.
    pub unchanged: usize,
    /// Plans the provider dropped, now off sale.
    pub deactivated: usize,
    /// Packages not imported, with why.
    pub skipped: Vec<String>,
    /// Why the listing may be incomplete, when the adapter said so: then no plan was
    /// deactivated.
    pub incomplete: Option<String>,
}

/// A plan as the sync would write it; compared field by field with what is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Draft {
    name: String,
    area_code: String,
    days: i32,
    data_mb: Option<i32>,
    net_price_cents: i64,
    hotspot: bool,
    top_up: bool,
    networks: Vec<String>,
    carriers: Vec<String>,
    throttle_after_mb: Option<i32>,
    throttle_speed_kbps: Option<i32>,
    provider_cost_e4: Option<i64>,
    active: bool,
    coverage: Vec<String>,
}

/// An area the sync needs: a country, or a region of the package's countries.
#[derive(Debug)]
struct AreaNeed {
    code: String,
    name: String,
    geography: &'static str,
    members: BTreeSet<String>,
}

/// Pulls `provider`'s packages and writes them as plans priced at cost + `margin_bps`
/// (2000 = 20%), refusing a sharp shrink ([`sync_with`] with the default options).
pub async fn sync(
    db: &PgPool,
    provider: &dyn Provider,
    margin_bps: i32,
) -> anyhow::Result<SyncReport> {
    let options = SyncOptions {
        margin_bps,
        allow_shrink: false,
    };
    sync_with(db, provider, options).await
}

/// Pulls `provider`'s packages and writes them as plans as `options` say. One
/// transaction; running servers reload their catalog afterwards. A refused shrink is an
/// error that changed nothing.
pub async fn sync_with(
    db: &PgPool,
    provider: &dyn Provider,
    options: SyncOptions,
) -> anyhow::Result<SyncReport> {
    let name = provider.name();
    let Listing {
        packages,
        incomplete,
    } = provider
        .listing()
        .await
        .map_err(crate::provider::ProviderError::printable)
        .with_context(|| format!("cannot list {name}'s packages"))?;
    let mut report = SyncReport {
        fetched: packages.len(),
        incomplete: incomplete.map(|why| printable(&why)),
        ..SyncReport::default()
    };

    let mut tx = db.begin().await?;
    // Serialised with `catalog import`: one catalog writer at a time.
    sqlx::query!("select pg_advisory_xact_lock(hashtext('tavaro_catalog_import'))")
        .execute(&mut *tx)
        .await?;

    // The geography of every area code taken, ours and this listing's, so a region's
    // code never lands on a country's (or the other way round).
    let mut taken: HashMap<String, &'static str> =
        sqlx::query!("select code, geography from areas")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| (r.code, geography(&r.geography)))
            .collect();

    let mut drafts: Vec<(String, Draft)> = Vec::new();
    let mut areas: HashMap<String, AreaNeed> = HashMap::new();
    let mut seen = HashSet::new();
    for package in &packages {
        let sku = printable(&package.sku);
        let (mut draft, mut needs) = match draft(package, options.margin_bps) {
            Ok(drafted) => drafted,
            Err(why) => {
                report.skipped.push(format!("{sku}: {why}"));
                continue;
            }
        };
        if !seen.insert(package.sku.clone()) {
            report.skipped.push(format!("{sku}: listed twice"));
            continue;
        }
        if let Some(clash) = needs
            .iter()
            .find(|n| n.geography == "local" && taken.get(&n.code).is_some_and(|g| *g != "local"))
        {
            report.skipped.push(format!(
                "{sku}: country code `{}` is the code of a region",
                clash.code
            ));
            continue;
        }
        for need in &mut needs {
            if need.geography != "local" {
                let code = free_code(&need.code, need.geography, &taken);
                // A package has at most one area beyond its countries: the plan's own.
                draft.area_code.clone_from(&code);
                need.code = code;
            }
        }
        for need in needs {
            taken.entry(need.code.clone()).or_insert(need.geography);
            areas
                .entry(need.code.clone())
                .and_modify(|a| a.members.extend(need.members.iter().cloned()))
                .or_insert(need);
        }
        drafts.push((package.sku.clone(), draft));
    }

    let listed: HashSet<&str> = drafts.iter().map(|(sku, _)| sku.as_str()).collect();
    let on_sale = sqlx::query_scalar!(
        r#"select provider_sku as "sku!" from plans
           where provider = $1 and synced_at is not null and active and provider_sku is not null"#,
        name,
    )
    .fetch_all(&mut *tx)
    .await?;
    let withdrawn = on_sale
        .iter()
        .filter(|sku| !listed.contains(sku.as_str()))
        .count();
    let (num, den) = MAX_WITHDRAWN_SHARE;
    if report.incomplete.is_none() && !options.allow_shrink {
        if drafts.is_empty() {
            bail!(
                "refusing to sync {name}: it listed {} packages and none can be sold, which would withdraw all {} of its plans on sale; nothing was changed (run again with --allow-shrink if the provider really sells nothing)",
                report.fetched,
                on_sale.len()
            );
        }
        if withdrawn * den > on_sale.len() * num {
            bail!(
                "refusing to sync {name}: {withdrawn} of its {} plans on sale are missing from its listing of {} packages (more than {num}/{den}); nothing was changed (run again with --allow-shrink if the provider really dropped them)",
                on_sale.len(),
                report.fetched
            );
        }
    }

    // Countries before regions: a region's members must exist first.
    let mut ordered: Vec<&AreaNeed> = areas.values().collect();
    ordered.sort_by_key(|a| (a.geography != "local", a.code.clone()));
    for area in &ordered {
        sqlx::query!(
            "insert into areas (code, name, geography) values ($1, $2, $3)
             on conflict (code) do nothing",
            area.code,
            area.name,
            area.geography,
        )
        .execute(&mut *tx)
        .await?;
    }
    for area in ordered {
        if area.geography != "local" {
            let members: Vec<String> = area.members.iter().cloned().collect();
            sqlx::query!(
                "insert into area_countries (area_code, country_code)
                 select $1, unnest($2::text[]) on conflict do nothing",
                area.code,
                &members,
            )
            .execute(&mut *tx)
            .await?;
        }
    }

    let stored = sqlx::query!(
        r#"select p.id, p.provider_sku as "sku!", p.name, p.area_code, p.days, p.data_mb,
                  p.net_price_cents, p.hotspot, p.top_up, p.networks, p.carriers,
                  p.throttle_after_mb, p.throttle_speed_kbps, p.provider_cost_e4, p.active,
                  array(select c.country_code from plan_coverage c where c.plan_id = p.id
                        order by c.country_code) as "coverage!"
           from plans p where p.provider = $1 and p.provider_sku is not null"#,
        name,
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| {
        let draft = Draft {
            name: r.name,
            area_code: r.area_code,
            days: r.days,
            data_mb: r.data_mb,
            net_price_cents: r.net_price_cents,
            hotspot: r.hotspot,
            top_up: r.top_up,
            networks: r.networks,
            carriers: r.carriers,
            throttle_after_mb: r.throttle_after_mb,
            throttle_speed_kbps: r.throttle_speed_kbps,
            provider_cost_e4: r.provider_cost_e4,
            active: r.active,
            coverage: r.coverage,
        };
        (r.sku, (r.id, draft))
    })
    .collect::<HashMap<_, _>>();

    let mut ids_taken: HashSet<String> = sqlx::query_scalar!("select id from plans")
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    for (sku, draft) in &drafts {
        let id = match stored.get(sku) {
            Some((_, current)) if current == draft => {
                report.unchanged += 1;
                continue;
            }
            Some((id, _)) => {
                report.updated += 1;
                id.clone()
            }
            None => {
                report.added += 1;
                let id = plan_id(name, sku, &ids_taken);
                ids_taken.insert(id.clone());
                id
            }
        };
        write_plan(&mut tx, name, sku, &id, draft).await?;
    }

    if let Some(why) = &report.incomplete {
        // Plans missing from an incomplete listing may still be sold upstream: kept.
        tracing::warn!(
            provider = name,
            why,
            "listing incomplete; no plan withdrawn"
        );
    } else {
        let skus: Vec<String> = drafts.iter().map(|(sku, _)| sku.clone()).collect();
        report.deactivated = sqlx::query!(
            "update plans set active = false, updated_at = now()
             where provider = $1 and synced_at is not null and active and provider_sku <> all($2)",
            name,
            &skus,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected() as usize;
    }

    sqlx::query!("select pg_notify($1, '')", CATALOG_CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(report)
}

/// An area's stored geography as one of the three the schema allows.
fn geography(stored: &str) -> &'static str {
    match stored {
        "local" => "local",
        "global" => "global",
        _ => "regional",
    }
}

/// `wanted` if no area of another geography has it, else the first free of
/// `<wanted>REGION`, `<wanted>REGIONA`, `<wanted>REGIONB`, … (cut to 16 letters). An
/// area of the same geography under the same code is the same area (Airalo's and
/// Roamify's `Europe` are one region).
fn free_code(wanted: &str, geography: &str, taken: &HashMap<String, &'static str>) -> String {
    let free = |code: &str| taken.get(code).is_none_or(|g| *g == geography);
    if free(wanted) {
        return wanted.to_owned();
    }
    let suffixes =
        std::iter::once(String::new()).chain((b'A'..=b'Z').map(|c| char::from(c).to_string()));
    for suffix in suffixes {
        let suffix = format!("REGION{suffix}");
        let keep = MAX_AREA_CODE.saturating_sub(suffix.len()).min(wanted.len());
        let code = format!("{}{suffix}", &wanted[..keep]);
        if free(&code) {
            return code;
        }
    }
    // 27 codes of other geographies in a row: the hash keeps the code unique.
    let hash = hex::encode(&Sha256::digest(wanted.as_bytes())[..4]).to_ascii_uppercase();
    hash.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                (b'G' + (c as u8 - b'0')) as char
            } else {
                c
            }
        })
        .collect()
}

async fn write_plan(
    tx: &mut sqlx::PgConnection,
    provider: &str,
    sku: &str,
    id: &str,
    d: &Draft,
) -> Result<(), sqlx::Error> {
    let throttle_description = d
        .throttle_after_mb
        .zip(d.throttle_speed_kbps)
        .map(|(after, kbps)| format!("Full speed for the first {after} MB, then {kbps} kbps"));
    sqlx::query!(
        "insert into plans (id, name, area_code, days, data_mb, net_price_cents, activation,
                            hotspot, data_roaming, top_up, networks, carriers,
                            throttle_after_mb, throttle_speed_kbps, throttle_description,
                            active, provider, provider_sku, provider_cost_e4, synced_at)
         values ($1, $2, $3, $4, $5, $6, 'first-use', $7, true, $8, $9, $10, $11, $12, $13,
                 true, $14, $15, $16, now())
         on conflict (id) do update set
           name = excluded.name, area_code = excluded.area_code, days = excluded.days,
           data_mb = excluded.data_mb, net_price_cents = excluded.net_price_cents,
           hotspot = excluded.hotspot, top_up = excluded.top_up,
           networks = excluded.networks, carriers = excluded.carriers,
           throttle_after_mb = excluded.throttle_after_mb,
           throttle_speed_kbps = excluded.throttle_speed_kbps,
           throttle_description = excluded.throttle_description,
           provider_cost_e4 = excluded.provider_cost_e4,
           active = true, synced_at = now(), updated_at = now()",
        id,
        d.name,
        d.area_code,
        d.days,
        d.data_mb,
        d.net_price_cents,
        d.hotspot,
        d.top_up,
        &d.networks,
        &d.carriers,
        d.throttle_after_mb,
        d.throttle_speed_kbps,
        throttle_description,
        provider,
        sku,
        d.provider_cost_e4,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("delete from plan_coverage where plan_id = $1", id)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "insert into plan_coverage (plan_id, country_code) select $1, unnest($2::text[])",
        id,
        &d.coverage,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Maps one package onto a plan and the areas it needs; `Err` says why it is skipped.
fn draft(p: &UpstreamPackage, margin_bps: i32) -> Result<(Draft, Vec<AreaNeed>), String> {
    if p.currency != "USD" {
        return Err(format!("priced in {}, not USD", p.currency));
    }
    if p.countries.is_empty() {
        return Err("covers no country".into());
    }
    if !(1..=365).contains(&p.days) {
        return Err(format!("validity of {} days", p.days));
    }
    if p.cost_e4 <= 0 {
        return Err("no price".into());
    }
    if let Some(bad) = p
        .countries
        .iter()
        .find(|c| c.code.len() != 2 || !c.code.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(format!("country code `{}` is not ISO alpha-2", bad.code));
    }
    // Cost × (1 + margin) in 1/10,000 cents, rounded up to the cent once, at the end: a
    // truncation in between could price a plan a cent below cost plus margin.
    let scaled = i128::from(p.cost_e4) * i128::from(10_000 + margin_bps);
    let net_price_cents =
        i64::try_from((scaled + 999_999).div_euclid(1_000_000)).map_err(|_| "price overflows")?;

    let mut needs: Vec<AreaNeed> = p
        .countries
        .iter()
        .map(|c| AreaNeed {
            code: c.code.clone(),
            name: c.name.clone(),
            geography: "local",
            members: BTreeSet::new(),
        })
        .collect();
    let coverage: BTreeSet<String> = p.countries.iter().map(|c| c.code.clone()).collect();
    let area_code = if coverage.len() == 1 && !p.global {
        p.countries[0].code.clone()
    } else {
        let (code, name, geography) = match (&p.region, p.global) {
            (_, true) => ("GLOBAL".to_owned(), "Global".to_owned(), "global"),
            (Some(region), false) => (region_code(region), region.clone(), "regional"),
            (None, false) => ("MULTI".to_owned(), "Multi-country".to_owned(), "regional"),
        };
        needs.push(AreaNeed {
            code: code.clone(),
            name,
            geography,
            members: coverage.clone(),
        });
        code
    };
    let (throttle_after_mb, throttle_speed_kbps) = match p.throttle {
        Some((after, kbps)) if after > 0 && kbps > 0 => (Some(after), Some(kbps)),
        _ => (None, None),
    };
    let draft = Draft {
        name: p.name.clone(),
        area_code,
        days: p.days,
        data_mb: p.data_mb,
        net_price_cents,
        hotspot: p.hotspot.unwrap_or(true),
        top_up: p.top_up.unwrap_or(false),
        networks: sorted(&p.networks),
        carriers: sorted(&p.carriers),
        throttle_after_mb,
        throttle_speed_kbps,
        provider_cost_e4: Some(p.cost_e4),
        active: true,
        coverage: coverage.into_iter().collect(),
    };
    Ok((draft, needs))
}

fn sorted(values: &[String]) -> Vec<String> {
    let set: BTreeSet<&String> = values.iter().collect();
    set.into_iter().cloned().collect()
}

/// `Europe` → `EUROPE`, `Middle East & North Africa` → `MIDDLEEASTNORTHAFRICA`: area codes
/// are upper-case letters.
fn region_code(name: &str) -> String {
    let code: String = name
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_uppercase())
        .take(16)
        .collect();
    if code.is_empty() {
        "MULTI".into()
    } else {
        code
    }
}

/// `airalo` + `meraki-mobile-7days-1gb` → `airalo-meraki-mobile-7days-1gb`: lower case,
/// `[a-z0-9-]`, at most 64 characters; a short hash of the code is appended when the
/// result is too long or already taken by another plan.
fn plan_id(provider: &str, sku: &str, taken: &HashSet<String>) -> String {
    let mut slug = String::new();
    for c in sku.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let base = format!("{provider}-{}", slug.trim_matches('-'));
    if base.len() <= 64 && !taken.contains(&base) {
        return base;
    }
    let hash = hex::encode(&Sha256::digest(sku.as_bytes())[..4]);
    let mut cut = base;
    cut.truncate(64 - 9);
    format!("{}-{hash}", cut.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::UpstreamCountry;

    fn package(sku: &str, countries: &[&str]) -> UpstreamPackage {
        UpstreamPackage {
            sku: sku.into(),
            name: sku.into(),
            countries: countries
                .iter()
                .map(|c| UpstreamCountry {
                    code: (*c).into(),
                    name: (*c).into(),
                })
                .collect(),
            region: Some("Europe".into()),
            global: false,
            days: 7,
            data_mb: Some(1024),
            cost_e4: 45_000,
            currency: "USD".into(),
            networks: vec!["5G".into(), "4G".into(), "4G".into()],
            carriers: vec![],
            hotspot: None,
            top_up: None,
            throttle: None,
        }
    }

    #[test]
    fn a_package_is_priced_at_cost_plus_margin_rounded_up_to_the_cent() {
        let (d, _) = draft(&package("x", &["FR"]), 2000).unwrap();
        assert_eq!(d.net_price_cents, 540);
        assert_eq!(d.area_code, "FR");
        assert_eq!(d.networks, vec!["4G", "5G"]);
        let mut odd = package("y", &["FR"]);
        odd.cost_e4 = 12_345;
        assert_eq!(draft(&odd, 0).unwrap().0.net_price_cents, 124);
    }

    #[test]
    fn a_price_is_rounded_up_to_the_cent_once_at_the_end() {
        // 1.1584 × 1.2 = 1.39008 USD: 140 ¢, never the 139 ¢ a truncation first gives.
        let mut odd = package("z", &["FR"]);
        odd.cost_e4 = 11_584;
        assert_eq!(draft(&odd, 2000).unwrap().0.net_price_cents, 140);
        odd.cost_e4 = 12_500;
        assert_eq!(
            draft(&odd, 2000).unwrap().0.net_price_cents,
            150,
            "exact stays"
        );
        odd.cost_e4 = 1;
        assert_eq!(draft(&odd, 0).unwrap().0.net_price_cents, 1);
    }

    #[test]
    fn a_region_code_taken_by_another_geography_becomes_a_free_one() {
        let taken = HashMap::from([
            ("EU".to_owned(), "local"),
            ("EUREGION".to_owned(), "local"),
            ("EUROPE".to_owned(), "regional"),
            ("GLOBAL".to_owned(), "global"),
        ]);
        assert_eq!(free_code("EUROPE", "regional", &taken), "EUROPE");
        assert_eq!(free_code("ASIA", "regional", &taken), "ASIA");
        assert_eq!(free_code("EU", "regional", &taken), "EUREGIONA");
        assert_eq!(free_code("GLOBAL", "regional", &taken), "GLOBALREGION");
        let long = free_code("MIDDLEEASTAFRICA", "global", &taken);
        assert_eq!(long, "MIDDLEEASTAFRICA");
        let taken = HashMap::from([("MIDDLEEASTAFRICA".to_owned(), "local")]);
        let renamed = free_code("MIDDLEEASTAFRICA", "regional", &taken);
        assert_eq!(renamed, "MIDDLEEASTREGION");
        assert!(renamed.len() <= MAX_AREA_CODE);
    }

    #[test]
    fn a_multi_country_package_is_sold_in_its_region_and_covers_each_country() {
        let (d, needs) = draft(&package("eu", &["FR", "DE"]), 0).unwrap();
        assert_eq!(d.area_code, "EUROPE");
        assert_eq!(d.coverage, vec!["DE", "FR"]);
        let region = needs.iter().find(|n| n.code == "EUROPE").unwrap();
        assert_eq!(region.geography, "regional");
        assert_eq!(region.members.len(), 2);
    }

    #[test]
    fn packages_we_cannot_sell_are_skipped_with_a_reason() {
        let mut eur = package("e", &["FR"]);
        eur.currency = "EUR".into();
        assert!(draft(&eur, 0).unwrap_err().contains("EUR"));
        assert!(draft(&package("n", &[]), 0).is_err());
        assert!(draft(&package("l", &["fra"]), 0).is_err());
    }

    #[test]
    fn plan_ids_are_slugs_and_never_collide() {
        let taken = HashSet::from(["airalo-a-b".to_owned()]);
        assert_eq!(
            plan_id("esimgo", "esim_1GB_7D_NL_V2", &taken),
            "esimgo-esim-1gb-7d-nl-v2"
        );
        let other = plan_id("airalo", "a_b", &taken);
        assert!(
            other.starts_with("airalo-a-b-") && other.len() <= 64,
            "{other}"
        );
        assert!(plan_id("x", &"y".repeat(100), &HashSet::new()).len() <= 64);
    }
}
