//! The plan catalog: countries and regions ("areas"), the plans sold in each, and their
//! per-country coverage.
//!
//! Postgres holds the catalog; every server keeps an immutable [`Snapshot`] of it in
//! memory, so `/v1/countries` and `/v1/packages` never touch the database. `tavaro catalog
//! import` notifies [`CATALOG_CHANNEL`] and every server rebuilds its snapshot. Prices in
//! the snapshot are net (what partners pay); the markup is applied per caller.

mod import;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use sqlx::PgPool;

pub use import::{CatalogFile, ImportReport, import_file};

use crate::money::Cents;

/// Channel notified after a catalog import.
pub const CATALOG_CHANNEL: &str = "tavaro_catalog";

/// Whether an area is one country, a region, or the world.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttle {
    /// Full-speed data before throttling, in MB.
    pub after_mb: i32,
    /// Speed once throttled.
    pub speed_kbps: i32,
    /// What the traveller experiences.
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

/// One line of `/v1/countries`, before pricing.
#[derive(Debug)]
pub struct AreaSummary<'a> {
    /// The area.
    pub area: &'a Area,
    /// Plans sold in this area.
    pub plan_count: usize,
    /// The cheapest of them, net.
    pub cheapest: &'a Plan,
    /// Networks: the country's own, or the union over a region's plans.
    pub networks: Vec<String>,
    /// Carriers, likewise.
    pub carriers: Vec<String>,
    /// 1 for a country, the member count for a region.
    pub countries_covered: usize,
}

/// Filters of `/v1/packages`.
#[derive(Clone, Debug, Default)]
pub struct PackageFilter<'a> {
    /// Country or region code.
    pub country: Option<&'a str>,
    /// Plan geography.
    pub geography: Option<Geography>,
    /// Exact validity in days.
    pub days: Option<i32>,
}

/// An unknown country or region code in a filter.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownArea;

/// An immutable picture of the active catalog.
#[derive(Debug, Default)]
pub struct Snapshot {
    areas: HashMap<String, Area>,
    /// Sorted by days, then net price, then id.
    plans: Vec<Plan>,
    by_id: HashMap<String, usize>,
}

impl Snapshot {
    /// Builds a snapshot; plans get sorted.
    pub fn new(areas: Vec<Area>, mut plans: Vec<Plan>) -> Self {
        plans.sort_by(|a, b| (a.days, a.net_price, &a.id).cmp(&(b.days, b.net_price, &b.id)));
        let by_id = plans
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        Self {
            areas: areas.into_iter().map(|a| (a.code.clone(), a)).collect(),
            plans,
            by_id,
        }
    }

    /// A plan on sale.
    pub fn plan(&self, id: &str) -> Option<&Plan> {
        self.by_id.get(id).map(|&i| &self.plans[i])
    }

    /// An area by code (case-sensitive, upper case).
    pub fn area(&self, code: &str) -> Option<&Area> {
        self.areas.get(code)
    }

    /// Number of plans on sale.
    pub fn plan_count(&self) -> usize {
        self.plans.len()
    }

