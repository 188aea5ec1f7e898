//! `Idempotency-Key` on `POST /v1/order`: retries never debit twice.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::provider::simulator::SimulatorMode;

use crate::helpers::{
    TestApp, TestPartner, assert_error, spawn_app, spawn_app_with, success_data,
    wait_for_lock_waiters, wait_for_order,
};

async fn provider_orders(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from sim_orders")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn orders_of(app: &TestApp, partner: &TestPartner) -> i64 {
    app.count("orders", partner.id).await
}

#[sqlx::test]
async fn a_retry_with_the_same_key_and_body_gets_the_stored_response_and_no_second_debit(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-5gb-7d", "quantity": 2, "reference": "BK-1"});
    let first = app
        .order_idempotently(&partner.key, "booking-1-attempt", &body)
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();

    for _ in 0..3 {
        let retry = app
            .order_idempotently(&partner.key, "booking-1-attempt", &body)
            .await;
        assert_eq!(retry.status(), StatusCode::CREATED);
        assert_eq!(retry.headers()["idempotent-replayed"], "true");
        assert_eq!(
            retry.text().await.unwrap(),
            first_body,
            "byte-identical replay"
        );
    }
    // The same order written differently (the default quantity spelled out) is the same request.
    let same = json!({"reference": "BK-1", "quantity": 2, "planId": "ae-5gb-7d"});
    assert_eq!(
        app.order_idempotently(&partner.key, "booking-1-attempt", &same)
            .await
            .status(),
        StatusCode::CREATED
    );

    assert_eq!(orders_of(&app, &partner).await, 1);
    assert_eq!(provider_orders(&app).await, 1, "one provider call");
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 1_500);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn the_same_key_with_a_different_body_is_422_and_charges_nothing(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let key = "8e03978e-40d5-43e8-bc93-6894a57f9324";
    assert_eq!(
        app.order_idempotently(&partner.key, key, &json!({"planId": "ae-5gb-7d"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    for other in [
        json!({"planId": "ae-1gb-7d"}),
        json!({"planId": "ae-5gb-7d", "quantity": 2}),
        json!({"planId": "ae-5gb-7d", "reference": "x"}),
    ] {
        let response = app.order_idempotently(&partner.key, key, &other).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
        )
        .await;
    }
    assert_eq!(orders_of(&app, &partner).await, 1);
    assert_eq!(app.balance_cents(partner.id).await, 9_250);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_key_still_in_flight_gets_409_with_retry_after(db: PgPool) {
    let app =
        Arc::new(spawn_app_with(db, |c| c.simulator.latency = Duration::from_millis(800)).await);
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-5gb-7d"});
    let first = {
        let (app, key, body) = (app.clone(), partner.key.clone(), body.clone());
        tokio::spawn(async move { app.order_idempotently(&key, "slow-1", &body).await })
    };
    tokio::time::sleep(Duration::from_millis(250)).await;
    let concurrent = app.order_idempotently(&partner.key, "slow-1", &body).await;
    assert_eq!(concurrent.headers()["retry-after"], "1");
    assert_error(concurrent, StatusCode::CONFLICT, "idempotency_in_progress").await;

    let first = first.await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let replay: Value = app
        .order_idempotently(&partner.key, "slow-1", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replay["data"]["orderId"], first["data"]["orderId"]);
    assert_eq!(orders_of(&app, &partner).await, 1);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn fifty_concurrent_identical_requests_make_one_order(db: PgPool) {
    let app =
        Arc::new(spawn_app_with(db, |c| c.simulator.latency = Duration::from_millis(200)).await);
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-1gb-7d", "reference": "storm"});
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (app, key, body) = (app.clone(), partner.key.clone(), body.clone());
            tokio::spawn(async move {
                let response = app.order_idempotently(&key, "storm-key", &body).await;
                (response.status(), response.text().await.unwrap())
            })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        let (status, text) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created.push(text),
            StatusCode::CONFLICT => assert!(text.contains("idempotency_in_progress"), "{text}"),
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert!(!created.is_empty());
    assert!(
        created.iter().all(|t| t == &created[0]),
        "every 201 is the same response"
    );
    for _ in 0..10 {
        let response = app
            .order_idempotently(&partner.key, "storm-key", &body)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.text().await.unwrap(), created[0]);
    }
    assert_eq!(orders_of(&app, &partner).await, 1);
    assert_eq!(provider_orders(&app).await, 1);
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 450);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn requests_refused_before_work_starts_are_not_stored(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let key = "retry-after-fixing";
    // 400: a bad body does not burn the key.
    let bad = app
        .order_idempotently(
            &partner.key,
            key,
            &json!({"planId": "ae-5gb-7d", "quantity": 0}),
        )
        .await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_request").await;
    // 401: neither does a bad API key.
    let unauthorized = app
        .order_idempotently("tvr_wrong", key, &json!({"planId": "ae-5gb-7d"}))
        .await;
    assert_error(unauthorized, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let good = app
        .order_idempotently(
            &partner.key,
            key,
            &json!({"planId": "ae-5gb-7d", "quantity": 2}),
        )
        .await;
    assert_eq!(good.status(), StatusCode::CREATED);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn invalid_idempotency_keys_are_400(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    for key in ["x".repeat(256), " ".into(), "tab\tinside".into()] {
        let response = app
            .order_idempotently(&partner.key, &key, &json!({"planId": "ae-5gb-7d"}))
            .await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(
            body["error"]["details"]["fields"][0]["field"],
            "Idempotency-Key"
        );
    }
    let twice = app
        .client
        .post(format!("{}/v1/order", app.address))
        .bearer_auth(&partner.key)
        .header("idempotency-key", "a")
        .header("idempotency-key", "b")
        .json(&json!({"planId": "ae-5gb-7d"}))
        .send()
        .await
        .unwrap();
    assert_error(twice, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(orders_of(&app, &partner).await, 0);
}

#[sqlx::test]
async fn keys_are_scoped_per_partner(db: PgPool) {
    let app = spawn_app(db).await;
    let alice = app.create_partner("alice", "0", "100.00").await;
    let bob = app.create_partner("bob", "0", "100.00").await;
    let (alice_body, bob_body) = (
        json!({"planId": "ae-5gb-7d", "reference": "alice"}),
        json!({"planId": "ae-1gb-7d", "reference": "bob"}),
    );
    let (a, b) = tokio::join!(
        app.order_idempotently(&alice.key, "shared-key", &alice_body),
        app.order_idempotently(&bob.key, "shared-key", &bob_body),
    );
    let a = success_data(a, StatusCode::CREATED).await;
    let b = success_data(b, StatusCode::CREATED).await;
    assert_ne!(a["orderId"], b["orderId"]);
    assert_eq!(
        b["reference"], "bob",
        "bob never sees alice's stored response"
    );
    assert_eq!(
        (
            app.balance_cents(alice.id).await,
            app.balance_cents(bob.id).await
        ),
        (9_250, 9_550)
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_order_outcome_such_as_402_is_replayed_as_is(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "5.00").await;
    let body = json!({"planId": "ae-5gb-7d"});
    let first = app.order_idempotently(&partner.key, "short", &body).await;
    let first_body =
        assert_error(first, StatusCode::PAYMENT_REQUIRED, "insufficient_credits").await;
    let replay = app.order_idempotently(&partner.key, "short", &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay_body = assert_error_status(replay, StatusCode::PAYMENT_REQUIRED).await;
    assert_eq!(replay_body, first_body);
    assert_eq!(orders_of(&app, &partner).await, 0);
    // A new key is a new request.
    let fresh = app
        .order_idempotently(&partner.key, "short-2", &json!({"planId": "ae-1gb-7d"}))
        .await;
    assert_eq!(fresh.status(), StatusCode::CREATED);
    app.assert_ledger_sound().await;
}

async fn assert_error_status(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

#[sqlx::test]
async fn expired_keys_are_purged_and_then_start_a_new_order(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-1gb-7d"});
    let first = success_data(
        app.order_idempotently(&partner.key, "old", &body).await,
        StatusCode::CREATED,
    )
    .await;
    // 24 hours later...
    sqlx::query("update idempotency_keys set expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    let purged = tavaro::orders::idempotency::purge_expired(&app.db)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let second = success_data(
        app.order_idempotently(&partner.key, "old", &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_ne!(first["orderId"], second["orderId"]);
    assert_eq!(orders_of(&app, &partner).await, 2);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_retry_during_processing_calls_no_provider_and_a_later_one_gets_the_outcome(db: PgPool) {
    let app = spawn_app_with(db, |c| {
        c.simulator.mode = SimulatorMode::Late;
        c.simulator.latency = Duration::from_millis(600);
        c.orders.provider_timeout = Duration::from_millis(150);
        c.orders.reconcile_poll = Duration::from_millis(50);
    })
    .await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-5gb-7d"});
    let first = success_data(
        app.order_idempotently(&partner.key, "late-1", &body).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(first["status"], "processing");
    let order_id = first["orderId"].as_str().unwrap().to_owned();

    wait_for_order(&app, &partner.key, &order_id, "completed").await;
    let replay = app.order_idempotently(&partner.key, "late-1", &body).await;
    let settled = success_data(replay, StatusCode::CREATED).await;
    assert_eq!(settled["orderId"], order_id.as_str());
    assert_eq!(settled["status"], "completed");
    assert_eq!(settled["esims"].as_array().unwrap().len(), 1);
    assert_eq!(provider_orders(&app).await, 1);
    assert_eq!(app.balance_cents(partner.id).await, 9_250);
    app.assert_ledger_sound().await;
}

/// The audit's M1: a request claims a key (through `claim()`: an expired key not purged
/// yet), its debit waits on the partner's balance row past the stale window, and a retry
/// takes over the claim. Both must not debit.
#[sqlx::test]
async fn a_claim_taken_over_while_its_debit_waits_never_debits_twice(db: PgPool) {
    let app =
        Arc::new(spawn_app_with(db, |c| c.orders.stale_claim = Duration::from_millis(300)).await);
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-5gb-7d"});
    sqlx::query(
        "insert into idempotency_keys (partner_id, key, request_hash, locked_at, expires_at)
         values ($1, 'slow-debit', '\\x00', now() - interval '1 hour', now() - interval '1 second')",
    )
    .bind(partner.id.0)
    .execute(&app.db)
    .await
    .unwrap();
    // An incident: the partner's balance row is held, so debits wait.
    let mut blocker = app.db.begin().await.unwrap();
    sqlx::query("select 1 from balances where partner_id = $1 for update")
        .bind(partner.id.0)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let send = || {
        let (app, key, body) = (app.clone(), partner.key.clone(), body.clone());
        tokio::spawn(async move {
            let response = app.order_idempotently(&key, "slow-debit", &body).await;
            (response.status(), response.text().await.unwrap())
        })
    };
    let first = send();
    wait_for_lock_waiters(&app.db, 1).await;
    // Past the stale window, the retry takes over the claim and waits too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let retry = send();
    wait_for_lock_waiters(&app.db, 2).await;
    blocker.rollback().await.unwrap();

    let (first, retry) = (first.await.unwrap(), retry.await.unwrap());
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    assert!(
        [StatusCode::CREATED, StatusCode::CONFLICT].contains(&retry.0),
        "{retry:?}"
    );
    assert_eq!(orders_of(&app, &partner).await, 1, "one order");
    let debits: i64 =
        sqlx::query_scalar("select count(*) from ledger_entries where kind = 'order_debit'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(debits, 1, "one debit");
    let (linked, order): (Option<uuid::Uuid>, uuid::Uuid) = sqlx::query_as(
        "select k.order_id, o.id from idempotency_keys k, orders o where k.key = 'slow-debit'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(linked, Some(order), "the key is linked to that order");
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 750);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_live_key_linked_to_an_order_cannot_be_linked_to_another(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-1gb-7d"});
    let first = success_data(
        app.order_idempotently(&partner.key, "linked", &body).await,
        StatusCode::CREATED,
    )
    .await;
    let other = success_data(app.order(&partner.key, &body).await, StatusCode::CREATED).await;
    let relink = "update idempotency_keys set order_id = $1::uuid where key = 'linked'";
    let refused = sqlx::query(relink)
        .bind(other["orderId"].as_str().unwrap())
        .execute(&app.db)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("linked to order"), "{refused}");
    // Once expired, the key may start afresh (as `claim()` does).
    sqlx::query("update idempotency_keys set expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(relink)
        .bind(other["orderId"].as_str().unwrap())
        .execute(&app.db)
        .await
        .unwrap();
    assert_ne!(first["orderId"], other["orderId"]);
    app.assert_ledger_sound().await;
}
