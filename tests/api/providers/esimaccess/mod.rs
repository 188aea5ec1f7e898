//! The eSIM Access adapter against a wiremock upstream replaying the documented answers
//! (fixtures in `tests/fixtures/esimaccess/`): signed requests, the catalog, asynchronous
//! orders polled until allocated, lookups by order number and by our `transactionId`,
//! usage, balance, every documented error, and the gateway routed to it.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::PgPool;
use tavaro::esims::EsimStatus;
use tavaro::ids::OrderId;
use tavaro::provider::esimaccess::EsimAccess;
use tavaro::provider::{
    EsimRef, LookupRequest, OrderLookup, Provider, ProviderError, ProvisionRequest,
    ProvisionedEsim, Refusal, UpstreamCountry,
};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{TestApp, TestPartner, import_demo_catalog, success_data};
use crate::providers::common::{
    self, CREDENTIAL, SECRET, TIMEOUT, fixture, fixture_json, plan_for_sku, spawn_gateway,
    sync_into, sync_with, upstream_config,
};

const NAME: &str = "esimaccess";
const BASE: &str = "/api/v1/open";
const ORDER_NO: &str = "B25041514020001";
const SPAIN: &str = "CKH533";

fn adapter(server: &MockServer) -> EsimAccess {
    EsimAccess::new(upstream_config(server, BASE))
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn refusal(code: &str, message: &str) -> ResponseTemplate {
    ok(json!({"success": "false", "errorCode": code, "errorMessage": message, "obj": null}))
}

/// A POST to `endpoint` carrying our access code.
fn post(endpoint: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(format!("{BASE}{endpoint}")))
        .and(header("RT-AccessCode", CREDENTIAL))
}

async fn mount(server: &MockServer, endpoint: &str, response: ResponseTemplate) {
    post(endpoint).respond_with(response).mount(server).await;
}

fn profiles(transaction_id: &str) -> Value {
    let text = fixture(NAME, "query_order.json").replace("{{transactionId}}", transaction_id);
    serde_json::from_str(&text).unwrap()
}

fn provision(sku: &str, quantity: u32, unit_cost_e4: Option<i64>) -> ProvisionRequest {
    ProvisionRequest {
        order_ref: OrderId::new(),
        plan_id: format!("esimaccess-{sku}"),
        sku: sku.into(),
        unit_cost_e4,
        quantity,
        days: 7,
        data_mb: Some(1024),
    }
}

fn lookup(order_ref: OrderId, provider_order_ref: Option<&str>) -> LookupRequest {
    LookupRequest {
        order_ref,
        provider_order_ref: provider_order_ref.map(str::to_owned),
        sku: SPAIN.into(),
        quantity: 2,
        placed_at: Utc.with_ymd_and_hms(2025, 4, 15, 14, 2, 0).unwrap(),
    }
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("requests are JSON")
}

fn header_of<'r>(request: &'r Request, name: &str) -> &'r str {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} header"))
        .to_str()
        .unwrap()
}

/// Recomputes `RT-Signature` from what the upstream received.
fn assert_signed(request: &Request) {
    assert_eq!(header_of(request, "RT-AccessCode"), CREDENTIAL);
    assert_eq!(header_of(request, "content-type"), "application/json");
    let timestamp = header_of(request, "RT-Timestamp");
    let request_id = header_of(request, "RT-RequestID");
    assert!(
        timestamp.parse::<i64>().unwrap() > 1_600_000_000_000,
        "milliseconds"
    );
    assert_eq!(
        uuid::Uuid::parse_str(request_id).unwrap().get_version_num(),
        4
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}{request_id}{CREDENTIAL}").as_bytes());
    mac.update(&request.body);
    let expected = hex::encode(mac.finalize().into_bytes());
    assert_eq!(header_of(request, "RT-Signature"), expected);
}

async fn requests_to(server: &MockServer, endpoint: &str) -> Vec<Request> {
    let full = format!("{BASE}{endpoint}");
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == full)
        .collect()
}