    /// Areas with at least one plan, sorted by name, optionally of one geography.
    pub fn countries(&self, geography: Option<Geography>) -> Vec<AreaSummary<'_>> {
        let mut by_area: HashMap<&str, Vec<&Plan>> = HashMap::new();
        for plan in &self.plans {
            by_area
                .entry(plan.area_code.as_str())
                .or_default()
                .push(plan);
        }
        let mut out: Vec<AreaSummary<'_>> = by_area
            .into_iter()
            .filter_map(|(code, plans)| {
                let area = self.areas.get(code)?;
                if geography.is_some_and(|g| g != area.geography) {
                    return None;
                }
                let cheapest = plans.iter().copied().min_by_key(|p| (p.net_price, &p.id))?;
                let (networks, carriers, countries_covered) = match area.geography {
                    Geography::Local => (area.networks.clone(), area.carriers.clone(), 1),
                    Geography::Regional | Geography::Global => {
                        let union = |f: fn(&Plan) -> &Vec<String>| {
                            plans
                                .iter()
                                .flat_map(|p| f(p).iter().cloned())
                                .collect::<BTreeSet<_>>()
                                .into_iter()
                                .collect::<Vec<_>>()
                        };
                        (
                            union(|p| &p.networks),
                            union(|p| &p.carriers),
                            area.countries.len(),
                        )
                    }
                };
                Some(AreaSummary {
                    area,
                    plan_count: plans.len(),
                    cheapest,
                    networks,
                    carriers,
                    countries_covered,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.area.name, &a.area.code).cmp(&(&b.area.name, &b.area.code)));
        out
    }

    /// Plans matching a filter, sorted by days then price. With a country code: that
    /// country's plans and, unless `geography` says otherwise, the regional and global
    /// plans covering it. With a region code: that region's plans.
    pub fn packages(&self, filter: &PackageFilter<'_>) -> Result<Vec<&Plan>, UnknownArea> {
        let area = match filter.country {
            Some(code) => Some(self.areas.get(code).ok_or(UnknownArea)?),
            None => None,
        };
        Ok(self
            .plans
            .iter()
            .filter(|p| match area {
                None => true,
                Some(a) if a.geography == Geography::Local => {
                    p.area_code == a.code || p.coverage.binary_search(&a.code).is_ok()
                }
                Some(a) => p.area_code == a.code,
            })
            .filter(|p| filter.geography.is_none_or(|g| g == p.geography))
            .filter(|p| filter.days.is_none_or(|d| d == p.days))
            .collect())
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
    let areas = sqlx::query!("select code, name, geography, networks, carriers from areas")
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| {
            Ok(Area {
                countries: members.remove(&r.code).unwrap_or_default(),
                geography: Geography::parse(&r.geography)
                    .ok_or_else(|| anyhow::anyhow!("bad geography {}", r.geography))?,
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
        r#"select p.id, p.name, p.area_code, a.geography, p.days, p.data_mb, p.net_price_cents,
                  p.activation, p.hotspot, p.data_roaming, p.top_up, p.networks, p.carriers,
                  p.throttle_after_mb, p.throttle_speed_kbps, p.throttle_description
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
            geography: Geography::parse(&r.geography)
                .ok_or_else(|| anyhow::anyhow!("bad geography {}", r.geography))?,
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
        })
    })
    .collect::<anyhow::Result<Vec<_>>>()?;
    tx.commit().await?;
    Ok(Snapshot::new(areas, plans))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(
        id: &str,
        area: &str,
        geography: Geography,
        days: i32,
        cents: i64,
        coverage: &[&str],
    ) -> Plan {
        Plan {
            id: id.to_owned(),
            name: id.to_owned(),
            area_code: area.to_owned(),
            geography,
            days,
            data_mb: Some(1024),
            net_price: Cents::new(cents),
            activation: "first-use".to_owned(),
            hotspot: true,
            data_roaming: true,
            top_up: false,
            networks: vec!["4G".to_owned()],
            carriers: vec!["X".to_owned()],
            coverage: coverage.iter().map(|c| (*c).to_owned()).collect(),
            throttle: None,
        }
    }

    fn area(code: &str, geography: Geography, countries: &[&str]) -> Area {
        Area {
            code: code.to_owned(),
            name: code.to_owned(),
            geography,
            networks: vec![],
            carriers: vec![],
            countries: countries.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot::new(
            vec![
                area("FR", Geography::Local, &[]),
                area("DE", Geography::Local, &[]),
                area("EU", Geography::Regional, &["DE", "FR"]),
            ],
            vec![
                plan("fr-b", "FR", Geography::Local, 7, 500, &["FR"]),
                plan("fr-a", "FR", Geography::Local, 30, 300, &["FR"]),
                plan("de-a", "DE", Geography::Local, 7, 400, &["DE"]),
                plan("eu-a", "EU", Geography::Regional, 7, 450, &["DE", "FR"]),
            ],
        )
    }

    #[test]
    fn a_country_sees_its_own_and_covering_regional_plans_sorted() {
        let s = snapshot();
        let ids = |f: PackageFilter<'_>| -> Vec<String> {
            s.packages(&f)
                .unwrap()
                .iter()
                .map(|p| p.id.clone())
                .collect()
        };
        assert_eq!(
            ids(PackageFilter {
                country: Some("FR"),
                ..Default::default()
            }),
            ["eu-a", "fr-b", "fr-a"]
        );
        assert_eq!(
            ids(PackageFilter {
                country: Some("FR"),
                geography: Some(Geography::Local),
                ..Default::default()
            }),
            ["fr-b", "fr-a"]
        );
        assert_eq!(
            ids(PackageFilter {
                country: Some("EU"),
                ..Default::default()
            }),
            ["eu-a"]
        );
        assert_eq!(
            ids(PackageFilter {
                days: Some(30),
                ..Default::default()
            }),
            ["fr-a"]
        );
        assert!(
            s.packages(&PackageFilter {
                country: Some("XX"),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn countries_list_counts_plans_and_finds_the_cheapest() {
        let s = snapshot();
        let list = s.countries(None);
        let codes: Vec<_> = list.iter().map(|a| a.area.code.as_str()).collect();
        assert_eq!(codes, ["DE", "EU", "FR"]);
        let fr = &list[2];
        assert_eq!(
            (fr.plan_count, fr.cheapest.id.as_str(), fr.countries_covered),
            (2, "fr-a", 1)
        );
        assert_eq!(list[1].countries_covered, 2);
        assert_eq!(s.countries(Some(Geography::Regional)).len(), 1);
    }

    #[test]
    fn data_labels_read_like_a_shop() {
        let mut p = plan("x", "FR", Geography::Local, 7, 100, &[]);
        for (mb, label) in [
            (Some(5120), "5GB"),
            (Some(512), "512MB"),
            (Some(1536), "1.5GB"),
            (None, "Unlimited"),
        ] {
            p.data_mb = mb;
            assert_eq!(p.data_label(), label);
        }
    }
}
