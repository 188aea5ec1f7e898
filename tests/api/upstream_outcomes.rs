//! Upstream answers the order workflow cannot take at face value, through the whole
//! gateway (Roamify's API on a wiremock server): an answer naming one ICCID twice, an
//! ICCID a live eSIM of another order holds, eSIMs the database cannot store, and an
//! outage after the debit. Never a second sale, never "nothing was deducted" after a
//! debit, and what cannot be settled reaches the operator.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::config::Config;
use tavaro::provider::roamify::Roamify;
use wiremock::{MockServer, Request, ResponseTemplate};

use crate::helpers::{TestApp, TestPartner, assert_error, success_data, wait_for_order};
use crate::providers::common::{self, Upstream, answer, plan_for_sku, sync_into};
use crate::providers::roamify::{INSTANT, SKU, authed, mount_catalog};

/// An ICCID Roamify's answers below carry.
const ICCID: &str = "894000000000029365";
/// Another one.
const OTHER_ICCID: &str = "894000000000029373";

/// The gateway routed to a Roamify mock with its catalog synced, reconciling every 50 ms,
/// `configure` applied last; and the plan to order (net $6.00).
async fn gateway(
    db: PgPool,
    server: &MockServer,
    configure: impl FnOnce(&mut Config),
) -> (TestApp, String) {
    mount_catalog(server).await;
    let upstream = Roamify::config(server);
    let app = common::spawn_gateway(db, move |c| {
        Roamify::route(c, upstream);
        c.orders.reconcile_poll = Duration::from_millis(50);
        c.orders.reconcile_max_backoff = Duration::from_millis(200);
        configure(c);
    })
    .await;
    sync_into(&app, "roamify").await;
    let plan = plan_for_sku(&app.db, "roamify", SKU).await;
    (app, plan)
}

/// A completed Roamify order `id` for our reference `reference`, with one eSIM per
/// `(iccid, activation code)`.
fn order(id: &str, reference: &str, esims: &[(&str, &str)]) -> Value {
    let mut order = Roamify::fixture("order_instant.json");
    let template = order["data"]["esims"][0].clone();
    order["data"]["id"] = id.into();
    order["data"]["referenceId"] = reference.into();
    order["data"]["esims"] = esims
        .iter()
        .enumerate()
        .map(|(i, (iccid, code))| {
            let mut esim = template.clone();
            esim["id"] = format!("esim-{id}-{i}").into();
            esim["iccid"] = (*iccid).into();
            esim["esim"]["activationCode"] = (*code).into();
            esim["esim"]["lpaCode"] = format!("LPA:1$lpa.roamify.com${code}").into();
            esim
        })
        .collect();
    order
}

/// Answers an order or a lookup with Roamify order `id` holding `esims`, for the reference
/// the request names (in its body or its query).
fn answering(
    id: &'static str,
    esims: &'static [(&'static str, &'static str)],
) -> impl Fn(&Request) -> ResponseTemplate + Send + Sync + 'static {
    move |request: &Request| {
        let from_query = request
            .url
            .query_pairs()
            .find(|(name, _)| name == "referenceId")
            .map(|(_, value)| value.into_owned());
        let reference = from_query.unwrap_or_else(|| {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            body["referenceId"].as_str().unwrap_or_default().to_owned()
        });
        ResponseTemplate::new(200).set_body_json(order(id, &reference, esims))
    }
}

