//! The Airalo adapter against a wiremock server replaying the Partners API v2's documented
//! answers (fixtures in `tests/fixtures/airalo/`), and the gateway ordering and syncing
//! through it. Split by area: [`token`] (the client-credentials token: cached,
//! single-flight, replaced after a 401), [`catalog`] (the paged catalogue, `catalog sync`),
//! [`orders`] (install data, polling, every documented error), [`reads`] (look-ups),
//! [`usage`] (usage and balance), [`after_sale`] (top-ups, refund requests),
//! [`gateway`] (`POST /v1/order` end to end) and [`reads_and_orders`] (`GET /v1/esim`
//! polling beside orders, and its usage cache).

mod after_sale;
mod catalog;
mod gateway;
mod orders;
mod reads;
mod reads_and_orders;
mod token;
mod usage;

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::{Value, json};
use tavaro::ids::OrderId;
use tavaro::provider::airalo::Airalo;
use tavaro::provider::{EsimRef, LookupRequest, ProviderError, ProvisionRequest, Refusal};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use crate::providers::common::{Upstream, ok};

/// The access token the mock token endpoint hands out.
pub const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.test-token-one";

/// The package most tests order (the first of the catalogue).
pub const GREECE_1GB: &str = "meraki-mobile-7days-1gb";

/// The token endpoint's answer: `token`, valid for `expires_in` seconds.
pub fn token_answer(token: &str, expires_in: i64) -> ResponseTemplate {
    let mut body = Airalo::fixture("token.json");
    body["data"]["access_token"] = json!(token);
    body["data"]["expires_in"] = json!(expires_in);
    ok(body)
}

/// A mock server whose token endpoint hands out [`TOKEN`] for a day.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(token_answer(TOKEN, 86_400))
        .mount(&server)
        .await;
    server
}

/// `method path`, answered only with the bearer token and `Accept: application/json`.
pub fn authorised(verb: &str, route: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(route))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("accept", "application/json"))
}

/// An order fixture answered for our reference `order_ref` (its `description`).
pub fn order_answer(name: &str, order_ref: &OrderId) -> ResponseTemplate {
    let mut body = Airalo::fixture(name);
    body["data"]["description"] = json!(order_ref.to_string());
    ok(body)
}

/// An order for `quantity` of `sku`.
pub fn request(sku: &str, quantity: u32) -> ProvisionRequest {
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

/// A reconciliation question, by Airalo's order id when there is one.
pub fn lookup_request(provider_order_ref: Option<&str>) -> LookupRequest {
    LookupRequest {
        order_ref: OrderId::new(),
        provider_order_ref: provider_order_ref.map(str::to_owned),
        sku: GREECE_1GB.into(),
        quantity: 1,
        placed_at: Utc::now(),
    }
}

/// The fields of a `multipart/form-data` body.
pub fn multipart_fields(request: &Request) -> BTreeMap<String, String> {
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

/// The fields of an `application/x-www-form-urlencoded` body.
pub fn form_fields(request: &Request) -> BTreeMap<String, String> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

/// The catalogue in two pages: the first fixture page, then `page2`.
pub async fn mount_catalogue(server: &MockServer, page2: Value) {
    authorised("GET", "/v2/packages")
        .and(query_param("page", "1"))
        .respond_with(ok(Airalo::fixture("packages_page1.json")))
        .mount(server)
        .await;
    authorised("GET", "/v2/packages")
        .and(query_param("page", "2"))
        .respond_with(ok(page2))
        .mount(server)
        .await;
}

/// An eSIM of the Greece package, known by its ICCID alone.
pub fn esim(iccid: &str) -> EsimRef {
    EsimRef {
        iccid: iccid.into(),
        provider_ref: None,
        sku: Some(GREECE_1GB.into()),
    }
}

/// Whether an error is a refusal for `reason`.
pub fn rejected(reason: Refusal) -> impl Fn(&ProviderError) -> bool {
    move |e| matches!(e, ProviderError::Rejected { reason: r, .. } if *r == reason)
}
