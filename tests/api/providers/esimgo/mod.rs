//! The eSIM Go adapter against a wiremock eSIM Go (fixtures in `tests/fixtures/esimgo/`,
//! built from the v2.4 spec's and guides' examples), alone and routed in the gateway. Split
//! by area: [`catalog`] (paging, normalisation, `catalog sync`), [`orders`] (install
//! details, every documented error), [`reads`] (the API key, look-ups), [`usage`] (usage
//! and balance), [`after_sale`] (top-ups, their lookup, cancellations) and [`gateway`]
//! (`POST /v1/order` end to end).

mod after_sale;
mod catalog;
mod gateway;
mod orders;
mod reads;
mod usage;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::ids::OrderId;
use tavaro::provider::esimgo::EsimGo;
use tavaro::provider::{LookupRequest, ProvisionRequest};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, TestPartner};
use crate::providers::common::{CREDENTIAL, Upstream, ok, plan_for_sku, sync_into};

/// The bundle most tests order.
pub const NL: &str = "esim_1GB_7D_NL_V2";

/// The ICCID of the usage fixtures.
pub const ICCID: &str = "8944538532008160222";

/// A mock of `verb BASE+route` that only answers requests carrying our API key.
pub fn api(verb: &str, route: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(format!("{}{route}", EsimGo::BASE)))
        .and(header("X-API-Key", CREDENTIAL))
}

/// An error as eSIM Go sends it: `status` with a `message`.
pub fn refusal(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "message": message }))
}

/// An order for `quantity` of `sku`.
pub fn order_of(sku: &str, quantity: u32) -> ProvisionRequest {
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

/// A reconciliation question placed 2025-05-22 12:51:20 UTC, by reference when known.
pub fn lookup_of(reference: Option<&str>, sku: &str, quantity: u32) -> LookupRequest {
    LookupRequest {
        order_ref: OrderId::new(),
        provider_order_ref: reference.map(str::to_owned),
        sku: sku.into(),
        quantity,
        placed_at: Utc.with_ymd_and_hms(2025, 5, 22, 12, 51, 20).unwrap(),
    }
}

/// The catalogue, one mock per page (50 bundles a page).
pub async fn mount_catalogue(server: &MockServer, pages: &[Value]) {
    for (i, page) in pages.iter().enumerate() {
        api("GET", "/catalogue")
            .and(query_param("page", (i + 1).to_string()))
            .and(query_param("perPage", "50"))
            .respond_with(ok(page.clone()))
            .mount(server)
            .await;
    }
}

/// An RFC 3339 time in UTC.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// The gateway with eSIM Go configured against `server`, its catalogue synced, and a
/// partner with $100.
pub async fn gateway(db: PgPool, server: &MockServer) -> (TestApp, TestPartner, String) {
    mount_catalogue(
        server,
        &[
            EsimGo::fixture("catalogue_page1.json"),
            EsimGo::fixture("catalogue_page2.json"),
        ],
    )
    .await;
    let app = EsimGo::spawn_gateway(db, server).await;
    let report = sync_into(&app, EsimGo::NAME).await;
    assert_eq!(report.added, 5, "{report:?}");
    let partner = app.create_partner("acme", "20", "100.00").await;
    let plan = plan_for_sku(&app.db, EsimGo::NAME, NL).await;
    (app, partner, plan)
}
