//! The catalog: one request per geography, paging followed to the last page, every
//! package normalised, and `catalog sync` against it.

use sqlx::PgPool;
use tavaro::provider::roamify::Roamify;
use tavaro::provider::{Provider, UpstreamCountry, UpstreamPackage};
use wiremock::MockServer;

use super::{mount_catalog, mount_catalog_with};
use crate::helpers::import_demo_catalog;
use crate::providers::common::{Upstream, sync_with};

fn countries(list: &[(&str, &str)]) -> Vec<UpstreamCountry> {
    list.iter()
        .map(|(code, name)| UpstreamCountry {
            code: (*code).into(),
            name: (*name).into(),
        })
        .collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn local(sku: &str, name: &str, country: (&str, &str), days: i32, data_mb: i32) -> UpstreamPackage {
    UpstreamPackage {
        sku: sku.into(),
        name: name.into(),
        countries: countries(&[country]),
        region: None,
        global: false,
        days,
        data_mb: Some(data_mb),
        cost_e4: 0,
        currency: "USD".into(),
        networks: vec![],
        carriers: vec![],
        hotspot: Some(true),
        top_up: None,
        throttle: None,
    }
}

fn expected_catalog() -> Vec<UpstreamPackage> {
    let afghanistan = UpstreamPackage {
        cost_e4: 50_000,
        networks: strings(&["3G", "4G"]),
        carriers: strings(&["MTN"]),
        ..local(
            "esim-afghanistan-7days-1gb-all",
            "1 GB - 7 Days",
            ("AF", "Afghanistan"),
            7,
            1024,
        )
    };
    let canada = |p: UpstreamPackage| UpstreamPackage {
        networks: strings(&["4G", "5G"]),
        carriers: strings(&["Bell", "Rogers"]),
        ..p
    };
    let canada_unlimited = canada(UpstreamPackage {
        data_mb: None,
        cost_e4: 13_200,
        // 2 GB at full speed, then 128 kbps.
        throttle: Some((2048, 128)),
        ..local(
            "esim-canada-15days-un2gb-all",
            "Unlimited Data - 15 Days (2 GB / 128 KBPS)",
            ("CA", "Canada"),
            15,
            1,
        )
    });
    let canada_3gb = canada(UpstreamPackage {
        cost_e4: 43_500,
        hotspot: Some(false),
        ..local(
            "esim-canada-30days-3gb-all",
            "3 GB - 30 Days",
            ("CA", "Canada"),
            30,
            3072,
        )
    });
    let cambodia = UpstreamPackage {
        cost_e4: 45_000,
        networks: strings(&["4G"]),
        carriers: strings(&["Cellcard", "Smart"]),
        ..local(
            "esim-cambodia-7days-1gb-all",
            "1 GB - 7 Days",
            ("KH", "Cambodia"),
            7,
            1024,
        )
    };
    let europe = UpstreamPackage {
        sku: "esim-europe-30days-10gb-all".into(),
        name: "10 GB - 30 Days".into(),
        countries: countries(&[("DE", "Germany"), ("ES", "Spain"), ("FR", "France")]),
        region: Some("Europe".into()),
        global: false,
        days: 30,
        data_mb: Some(10_240),
        cost_e4: 185_000,
        currency: "USD".into(),
        networks: strings(&["4G", "5G"]),
        carriers: strings(&["Movistar", "Orange", "SFR", "Telekom", "Vodafone"]),
        hotspot: Some(false),
        top_up: None,
        throttle: None,
    };
    let global = UpstreamPackage {
        sku: "esim-global-10days-unlimited-all".into(),
        name: "Unlimited Data - 10 Days (500 MB / 1 MBPS)".into(),
        countries: countries(&[("BR", "Brazil"), ("JP", "Japan"), ("US", "United States")]),
        region: None,
        global: true,
        days: 10,
        data_mb: None,
        cost_e4: 290_000,
        currency: "USD".into(),
        networks: strings(&["4G", "5G"]),
        carriers: strings(&["Docomo", "T-Mobile", "Vivo"]),
        hotspot: Some(true),
        top_up: None,
        // 500 MB at full speed, then 1 Mbps.
        throttle: Some((500, 1000)),
    };
    vec![
        afghanistan,
        canada_unlimited,
        canada_3gb,
        cambodia,
        europe,
        global,
    ]
}

#[tokio::test]
async fn the_catalog_is_read_per_geography_and_paged_to_the_last_page_with_every_package_normalised()
 {
    let server = MockServer::start().await;
    mount_catalog(&server).await;

    let packages = Roamify::against(&server)
        .packages()
        .await
        .expect("the catalog reads");

    // The top-up offer in the global group is not sold as a plan.
    assert_eq!(packages, expected_catalog());
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.query().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        asked,
        vec![
            "geography=local",
            "geography=local&page=2&limit=2",
            "geography=regional",
            "geography=global",
        ]
    );
}

#[sqlx::test]
async fn catalog_sync_twice_changes_nothing_and_a_dropped_package_is_deactivated(db: PgPool) {
    // As in production, the countries exist before a sync (`catalog sync` on an empty
    // database inserts a region's members before some of their countries).
    import_demo_catalog(&db).await;
    let server = MockServer::start().await;
    mount_catalog(&server).await;
    let roamify = Roamify::against(&server);

    let first = sync_with(&db, &roamify).await;
    assert_eq!(first.fetched, 6);
    assert_eq!(first.added, 6, "{first:?}");
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);

    let second = sync_with(&db, &roamify).await;
    assert_eq!(
        (second.added, second.updated, second.deactivated),
        (0, 0, 0)
    );
    assert_eq!(second.unchanged, first.added);

    // Canada's 3 GB package leaves the catalog.
    let mut page1 = Roamify::fixture("packages_local_page1.json");
    page1["data"]["packages"][1]["packages"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p["packageId"] != "esim-canada-30days-3gb-all");
    server.reset().await;
    mount_catalog_with(&server, page1).await;

    let third = sync_with(&db, &roamify).await;
    assert_eq!(third.deactivated, 1, "{third:?}");
    assert_eq!(third.unchanged, 5);
    let active: bool = sqlx::query_scalar(
        "select active from plans where provider = 'roamify' and provider_sku = $1",
    )
    .bind("esim-canada-30days-3gb-all")
    .fetch_one(&db)
    .await
    .expect("the plan row is kept");
    assert!(!active);
}
