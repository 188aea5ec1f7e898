//! The eSIM Go adapter against a wiremock eSIM Go (fixtures in `tests/fixtures/esimgo/`,
//! built from the v2.4 spec's and guides' examples), alone and routed in the gateway.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::esims::EsimStatus;
use tavaro::ids::OrderId;
use tavaro::provider::esimgo::EsimGo;
use tavaro::provider::{
    EsimRef, LookupRequest, OrderLookup, Provider, ProviderError, ProvisionRequest, Refusal,
    UpstreamCountry,
};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use crate::helpers::{TestApp, success_data};
use crate::providers::common::{
    self, CREDENTIAL, TIMEOUT, fixture_json, plan_for_sku, spawn_gateway, sync_into, sync_with,
    upstream_config,
};

const PROVIDER: &str = "esimgo";
const BASE: &str = "/v2.4";
const NL: &str = "esim_1GB_7D_NL_V2";
const ICCID: &str = "8944538532008160222";

fn adapter(server: &MockServer) -> EsimGo {
    EsimGo::new(upstream_config(server, BASE))
}

fn fixture(name: &str) -> Value {
    fixture_json(PROVIDER, name)
}

/// A mock of `verb BASE+route` that only answers requests carrying our API key.
fn api(verb: &str, route: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(format!("{BASE}{route}")))
        .and(header("X-API-Key", CREDENTIAL))
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn refusal(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "message": message }))
}

fn order_of(sku: &str, quantity: u32) -> ProvisionRequest {
    ProvisionRequest {
        order_ref: OrderId::new(),
        plan_id: "esimgo-plan".into(),
        sku: sku.into(),
        unit_cost_e4: Some(22_800),
        quantity,
        days: 7,
        data_mb: Some(1000),
    }
}

fn lookup_of(reference: Option<&str>, sku: &str, quantity: u32) -> LookupRequest {
    LookupRequest {
        order_ref: OrderId::new(),
        provider_order_ref: reference.map(str::to_owned),
        sku: sku.into(),
        quantity,
        placed_at: Utc.with_ymd_and_hms(2025, 5, 22, 12, 51, 20).unwrap(),
    }
}

async fn mount_catalogue(server: &MockServer, pages: &[Value]) {
    for (i, page) in pages.iter().enumerate() {
        api("GET", "/catalogue")
            .and(query_param("page", (i + 1).to_string()))
            .and(query_param("perPage", "50"))
            .respond_with(ok(page.clone()))
            .mount(server)
            .await;
    }
}

async fn requests_to(server: &MockServer, route: &str) -> Vec<Request> {
    let route = format!("{BASE}{route}");
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == route)
        .collect()
}

fn header_of<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

// ---- auth ------------------------------------------------------------------------

#[tokio::test]
async fn every_request_carries_the_api_key_header_and_asks_for_json() {
    let server = MockServer::start().await;
    mount_catalogue(
        &server,
        &[
            fixture("catalogue_page1.json"),
            fixture("catalogue_page2.json"),
        ],
    )
    .await;
    api("GET", "/organisation")
        .respond_with(ok(fixture("organisation.json")))
        .mount(&server)
        .await;
    api("POST", "/orders")
        .respond_with(ok(fixture("order_transaction.json")))
        .mount(&server)
        .await;
    api("GET", &format!("/esims/{ICCID}/bundles"))
        .respond_with(ok(fixture("esim_bundles.json")))
        .mount(&server)
        .await;
    api("GET", &format!("/esims/{ICCID}"))
        .respond_with(ok(fixture("esim_details.json")))
        .mount(&server)
        .await;
    let esimgo = adapter(&server);

    esimgo.packages().await.expect("catalogue");
    esimgo.balance().await.expect("balance");
    esimgo.provision(&order_of(NL, 2)).await.expect("order");
    let esim = EsimRef {
        iccid: ICCID.into(),
        provider_ref: None,
        sku: Some(NL.into()),
    };
    esimgo.usage(&esim).await.expect("usage");

    let received = server.received_requests().await.unwrap();
    assert_eq!(
        received.len(),
        6,
        "two catalogue pages, balance, order, bundles, eSIM"
    );
    for request in &received {
        assert_eq!(
            header_of(request, "x-api-key"),
            Some(CREDENTIAL),
            "{}",
            request.url
        );
        assert_eq!(
            header_of(request, "accept"),
            Some("application/json"),
            "{}",
            request.url
        );
        assert!(!request.url.as_str().contains(CREDENTIAL));
    }
}