/// The gateway routed to `server`, its catalog synced, and a partner with $100.
async fn gateway(db: PgPool, server: &MockServer) -> (TestApp, TestPartner, String) {
    mount(
        server,
        "/package/list",
        ok(fixture_json(NAME, "packages.json")),
    )
    .await;
    let config = upstream_config(server, BASE);
    let app = spawn_gateway(db, |c| c.providers.esimaccess = Some(config)).await;
    sync_into(&app, NAME).await;
    let plan = plan_for_sku(&app.db, NAME, SPAIN).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    (app, partner, plan)
}

#[tokio::test]
async fn every_request_carries_the_access_code_and_a_signature_over_the_exact_body() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/balance/query",
        ok(fixture_json(NAME, "balance.json")),
    )
    .await;
    mount(
        &server,
        "/package/list",
        ok(fixture_json(NAME, "packages.json")),
    )
    .await;
    mount(
        &server,
        "/esim/query",
        ok(fixture_json(NAME, "query_in_use.json")),
    )
    .await;
    let esimaccess = adapter(&server);
    esimaccess.balance().await.unwrap();
    esimaccess.packages().await.unwrap();
    let esim = EsimRef {
        iccid: "89852245280000942210".into(),
        provider_ref: Some("25041514020101".into()),
        sku: None,
    };
    esimaccess.usage(&esim).await.unwrap();

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_signed(request);
    }
    let ids: std::collections::HashSet<&str> = received
        .iter()
        .map(|r| header_of(r, "RT-RequestID"))
        .collect();
    assert_eq!(ids.len(), 3, "a fresh request id each time");
}

#[tokio::test]
async fn without_a_secret_key_requests_carry_only_the_access_code() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/balance/query",
        ok(fixture_json(NAME, "balance.json")),
    )
    .await;
    let mut config = upstream_config(&server, BASE);
    config.secret = None;
    EsimAccess::new(config).balance().await.unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(header_of(request, "RT-AccessCode"), CREDENTIAL);
    for signed in ["RT-Signature", "RT-Timestamp", "RT-RequestID"] {
        assert!(request.headers.get(signed).is_none(), "{signed}");
    }
}

