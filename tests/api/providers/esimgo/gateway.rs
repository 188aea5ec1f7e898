//! `POST /v1/order` routed to eSIM Go: the synced plan sold end to end, and what a
//! partner sees when eSIM Go refuses, runs out of our balance or does not answer in time.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::provider::esimgo::EsimGo;
use wiremock::MockServer;

use super::{NL, api, gateway, refusal};
use crate::helpers::success_data;
use crate::providers::common::{self, CREDENTIAL, TIMEOUT, Upstream, header_of, ok};

#[sqlx::test]
async fn an_order_through_the_gateway_issues_the_esims_esim_go_returned(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    api("POST", "/orders")
        .respond_with(ok(EsimGo::fixture("order_transaction.json")))
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

    let sent = EsimGo::requests_to(&server, "/orders").await;
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

#[sqlx::test]
async fn insufficient_balance_upstream_is_502_through_the_gateway_and_refunded(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    api("POST", "/orders")
        .respond_with(refusal(400, "Insufficient balance"))
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
            ok(EsimGo::fixture("order_transaction.json"))
                .set_delay(TIMEOUT + Duration::from_millis(300)),
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
