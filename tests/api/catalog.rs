//! `/v1/countries`, `/v1/packages`, markup pricing, and catalog imports.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::catalog::{self, CatalogFile};

use crate::helpers::{assert_error, cents, demo_catalog_path, spawn_app, success_data};

#[sqlx::test]
async fn countries_lists_every_area_with_plans_sorted_by_name(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let data = success_data(app.get("/v1/countries", &partner.key).await, StatusCode::OK).await;
    let list = data.as_array().unwrap();
    assert!(list.len() >= 44, "40+ countries, 3+ regions, 1 global");

    let names: Vec<&str> = list.iter().map(|c| c["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    for code in [
        "AE", "IN", "GB", "US", "FR", "DE", "JP", "TH", "TR", "ES", "IT",
    ] {
        assert!(list.iter().any(|c| c["code"] == code), "{code} missing");
    }
    let ae = list.iter().find(|c| c["code"] == "AE").unwrap();
    assert_eq!(ae["name"], "United Arab Emirates");
    assert_eq!(ae["geography"], "local");
    assert_eq!(ae["countriesCovered"], 1);
    assert!(ae["planCount"].as_u64().unwrap() >= 4);
    assert!(
        ae["networks"]
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_string)
    );
    assert!(!ae["carriers"].as_array().unwrap().is_empty());
    // The cheapest AE plan in the demo catalog is 1GB/7 days at 4.50 net.
    assert_eq!(ae["fromPrice"], json!(4.5));

    let regional = list.iter().filter(|c| c["geography"] == "regional").count();
    let global: Vec<_> = list.iter().filter(|c| c["geography"] == "global").collect();
    assert!(regional >= 3);
    assert_eq!(global.len(), 1);
    assert!(global[0]["countriesCovered"].as_u64().unwrap() > 1);
}