#[tokio::test]
async fn refused_credentials_are_an_auth_error() {
    let server = MockServer::start().await;
    mount(&server, "/balance/query", ResponseTemplate::new(401)).await;
    mount(
        &server,
        "/esim/order",
        refusal("101003", "signature mismatch"),
    )
    .await;
    let esimaccess = adapter(&server);
    assert!(matches!(
        esimaccess.balance().await,
        Err(ProviderError::Auth(_))
    ));
    let refused = esimaccess
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(
        matches!(refused, Err(ProviderError::Auth(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_catalog_is_normalised_package_by_package() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/package/list",
        ok(fixture_json(NAME, "packages.json")),
    )
    .await;
    let packages = adapter(&server).packages().await.unwrap();

    let request = &requests_to(&server, "/package/list").await[0];
    assert_eq!(body(request), json!({"locationCode": "", "type": "BASE"}));
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

#[tokio::test]
async fn a_reference_lookup_pages_through_the_whole_query_to_find_our_transaction() {
    let server = MockServer::start().await;
    let ours = OrderId::new();
    let mut first = profiles("someone-else");
    first["obj"]["esimList"].as_array_mut().unwrap().truncate(1);
    first["obj"]["esimList"][0]["orderNo"] = json!("B25041513000007");
    first["obj"]["pager"] = json!({"pageSize": 50, "pageNum": 1, "total": 52});
    let mut second = profiles(&ours.to_string());
    second["obj"]["pager"] = json!({"pageSize": 50, "pageNum": 2, "total": 52});
    for (page, answer) in [(1, first), (2, second)] {
        post("/esim/query")
            .and(body_partial_json(json!({"pager": {"pageNum": page}})))
            .respond_with(ok(answer))
            .mount(&server)
            .await;
    }

    let found = adapter(&server).lookup(&lookup(ours, None)).await.unwrap();
    let OrderLookup::Issued(issued) = found else {
        panic!("{found:?}")
    };
    assert_eq!(issued.provider_order_ref.as_deref(), Some(ORDER_NO));
    assert_eq!(issued.esims.len(), 2);

    let pages: Vec<Value> = requests_to(&server, "/esim/query")
        .await
        .iter()
        .map(body)
        .collect();
    let window = |page: i64| {
        json!({
            "startTime": "2025-04-15T13:47:00+00:00",
            "endTime": "2025-04-15T15:02:00+00:00",
            "pager": {"pageNum": page, "pageSize": 50}
        })
    };
    assert_eq!(pages, [window(1), window(2)]);
}

#[tokio::test]
async fn a_reference_lookup_without_our_transaction_is_not_found() {
    let server = MockServer::start().await;
    mount(&server, "/esim/query", ok(profiles("someone-else"))).await;
    let found = adapter(&server).lookup(&lookup(OrderId::new(), None)).await;
    assert!(matches!(found, Ok(OrderLookup::NotFound)), "{found:?}");
}

#[sqlx::test]
async fn an_order_through_the_gateway_returns_the_allocated_esims_and_debits_the_plan_price(
    db: PgPool,
) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    mount(&server, "/esim/order", ok(fixture_json(NAME, "order.json"))).await;
    post("/esim/query")
        .respond_with(ok(fixture_json(NAME, "query_allocating.json")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, "/esim/query", ok(profiles("ours"))).await;

    let order = json!({"planId": plan, "quantity": 2});
    let data = success_data(app.order(&partner.key, &order).await, StatusCode::CREATED).await;
    assert_eq!(data["status"], "completed");
    let allocated = profiles("ours");
    let esims = data["esims"].as_array().unwrap();
    assert_eq!(esims.len(), 2);
    for (esim, profile) in esims
        .iter()
        .zip(allocated["obj"]["esimList"].as_array().unwrap())
    {
        assert_eq!(esim["iccid"], profile["iccid"]);
        assert_eq!(esim["lpaCode"], profile["ac"]);
        assert_eq!(esim["smdpAddress"], "rsp-eu.redteamobile.com");
    }
    // Cost 1.50 + 20% margin = 1.80 a plan, 0% partner markup: 3.60 for two.
    let price: i64 = sqlx::query_scalar("select net_price_cents from plans where id = $1")
        .bind(&plan)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(price, 180);
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 2 * price);
    app.assert_ledger_sound().await;

    let orders = requests_to(&server, "/esim/order").await;
    assert_eq!(orders.len(), 1);
    assert_signed(&orders[0]);
    assert_eq!(
        body(&orders[0]),
        json!({
            "transactionId": data["orderId"],
            "amount": 30_000,
            "packageInfoList": [{"packageCode": SPAIN, "count": 2, "price": 15_000}]
        })
    );
    let polls = requests_to(&server, "/esim/query").await;
    assert_eq!(polls.len(), 2, "polled until allocated");
    for poll in &polls {
        assert_signed(poll);
        assert_eq!(
            body(poll),
            json!({"orderNo": ORDER_NO, "pager": {"pageNum": 1, "pageSize": 50}})
        );
    }
}

#[tokio::test]
async fn install_data_and_provider_ids_come_from_the_allocated_profiles() {
    let server = MockServer::start().await;
    mount(&server, "/esim/order", ok(fixture_json(NAME, "order.json"))).await;
    mount(&server, "/esim/query", ok(profiles("ours"))).await;
    let request = provision(SPAIN, 2, None);
    let issued = adapter(&server).provision(&request).await.unwrap();

    assert_eq!(issued.provider_order_ref.as_deref(), Some(ORDER_NO));
    let esim = |iccid: &str, code: &str, tran_no: &str| ProvisionedEsim {
        iccid: iccid.into(),
        smdp_address: "rsp-eu.redteamobile.com".into(),
        activation_code: code.into(),
        provider_ref: Some(tran_no.into()),
    };
    assert_eq!(
        issued.esims,
        [
            esim(
                "89852245280000942210",
                "451F9802E6A4E5F1B0F8A3C2",
                "25041514020101"
            ),
            esim(
                "89852245280000942228",
                "7C3E1A90B2D4F6E8A0C2E4F6",
                "25041514020102"
            ),
        ]
    );
    // No recorded cost: the order states no price and lets the provider charge its own.
    assert_eq!(
        body(&requests_to(&server, "/esim/order").await[0]),
        json!({
            "transactionId": request.order_ref.to_string(),
            "packageInfoList": [{"packageCode": SPAIN, "count": 2}]
        })
    );
}

#[sqlx::test]
async fn an_order_still_being_allocated_is_accepted_and_left_processing(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    mount(&server, "/esim/order", ok(fixture_json(NAME, "order.json"))).await;
    mount(
        &server,
        "/esim/query",
        ok(fixture_json(NAME, "query_allocating.json")),
    )
    .await;

    let pending = adapter(&server)
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert_eq!(
        pending.unwrap_err(),
        ProviderError::Accepted {
            provider_order_ref: ORDER_NO.into()
        }
    );
    assert!(
        requests_to(&server, "/esim/query").await.len() >= 2,
        "polled more than once"
    );

    let data = app
        .place(&partner.key, &json!({"planId": plan}), StatusCode::ACCEPTED)
        .await;
    assert_eq!(data["status"], "processing");
    let stored: Option<String> =
        sqlx::query_scalar("select provider_order_ref from orders where partner_id = $1")
            .bind(partner.id.0)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored.as_deref(), Some(ORDER_NO));
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000 - 180,
        "not refunded"
    );
    app.assert_ledger_sound().await;
}

#[tokio::test]
async fn usage_reports_status_megabytes_and_utc_times() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/esim/query",
        ok(fixture_json(NAME, "query_in_use.json")),
    )
    .await;
    let esimaccess = adapter(&server);
    let mut esim = EsimRef {
        iccid: "89852245280000942210".into(),
        provider_ref: Some("25041514020101".into()),
        sku: Some(SPAIN.into()),
    };
    let usage = esimaccess.usage(&esim).await.unwrap();
    assert_eq!(usage.status, EsimStatus::Active);
    assert_eq!(usage.data_used_mb, 500);
    assert_eq!(
        usage.activated_at,
        Some(Utc.with_ymd_and_hms(2025, 4, 16, 8, 30, 0).unwrap())
    );
    assert_eq!(
        usage.expires_at,
        Some(Utc.with_ymd_and_hms(2025, 4, 23, 8, 30, 0).unwrap())
    );

    esim.provider_ref = None;
    esimaccess.usage(&esim).await.unwrap();
    let asked: Vec<Value> = requests_to(&server, "/esim/query")
        .await
        .iter()
        .map(body)
        .collect();
    let pager = json!({"pageNum": 1, "pageSize": 50});
    assert_eq!(
        asked,
        [
            json!({"esimTranNo": "25041514020101", "pager": pager}),
            json!({"iccid": "89852245280000942210", "pager": pager}),
        ]
    );
}

