//! The immutable in-memory picture of the catalog and the queries behind
//! `/v1/countries` and `/v1/packages`. Built from Postgres by [`super::Catalog`].

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Write;
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;

use super::{Area, Geography, Plan};

/// Most bytes of rendered answers one snapshot keeps (see [`Snapshot::rendered`]).
const RENDERED_BUDGET: usize = 16 * 1024 * 1024;

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
    rendered: Rendered,
}

/// Answers rendered from one snapshot, by request. The catalog changes only by replacing
/// the snapshot, so they are right for its whole life and go with it.
#[derive(Default)]
struct Rendered {
    answers: RwLock<HashMap<String, Arc<Answer>>>,
}

/// One rendered answer: its JSON, and the same bytes gzip-compressed, made the first time
/// a client that accepts gzip asks.
#[derive(Debug)]
pub struct Answer {
    json: Bytes,
    gzip: OnceLock<Bytes>,
}

impl Answer {
    /// An answer of these JSON bytes.
    pub fn new(json: Bytes) -> Self {
        Self {
            json,
            gzip: OnceLock::new(),
        }
    }

    /// The JSON bytes.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    /// The JSON bytes, gzip-compressed (compressed once).
    pub fn gzip(&self) -> &Bytes {
        self.gzip.get_or_init(|| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder
                .write_all(&self.json)
                .and_then(|()| encoder.finish())
                .map(Bytes::from)
                .expect("compressing into memory cannot fail")
        })
    }

    fn size(&self) -> usize {
        self.json.len() + self.gzip.get().map_or(0, Bytes::len)
    }
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let answers = self.answers.read().unwrap_or_else(|e| e.into_inner());
        write!(f, "Rendered({} answers)", answers.len())
    }
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
            rendered: Rendered::default(),
        }
    }

    /// The answer to the request `key` (which names everything the answer depends on:
    /// route, filters, markup), rendered by `render` the first time and kept with this
    /// snapshot, up to 16 MiB of answers; beyond that, rendered every time. Failures are
    /// not kept. Building a `/v1/packages` answer clones and serializes thousands of
    /// strings (~50 KB for a country with regional plans): done once, not per request.
    pub fn rendered<E>(
        &self,
        key: String,
        render: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Arc<Answer>, E> {
        let answers = &self.rendered.answers;
        if let Some(answer) = answers.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(Arc::clone(answer));
        }
        let answer = Arc::new(Answer::new(Bytes::from(render()?)));
        let mut answers = answers.write().unwrap_or_else(|e| e.into_inner());
        // Each answer counted with room for its compressed copy (at most its size).
        let used: usize = answers
            .values()
            .map(|a| a.size().max(2 * a.json.len()))
            .sum();
        if used + 2 * answer.json.len() <= RENDERED_BUDGET {
            answers.insert(key, Arc::clone(&answer));
        }
        Ok(answer)
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

    #[test]
    fn answers_are_rendered_once_per_key_and_failures_not_kept() {
        let s = snapshot();
        let mut renders = 0;
        for _ in 0..3 {
            let body = s.rendered("a".to_owned(), || -> Result<_, ()> {
                renders += 1;
                Ok(b"[1]".to_vec())
            });
            assert_eq!(body.unwrap().json(), &b"[1]"[..]);
        }
        assert_eq!(renders, 1);
        assert_eq!(
            s.rendered("b".to_owned(), || Err::<Vec<u8>, _>("no")).err(),
            Some("no")
        );
        let again = s.rendered("b".to_owned(), || Ok::<_, ()>(b"[2]".to_vec()));
        assert_eq!(again.unwrap().json(), &b"[2]"[..]);
    }

    #[test]
    fn the_gzip_copy_decompresses_to_the_json_and_is_made_once() {
        let json = serde_json::to_vec(&vec!["coverage"; 500]).unwrap();
        let answer = Answer::new(Bytes::from(json.clone()));
        let gzip = answer.gzip().clone();
        assert!(gzip.len() < json.len() / 10, "{} bytes", gzip.len());
        assert!(std::ptr::eq(answer.gzip().as_ptr(), gzip.as_ptr()));
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut plain)
            .unwrap();
        assert_eq!(plain, json);
    }
}
