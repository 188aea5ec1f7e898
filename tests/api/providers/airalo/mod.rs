//! The Airalo adapter against a wiremock server replaying the Partners API v2's documented
//! answers (fixtures in `tests/fixtures/airalo/`): the client-credentials token (cached,
//! single-flight, replaced after a 401), the paged catalogue, orders, look-ups, usage,
//! balance and every documented error; and the gateway ordering and syncing through it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::esims::EsimStatus;
use tavaro::ids::OrderId;
use tavaro::provider::airalo::Airalo;
use tavaro::provider::{
    EsimRef, LookupRequest, OrderLookup, Provider, ProviderError, ProvisionRequest, Refusal,
    UpstreamCountry,
};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{assert_error, success_data};
use crate::providers::common::{self, CREDENTIAL, SECRET, TIMEOUT};

const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.test-token-one";
const GREECE_1GB: &str = "meraki-mobile-7days-1gb";

fn fixture(name: &str) -> Value {
    common::fixture_json("airalo", name)
}

fn token_answer(token: &str, expires_in: i64) -> ResponseTemplate {
    let mut body = fixture("token.json");
    body["data"]["access_token"] = json!(token);
    body["data"]["expires_in"] = json!(expires_in);
    ResponseTemplate::new(200).set_body_json(body)
}

/// A mock server whose token endpoint hands out [`TOKEN`] for a day.
async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(token_answer(TOKEN, 86_400))
        .mount(&server)
        .await;
    server
}

fn adapter(server: &MockServer) -> Airalo {
    Airalo::new(common::upstream_config(server, "/v2"))
}

/// `method path`, answered only with the bearer token and `Accept: application/json`.
fn authorised(verb: &str, route: &str) -> wiremock::MockBuilder {
    Mock::given(method(verb))
        .and(path(route))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("accept", "application/json"))
}

fn order_answer(name: &str, order_ref: &OrderId) -> ResponseTemplate {
    let mut body = fixture(name);
    body["data"]["description"] = json!(order_ref.to_string());
    ResponseTemplate::new(200).set_body_json(body)
}

fn request(sku: &str, quantity: u32) -> ProvisionRequest {
    ProvisionRequest {
        order_ref: OrderId::new(),
        plan_id: format!("airalo-{sku}"),
        sku: sku.into(),
        unit_cost_e4: Some(40_000),
        quantity,
        days: 7,
        data_mb: Some(1024),
    }
}

fn lookup_request(provider_order_ref: Option<&str>) -> LookupRequest {
    LookupRequest {
        order_ref: OrderId::new(),
        provider_order_ref: provider_order_ref.map(str::to_owned),
        sku: GREECE_1GB.into(),
        quantity: 1,
        placed_at: Utc::now(),
    }
}

async fn requests_to(server: &MockServer, route: &str) -> Vec<Request> {
    let received = server.received_requests().await.expect("recording is on");
    received
        .into_iter()
        .filter(|r| r.url.path() == route)
        .collect()
}

/// The fields of a `multipart/form-data` body.
fn multipart_fields(request: &Request) -> BTreeMap<String, String> {
    let content_type = request.headers["content-type"].to_str().unwrap();
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("a multipart boundary");
    let body = String::from_utf8(request.body.clone()).unwrap();
    body.split(&format!("--{boundary}"))
        .filter_map(|part| {
            let (head, value) = part.split_once("\r\n\r\n")?;
            let name = head.split("name=\"").nth(1)?.split('"').next()?;
            Some((name.to_owned(), value.trim_end_matches("\r\n").to_owned()))
        })
        .collect()
}

fn form_fields(request: &Request) -> BTreeMap<String, String> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

async fn mount_catalogue(server: &MockServer, page2: Value) {
    authorised("GET", "/v2/packages")
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("packages_page1.json")))
        .mount(server)
        .await;
    authorised("GET", "/v2/packages")
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page2))
        .mount(server)
        .await;
}

// ---- authentication -------------------------------------------------------------------