#[tokio::test]
async fn every_documented_esim_status_maps_onto_ours() {
    let server = MockServer::start().await;
    let cases = [
        ("GOT_RESOURCE", Some(EsimStatus::Ready)),
        ("RELEASED", Some(EsimStatus::Ready)),
        ("IN_USE", Some(EsimStatus::Active)),
        ("ENABLED", Some(EsimStatus::Active)),
        ("USED_UP", Some(EsimStatus::Depleted)),
        ("USED_EXPIRED", Some(EsimStatus::Expired)),
        ("UNUSED_EXPIRED", Some(EsimStatus::Expired)),
        ("CANCEL", Some(EsimStatus::Expired)),
        ("REVOKED", Some(EsimStatus::Expired)),
        ("FROZEN", None),
    ];
    for (status, _) in cases {
        let mut answer = fixture_json(NAME, "query_in_use.json");
        answer["obj"]["esimList"][0]["esimStatus"] = json!(status);
        post("/esim/query")
            .and(body_partial_json(json!({"esimTranNo": status})))
            .respond_with(ok(answer))
            .mount(&server)
            .await;
    }
    let esimaccess = adapter(&server);
    for (status, expected) in cases {
        let esim = EsimRef {
            iccid: "89852245280000942210".into(),
            provider_ref: Some(status.into()),
            sku: None,
        };
        match (esimaccess.usage(&esim).await, expected) {
            (Ok(usage), Some(expected)) => assert_eq!(usage.status, expected, "{status}"),
            (Err(ProviderError::Unavailable(_)), None) => {}
            (other, _) => panic!("{status}: {other:?}"),
        }
    }
}

