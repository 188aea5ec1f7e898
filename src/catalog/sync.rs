//! `tavaro catalog sync --provider NAME`: the provider's own package list becomes our
//! plans. Each package is mapped onto our countries and regions (creating the ones we do
//! not have yet), priced as the provider's cost plus a margin, and upserted by the
//! provider's package code. Running it twice changes nothing the second time. Packages the
//! provider no longer sells are deactivated, never deleted (orders reference them).

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::Context;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::CATALOG_CHANNEL;
use crate::provider::normalize::cents_from_e4_ceil;
use crate::provider::{Provider, UpstreamPackage};

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
/// (2000 = 20%). One transaction; running servers reload their catalog afterwards.
pub async fn sync(
    db: &PgPool,
    provider: &dyn Provider,
    margin_bps: i32,
) -> anyhow::Result<SyncReport> {
    let name = provider.name();
    let packages = provider
        .packages()
        .await
        .with_context(|| format!("cannot list {name}'s packages"))?;
    let mut report = SyncReport {
        fetched: packages.len(),
        ..SyncReport::default()
    };

    let mut drafts: Vec<(String, Draft)> = Vec::new();
    let mut areas: HashMap<String, AreaNeed> = HashMap::new();
    let mut seen = HashSet::new();
    for package in &packages {
        match draft(package, margin_bps) {
            Ok((draft, needs)) if seen.insert(package.sku.clone()) => {
                for need in needs {
                    areas
                        .entry(need.code.clone())
                        .and_modify(|a| a.members.extend(need.members.iter().cloned()))
                        .or_insert(need);
                }
                drafts.push((package.sku.clone(), draft));
            }
            Ok(_) => report
                .skipped
                .push(format!("{}: listed twice", package.sku)),
            Err(why) => report.skipped.push(format!("{}: {why}", package.sku)),
        }
    }

    let mut tx = db.begin().await?;
    // Serialised with `catalog import`: one catalog writer at a time.
    sqlx::query!("select pg_advisory_xact_lock(hashtext('tavaro_catalog_import'))")
        .execute(&mut *tx)
        .await?;

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

    sqlx::query!("select pg_notify($1, '')", CATALOG_CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(report)
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
    let net = i128::from(p.cost_e4) * i128::from(10_000 + margin_bps) / 10_000;
    let net_price_cents = cents_from_e4_ceil(i64::try_from(net).map_err(|_| "price overflows")?);

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