#[tokio::test]
async fn one_token_minted_from_the_client_credentials_serves_every_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(token_answer(TOKEN, 86_400))
        .expect(1)
        .mount(&server)
        .await;
    authorised("GET", "/v2/balance")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("balance.json")))
        .expect(3)
        .mount(&server)
        .await;
    let airalo = adapter(&server);
    for _ in 0..3 {
        airalo.balance().await.expect("balance");
    }

    let token_requests = requests_to(&server, "/v2/token").await;
    assert_eq!(token_requests.len(), 1);
    let token_request = &token_requests[0];
    assert_eq!(
        token_request.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        form_fields(token_request),
        BTreeMap::from([
            ("client_id".to_owned(), CREDENTIAL.to_owned()),
            ("client_secret".to_owned(), SECRET.to_owned()),
            ("grant_type".to_owned(), "client_credentials".to_owned()),
        ])
    );
    for call in requests_to(&server, "/v2/balance").await {
        assert_eq!(
            call.headers["authorization"],
            format!("Bearer {TOKEN}").as_str()
        );
        assert_eq!(call.headers["accept"], "application/json");
    }
}

#[tokio::test]
async fn ten_concurrent_calls_cause_exactly_one_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        // Slow enough that every caller arrives while the first is minting.
        .respond_with(token_answer(TOKEN, 86_400).set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&server)
        .await;
    authorised("GET", "/v2/balance")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("balance.json")))
        .expect(10)
        .mount(&server)
        .await;
    let airalo = adapter(&server);
    let results = futures::future::join_all((0..10).map(|_| airalo.balance())).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(requests_to(&server, "/v2/token").await.len(), 1);
}

#[tokio::test]
async fn a_token_refused_with_401_is_replaced_once_and_the_order_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(token_answer("revoked-token", 86_400))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(token_answer(TOKEN, 86_400))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/orders"))
        .and(header("authorization", "Bearer revoked-token"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"data": [], "meta": {"message": "Unauthenticated."}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let order = request(GREECE_1GB, 1);
    authorised("POST", "/v2/orders")
        .respond_with(order_answer("order.json", &order.order_ref))
        .expect(1)
        .mount(&server)
        .await;
    let airalo = adapter(&server);

    let issued = airalo
        .provision(&order)
        .await
        .expect("issued after one re-mint");
    assert_eq!(issued.esims[0].iccid, "8944465400003573253");
    assert_eq!(requests_to(&server, "/v2/token").await.len(), 2);
    // The fresh token is kept: the next call mints nothing.
    authorised("GET", "/v2/balance")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("balance.json")))
        .mount(&server)
        .await;
    airalo.balance().await.expect("balance");
    assert_eq!(requests_to(&server, "/v2/token").await.len(), 2);
}

#[tokio::test]
async fn a_call_refused_twice_is_an_auth_error_after_a_single_re_mint() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v2/balance"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let err = adapter(&server).balance().await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth(_)), "{err:?}");
    assert_eq!(requests_to(&server, "/v2/token").await.len(), 2);
}

#[tokio::test]
async fn refused_client_credentials_are_an_auth_error_that_never_shows_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "data": [], "meta": {"message": format!("Client {CREDENTIAL} / {SECRET} unknown")}
        })))
        .mount(&server)
        .await;
    let err = adapter(&server)
        .provision(&request(GREECE_1GB, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Auth(_)), "{err:?}");
    assert!(err.issued_nothing());
    let text = err.to_string();
    assert!(
        !text.contains(SECRET) && !text.contains(CREDENTIAL),
        "{text}"
    );
    assert!(requests_to(&server, "/v2/orders").await.is_empty());
}

#[tokio::test]
async fn a_token_at_the_end_of_its_life_is_replaced_before_the_next_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(token_answer(TOKEN, 0))
        .expect(2)
        .mount(&server)
        .await;
    authorised("GET", "/v2/balance")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("balance.json")))
        .mount(&server)
        .await;
    let airalo = adapter(&server);
    airalo.balance().await.expect("first balance");
    airalo.balance().await.expect("second balance");
}

// ---- catalogue ------------------------------------------------------------------------

fn country(code: &str, name: &str) -> UpstreamCountry {
    UpstreamCountry {
        code: code.into(),
        name: name.into(),
    }
}

