//! `POST /v1/order` routed to Airalo: the synced plan sold end to end as a multipart
//! order, and what a partner sees for each kind of Airalo failure.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use tavaro::provider::airalo::Airalo;
use wiremock::ResponseTemplate;

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

/// Upstream words that try to forge a log line and drive the operator's terminal.
const HOSTILE: &str = "stock gone\nINFO tavaro: forged line \u{1b}[2J\u{1b}[31mred\u{1b}[0m";

/// Whether `text` holds a control character (a newline, an ESC, ...).
fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

#[sqlx::test]
async fn upstream_error_text_is_stored_and_printed_without_its_control_characters(db: PgPool) {
    let server = server().await;
    mount_catalogue(&server, Airalo::fixture("packages_page2.json")).await;
    // A refusal (stored as the order's failure reason), then a server error (an unknown
    // outcome: stored as the reconciliation job's last error).
    let answers = [
        answer(422, json!({"code": 33, "reason": HOSTILE})),
        ResponseTemplate::new(500).set_body_string(HOSTILE),
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

    let refused = assert_error(
        app.order(&partner.key, &body).await,
        StatusCode::BAD_GATEWAY,
        "upstream_error",
    )
    .await;
    assert!(!has_control(&refused.to_string()));
    let reason: String = sqlx::query_scalar(
        "select failure_reason from orders where status = 'failed' and partner_id = $1",
    )
    .bind(partner.id.0)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(reason.contains("forged line"), "{reason}");
    assert!(!has_control(&reason), "{reason:?}");

    let pending = success_data(app.order(&partner.key, &body).await, StatusCode::ACCEPTED).await;
    let order_id = uuid::Uuid::parse_str(pending["orderId"].as_str().unwrap()).unwrap();
    // Hold the job back from the reconciler and flag the order for the operator.
    let last_error: String = sqlx::query_scalar(
        "update order_jobs set run_at = now() + interval '1 hour' where order_id = $1
         returning last_error",
    )
    .bind(order_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(last_error.contains("forged line"), "{last_error}");
    assert!(!has_control(&last_error), "{last_error:?}");
    sqlx::query("update orders set stuck_at = now() where id = $1")
        .bind(order_id)
        .execute(&app.db)
        .await
        .unwrap();

    // What an operator sees, including a row stored raw before upstream text was cleaned.
    let printed = |when: &'static str| {
        let db = app.db.clone();
        async move {
            let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tavaro"))
                .args(["orders", "stuck"])
                .env("DATABASE_URL", crate::helpers::database_url_of(&db))
                .env_remove("RUST_LOG")
                .output()
                .await
                .expect("the tavaro binary runs");
            assert!(output.status.success(), "{when}");
            String::from_utf8(output.stdout).unwrap()
        }
    };
    for when in ["cleaned when stored", "stored raw"] {
        if when == "stored raw" {
            sqlx::query("update order_jobs set last_error = $2 where order_id = $1")
                .bind(order_id)
                .bind(HOSTILE)
                .execute(&app.db)
                .await
                .unwrap();
        }
        let out = printed(when).await;
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{when}: a header and one order: {out:?}");
        assert!(lines[1].contains("forged line"), "{when}: {out:?}");
        assert!(!out.contains('\u{1b}'), "{when}: {out:?}");
    }
    app.assert_ledger_sound().await;
}
