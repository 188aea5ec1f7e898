//! The catalogue: read page by page (also as bare arrays, until a short page), every
//! bundle normalised, and `catalog sync` against it.

use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::provider::esimgo::EsimGo;
use tavaro::provider::{Provider, UpstreamCountry};
use wiremock::MockServer;

use super::{NL, mount_catalogue};
use crate::helpers::import_demo_catalog;
use crate::providers::common::{Upstream, plan_for_sku, sync_with};

#[tokio::test]
async fn the_catalogue_is_read_page_by_page_and_every_bundle_normalised() {
    let server = MockServer::start().await;
    mount_catalogue(
        &server,
        &[
            EsimGo::fixture("catalogue_page1.json"),
            EsimGo::fixture("catalogue_page2.json"),
        ],
    )
    .await;
    let packages = EsimGo::against(&server).packages().await.unwrap();
    assert_eq!(
        EsimGo::requests_to(&server, "/catalogue").await.len(),
        2,
        "pageCount is 2"
    );

    let skus: Vec<&str> = packages.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(
        skus,
        [
            NL,
            "esim_UL_1D_TR_V2",
            "esim_5GB_30D_EU_V2",
            "esim_1GB_7D_RGBS_V2",
            "esim_3GB_15D_EUAS_V2"
        ]
    );
    let country = |code: &str, name: &str| UpstreamCountry {
        code: code.into(),
        name: name.into(),
    };

    let nl = &packages[0];
    assert_eq!(nl.name, "eSIM, 1GB, 7 Days, Netherlands, V2");
    assert_eq!(nl.cost_e4, 22_800);
    assert_eq!(nl.currency, "USD");
    assert_eq!(
        nl.data_mb,
        Some(1000),
        "catalogue MB are decimal: 1GB = 1000 MB"
    );
    assert_eq!(nl.days, 7);
    assert_eq!(
        nl.countries,
        [country("NL", "Netherlands")],
        "roamingEnabled is not coverage"
    );
    assert_eq!((nl.region.as_deref(), nl.global), (None, false));
    assert_eq!(nl.networks, ["4G", "5G"]);
    assert_eq!((nl.hotspot, nl.top_up, nl.throttle), (None, None, None));

    let unlimited = &packages[1];
    assert_eq!(
        unlimited.data_mb, None,
        "unlimited: true with dataAmount -1"
    );
    assert_eq!((unlimited.days, unlimited.cost_e4), (1, 35_000));

    let europe = &packages[2];
    assert_eq!(europe.region.as_deref(), Some("Europe"));
    assert!(!europe.global);
    assert_eq!(
        europe.countries,
        [
            country("DE", "Germany"),
            country("ES", "Spain"),
            country("FR", "France")
        ]
    );
    assert_eq!(
        (europe.data_mb, europe.days, europe.cost_e4),
        (Some(5000), 30, 97_500)
    );
    assert_eq!(europe.networks, ["4G", "5G"]);

    let global = &packages[3];
    assert!(global.global, "the description says Global");
    assert_eq!(global.region, None);
    assert_eq!(global.countries.len(), 3);
    assert!(global.networks.is_empty(), "speed: null");
    assert_eq!(global.cost_e4, 81_000);

    let mixed = &packages[4];
    assert_eq!(
        (mixed.region.as_deref(), mixed.global),
        (None, false),
        "no common region"
    );
    assert_eq!(
        (mixed.data_mb, mixed.days, mixed.cost_e4),
        (Some(3000), 15, 45_000)
    );
}