#[tokio::test]
async fn a_refused_api_key_is_an_auth_error_for_reads_and_orders() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(refusal(401, "Invalid API key"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(refusal(403, "Forbidden: API key is invalid"))
        .mount(&server)
        .await;
    let esimgo = adapter(&server);
    assert!(matches!(
        esimgo.balance().await,
        Err(ProviderError::Auth(_))
    ));
    assert!(matches!(
        esimgo.packages().await,
        Err(ProviderError::Auth(_))
    ));
    let refused = esimgo.provision(&order_of(NL, 1)).await.unwrap_err();
    assert!(matches!(refused, ProviderError::Auth(_)), "{refused:?}");
    assert!(!refused.to_string().contains(CREDENTIAL));
}

// ---- catalogue -------------------------------------------------------------------

#[tokio::test]
async fn the_catalogue_is_read_page_by_page_and_every_bundle_normalised() {
    let server = MockServer::start().await;
    mount_catalogue(
        &server,
        &[
            fixture("catalogue_page1.json"),
            fixture("catalogue_page2.json"),
        ],
    )
    .await;
    let packages = adapter(&server).packages().await.unwrap();
    assert_eq!(
        requests_to(&server, "/catalogue").await.len(),
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

    let packages = adapter(&server).packages().await.unwrap();
    assert_eq!(
        packages.len(),
        51,
        "the bundle without a data amount is not imported"
    );
    assert_eq!(requests_to(&server, "/catalogue").await.len(), 2);
    assert_eq!(packages[49].data_mb, Some(50_000));
    let wide = &packages[50];
    assert!(wide.global, "120 countries make a bundle global");
    assert_eq!((wide.region.as_deref(), wide.countries.len()), (None, 120));
}

#[sqlx::test]
async fn catalog_sync_is_idempotent_and_deactivates_a_dropped_bundle(db: PgPool) {
    let server = MockServer::start().await;
    let (page1, page2) = (
        fixture("catalogue_page1.json"),
        fixture("catalogue_page2.json"),
    );
    mount_catalogue(&server, &[page1.clone(), page2.clone()]).await;
    let esimgo = adapter(&server);
    // On an empty database the shared sync inserts a region (EUROPE) before member
    // countries whose codes sort after it (FR) and trips `area_countries`' foreign key;
    // the demo catalog provides the countries, as any running gateway has them.
    crate::helpers::import_demo_catalog(&db).await;

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
    let plan = plan_for_sku(&db, PROVIDER, "esim_3GB_15D_EUAS_V2").await;
    let active: bool = sqlx::query_scalar("select active from plans where id = $1")
        .bind(&plan)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(!active, "the dropped bundle's plan stays, off sale");
}

// ---- orders ----------------------------------------------------------------------

/// The gateway with eSIM Go configured against `server`, its catalogue synced, and a
/// partner with $100.
async fn gateway(
    db: PgPool,
    server: &MockServer,
) -> (TestApp, crate::helpers::TestPartner, String) {
    mount_catalogue(
        server,
        &[
            fixture("catalogue_page1.json"),
            fixture("catalogue_page2.json"),
        ],
    )
    .await;
    let app = spawn_gateway(db, |config| {
        config.providers.esimgo = Some(upstream_config(server, BASE));
    })
    .await;
    let report = sync_into(&app, PROVIDER).await;
    assert_eq!(report.added, 5, "{report:?}");
    let partner = app.create_partner("acme", "20", "100.00").await;
    let plan = plan_for_sku(&app.db, PROVIDER, NL).await;
    (app, partner, plan)
}

#[sqlx::test]
async fn an_order_through_the_gateway_issues_the_esims_esim_go_returned(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    api("POST", "/orders")
        .respond_with(ok(fixture("order_transaction.json")))
        .expect(1)
        .mount(&server)
        .await;

    let data = app
        .place(
            &partner.key,
            &json!({"planId": plan, "quantity": 2}),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(data["status"], "completed");
    let esims = data["esims"].as_array().unwrap();
    assert_eq!(esims.len(), 2);
    let expected = [
        (
            "8944538532008160222",
            "LPA:1$rsp-3104.idemia.io$E5VDM-X0LO3-3QRSB-0WPXG",
        ),
        (
            "8944538532008160230",
            "LPA:1$rsp-3104.idemia.io$K2L9P-7QW3E-RT5YU-8IOPA",
        ),
    ];
    for (esim, (iccid, lpa)) in esims.iter().zip(expected) {
        assert_eq!(esim["iccid"], iccid);
        assert_eq!(esim["lpaCode"], lpa);
        assert_eq!(esim["smdpAddress"], "rsp-3104.idemia.io");
    }
    // 2.28 + 20% margin = 2.736, rounded up to 2.74 a plan; two eSIMs.
    let price: i64 = sqlx::query_scalar("select net_price_cents from plans where id = $1")
        .bind(&plan)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(price, 274);
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 2 * 274);
    let reference: Option<String> =
        sqlx::query_scalar("select provider_order_ref from orders where partner_id = $1")
            .bind(partner.id.0)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        reference.as_deref(),
        Some("e268b769-1cb3-4335-aed8-52ecb78425e9")
    );
    app.assert_ledger_sound().await;

    let sent = requests_to(&server, "/orders").await;
    assert_eq!(sent.len(), 1);
    let request = &sent[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.query(), None);
    assert_eq!(header_of(request, "x-api-key"), Some(CREDENTIAL));
    assert_eq!(header_of(request, "content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    assert_eq!(body["type"], "transaction");
    assert_eq!(body["assign"], true);
    let lines = body["order"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].as_object().unwrap().len(), 4, "{body}");
    assert_eq!(lines[0]["type"], "bundle");
    assert_eq!(lines[0]["quantity"], 2);
    assert_eq!(lines[0]["item"], NL);
    assert_eq!(lines[0]["allowReassign"], false);
}

#[tokio::test]
async fn install_details_of_a_large_order_are_fetched_by_order_reference_as_json() {
    let server = MockServer::start().await;
    api("POST", "/orders")
        .respond_with(ok(fixture("order_without_esims.json")))
        .mount(&server)
        .await;
    api("GET", "/esims/assignments")
        .and(query_param(
            "reference",
            "1a2b3c4d-5e6f-4a8b-9c10-11d12e13f14a",
        ))
        .and(header("accept", "application/json"))
        .respond_with(ok(fixture("assignments.json")))
        .expect(1)
        .mount(&server)
        .await;

    let issued = adapter(&server).provision(&order_of(NL, 2)).await.unwrap();
    assert_eq!(
        issued.provider_order_ref.as_deref(),
        Some("1a2b3c4d-5e6f-4a8b-9c10-11d12e13f14a")
    );
    let first = &issued.esims[0];
    assert_eq!(first.iccid, "8944123456789012345");
    assert_eq!(
        first.smdp_address, "smdp.example.com",
        "the URL scheme is not part of an LPA"
    );
    assert_eq!(first.activation_code, "A1B2-C3D4-E5F6-G7H8");
    assert_eq!(first.provider_ref, None);
    assert_eq!(issued.esims[1].iccid, "8944123456789012353");
    assert_eq!(issued.esims[1].activation_code, "J9K8-L7M6-N5P4-Q3R2");
}

#[tokio::test]
async fn an_order_whose_esims_are_not_listed_in_time_is_accepted_with_its_reference() {
    let server = MockServer::start().await;
    api("POST", "/orders")
        .respond_with(ok(fixture("order_without_esims.json")))
        .mount(&server)
        .await;
    api("GET", "/esims/assignments")
        .respond_with(ok(json!([])))
        .mount(&server)
        .await;

    let started = Instant::now();
    let outcome = adapter(&server).provision(&order_of(NL, 2)).await;
    assert_eq!(
        outcome.unwrap_err(),
        ProviderError::Accepted {
            provider_order_ref: "1a2b3c4d-5e6f-4a8b-9c10-11d12e13f14a".into()
        }
    );
    assert!(
        started.elapsed() < TIMEOUT,
        "polls within two thirds of the time-out"
    );
    assert!(
        requests_to(&server, "/esims/assignments").await.len() >= 2,
        "polled more than once"
    );
}

#[tokio::test]
async fn an_order_answered_with_a_failed_status_is_left_to_the_lookup() {
    let server = MockServer::start().await;
    let mut failed = fixture("order_transaction.json");
    failed["status"] = json!("failed");
    failed["order"][0]["esims"] = json!([]);
    api("POST", "/orders")
        .respond_with(ok(failed))
        .mount(&server)
        .await;
    let outcome = adapter(&server).provision(&order_of(NL, 2)).await;
    assert!(
        matches!(outcome, Err(ProviderError::Accepted { ref provider_order_ref }) if provider_order_ref == "e268b769-1cb3-4335-aed8-52ecb78425e9"),
        "{outcome:?}"
    );
}

// ---- errors ----------------------------------------------------------------------

async fn provision_answered(answer: ResponseTemplate) -> ProviderError {
    let server = MockServer::start().await;
    api("POST", "/orders")
        .respond_with(answer)
        .mount(&server)
        .await;
    adapter(&server)
        .provision(&order_of(NL, 1))
        .await
        .unwrap_err()
}

async fn balance_answered(answer: ResponseTemplate) -> ProviderError {
    let server = MockServer::start().await;
    api("GET", "/organisation")
        .respond_with(answer)
        .mount(&server)
        .await;
    adapter(&server).balance().await.unwrap_err()
}

#[tokio::test]
async fn messages_about_balance_credit_or_funds_are_insufficient_funds() {
    for answer in [
        refusal(400, "Insufficient balance to complete this order"),
        refusal(403, "Organisation does not have enough credit"),
        refusal(400, "Not enough funds"),
        refusal(402, "Payment required"),
    ] {
        let error = provision_answered(answer).await;
        assert!(
            matches!(error, ProviderError::InsufficientFunds(_)),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn refusals_are_told_apart_by_their_message() {
    let cases = [
        ("Bundle esim_NOPE_V2 not found", Refusal::InvalidPackage),
        ("Invalid item: esim_1gb_7d_nl_v2", Refusal::InvalidPackage),
        ("Unknown bundle name", Refusal::InvalidPackage),
        (
            "Bundle esim_1GB_7D_NL_V2 is currently unavailable",
            Refusal::OutOfStock,
        ),
        ("Out of stock", Refusal::OutOfStock),
        ("quantity must be at least 1", Refusal::Other),
    ];
    for (message, reason) in cases {
        let error = provision_answered(refusal(400, message)).await;
        assert!(
            matches!(&error, ProviderError::Rejected { reason: r, message: m } if *r == reason && m.contains(message)),
            "{message}: {error:?}"
        );
    }
}

#[tokio::test]
async fn rate_limiting_is_reported_with_its_retry_after() {
    let limited = || refusal(429, "Rate limit exceeded").insert_header("Retry-After", "3");
    let expected = ProviderError::RateLimited {
        retry_after: Some(Duration::from_secs(3)),
    };
    assert_eq!(provision_answered(limited()).await, expected);
    assert_eq!(balance_answered(limited()).await, expected);
}

#[tokio::test]
async fn a_server_error_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let error = provision_answered(refusal(500, "Internal Server Error")).await;
    assert!(matches!(error, ProviderError::Unknown(_)), "{error:?}");
    let error = balance_answered(refusal(500, "Internal Server Error")).await;
    assert!(matches!(error, ProviderError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn processing_503_to_an_order_is_unknown_or_accepted_when_it_names_the_order() {
    let error = provision_answered(refusal(503, "Processing - Please come back later")).await;
    assert!(matches!(error, ProviderError::Unknown(_)), "{error:?}");
    let named = ResponseTemplate::new(503).set_body_json(
        json!({"message": "Processing", "orderReference": "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"}),
    );
    assert_eq!(
        provision_answered(named).await,
        ProviderError::Accepted {
            provider_order_ref: "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c".into()
        }
    );
}

#[tokio::test]
async fn a_time_out_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let late =
        || ok(fixture("order_transaction.json")).set_delay(TIMEOUT + Duration::from_millis(300));
    let error = provision_answered(late()).await;
    assert!(matches!(error, ProviderError::Unknown(_)), "{error:?}");
    let error = balance_answered(late()).await;
    assert!(matches!(error, ProviderError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn a_malformed_body_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let html = || ResponseTemplate::new(200).set_body_string("<html>gateway</html>");
    let error = provision_answered(html()).await;
    assert!(matches!(error, ProviderError::Unknown(_)), "{error:?}");
    let error = balance_answered(html()).await;
    assert!(matches!(error, ProviderError::Unavailable(_)), "{error:?}");
    let no_reference = ok(json!({"order": [], "status": "completed"}));
    assert!(matches!(
        provision_answered(no_reference).await,
        ProviderError::Unknown(_)
    ));

    let server = MockServer::start().await;
    api("GET", "/catalogue")
        .respond_with(ok(json!({"bundles": "none"})))
        .mount(&server)
        .await;
    let error = adapter(&server).packages().await.unwrap_err();
    assert!(matches!(error, ProviderError::Unavailable(_)), "{error:?}");
}

#[sqlx::test]
async fn insufficient_balance_upstream_is_503_through_the_gateway_and_refunded(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    api("POST", "/orders")
        .respond_with(refusal(400, "Insufficient balance"))
        .mount(&server)
        .await;
    common::order_refused_with_credits_intact(
        &app,
        &partner,
        &json!({"planId": plan, "quantity": 1}),
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
}

#[sqlx::test]
async fn an_unknown_bundle_is_502_upstream_error_through_the_gateway_and_refunded(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    api("POST", "/orders")
        .respond_with(refusal(400, "Bundle esim_1GB_7D_NL_V2 not found"))
        .mount(&server)
        .await;
    let body = common::order_refused_with_credits_intact(
        &app,
        &partner,
        &json!({"planId": plan, "quantity": 1}),
        StatusCode::BAD_GATEWAY,
        "upstream_error",
    )
    .await;
    assert_eq!(body["error"]["details"]["refunded"], true);
}

#[sqlx::test]
async fn an_order_without_an_answer_in_time_is_processing_through_the_gateway(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    api("POST", "/orders")
        .respond_with(
            ok(fixture("order_transaction.json")).set_delay(TIMEOUT + Duration::from_millis(300)),
        )
        .mount(&server)
        .await;
    let response = app
        .order(&partner.key, &json!({"planId": plan, "quantity": 2}))
        .await;
    let data = success_data(response, StatusCode::ACCEPTED).await;
    assert_eq!(data["status"], "processing");
    assert_eq!(data["esims"], json!([]));
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000 - 2 * 274,
        "not refunded unasked"
    );
    app.assert_ledger_sound().await;
}

// ---- lookup ----------------------------------------------------------------------

const REFERENCE: &str = "e268b769-1cb3-4335-aed8-52ecb78425e9";

async fn lookup_answered(answer: ResponseTemplate) -> OrderLookup {
    let server = MockServer::start().await;
    api("GET", &format!("/orders/{REFERENCE}"))
        .respond_with(answer)
        .mount(&server)
        .await;
    adapter(&server)
        .lookup(&lookup_of(Some(REFERENCE), NL, 2))
        .await
        .unwrap()
}

#[tokio::test]
async fn lookup_by_reference_reports_a_completed_order_as_issued() {
    let found = lookup_answered(ok(fixture("order_transaction.json"))).await;
    let OrderLookup::Issued(issued) = found else {
        panic!("{found:?}")
    };
    assert_eq!(issued.provider_order_ref.as_deref(), Some(REFERENCE));
    let iccids: Vec<&str> = issued.esims.iter().map(|e| e.iccid.as_str()).collect();
    assert_eq!(iccids, ["8944538532008160222", "8944538532008160230"]);
    assert_eq!(issued.esims[0].activation_code, "E5VDM-X0LO3-3QRSB-0WPXG");
}

#[tokio::test]
async fn lookup_by_reference_fetches_install_details_missing_from_the_order() {
    let server = MockServer::start().await;
    let mut order = fixture("order_without_esims.json");
    order["orderReference"] = json!(REFERENCE);
    api("GET", &format!("/orders/{REFERENCE}"))
        .respond_with(ok(order))
        .mount(&server)
        .await;
    api("GET", "/esims/assignments")
        .and(query_param("reference", REFERENCE))
        .respond_with(ok(fixture("assignments.json")))
        .mount(&server)
        .await;
    let found = adapter(&server)
        .lookup(&lookup_of(Some(REFERENCE), NL, 2))
        .await
        .unwrap();
    assert!(
        matches!(&found, OrderLookup::Issued(p) if p.esims.len() == 2),
        "{found:?}"
    );
}

#[tokio::test]
async fn lookup_by_reference_reports_pending_failed_and_unknown_orders() {
    let mut processing = fixture("order_without_esims.json");
    processing["status"] = json!("processing");
    let found = lookup_answered(ok(processing)).await;
    assert!(matches!(found, OrderLookup::Pending), "{found:?}");

    let found = lookup_answered(refusal(503, "Processing - Please come back later")).await;
    assert!(matches!(found, OrderLookup::Pending), "{found:?}");

    let mut failed = fixture("order_without_esims.json");
    failed["status"] = json!("failed");
    failed["statusMessage"] = json!("Order failed: bundle could not be assigned");
    let found = lookup_answered(ok(failed)).await;
    assert!(
        matches!(&found, OrderLookup::Failed(why) if why == "Order failed: bundle could not be assigned"),
        "{found:?}"
    );

    let found = lookup_answered(refusal(404, "Order not found")).await;
    assert!(matches!(found, OrderLookup::NotFound), "{found:?}");
}

async fn mount_orders(server: &MockServer, orders: Value) {
    api("GET", "/orders")
        .respond_with(ok(orders))
        .mount(server)
        .await;
}

#[tokio::test]
async fn lookup_without_a_reference_takes_the_one_matching_order_in_the_time_window() {
    let server = MockServer::start().await;
    mount_orders(&server, fixture("orders_list.json")).await;
    let found = adapter(&server)
        .lookup(&lookup_of(None, NL, 1))
        .await
        .unwrap();
    let OrderLookup::Issued(issued) = found else {
        panic!("{found:?}")
    };
    assert_eq!(
        issued.provider_order_ref.as_deref(),
        Some("7c9e6679-7425-40de-944b-e07fc1f90ae7")
    );
    assert_eq!(issued.esims.len(), 1);
    assert_eq!(issued.esims[0].iccid, "8944538532008160248");

    let sent = requests_to(&server, "/orders").await;
    assert_eq!(sent.len(), 1, "a short page is the last");
    let query: Vec<(String, String)> = sent[0].url.query_pairs().into_owned().collect();
    let pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("page", "1"),
            ("perPage", "50"),
            ("limit", "50"),
            ("includeIccids", "true"),
            ("createdAt", "gte:2025-05-22T12:50:20.000Z"),
            ("createdAt", "lte:2025-05-22T13:01:20.000Z"),
        ]
    );
}

#[tokio::test]
async fn lookup_without_a_reference_never_guesses_between_two_matching_orders() {
    let server = MockServer::start().await;
    let mut orders = fixture("orders_list.json");
    let mut twin = orders[0].clone();
    twin["orderReference"] = json!("c56a4180-65aa-42ec-a945-5fd21dec0538");
    twin["createdDate"] = json!("2025-05-22T12:55:00Z");
    orders.as_array_mut().unwrap().push(twin);
    mount_orders(&server, orders).await;
    let found = adapter(&server)
        .lookup(&lookup_of(None, NL, 1))
        .await
        .unwrap();
    assert!(matches!(found, OrderLookup::Pending), "{found:?}");
}

#[tokio::test]
async fn lookup_without_a_reference_and_no_matching_order_is_not_found() {
    let server = MockServer::start().await;
    mount_orders(
        &server,
        json!({"orders": fixture("orders_list.json"), "pageCount": 1}),
    )
    .await;
    let esimgo = adapter(&server);
    let found = esimgo
        .lookup(&lookup_of(None, "esim_2GB_15D_NL_V2", 1))
        .await
        .unwrap();
    assert!(matches!(found, OrderLookup::NotFound), "{found:?}");
    // An order of the right bundle and quantity, but placed an hour before ours.
    let mut early = lookup_of(None, NL, 1);
    early.placed_at = at("2025-05-22T13:55:00Z");
    assert!(matches!(
        esimgo.lookup(&early).await.unwrap(),
        OrderLookup::NotFound
    ));
}

#[tokio::test]
async fn a_listed_order_already_handed_to_another_order_is_not_taken_for_a_lost_one() {
    let server = MockServer::start().await;
    let listed = fixture("orders_list.json");
    let mut answer = listed[0].clone();
    answer["createdDate"] = json!("2025-05-22T12:51:21.5Z");
    api("POST", "/orders")
        .respond_with(ok(answer))
        .mount(&server)
        .await;
    mount_orders(&server, listed).await;
    let esimgo = adapter(&server);
    let issued = esimgo.provision(&order_of(NL, 1)).await.unwrap();
    assert_eq!(
        issued.provider_order_ref.as_deref(),
        Some("7c9e6679-7425-40de-944b-e07fc1f90ae7")
    );

    let found = esimgo.lookup(&lookup_of(None, NL, 1)).await.unwrap();
    assert!(matches!(found, OrderLookup::Pending), "{found:?}");
}

// ---- usage and balance -----------------------------------------------------------

async fn usage_answered(
    bundles: Value,
    sku: Option<&str>,
) -> (
    Result<tavaro::provider::EsimUsage, ProviderError>,
    MockServer,
) {
    let server = MockServer::start().await;
    api("GET", &format!("/esims/{ICCID}/bundles"))
        .and(query_param("includeUsed", "true"))
        .respond_with(ok(bundles))
        .mount(&server)
        .await;
    api("GET", &format!("/esims/{ICCID}"))
        .respond_with(ok(fixture("esim_details.json")))
        .mount(&server)
        .await;
    let esim = EsimRef {
        iccid: ICCID.into(),
        provider_ref: None,
        sku: sku.map(str::to_owned),
    };
    let usage = adapter(&server).usage(&esim).await;
    (usage, server)
}

#[tokio::test]
async fn usage_reads_the_esims_own_bundle_in_decimal_megabytes() {
    let (usage, server) = usage_answered(fixture("esim_bundles.json"), Some(NL)).await;
    let usage = usage.unwrap();
    assert_eq!(usage.status, EsimStatus::Active);
    assert_eq!(usage.data_used_mb, 250, "1,000,000,000 − 750,000,000 bytes");
    assert_eq!(
        usage.activated_at,
        Some(at("2024-08-13T09:37:57.280Z")),
        "firstInstalledDateTime"
    );
    assert_eq!(usage.expires_at, None);
    assert_eq!(
        requests_to(&server, &format!("/esims/{ICCID}")).await.len(),
        1
    );

    // Without the plan's bundle name: the latest assignment, queued, not yet started.
    let (usage, server) = usage_answered(fixture("esim_bundles.json"), None).await;
    let usage = usage.unwrap();
    assert_eq!(
        (usage.status, usage.data_used_mb, usage.activated_at),
        (EsimStatus::Ready, 0, None)
    );
    assert!(
        requests_to(&server, &format!("/esims/{ICCID}"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn every_bundle_state_maps_onto_our_status_with_its_validity() {
    let cases = [
        ("processing", EsimStatus::Ready),
        ("queued", EsimStatus::Ready),
        ("active", EsimStatus::Active),
        ("depleted", EsimStatus::Depleted),
        ("expired", EsimStatus::Expired),
        ("revoked", EsimStatus::Expired),
        ("lapsed", EsimStatus::Expired),
    ];
    for (state, status) in cases {
        let bundles = json!({"assignments": [{
            "id": "1", "callTypeGroup": "data", "initialQuantity": 2_000_000_000_i64,
            "remainingQuantity": 500_000_000, "assignmentDateTime": "2025-05-22T12:51:20Z",
            "bundleState": state, "unlimited": false,
            "startTime": "2025-05-23T08:00:00Z", "endTime": "2025-05-30T08:00:00Z"}]});
        let (usage, _server) = usage_answered(bundles, Some(NL)).await;
        let usage = usage.unwrap();
        assert_eq!(usage.status, status, "{state}");
        assert_eq!(usage.data_used_mb, 1500, "{state}");
        assert_eq!(
            usage.activated_at,
            Some(at("2025-05-23T08:00:00Z")),
            "{state}"
        );
        assert_eq!(
            usage.expires_at,
            Some(at("2025-05-30T08:00:00Z")),
            "{state}"
        );
    }
}

#[tokio::test]
async fn an_unknown_bundle_state_or_no_bundle_is_unavailable() {
    let unknown = json!({"bundles": [{"name": NL, "assignments": [{"bundleState": "suspended"}]}]});
    let (usage, _server) = usage_answered(unknown, Some(NL)).await;
    assert!(
        matches!(usage, Err(ProviderError::Unavailable(ref m)) if m.contains("suspended")),
        "{usage:?}"
    );
    let (usage, _server) = usage_answered(json!({"bundles": []}), Some(NL)).await;
    assert!(
        matches!(usage, Err(ProviderError::Unavailable(_))),
        "{usage:?}"
    );
}

#[tokio::test]
async fn the_balance_is_read_in_ten_thousandths_with_its_currency() {
    let server = MockServer::start().await;
    api("GET", "/organisation")
        .respond_with(ok(fixture("organisation.json")))
        .mount(&server)
        .await;
    let balance = adapter(&server).balance().await.unwrap();
    assert_eq!(
        (balance.amount_e4, balance.currency.as_str()),
        (12_345_678, "USD")
    );
}
