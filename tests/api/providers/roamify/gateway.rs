//! `POST /v1/order` routed to Roamify: the synced plan sold end to end, and what a partner
//! sees when Roamify refuses, runs out of our credit or does not answer in time.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use tavaro::provider::roamify::Roamify;
use wiremock::{MockServer, ResponseTemplate};

use super::{ESIM_ID, ICCID, INSTANT, ORDER_ID, SKU, authed, bearer, mount_catalog};
use crate::helpers::{TestApp, TestPartner, cents};
use crate::providers::common::{
    self, TIMEOUT, Upstream, answer, json_body, ok, plan_for_sku, sync_into,
};

/// The gateway routed to a Roamify mock with its catalog synced, and a partner with $100.
async fn gateway(db: PgPool, server: &MockServer) -> (TestApp, TestPartner, String) {
    mount_catalog(server).await;
    let app = Roamify::spawn_gateway(db, server).await;
    let report = sync_into(&app, "roamify").await;
    assert_eq!(report.added, 6, "{report:?}");
    let partner = app.create_partner("wanderly", "20", "100.00").await;
    let plan = plan_for_sku(&app.db, "roamify", SKU).await;
    (app, partner, plan)
}

#[sqlx::test]
async fn an_order_through_the_gateway_delivers_roamifys_esim_and_debits_the_plan_price(db: PgPool) {
    let server = MockServer::start().await;
    authed("POST", INSTANT)
        .respond_with(ok(Roamify::fixture("order_instant.json")))
        .expect(1)
        .mount(&server)
        .await;
    let (app, partner, plan) = gateway(db, &server).await;

    let data = app
        .place(
            &partner.key,
            &json!({"planId": plan, "quantity": 1}),
            StatusCode::CREATED,
        )
        .await;

    assert_eq!(data["status"], "completed");
    let esims = data["esims"].as_array().unwrap();
    assert_eq!(esims.len(), 1);
    assert_eq!(esims[0]["iccid"], ICCID);
    assert_eq!(esims[0]["lpaCode"], "LPA:1$lpa.roamify.com$TEST");
    assert_eq!(esims[0]["smdpAddress"], "lpa.roamify.com");
    assert_eq!(esims[0]["activationCode"], "TEST");
    // Cost $5.00 + 20% margin = $6.00 net.
    assert_eq!(cents(&data["totalCost"]), 600);
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 600);
    app.assert_ledger_sound().await;
    let (order_ref, esim_ref): (Option<String>, Option<String>) = sqlx::query_as(
        "select o.provider_order_ref, e.provider_ref from orders o join esims e on e.order_id = o.id
         where o.partner_id = $1",
    )
    .bind(partner.id.0)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(order_ref.as_deref(), Some(ORDER_ID));
    assert_eq!(esim_ref.as_deref(), Some(ESIM_ID));

    // The request, field by field, as Roamify documents it.
    let sent = Roamify::requests_to(&server, INSTANT).await;
    assert_eq!(sent.len(), 1);
    let sent = &sent[0];
    assert_eq!(sent.method.as_str(), "POST");
    assert_eq!(sent.url.query(), None);
    assert_eq!(sent.headers["authorization"], bearer().as_str());
    assert_eq!(sent.headers["content-type"], "application/json");
    let body = json_body(sent);
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["items", "referenceId"]
    );
    assert_eq!(body["referenceId"], data["orderId"]);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0], json!({"packageId": SKU, "quantity": 1}));
}

#[sqlx::test]
async fn insufficient_roamify_balance_is_502_refunded_and_the_partner_keeps_their_credit(
    db: PgPool,
) {
    let server = MockServer::start().await;
    authed("POST", INSTANT)
        .respond_with(answer(
            400,
            Roamify::fixture("error_insufficient_balance.json"),
        ))
        .mount(&server)
        .await;
    let (app, partner, plan) = gateway(db, &server).await;

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

#[sqlx::test]
async fn an_unknown_package_is_502_with_the_debit_refunded(db: PgPool) {
    let server = MockServer::start().await;
    authed("POST", INSTANT)
        .respond_with(answer(
            404,
            Roamify::fixture("error_package_not_found.json"),
        ))
        .mount(&server)
        .await;
    let (app, partner, plan) = gateway(db, &server).await;

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

#[sqlx::test]
async fn an_order_roamify_does_not_answer_in_time_is_accepted_as_processing(db: PgPool) {
    let server = MockServer::start().await;
    authed("POST", INSTANT)
        .respond_with(
            ok(Roamify::fixture("order_instant.json"))
                .set_delay(TIMEOUT + Duration::from_millis(500)),
        )
        .mount(&server)
        .await;
    // The reconciler asks by our reference meanwhile; Roamify does not know it yet.
    authed("GET", "/api/esim/order")
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"status": "failed", "message": "Order not found"})),
        )
        .mount(&server)
        .await;
    let (app, partner, plan) = gateway(db, &server).await;

    let data = app
        .place(&partner.key, &json!({"planId": plan}), StatusCode::ACCEPTED)
        .await;

    assert_eq!(data["status"], "processing");
    // Debited until reconciliation settles it.
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 600);
    app.assert_ledger_sound().await;
}