#[tokio::test]
async fn a_catalogue_sent_as_bare_arrays_is_paged_until_a_short_page() {
    let server = MockServer::start().await;
    let bundle = |i: usize| {
        json!({"name": format!("esim_{i}GB_30D_FR_V2"), "description": format!("{i}GB France"),
               "countries": [{"name": "France", "region": "Europe", "iso": "FR"}],
               "dataAmount": i * 1000, "duration": 30, "speed": ["4G"], "unlimited": false,
               "price": 1.5, "billingType": "FixedCost"})
    };
    let full: Vec<Value> = (1..=50).map(bundle).collect();
    let global: Vec<Value> = (0..120)
        .map(|i| json!({"name": format!("Country {i}"), "region": "Somewhere", "iso": format!("{}{}", (b'A' + (i / 26) as u8) as char, (b'A' + (i % 26) as u8) as char)}))
        .collect();
    let short = json!([{"name": "esim_1GB_7D_WIDE_V2", "description": "eSIM, 1GB, 7 Days, Wide, V2",
                        "countries": global, "dataAmount": 1000, "duration": 7, "price": 20},
                       // Limited, but no data amount: never imported as unlimited.
                       {"name": "esim_NODATA_7D_FR_V2", "countries": [{"name": "France", "iso": "FR"}],
                        "dataAmount": null, "unlimited": false, "duration": 7, "price": 1}]);
    mount_catalogue(&server, &[Value::Array(full), short]).await;

    let packages = EsimGo::against(&server).packages().await.unwrap();
    assert_eq!(
        packages.len(),
        51,
        "the bundle without a data amount is not imported"
    );
    assert_eq!(EsimGo::requests_to(&server, "/catalogue").await.len(), 2);
    assert_eq!(packages[49].data_mb, Some(50_000));
    let wide = &packages[50];
    assert!(wide.global, "120 countries make a bundle global");
    assert_eq!((wide.region.as_deref(), wide.countries.len()), (None, 120));
}

#[sqlx::test]
async fn catalog_sync_is_idempotent_and_deactivates_a_dropped_bundle(db: PgPool) {
    let server = MockServer::start().await;
    let (page1, page2) = (
        EsimGo::fixture("catalogue_page1.json"),
        EsimGo::fixture("catalogue_page2.json"),
    );
    mount_catalogue(&server, &[page1.clone(), page2.clone()]).await;
    let esimgo = EsimGo::against(&server);
    // On an empty database the shared sync inserts a region (EUROPE) before member
    // countries whose codes sort after it (FR) and trips `area_countries`' foreign key;
    // the demo catalog provides the countries, as any running gateway has them.
    import_demo_catalog(&db).await;

    let first = sync_with(&db, &esimgo).await;
    assert_eq!((first.fetched, first.added), (5, 5), "{first:?}");
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);
    let areas: Vec<(String, String)> = sqlx::query_as(
        "select provider_sku, area_code from plans where provider = 'esimgo' order by provider_sku",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let area = |sku: &str| {
        areas
            .iter()
            .find(|(s, _)| s == sku)
            .map(|(_, a)| a.as_str())
    };
    assert_eq!(area(NL), Some("NL"));
    assert_eq!(area("esim_5GB_30D_EU_V2"), Some("EUROPE"));
    assert_eq!(area("esim_1GB_7D_RGBS_V2"), Some("GLOBAL"));
    assert_eq!(area("esim_3GB_15D_EUAS_V2"), Some("MULTI"));

    let second = sync_with(&db, &esimgo).await;
    assert_eq!(
        (second.added, second.updated, second.deactivated),
        (0, 0, 0),
        "{second:?}"
    );
    assert_eq!(second.unchanged, first.added);

    let mut dropped = page2;
    dropped["bundles"].as_array_mut().unwrap().pop();
    server.reset().await;
    mount_catalogue(&server, &[page1, dropped]).await;
    let third = sync_with(&db, &esimgo).await;
    assert_eq!(third.deactivated, 1, "{third:?}");
    let plan = plan_for_sku(&db, EsimGo::NAME, "esim_3GB_15D_EUAS_V2").await;
    let active: bool = sqlx::query_scalar("select active from plans where id = $1")
        .bind(&plan)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(!active, "the dropped bundle's plan stays, off sale");
}
