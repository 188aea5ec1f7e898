//! The eSIM Access adapter against a wiremock upstream replaying the documented answers
//! (fixtures in `tests/fixtures/esimaccess/`), and the gateway routed to it. Split by
//! area: [`catalog`] (normalisation, `catalog sync`), [`orders`] (asynchronous orders,
//! install data, every documented error), [`reads`] (signed requests, look-ups by order
//! number and by our `transactionId`), [`usage`] (usage and balance), [`after_sale`]
//! (top-ups, cancellations, refund reviews) and [`gateway`] (`POST /v1/order` end to
//! end).

mod after_sale;
mod after_sale_gateway;
mod catalog;
mod gateway;
mod orders;
mod reads;
mod usage;

use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::PgPool;
use tavaro::ids::OrderId;
use tavaro::provider::esimaccess::EsimAccess;
use tavaro::provider::{LookupRequest, ProvisionRequest};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use crate::helpers::{TestApp, TestPartner};
use crate::providers::common::{
    CREDENTIAL, SECRET, Upstream, fixture, header_of, ok, plan_for_sku, sync_into,
};

/// eSIM Access's order number in the order fixtures.
pub const ORDER_NO: &str = "B25041514020001";

/// The package most tests order.
pub const SPAIN: &str = "CKH533";

/// A refusal as eSIM Access sends it: HTTP 200 with `success: "false"` and an error code.
pub fn refusal(code: &str, message: &str) -> ResponseTemplate {
    ok(json!({"success": "false", "errorCode": code, "errorMessage": message, "obj": null}))
}

/// A POST to `endpoint` carrying our access code.
pub fn post(endpoint: &str) -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(format!("{}{endpoint}", EsimAccess::BASE)))
        .and(header("RT-AccessCode", CREDENTIAL))
}

/// Answers POSTs to `endpoint` that carry our access code with `response`.
pub async fn mount(server: &MockServer, endpoint: &str, response: ResponseTemplate) {
    post(endpoint).respond_with(response).mount(server).await;
}

/// The allocated profiles of an order, as queried, for our `transaction_id`.
pub fn profiles(transaction_id: &str) -> Value {
    let text =
        fixture(EsimAccess::NAME, "query_order.json").replace("{{transactionId}}", transaction_id);
    serde_json::from_str(&text).unwrap()
}

/// An order for `quantity` of `sku`, at the recorded unit cost if any.
pub fn provision(sku: &str, quantity: u32, unit_cost_e4: Option<i64>) -> ProvisionRequest {
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

/// A reconciliation question about `order_ref`, placed 2025-04-15 14:02 UTC.
pub fn lookup(order_ref: OrderId, provider_order_ref: Option<&str>) -> LookupRequest {
    LookupRequest {
        order_ref,
        provider_order_ref: provider_order_ref.map(str::to_owned),
        sku: SPAIN.into(),
        quantity: 2,
        placed_at: Utc.with_ymd_and_hms(2025, 4, 15, 14, 2, 0).unwrap(),
    }
}

/// Recomputes `RT-Signature` from what the upstream received.
pub fn assert_signed(request: &Request) {
    assert_eq!(header_of(request, "RT-AccessCode"), Some(CREDENTIAL));
    assert_eq!(header_of(request, "content-type"), Some("application/json"));
    let timestamp = header_of(request, "RT-Timestamp").expect("RT-Timestamp header");
    let request_id = header_of(request, "RT-RequestID").expect("RT-RequestID header");
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
    assert_eq!(header_of(request, "RT-Signature"), Some(expected.as_str()));
}

/// The gateway routed to `server`, its catalog synced, and a partner with $100.
pub async fn gateway(db: PgPool, server: &MockServer) -> (TestApp, TestPartner, String) {
    mount(
        server,
        "/package/list",
        ok(EsimAccess::fixture("packages.json")),
    )
    .await;
    let app = EsimAccess::spawn_gateway(db, server).await;
    sync_into(&app, EsimAccess::NAME).await;
    let plan = plan_for_sku(&app.db, EsimAccess::NAME, SPAIN).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    (app, partner, plan)
}