#[tokio::test]
async fn the_catalogue_is_read_page_by_page_and_every_sim_package_normalised() {
    let server = server().await;
    mount_catalogue(&server, fixture("packages_page2.json")).await;
    let packages = adapter(&server).packages().await.expect("catalogue");

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

    let pages = requests_to(&server, "/v2/packages").await;
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
    crate::helpers::import_demo_catalog(&db).await;
    let server = server().await;
    mount_catalogue(&server, fixture("packages_page2.json")).await;
    let airalo = adapter(&server);
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

    let mut smaller = fixture("packages_page2.json");
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

// ---- orders ---------------------------------------------------------------------------

#[sqlx::test]
async fn an_order_through_the_gateway_issues_the_airalo_esim_and_debits_the_partner(db: PgPool) {
    let server = server().await;
    mount_catalogue(&server, fixture("packages_page2.json")).await;
    authorised("POST", "/v2/orders")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("order.json")))
        .expect(1)
        .mount(&server)
        .await;
    let app = common::spawn_gateway(db, |config| {
        config.providers.airalo = Some(common::upstream_config(&server, "/v2"));
    })
    .await;
    common::sync_into(&app, "airalo").await;
    let plan = common::plan_for_sku(&app.db, "airalo", GREECE_1GB).await;
    let partner = app.create_partner("acme", "0", "100.00").await;

    let data = app
        .place(&partner.key, &json!({"planId": plan}), StatusCode::CREATED)
        .await;
    assert_eq!(data["status"], "completed");
    let esims = data["esims"].as_array().unwrap();
    assert_eq!(esims.len(), 1);
    assert_eq!(esims[0]["iccid"], "8944465400003573253");
    assert_eq!(esims[0]["smdpAddress"], "RSP-3088.IDEMIA.IO");
    assert_eq!(esims[0]["activationCode"], "YVTGM-5LZC6-PIC56-KFEZJ");
    assert_eq!(
        esims[0]["lpaCode"],
        "LPA:1$RSP-3088.IDEMIA.IO$YVTGM-5LZC6-PIC56-KFEZJ"
    );
    // Cost $4.00 + 20% margin.
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 480);
    app.assert_ledger_sound().await;

    let orders = requests_to(&server, "/v2/orders").await;
    assert_eq!(orders.len(), 1);
    let sent = &orders[0];
    assert!(
        sent.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    assert_eq!(
        sent.headers["authorization"],
        format!("Bearer {TOKEN}").as_str()
    );
    assert_eq!(sent.headers["accept"], "application/json");
    assert_eq!(
        multipart_fields(sent),
        BTreeMap::from([
            ("package_id".to_owned(), GREECE_1GB.to_owned()),
            ("quantity".to_owned(), "1".to_owned()),
            ("type".to_owned(), "sim".to_owned()),
            (
                "description".to_owned(),
                data["orderId"].as_str().unwrap().to_owned()
            ),
        ])
    );
}

#[tokio::test]
async fn provisioning_returns_each_esims_iccid_smdp_address_and_activation_code() {
    let server = server().await;
    let order = request("eurolink-7days-1gb", 2);
    authorised("POST", "/v2/orders")
        .respond_with(order_answer("order_two_esims.json", &order.order_ref))
        .mount(&server)
        .await;
    let issued = adapter(&server).provision(&order).await.expect("issued");
    assert_eq!(issued.provider_order_ref.as_deref(), Some("583748"));
    let installs: Vec<_> = issued
        .esims
        .iter()
        .map(|e| {
            (
                e.iccid.as_str(),
                e.smdp_address.as_str(),
                e.activation_code.as_str(),
                e.provider_ref.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        installs,
        [
            (
                "8944465400003573261",
                "RSP-3088.IDEMIA.IO",
                "Q7RTN-2LK8P-MX3WA-PL0QZ",
                Some("709007")
            ),
            // No `lpa`/`matching_id`: both come from the `qrcode` LPA string.
            (
                "89852245280000942210",
                "smdp.example-airalo.io",
                "K2M4N-7PQ9R-ZX5TB-WY3HD",
                Some("709008")
            ),
        ]
    );
    let fields = multipart_fields(&requests_to(&server, "/v2/orders").await[0]);
    assert_eq!(fields["quantity"], "2");
    assert_eq!(fields["description"], order.order_ref.to_string());
}

#[tokio::test]
async fn an_order_accepted_without_its_esims_is_polled_until_they_arrive() {
    let server = server().await;
    let order = request(GREECE_1GB, 1);
    let mut empty = fixture("order.json");
    empty["data"]["sims"] = json!([]);
    authorised("POST", "/v2/orders")
        .respond_with(ResponseTemplate::new(200).set_body_json(&empty))
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders/583747")
        .and(query_param("include", "sims,status"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&empty))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders/583747")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("order.json")))
        .mount(&server)
        .await;
    let issued = adapter(&server).provision(&order).await.expect("issued");
    assert_eq!(issued.esims[0].iccid, "8944465400003573253");
    assert_eq!(requests_to(&server, "/v2/orders/583747").await.len(), 2);
}

#[tokio::test]
async fn an_order_whose_esims_never_arrive_is_reported_accepted_within_the_time_budget() {
    let server = server().await;
    let mut empty = fixture("order.json");
    empty["data"]["sims"] = json!([]);
    authorised("POST", "/v2/orders")
        .respond_with(ResponseTemplate::new(200).set_body_json(&empty))
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders/583747")
        .respond_with(ResponseTemplate::new(200).set_body_json(&empty))
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let err = adapter(&server)
        .provision(&request(GREECE_1GB, 1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Accepted {
            provider_order_ref: "583747".into()
        }
    );
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
}

// ---- errors ---------------------------------------------------------------------------

async fn order_error(answer: ResponseTemplate) -> ProviderError {
    let server = server().await;
    authorised("POST", "/v2/orders")
        .respond_with(answer)
        .mount(&server)
        .await;
    adapter(&server)
        .provision(&request(GREECE_1GB, 1))
        .await
        .unwrap_err()
}

fn code(status: u16, code: i64, reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"code": code, "reason": reason}))
}

