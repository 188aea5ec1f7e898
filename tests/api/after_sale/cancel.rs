//! Cancellation of unused eSIMs: refunded exactly once at the order's net unit cost;
//! refused (409, nothing refunded) once used, topped up or refunded; reviewed refunds wait
//! `CANCEL_PENDING` for the reconciler to credit or reject them; a crash between the
//! provider's cancel and our refund is settled after a restart with exactly one refund.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::provider::simulator;

use super::{QUICK, cancel, entries, esim, order_one, topup, wait_for_esim};
use crate::helpers::server::Server;
use crate::helpers::{
    assert_error, assert_ledger_sound, cents, create_partner, import_demo_catalog, spawn_app,
    spawn_app_with_vars, success_data,
};

/// The refund entries of the account behind `key`.
async fn refunds(app: &crate::helpers::TestApp, key: &str) -> Vec<Value> {
    entries(app, key)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "refund")
        .collect()
}

#[sqlx::test]
async fn cancelling_a_ready_esim_refunds_its_unit_cost_exactly_once(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "20", "100.00").await;
    let order = app
        .place(
            &partner.key,
            &json!({"planId": "ae-5gb-7d", "quantity": 2}),
            StatusCode::CREATED,
        )
        .await;
    let first = order["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let second = order["esims"][1]["esimId"].as_str().unwrap().to_owned();

    let data = success_data(
        cancel(&app, &partner.key, &first, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(data["esimId"], first.as_str());
    assert_eq!(data["status"], "CANCELLED");
    assert_eq!(
        data["refund"],
        json!({"amount": 7.5, "currency": "USD", "status": "completed"})
    );
    assert_eq!(cents(&data["balance"]), 10_000 - 1_500 + 750);
    assert_eq!(
        esim(&app, &partner.key, &first).await["status"],
        "CANCELLED"
    );
    assert_eq!(esim(&app, &partner.key, &second).await["status"], "READY");

    let again = assert_error(
        cancel(&app, &partner.key, &first, None).await,
        StatusCode::CONFLICT,
        "esim_not_cancellable",
    )
    .await;
    assert_eq!(
        again["error"]["details"]["reason"],
        "the eSIM is already cancelled and refunded"
    );
    let refunded = refunds(&app, &partner.key).await;
    assert_eq!(refunded.len(), 1, "no second refund: {refunded:?}");
    assert_eq!(refunded[0]["orderId"], order["orderId"]);
    assert_eq!(cents(&refunded[0]["amount"]), 750);

    // The other eSIM of the order is refunded on its own; together they give back the
    // order's debit, never more.
    success_data(
        cancel(&app, &partner.key, &second, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(refunds(&app, &partner.key).await.len(), 2);
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    // The order stays completed: it delivered, and its eSIMs were given back.
    let single = success_data(
        app.get(
            &format!("/v1/orders/{}", order["orderId"].as_str().unwrap()),
            &partner.key,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(single["status"], "completed");
    assert_eq!(single["esims"][0]["status"], "CANCELLED");
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn concurrent_cancels_of_one_esim_refund_it_once(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let order = order_one(&app, &partner, "ae-5gb-7d").await;
    let id = order["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let responses =
        futures::future::join_all((0..20).map(|_| cancel(&app, &partner.key, &id, None))).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT)
    );
    assert_eq!(refunds(&app, &partner.key).await.len(), 1);
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_used_or_topped_up_esim_is_not_cancellable_and_nothing_is_refunded(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let used = order_one(&app, &partner, "ae-5gb-7d").await;
    let used_id = used["esims"][0]["esimId"].as_str().unwrap().to_owned();
    simulator::record_usage(&app.db, used["esims"][0]["iccid"].as_str().unwrap(), 10)
        .await
        .unwrap();
    // Our records still say READY until the usage is read: the provider refuses.
    let refused = assert_error(
        cancel(&app, &partner.key, &used_id, None).await,
        StatusCode::CONFLICT,
        "esim_not_cancellable",
    )
    .await;
    assert_eq!(
        refused["error"]["details"]["reason"],
        "the provider refused: the eSIM has been used"
    );
    let view = esim(&app, &partner.key, &used_id).await;
    assert_eq!(view["status"], "ACTIVE", "back to its real state: {view}");
    let refused = assert_error(
        cancel(&app, &partner.key, &used_id, None).await,
        StatusCode::CONFLICT,
        "esim_not_cancellable",
    )
    .await;
    assert_eq!(
        refused["error"]["details"]["reason"],
        "the eSIM has been used"
    );

    let topped = order_one(&app, &partner, "ae-5gb-7d").await;
    let topped_id = topped["esims"][0]["esimId"].as_str().unwrap().to_owned();
    success_data(
        topup(
            &app,
            &partner.key,
            &topped_id,
            &json!({"planId": "ae-1gb-7d"}),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let refused = assert_error(
        cancel(&app, &partner.key, &topped_id, None).await,
        StatusCode::CONFLICT,
        "esim_not_cancellable",
    )
    .await;
    assert_eq!(
        refused["error"]["details"]["reason"],
        "the eSIM has been topped up"
    );

    assert_error(
        cancel(&app, &partner.key, &uuid::Uuid::new_v4().to_string(), None).await,
        StatusCode::NOT_FOUND,
        "esim_not_found",
    )
    .await;
    assert!(refunds(&app, &partner.key).await.is_empty());
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000 - 750 - 750 - 450
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_retry_with_the_same_idempotency_key_answers_the_first_cancellation(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let order = order_one(&app, &partner, "ae-5gb-7d").await;
    let id = order["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let first = success_data(
        cancel(&app, &partner.key, &id, Some("cancel-1")).await,
        StatusCode::OK,
    )
    .await;
    let retry = cancel(&app, &partner.key, &id, Some("cancel-1")).await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let replayed = success_data(retry, StatusCode::OK).await;
    assert_eq!(replayed["status"], "CANCELLED");
    assert_eq!(replayed["refund"], first["refund"]);
    // Another key is another request: refused, not replayed.
    assert_error(
        cancel(&app, &partner.key, &id, Some("cancel-2")).await,
        StatusCode::CONFLICT,
        "esim_not_cancellable",
    )
    .await;
    assert_eq!(refunds(&app, &partner.key).await.len(), 1);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_reviewed_refund_waits_cancel_pending_then_is_credited_or_rejected_by_the_reconciler(
    db: PgPool,
) {
    let mut vars = QUICK.to_vec();
    vars.push(("TAVARO_SIM_REFUNDS", "reviewed"));
    let app = spawn_app_with_vars(db, &vars).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let approved = order_one(&app, &partner, "ae-5gb-7d").await;
    let approved_id = approved["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let rejected = order_one(&app, &partner, "ae-5gb-7d").await;
    let rejected_id = rejected["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let after_orders = 10_000 - 750 - 750;

    for id in [&approved_id, &rejected_id] {
        let data = success_data(
            cancel(&app, &partner.key, id, None).await,
            StatusCode::ACCEPTED,
        )
        .await;
        assert_eq!(data["status"], "CANCEL_PENDING");
        assert_eq!(data["refund"]["status"], "pending");
        assert_eq!(
            cents(&data["balance"]),
            after_orders,
            "nothing credited yet"
        );
        assert_eq!(
            esim(&app, &partner.key, id).await["status"],
            "CANCEL_PENDING"
        );
    }
    // While under review: neither cancelled again nor topped up.
    assert_error(
        cancel(&app, &partner.key, &approved_id, None).await,
        StatusCode::CONFLICT,
        "esim_not_cancellable",
    )
    .await;
    assert_error(
        topup(
            &app,
            &partner.key,
            &approved_id,
            &json!({"planId": "ae-1gb-7d"}),
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "topup_not_allowed",
    )
    .await;
    assert_eq!(app.balance_cents(partner.id).await, after_orders);

    simulator::review_refund(
        &app.db,
        approved["esims"][0]["iccid"].as_str().unwrap(),
        true,
    )
    .await
    .unwrap();
    simulator::review_refund(
        &app.db,
        rejected["esims"][0]["iccid"].as_str().unwrap(),
        false,
    )
    .await
    .unwrap();
    wait_for_esim(&app, &partner.key, &approved_id, "CANCELLED").await;
    wait_for_esim(&app, &partner.key, &rejected_id, "READY").await;
    assert_eq!(app.balance_cents(partner.id).await, after_orders + 750);
    let refunded = refunds(&app, &partner.key).await;
    assert_eq!(refunded.len(), 1);
    assert_eq!(refunded[0]["orderId"], approved["orderId"]);

    // A rejected refund is final: the eSIM stays the partner's.
    let again = assert_error(
        cancel(&app, &partner.key, &rejected_id, None).await,
        StatusCode::CONFLICT,
        "esim_not_cancellable",
    )
    .await;
    assert_eq!(
        again["error"]["details"]["reason"],
        "the provider rejected the refund of this eSIM"
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_crash_between_the_providers_cancel_and_the_refund_is_settled_after_restart_with_one_refund(
    db: PgPool,
) {
    import_demo_catalog(&db).await;
    let partner = create_partner(&db, "acme", "0", "100.00").await;
    let healthy = Server::start(&db, &[]).await;
    let client = reqwest::Client::new();
    let placed: Value = client
        .post(format!("{}/v1/order", healthy.base))
        .bearer_auth(&partner.key)
        .json(&json!({"planId": "ae-5gb-7d"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = placed["data"]["esims"][0]["esimId"]
        .as_str()
        .unwrap()
        .to_owned();
    healthy.terminate();
    drop(healthy);

    let mut doomed = Server::start(&db, &[("TAVARO_FAILPOINT", "after_provider_cancel")]).await;
    let answer = client
        .post(format!("{}/v1/esim/{id}/cancel", doomed.base))
        .bearer_auth(&partner.key)
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(
        answer.is_err(),
        "the crashing server sent no answer: {answer:?}"
    );
    let status = doomed.exit_status(Duration::from_secs(10)).await;
    assert!(!status.success(), "{status}");
    let cancelled_upstream: bool =
        sqlx::query_scalar("select cancelled_at is not null from sim_esims")
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(
        cancelled_upstream,
        "the provider cancelled before the crash"
    );

    let server = Server::start(&db, QUICK).await;
    let started = Instant::now();
    loop {
        let view: Value = client
            .get(format!("{}/v1/esim/{id}", server.base))
            .bearer_auth(&partner.key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if view["data"]["status"] == "CANCELLED" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "not settled: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refunds: i64 =
        sqlx::query_scalar("select count(*) from ledger_entries where kind = 'refund'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(refunds, 1);
    let balance: i64 = sqlx::query_scalar(
        "select balance_cents from balances where partner_id = $1 and mode = 'live'",
    )
    .bind(partner.id.0)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(balance, 10_000);
    assert_ledger_sound(&db).await;
}

#[sqlx::test]
async fn an_operator_settles_a_refund_the_provider_reviews_outside_its_api(db: PgPool) {
    // A reviewed refund the reconciler cannot settle (the provider's review stays pending
    // in its API, as Airalo's always does): the operator's word settles it, once.
    let mut vars = QUICK.to_vec();
    vars.push(("TAVARO_SIM_REFUNDS", "reviewed"));
    let app = spawn_app_with_vars(db, &vars).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let order = app
        .place(
            &partner.key,
            &json!({"planId": "ae-5gb-7d", "quantity": 2}),
            StatusCode::CREATED,
        )
        .await;
    let approved = order["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let rejected = order["esims"][1]["esimId"].as_str().unwrap().to_owned();
    for id in [&approved, &rejected] {
        success_data(
            cancel(&app, &partner.key, id, None).await,
            StatusCode::ACCEPTED,
        )
        .await;
    }
    let id = |s: &str| tavaro::ids::EsimId(s.parse().unwrap());

    let said = tavaro::orders::settle_refund(&app.db, id(&approved), true)
        .await
        .unwrap();
    assert!(said.starts_with("refunded"), "{said}");
    assert_eq!(
        esim(&app, &partner.key, &approved).await["status"],
        "CANCELLED"
    );
    let said = tavaro::orders::settle_refund(&app.db, id(&rejected), false)
        .await
        .unwrap();
    assert!(said.contains("READY"), "{said}");
    assert_eq!(esim(&app, &partner.key, &rejected).await["status"], "READY");
    // Settled once: a second word changes nothing.
    assert!(
        tavaro::orders::settle_refund(&app.db, id(&approved), true)
            .await
            .is_err()
    );
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 1_500 + 750);
    assert_eq!(refunds(&app, &partner.key).await.len(), 1);
    app.assert_ledger_sound().await;
}
