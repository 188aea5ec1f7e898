//! The catalog: each geography read page by page with `page` and `pageSize` until a short
//! page (a repeated page stops it too), every package normalised, and `catalog sync`
//! against it.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::provider::roamify::Roamify;
use tavaro::provider::{Provider, UpstreamCountry, UpstreamPackage};
use wiremock::matchers::query_param;
use wiremock::{MockServer, ResponseTemplate};

use super::{authed, mount_catalog, mount_catalog_with, packages_page};
use crate::helpers::import_demo_catalog;
use crate::providers::common::{Upstream, ok, sync_with};

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

/// The query strings of every request `server` received, in order.
async fn asked(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.query().unwrap_or("").to_owned())
        .collect()
}

/// The query of page `page` of `geography`.
fn page_query(geography: &str, page: u32) -> String {
    format!("geography={geography}&page={page}&pageSize=50")
}

#[tokio::test]
async fn the_catalog_is_read_per_geography_with_page_and_page_size_and_every_package_normalised() {
    let server = MockServer::start().await;
    mount_catalog(&server).await;

    let packages = Roamify::against(&server)
        .packages()
        .await
        .expect("the catalog reads");

    // The top-up offer in the global group is not sold as a plan.
    assert_eq!(packages, expected_catalog());
    // Three groups is fewer than a page of 50: one request per geography.
    assert_eq!(
        asked(&server).await,
        vec![
            page_query("local", 1),
            page_query("regional", 1),
            page_query("global", 1),
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
    let mut local = Roamify::fixture("packages_local.json");
    local["data"]["packages"][1]["packages"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p["packageId"] != "esim-canada-30days-3gb-all");
    server.reset().await;
    mount_catalog_with(&server, local).await;

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

/// The SKU of generated local group `n`.
fn generated_sku(n: usize) -> String {
    format!("esim-generated-{n:03}-7days-1gb-all")
}

/// Local group `n` of a generated catalog: a country of its own (`AA`, `AB`, …) with one
/// 1 GB, 7-day package, shaped as Roamify's documented groups.
fn generated_group(n: usize) -> Value {
    let code: String = [n / 26, n % 26]
        .iter()
        .map(|&i| char::from(b'A' + u8::try_from(i).unwrap()))
        .collect();
    let name = format!("Country {code}");
    json!({
        "id": format!("country-{n:03}-esims"),
        "countryName": name,
        "countryCode": code,
        "region": "Test",
        "geography": "local",
        "signals": [{ "code": code, "name": name, "networks": ["4G"], "carriers": ["Carrier"] }],
        "packages": [{
            "packageId": generated_sku(n),
            "package": "1 GB - 7 Days",
            "plan": "data-only",
            "activation": "first-use",
            "day": 7,
            "price": 5,
            "isUnlimited": false,
            "dataAmount": 1024,
            "dataUnit": "MB",
            "withHotspot": true,
            "withThrottle": false,
            "notes": []
        }]
    })
}

/// A packages answer listing `groups`, as Roamify sends a page (no paging metadata).
fn packages_answer(groups: &[Value]) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({ "status": "success", "data": { "packages": groups } }))
}

/// Mounts the regional and global fixtures, one page each.
async fn mount_regional_and_global(server: &MockServer) {
    for geography in ["regional", "global"] {
        packages_page(geography, 1)
            .respond_with(ok(Roamify::fixture(&format!("packages_{geography}.json"))))
            .mount(server)
            .await;
    }
}

/// Whether `sku` is an active Roamify plan.
async fn sold(db: &PgPool, sku: &str) -> bool {
    sqlx::query_scalar(
        "select coalesce(bool_or(active), false) from plans
         where provider = 'roamify' and provider_sku = $1",
    )
    .bind(sku)
    .fetch_one(db)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_local_catalog_of_120_groups_is_synced_over_three_pages_and_a_second_sync_changes_nothing(
    db: PgPool,
) {
    import_demo_catalog(&db).await;
    let server = MockServer::start().await;
    let groups: Vec<Value> = (0..120).map(generated_group).collect();
    // 50, 50 and 20 groups; only a request with `page` and `pageSize=50` is answered.
    for (page, chunk) in (1..).zip(groups.chunks(50)) {
        packages_page("local", page)
            .respond_with(packages_answer(chunk))
            .mount(&server)
            .await;
    }
    mount_regional_and_global(&server).await;
    let roamify = Roamify::against(&server);

    let first = sync_with(&db, &roamify).await;
    // 120 local packages, Europe's and the global one (its top-up offer is not a plan).
    assert_eq!(first.fetched, 122, "{first:?}");
    assert_eq!(first.added, 122, "{first:?}");
    assert!(first.skipped.is_empty(), "{:?}", first.skipped);
    for n in [0, 49, 50, 99, 100, 119] {
        assert!(sold(&db, &generated_sku(n)).await, "group {n} is sold");
    }
    let one_sync = vec![
        page_query("local", 1),
        page_query("local", 2),
        page_query("local", 3),
        page_query("regional", 1),
        page_query("global", 1),
    ];
    assert_eq!(asked(&server).await, one_sync);

    let second = sync_with(&db, &roamify).await;
    assert_eq!(second.fetched, 122);
    assert_eq!(
        (second.added, second.updated, second.deactivated),
        (0, 0, 0),
        "{second:?}"
    );
    assert_eq!(second.unchanged, 122);
    assert_eq!(asked(&server).await, [one_sync.clone(), one_sync].concat());
}

/// Text log lines written while the guard of [`capture_warnings`] lives.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Captures this thread's warnings (the test runtime is single-threaded) until the guard
/// is dropped.
fn capture_warnings() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[sqlx::test]
async fn a_page_that_repeats_the_previous_one_stops_paging_with_a_warning(db: PgPool) {
    import_demo_catalog(&db).await;
    let server = MockServer::start().await;
    let groups: Vec<Value> = (0..50).map(generated_group).collect();
    // An upstream that ignores `page`: every local page is the same full page.
    authed("GET", "/api/esim/packages")
        .and(query_param("geography", "local"))
        .and(query_param("pageSize", "50"))
        .respond_with(packages_answer(&groups))
        .mount(&server)
        .await;
    mount_regional_and_global(&server).await;
    let (warnings, _guard) = capture_warnings();

    let report = sync_with(&db, &Roamify::against(&server)).await;

    // The 50 local packages once, then the other geographies as usual.
    assert_eq!(report.fetched, 52, "{report:?}");
    assert_eq!(report.added, 52, "{report:?}");
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert!(sold(&db, &generated_sku(49)).await);
    assert_eq!(
        asked(&server).await,
        vec![
            page_query("local", 1),
            page_query("local", 2),
            page_query("regional", 1),
            page_query("global", 1),
        ]
    );
    let warnings = warnings.text();
    assert!(
        warnings.contains("WARN")
            && warnings.contains("catalog page with one already read")
            && warnings.contains(r#"geography="local" page=2"#),
        "{warnings}"
    );
}

#[sqlx::test]
async fn a_sync_cut_short_by_a_repeated_page_keeps_the_plans_it_did_not_see_on_sale(db: PgPool) {
    import_demo_catalog(&db).await;
    let server = MockServer::start().await;
    let groups: Vec<Value> = (0..60).map(generated_group).collect();
    // 50 and 10 groups: all 60 sold.
    for (page, chunk) in (1..).zip(groups.chunks(50)) {
        packages_page("local", page)
            .respond_with(packages_answer(chunk))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    mount_regional_and_global(&server).await;
    let roamify = Roamify::against(&server);
    let first = sync_with(&db, &roamify).await;
    assert_eq!(first.added, 62, "{first:?}");

    // Then Roamify ignores `page`: page 2 repeats page 1, and paging stops there.
    packages_page("local", 1)
        .respond_with(packages_answer(&groups[..50]))
        .mount(&server)
        .await;
    packages_page("local", 2)
        .respond_with(packages_answer(&groups[..50]))
        .mount(&server)
        .await;
    let second = sync_with(&db, &roamify).await;
    assert_eq!((second.fetched, second.deactivated), (52, 0), "{second:?}");
    assert!(
        second
            .incomplete
            .as_deref()
            .is_some_and(|why| why.contains("local page 2 repeated")),
        "{second:?}"
    );
    for n in [0, 50, 59] {
        assert!(
            sold(&db, &generated_sku(n)).await,
            "group {n} is still sold"
        );
    }
}