/// What an error must look like.
type Expectation = Box<dyn Fn(&ProviderError) -> bool>;

fn rejected(reason: Refusal) -> impl Fn(&ProviderError) -> bool {
    move |e| matches!(e, ProviderError::Rejected { reason: r, .. } if *r == reason)
}

#[tokio::test]
async fn each_documented_error_maps_onto_its_class() {
    let cases: Vec<(ResponseTemplate, Expectation)> = vec![
        (
            ResponseTemplate::new(422).set_body_json(fixture("insufficient_credit.json")),
            Box::new(|e| matches!(e, ProviderError::InsufficientFunds(_))),
        ),
        (code(422, 33, "Insufficient stock"), Box::new(rejected(Refusal::OutOfStock))),
        (code(422, 34, "Package is invalid or out of stock"), Box::new(rejected(Refusal::InvalidPackage))),
        (code(422, 13, "Operator under maintenance"), Box::new(|e| matches!(e, ProviderError::Unavailable(_)))),
        (code(422, 43, "Bad request"), Box::new(rejected(Refusal::Other))),
        (code(422, 53, "Unexpected error"), Box::new(|e| matches!(e, ProviderError::Unknown(_)))),
        (code(403, 89, "IP not allow-listed"), Box::new(|e| matches!(e, ProviderError::Auth(_)))),
        (
            ResponseTemplate::new(422).set_body_json(fixture("invalid_package.json")),
            Box::new(rejected(Refusal::InvalidPackage)),
        ),
        (
            ResponseTemplate::new(422).set_body_json(fixture("quantity_unavailable.json")),
            Box::new(rejected(Refusal::OutOfStock)),
        ),
        (
            ResponseTemplate::new(422).set_body_json(json!({"data": {"description": "Too long."}, "meta": {"message": "the parameter is invalid"}})),
            Box::new(rejected(Refusal::Other)),
        ),
    ];
    for (answer, expected) in cases {
        let err = order_error(answer).await;
        assert!(expected(&err), "{err:?}");
    }
}

#[tokio::test]
async fn a_rate_limited_order_is_rate_limited_with_the_retry_after() {
    let err = order_error(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "7")
            .set_body_json(fixture("rate_limited.json")),
    )
    .await;
    assert_eq!(
        err,
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

#[tokio::test]
async fn a_server_error_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let err = order_error(ResponseTemplate::new(500).set_body_string("Server Error")).await;
    assert!(matches!(err, ProviderError::Unknown(_)), "{err:?}");
    let server = server().await;
    authorised("GET", "/v2/balance")
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let err = adapter(&server).balance().await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_time_out_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let late = || ResponseTemplate::new(200).set_delay(TIMEOUT + Duration::from_millis(300));
    let server = server().await;
    authorised("POST", "/v2/orders")
        .respond_with(late().set_body_json(fixture("order.json")))
        .mount(&server)
        .await;
    authorised("GET", "/v2/balance")
        .respond_with(late().set_body_json(fixture("balance.json")))
        .mount(&server)
        .await;
    let airalo = adapter(&server);
    let order = request(GREECE_1GB, 1);
    let (order, read) = tokio::join!(airalo.provision(&order), airalo.balance());
    assert!(matches!(order, Err(ProviderError::Unknown(_))), "{order:?}");
    assert!(
        matches!(read, Err(ProviderError::Unavailable(_))),
        "{read:?}"
    );
}

