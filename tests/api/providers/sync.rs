//! `catalog sync`'s guards, with an upstream whose listing each test sets: an empty or
//! sharply shrunk listing is refused (and allowed with `allow_shrink`), an incomplete one
//! withdraws nothing, a region named like a country gets a code of its own, a package in
//! a "country" that is a region's code is skipped, and prices round up once, at the end.

use std::sync::Mutex;

use async_trait::async_trait;
use sqlx::PgPool;
use tavaro::catalog::sync::{SyncOptions, SyncReport, sync, sync_with};
use tavaro::provider::{
    EsimRef, EsimUsage, Listing, LookupRequest, OrderLookup, Provider, ProviderError,
    ProvisionRequest, Provisioned, UpstreamBalance, UpstreamCountry, UpstreamPackage,
};

use crate::helpers::import_demo_catalog;

/// An upstream that lists what the test last gave it (as eSIM Go, a provider name plans
/// may carry).
#[derive(Default)]
struct Listed(Mutex<Option<Listing>>);

impl Listed {
    fn set(&self, packages: Vec<UpstreamPackage>, incomplete: Option<&str>) {
        *self.0.lock().unwrap() = Some(Listing {
            packages,
            incomplete: incomplete.map(str::to_owned),
        });
    }
}

#[async_trait]
impl Provider for Listed {
    fn name(&self) -> &'static str {
        "esimgo"
    }

    async fn provision(&self, _: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        Err(ProviderError::Unsupported("listing only"))
    }

    async fn lookup(&self, _: &LookupRequest) -> Result<OrderLookup, ProviderError> {
        Err(ProviderError::Unsupported("listing only"))
    }

    async fn usage(&self, _: &EsimRef) -> Result<EsimUsage, ProviderError> {
        Err(ProviderError::Unsupported("listing only"))
    }

    async fn packages(&self) -> Result<Vec<UpstreamPackage>, ProviderError> {
        Ok(self.listing().await?.packages)
    }

    async fn listing(&self) -> Result<Listing, ProviderError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .clone()
            .expect("the test set a listing"))
    }

    async fn balance(&self) -> Result<UpstreamBalance, ProviderError> {
        Err(ProviderError::Unsupported("listing only"))
    }
}

/// A 7-day 1 GB package `sku` in `countries` (a region's when several), costing
/// `cost_e4`.
fn package(sku: &str, countries: &[&str], region: Option<&str>, cost_e4: i64) -> UpstreamPackage {
    UpstreamPackage {
        sku: sku.into(),
        name: format!("Plan {sku}"),
        countries: countries
            .iter()
            .map(|c| UpstreamCountry {
                code: (*c).into(),
                name: (*c).into(),
            })
            .collect(),
        region: region.map(str::to_owned),
        global: false,
        days: 7,
        data_mb: Some(1024),
        cost_e4,
        currency: "USD".into(),
        networks: vec!["4G".into()],
        carriers: vec![],
        hotspot: None,
        top_up: None,
        throttle: None,
    }
}

/// Four single-country packages, `a`…`d`.
fn four() -> Vec<UpstreamPackage> {
    ["a", "b", "c", "d"]
        .into_iter()
        .zip(["FR", "DE", "ES", "IT"])
        .map(|(sku, country)| package(sku, &[country], None, 45_000))
        .collect()
}

/// The first `n` of [`four`].
fn first(n: usize) -> Vec<UpstreamPackage> {
    four().into_iter().take(n).collect()
}

/// How many of the upstream's plans are on sale.
async fn on_sale(db: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from plans where provider = 'esimgo' and active")
        .fetch_one(db)
        .await
        .unwrap()
}

async fn synced(db: &PgPool, upstream: &Listed) -> SyncReport {
    sync(db, upstream, 2000).await.expect("the sync runs")
}

#[sqlx::test]
async fn an_empty_listing_is_refused_and_every_synced_plan_stays_on_sale(db: PgPool) {
    import_demo_catalog(&db).await;
    let upstream = Listed::default();
    upstream.set(four(), None);
    assert_eq!(synced(&db, &upstream).await.added, 4);

    upstream.set(Vec::new(), None);
    let refused = sync(&db, &upstream, 2000).await.unwrap_err().to_string();
    assert!(
        refused.contains("refusing to sync esimgo")
            && refused.contains("none can be sold")
            && refused.contains("--allow-shrink"),
        "{refused}"
    );
    assert_eq!(on_sale(&db).await, 4, "nothing was changed");

    // Nothing the listing holds can be sold (priced in euros): refused as well.
    let mut euros = four();
    for p in &mut euros {
        p.currency = "EUR".into();
    }
    upstream.set(euros, None);
    assert!(sync(&db, &upstream, 2000).await.is_err());
    assert_eq!(on_sale(&db).await, 4);

    upstream.set(Vec::new(), None);
    let options = SyncOptions {
        margin_bps: 2000,
        allow_shrink: true,
    };
    let allowed = sync_with(&db, &upstream, options).await.unwrap();
    assert_eq!(allowed.deactivated, 4, "{allowed:?}");
    assert_eq!(on_sale(&db).await, 0);
}

