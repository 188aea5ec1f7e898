//! The catalogue: read page by page, every SIM package normalised (top-ups skipped), and
//! `catalog sync` against it.

use std::collections::BTreeMap;

use sqlx::PgPool;
use tavaro::provider::airalo::Airalo;
use tavaro::provider::{Provider, UpstreamCountry};
use wiremock::Mock;
use wiremock::matchers::{method, path};

use super::{GREECE_1GB, TOKEN, mount_catalogue, server, token_answer};
use crate::helpers::import_demo_catalog;
use crate::providers::common::{self, Upstream};

fn country(code: &str, name: &str) -> UpstreamCountry {
    UpstreamCountry {
        code: code.into(),
        name: name.into(),
    }
}

#[tokio::test]
async fn the_catalogue_is_read_page_by_page_and_every_sim_package_normalised() {
    let server = server().await;
    mount_catalogue(&server, Airalo::fixture("packages_page2.json")).await;
    let packages = Airalo::against(&server)
        .packages()
        .await
        .expect("catalogue");

    let skus: Vec<&str> = packages.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(
        skus,
        [
            GREECE_1GB,
            "meraki-mobile-30days-5gb",
            "eurolink-7days-1gb",
            "discover-global-unlimited-10days"
        ],
        "the top-up is skipped"
    );
    let greece = &packages[0];
    assert_eq!(greece.name, "Greece 1 GB - 7 Days");
    assert_eq!(greece.countries, [country("GR", "Greece")]);
    assert_eq!((greece.region.clone(), greece.global), (None, false));
    assert_eq!((greece.days, greece.data_mb), (7, Some(1024)));
    assert_eq!((greece.cost_e4, greece.currency.as_str()), (40_000, "USD"));
    assert_eq!(greece.networks, ["4G", "5G"]);
    assert_eq!(greece.carriers, ["Cosmote", "Wind"]);
    assert_eq!(
        (greece.top_up, greece.hotspot, greece.throttle),
        (Some(true), None, None)
    );

    let strings = &packages[1];
    assert_eq!(
        (strings.days, strings.data_mb, strings.cost_e4),
        (30, Some(5120), 132_000)
    );

    let europe = &packages[2];
    assert_eq!(
        europe.countries,
        [
            country("DE", "Germany"),
            country("FR", "France"),
            country("IT", "Italy")
        ]
    );
    assert_eq!(
        (europe.region.as_deref(), europe.global),
        (Some("Europe"), false)
    );
    assert_eq!(
        (europe.days, europe.data_mb, europe.cost_e4),
        (7, Some(1024), 43_500)
    );
    assert_eq!(europe.networks, ["4G", "5G", "LTE"]);
    assert_eq!(europe.carriers, ["Orange", "TIM", "Vodafone"]);
    assert_eq!(europe.top_up, Some(false));

    let world = &packages[3];
    assert_eq!((world.region.clone(), world.global), (None, true));
    assert_eq!(
        world.countries,
        [country("JP", "Japan"), country("US", "United States")]
    );
    assert_eq!((world.days, world.data_mb), (10, None), "unlimited");
    assert_eq!(world.cost_e4, 455_000, "from prices.net_price.USD");

    let pages = Airalo::requests_to(&server, "/packages").await;
    assert_eq!(pages.len(), 2);
    for (n, page) in pages.iter().enumerate() {
        let query: BTreeMap<String, String> = page.url.query_pairs().into_owned().collect();
        assert_eq!(query["page"], (n + 1).to_string());
        assert_eq!(query["limit"], "100");
    }
}

#[sqlx::test]
async fn catalog_sync_twice_changes_nothing_and_a_dropped_package_is_deactivated(db: PgPool) {
    // A deployed gateway's countries (`catalog sync` on an empty database cannot yet
    // create a region before the member countries whose codes sort after its own).
    import_demo_catalog(&db).await;
    let server = server().await;
    mount_catalogue(&server, Airalo::fixture("packages_page2.json")).await;
    let airalo = Airalo::against(&server);
    let first = common::sync_with(&db, &airalo).await;
    assert_eq!((first.fetched, first.added), (4, 4), "{first:?}");
    assert!(first.skipped.is_empty(), "{first:?}");
    let second = common::sync_with(&db, &airalo).await;
    assert_eq!(
        (second.added, second.updated, second.deactivated),
        (0, 0, 0),
        "{second:?}"
    );
    assert_eq!(second.unchanged, first.added);

    let mut smaller = Airalo::fixture("packages_page2.json");
    smaller["data"].as_object_mut().unwrap().remove("2");
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(token_answer(TOKEN, 86_400))
        .mount(&server)
        .await;
    mount_catalogue(&server, smaller).await;
    let third = common::sync_with(&db, &airalo).await;
    assert_eq!((third.deactivated, third.unchanged), (1, 3), "{third:?}");
    let plan = common::plan_for_sku(&db, "airalo", "discover-global-unlimited-10days").await;
    let active: bool = sqlx::query_scalar("select active from plans where id = $1")
        .bind(&plan)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(!active);
}