/// Waits until `tavaro orders stuck` lists `order_id` (10 s at most) and returns why its
/// last attempt failed.
async fn wait_until_flagged(app: &TestApp, order_id: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let stuck = tavaro::orders::stuck::stuck(&app.db).await.unwrap();
        if let Some(order) = stuck.iter().find(|o| o.order_id.to_string() == order_id) {
            return order.last_error.clone().unwrap_or_default();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "order {order_id} was never flagged for the operator"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn live_esims_with(app: &TestApp, iccid: &str) -> i64 {
    sqlx::query_scalar("select count(*) from esims where iccid = $1 and status <> 'EXPIRED'")
        .bind(iccid)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn partner(app: &TestApp, name: &str) -> TestPartner {
    app.create_partner(name, "0", "100.00").await
}

#[sqlx::test]
async fn an_answer_naming_one_iccid_twice_is_not_sold_and_reaches_the_operator(db: PgPool) {
    let server = MockServer::start().await;
    const TWICE: &[(&str, &str)] = &[(ICCID, "CODE1"), (ICCID, "CODE2")];
    authed("POST", INSTANT)
        .respond_with(answering("rmf-1", TWICE))
        .mount(&server)
        .await;
    authed("GET", "/api/esim/order")
        .respond_with(answering("rmf-1", TWICE))
        .mount(&server)
        .await;
    let (app, plan) = gateway(db, &server, |c| {
        c.orders.reconcile_window = Duration::from_millis(500);
    })
    .await;
    let acme = partner(&app, "acme").await;

    let placed = app
        .place(
            &acme.key,
            &json!({"planId": plan, "quantity": 2}),
            StatusCode::ACCEPTED,
        )
        .await;
    assert_eq!(placed["status"], "processing");
    assert_eq!(placed["esims"], json!([]));
    let order_id = placed["orderId"].as_str().unwrap();

    let why = wait_until_flagged(&app, order_id).await;
    assert!(why.contains("ICCID twice"), "{why}");
    assert_eq!(app.count("esims", acme.id).await, 0, "nothing sold");
    assert_eq!(
        app.balance_cents(acme.id).await,
        10_000 - 2 * 600,
        "never refunded on a guess"
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_iccid_a_live_esim_holds_is_not_sold_again_until_that_esim_expires(db: PgPool) {
    let server = MockServer::start().await;
    const FIRST: &[(&str, &str)] = &[(ICCID, "CODE1")];
    // The same ICCID again, on another Roamify order: recycled too early, or a bug upstream.
    const AGAIN: &[(&str, &str)] = &[(ICCID, "CODE2")];
    authed("POST", INSTANT)
        .respond_with(answering("rmf-1", FIRST))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    authed("POST", INSTANT)
        .respond_with(answering("rmf-2", AGAIN))
        .mount(&server)
        .await;
    authed("GET", "/api/esim/order")
        .respond_with(answering("rmf-2", AGAIN))
        .mount(&server)
        .await;
    let (app, plan) = gateway(db, &server, |_| {}).await;
    let (acme, globex) = (partner(&app, "acme").await, partner(&app, "globex").await);
    let body = json!({"planId": plan});

    let sold = app.place(&acme.key, &body, StatusCode::CREATED).await;
    assert_eq!(sold["esims"][0]["iccid"], ICCID);
    let held = app.place(&globex.key, &body, StatusCode::ACCEPTED).await;
    assert_eq!(held["status"], "processing");
    let order_id = held["orderId"].as_str().unwrap();

    // Reconciliation asks Roamify again and again, and never hands the eSIM out twice.
    let started = std::time::Instant::now();
    loop {
        let attempts: i32 =
            sqlx::query_scalar("select attempts from order_jobs where order_id = $1::uuid")
                .bind(order_id)
                .fetch_one(&app.db)
                .await
                .unwrap();
        if attempts >= 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not reconciled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(live_esims_with(&app, ICCID).await, 1);
    assert_eq!(app.count("esims", globex.id).await, 0);

    // Once acme's eSIM is over, its ICCID may live again: globex's order completes with it.
    sqlx::query("update esims set status = 'EXPIRED' where partner_id = $1")
        .bind(acme.id.0)
        .execute(&app.db)
        .await
        .unwrap();
    let settled = wait_for_order(&app, &globex.key, order_id, "completed").await;
    assert_eq!(settled["esims"][0]["iccid"], ICCID);
    assert_eq!(live_esims_with(&app, ICCID).await, 1);
    assert_eq!(app.balance_cents(acme.id).await, 10_000 - 600);
    assert_eq!(app.balance_cents(globex.id).await, 10_000 - 600);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn esims_the_database_cannot_store_are_answered_202_then_backed_off_and_flagged(db: PgPool) {
    let server = MockServer::start().await;
    // A NUL byte: Postgres text cannot hold it, so every attempt to store the eSIM fails.
    const UNSTORABLE: &[(&str, &str)] = &[(OTHER_ICCID, "AB\u{0}C")];
    authed("POST", INSTANT)
        .respond_with(answering("rmf-1", UNSTORABLE))
        .mount(&server)
        .await;
    authed("GET", "/api/esim/order")
        .respond_with(answering("rmf-1", UNSTORABLE))
        .mount(&server)
        .await;
    let (app, plan) = gateway(db, &server, |c| {
        c.orders.reconcile_window = Duration::from_millis(800);
    })
    .await;
    let acme = partner(&app, "acme").await;

    // Debited, then the database refused the eSIMs: the outcome is open, and said so.
    let placed = app
        .place(&acme.key, &json!({"planId": plan}), StatusCode::ACCEPTED)
        .await;
    assert_eq!(placed["status"], "processing");
    let order_id = placed["orderId"].as_str().unwrap();

    wait_until_flagged(&app, order_id).await;
    let attempts: i32 =
        sqlx::query_scalar("select attempts from order_jobs where order_id = $1::uuid")
            .bind(order_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    // At the poll's pace (every 50 ms for 0.8 s) it would be 16 attempts or more.
    assert!(attempts <= 10, "{attempts} attempts: not backed off");
    let order = success_data(
        app.get(&format!("/v1/orders/{order_id}"), &acme.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(order["status"], "processing");
    assert_eq!(app.balance_cents(acme.id).await, 10_000 - 600);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_upstream_outage_after_the_debit_is_answered_502_refunded_and_replayed_as_such(
    db: PgPool,
) {
    let server = MockServer::start().await;
    // Roamify's rate limit: nothing was issued, so the debit is refunded at once.
    authed("POST", INSTANT)
        .respond_with(answer(
            429,
            json!({"status": "failed", "message": "Too many requests"}),
        ))
        .mount(&server)
        .await;
    let (app, plan) = gateway(db, &server, |_| {}).await;
    let acme = partner(&app, "acme").await;
    let body = json!({"planId": plan});

    let first = app.order_idempotently(&acme.key, "outage-1", &body).await;
    assert_eq!(first.status(), StatusCode::BAD_GATEWAY);
    let first_body = first.text().await.unwrap();
    let error: Value = serde_json::from_str(&first_body).unwrap();
    assert_eq!(error["error"]["code"], "upstream_error", "{error}");
    assert_eq!(error["error"]["details"]["refunded"], true);

    let replay = app.order_idempotently(&acme.key, "outage-1", &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(replay.text().await.unwrap(), first_body, "the same answer");

    // Without a key too: refunded is 502, never "nothing was deducted".
    let unkeyed = assert_error(
        app.order(&acme.key, &body).await,
        StatusCode::BAD_GATEWAY,
        "upstream_error",
    )
    .await;
    assert_eq!(unkeyed["error"]["details"]["refunded"], true);
    let kinds: Vec<String> =
        sqlx::query_scalar("select kind from ledger_entries where partner_id = $1 order by id")
            .bind(acme.id.0)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(
        kinds,
        ["topup", "order_debit", "refund", "order_debit", "refund"]
    );
    assert_eq!(app.balance_cents(acme.id).await, 10_000);
    app.assert_ledger_sound().await;
}
