//! The Roamify adapter against a wiremock server replaying Roamify's documented answers
//! (`tests/fixtures/roamify/`), and the gateway routed to it. Split by area:
//! [`catalog`] (paging, normalisation, `catalog sync`), [`orders`] (instant orders, install
//! data, polling, every documented error), [`reads`] (auth, lookup), [`usage`] (usage and
//! balance), [`after_sale`] (top-ups, refund requests and their review) and [`gateway`]
//! (`POST /v1/order` end to end).

mod after_sale;
mod catalog;
mod gateway;
mod orders;
mod reads;
mod usage;

use serde_json::Value;
use tavaro::ids::OrderId;
use tavaro::provider::roamify::Roamify;
use tavaro::provider::{EsimRef, LookupRequest, ProvisionRequest};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer};

use crate::providers::common::{CREDENTIAL, Upstream, ok};

/// The package the order tests buy (the first of the local catalog).
pub const SKU: &str = "esim-afghanistan-7days-1gb-all";
/// Roamify's order id in the order fixtures.
pub const ORDER_ID: &str = "67bbabb7-e893-410a-b0a8-4fa62d347b6c";
/// Roamify's eSIM id in the eSIM fixtures.
pub const ESIM_ID: &str = "b06036c5-eadc-4f88-aa31-8c207fec91ec";
/// The ICCID in the eSIM fixtures.
pub const ICCID: &str = "894000000000029365";
/// Where instant orders are placed.
pub const INSTANT: &str = "/api/esim/order/instant";

/// `Authorization` as Roamify wants it.
pub fn bearer() -> String {
    format!("Bearer {CREDENTIAL}")
}

/// A mock for `verb path` that only answers requests carrying our bearer key.
pub fn authed(verb: &str, at: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(at))
        .and(header("authorization", bearer().as_str()))
}

/// The catalog as three geographies of one page each.
pub async fn mount_catalog(server: &MockServer) {
    mount_catalog_with(server, Roamify::fixture("packages_local.json")).await;
}

/// The catalog, with `local` as the (one) page of local packages.
pub async fn mount_catalog_with(server: &MockServer, local: Value) {
    packages_page("local", 1)
        .respond_with(ok(local))
        .mount(server)
        .await;
    for geography in ["regional", "global"] {
        packages_page(geography, 1)
            .respond_with(ok(Roamify::fixture(&format!("packages_{geography}.json"))))
            .mount(server)
            .await;
    }
}

/// A mock for page `page` of `geography`'s packages, asked for as Roamify documents it:
/// with `page` and `pageSize` (50, its default).
pub fn packages_page(geography: &str, page: u32) -> MockBuilder {
    authed("GET", "/api/esim/packages")
        .and(query_param("geography", geography))
        .and(query_param("page", page.to_string()))
        .and(query_param("pageSize", "50"))
}

/// Roamify's eSIM `iccid`, as the gateway stores it.
pub fn esim_ref(iccid: &str) -> EsimRef {
    EsimRef {
        iccid: iccid.into(),
        provider_ref: Some(ESIM_ID.into()),
        sku: Some(SKU.into()),
    }
}

/// An order for `quantity` of `sku`.
pub fn provision_request(sku: &str, quantity: u32) -> ProvisionRequest {
    ProvisionRequest {
        order_ref: OrderId::new(),
        plan_id: format!("roamify-{sku}"),
        sku: sku.to_owned(),
        unit_cost_e4: Some(50_000),
        quantity,
        days: 7,
        data_mb: Some(1024),
    }
}

/// A reconciliation question about `order_ref`.
pub fn lookup_request(order_ref: OrderId, provider_order_ref: Option<&str>) -> LookupRequest {
    LookupRequest {
        order_ref,
        provider_order_ref: provider_order_ref.map(str::to_owned),
        sku: SKU.to_owned(),
        quantity: 1,
        placed_at: chrono::Utc::now(),
    }
}

/// An order fixture answered for our reference.
pub fn order_for(name: &str, order_ref: OrderId) -> Value {
    let mut order = Roamify::fixture(name);
    order["data"]["referenceId"] = Value::from(order_ref.to_string());
    order
}
