//! `tavaro catalog import FILE`: loads or updates the catalog from a JSON file, in one
//! transaction, idempotently. Areas and plans are upserted by code and id; plans missing
//! from the file stop selling (orders still reference them); coverage is replaced. Running
//! servers are notified and swap in the new snapshot.
//!
//! The format (see `catalog/demo.json`): `countries` (`code`, `name`, `networks`,
//! `carriers`), `regions` (`code`, `name`, `geography`, `countries`) and `plans` (`id`,
//! `name`, `country`, `days`, `dataMb` or null for unlimited, `netPriceCents`,
//! `activation`, `hotspot`, `dataRoaming`, `topUp`, `networks`, `carriers`, `throttle`,
//! optional `coverage`). Unknown fields are refused.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, bail, ensure};
use serde::Deserialize;
use sqlx::PgPool;

use super::{CATALOG_CHANNEL, Geography};
use crate::provider::{PROVIDER_NAMES, SIMULATOR};

/// The catalog file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// Countries.
    pub countries: Vec<CountryEntry>,
    /// Regions and the global area.
    pub regions: Vec<RegionEntry>,
    /// Plans.
    pub plans: Vec<PlanEntry>,
}

/// A country in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryEntry {
    /// ISO 3166-1 alpha-2 code.
    pub code: String,
    /// English name.
    pub name: String,
    /// Radio networks.
    pub networks: Vec<String>,
    /// Carriers.
    pub carriers: Vec<String>,
}

/// A region (or the global area) in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionEntry {
    /// Region code (`EU`, `ASIA`, `GLOBAL`).
    pub code: String,
    /// English name.
    pub name: String,
    /// `regional` or `global`.
    pub geography: Geography,
    /// Member country codes.
    pub countries: Vec<String>,
}

/// A plan in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PlanEntry {
    /// Plan id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Country or region code it is sold in.
    pub country: String,
    /// Validity in days.
    pub days: i32,
    /// Data in MB; null for unlimited.
    pub data_mb: Option<i32>,
    /// Net price in cents.
    pub net_price_cents: i64,
    /// Activation policy.
    pub activation: String,
    /// Tethering.
    pub hotspot: bool,
    /// Roaming.
    pub data_roaming: bool,
    /// Top-ups.
    pub top_up: bool,
    /// Networks.
    pub networks: Vec<String>,
    /// Carriers.
    pub carriers: Vec<String>,
    /// Fair-use policy (required for unlimited plans).
    pub throttle: Option<ThrottleEntry>,
    /// Countries covered; defaults to the country itself, or all of a region's members.
    #[serde(default)]
    pub coverage: Option<Vec<String>>,
    /// The provider that fulfils it (default `simulator`).
    #[serde(default)]
    pub provider: Option<String>,
    /// The provider's package code (required unless the provider is the simulator).
    #[serde(default)]
    pub provider_sku: Option<String>,
}

/// A fair-use policy in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ThrottleEntry {
    /// Full-speed MB.
    pub after_mb: i32,
    /// Throttled speed.
    pub speed_kbps: i32,
    /// Description.
    pub description: String,
}

/// What an import changed.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Countries in the file.
    pub countries: usize,
    /// Regions in the file.
    pub regions: usize,
    /// Plans in the file (all active afterwards).
    pub plans: usize,
    /// Plans that were on sale and are not in the file any more.
    pub deactivated: u64,
}