#[sqlx::test]
async fn insufficient_balance_is_our_problem_answered_503_and_refunded(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    mount(
        &server,
        "/esim/order",
        ok(fixture_json(NAME, "insufficient_balance.json")),
    )
    .await;

    let refused = adapter(&server)
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(
        matches!(refused, Err(ProviderError::InsufficientFunds(_))),
        "{refused:?}"
    );

    common::order_refused_with_credits_intact(
        &app,
        &partner,
        &json!({"planId": plan}),
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
}

#[sqlx::test]
async fn an_unknown_package_is_refused_and_refunded_with_502(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    mount(
        &server,
        "/esim/order",
        ok(fixture_json(NAME, "package_not_found.json")),
    )
    .await;

    let refused = adapter(&server)
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(
        matches!(
            refused,
            Err(ProviderError::Rejected {
                reason: Refusal::InvalidPackage,
                ..
            })
        ),
        "{refused:?}"
    );

    let body = common::order_refused_with_credits_intact(
        &app,
        &partner,
        &json!({"planId": plan}),
        StatusCode::BAD_GATEWAY,
        "upstream_error",
    )
    .await;
    assert_eq!(body["error"]["details"]["refunded"], true);
}

#[tokio::test]
async fn a_stale_price_and_missing_stock_are_refusals_of_their_own_kind() {
    for (code, reason) in [
        ("200005", Refusal::InvalidPackage),
        ("200011", Refusal::OutOfStock),
        ("200008", Refusal::Other),
    ] {
        let server = MockServer::start().await;
        mount(&server, "/esim/order", refusal(code, "refused")).await;
        let refused = adapter(&server)
            .provision(&provision(SPAIN, 1, Some(15_000)))
            .await;
        match refused {
            Err(ProviderError::Rejected { reason: got, .. }) => assert_eq!(got, reason, "{code}"),
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn rate_limits_are_reported_with_the_retry_after() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/esim/order",
        ResponseTemplate::new(429).insert_header("Retry-After", "7"),
    )
    .await;
    mount(&server, "/balance/query", refusal("900001", "system busy")).await;
    let esimaccess = adapter(&server);
    let limited = esimaccess
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert_eq!(
        limited.unwrap_err(),
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert!(matches!(
        esimaccess.balance().await,
        Err(ProviderError::RateLimited { .. })
    ));
}

#[tokio::test]
async fn a_server_error_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let server = MockServer::start().await;
    mount(&server, "/esim/order", ResponseTemplate::new(500)).await;
    mount(&server, "/balance/query", ResponseTemplate::new(503)).await;
    let esimaccess = adapter(&server);
    let order = esimaccess
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(matches!(order, Err(ProviderError::Unknown(_))), "{order:?}");
    assert!(matches!(
        esimaccess.balance().await,
        Err(ProviderError::Unavailable(_))
    ));

    let server = MockServer::start().await;
    mount(&server, "/esim/order", refusal("000001", "server error")).await;
    let order = adapter(&server)
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(matches!(order, Err(ProviderError::Unknown(_))), "{order:?}");
}

#[tokio::test]
async fn a_time_out_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let server = MockServer::start().await;
    let late = |file| ok(fixture_json(NAME, file)).set_delay(TIMEOUT + Duration::from_millis(500));
    mount(&server, "/esim/order", late("order.json")).await;
    mount(&server, "/balance/query", late("balance.json")).await;
    let esimaccess = adapter(&server);
    let request = provision(SPAIN, 1, Some(15_000));
    let (order, balance) = futures::join!(esimaccess.provision(&request), esimaccess.balance());
    assert!(matches!(order, Err(ProviderError::Unknown(_))), "{order:?}");
    assert!(
        matches!(balance, Err(ProviderError::Unavailable(_))),
        "{balance:?}"
    );
}

#[sqlx::test]
async fn an_order_that_times_out_through_the_gateway_is_left_processing(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    let late = ok(fixture_json(NAME, "order.json")).set_delay(TIMEOUT + Duration::from_millis(500));
    mount(&server, "/esim/order", late).await;

    let data = app
        .place(&partner.key, &json!({"planId": plan}), StatusCode::ACCEPTED)
        .await;
    assert_eq!(data["status"], "processing");
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000 - 180,
        "not refunded on a guess"
    );
    app.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_malformed_body_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let server = MockServer::start().await;
    let garbage = ResponseTemplate::new(200).set_body_string("<html>gateway</html>");
    mount(&server, "/esim/order", garbage.clone()).await;
    mount(&server, "/balance/query", garbage).await;
    mount(
        &server,
        "/package/list",
        ok(json!({"success": "true", "obj": {"packageList": "none"}})),
    )
    .await;
    let esimaccess = adapter(&server);
    let order = esimaccess
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(matches!(order, Err(ProviderError::Unknown(_))), "{order:?}");
    assert!(matches!(
        esimaccess.balance().await,
        Err(ProviderError::Unavailable(_))
    ));
    assert!(matches!(
        esimaccess.packages().await,
        Err(ProviderError::Unavailable(_))
    ));
}