#[tokio::test]
async fn a_malformed_answer_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let garbage = || ResponseTemplate::new(200).set_body_string("<html>upstream proxy</html>");
    let err = order_error(garbage()).await;
    assert!(matches!(err, ProviderError::Unknown(_)), "{err:?}");
    let server = server().await;
    authorised("GET", "/v2/sims/8944465400003573253/usage")
        .respond_with(garbage())
        .mount(&server)
        .await;
    let err = adapter(&server)
        .usage(&esim("8944465400003573253"))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[sqlx::test]
async fn gateway_answers_each_airalo_failure_with_its_code_and_refunds(db: PgPool) {
    let server = server().await;
    mount_catalogue(&server, fixture("packages_page2.json")).await;
    // One answer per order, in turn: no credit, an invalid package, no answer in time.
    let answers = [
        ResponseTemplate::new(422).set_body_json(fixture("insufficient_credit.json")),
        ResponseTemplate::new(422).set_body_json(fixture("invalid_package.json")),
        ResponseTemplate::new(200)
            .set_body_json(fixture("order.json"))
            .set_delay(TIMEOUT + Duration::from_millis(300)),
    ];
    for answer in answers {
        authorised("POST", "/v2/orders")
            .respond_with(answer)
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    let app = common::spawn_gateway(db, |config| {
        config.providers.airalo = Some(common::upstream_config(&server, "/v2"));
    })
    .await;
    common::sync_into(&app, "airalo").await;
    let plan = common::plan_for_sku(&app.db, "airalo", GREECE_1GB).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": plan});

    assert_error(
        app.order(&partner.key, &body).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert_eq!(app.balance_cents(partner.id).await, 10_000, "refunded");

    let refused = assert_error(
        app.order(&partner.key, &body).await,
        StatusCode::BAD_GATEWAY,
        "upstream_error",
    )
    .await;
    assert_eq!(refused["error"]["details"]["refunded"], true);
    assert_eq!(app.balance_cents(partner.id).await, 10_000, "refunded");

    let pending = success_data(app.order(&partner.key, &body).await, StatusCode::ACCEPTED).await;
    assert_eq!(pending["status"], "processing");
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000 - 480,
        "unknown is not refunded"
    );
    app.assert_ledger_sound().await;
}

// ---- look-ups, usage, balance ---------------------------------------------------------

#[tokio::test]
async fn lookup_by_airalo_order_id_finds_the_issued_esims() {
    let server = server().await;
    authorised("GET", "/v2/orders/583747")
        .and(query_param("include", "sims,status"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("order.json")))
        .mount(&server)
        .await;
    let found = adapter(&server)
        .lookup(&lookup_request(Some("583747")))
        .await
        .unwrap();
    let OrderLookup::Issued(issued) = found else {
        panic!("{found:?}");
    };
    assert_eq!(issued.provider_order_ref.as_deref(), Some("583747"));
    assert_eq!(issued.esims[0].activation_code, "YVTGM-5LZC6-PIC56-KFEZJ");
}

#[tokio::test]
async fn lookup_by_our_reference_pages_the_order_list_and_matches_the_description_exactly() {
    let server = server().await;
    let lookup = lookup_request(None);
    let reference = lookup.order_ref.to_string();
    let mut near_miss = fixture("order.json")["data"].clone();
    near_miss["id"] = json!(583700);
    near_miss["description"] = json!(format!("{reference}-retry"));
    let mut ours = fixture("order.json")["data"].clone();
    ours["description"] = json!(reference);
    let page = |data: Value, n: u32| json!({"data": data, "meta": {"message": "success", "current_page": n, "last_page": 2}});
    authorised("GET", "/v2/orders")
        .and(query_param("filter[description]", reference.as_str()))
        .and(query_param("include", "sims,status"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(json!([near_miss]), 1)))
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders")
        .and(query_param("filter[description]", reference.as_str()))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(json!({"1": ours}), 2)))
        .mount(&server)
        .await;
    let found = adapter(&server).lookup(&lookup).await.unwrap();
    let OrderLookup::Issued(issued) = found else {
        panic!("{found:?}");
    };
    assert_eq!(issued.provider_order_ref.as_deref(), Some("583747"));
}