impl CatalogFile {
    /// Reads and parses a catalog file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file: Self = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid catalog file", path.display()))?;
        file.validate()?;
        Ok(file)
    }

    /// Checks references and ranges, naming the first offending entry.
    pub fn validate(&self) -> anyhow::Result<()> {
        let code_ok =
            |c: &str| !c.is_empty() && c.len() <= 16 && c.bytes().all(|b| b.is_ascii_uppercase());
        let mut codes = HashSet::new();
        for c in &self.countries {
            ensure!(
                c.code.len() == 2 && code_ok(&c.code),
                "country code `{}` is not ISO alpha-2",
                c.code
            );
            ensure!(!c.name.trim().is_empty(), "country {} has no name", c.code);
            ensure!(
                codes.insert(c.code.as_str()),
                "country {} appears twice",
                c.code
            );
        }
        let countries: HashSet<&str> = codes.clone();
        let mut members: HashMap<&str, HashSet<&str>> = HashMap::new();
        for r in &self.regions {
            ensure!(
                code_ok(&r.code),
                "region code `{}` must be upper-case letters",
                r.code
            );
            ensure!(
                r.geography != Geography::Local,
                "region {} cannot be local",
                r.code
            );
            ensure!(
                codes.insert(r.code.as_str()),
                "area code {} appears twice",
                r.code
            );
            ensure!(
                !r.countries.is_empty(),
                "region {} lists no countries",
                r.code
            );
            for c in &r.countries {
                ensure!(
                    countries.contains(c.as_str()),
                    "region {} lists unknown country {c}",
                    r.code
                );
            }
            members.insert(&r.code, r.countries.iter().map(String::as_str).collect());
        }
        let mut ids = HashSet::new();
        for p in &self.plans {
            let id_ok = !p.id.is_empty()
                && p.id.len() <= 64
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            ensure!(id_ok, "plan id `{}` must be 1-64 of [a-z0-9-]", p.id);
            ensure!(ids.insert(p.id.as_str()), "plan {} appears twice", p.id);
            ensure!(
                codes.contains(p.country.as_str()),
                "plan {} is sold in unknown area {}",
                p.id,
                p.country
            );
            ensure!(
                (1..=365).contains(&p.days),
                "plan {}: days must be 1-365",
                p.id
            );
            ensure!(
                p.net_price_cents > 0,
                "plan {}: netPriceCents must be positive",
                p.id
            );
            ensure!(
                p.data_mb.is_none_or(|mb| mb > 0),
                "plan {}: dataMb must be positive",
                p.id
            );
            match (&p.data_mb, &p.throttle) {
                (None, None) => bail!("plan {} is unlimited and needs a throttle", p.id),
                (_, Some(t)) if t.after_mb <= 0 || t.speed_kbps <= 0 => {
                    bail!("plan {}: throttle values must be positive", p.id)
                }
                _ => {}
            }
            let provider = p.provider.as_deref().unwrap_or(SIMULATOR);
            ensure!(
                PROVIDER_NAMES.contains(&provider),
                "plan {}: provider `{provider}` is not one of {PROVIDER_NAMES:?}",
                p.id
            );
            ensure!(
                provider == SIMULATOR || p.provider_sku.as_deref().is_some_and(|s| !s.is_empty()),
                "plan {}: providerSku is required for provider {provider}",
                p.id
            );
            if let Some(coverage) = &p.coverage {
                ensure!(!coverage.is_empty(), "plan {}: coverage is empty", p.id);
                for c in coverage {
                    ensure!(
                        countries.contains(c.as_str()),
                        "plan {} covers unknown country {c}",
                        p.id
                    );
                    if let Some(m) = members.get(p.country.as_str()) {
                        ensure!(
                            m.contains(c.as_str()),
                            "plan {} covers {c}, outside region {}",
                            p.id,
                            p.country
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Countries a plan covers: its explicit list, or its area's.
    fn coverage_of<'a>(&'a self, plan: &'a PlanEntry) -> BTreeSet<&'a str> {
        if let Some(list) = &plan.coverage {
            return list.iter().map(String::as_str).collect();
        }
        match self.regions.iter().find(|r| r.code == plan.country) {
            Some(region) => region.countries.iter().map(String::as_str).collect(),
            None => BTreeSet::from([plan.country.as_str()]),
        }
    }
}

/// Imports a catalog file into the database and notifies running servers.
pub async fn import_file(db: &PgPool, file: &CatalogFile) -> anyhow::Result<ImportReport> {
    file.validate()?;
    let mut tx = db.begin().await?;
    // One import at a time; readers are unaffected.
    sqlx::query!("select pg_advisory_xact_lock(hashtext('tavaro_catalog_import'))")
        .execute(&mut *tx)
        .await?;

    for c in &file.countries {
        sqlx::query!(
            "insert into areas (code, name, geography, networks, carriers)
             values ($1, $2, 'local', $3, $4)
             on conflict (code) do update
               set name = excluded.name, geography = excluded.geography,
                   networks = excluded.networks, carriers = excluded.carriers,
                   updated_at = now()
             where (areas.name, areas.geography, areas.networks, areas.carriers)
                   is distinct from (excluded.name, excluded.geography, excluded.networks, excluded.carriers)",
            c.code,
            c.name,
            &c.networks,
            &c.carriers,
        )
        .execute(&mut *tx)
        .await?;
    }
    for r in &file.regions {
        sqlx::query!(
            "insert into areas (code, name, geography) values ($1, $2, $3)
             on conflict (code) do update
               set name = excluded.name, geography = excluded.geography,
                   networks = '{}', carriers = '{}', updated_at = now()
             where (areas.name, areas.geography) is distinct from (excluded.name, excluded.geography)",
            r.code,
            r.name,
            r.geography.as_str(),
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!("delete from area_countries where area_code = $1", r.code)
            .execute(&mut *tx)
            .await?;
        sqlx::query!(
            "insert into area_countries (area_code, country_code) select $1, unnest($2::text[])",
            r.code,
            &r.countries,
        )
        .execute(&mut *tx)
        .await?;
    }

    for p in &file.plans {
        let throttle = p.throttle.as_ref();
        sqlx::query!(
            "insert into plans (id, name, area_code, days, data_mb, net_price_cents, activation,
                                hotspot, data_roaming, top_up, networks, carriers,
                                throttle_after_mb, throttle_speed_kbps, throttle_description, active,
                                provider, provider_sku)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, true,
                     $16, $17)
             on conflict (id) do update set
               name = excluded.name, area_code = excluded.area_code, days = excluded.days,
               data_mb = excluded.data_mb, net_price_cents = excluded.net_price_cents,
               activation = excluded.activation, hotspot = excluded.hotspot,
               data_roaming = excluded.data_roaming, top_up = excluded.top_up,
               networks = excluded.networks, carriers = excluded.carriers,
               throttle_after_mb = excluded.throttle_after_mb,
               throttle_speed_kbps = excluded.throttle_speed_kbps,
               throttle_description = excluded.throttle_description,
               provider = excluded.provider, provider_sku = excluded.provider_sku,
               provider_cost_e4 = null, synced_at = null,
               active = true, updated_at = now()",
            p.id,
            p.name,
            p.country,
            p.days,
            p.data_mb,
            p.net_price_cents,
            p.activation,
            p.hotspot,
            p.data_roaming,
            p.top_up,
            &p.networks,
            &p.carriers,
            throttle.map(|t| t.after_mb),
            throttle.map(|t| t.speed_kbps),
            throttle.map(|t| t.description.as_str()),
            p.provider.as_deref().unwrap_or(SIMULATOR),
            p.provider_sku,
        )
        .execute(&mut *tx)
        .await?;
        let coverage: Vec<String> = file.coverage_of(p).into_iter().map(str::to_owned).collect();
        sqlx::query!("delete from plan_coverage where plan_id = $1", p.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query!(
            "insert into plan_coverage (plan_id, country_code) select $1, unnest($2::text[])",
            p.id,
            &coverage,
        )
        .execute(&mut *tx)
        .await?;
    }

    let ids: Vec<String> = file.plans.iter().map(|p| p.id.clone()).collect();
    // Plans owned by `catalog sync` are that command's business.
    let deactivated = sqlx::query!(
        "update plans set active = false, updated_at = now()
         where active and synced_at is null and id <> all($1)",
        &ids
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();

    sqlx::query!("select pg_notify($1, '')", CATALOG_CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ImportReport {
        countries: file.countries.len(),
        regions: file.regions.len(),
        plans: file.plans.len(),
        deactivated,
    })
}