#[sqlx::test]
async fn countries_filter_by_geography_and_refuse_bad_filters(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let data = success_data(
        app.get("/v1/countries?geography=regional", &partner.key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        data.as_array()
            .unwrap()
            .iter()
            .all(|c| c["geography"] == "regional")
    );
    assert!(!data.as_array().unwrap().is_empty());

    let body = assert_error(
        app.get("/v1/countries?geography=continental", &partner.key)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "geography");
    let body = assert_error(
        app.get("/v1/countries?colour=blue", &partner.key).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "colour");
}

#[sqlx::test]
async fn packages_for_a_country_include_covering_regional_plans_sorted_by_days_then_price(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let data = success_data(
        app.get("/v1/packages?country=AE", &partner.key).await,
        StatusCode::OK,
    )
    .await;
    let plans = data.as_array().unwrap();
    assert!(plans.iter().any(|p| p["geography"] == "local"));
    assert!(
        plans.iter().any(|p| p["geography"] != "local"),
        "regional/global plans covering AE"
    );
    for plan in plans {
        let covers_ae = plan["coverage"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "AE");
        assert!(covers_ae, "{plan}");
    }
    let keys: Vec<(i64, i64)> = plans
        .iter()
        .map(|p| (p["days"].as_i64().unwrap(), cents(&p["price"])))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);

    let plan = plans.iter().find(|p| p["planId"] == "ae-5gb-7d").unwrap();
    assert_eq!(plan["country"], "AE");
    assert_eq!(plan["days"], 7);
    assert_eq!(plan["data"], "5GB");
    assert_eq!(plan["dataMb"], 5120);
    assert_eq!(plan["price"], json!(7.5));
    assert_eq!(plan["currency"], "USD");
    assert_eq!(plan["activation"], "first-use");
    for flag in ["hotspot", "dataRoaming", "topUp"] {
        assert!(plan[flag].is_boolean(), "{flag}");
    }
    assert_eq!(plan["coverage"][0]["code"], "AE");
    assert_eq!(plan["coverage"][0]["name"], "United Arab Emirates");
    assert!(plan["throttle"].is_null());

    let local = success_data(
        app.get("/v1/packages?country=ae&geography=local", &partner.key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        local
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["country"] == "AE")
    );
    let week = success_data(
        app.get("/v1/packages?country=AE&days=7", &partner.key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(week.as_array().unwrap().iter().all(|p| p["days"] == 7));
    assert!(!week.as_array().unwrap().is_empty());
}

#[sqlx::test]
async fn unlimited_plans_carry_a_fair_use_throttle(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let data = success_data(app.get("/v1/packages", &partner.key).await, StatusCode::OK).await;
    let plans = data.as_array().unwrap();
    assert!(plans.len() >= 200);
    let unlimited: Vec<_> = plans.iter().filter(|p| p["data"] == "Unlimited").collect();
    assert!(!unlimited.is_empty());
    for plan in unlimited {
        assert!(plan["dataMb"].is_null());
        assert!(plan["throttle"]["afterMb"].as_i64().unwrap() > 0);
        assert!(plan["throttle"]["speedKbps"].as_i64().unwrap() > 0);
        assert!(plan["throttle"]["description"].as_str().is_some());
    }
}

#[sqlx::test]
async fn packages_refuse_unknown_countries_and_bad_filters(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    assert_error(
        app.get("/v1/packages?country=XX", &partner.key).await,
        StatusCode::NOT_FOUND,
        "country_not_found",
    )
    .await;
    for (query, field) in [
        ("days=abc", "days"),
        ("days=0", "days"),
        ("days=-1", "days"),
        ("days=7.5", "days"),
        ("geography=galactic", "geography"),
        ("country=A1", "country"),
        ("sort=price", "sort"),
    ] {
        let body = assert_error(
            app.get(&format!("/v1/packages?{query}"), &partner.key)
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
        assert_eq!(
            body["error"]["details"]["fields"][0]["field"], field,
            "{query}"
        );
    }
}

#[sqlx::test]
async fn prices_carry_each_partners_markup_rounded_half_up(db: PgPool) {
    let app = spawn_app(db).await;
    let plain = app.create_partner("plain", "0", "0").await;
    let twenty = app.create_partner("twenty", "20", "0").await;
    let odd = app.create_partner("odd", "12.5", "0").await;
    let price_of = |data: &Value| {
        data.as_array()
            .unwrap()
            .iter()
            .find(|p| p["planId"] == "ae-5gb-7d")
            .unwrap()["price"]
            .clone()
    };
    let path = "/v1/packages?country=AE";
    assert_eq!(
        price_of(&success_data(app.get(path, &plain.key).await, StatusCode::OK).await),
        json!(7.5)
    );
    assert_eq!(
        price_of(&success_data(app.get(path, &twenty.key).await, StatusCode::OK).await),
        json!(9)
    );
    // 7.50 × 1.125 = 8.4375 → 8.44
    assert_eq!(
        price_of(&success_data(app.get(path, &odd.key).await, StatusCode::OK).await),
        json!(8.44)
    );

    let countries = success_data(app.get("/v1/countries", &twenty.key).await, StatusCode::OK).await;
    let ae = countries
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "AE")
        .unwrap()
        .clone();
    assert_eq!(ae["fromPrice"], json!(5.4), "4.50 × 1.2");
}

#[sqlx::test]
async fn importing_the_catalog_twice_changes_nothing(db: PgPool) {
    let app = spawn_app(db).await;
    let counts = |db: PgPool| async move {
        let q =
            "select (select count(*) from areas) + 1000 * (select count(*) from plans where active)
                        + 1000000 * (select count(*) from plan_coverage)";
        sqlx::query_scalar::<_, i64>(q)
            .fetch_one(&db)
            .await
            .unwrap()
    };
    let before = counts(app.db.clone()).await;
    let file = CatalogFile::read(&demo_catalog_path()).unwrap();
    let report = catalog::import_file(&app.db, &file).await.unwrap();
    assert_eq!(report.deactivated, 0);
    assert_eq!(report.plans, file.plans.len());
    assert_eq!(counts(app.db.clone()).await, before);
}

#[sqlx::test]
async fn a_catalog_import_reaches_running_servers_and_withdrawn_plans_stop_selling(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let mut raw: Value =
        serde_json::from_str(&std::fs::read_to_string(demo_catalog_path()).unwrap()).unwrap();
    let plans = raw["plans"].as_array_mut().unwrap();
    plans.retain(|p| p["id"] != "ae-5gb-7d");
    let ae_1gb = plans.iter_mut().find(|p| p["id"] == "ae-1gb-7d").unwrap();
    ae_1gb["netPriceCents"] = json!(399);
    let dir = tempdir();
    let path = dir.join("catalog.json");
    std::fs::write(&path, serde_json::to_vec(&raw).unwrap()).unwrap();

    let report = catalog::import_file(&app.db, &CatalogFile::read(&path).unwrap())
        .await
        .unwrap();
    assert_eq!(report.deactivated, 1);

    let started = Instant::now();
    loop {
        let data = success_data(
            app.get("/v1/packages?country=AE&geography=local", &partner.key)
                .await,
            StatusCode::OK,
        )
        .await;
        let list = data.as_array().unwrap();
        let gone = !list.iter().any(|p| p["planId"] == "ae-5gb-7d");
        let repriced = list
            .iter()
            .any(|p| p["planId"] == "ae-1gb-7d" && p["price"] == json!(3.99));
        if gone && repriced {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "snapshot not refreshed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let response = app
        .order(&partner.key, &json!({"planId": "ae-5gb-7d"}))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "plan_not_found").await;
}

#[sqlx::test]
async fn a_catalog_file_with_broken_references_is_refused_whole(db: PgPool) {
    let app = spawn_app(db).await;
    let mut raw: Value =
        serde_json::from_str(&std::fs::read_to_string(demo_catalog_path()).unwrap()).unwrap();
    raw["plans"][0]["country"] = json!("ZZ");
    let dir = tempdir();
    let path = dir.join("broken.json");
    std::fs::write(&path, serde_json::to_vec(&raw).unwrap()).unwrap();
    let err = CatalogFile::read(&path).unwrap_err();
    assert!(format!("{err:#}").contains("unknown area ZZ"), "{err:#}");
    std::fs::write(
        &path,
        br#"{"countries": [], "regions": [], "plans": [], "extra": 1}"#,
    )
    .unwrap();
    assert!(CatalogFile::read(&path).is_err());
    drop(app);
}

/// A fresh directory under the system temp dir.
fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tavaro-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Catalog answers go gzip-compressed to clients that accept it, as the same JSON.
#[sqlx::test]
async fn catalog_answers_are_gzipped_for_clients_that_accept_it(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "20", "0").await;
    for path in ["/v1/packages?country=FR", "/v1/countries"] {
        let fetch = |encoding: Option<&'static str>| {
            let mut request = app
                .client
                .get(format!("{}{path}", app.address))
                .bearer_auth(&partner.key);
            if let Some(encoding) = encoding {
                request = request.header("accept-encoding", encoding);
            }
            request.send()
        };
        let plain = fetch(None).await.unwrap();
        assert_eq!(plain.status(), StatusCode::OK);
        assert!(plain.headers().get("content-encoding").is_none());
        assert_eq!(plain.headers()["vary"], "accept-encoding");
        let plain = plain.bytes().await.unwrap();
        serde_json::from_slice::<Value>(&plain).expect("plain JSON");

        for accepted in ["gzip", "br;q=1.0, gzip;q=0.8, *;q=0.1", "identity, *"] {
            let zipped = fetch(Some(accepted)).await.unwrap();
            assert_eq!(zipped.status(), StatusCode::OK, "{path} {accepted}");
            assert_eq!(zipped.headers()["content-encoding"], "gzip", "{accepted}");
            assert_eq!(zipped.headers()["content-type"], "application/json");
            assert_eq!(zipped.headers()["vary"], "accept-encoding");
            let zipped = zipped.bytes().await.unwrap();
            assert!(
                zipped.len() < plain.len() / 4,
                "{path}: {} bytes",
                zipped.len()
            );
            let mut unzipped = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(&zipped[..]),
                &mut unzipped,
            )
            .unwrap();
            assert_eq!(unzipped, plain, "{path}: the same answer");
        }
        for refused in ["gzip;q=0", "identity", "br", "gzip;q=0, *"] {
            let response = fetch(Some(refused)).await.unwrap();
            assert!(
                response.headers().get("content-encoding").is_none(),
                "{path} {refused}"
            );
            assert_eq!(response.bytes().await.unwrap(), plain);
        }
    }
}