#[tokio::test]
async fn lookup_of_an_order_without_esims_is_pending_or_failed_by_its_status() {
    let server = server().await;
    let mut pending = fixture("order.json");
    pending["data"]["sims"] = json!([]);
    pending["data"]["status"] = json!({"name": "Pending", "slug": "pending"});
    let mut failed = pending.clone();
    failed["data"]["status"] = json!({"name": "Failed", "slug": "failed"});
    authorised("GET", "/v2/orders/1")
        .respond_with(ResponseTemplate::new(200).set_body_json(pending))
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders/2")
        .respond_with(ResponseTemplate::new(200).set_body_json(failed))
        .mount(&server)
        .await;
    let airalo = adapter(&server);
    let first = airalo.lookup(&lookup_request(Some("1"))).await.unwrap();
    assert!(matches!(first, OrderLookup::Pending), "{first:?}");
    let second = airalo.lookup(&lookup_request(Some("2"))).await.unwrap();
    assert!(matches!(second, OrderLookup::Failed(_)), "{second:?}");
}

#[tokio::test]
async fn lookup_of_an_order_airalo_does_not_have_is_not_found() {
    let server = server().await;
    authorised("GET", "/v2/orders")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [], "meta": {"current_page": 1, "last_page": 1}})),
        )
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders/999")
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("not_found.json")))
        .mount(&server)
        .await;
    let airalo = adapter(&server);
    let by_reference = airalo.lookup(&lookup_request(None)).await.unwrap();
    assert!(
        matches!(by_reference, OrderLookup::NotFound),
        "{by_reference:?}"
    );
    let by_id = airalo.lookup(&lookup_request(Some("999"))).await.unwrap();
    assert!(matches!(by_id, OrderLookup::NotFound), "{by_id:?}");
}

fn esim(iccid: &str) -> EsimRef {
    EsimRef {
        iccid: iccid.into(),
        provider_ref: None,
        sku: Some(GREECE_1GB.into()),
    }
}

#[tokio::test]
async fn usage_maps_statuses_megabytes_and_expiry() {
    let server = server().await;
    let statuses = [
        ("8944465400000000001", "NOT_ACTIVE", false),
        ("8944465400000000002", "ACTIVE", false),
        ("8944465400000000003", "FINISHED", false),
        ("8944465400000000004", "EXPIRED", false),
        ("8944465400000000005", "RECYCLED", false),
        ("8944465400000000006", "ACTIVE", true),
        ("8944465400000000007", "UNKNOWN", false),
    ];
    for (iccid, status, unlimited) in statuses {
        let mut body = fixture("usage.json");
        body["data"]["status"] = json!(status);
        body["data"]["is_unlimited"] = json!(unlimited);
        if unlimited {
            body["data"]["remaining"] = json!(0);
            body["data"]["total"] = json!(0);
        }
        authorised("GET", format!("/v2/sims/{iccid}/usage").as_str())
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    let airalo = adapter(&server);
    let mut seen = Vec::new();
    for (iccid, _, _) in &statuses[..6] {
        let usage = airalo.usage(&esim(iccid)).await.expect("usage");
        seen.push((usage.status, usage.data_used_mb));
        assert_eq!(
            usage.expires_at,
            Some(Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(usage.activated_at, None);
    }
    assert_eq!(
        seen,
        [
            (EsimStatus::Ready, 1281),
            (EsimStatus::Active, 1281),
            (EsimStatus::Depleted, 1281),
            (EsimStatus::Expired, 1281),
            (EsimStatus::Expired, 1281),
            (EsimStatus::Active, 0),
        ]
    );
    let err = airalo.usage(&esim(statuses[6].0)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn usage_of_an_iccid_airalo_does_not_know_is_refused() {
    let server = server().await;
    authorised("GET", "/v2/sims/8944465400009999999/usage")
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("not_found.json")))
        .mount(&server)
        .await;
    let err = adapter(&server)
        .usage(&esim("8944465400009999999"))
        .await
        .unwrap_err();
    assert!(rejected(Refusal::Other)(&err), "{err:?}");
}

#[tokio::test]
async fn balance_is_the_available_amount_in_ten_thousandths() {
    let server = server().await;
    authorised("GET", "/v2/balance")
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("balance.json")))
        .mount(&server)
        .await;
    let balance = adapter(&server).balance().await.unwrap();
    assert_eq!(
        (balance.amount_e4, balance.currency.as_str()),
        (10_004_500, "USD")
    );
}
