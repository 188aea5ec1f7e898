//! The immutable in-memory picture of the catalog and the queries behind
//! `/v1/countries` and `/v1/packages`. Built from Postgres by [`super::Catalog`].

use std::collections::{BTreeSet, HashMap};

use super::{Area, Geography, Plan};

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

    /// Every plan on sale, by days, then net price, then id.
    pub fn plans(&self) -> impl Iterator<Item = &Plan> {
        self.plans.iter()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Cents;

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
            provider: "simulator".to_owned(),
            provider_sku: None,
            provider_cost_e4: None,
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
