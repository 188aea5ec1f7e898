//! The plan catalog: countries and regions ("areas"), the plans sold in each, and their
//! per-country coverage.
//!
//! Postgres holds the catalog; every server keeps an immutable [`Snapshot`] of it in
//! memory, so `/v1/countries` and `/v1/packages` never touch the database. `tavaro catalog
//! import` notifies [`CATALOG_CHANNEL`] and every server rebuilds its snapshot. Prices in
//! the snapshot are net (what partners pay); the markup is applied per caller.

mod import;
mod snapshot;
pub mod sync;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use sqlx::PgPool;

pub use import::{CatalogFile, ImportReport, import_file};
pub use snapshot::{AreaSummary, PackageFilter, Snapshot, UnknownArea};

use crate::money::Cents;

/// Channel notified after a catalog import.
pub const CATALOG_CHANNEL: &str = "tavaro_catalog";

/// Whether an area is one country, a region, or the world.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    sqlx::Type,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Geography {
    /// A single country.
    Local,
    /// A group of countries (Europe, Asia, ...).
    Regional,
    /// Worldwide.
    Global,
}

impl Geography {
    /// The lowercase name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Regional => "regional",
            Self::Global => "global",
        }
    }

    /// Parses `local`, `regional` or `global`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "local" => Some(Self::Local),
            "regional" => Some(Self::Regional),
            "global" => Some(Self::Global),
            _ => None,
        }
    }
}

/// A country, region or the global area.
#[derive(Clone, Debug)]
pub struct Area {
    /// ISO 3166-1 alpha-2 code, or a region code (`EU`, `ASIA`, `GLOBAL`).
    pub code: String,
    /// English name.
    pub name: String,
    /// Local, regional or global.
    pub geography: Geography,
    /// Radio networks (countries only).
    pub networks: Vec<String>,
    /// Carriers (countries only).
    pub carriers: Vec<String>,
    /// Member countries (regions and global only).
    pub countries: Vec<String>,
}

/// A fair-use policy on an unlimited plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Throttle {
    /// Full-speed data before throttling, in MB.
    #[schema(example = 2048)]
    pub after_mb: i32,
    /// Speed once throttled.
    #[schema(example = 512)]
    pub speed_kbps: i32,
    /// What the traveller experiences.
    #[schema(
        example = "Full speed for the first 2 GB each day, then 512 kbps until midnight (UTC)."
    )]
    pub description: String,
}

/// A plan on sale.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Stable id partners order with (`ae-5gb-7d`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The area it is sold in.
    pub area_code: String,
    /// The area's geography.
    pub geography: Geography,
    /// Validity after activation.
    pub days: i32,
    /// Data allowance; `None` for unlimited.
    pub data_mb: Option<i32>,
    /// What partners pay.
    pub net_price: Cents,
    /// When validity starts (`first-use`).
    pub activation: String,
    /// Tethering allowed.
    pub hotspot: bool,
    /// Data roaming included.
    pub data_roaming: bool,
    /// Top-ups available.
    pub top_up: bool,
    /// Radio networks.
    pub networks: Vec<String>,
    /// Carriers.
    pub carriers: Vec<String>,
    /// Countries covered, sorted.
    pub coverage: Vec<String>,
    /// Fair-use policy.
    pub throttle: Option<Throttle>,
    /// The provider that fulfils it.
    pub provider: String,
    /// The provider's package code; `None` for simulator plans (they use our id).
    pub provider_sku: Option<String>,
    /// What one eSIM costs us in 1/10,000 USD, for synced plans.
    pub provider_cost_e4: Option<i64>,
}

impl Plan {
    /// The price a partner with `markup_bps` sees: net × (1 + markup), half-up to the cent.
    pub fn price(&self, markup_bps: i32) -> Cents {
        self.net_price
            .with_markup_bps(markup_bps)
            .unwrap_or(self.net_price)
    }