#[sqlx::test]
async fn a_listing_missing_more_than_half_of_the_plans_on_sale_is_refused_unless_allowed(
    db: PgPool,
) {
    import_demo_catalog(&db).await;
    let upstream = Listed::default();
    upstream.set(four(), None);
    synced(&db, &upstream).await;

    // 3 of the 4 plans on sale missing: refused.
    upstream.set(first(1), None);
    let refused = sync(&db, &upstream, 2000).await.unwrap_err().to_string();
    assert!(
        refused.contains("3 of its 4 plans on sale are missing")
            && refused.contains("--allow-shrink"),
        "{refused}"
    );
    assert_eq!(on_sale(&db).await, 4);

    // Half of them missing: a provider may drop that much; withdrawn.
    upstream.set(first(2), None);
    let half = synced(&db, &upstream).await;
    assert_eq!((half.deactivated, half.unchanged), (2, 2), "{half:?}");
    assert_eq!(on_sale(&db).await, 2);

    // Both plans left on sale missing: refused, until the operator confirms it.
    upstream.set(vec![package("e", &["PT"], None, 45_000)], None);
    assert!(sync(&db, &upstream, 2000).await.is_err(), "2 of 2 missing");
    assert_eq!(on_sale(&db).await, 2);
    let options = SyncOptions {
        margin_bps: 2000,
        allow_shrink: true,
    };
    let allowed = sync_with(&db, &upstream, options).await.unwrap();
    assert_eq!((allowed.added, allowed.deactivated), (1, 2), "{allowed:?}");
}

#[sqlx::test]
async fn an_incomplete_listing_adds_what_it_lists_and_withdraws_nothing(db: PgPool) {
    import_demo_catalog(&db).await;
    let upstream = Listed::default();
    upstream.set(four(), None);
    synced(&db, &upstream).await;

    let mut listed = first(1);
    listed.push(package("e", &["PT"], None, 45_000));
    upstream.set(listed, Some("page 2 repeated page 1"));
    let report = synced(&db, &upstream).await;
    assert_eq!((report.added, report.deactivated), (1, 0), "{report:?}");
    assert_eq!(report.incomplete.as_deref(), Some("page 2 repeated page 1"));
    assert_eq!(
        on_sale(&db).await,
        5,
        "the plans it did not see stay on sale"
    );
}

#[sqlx::test]
async fn a_region_named_like_a_country_gets_a_code_of_its_own(db: PgPool) {
    import_demo_catalog(&db).await;
    let upstream = Listed::default();
    // A region the upstream calls "AE", as the United Arab Emirates' country code; and a
    // "country" `EU`, which is the demo catalog's Europe region.
    upstream.set(
        vec![
            package("gulf", &["AE", "OM"], Some("AE"), 45_000),
            package("uae", &["AE"], None, 45_000),
            package("eu-only", &["EU"], None, 45_000),
        ],
        None,
    );
    let report = synced(&db, &upstream).await;
    assert_eq!(report.added, 2, "{report:?}");
    assert_eq!(
        report.skipped,
        vec!["eu-only: country code `EU` is the code of a region".to_owned()]
    );

    let area = |sku: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_as::<_, (String, String)>(
                "select a.code, a.geography from plans p join areas a on a.code = p.area_code
                 where p.provider = 'esimgo' and p.provider_sku = $1",
            )
            .bind(sku)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    assert_eq!(area("gulf").await, ("AEREGION".into(), "regional".into()));
    assert_eq!(area("uae").await, ("AE".into(), "local".into()));
    let members: Vec<String> = sqlx::query_scalar(
        "select country_code from area_countries where area_code = 'AEREGION' order by 1",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(members, ["AE", "OM"]);

    // Synced again, nothing moves.
    let again = synced(&db, &upstream).await;
    assert_eq!(
        (again.unchanged, again.updated, again.added),
        (2, 0, 0),
        "{again:?}"
    );
}

#[sqlx::test]
async fn a_price_is_cost_plus_margin_rounded_up_to_the_cent_once(db: PgPool) {
    import_demo_catalog(&db).await;
    let upstream = Listed::default();
    // $1.1584 × 1.2 = $1.39008: 140 ¢ (truncating to 1/10,000 first gave 139 ¢).
    upstream.set(vec![package("odd", &["FR"], None, 11_584)], None);
    synced(&db, &upstream).await;
    let cents: i64 = sqlx::query_scalar(
        "select net_price_cents from plans where provider = 'esimgo' and provider_sku = 'odd'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(cents, 140);
}
