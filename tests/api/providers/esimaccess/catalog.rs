//! The catalog: every package normalised (top-ups skipped, months as 30 days, throttled
//! daily allowances as unlimited), and `catalog sync` against it.

use serde_json::json;
use sqlx::PgPool;
use tavaro::provider::esimaccess::EsimAccess;
use tavaro::provider::{Provider, UpstreamCountry};
use wiremock::MockServer;

use super::{SPAIN, mount};
use crate::helpers::import_demo_catalog;
use crate::providers::common::{Upstream, json_body, ok, sync_with};

#[tokio::test]
async fn the_catalog_is_normalised_package_by_package() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/package/list",
        ok(EsimAccess::fixture("packages.json")),
    )
    .await;
    let packages = EsimAccess::against(&server).packages().await.unwrap();

    let request = &EsimAccess::requests_to(&server, "/package/list").await[0];
    assert_eq!(
        json_body(request),
        json!({"locationCode": "", "type": "BASE"})
    );
    let skus: Vec<&str> = packages.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(
        skus,
        [SPAIN, "CKH007", "CKH822", "CKH240", "CKH901"],
        "top-up skipped"
    );
    let country = |code: &str, name: &str| UpstreamCountry {
        code: code.into(),
        name: name.into(),
    };

    let spain = &packages[0];
    assert_eq!(spain.name, "Spain 1GB 7Days");
    assert_eq!(spain.cost_e4, 15_000);
    assert_eq!(spain.currency, "USD");
    assert_eq!(spain.data_mb, Some(1024));
    assert_eq!(spain.days, 7);
    assert_eq!(spain.countries, [country("ES", "Spain")]);
    assert_eq!((spain.region.as_deref(), spain.global), (None, false));
    assert_eq!(spain.networks, ["4G", "5G"]);
    assert_eq!(spain.carriers, ["Orange", "Vodafone"]);
    assert_eq!(
        (spain.top_up, spain.hotspot, spain.throttle),
        (Some(true), None, None)
    );

    let europe = &packages[1];
    assert_eq!(europe.region.as_deref(), Some("Europe"));
    assert!(!europe.global);
    assert_eq!(
        europe.countries,
        [
            country("DE", "Germany"),
            country("FR", "France"),
            country("IT", "Italy")
        ]
    );
    assert_eq!(
        (europe.data_mb, europe.days, europe.cost_e4),
        (Some(3072), 15, 57_000)
    );
    assert_eq!(europe.networks, ["3G", "4G", "5G"]);
    assert_eq!(europe.top_up, Some(false));

    let global = &packages[2];
    assert!(global.global);
    assert_eq!(global.region, None);
    assert_eq!(global.countries.len(), 3);

    let japan = &packages[3];
    assert_eq!(
        (japan.days, japan.data_mb),
        (30, Some(10_240)),
        "a month is 30 days"
    );
    assert_eq!(
        japan.countries,
        [country("JP", "JP")],
        "no names: the code stands in"
    );

    let daily = &packages[4];
    assert_eq!(
        daily.data_mb, None,
        "a throttled daily allowance is sold as unlimited"
    );
    assert_eq!(daily.throttle, Some((2048, 512)));
    assert_eq!((daily.cost_e4, daily.days), (45_000, 10));
}

#[sqlx::test]
async fn catalog_sync_changes_nothing_the_second_time_and_deactivates_dropped_packages(db: PgPool) {
    // The countries exist already, as in any running deployment: `catalog sync` writes a
    // region's members in code order and cannot yet create a member country that sorts
    // after its region (`EUROPE` before `FR`) in an empty database.
    import_demo_catalog(&db).await;
    let server = MockServer::start().await;
    let catalog = EsimAccess::fixture("packages.json");
    mount(&server, "/package/list", ok(catalog.clone())).await;
    let esimaccess = EsimAccess::against(&server);

    let first = sync_with(&db, &esimaccess).await;
    assert_eq!((first.fetched, first.added), (5, 5), "{first:?}");
    let second = sync_with(&db, &esimaccess).await;
    assert_eq!(
        (second.added, second.updated, second.deactivated),
        (0, 0, 0),
        "{second:?}"
    );
    assert_eq!(second.unchanged, first.added);

    let mut smaller = catalog;
    smaller["obj"]["packageList"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p["packageCode"] != "CKH007");
    server.reset().await;
    mount(&server, "/package/list", ok(smaller)).await;
    let third = sync_with(&db, &esimaccess).await;
    assert_eq!(third.deactivated, 1, "{third:?}");
    let active: bool = sqlx::query_scalar(
        "select active from plans where provider = 'esimaccess' and provider_sku = 'CKH007'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(!active);
    let area: String = sqlx::query_scalar(
        "select area_code from plans where provider = 'esimaccess' and provider_sku = 'CKH822'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(area, "GLOBAL");
}