    /// `"5GB"`, `"512MB"`, `"1.5GB"` or `"Unlimited"`.
    pub fn data_label(&self) -> String {
        match self.data_mb {
            None => "Unlimited".to_owned(),
            Some(mb) if mb >= 1024 && mb % 1024 == 0 => format!("{}GB", mb / 1024),
            Some(mb) if mb >= 1024 && (mb * 10) % 1024 == 0 => {
                format!("{}.{}GB", mb / 1024, (mb % 1024) * 10 / 1024)
            }
            Some(mb) => format!("{mb}MB"),
        }
    }
}

/// The shared, swappable snapshot.
#[derive(Clone, Default)]
pub struct Catalog {
    current: Arc<RwLock<Arc<Snapshot>>>,
}

impl Catalog {
    /// Loads the active catalog from the database.
    pub async fn load(db: &PgPool) -> anyhow::Result<Self> {
        let catalog = Self::default();
        catalog.reload(db).await?;
        Ok(catalog)
    }

    /// The current snapshot: an `Arc` clone, so a request sees one consistent catalog.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Rebuilds the snapshot from the database and swaps it in.
    pub async fn reload(&self, db: &PgPool) -> anyhow::Result<()> {
        let snapshot = Arc::new(read_snapshot(db).await?);
        tracing::info!(plans = snapshot.plan_count(), "catalog snapshot loaded");
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = snapshot;
        Ok(())
    }
}

async fn read_snapshot(db: &PgPool) -> anyhow::Result<Snapshot> {
    let mut tx = db.begin().await?;
    // One REPEATABLE READ transaction: a concurrent import is seen whole or not at all.
    sqlx::query!("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    for row in sqlx::query!(
        "select area_code, country_code from area_countries order by area_code, country_code"
    )
    .fetch_all(&mut *tx)
    .await?
    {
        members
            .entry(row.area_code)
            .or_default()
            .push(row.country_code);
    }
    let areas = sqlx::query!(
        r#"select code, name, geography as "geography: Geography", networks, carriers
           from areas"#
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| {
        Ok(Area {
            countries: members.remove(&r.code).unwrap_or_default(),
            geography: r.geography,
            code: r.code,
            name: r.name,
            networks: r.networks,
            carriers: r.carriers,
        })
    })
    .collect::<anyhow::Result<Vec<_>>>()?;

    let mut coverage: HashMap<String, Vec<String>> = HashMap::new();
    for row in sqlx::query!(
        "select c.plan_id, c.country_code from plan_coverage c
         join plans p on p.id = c.plan_id where p.active
         order by c.plan_id, c.country_code"
    )
    .fetch_all(&mut *tx)
    .await?
    {
        coverage
            .entry(row.plan_id)
            .or_default()
            .push(row.country_code);
    }
    let plans = sqlx::query!(
        r#"select p.id, p.name, p.area_code, a.geography as "geography: Geography", p.days, p.data_mb, p.net_price_cents,
                  p.activation, p.hotspot, p.data_roaming, p.top_up, p.networks, p.carriers,
                  p.throttle_after_mb, p.throttle_speed_kbps, p.throttle_description,
                  p.provider, p.provider_sku, p.provider_cost_e4
           from plans p join areas a on a.code = p.area_code
           where p.active"#
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| {
        let throttle = match (r.throttle_after_mb, r.throttle_speed_kbps) {
            (Some(after_mb), Some(speed_kbps)) => Some(Throttle {
                after_mb,
                speed_kbps,
                description: r.throttle_description.unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(Plan {
            coverage: coverage.remove(&r.id).unwrap_or_default(),
            geography: r.geography,
            id: r.id,
            name: r.name,
            area_code: r.area_code,
            days: r.days,
            data_mb: r.data_mb,
            net_price: Cents::new(r.net_price_cents),
            activation: r.activation,
            hotspot: r.hotspot,
            data_roaming: r.data_roaming,
            top_up: r.top_up,
            networks: r.networks,
            carriers: r.carriers,
            throttle,
            provider: r.provider,
            provider_sku: r.provider_sku,
            provider_cost_e4: r.provider_cost_e4,
        })
    })
    .collect::<anyhow::Result<Vec<_>>>()?;
    tx.commit().await?;
    Ok(Snapshot::new(areas, plans))
}
