//! `POST /v1/order` routed to Airalo: the synced plan sold end to end as a multipart
//! order, and what a partner sees for each kind of Airalo failure.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use tavaro::provider::airalo::Airalo;

use super::{GREECE_1GB, TOKEN, authorised, mount_catalogue, multipart_fields, server};
use crate::helpers::{assert_error, success_data};
use crate::providers::common::{self, TIMEOUT, Upstream, answer, ok};

#[sqlx::test]
async fn an_order_through_the_gateway_issues_the_airalo_esim_and_debits_the_partner(db: PgPool) {
    let server = server().await;
    mount_catalogue(&server, Airalo::fixture("packages_page2.json")).await;
    authorised("POST", "/v2/orders")
        .respond_with(ok(Airalo::fixture("order.json")))
        .expect(1)
        .mount(&server)
        .await;
    let app = Airalo::spawn_gateway(db, &server).await;
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

    let orders = Airalo::requests_to(&server, "/orders").await;
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

#[sqlx::test]
async fn gateway_answers_each_airalo_failure_with_its_code_and_refunds(db: PgPool) {
    let server = server().await;
    mount_catalogue(&server, Airalo::fixture("packages_page2.json")).await;
    // One answer per order, in turn: no credit, an invalid package, no answer in time.
    let answers = [
        answer(422, Airalo::fixture("insufficient_credit.json")),
        answer(422, Airalo::fixture("invalid_package.json")),
        ok(Airalo::fixture("order.json")).set_delay(TIMEOUT + Duration::from_millis(300)),
    ];
    for answer in answers {
        authorised("POST", "/v2/orders")
            .respond_with(answer)
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    let app = Airalo::spawn_gateway(db, &server).await;
    common::sync_into(&app, "airalo").await;
    let plan = common::plan_for_sku(&app.db, "airalo", GREECE_1GB).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": plan});

    // Our credit with Airalo ran out: not the partner's fault, and refunded (502, as its
    // replay would answer), never "nothing was deducted" after a debit.
    let outage = assert_error(
        app.order(&partner.key, &body).await,
        StatusCode::BAD_GATEWAY,
        "upstream_error",
    )
    .await;
    assert_eq!(outage["error"]["details"]["refunded"], true);
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