#[tokio::test]
async fn lookup_by_order_number_reports_issued_failed_pending_and_not_found() {
    let server = MockServer::start().await;
    let mut cancelled = profiles("ours");
    for profile in cancelled["obj"]["esimList"].as_array_mut().unwrap() {
        profile["esimStatus"] = json!("CANCEL");
    }
    let answers = [
        (ORDER_NO, ok(profiles("ours"))),
        ("B-CANCELLED", ok(cancelled)),
        (
            "B-ALLOCATING",
            ok(fixture_json(NAME, "query_allocating.json")),
        ),
        ("B-UNKNOWN", refusal("310272", "orderNo does not exist")),
    ];
    for (order_no, answer) in answers {
        post("/esim/query")
            .and(body_partial_json(json!({"orderNo": order_no})))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    let esimaccess = adapter(&server);
    let ask = |order_no: &'static str| {
        let esimaccess = &esimaccess;
        async move {
            esimaccess
                .lookup(&lookup(OrderId::new(), Some(order_no)))
                .await
        }
    };

    match ask(ORDER_NO).await {
        Ok(OrderLookup::Issued(issued)) => {
            assert_eq!(issued.provider_order_ref.as_deref(), Some(ORDER_NO));
            assert_eq!(issued.esims.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ask("B-CANCELLED").await,
        Ok(OrderLookup::Failed(_))
    ));
    assert!(matches!(
        ask("B-ALLOCATING").await,
        Ok(OrderLookup::Pending)
    ));
    assert!(matches!(ask("B-UNKNOWN").await, Ok(OrderLookup::NotFound)));
}

#[tokio::test]
async fn the_balance_is_read_in_ten_thousandths_of_a_dollar() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/balance/query",
        ok(fixture_json(NAME, "balance.json")),
    )
    .await;
    let balance = adapter(&server).balance().await.unwrap();
    assert_eq!(
        (balance.amount_e4, balance.currency.as_str()),
        (1_234_500, "USD")
    );
    assert_eq!(
        body(&requests_to(&server, "/balance/query").await[0]),
        json!({})
    );
}

#[sqlx::test]
async fn catalog_sync_changes_nothing_the_second_time_and_deactivates_dropped_packages(db: PgPool) {
    // The countries exist already, as in any running deployment: `catalog sync` writes a
    // region's members in code order and cannot yet create a member country that sorts
    // after its region (`EUROPE` before `FR`) in an empty database.
    import_demo_catalog(&db).await;
    let server = MockServer::start().await;
    let catalog = fixture_json(NAME, "packages.json");
    mount(&server, "/package/list", ok(catalog.clone())).await;
    let esimaccess = adapter(&server);

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
